//! The few `daisd` API calls the harness makes, over a minimal blocking HTTP/1.1 client
//! (one connection per request, `Connection: close`, bounded reads and timeouts).
//!
//! A hand-written client instead of an HTTP crate: the harness talks to one loopback server
//! with a handful of JSON requests, and the workspace has no client crate (see the notes).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use serde_json::{Value, json};

use crate::error::LoadgenError;

/// Largest response body read (the `/metrics` text of a big meeting fits easily).
const MAX_RESPONSE: usize = 8 << 20;

/// A logged-in API client.
#[derive(Debug, Clone)]
pub struct Api {
    addr: SocketAddr,
    token: Option<String>,
    timeout: Duration,
}

/// An HTTP answer: status and body text.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    /// Status code.
    pub status: u16,
    /// Body (lossily UTF-8).
    pub body: String,
}

impl HttpResponse {
    fn json(&self) -> Result<Value, LoadgenError> {
        serde_json::from_str(&self.body).map_err(|e| LoadgenError::Server {
            what: format!("unreadable JSON ({e}): {}", snippet(&self.body)),
        })
    }
}

fn snippet(s: &str) -> String {
    s.chars().take(300).collect()
}

impl Api {
    /// A client of the server at `addr` (not logged in).
    pub fn new(addr: SocketAddr) -> Api {
        Api {
            addr,
            token: None,
            timeout: Duration::from_secs(10),
        }
    }

    /// One request; `body` is sent as JSON.
    ///
    /// # Errors
    /// Connection or protocol failures ([`LoadgenError::Io`], [`LoadgenError::Server`]).
    pub fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<HttpResponse, LoadgenError> {
        let io = |e: std::io::Error| LoadgenError::Io {
            what: format!("{method} {path} at {}", self.addr),
            source: e,
        };
        let mut s = TcpStream::connect_timeout(&self.addr, self.timeout).map_err(io)?;
        s.set_read_timeout(Some(self.timeout)).map_err(io)?;
        s.set_write_timeout(Some(self.timeout)).map_err(io)?;
        let _ = s.set_nodelay(true);
        let payload = body.map(Value::to_string).unwrap_or_default();
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nAccept: */*\r\n",
            self.addr
        );
        if let Some(t) = &self.token {
            head.push_str(&format!("Authorization: Bearer {t}\r\n"));
        }
        if body.is_some() {
            head.push_str("Content-Type: application/json\r\n");
        }
        head.push_str(&format!("Content-Length: {}\r\n\r\n", payload.len()));
        s.write_all(head.as_bytes()).map_err(io)?;
        s.write_all(payload.as_bytes()).map_err(io)?;
        let mut raw = Vec::new();
        s.take(MAX_RESPONSE as u64)
            .read_to_end(&mut raw)
            .map_err(io)?;
        parse_response(&raw)
    }

    /// Logs in and keeps the bearer token.
    ///
    /// # Errors
    /// Wrong credentials ([`LoadgenError::Refused`]) or transport failures.
    pub fn login(&mut self, user: &str, password: &str) -> Result<(), LoadgenError> {
        let r = self.request(
            "POST",
            "/api/v1/auth/login",
            Some(&json!({"username": user, "password": password})),
        )?;
        let v = expect(r, "login", &[200])?;
        let token = v
            .get("token")
            .and_then(Value::as_str)
            .ok_or_else(|| LoadgenError::Server {
                what: "login answer without a token".into(),
            })?;
        self.token = Some(token.to_owned());
        Ok(())
    }

    /// The bearer token, once logged in (the event stream needs it).
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// The server's HTTP address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Creates a venue with SIP credentials (and, for dial-out, the contact URI the MCU
    /// dials); an existing one (409) is taken as it is, unless its contact differs from the
    /// one asked for: the API cannot change a venue, so that is an error naming the fix.
    ///
    /// # Errors
    /// Refusals other than "exists", a stale contact, transport failures.
    pub fn ensure_venue(
        &self,
        name: &str,
        kind: &str,
        parent: Option<&str>,
        sip_password: &str,
        contact_uri: Option<&str>,
    ) -> Result<(), LoadgenError> {
        let mut body = json!({"name": name, "kind": kind, "sip_password": sip_password});
        if let Some(p) = parent {
            body["parent"] = json!(p);
        }
        if let Some(c) = contact_uri {
            body["contact_uri"] = json!(c);
        }
        let r = self.request("POST", "/api/v1/venues", Some(&body))?;
        let created = r.status != 409;
        expect(r, &format!("create venue {name}"), &[200, 201, 409])?;
        if let (false, Some(want)) = (created, contact_uri) {
            let r = self.request("GET", &format!("/api/v1/venues/{name}"), None)?;
            let v = expect(r, &format!("venue {name}"), &[200])?;
            let have = v.get("contact_uri").and_then(Value::as_str).unwrap_or("");
            if have != want {
                return Err(LoadgenError::Options(format!(
                    "venue {name} exists with contact `{have}`, not `{want}`: \
                     use a fresh --prefix (or --spawn) for --dial-out"
                )));
            }
        }
        Ok(())
    }

    /// Schedules a meeting; an existing one (409) is taken as it is.
    ///
    /// # Errors
    /// Refusals other than "exists", transport failures.
    pub fn ensure_meeting(
        &self,
        number: &str,
        main: &str,
        venues: &[String],
    ) -> Result<(), LoadgenError> {
        let body = json!({
            "number": number,
            "subject": "dais-loadgen",
            "main_venue": main,
            "venues": venues,
        });
        let r = self.request("POST", "/api/v1/meetings", Some(&body))?;
        expect(r, &format!("create meeting {number}"), &[200, 201, 409]).map(drop)
    }

    /// Starts a stored meeting live; one already running (409) is fine.
    ///
    /// # Errors
    /// Refusals, transport failures.
    pub fn start_meeting(&self, number: &str) -> Result<(), LoadgenError> {
        let r = self.request(
            "POST",
            &format!("/api/v1/meetings/{number}/start"),
            Some(&json!({})),
        )?;
        expect(r, &format!("start meeting {number}"), &[200, 409]).map(drop)
    }

    /// Sends a chair command (the API's JSON form, e.g. `{"command":"broadcast","venue":"x"}`).
    ///
    /// # Errors
    /// Refusals, transport failures.
    pub fn command(&self, number: &str, command: &Value) -> Result<(), LoadgenError> {
        let r = self.request(
            "POST",
            &format!("/api/v1/meetings/{number}/commands"),
            Some(command),
        )?;
        expect(r, &format!("command {command}"), &[200]).map(drop)
    }

    /// The live state of a meeting.
    ///
    /// # Errors
    /// Not found, transport failures.
    pub fn meeting(&self, number: &str) -> Result<Value, LoadgenError> {
        let r = self.request("GET", &format!("/api/v1/meetings/{number}"), None)?;
        expect(r, &format!("meeting {number}"), &[200])
    }

    /// How many drops the MCU itself detected by media timeout, from the meeting record
    /// (`GET /api/v1/meetings/{n}/record`: entries whose reason is `media_timeout`).
    ///
    /// # Errors
    /// Transport failures or a non-200 answer.
    pub fn media_timeout_drops(&self, number: &str) -> Result<u64, LoadgenError> {
        let r = self.request("GET", &format!("/api/v1/meetings/{number}/record"), None)?;
        let v = expect(r, &format!("meeting {number} record"), &[200])?;
        Ok(v.to_string().matches("\"media_timeout\"").count() as u64)
    }

    /// Sum of every `dais_media_sends_total` sample in `/metrics` (all meetings).
    ///
    /// # Errors
    /// Transport failures or a non-200 answer.
    pub fn media_sends(&self) -> Result<u64, LoadgenError> {
        let r = self.request("GET", "/metrics", None)?;
        if r.status != 200 {
            return Err(LoadgenError::Server {
                what: format!("/metrics answered {}", r.status),
            });
        }
        Ok(sum_metric(&r.body, "dais_media_sends_total"))
    }

    /// Whether `/healthz` answers 200.
    pub fn healthy(&self) -> bool {
        self.request("GET", "/healthz", None)
            .is_ok_and(|r| r.status == 200)
    }
}

fn expect(r: HttpResponse, what: &str, ok: &[u16]) -> Result<Value, LoadgenError> {
    if !ok.contains(&r.status) {
        return Err(LoadgenError::Refused {
            what: what.to_owned(),
            status: r.status,
            body: snippet(&r.body),
        });
    }
    if r.body.trim().is_empty() {
        return Ok(Value::Null);
    }
    r.json()
}

/// Sums the samples of one counter in Prometheus/OpenMetrics text (any labels).
pub fn sum_metric(text: &str, name: &str) -> u64 {
    text.lines()
        .filter(|l| {
            l.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
        })
        .filter_map(|l| {
            // The value follows the labels; labels may contain spaces inside quotes.
            let after = l.rsplit_once('}').map_or(l, |(_, v)| v);
            after
                .split_whitespace()
                .last()
                .or_else(|| after.split_whitespace().next())
        })
        .filter_map(|v| v.parse::<f64>().ok())
        .map(|v| v.max(0.0) as u64)
        .sum()
}

/// Parses a `Connection: close` HTTP/1.1 response (identity or chunked body).
///
/// # Errors
/// [`LoadgenError::Server`] when it is not HTTP.
pub fn parse_response(raw: &[u8]) -> Result<HttpResponse, LoadgenError> {
    let bad = |why: &str| LoadgenError::Server {
        what: format!("bad HTTP response: {why}"),
    };
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| bad("no end of head"))?;
    let head = String::from_utf8_lossy(&raw[..split]);
    let body = &raw[split + 4..];
    let mut lines = head.lines();
    let status: u16 = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad("no status line"))?;
    let chunked = lines.any(|l| {
        let l = l.to_ascii_lowercase();
        l.starts_with("transfer-encoding:") && l.contains("chunked")
    });
    let body = if chunked {
        dechunk(body).ok_or_else(|| bad("broken chunked body"))?
    } else {
        body.to_vec()
    };
    Ok(HttpResponse {
        status,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

fn dechunk(mut b: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    // Each turn consumes a chunk header; bounded by the input length.
    loop {
        let eol = b.windows(2).position(|w| w == b"\r\n")?;
        let size_txt = std::str::from_utf8(b.get(..eol)?).ok()?;
        let size = usize::from_str_radix(size_txt.split(';').next()?.trim(), 16).ok()?;
        b = b.get(eol + 2..)?;
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(b.get(..size)?);
        b = b.get(size + 2..)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn responses_parse_identity_and_chunked() {
        let r = parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}").unwrap();
        assert_eq!((r.status, r.body.as_str()), (200, "{}"));
        let r = parse_response(
            b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
        )
        .unwrap();
        assert_eq!((r.status, r.body.as_str()), (201, "abcde"));
        assert!(parse_response(b"garbage").is_err());
        assert!(
            parse_response(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n").is_err()
        );
    }

    #[test]
    fn counters_sum_over_labels() {
        let text = "# TYPE dais_media_sends counter\n\
                    dais_media_sends_total{meeting=\"8000\"} 120\n\
                    dais_media_sends_total{meeting=\"8001 x\"} 30\n\
                    dais_media_sends_other_total 5\n\
                    dais_media_sends_total 7\n";
        assert_eq!(sum_metric(text, "dais_media_sends_total"), 157);
        assert_eq!(sum_metric("", "x"), 0);
    }
}
