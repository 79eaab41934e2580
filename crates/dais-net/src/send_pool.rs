//! Sender threads shared by every meeting: a large receive batch's trains leave from several
//! cores at once (D38).
//!
//! A meeting's media task is one task, so one core, and at hundreds of receivers most of that
//! core is the kernel sending (#9). The task still receives and routes every packet (the
//! engine's state is single-owner), but when a batch fans out to many receivers it hands the
//! trains to the pool, split by receiver: receiver `d` always goes to shard `hash(d) % n`, and
//! each shard sends its jobs in order, so one receiver's datagrams keep their order. A small
//! batch is sent by the task itself when none of its meeting's jobs is still queued (nothing
//! to overtake), so small meetings pay no hand-off at all.

use std::net::SocketAddr;
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex, OnceLock};

use tracing::{debug, warn};

use crate::media_task::IoCounters;
use crate::trains::{Flushed, HeadId, Trains};
use crate::udp::HEAD;

/// Jobs a shard may have queued before a meeting's batch is dropped rather than queued: at
/// ~1 ms of sending per job, a backlog beyond this is latency no receiver wants.
const QUEUE: usize = 64;

/// Below this many messages a batch is sent by the task itself when it may (see the module
/// docs): handing it over would cost more than the sends.
const HAND_OFF_MESSAGES: usize = 32;

/// A socket the pool's threads may send from while the task keeps receiving on it.
pub type SharedSocket = Arc<dyn AsFd + Send + Sync>;

struct Job {
    socket: SharedSocket,
    trains: Trains,
    bodies: Arc<Bodies>,
    meeting: Arc<Outstanding>,
}

/// A hand-off batch's forwarded bytes, copied once out of the receive buffers (which the task
/// reuses for the next batch) and shared by the shards' jobs.
#[derive(Default)]
struct Bodies {
    data: Vec<u8>,
    /// Per datagram of the batch: where its body is in `data`.
    spans: Vec<(usize, usize)>,
}

impl Bodies {
    fn body(&self, i: u32) -> &[u8] {
        match self.spans.get(i as usize) {
            Some(&(start, len)) => &self.data[start..start + len],
            None => &[],
        }
    }
}

/// What a meeting shares with the pool's threads.
struct Outstanding {
    /// Jobs of this meeting queued or being sent.
    pending: AtomicUsize,
    counters: Arc<IoCounters>,
    /// Emptied trains coming back for reuse.
    spare: Mutex<Vec<Trains>>,
}

/// The process's sender threads.
pub struct SendPool {
    shards: Vec<SyncSender<Job>>,
}

impl std::fmt::Debug for SendPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SendPool")
            .field("threads", &self.shards.len())
            .finish()
    }
}

static POOL: OnceLock<SendPool> = OnceLock::new();

/// The default number of sender threads: one per core, at most four (a meeting's task keeps
/// one core busy receiving and routing; beyond four the kernel's per-socket locks dominate).
pub fn default_threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(4)
}

/// Sets the number of sender threads (0: every meeting's task sends its own packets) before
/// any meeting starts. Returns false, changing nothing, once the pool exists.
pub fn configure(threads: usize) -> bool {
    let mut made = false;
    POOL.get_or_init(|| {
        made = true;
        SendPool::start(threads)
    });
    made
}

/// The pool, started with [`default_threads`] unless [`configure`] came first.
pub fn global() -> &'static SendPool {
    POOL.get_or_init(|| SendPool::start(default_threads()))
}

impl SendPool {
    fn start(threads: usize) -> SendPool {
        let mut shards = Vec::with_capacity(threads);
        for n in 0..threads {
            let (tx, rx) = sync_channel::<Job>(QUEUE);
            let spawned = std::thread::Builder::new()
                .name(format!("dais-send-{n}"))
                .spawn(move || run_shard(rx));
            match spawned {
                Ok(_) => shards.push(tx),
                Err(e) => {
                    warn!(error = %e, threads = n, "cannot start another sender thread");
                    break;
                }
            }
        }
        debug!(threads = shards.len(), "sender pool started");
        SendPool { shards }
    }

    /// How many sender threads there are.
    pub fn threads(&self) -> usize {
        self.shards.len()
    }
}

fn run_shard(rx: Receiver<Job>) {
    while let Ok(mut job) = rx.recv() {
        let bodies = &job.bodies;
        // A thread serves every meeting: whatever one job does, the next one is still sent.
        let sent = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            job.trains.flush(&*job.socket, |i| bodies.body(i))
        }));
        match sent {
            Ok(out) => count(&job.meeting.counters, out),
            Err(_) => {
                tracing::error!("a sender thread's job panicked; its datagrams are lost");
                job.meeting
                    .counters
                    .send_errors
                    .fetch_add(1, Ordering::Relaxed);
                job.trains.clear();
            }
        }
        if let Ok(mut spare) = job.meeting.spare.lock() {
            spare.push(job.trains);
        }
        // Release: the task's Acquire load then sees these sends as done.
        job.meeting.pending.fetch_sub(1, Ordering::Release);
    }
}

fn count(counters: &IoCounters, out: Flushed) {
    counters.sent.fetch_add(out.sent as u64, Ordering::Relaxed);
    if out.dropped > 0 {
        counters
            .send_dropped
            .fetch_add(out.dropped as u64, Ordering::Relaxed);
    }
    if out.errors > 0 {
        counters
            .send_errors
            .fetch_add(out.errors as u64, Ordering::Relaxed);
    }
}

/// A receiver's shard key: its address mixed so that neighbouring ports (one host's venues)
/// and one port on many hosts (every endpoint on 5004) both spread. Not a defence against
/// anyone: it only picks a sender thread.
fn spread(dest: SocketAddr) -> u64 {
    let ip = match dest.ip() {
        std::net::IpAddr::V4(v4) => u64::from(u32::from(v4)),
        std::net::IpAddr::V6(v6) => {
            let b = u128::from(v6);
            (b as u64) ^ ((b >> 64) as u64)
        }
    };
    let x = (ip << 16 | u64::from(dest.port())).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    x >> 32
}

/// One meeting's outgoing forwards for the current receive batch, one [`Trains`] per shard.
pub struct Sender {
    pool: &'static SendPool,
    shards: Vec<Trains>,
    meeting: Arc<Outstanding>,
    socket: SharedSocket,
    /// The batch's datagrams that something was queued from, in order (a hand-off copies
    /// only these).
    used: Vec<u32>,
    hand_offs: u64,
}

impl std::fmt::Debug for Sender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sender")
            .field("shards", &self.shards.len())
            .field("pending", &self.meeting.pending.load(Ordering::Relaxed))
            .finish()
    }
}

impl Sender {
    /// A meeting's sender on `socket`, counting into `counters`, using `pool`'s threads.
    pub fn new(pool: &'static SendPool, socket: SharedSocket, counters: Arc<IoCounters>) -> Sender {
        Sender {
            pool,
            shards: (0..pool.threads().max(1)).map(|_| Trains::new()).collect(),
            meeting: Arc::new(Outstanding {
                pending: AtomicUsize::new(0),
                counters,
                spare: Mutex::new(Vec::new()),
            }),
            socket,
            used: Vec::new(),
            hand_offs: 0,
        }
    }

    /// Registers a header for this batch (in every shard, so ids agree).
    pub fn head(&mut self, head: [u8; HEAD]) -> HeadId {
        let (first, rest) = self.shards.split_at_mut(1);
        for t in rest {
            t.head(head);
        }
        first[0].head(head)
    }

    /// Queues datagram `body` of the batch, under `head`, for `dest` (see [`Trains::add`]).
    pub fn add(&mut self, dest: SocketAddr, head: HeadId, body: u32, len: usize) {
        let shard = if self.shards.len() == 1 {
            0
        } else {
            (spread(dest) % self.shards.len() as u64) as usize
        };
        self.shards[shard].add(dest, head, body, len);
        if self.used.last() != Some(&body) {
            self.used.push(body);
        }
    }

    /// Datagrams queued in this batch.
    pub fn queued(&self) -> usize {
        self.shards.iter().map(Trains::queued).sum()
    }

    /// Batches handed to the pool so far (the rest were sent in place).
    pub fn hand_offs(&self) -> u64 {
        self.hand_offs
    }

    /// Jobs of this meeting still queued or being sent by the pool.
    pub fn pending(&self) -> usize {
        self.meeting.pending.load(Ordering::Acquire)
    }

    /// Sends the batch: from this thread when it is small and nothing of this meeting is
    /// still queued in the pool, else through the pool. `datagrams` is the batch's size and
    /// `body(i)` datagram `i`'s bytes after its first [`HEAD`].
    pub fn flush<'b>(&mut self, datagrams: usize, body: impl Fn(u32) -> &'b [u8]) {
        let messages: usize = self.shards.iter().map(Trains::messages).sum();
        let used = std::mem::take(&mut self.used);
        if messages == 0 {
            self.end_batch(used);
            return;
        }
        if self.pool.threads() == 0 || (messages < HAND_OFF_MESSAGES && self.pending() == 0) {
            for t in &mut self.shards {
                if t.queued() > 0 {
                    let out = t.flush(&*self.socket, &body);
                    count(&self.meeting.counters, out);
                }
            }
            self.end_batch(used);
            return;
        }
        let mut bodies = Bodies {
            data: Vec::new(),
            spans: vec![(0, 0); datagrams],
        };
        for &i in &used {
            let b = body(i);
            if let Some(span) = bodies.spans.get_mut(i as usize) {
                *span = (bodies.data.len(), b.len());
                bodies.data.extend_from_slice(b);
            }
        }
        let bodies = Arc::new(bodies);
        self.hand_offs += 1;
        self.meeting
            .counters
            .handed_off
            .fetch_add(1, Ordering::Relaxed);
        for (s, slot) in self.shards.iter_mut().enumerate() {
            if slot.queued() == 0 {
                continue;
            }
            let spare = self
                .meeting
                .spare
                .lock()
                .ok()
                .and_then(|mut v| v.pop())
                .unwrap_or_default();
            let trains = std::mem::replace(slot, spare);
            self.meeting.pending.fetch_add(1, Ordering::AcqRel);
            let job = Job {
                socket: self.socket.clone(),
                trains,
                bodies: bodies.clone(),
                meeting: self.meeting.clone(),
            };
            if let Err(e) = self.pool.shards[s].try_send(job) {
                self.meeting.pending.fetch_sub(1, Ordering::AcqRel);
                let mut job = match e {
                    TrySendError::Full(job) | TrySendError::Disconnected(job) => job,
                };
                // The shard is a whole queue behind: drop this batch's share rather than
                // wait, as a router drops what it cannot queue.
                self.meeting
                    .counters
                    .send_dropped
                    .fetch_add(job.trains.queued() as u64, Ordering::Relaxed);
                job.trains.clear();
                *slot = job.trains;
            }
        }
        self.end_batch(used);
    }

    /// Every shard starts the next batch empty: one with nothing queued still holds this
    /// batch's heads, and head ids must agree across shards.
    fn end_batch(&mut self, mut used: Vec<u32>) {
        for t in &mut self.shards {
            t.clear();
        }
        used.clear();
        self.used = used;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::UdpSocket;
    use std::time::{Duration, Instant};

    fn leak_pool(threads: usize) -> &'static SendPool {
        Box::leak(Box::new(SendPool::start(threads)))
    }

    /// Batches alternate between large (handed to the pool) and small (sent by the caller
    /// when it may); every receiver must still get every datagram once, in order.
    fn in_order_through(pool: &'static SendPool) -> Arc<IoCounters> {
        let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
        tx.set_nonblocking(true).unwrap();
        let rx: Vec<UdpSocket> = (0..40)
            .map(|_| {
                let s = UdpSocket::bind("127.0.0.1:0").unwrap();
                socket2::SockRef::from(&s)
                    .set_recv_buffer_size(4 << 20)
                    .unwrap();
                s.set_nonblocking(true).unwrap();
                s
            })
            .collect();
        let counters = Arc::new(IoCounters::default());
        let mut sender = Sender::new(pool, Arc::new(tx), counters.clone());
        let mut seq = 0u32;
        for round in 0..60 {
            // Every 3rd round: 10 datagrams to all 40 receivers (40 messages: handed over);
            // the others: one datagram to one receiver (sent in place if it may), so the
            // other shards register the round's heads and queue nothing.
            let (n, fan) = if round % 3 == 0 { (10, 40) } else { (1, 1) };
            let bodies: Vec<Vec<u8>> = (0..n)
                .map(|k| {
                    let mut b = (seq + k).to_be_bytes().to_vec();
                    b.resize(200, 0xEE);
                    b
                })
                .collect();
            sender.head([0xFF; HEAD]);
            let head = sender.head([round as u8; HEAD]);
            for (k, b) in bodies.iter().enumerate() {
                for r in &rx[..fan] {
                    sender.add(r.local_addr().unwrap(), head, k as u32, HEAD + b.len());
                }
            }
            sender.flush(n as usize, |k| &bodies[k as usize]);
            seq += n;
        }
        if pool.threads() > 0 {
            // Every large round, and any small one that found jobs still queued.
            assert!(sender.hand_offs() >= 20, "{}", sender.hand_offs());
        } else {
            assert_eq!(sender.hand_offs(), 0);
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while sender.pending() > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(2));
        }
        assert_eq!(sender.pending(), 0);
        let mut buf = [0u8; 512];
        for (i, r) in rx.iter().enumerate() {
            let mut got = Vec::new();
            while let Ok(n) = r.recv(&mut buf) {
                assert_eq!(n, HEAD + 200);
                let seq = u32::from_be_bytes(buf[HEAD..HEAD + 4].try_into().unwrap());
                got.push((buf[0], seq));
            }
            let want: Vec<(u8, u32)> = (0..60u32)
                .scan(0u32, |s, round| {
                    let n = if round % 3 == 0 { 10 } else { 1 };
                    let r = (*s..*s + n).collect::<Vec<_>>();
                    *s += n;
                    Some((round, r))
                })
                .filter(|(round, _)| round % 3 == 0 || i < 1)
                .flat_map(|(round, r)| r.into_iter().map(move |s| (round as u8, s)))
                .collect();
            assert_eq!(got, want, "receiver {i}");
        }
        counters
    }

    #[test]
    fn each_receiver_keeps_its_order_across_threads_and_in_place_sends() {
        let c = in_order_through(leak_pool(3));
        // 20 large rounds × 400 + 40 small rounds × 1.
        assert_eq!(c.sent.load(Ordering::Relaxed), 20 * 400 + 40);
        assert_eq!(c.send_dropped.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn without_threads_the_caller_sends_everything_itself() {
        let pool = leak_pool(0);
        assert_eq!(pool.threads(), 0);
        let c = in_order_through(pool);
        assert_eq!(c.sent.load(Ordering::Relaxed), 20 * 400 + 40);
    }
}
