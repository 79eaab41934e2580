//! RFC 4733 telephone-events: parsed, de-duplicated, reported once per key press.

/// One RFC 4733 §2.3 event payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct EventPayload {
    pub(crate) event: u8,
    pub(crate) end: bool,
    pub(crate) duration: u16,
}

pub(crate) fn parse(payload: &[u8]) -> Option<EventPayload> {
    let b = payload.first_chunk::<4>()?;
    Some(EventPayload {
        event: b[0],
        end: b[1] & 0x80 != 0,
        duration: u16::from_be_bytes([b[2], b[3]]),
    })
}

#[derive(Clone, Copy, Debug)]
struct Current {
    ts: u32,
    event: u8,
    duration: u16,
    reported: bool,
}

/// The event being received; packets of one key press share a timestamp (RFC 4733 §2.5.1).
#[derive(Clone, Debug, Default)]
pub(crate) struct DtmfState {
    current: Option<Current>,
}

impl DtmfState {
    /// Feeds a packet; returns up to two finished events `(event, duration in ts units)`: the
    /// previous one if its end was lost, and this one if it ends here.
    pub(crate) fn on_packet(&mut self, ts: u32, p: EventPayload) -> [Option<(u8, u16)>; 2] {
        let mut out = [None, None];
        match self.current.as_mut() {
            Some(c) if c.ts == ts => {
                c.duration = c.duration.max(p.duration);
                if p.end && !c.reported {
                    c.reported = true;
                    out[1] = Some((c.event, c.duration));
                }
                return out;
            }
            Some(c) if (ts.wrapping_sub(c.ts) as i32) < 0 => return out, // a stale retransmission
            Some(c) if !c.reported => out[0] = Some((c.event, c.duration)),
            _ => {}
        }
        self.current = Some(Current {
            ts,
            event: p.event,
            duration: p.duration,
            reported: p.end,
        });
        if p.end {
            out[1] = Some((p.event, p.duration));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(event: u8, end: bool, duration: u16) -> EventPayload {
        EventPayload {
            event,
            end,
            duration,
        }
    }

    #[test]
    fn one_report_per_press_with_redundant_end_packets() {
        let mut s = DtmfState::default();
        assert_eq!(s.on_packet(100, ev(5, false, 160)), [None, None]);
        assert_eq!(s.on_packet(100, ev(5, false, 320)), [None, None]);
        assert_eq!(s.on_packet(100, ev(5, true, 800)), [None, Some((5, 800))]);
        assert_eq!(s.on_packet(100, ev(5, true, 800)), [None, None]);
        assert_eq!(s.on_packet(100, ev(5, true, 800)), [None, None]);
        // Next press loses its end: reported when the one after starts.
        assert_eq!(s.on_packet(2000, ev(11, false, 160)), [None, None]);
        assert_eq!(
            s.on_packet(4000, ev(1, false, 160)),
            [Some((11, 160)), None]
        );
        assert_eq!(s.on_packet(2000, ev(11, true, 400)), [None, None]);
        assert_eq!(parse(&[1, 0x8a, 0, 160]), Some(ev(1, true, 160)));
        assert_eq!(parse(&[1, 0x8a, 0]), None);
    }
}
