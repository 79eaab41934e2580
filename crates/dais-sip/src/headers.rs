//! Typed views of the headers Dais acts on. Each accessor parses on demand with `sipx-sip`'s
//! grammar and returns our own type; a malformed value is a [`PeerError::MalformedHeader`].

use sipx_sip::message::TypedHeader;

use crate::error::PeerError;
use crate::message::{Headers, Method, Uri, lossy};

/// One `Via` value (RFC 3261 §20.42, RFC 3581 `rport`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Via {
    /// Transport token, upper-case as sent (`UDP`, `TCP`, ...).
    pub transport: String,
    /// Sent-by host (IPv6 without brackets).
    pub host: String,
    /// Sent-by port.
    pub port: Option<u16>,
    /// `branch` parameter.
    pub branch: Option<String>,
    /// `received` parameter.
    pub received: Option<String>,
    /// `rport`: `Some(None)` when present without value.
    pub rport: Option<Option<u16>>,
}

impl Via {
    /// Whether the branch carries the RFC 3261 magic cookie and something after it.
    #[must_use]
    pub fn has_rfc3261_branch(&self) -> bool {
        self.branch
            .as_deref()
            .is_some_and(|b| b.len() > 7 && b.starts_with("z9hG4bK"))
    }
}

/// A `name-addr` / `addr-spec` value: From, To, Contact (RFC 3261 §20.10).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameAddr {
    /// Display name, unquoted.
    pub display: Option<String>,
    /// The URI.
    pub uri: Uri,
    /// `tag` parameter.
    pub tag: Option<String>,
    /// Every header parameter (name lower-cased), `tag` included.
    pub params: Vec<(String, Option<String>)>,
}

impl NameAddr {
    fn from_sipx(a: &sipx_sip::Address) -> Self {
        Self {
            display: a.display_name.as_deref().map(lossy),
            uri: Uri::from_sipx(&a.uri),
            tag: a.tag().map(lossy),
            params: a
                .params
                .iter()
                .map(|p| (lossy(&p.name), p.value.as_deref().map(lossy)))
                .collect(),
        }
    }

    /// A parameter value; `Some(None)` when present without a value.
    #[must_use]
    pub fn param(&self, name: &str) -> Option<Option<&str>> {
        self.params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_deref())
    }
}

/// The Contact header set (RFC 3261 §20.10).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Contacts {
    /// `Contact: *` (REGISTER removing every binding).
    Wildcard,
    /// Zero or more addresses.
    List(Vec<NameAddr>),
}

/// CSeq (RFC 3261 §20.16).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CSeq {
    /// Sequence number.
    pub seq: u32,
    /// Method.
    pub method: Method,
}

/// Who refreshes a session (RFC 4028 §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refresher {
    /// The UAC.
    Uac,
    /// The UAS.
    Uas,
}

/// Session-Expires (RFC 4028 §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionExpires {
    /// Interval in seconds.
    pub seconds: u32,
    /// Who refreshes, when stated.
    pub refresher: Option<Refresher>,
}

fn leading_u32(v: &str) -> Option<u32> {
    let digits: &str = v
        .trim()
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .unwrap_or("");
    if digits.is_empty() {
        None
    } else {
        // Overlarge values saturate: RFC 4475 §3.1.2.4 allows treating them as the maximum.
        Some(digits.parse::<u32>().unwrap_or(u32::MAX))
    }
}

impl Headers {
    /// Every Via value, top first.
    ///
    /// # Errors
    /// `MalformedHeader("Via")`.
    pub fn vias(&self) -> Result<Vec<Via>, PeerError> {
        let mut out = Vec::new();
        for h in self.get_all("Via") {
            let list = sipx_sip::Via::parse_list(h.value())
                .map_err(|_| PeerError::MalformedHeader("Via"))?;
            for v in list {
                out.push(Via {
                    transport: lossy(&v.transport),
                    host: lossy(&v.host.to_bytes()),
                    port: v.port,
                    branch: v.branch().map(lossy),
                    received: v.received().map(lossy),
                    rport: v
                        .rport()
                        .map(|p| p.and_then(|p| std::str::from_utf8(p).ok()?.parse().ok())),
                });
            }
        }
        Ok(out)
    }

    /// The top Via.
    ///
    /// # Errors
    /// Missing or malformed Via.
    pub fn top_via(&self) -> Result<Via, PeerError> {
        self.vias()?
            .into_iter()
            .next()
            .ok_or(PeerError::MissingHeader("Via"))
    }

    fn address(&self, name: &'static str) -> Result<NameAddr, PeerError> {
        let h = self.get(name).ok_or(PeerError::MissingHeader(name))?;
        let a = sipx_sip::Address::parse(h.value(), name)
            .map_err(|_| PeerError::MalformedHeader(name))?;
        Ok(NameAddr::from_sipx(&a))
    }

    /// From.
    ///
    /// # Errors
    /// Missing or malformed.
    pub fn from(&self) -> Result<NameAddr, PeerError> {
        self.address("From")
    }

    /// To.
    ///
    /// # Errors
    /// Missing or malformed.
    pub fn to(&self) -> Result<NameAddr, PeerError> {
        self.address("To")
    }

    /// Call-ID.
    ///
    /// # Errors
    /// Missing or empty.
    pub fn call_id(&self) -> Result<String, PeerError> {
        let v = self
            .text("Call-ID")
            .ok_or(PeerError::MissingHeader("Call-ID"))?;
        let v = v.trim();
        if v.is_empty() || v.contains(char::is_whitespace) {
            return Err(PeerError::MalformedHeader("Call-ID"));
        }
        Ok(v.to_owned())
    }

    /// CSeq.
    ///
    /// # Errors
    /// Missing, malformed, or a number above 2^32-1 (RFC 4475 §3.1.2.4).
    pub fn cseq(&self) -> Result<CSeq, PeerError> {
        let h = self.get("CSeq").ok_or(PeerError::MissingHeader("CSeq"))?;
        let c =
            sipx_sip::CSeq::decode(h.value()).map_err(|_| PeerError::MalformedHeader("CSeq"))?;
        Ok(CSeq {
            seq: c.sequence,
            method: Method::parse(&lossy(c.method.as_bytes())),
        })
    }

    /// Contact values.
    ///
    /// # Errors
    /// `MalformedHeader("Contact")`.
    pub fn contacts(&self) -> Result<Contacts, PeerError> {
        let mut list = Vec::new();
        for h in self.get_all("Contact") {
            if h.value().as_ref() == b"*" {
                return Ok(Contacts::Wildcard);
            }
            let values = sipx_sip::headers::ContactValue::decode_list(h.value())
                .map_err(|_| PeerError::MalformedHeader("Contact"))?;
            for v in values {
                match v {
                    sipx_sip::headers::ContactValue::Address(a) => {
                        list.push(NameAddr::from_sipx(&a))
                    }
                    sipx_sip::headers::ContactValue::Wildcard => return Ok(Contacts::Wildcard),
                }
            }
        }
        Ok(Contacts::List(list))
    }

    /// The first Contact address, if any parses.
    #[must_use]
    pub fn contact(&self) -> Option<NameAddr> {
        match self.contacts() {
            Ok(Contacts::List(l)) => l.into_iter().next(),
            _ => None,
        }
    }

    /// Max-Forwards; `None` when absent.
    #[must_use]
    pub fn max_forwards(&self) -> Option<Result<u8, PeerError>> {
        self.get("Max-Forwards").map(|h| {
            sipx_sip::headers::MaxForwards::decode(h.value())
                .map(|m| m.0)
                .map_err(|_| PeerError::MalformedHeader("Max-Forwards"))
        })
    }

    /// Expires in seconds; overlarge values saturate (RFC 4475 §3.1.2.4).
    #[must_use]
    pub fn expires(&self) -> Option<u32> {
        self.text("Expires").and_then(|v| leading_u32(&v))
    }

    /// Content-Type as lower-case `type/subtype`, parameters dropped.
    #[must_use]
    pub fn content_type(&self) -> Option<String> {
        self.text("Content-Type").map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
    }

    /// Content-Length as declared (the parser already framed by it).
    #[must_use]
    pub fn content_length(&self) -> Option<u64> {
        self.text("Content-Length")
            .and_then(|v| v.trim().parse().ok())
    }

    /// Comma-separated option tags of a header (Supported, Require, Proxy-Require, Allow...).
    #[must_use]
    pub fn tokens(&self, name: &str) -> Vec<String> {
        self.get_all(name)
            .flat_map(|h| {
                h.value_str()
                    .split(',')
                    .map(|t| t.trim().to_owned())
                    .filter(|t| !t.is_empty())
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    /// Supported option tags.
    #[must_use]
    pub fn supported(&self) -> Vec<String> {
        self.tokens("Supported")
    }

    /// Require option tags.
    #[must_use]
    pub fn require(&self) -> Vec<String> {
        self.tokens("Require")
    }

    /// Session-Expires (RFC 4028); `None` when absent or malformed.
    #[must_use]
    pub fn session_expires(&self) -> Option<SessionExpires> {
        let v = self.text("Session-Expires")?;
        let mut parts = v.split(';');
        let seconds = parts.next()?.trim().parse().ok()?;
        let refresher = parts.find_map(|p| {
            let (k, val) = p.split_once('=')?;
            if !k.trim().eq_ignore_ascii_case("refresher") {
                return None;
            }
            match val.trim().to_ascii_lowercase().as_str() {
                "uac" => Some(Refresher::Uac),
                "uas" => Some(Refresher::Uas),
                _ => None,
            }
        });
        Some(SessionExpires { seconds, refresher })
    }

    /// Retry-After seconds (RFC 3261 §20.33); overlarge values saturate.
    #[must_use]
    pub fn retry_after(&self) -> Option<u32> {
        self.text("Retry-After").and_then(|v| leading_u32(&v))
    }

    /// Authorization values as text (parse them with [`crate::digest::DigestCredentials`]).
    pub fn authorization(&self) -> impl Iterator<Item = String> + '_ {
        self.get_all("Authorization")
            .map(|h| h.value_str().into_owned())
    }

    /// WWW-Authenticate values as text.
    pub fn www_authenticate(&self) -> impl Iterator<Item = String> + '_ {
        self.get_all("WWW-Authenticate")
            .map(|h| h.value_str().into_owned())
    }
}
