//! Zero-copy RTP views, RTCP, stream statistics and keyframe detection for Dais (sans-IO).
//!
//! # Contract
//!
//! Everything here is a pure function of its inputs or a small state machine fed by the caller:
//! no clock reads (time comes in as `now: Instant` or NTP values), no sockets, no files, no
//! allocation on the per-packet RTP path ([`RtpHeader::parse`], [`rewrite_header`],
//! [`classify`], [`is_keyframe`]). Bytes from the wire never cause a panic: malformed input is an
//! error value that names what was wrong.
//!
//! # The forwarding path
//!
//! ```
//! use dais_rtp::{classify, is_keyframe, rewrite_header, PacketClass, RtpHeader, Ssrc, VideoCodec};
//!
//! let mut pkt = [0x80, 96, 0x00, 0x01, 0, 0, 0, 10, 0xde, 0xad, 0xbe, 0xef, 0x10, 0x9c];
//! assert_eq!(classify(&pkt), PacketClass::Rtp);
//! let hdr = RtpHeader::parse(&pkt).unwrap();
//! assert!(is_keyframe(VideoCodec::Vp8, hdr.payload(&pkt)));
//! rewrite_header(&mut pkt, Ssrc(0x1234abcd), 7, 9000);
//! assert_eq!(RtpHeader::parse(&pkt).unwrap().ssrc, Ssrc(0x1234abcd));
//! ```
#![warn(missing_docs)]

mod classify;
mod header;
mod keyframe;

pub use classify::{PacketClass, classify};
pub use header::{
    FIXED_HEADER_LEN, RtpError, RtpHeader, Ssrc, rewrite_header, set_marker, set_payload_type,
};
pub use keyframe::{VideoCodec, is_keyframe};
mod ext;
pub mod rtcp;

pub use ext::{ExtensionElement, Extensions, ONE_BYTE_PROFILE, TWO_BYTE_PROFILE, audio_level};
pub use rtcp::{RtcpError, RtcpPacket, parse_compound};
mod stats;

pub use stats::{ReceiveStats, SendStats, SeqUpdate};
