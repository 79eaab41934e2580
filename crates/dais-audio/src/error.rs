//! Errors (the caller's fault) and drop reasons (the peer's fault).

use crate::types::VenueId;

/// A refused command: always the caller's fault (peers cause [`DropReason`]s; the mixer has no
/// internal failure to report).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MixerError {
    /// The configuration is out of range.
    #[error("invalid mixer configuration: {0}")]
    InvalidConfig(&'static str),
    /// No source with this id.
    #[error("unknown source {0:?}")]
    UnknownSource(VenueId),
    /// No receiver with this id.
    #[error("unknown receiver {0:?}")]
    UnknownReceiver(VenueId),
    /// The source already exists.
    #[error("source {0:?} already exists")]
    DuplicateSource(VenueId),
    /// The receiver already exists.
    #[error("receiver {0:?} already exists")]
    DuplicateReceiver(VenueId),
    /// The clock rate does not match the codec (G.711 runs at 8000 Hz).
    #[error("clock rate {clock_rate} does not fit the codec (want {expected})")]
    ClockRate {
        /// Given.
        clock_rate: u32,
        /// What the codec needs.
        expected: u32,
    },
    /// The packet time is not a positive multiple of the mixing frame, or above 120 ms.
    #[error("packet time {0:?} is not a multiple of the mixing frame (at most 120 ms)")]
    PacketTime(std::time::Duration),
    /// A payload type above 127.
    #[error("payload type {0} is not a 7-bit value")]
    PayloadType(u8),
    /// The codec is not compiled into this build (Opus needs the `opus` cargo feature).
    #[error("codec {0:?} is not built in (build dais-audio with the `opus` feature)")]
    CodecNotBuilt(crate::types::Codec),
    /// An Opus receiver's packet time must be the mixing frame, and the frame one Opus can
    /// encode (10, 20, 40 or 60 ms; not 30 ms).
    #[error("Opus packet time {0:?} must equal the mixing frame (10, 20, 40 or 60 ms)")]
    OpusPacketTime(std::time::Duration),
    /// libopus refused to create a decoder or encoder.
    #[error("libopus: {0}")]
    Opus(String),
}

macro_rules! drop_reasons {
    ($($(#[$doc:meta])* $name:ident,)*) => {
        /// Why an RTP packet was not used. Counted per source.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum DropReason { $($(#[$doc])* $name,)* }

        impl DropReason {
            /// Every reason, in counter order.
            pub const ALL: &'static [DropReason] = &[$(DropReason::$name,)*];
            /// Number of reasons.
            pub const COUNT: usize = Self::ALL.len();
            /// A stable snake_case name, for metrics labels.
            pub fn as_str(self) -> &'static str {
                match self { $(DropReason::$name => stringify!($name),)* }
            }
        }
    };
}

drop_reasons! {
    /// The id names no source (the caller's routing; counted nowhere else).
    UnknownSource,
    /// The RTP header did not parse.
    MalformedRtp,
    /// Neither the audio nor the telephone-event payload type.
    UnknownPayloadType,
    /// An empty audio payload, or a telephone-event payload shorter than 4 bytes.
    MalformedPayload,
    /// Arrived after its playout time: never mixed out of time.
    Late,
    /// Too far ahead of playout for the buffer.
    TooEarly,
    /// The timestamp jumped far from the stream's timeline (dropped until the jump is
    /// confirmed by consecutive packets, then the buffer resynchronises).
    TimestampJump,
    /// Comfort noise (RFC 3389) or another payload we do not mix.
    NotMixed,
    /// An Opus packet older than one already decoded (Opus decodes in order; its place was
    /// already concealed), or a duplicate.
    OutOfOrder,
    /// libopus could not decode the payload.
    Undecodable,
}

/// A counter per [`DropReason`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DropCounts([u64; DropReason::COUNT]);

impl DropCounts {
    /// Packets dropped for `reason`.
    pub fn get(&self, reason: DropReason) -> u64 {
        self.0[reason as usize]
    }

    /// Packets dropped for any reason.
    pub fn total(&self) -> u64 {
        self.0.iter().sum()
    }

    pub(crate) fn add(&mut self, reason: DropReason) {
        self.0[reason as usize] += 1;
    }
}
