//! The recorder off the media path: a bounded channel into a dedicated thread that owns the
//! [`Recorder`] and does all file I/O. The media task only copies a packet and `try_send`s it;
//! a full channel drops the packet and counts it (the router never waits for a disk).

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::thread::JoinHandle;
use std::time::Instant;

use crate::recorder::{Recorder, RecordingSummary};

/// Items queued between the media task and the writer thread by default: a few seconds of a
/// broadcast feed plus the mix.
pub const DEFAULT_QUEUE: usize = 4096;

enum Input {
    Video(Instant, Vec<u8>),
    Audio(Instant, u64, Vec<i16>),
    Discontinuity,
    /// Leave the file as a crash would (tests of crash safety, and an aborted meeting).
    Abandon,
}

/// The media task's end of a running recording. Cheap to clone.
#[derive(Clone, Debug)]
pub struct RecordSink {
    tx: SyncSender<Input>,
    dropped: Arc<AtomicU64>,
}

impl RecordSink {
    /// Queues one RTP datagram of the broadcast feed; drops it (counted) when the queue is full.
    pub fn video(&self, at: Instant, datagram: &[u8]) {
        self.send(Input::Video(at, datagram.to_vec()));
    }

    /// Queues one frame of the full mix whose first sample is `sample_index`.
    pub fn audio(&self, at: Instant, sample_index: u64, pcm: &[i16]) {
        self.send(Input::Audio(at, sample_index, pcm.to_vec()));
    }

    /// The last video packet began a new source without a keyframe (a forced switch).
    pub fn discontinuity(&self) {
        self.send(Input::Discontinuity);
    }

    fn send(&self, input: Input) {
        match self.tx.try_send(input) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Items dropped because the writer fell behind (or has stopped).
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

/// A recorder running on its own thread.
#[derive(Debug)]
pub struct RecorderThread {
    sink: RecordSink,
    join: JoinHandle<io::Result<RecordingSummary>>,
}

impl RecorderThread {
    /// Moves `recorder` onto a new thread fed by a queue of `capacity` items.
    ///
    /// # Errors
    /// The thread cannot be started.
    pub fn spawn(recorder: Recorder, capacity: usize) -> io::Result<RecorderThread> {
        let (tx, rx) = sync_channel(capacity.max(1));
        let join = std::thread::Builder::new()
            .name("dais-record".into())
            .spawn(move || run(recorder, rx))?;
        Ok(RecorderThread {
            sink: RecordSink {
                tx,
                dropped: Arc::new(AtomicU64::new(0)),
            },
            join,
        })
    }

    /// A handle for the producer.
    pub fn sink(&self) -> RecordSink {
        self.sink.clone()
    }

    /// Stops taking input, writes what is queued, finalises the file and waits for the thread.
    /// Blocking: call it from a blocking context.
    ///
    /// # Errors
    /// The file could not be finished.
    pub fn finish(self) -> io::Result<RecordingSummary> {
        let RecorderThread { sink, join } = self;
        drop(sink);
        join.join()
            .map_err(|_| io::Error::other("the recorder thread panicked"))?
    }

    /// Stops without finalising: the file stays as a crash would leave it (every closed cluster
    /// on disk, no duration, no index). Blocking.
    ///
    /// # Errors
    /// The thread panicked.
    pub fn abandon(self) -> io::Result<RecordingSummary> {
        let RecorderThread { sink, join } = self;
        // Blocking send: the abandon must not be lost to a full queue.
        let _ = sink.tx.send(Input::Abandon);
        drop(sink);
        join.join()
            .map_err(|_| io::Error::other("the recorder thread panicked"))?
    }
}

fn run(mut rec: Recorder, rx: Receiver<Input>) -> io::Result<RecordingSummary> {
    // Ends when every sink is dropped (finish) or on Abandon.
    while let Ok(input) = rx.recv() {
        match input {
            Input::Video(at, pkt) => rec.video(at, &pkt),
            Input::Audio(at, idx, pcm) => rec.audio(at, idx, &pcm),
            Input::Discontinuity => rec.discontinuity(),
            Input::Abandon => return Ok(rec.summary()),
        }
    }
    rec.finish()
}
