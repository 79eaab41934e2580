//! SDP offer/answer (RFC 3264) for Dais' media: audio PCMU/PCMA/Opus + telephone-event
//! (RFC 4733), video H.264 (RFC 6184, packetization-mode 1) and VP8 (RFC 7741), with
//! `a=rtcp-fb` (RFC 4585/5104), `a=rtcp-mux` (RFC 5761) and direction attributes.
//!
//! Parsing is `rtc-sdp`'s (no panic over the shared corpus and under fuzzing); the result is
//! copied into our own [`NegotiatedMedia`]. A stream we cannot serve is answered with port 0
//! (RFC 3264 §6), never by failing the call, unless no stream at all is usable.

use std::fmt::Write as _;
use std::io::Cursor;
use std::net::{IpAddr, SocketAddr};

use sdp::description::common::Attribute;
use sdp::description::media::MediaDescription;
use sdp::description::session::SessionDescription;

/// Largest SDP body we parse; bigger ones are refused before parsing (the 1 MB Janus fuzz
/// input is the reason).
pub const MAX_SDP_BYTES: usize = 16 * 1024;

/// Why an offer could not be answered (the peer's fault; answer 488).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SdpError {
    /// Not SDP, or not UTF-8.
    #[error("malformed SDP: {0}")]
    Malformed(String),
    /// Larger than [`MAX_SDP_BYTES`].
    #[error("SDP of {0} bytes is too large")]
    TooLarge(usize),
    /// No stream in the offer can be served.
    #[error("no acceptable media")]
    NoAcceptableMedia,
}

/// A codec Dais handles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Codec {
    /// G.711 µ-law.
    Pcmu,
    /// G.711 A-law.
    Pcma,
    /// Opus.
    Opus,
    /// H.264.
    H264,
    /// VP8.
    Vp8,
}

impl Codec {
    fn rtpmap(self) -> &'static str {
        match self {
            Self::Pcmu => "PCMU/8000",
            Self::Pcma => "PCMA/8000",
            Self::Opus => "opus/48000/2",
            Self::H264 => "H264/90000",
            Self::Vp8 => "VP8/90000",
        }
    }
    /// RTP clock rate.
    #[must_use]
    pub fn clock_rate(self) -> u32 {
        match self {
            Self::Pcmu | Self::Pcma => 8000,
            Self::Opus => 48000,
            Self::H264 | Self::Vp8 => 90000,
        }
    }
    fn is_audio(self) -> bool {
        matches!(self, Self::Pcmu | Self::Pcma | Self::Opus)
    }
}

/// Media direction from our side (RFC 3264 §6.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Send and receive.
    SendRecv,
    /// We only send.
    SendOnly,
    /// We only receive.
    RecvOnly,
    /// Neither.
    Inactive,
}

impl Direction {
    fn attr(self) -> &'static str {
        match self {
            Self::SendRecv => "sendrecv",
            Self::SendOnly => "sendonly",
            Self::RecvOnly => "recvonly",
            Self::Inactive => "inactive",
        }
    }
}

/// RTCP feedback both sides agreed on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Feedback {
    /// Generic NACK.
    pub nack: bool,
    /// Picture Loss Indication.
    pub pli: bool,
    /// Full Intra Request.
    pub fir: bool,
}

/// What we can do, in order of preference.
#[derive(Debug, Clone)]
pub struct Capabilities {
    /// Our media address.
    pub address: IpAddr,
    /// Our audio RTP port.
    pub audio_port: u16,
    /// Our video RTP port.
    pub video_port: u16,
    /// Audio codecs, preferred first.
    pub audio: Vec<Codec>,
    /// Video codecs, preferred first.
    pub video: Vec<Codec>,
    /// Highest H.264 `level_idc` we accept (e.g. 0x1f = 3.1).
    pub h264_max_level: u8,
}

impl Default for Capabilities {
    fn default() -> Self {
        Self {
            address: IpAddr::from([127, 0, 0, 1]),
            audio_port: 20000,
            video_port: 20002,
            audio: vec![Codec::Opus, Codec::Pcmu, Codec::Pcma],
            video: vec![Codec::H264, Codec::Vp8],
            h264_max_level: 0x28,
        }
    }
}

/// The outcome for one m-line of the offer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NegotiatedMedia {
    /// Position of the m-line in the offer.
    pub index: usize,
    /// `audio`, `video`, `application`, ...
    pub kind: String,
    /// Chosen codec; `None` when the stream was refused (port 0 in the answer).
    pub codec: Option<Codec>,
    /// The peer's payload type for it (we answer with theirs).
    pub payload_type: u8,
    /// telephone-event payload type, if agreed.
    pub telephone_event: Option<u8>,
    /// The RFC 6464 audio-level header extension's id, if agreed (audio only): the venue's
    /// own measure of its level, which the mixer prefers to computing one.
    pub audio_level_ext: Option<u8>,
    /// The packet time the offer asks to receive (`a=ptime`, milliseconds; audio only).
    pub ptime_ms: Option<u32>,
    /// H.264 `profile-level-id` we answered.
    pub h264_profile_level_id: Option<String>,
    /// Where to send RTP.
    pub remote_rtp: Option<SocketAddr>,
    /// Where to send RTCP (the RTP address when rtcp-mux).
    pub remote_rtcp: Option<SocketAddr>,
    /// RTP and RTCP share a port.
    pub rtcp_mux: bool,
    /// Our direction.
    pub direction: Direction,
    /// Agreed feedback.
    pub feedback: Feedback,
}

/// An answer and what it means.
#[derive(Debug, Clone)]
pub struct Negotiation {
    /// One entry per offered m-line, in order.
    pub media: Vec<NegotiatedMedia>,
    /// The SDP answer text.
    pub answer: String,
}

/// Parse an SDP body (bounded by [`MAX_SDP_BYTES`]).
///
/// # Errors
/// Too large, not UTF-8, or not SDP.
pub fn parse_sdp(body: &[u8]) -> Result<SessionDescription, SdpError> {
    if body.len() > MAX_SDP_BYTES {
        return Err(SdpError::TooLarge(body.len()));
    }
    std::str::from_utf8(body).map_err(|_| SdpError::Malformed("not UTF-8".into()))?;
    SessionDescription::unmarshal(&mut Cursor::new(body))
        .map_err(|e| SdpError::Malformed(e.to_string()))
}

fn attrs<'a>(m: &'a MediaDescription, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    m.attributes
        .iter()
        .filter(move |a: &&Attribute| a.key.eq_ignore_ascii_case(key))
        .map(|a| a.value.as_deref().unwrap_or(""))
}

/// The RFC 6464 client-to-mixer audio level header extension.
pub const AUDIO_LEVEL_URI: &str = "urn:ietf:params:rtp-hdrext:ssrc-audio-level";

/// The id the offer gives the audio-level extension (`a=extmap:<id>[/<direction>] <uri>`), if
/// it is one the one-byte header form can carry (1-14, RFC 8285 §4.2), which every endpoint
/// that sends it uses.
fn audio_level_ext(m: &MediaDescription) -> Option<u8> {
    attrs(m, "extmap").find_map(|v| {
        let mut parts = v.split_whitespace();
        let id = parts.next()?.split('/').next()?.parse::<u8>().ok()?;
        let uri = parts.next()?;
        (uri.eq_ignore_ascii_case(AUDIO_LEVEL_URI) && (1..=14).contains(&id)).then_some(id)
    })
}

/// The media-level `a=ptime` (RFC 4566 §6), when it is a sane number of milliseconds.
fn ptime(m: &MediaDescription) -> Option<u32> {
    attrs(m, "ptime")
        .find_map(|v| v.trim().parse::<u32>().ok())
        .filter(|p| (1..=1000).contains(p))
}

fn has_flag(m: &MediaDescription, key: &str) -> bool {
    m.attributes.iter().any(|a| a.key.eq_ignore_ascii_case(key))
}

/// `a=<key>:<pt> rest` → rest, for this payload type.
fn per_pt<'a>(
    m: &'a MediaDescription,
    key: &'a str,
    pt: &'a str,
) -> impl Iterator<Item = &'a str> + 'a {
    attrs(m, key).filter_map(move |v| {
        let (p, rest) = v.split_once(' ').unwrap_or((v, ""));
        (p == pt).then_some(rest.trim())
    })
}

fn codec_of(m: &MediaDescription, pt: &str) -> Option<(Codec, u32)> {
    let map = per_pt(m, "rtpmap", pt).next();
    let (name, rate) = match map {
        Some(v) => {
            let mut parts = v.split('/');
            let name = parts.next()?.to_ascii_lowercase();
            let rate = parts.next()?.trim().parse().ok()?;
            (name, rate)
        }
        // Static payload types (RFC 3551) need no rtpmap.
        None => match pt {
            "0" => ("pcmu".to_owned(), 8000),
            "8" => ("pcma".to_owned(), 8000),
            _ => return None,
        },
    };
    let codec = match name.as_str() {
        "pcmu" => Codec::Pcmu,
        "pcma" => Codec::Pcma,
        "opus" => Codec::Opus,
        "h264" => Codec::H264,
        "vp8" => Codec::Vp8,
        _ => return None,
    };
    (rate == codec.clock_rate()).then_some((codec, rate))
}

fn fmtp_param(m: &MediaDescription, pt: &str, name: &str) -> Option<String> {
    per_pt(m, "fmtp", pt).next().and_then(|f| {
        f.split(';').find_map(|kv| {
            let (k, v) = kv.split_once('=')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_owned())
        })
    })
}

/// H.264 acceptable when packetization-mode=1 and the profile is one we forward; answer with
/// the offered profile at min(offered level, ours).
fn h264_answer(m: &MediaDescription, pt: &str, max_level: u8) -> Option<String> {
    if fmtp_param(m, pt, "packetization-mode").as_deref() != Some("1") {
        return None;
    }
    let plid = fmtp_param(m, pt, "profile-level-id").unwrap_or_else(|| "42e01f".to_owned());
    let bytes = hex::decode(plid.get(..6)?).ok()?;
    let (profile, constraints, level) = (*bytes.first()?, *bytes.get(1)?, *bytes.get(2)?);
    if !matches!(profile, 0x42 | 0x4d | 0x64) {
        return None;
    }
    Some(format!(
        "{profile:02x}{constraints:02x}{:02x}",
        level.min(max_level)
    ))
}

fn addr(text: Option<&str>, port: u16) -> Option<SocketAddr> {
    let ip: IpAddr = text?.trim().parse().ok()?;
    Some(SocketAddr::new(ip, port))
}

/// Answer an offer with our capabilities.
///
/// # Errors
/// Malformed or oversized SDP, or no stream we can serve (answer 488 then).
pub fn negotiate(
    offer: &[u8],
    caps: &Capabilities,
    session_id: u64,
) -> Result<Negotiation, SdpError> {
    let sd = parse_sdp(offer)?;
    let session_c = sd
        .connection_information
        .as_ref()
        .and_then(|c| c.address.as_ref())
        .map(|a| a.address.clone());
    let mut media = Vec::new();
    let mut body = String::new();
    let mut audio_used = false;
    let mut video_used = false;
    for (index, m) in sd.media_descriptions.iter().enumerate() {
        let kind = m.media_name.media.to_ascii_lowercase();
        let proto = m.media_name.protos.join("/");
        let port = u16::try_from(m.media_name.port.value).unwrap_or(0);
        let plain_rtp = proto == "RTP/AVP" || proto == "RTP/AVPF";
        let (prefs, slot_free, our_port) = match kind.as_str() {
            "audio" => (&caps.audio, !audio_used, caps.audio_port),
            "video" => (&caps.video, !video_used, caps.video_port),
            _ => (&Vec::new(), false, 0),
        };
        let mut chosen = None;
        if port != 0 && plain_rtp && slot_free {
            // Our preference decides among what they offer; their payload numbers are kept.
            'pref: for want in prefs {
                for pt in &m.media_name.formats {
                    if let Some((codec, _)) = codec_of(m, pt)
                        && codec == *want
                        && codec.is_audio() == (kind == "audio")
                    {
                        let plid = if codec == Codec::H264 {
                            match h264_answer(m, pt, caps.h264_max_level) {
                                Some(p) => Some(p),
                                None => continue,
                            }
                        } else {
                            None
                        };
                        if let Ok(n) = pt.parse::<u8>() {
                            chosen = Some((codec, n, plid));
                            break 'pref;
                        }
                    }
                }
            }
        }
        let fmt0 = m
            .media_name
            .formats
            .first()
            .cloned()
            .unwrap_or_else(|| "0".into());
        let Some((codec, pt, plid)) = chosen else {
            let _ = write!(body, "m={kind} 0 {proto} {fmt0}\r\n");
            media.push(NegotiatedMedia {
                index,
                kind,
                codec: None,
                payload_type: fmt0.parse().unwrap_or(0),
                telephone_event: None,
                audio_level_ext: None,
                ptime_ms: None,
                h264_profile_level_id: None,
                remote_rtp: None,
                remote_rtcp: None,
                rtcp_mux: false,
                direction: Direction::Inactive,
                feedback: Feedback::default(),
            });
            continue;
        };
        if kind == "audio" {
            audio_used = true;
        } else {
            video_used = true;
        }
        let te = m.media_name.formats.iter().find_map(|f| {
            let v = per_pt(m, "rtpmap", f).next()?;
            let (name, rate) = v.split_once('/')?;
            let rate: u32 = rate.split('/').next()?.parse().ok()?;
            (name.eq_ignore_ascii_case("telephone-event") && rate == codec.clock_rate())
                .then(|| f.parse::<u8>().ok())
                .flatten()
        });
        let level_ext = if codec.is_audio() {
            audio_level_ext(m)
        } else {
            None
        };
        let pts = pt.to_string();
        let mut fb = Feedback::default();
        for v in per_pt(m, "rtcp-fb", &pts).chain(per_pt(m, "rtcp-fb", "*")) {
            match v.to_ascii_lowercase().as_str() {
                "nack" => fb.nack = true,
                "nack pli" => fb.pli = true,
                "ccm fir" => fb.fir = true,
                _ => {}
            }
        }
        if codec.is_audio() {
            fb = Feedback::default();
        }
        let rtcp_mux = has_flag(m, "rtcp-mux");
        let direction = if has_flag(m, "sendonly") {
            Direction::RecvOnly
        } else if has_flag(m, "recvonly") {
            Direction::SendOnly
        } else if has_flag(m, "inactive") {
            Direction::Inactive
        } else {
            Direction::SendRecv
        };
        let media_c = m
            .connection_information
            .as_ref()
            .and_then(|c| c.address.as_ref())
            .map(|a| a.address.clone())
            .or_else(|| session_c.clone());
        // c= may carry a TTL/count suffix for multicast; the address is before the first '/'.
        let host = media_c
            .as_deref()
            .map(|a| a.split('/').next().unwrap_or(a).to_owned());
        let remote_rtp = addr(host.as_deref(), port);
        let remote_rtcp = if rtcp_mux {
            remote_rtp
        } else if let Some(v) = attrs(m, "rtcp").next() {
            let mut parts = v.split_whitespace();
            let p: Option<u16> = parts.next().and_then(|p| p.parse().ok());
            let a = parts.nth(2).map(str::to_owned).or(host.clone());
            p.and_then(|p| addr(a.as_deref(), p))
        } else {
            addr(host.as_deref(), port.saturating_add(1))
        };
        let _ = write!(body, "m={kind} {our_port} {proto} {pt}");
        if let Some(te) = te {
            let _ = write!(body, " {te}");
        }
        body.push_str("\r\n");
        let _ = write!(body, "a=rtpmap:{pt} {}\r\n", codec.rtpmap());
        match (&plid, codec) {
            (Some(p), _) => {
                let _ = write!(
                    body,
                    "a=fmtp:{pt} profile-level-id={p};packetization-mode=1\r\n"
                );
            }
            (None, Codec::Opus) => {
                let _ = write!(body, "a=fmtp:{pt} useinbandfec=1\r\n");
            }
            _ => {}
        }
        if let Some(te) = te {
            let _ = write!(
                body,
                "a=rtpmap:{te} telephone-event/{}\r\na=fmtp:{te} 0-15\r\n",
                codec.clock_rate()
            );
        }
        if let Some(id) = level_ext {
            let _ = write!(body, "a=extmap:{id} {AUDIO_LEVEL_URI}\r\n");
        }
        for (on, v) in [(fb.nack, "nack"), (fb.pli, "nack pli"), (fb.fir, "ccm fir")] {
            if on {
                let _ = write!(body, "a=rtcp-fb:{pt} {v}\r\n");
            }
        }
        if rtcp_mux {
            body.push_str("a=rtcp-mux\r\n");
        }
        let _ = write!(body, "a={}\r\n", direction.attr());
        media.push(NegotiatedMedia {
            index,
            kind,
            codec: Some(codec),
            payload_type: pt,
            telephone_event: te,
            audio_level_ext: level_ext,
            ptime_ms: if codec.is_audio() { ptime(m) } else { None },
            h264_profile_level_id: plid,
            remote_rtp,
            remote_rtcp,
            rtcp_mux,
            direction,
            feedback: fb,
        });
    }
    if media.iter().all(|m| m.codec.is_none()) {
        return Err(SdpError::NoAcceptableMedia);
    }
    Ok(Negotiation {
        media,
        answer: session_header(caps, session_id) + &body,
    })
}

fn session_header(caps: &Capabilities, session_id: u64) -> String {
    let fam = if caps.address.is_ipv4() { "IP4" } else { "IP6" };
    format!(
        "v=0\r\no=dais {session_id} 1 IN {fam} {a}\r\ns=Dais\r\nc=IN {fam} {a}\r\nt=0 0\r\n",
        a = caps.address
    )
}

/// An offer with every capability (dial-out, or an INVITE that came without SDP).
/// Payload types: PCMU 0, PCMA 8, Opus 111, telephone-event 101/100, H.264 96, VP8 97.
#[must_use]
pub fn build_offer(caps: &Capabilities, session_id: u64) -> String {
    let mut s = session_header(caps, session_id);
    let pt = |c: Codec| match c {
        Codec::Pcmu => 0,
        Codec::Pcma => 8,
        Codec::Opus => 111,
        Codec::H264 => 96,
        Codec::Vp8 => 97,
    };
    if !caps.audio.is_empty() {
        let list: Vec<String> = caps.audio.iter().map(|c| pt(*c).to_string()).collect();
        let _ = write!(
            s,
            "m=audio {} RTP/AVP {} 101 100\r\n",
            caps.audio_port,
            list.join(" ")
        );
        for c in &caps.audio {
            let _ = write!(s, "a=rtpmap:{} {}\r\n", pt(*c), c.rtpmap());
        }
        s.push_str("a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\n");
        s.push_str("a=rtpmap:100 telephone-event/48000\r\na=fmtp:100 0-15\r\n");
        let _ = write!(s, "a=extmap:1 {AUDIO_LEVEL_URI}\r\n");
        s.push_str("a=rtcp-mux\r\na=sendrecv\r\n");
    }
    if !caps.video.is_empty() {
        let list: Vec<String> = caps.video.iter().map(|c| pt(*c).to_string()).collect();
        let _ = write!(
            s,
            "m=video {} RTP/AVPF {}\r\n",
            caps.video_port,
            list.join(" ")
        );
        for c in &caps.video {
            let p = pt(*c);
            let _ = write!(s, "a=rtpmap:{p} {}\r\n", c.rtpmap());
            if *c == Codec::H264 {
                let _ = write!(
                    s,
                    "a=fmtp:{p} profile-level-id=42e0{:02x};packetization-mode=1\r\n",
                    caps.h264_max_level
                );
            }
            let _ = write!(
                s,
                "a=rtcp-fb:{p} nack\r\na=rtcp-fb:{p} nack pli\r\na=rtcp-fb:{p} ccm fir\r\n"
            );
        }
        s.push_str("a=rtcp-mux\r\na=sendrecv\r\n");
    }
    s
}
