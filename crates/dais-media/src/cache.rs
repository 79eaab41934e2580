//! Per-feed retransmission cache: the last N rewritten packets, indexed by output sequence.

/// Typical MTU-sized packet; slots reserve this on first use so later packets reuse it.
const SLOT_CAPACITY: usize = 1500;

#[derive(Debug)]
struct Slot {
    seq: Option<u16>,
    data: Vec<u8>,
}

/// A ring of `capacity` slots; slot = output sequence mod capacity. Output sequence numbers of
/// a feed are dense (a cut-over continues at +1), so the ring holds exactly the last
/// `capacity` numbers and a lookup is one index, one compare.
#[derive(Debug)]
pub(crate) struct RetransmitCache {
    slots: Vec<Slot>,
}

impl RetransmitCache {
    /// Slots start empty (no buffer) so that a meeting with many idle feeds costs little;
    /// each slot allocates once, the first time it is written.
    pub(crate) fn new(capacity: usize) -> Self {
        RetransmitCache {
            slots: (0..capacity)
                .map(|_| Slot {
                    seq: None,
                    data: Vec::new(),
                })
                .collect(),
        }
    }

    pub(crate) fn store(&mut self, seq: u16, packet: &[u8], rewrite: impl FnOnce(&mut [u8])) {
        let n = self.slots.len();
        if n == 0 {
            return;
        }
        let Some(slot) = self.slots.get_mut(usize::from(seq) % n) else {
            return;
        };
        slot.data.clear();
        if slot.data.capacity() < packet.len() {
            slot.data.reserve(packet.len().max(SLOT_CAPACITY));
        }
        slot.data.extend_from_slice(packet);
        rewrite(&mut slot.data);
        slot.seq = Some(seq);
    }

    pub(crate) fn get(&self, seq: u16) -> Option<&[u8]> {
        let n = self.slots.len();
        if n == 0 {
            return None;
        }
        let slot = self.slots.get(usize::from(seq) % n)?;
        (slot.seq == Some(seq)).then_some(slot.data.as_slice())
    }
}
