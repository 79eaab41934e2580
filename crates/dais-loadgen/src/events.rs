//! The meeting's event stream (`GET /api/v1/meetings/{n}/events`, a WebSocket), read on its
//! own thread: the harness learns when the MCU itself switched the broadcast (polling), which
//! no API call of ours marks.
//!
//! Every `switch_requested` event of the `broadcast` feed is stamped with the harness clock
//! on arrival. On loopback that is within a fraction of a millisecond of the server's own
//! decision; under load the delivery delay makes the measured switch time shorter, never
//! longer, than the truth (said in `docs/benchmarks.md`).

use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread;
use std::time::Duration;

use serde_json::Value;
use tungstenite::client::IntoClientRequest;

use crate::error::LoadgenError;
use crate::media::Shared;

/// A broadcast switch the MCU announced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SwitchEvent {
    /// Arrival, ns since the run's origin.
    pub at_ns: u64,
    /// The venue now asked of the broadcast feed (its name).
    pub venue: String,
}

/// What the event thread saw.
#[derive(Debug, Clone, Default)]
pub struct EventLog {
    /// Broadcast switches, in arrival order.
    pub switches: Vec<SwitchEvent>,
    /// Text messages read (all types).
    pub messages: u64,
    /// `lagged` events: the server dropped events because we read too slowly.
    pub lagged: u64,
}

/// The broadcast switch an event announces, if it is one.
pub fn broadcast_switch(text: &str) -> Option<String> {
    let v: Value = serde_json::from_str(text).ok()?;
    if v.get("type")?.as_str()? != "switch_requested" || v.get("feed")?.as_str()? != "broadcast" {
        return None;
    }
    Some(v.get("venue")?.as_str()?.to_owned())
}

/// Connects to the event stream of `meeting` (bearer `token`) and reads it on a thread until
/// `shared.stop`. Connecting happens here, so a refusal is an error of the caller's.
///
/// # Errors
/// The connection or the WebSocket handshake failed.
pub fn spawn(
    http: SocketAddr,
    token: &str,
    meeting: &str,
    shared: Arc<Shared>,
) -> Result<thread::JoinHandle<EventLog>, LoadgenError> {
    let fail = |what: String| LoadgenError::Server { what };
    let url = format!("ws://{http}/api/v1/meetings/{meeting}/events");
    let mut req = url
        .as_str()
        .into_client_request()
        .map_err(|e| fail(format!("event stream request: {e}")))?;
    let bearer = format!("Bearer {token}")
        .parse()
        .map_err(|_| fail("the token is not a header value".into()))?;
    req.headers_mut().insert("Authorization", bearer);
    let stream = TcpStream::connect_timeout(&http, Duration::from_secs(5)).map_err(|e| {
        LoadgenError::Io {
            what: format!("event stream at {http}"),
            source: e,
        }
    })?;
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let _ = stream.set_nodelay(true);
    let (mut ws, _) = tungstenite::client(req, stream)
        .map_err(|e| fail(format!("event stream handshake: {e}")))?;
    // Short reads from now on, so the loop sees the stop flag.
    let _ = ws
        .get_ref()
        .set_read_timeout(Some(Duration::from_millis(50)));
    Ok(thread::spawn(move || {
        let mut log = EventLog::default();
        // Bounded by the stop flag: every read returns within 50 ms.
        while !shared.stop.load(Ordering::Relaxed) {
            match ws.read() {
                Ok(tungstenite::Message::Text(t)) => {
                    let at_ns = shared.now_ns();
                    log.messages += 1;
                    if t.contains("\"lagged\"") {
                        log.lagged += 1;
                    }
                    if let Some(venue) = broadcast_switch(&t) {
                        log.switches.push(SwitchEvent { at_ns, venue });
                    }
                }
                Ok(tungstenite::Message::Close(_)) => break,
                Ok(_) => {}
                Err(tungstenite::Error::Io(e))
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "event stream ended");
                    break;
                }
            }
        }
        let _ = ws.close(None);
        log
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_broadcast_switch_requests_count() {
        assert_eq!(
            broadcast_switch(r#"{"type":"switch_requested","feed":"broadcast","venue":"lg-3"}"#),
            Some("lg-3".into())
        );
        assert_eq!(
            broadcast_switch(
                r#"{"type":"switch_requested","feed":"broadcaster_view","venue":"lg-1"}"#
            ),
            None
        );
        assert_eq!(
            broadcast_switch(r#"{"type":"switch_requested","feed":"broadcast","venue":null}"#),
            None
        );
        assert_eq!(
            broadcast_switch(r#"{"type":"conference","event":"polling"}"#),
            None
        );
        assert_eq!(broadcast_switch("not json"), None);
    }
}
