//! Off-task decisions: a meeting's admission of a dial-in, the test call's echo, dial-target
//! resolution, and the digest checks that need no state.

use std::net::{IpAddr, SocketAddr};

use bytes::Bytes;
use dais_conference::VenueId;
use dais_net::meeting::{LegError, MeetingHandle};
use dais_sip::offer_answer::{Capabilities, build_offer, negotiate};
use dais_sip::{DialTarget, Uri};
use tracing::{info, warn};

use crate::error::DialError;
use crate::media::{admit_status, announce_audio_extras, leg_config, parse_target};
use crate::service::Decision;

/// The meeting's answer to a dial-in: admission, SDP, leg.
pub(crate) async fn admission(
    h: &MeetingHandle,
    venue: &VenueId,
    offer: Option<Bytes>,
    caps: &Capabilities,
    session: u64,
) -> Decision {
    let reject = |status| Decision::Reject {
        status,
        retry_after: None,
    };
    if let Err(reason) = h.admit(venue).await {
        info!(%venue, %reason, "dial-in refused by the meeting");
        return reject(admit_status(&reason));
    }
    // An INVITE without SDP (delayed offer): we offer in the 200 and the leg is set up when
    // the ACK brings the answer.
    let Some(offer) = offer else {
        return Decision::Offer {
            offer: Bytes::from(build_offer(caps, session)),
            media: SocketAddr::new(caps.address, caps.audio_port),
        };
    };
    let n = match negotiate(&offer, caps, session) {
        Ok(n) => n,
        Err(e) => {
            info!(%venue, error = %e, "no acceptable media");
            return reject(488);
        }
    };
    let Ok(cfg) = leg_config(&n.media) else {
        return reject(488);
    };
    match h.leg_up(venue, cfg).await {
        Ok(leg) => {
            announce_audio_extras(h, venue, &n.media).await;
            Decision::Accept {
                answer: Bytes::from(n.answer),
                leg: Some(leg),
                echo: None,
                media: SocketAddr::new(caps.address, caps.audio_port),
            }
        }
        Err(e @ (LegError::NotAdmitted(_) | LegError::Gone)) => reject(admit_status(&e)),
        Err(e) => {
            warn!(%venue, error = %e, "the media engine refused the leg");
            reject(500)
        }
    }
}

/// The test call's answer: an echo socket and SDP pointing at it.
pub(crate) async fn echo_decision(
    ip: IpAddr,
    offer: Option<Bytes>,
    caps_of: impl FnOnce(SocketAddr) -> Capabilities,
    session: u64,
) -> Decision {
    let reject = |status| Decision::Reject {
        status,
        retry_after: None,
    };
    let Some(offer) = offer else {
        return reject(488);
    };
    let echo = match crate::echo::spawn(ip).await {
        Ok(e) => e,
        Err(e) => {
            warn!(error = %e, "cannot bind the test-call echo");
            return reject(503);
        }
    };
    let addr = echo.addr();
    match negotiate(&offer, &caps_of(addr), session) {
        Ok(n) => Decision::Accept {
            answer: Bytes::from(n.answer),
            leg: None,
            echo: Some(echo),
            media: addr,
        },
        Err(_) => reject(488),
    }
}

/// A venue's configured contact URI → where to send the INVITE.
pub(crate) async fn resolve(uri: Option<String>) -> Result<DialTarget, DialError> {
    let uri = uri.ok_or(DialError::NoTarget)?;
    let t = parse_target(&uri).ok_or_else(|| DialError::BadUri(uri.clone()))?;
    let dest = match t.host.parse::<IpAddr>() {
        Ok(ip) => SocketAddr::new(ip, t.port),
        Err(_) => tokio::net::lookup_host((t.host.as_str(), t.port))
            .await
            .ok()
            .and_then(|mut a| a.next())
            .ok_or_else(|| DialError::Unresolved(t.host.clone()))?,
    };
    Ok(DialTarget {
        uri: t.uri,
        dest,
        transport: t.transport,
    })
}

/// RFC 7616 §3.4.6 wants the digest `uri` to be the Request-URI. sipp 3.6 (and some endpoints)
/// put the server's address without the user part there, so the same host and port are
/// accepted: the response is computed over that `uri` anyway, and the nonce count refuses
/// replays.
pub(crate) fn digest_uri_matches(digest_uri: &str, request_uri: &str) -> bool {
    if digest_uri == request_uri {
        return true;
    }
    match (Uri::parse(digest_uri), Uri::parse(request_uri)) {
        (Some(d), Some(r)) => {
            d.is_sip()
                && d.host().map(str::to_ascii_lowercase) == r.host().map(str::to_ascii_lowercase)
                && d.port().unwrap_or(5060) == r.port().unwrap_or(5060)
                && d.user().is_none_or(|u| Some(u) == r.user())
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::digest_uri_matches;

    #[test]
    fn digest_uri_must_name_the_request_target() {
        assert!(digest_uri_matches(
            "sip:8100@10.0.0.1:5060",
            "sip:8100@10.0.0.1:5060"
        ));
        assert!(digest_uri_matches("sip:10.0.0.1", "sip:8100@10.0.0.1:5060"));
        assert!(!digest_uri_matches(
            "sip:8200@10.0.0.1",
            "sip:8100@10.0.0.1"
        ));
        assert!(!digest_uri_matches("sip:10.0.0.2", "sip:8100@10.0.0.1"));
        assert!(!digest_uri_matches("garbage", "sip:8100@10.0.0.1"));
    }
}
