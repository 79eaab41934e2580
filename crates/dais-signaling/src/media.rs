//! Pure helpers between SIP and the meeting: SDP outcome → [`LegConfig`], policy refusals →
//! SIP status, the RFC 5168 INFO body, dial-target URIs.

use dais_conference::AdmitError;
use dais_media::{AudioParams, KeyframeRequestMode, LegConfig, VideoParams};
use dais_net::meeting::{AudioExtras, LegError};
use dais_rtp::VideoCodec;
use dais_sip::Transport;
use dais_sip::offer_answer::{Codec, Direction, NegotiatedMedia};

/// `Content-Type` of a keyframe request by SIP INFO (RFC 5168).
pub const MEDIA_CONTROL_TYPE: &str = "application/media_control+xml";

/// The RFC 5168 body asking for a keyframe.
pub const PICTURE_FAST_UPDATE: &str = "<?xml version=\"1.0\" encoding=\"utf-8\" ?>\r\n<media_control><vc_primitive><to_encoder><picture_fast_update/></to_encoder></vc_primitive></media_control>\r\n";

/// Whether an INFO is a keyframe request (content type and element, case-insensitively).
pub fn is_picture_fast_update(content_type: Option<&str>, body: &[u8]) -> bool {
    let ct_ok = content_type.is_some_and(|c| c.trim().eq_ignore_ascii_case(MEDIA_CONTROL_TYPE));
    ct_ok
        && std::str::from_utf8(body)
            .is_ok_and(|s| s.to_ascii_lowercase().contains("picture_fast_update"))
}

/// Why negotiated media cannot make a leg.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LegMediaError {
    /// No accepted stream has an address to send to (peer's fault: answered 488).
    #[error("no accepted stream with a usable address")]
    NoUsableStream,
}

/// The leg configuration for what was negotiated: the first accepted audio and video streams.
///
/// The engine knows one source address per leg (D3); when a venue sends audio and video from
/// different ports, the video address wins (the picture is what an MCU is for) and the audio
/// from the other port is dropped by the engine as an unknown source.
///
/// # Errors
/// [`LegMediaError::NoUsableStream`] when nothing accepted has a remote address.
pub fn leg_config(media: &[NegotiatedMedia]) -> Result<LegConfig, LegMediaError> {
    let usable = |m: &&NegotiatedMedia| m.codec.is_some() && m.remote_rtp.is_some();
    let audio = media.iter().filter(usable).find(|m| m.kind == "audio");
    let video = media.iter().filter(usable).find(|m| m.kind == "video");
    let main = video.or(audio).ok_or(LegMediaError::NoUsableStream)?;
    let rtp_addr = main.remote_rtp.ok_or(LegMediaError::NoUsableStream)?;
    if let (Some(a), Some(v)) = (audio, video)
        && a.remote_rtp != v.remote_rtp
    {
        tracing::debug!(audio = ?a.remote_rtp, video = ?v.remote_rtp,
            "audio and video on different ports; the engine keys the leg on the video address");
    }
    let (send, recv) = match main.direction {
        Direction::SendRecv => (true, true),
        // Our direction: we only receive, so the venue only sends.
        Direction::RecvOnly => (true, false),
        Direction::SendOnly => (false, true),
        Direction::Inactive => (false, false),
    };
    let video = video.and_then(|v| {
        let codec = match v.codec? {
            Codec::H264 => VideoCodec::H264,
            Codec::Vp8 => VideoCodec::Vp8,
            _ => return None,
        };
        let fb = v.feedback;
        Some(VideoParams {
            payload_type: v.payload_type,
            codec,
            clock_rate: 90_000,
            // Room systems that negotiated no RTCP feedback usually honour only INFO.
            keyframe_request: if fb.pli || fb.fir {
                KeyframeRequestMode::Rtcp
            } else {
                KeyframeRequestMode::Both
            },
        })
    });
    let audio = audio.and_then(|a| {
        Some(AudioParams {
            payload_type: a.payload_type,
            clock_rate: a.codec?.clock_rate(),
        })
    });
    let rtcp_addr = if main.rtcp_mux {
        None
    } else {
        main.remote_rtcp.or_else(|| {
            Some(std::net::SocketAddr::new(
                rtp_addr.ip(),
                rtp_addr.port().wrapping_add(1),
            ))
        })
    };
    Ok(LegConfig {
        rtp_addr,
        rtcp_addr,
        video,
        audio,
        send,
        recv,
    })
}

/// The RFC 4733 telephone-event payload type negotiated with the leg's audio (the stream
/// [`leg_config`] takes), if any: the meeting needs it so that key presses become DTMF events
/// instead of packets of an unknown payload type.
pub fn telephone_event(media: &[NegotiatedMedia]) -> Option<u8> {
    media
        .iter()
        .find(|m| m.kind == "audio" && m.codec.is_some() && m.remote_rtp.is_some())?
        .telephone_event
}

/// The RFC 6464 audio-level extension id negotiated with the leg's audio, if any.
pub fn audio_level_extension(media: &[NegotiatedMedia]) -> Option<u8> {
    media
        .iter()
        .find(|m| m.kind == "audio" && m.codec.is_some() && m.remote_rtp.is_some())?
        .audio_level_ext
}

/// Tells the meeting what the leg's audio negotiated besides the codec (after
/// `leg_up`/`leg_update`): its telephone-event payload type and its audio-level extension.
/// Not fatal when it fails: the call works, only its key presses are not reported and its
/// level is computed rather than read.
pub async fn announce_audio_extras(
    h: &dais_net::meeting::MeetingHandle,
    venue: &dais_conference::VenueId,
    media: &[NegotiatedMedia],
) {
    let audio = media
        .iter()
        .find(|m| m.kind == "audio" && m.codec.is_some() && m.remote_rtp.is_some());
    let extras = AudioExtras {
        telephone_event: telephone_event(media),
        level_extension: audio_level_extension(media),
        ptime: audio
            .and_then(|m| m.ptime_ms)
            .map(|ms| std::time::Duration::from_millis(u64::from(ms))),
    };
    if let Err(e) = h.set_audio_extras(venue, extras).await {
        tracing::debug!(%venue, error = %e, "telephone-event / audio-level not set");
    }
}

/// The SIP answer to a refused admission or leg set-up.
pub fn admit_status(e: &LegError) -> u16 {
    match e {
        // Not invited, or locked against newcomers: a permission refusal, retrying won't help.
        LegError::NotAdmitted(AdmitError::UnknownVenue { .. } | AdmitError::Locked) => 403,
        LegError::NotAdmitted(AdmitError::AlreadyConnected) => 486,
        // Scheduled or ended; the meeting task gone.
        LegError::NotAdmitted(_) | LegError::Gone | LegError::NoLeg => 480,
        // The engine refused the leg's media (an address another leg uses).
        _ => 500,
    }
}

/// A dial target parsed from a `sip:` URI (no DNS here: the host may be a name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetUri {
    /// The URI as given (Request-URI and To).
    pub uri: String,
    /// Host (name or IP, no brackets).
    pub host: String,
    /// Port, 5060 when absent.
    pub port: u16,
    /// `transport=tcp` in the URI selects TCP.
    pub transport: Transport,
}

/// Parses a contact URI for dialing.
pub fn parse_target(uri: &str) -> Option<TargetUri> {
    let u = dais_sip::Uri::parse(uri.trim())?;
    if !u.is_sip() {
        return None;
    }
    let host = u.host()?.to_owned();
    let transport = if uri.to_ascii_lowercase().contains(";transport=tcp") {
        Transport::Tcp
    } else {
        Transport::Udp
    };
    Some(TargetUri {
        uri: uri
            .trim()
            .trim_start_matches('<')
            .trim_end_matches('>')
            .to_owned(),
        host,
        port: u.port().unwrap_or(5060),
        transport,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use dais_conference::{MeetingState, VenueId};
    use dais_sip::offer_answer::{Capabilities, negotiate};

    const ROOM_OFFER: &str = "v=0\r\no=room 1 1 IN IP4 10.0.0.9\r\ns=-\r\nc=IN IP4 10.0.0.9\r\nt=0 0\r\n\
m=audio 5004 RTP/AVP 8 0 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n\
m=video 5006 RTP/AVP 109\r\na=rtpmap:109 H263-1998/90000\r\n";

    #[test]
    fn video_we_cannot_carry_gets_port_zero_and_an_audio_leg() {
        let caps = Capabilities::default();
        let n = negotiate(ROOM_OFFER.as_bytes(), &caps, 1).unwrap();
        assert!(n.answer.contains("m=video 0 "), "{}", n.answer);
        let cfg = leg_config(&n.media).unwrap();
        assert_eq!(cfg.rtp_addr, "10.0.0.9:5004".parse().unwrap());
        assert_eq!(cfg.rtcp_addr, Some("10.0.0.9:5005".parse().unwrap()));
        assert!(cfg.video.is_none());
        assert!(cfg.audio.is_some());
        assert!(cfg.send && cfg.recv);
    }

    #[test]
    fn admission_refusals_map_to_the_issue_codes() {
        let not = |e| admit_status(&LegError::NotAdmitted(e));
        let venue = VenueId::new("x").unwrap();
        assert_eq!(not(AdmitError::UnknownVenue { venue }), 403);
        assert_eq!(not(AdmitError::Locked), 403);
        assert_eq!(not(AdmitError::AlreadyConnected), 486);
        let state = MeetingState::Scheduled;
        assert_eq!(not(AdmitError::NotOpen { state }), 480);
        assert_eq!(admit_status(&LegError::Gone), 480);
    }

    #[test]
    fn info_body_is_recognised() {
        assert!(is_picture_fast_update(
            Some("application/media_control+xml"),
            PICTURE_FAST_UPDATE.as_bytes()
        ));
        assert!(!is_picture_fast_update(
            Some("text/plain"),
            PICTURE_FAST_UPDATE.as_bytes()
        ));
        assert!(!is_picture_fast_update(None, b"\xff\xfe"));
    }

    #[test]
    fn targets_parse() {
        let t = parse_target("sip:room@127.0.0.1:5070;transport=tcp").unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.transport),
            ("127.0.0.1", 5070, Transport::Tcp)
        );
        assert_eq!(parse_target("sip:room@10.1.1.1").unwrap().port, 5060);
        assert!(parse_target("tel:+123").is_none());
        assert!(parse_target("garbage").is_none());
    }
}
