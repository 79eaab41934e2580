//! SIP messages of our own (RFC 3261 §7), built from `sipx-sip`'s parser.
//!
//! `sipx-sip` frames and tokenises; this module copies what Dais needs into owned types so that
//! no `sipx-sip` type crosses the crate boundary. Header names are stored canonical (compact
//! forms expanded, RFC 3261 §7.3.3), values unfolded (§7.3.1), in wire order.

use std::fmt;

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::{LimitKind, PeerError, SipError};

/// A request method. Comparison is case-sensitive (RFC 3261 §7.1).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Method {
    /// `INVITE`
    Invite,
    /// `ACK`
    Ack,
    /// `BYE`
    Bye,
    /// `CANCEL`
    Cancel,
    /// `REGISTER`
    Register,
    /// `OPTIONS`
    Options,
    /// `INFO` (RFC 6086)
    Info,
    /// `UPDATE` (RFC 3311)
    Update,
    /// `PRACK` (RFC 3262)
    Prack,
    /// `SUBSCRIBE`
    Subscribe,
    /// `NOTIFY`
    Notify,
    /// `REFER`
    Refer,
    /// `MESSAGE`
    Message,
    /// `PUBLISH`
    Publish,
    /// Any other token, kept verbatim.
    Other(String),
}

impl Method {
    /// Resolve a method token; an unknown token is an extension method, not an error.
    #[must_use]
    pub fn parse(token: &str) -> Self {
        match token {
            "INVITE" => Self::Invite,
            "ACK" => Self::Ack,
            "BYE" => Self::Bye,
            "CANCEL" => Self::Cancel,
            "REGISTER" => Self::Register,
            "OPTIONS" => Self::Options,
            "INFO" => Self::Info,
            "UPDATE" => Self::Update,
            "PRACK" => Self::Prack,
            "SUBSCRIBE" => Self::Subscribe,
            "NOTIFY" => Self::Notify,
            "REFER" => Self::Refer,
            "MESSAGE" => Self::Message,
            "PUBLISH" => Self::Publish,
            other => Self::Other(other.to_owned()),
        }
    }

    /// The method token.
    #[must_use]
    pub fn as_str(&self) -> &str {
        match self {
            Self::Invite => "INVITE",
            Self::Ack => "ACK",
            Self::Bye => "BYE",
            Self::Cancel => "CANCEL",
            Self::Register => "REGISTER",
            Self::Options => "OPTIONS",
            Self::Info => "INFO",
            Self::Update => "UPDATE",
            Self::Prack => "PRACK",
            Self::Subscribe => "SUBSCRIBE",
            Self::Notify => "NOTIFY",
            Self::Refer => "REFER",
            Self::Message => "MESSAGE",
            Self::Publish => "PUBLISH",
            Self::Other(s) => s,
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A URI as it appeared, with the parts routing needs pulled out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uri {
    raw: String,
    scheme: String,
    user: Option<String>,
    host: Option<String>,
    port: Option<u16>,
    has_headers: bool,
}

impl Uri {
    /// Parse a URI (`sip:`, `sips:`, `tel:` or any other scheme, kept opaque).
    ///
    /// `None` when it does not parse; the caller decides whose fault that is.
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        sipx_sip::Uri::parse(Bytes::copy_from_slice(text.as_bytes()))
            .ok()
            .map(|u| Self::from_sipx(&u))
    }

    pub(crate) fn from_sipx(u: &sipx_sip::Uri) -> Self {
        let scheme = match u.scheme() {
            sipx_sip::Scheme::Sip => "sip".to_owned(),
            sipx_sip::Scheme::Sips => "sips".to_owned(),
            sipx_sip::Scheme::Tel => "tel".to_owned(),
            sipx_sip::Scheme::Other(b) => lossy(b).to_ascii_lowercase(),
            _ => "unknown".to_owned(),
        };
        Self {
            raw: lossy(&u.to_bytes()),
            scheme,
            user: u.user().map(lossy),
            host: u.host().map(|h| lossy(&h.to_bytes())),
            port: u.port(),
            has_headers: u.has_headers(),
        }
    }

    /// The URI text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// Lower-case scheme (`sip`, `sips`, `tel`, ...).
    #[must_use]
    pub fn scheme(&self) -> &str {
        &self.scheme
    }

    /// Whether this is a `sip:` or `sips:` URI.
    #[must_use]
    pub fn is_sip(&self) -> bool {
        self.scheme == "sip" || self.scheme == "sips"
    }

    /// The user part, still %-escaped.
    #[must_use]
    pub fn user(&self) -> Option<&str> {
        self.user.as_deref()
    }

    /// The host, without IPv6 brackets.
    #[must_use]
    pub fn host(&self) -> Option<&str> {
        self.host.as_deref()
    }

    /// The explicit port, if any.
    #[must_use]
    pub fn port(&self) -> Option<u16> {
        self.port
    }

    /// Whether the URI carries `?header=` components.
    #[must_use]
    pub fn has_headers(&self) -> bool {
        self.has_headers
    }
}

impl fmt::Display for Uri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

pub(crate) fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// One header field: canonical name and unfolded value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    name: String,
    value: Bytes,
}

impl Header {
    /// A header; the name is canonicalised (`i` and `call-id` both become `Call-ID`).
    #[must_use]
    pub fn new(name: &str, value: impl Into<Bytes>) -> Self {
        Self {
            name: canonical_name(name.as_bytes()),
            value: value.into(),
        }
    }

    /// The canonical name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The value, folding replaced by single spaces; may hold non-UTF-8 bytes.
    #[must_use]
    pub fn value(&self) -> &Bytes {
        &self.value
    }

    /// The value as text (lossy for non-UTF-8 bytes).
    #[must_use]
    pub fn value_str(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(&self.value)
    }
}

pub(crate) fn canonical_name(raw: &[u8]) -> String {
    let parsed = sipx_sip::HeaderName::parse(&Bytes::copy_from_slice(raw));
    lossy(parsed.canonical())
}

/// Header fields in wire order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers(Vec<Header>);

impl Headers {
    /// No headers.
    #[must_use]
    pub fn new() -> Self {
        Self(Vec::new())
    }

    /// Number of header fields.
    #[must_use]
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// All fields in order.
    pub fn iter(&self) -> impl Iterator<Item = &Header> {
        self.0.iter()
    }

    /// The first field with this name (any spelling or compact form).
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&Header> {
        let name = canonical_name(name.as_bytes());
        self.0.iter().find(|h| h.name.eq_ignore_ascii_case(&name))
    }

    /// Every field with this name, in order.
    pub fn get_all<'a>(&'a self, name: &str) -> impl Iterator<Item = &'a Header> + 'a {
        let name = canonical_name(name.as_bytes());
        self.0
            .iter()
            .filter(move |h| h.name.eq_ignore_ascii_case(&name))
    }

    /// How many fields carry this name.
    #[must_use]
    pub fn count(&self, name: &str) -> usize {
        self.get_all(name).count()
    }

    /// Append a field.
    pub fn push(&mut self, name: &str, value: impl Into<Bytes>) {
        self.0.push(Header::new(name, value));
    }

    /// Remove every field with this name; returns how many went.
    pub fn remove(&mut self, name: &str) -> usize {
        let name = canonical_name(name.as_bytes());
        let before = self.0.len();
        self.0.retain(|h| !h.name.eq_ignore_ascii_case(&name));
        before - self.0.len()
    }

    /// Replace every field with this name by one field.
    pub fn set(&mut self, name: &str, value: impl Into<Bytes>) {
        self.remove(name);
        self.push(name, value);
    }

    /// The first value of this header as text.
    #[must_use]
    pub fn text(&self, name: &str) -> Option<std::borrow::Cow<'_, str>> {
        self.get(name).map(Header::value_str)
    }
}

/// A request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The method.
    pub method: Method,
    /// The Request-URI.
    pub uri: Uri,
    /// `SIP/2.0` unless the peer said otherwise (then [`SipMessage::validate`] refuses it).
    pub version: String,
    /// Header fields.
    pub headers: Headers,
    /// Body (`Content-Length` is recomputed on serialisation).
    pub body: Bytes,
}

/// A response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Status code, 100..=699.
    pub status: u16,
    /// Reason phrase (may be empty, may be UTF-8).
    pub reason: String,
    /// `SIP/2.0` unless the peer said otherwise.
    pub version: String,
    /// Header fields.
    pub headers: Headers,
    /// Body.
    pub body: Bytes,
}

/// A SIP message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SipMessage {
    /// A request.
    Request(Request),
    /// A response.
    Response(Response),
}

/// Bounds on what is parsed; checked before anything is allocated for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest message, head and body.
    pub max_message_bytes: usize,
    /// Largest body.
    pub max_body_bytes: usize,
    /// Most header fields.
    pub max_headers: usize,
    /// Largest single header field.
    pub max_header_bytes: usize,
}

impl Default for Limits {
    /// 64 KiB per message (one UDP datagram), 100 headers, 8 KiB per header.
    fn default() -> Self {
        Self {
            max_message_bytes: 64 * 1024,
            max_body_bytes: 64 * 1024,
            max_headers: 100,
            max_header_bytes: 8 * 1024,
        }
    }
}

impl Limits {
    pub(crate) fn to_sipx(self) -> sipx_sip::Limits {
        sipx_sip::Limits {
            max_message_bytes: self.max_message_bytes,
            max_body_bytes: self.max_body_bytes,
            max_headers: self.max_headers,
            max_header_bytes: self.max_header_bytes,
            max_folding_lines: 16,
        }
    }
}

/// Parse and validate one datagram-framed message with default [`Limits`].
///
/// Octets after the body are ignored (RFC 3261 §18.3). The message must also pass
/// [`SipMessage::validate`]; use [`parse_unvalidated`] to get a message that may need a 400.
///
/// # Errors
/// [`SipError::Peer`] naming the fault; [`PeerError::status`] says what to answer.
pub fn parse(bytes: &[u8]) -> Result<SipMessage, SipError> {
    let msg = parse_unvalidated(Bytes::copy_from_slice(bytes), &Limits::default())?;
    msg.validate()?;
    Ok(msg)
}

/// Frame and tokenise one datagram without the semantic checks of [`SipMessage::validate`].
///
/// # Errors
/// The framing, start-line or header-syntax fault.
pub fn parse_unvalidated(bytes: Bytes, limits: &Limits) -> Result<SipMessage, PeerError> {
    sipx_sip::parse_datagram(bytes, &limits.to_sipx())
        .map(|m| from_sipx(&m))
        .map_err(map_parse_error)
}

pub(crate) fn map_parse_error(e: sipx_sip::error::ParseError) -> PeerError {
    use sipx_sip::error::{FramingError as F, LimitKind as L, ParseError as P, StartLineError};
    match e {
        P::StartLine(StartLineError::StatusCode | StartLineError::MissingStatusCode) => {
            PeerError::StatusCode
        }
        P::StartLine(_) => PeerError::StartLine,
        P::HeaderSyntax { .. } => PeerError::HeaderSyntax,
        P::Framing(F::NoHeaderTerminator) => PeerError::NoHeaderTerminator,
        P::Framing(F::BodyTruncated) => PeerError::BodyTruncated,
        P::Framing(F::ContentLengthMalformed) => PeerError::ContentLengthMalformed,
        P::Framing(F::ContentLengthRepeated) => PeerError::ContentLengthRepeated,
        P::Framing(F::ContentLengthRequired) => PeerError::ContentLengthRequired,
        P::Framing(_) => PeerError::NoHeaderTerminator,
        P::Limit { limit, value } => PeerError::Limit {
            limit: match limit {
                L::MessageBytes => LimitKind::MessageBytes,
                L::BodyBytes => LimitKind::BodyBytes,
                L::Headers => LimitKind::Headers,
                L::HeaderBytes => LimitKind::HeaderBytes,
                _ => LimitKind::FoldingLines,
            },
            value,
        },
        _ => PeerError::StartLine,
    }
}

fn convert_headers(h: &sipx_sip::Headers) -> Headers {
    Headers(
        h.iter()
            .map(|h| Header {
                name: lossy(h.name().canonical()),
                value: Bytes::copy_from_slice(&h.value()),
            })
            .collect(),
    )
}

pub(crate) fn from_sipx(m: &sipx_sip::Message) -> SipMessage {
    match m {
        sipx_sip::Message::Request(r) => SipMessage::Request(Request {
            method: Method::parse(&lossy(r.method.as_bytes())),
            uri: Uri::from_sipx(&r.uri),
            version: lossy(r.version.as_bytes()),
            headers: convert_headers(&r.headers),
            body: r.body().clone(),
        }),
        sipx_sip::Message::Response(r) => SipMessage::Response(Response {
            status: r.status.code(),
            reason: lossy(&r.reason),
            version: lossy(r.version.as_bytes()),
            headers: convert_headers(&r.headers),
            body: r.body().clone(),
        }),
    }
}

const SINGLE_VALUED: [&str; 5] = ["To", "From", "Call-ID", "CSeq", "Max-Forwards"];

impl SipMessage {
    /// The header fields.
    #[must_use]
    pub fn headers(&self) -> &Headers {
        match self {
            Self::Request(r) => &r.headers,
            Self::Response(r) => &r.headers,
        }
    }

    /// The body.
    #[must_use]
    pub fn body(&self) -> &Bytes {
        match self {
            Self::Request(r) => &r.body,
            Self::Response(r) => &r.body,
        }
    }

    /// RFC 3261 §8.1.1 / RFC 4475 checks that come after framing: version, required headers
    /// present, single-valued and parseable, CSeq method matching the request line, no
    /// headers in the Request-URI. `Max-Forwards` may be absent (RFC 2543 peers, §3.4.1).
    ///
    /// # Errors
    /// The first fault found, in the order a 505 precedes a 400.
    pub fn validate(&self) -> Result<(), PeerError> {
        let (version, headers) = match self {
            Self::Request(r) => (&r.version, &r.headers),
            Self::Response(r) => (&r.version, &r.headers),
        };
        if version != "SIP/2.0" {
            return Err(PeerError::UnsupportedVersion);
        }
        if let Self::Request(r) = self
            && r.uri.has_headers()
        {
            return Err(PeerError::RequestUriHasHeaders);
        }
        for name in SINGLE_VALUED {
            if headers.count(name) > 1 {
                return Err(PeerError::RepeatedHeader(name));
            }
        }
        headers.from()?;
        headers.to()?;
        headers.call_id()?;
        let cseq = headers.cseq()?;
        let vias = headers.vias()?;
        if vias.is_empty() {
            return Err(PeerError::MissingHeader("Via"));
        }
        if let Some(Err(e)) = headers.max_forwards() {
            return Err(e);
        }
        if let Self::Request(r) = self {
            if cseq.method != r.method {
                return Err(PeerError::CSeqMethodMismatch);
            }
            if matches!(r.method, Method::Invite | Method::Register) {
                headers.contacts()?;
            }
        }
        Ok(())
    }

    /// Serialise; `Content-Length` is always written from the body's real length.
    #[must_use]
    pub fn to_bytes(&self) -> Bytes {
        let mut out = BytesMut::with_capacity(512 + self.body().len());
        match self {
            Self::Request(r) => {
                out.put_slice(r.method.as_str().as_bytes());
                out.put_u8(b' ');
                out.put_slice(r.uri.as_str().as_bytes());
                out.put_slice(b" SIP/2.0\r\n");
            }
            Self::Response(r) => {
                out.put_slice(format!("SIP/2.0 {} {}\r\n", r.status, r.reason).as_bytes());
            }
        }
        for h in self.headers().iter() {
            if h.name.eq_ignore_ascii_case("Content-Length") {
                continue;
            }
            out.put_slice(h.name.as_bytes());
            out.put_slice(b": ");
            out.put_slice(&h.value);
            out.put_slice(b"\r\n");
        }
        out.put_slice(format!("Content-Length: {}\r\n\r\n", self.body().len()).as_bytes());
        out.put_slice(self.body());
        out.freeze()
    }
}

/// The standard reason phrase for a status code.
#[must_use]
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        100 => "Trying",
        180 => "Ringing",
        183 => "Session Progress",
        200 => "OK",
        202 => "Accepted",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        415 => "Unsupported Media Type",
        416 => "Unsupported URI Scheme",
        420 => "Bad Extension",
        422 => "Session Interval Too Small",
        480 => "Temporarily Unavailable",
        481 => "Call/Transaction Does Not Exist",
        486 => "Busy Here",
        487 => "Request Terminated",
        488 => "Not Acceptable Here",
        491 => "Request Pending",
        500 => "Server Internal Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        505 => "Version Not Supported",
        513 => "Message Too Large",
        600 => "Busy Everywhere",
        603 => "Decline",
        _ => "",
    }
}

impl Request {
    /// A new request with no headers.
    #[must_use]
    pub fn new(method: Method, uri: Uri) -> Self {
        Self {
            method,
            uri,
            version: "SIP/2.0".to_owned(),
            headers: Headers::new(),
            body: Bytes::new(),
        }
    }

    /// A response to this request (RFC 3261 §8.2.6.2): Via (all), From, To, Call-ID and CSeq
    /// copied; `to_tag` added to To when the request's To has none and the status is not 100.
    #[must_use]
    pub fn make_response(&self, status: u16, to_tag: Option<&str>) -> Response {
        let mut headers = Headers::new();
        for h in self.headers.iter() {
            match h.name.as_str() {
                "Via" | "From" | "Call-ID" | "CSeq" => headers.0.push(h.clone()),
                "To" => {
                    let mut value = h.value.clone();
                    if status > 100
                        && let Some(tag) = to_tag
                        && !self.headers.to().is_ok_and(|t| t.tag.is_some())
                    {
                        let mut v = BytesMut::from(&value[..]);
                        v.put_slice(b";tag=");
                        v.put_slice(tag.as_bytes());
                        value = v.freeze();
                    }
                    headers.0.push(Header {
                        name: "To".to_owned(),
                        value,
                    });
                }
                _ => {}
            }
        }
        Response {
            status,
            reason: reason_phrase(status).to_owned(),
            version: "SIP/2.0".to_owned(),
            headers,
            body: Bytes::new(),
        }
    }
}
