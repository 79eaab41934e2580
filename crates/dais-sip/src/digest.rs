//! Server-side HTTP Digest for SIP: RFC 8760 (SHA-256) and MD5, `qop=auth` (RFC 7616 §3.4,
//! RFC 2617 §3.2.2), as RFC 3261 §22.4 uses it.
//!
//! Nonces are stateless: `hex(seconds since the server's epoch) ‖ hex(HMAC-SHA-256(secret,
//! seconds ‖ realm))[..32]`, so any nonce we issued can be checked and dated without remembering
//! it. The only state kept is the highest `nc` seen per (nonce, cnonce) (replay protection, RFC
//! 7616 §3.4.5; a nonce is shared by every client challenged in the same second, each with its
//! own cnonce and count), pruned once nonces expire. Secrets and passwords are never logged.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use md5::Md5;
use sha2::{Digest as _, Sha256};

/// Digest hash algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DigestAlgorithm {
    /// `MD5` (RFC 2617), the default when `algorithm` is absent.
    Md5,
    /// `SHA-256` (RFC 7616, RFC 8760).
    Sha256,
}

impl DigestAlgorithm {
    /// The token in `algorithm=`.
    #[must_use]
    pub fn token(self) -> &'static str {
        match self {
            Self::Md5 => "MD5",
            Self::Sha256 => "SHA-256",
        }
    }

    /// Hex digest of `data`.
    #[must_use]
    pub fn hash_hex(self, data: &[u8]) -> String {
        match self {
            Self::Md5 => hex::encode(Md5::digest(data)),
            Self::Sha256 => hex::encode(Sha256::digest(data)),
        }
    }
}

/// A parsed `Authorization: Digest ...` value.
#[derive(Clone, PartialEq, Eq)]
pub struct DigestCredentials {
    /// `username`.
    pub username: String,
    /// `realm`.
    pub realm: String,
    /// `nonce`.
    pub nonce: String,
    /// `uri` (the digest-uri).
    pub uri: String,
    /// `response` (hex).
    pub response: String,
    /// `algorithm`; `None` means MD5.
    pub algorithm: Option<String>,
    /// `cnonce`.
    pub cnonce: Option<String>,
    /// `nc` as sent (8 hex digits).
    pub nc: Option<String>,
    /// `qop`.
    pub qop: Option<String>,
    /// `opaque`.
    pub opaque: Option<String>,
}

// The response is a password equivalent for this nonce: keep it out of logs.
impl std::fmt::Debug for DigestCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DigestCredentials")
            .field("username", &self.username)
            .field("realm", &self.realm)
            .field("uri", &self.uri)
            .field("algorithm", &self.algorithm)
            .field("qop", &self.qop)
            .field("nc", &self.nc)
            .finish_non_exhaustive()
    }
}

/// Split `k=v, k="quoted, with \" escapes"` into pairs; `None` on an unterminated quote.
fn parse_params(s: &str) -> Option<Vec<(String, String)>> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace() || *c == ',') {
            chars.next();
        }
        if chars.peek().is_none() {
            return Some(out);
        }
        let mut key = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' || c == ',' || c.is_whitespace() {
                break;
            }
            key.push(c);
            chars.next();
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.peek() != Some(&'=') {
            // A bare token: legal in some schemes, meaningless for Digest.
            out.push((key.to_ascii_lowercase(), String::new()));
            continue;
        }
        chars.next();
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            let mut closed = false;
            while let Some(c) = chars.next() {
                match c {
                    '\\' => value.push(chars.next()?),
                    '"' => {
                        closed = true;
                        break;
                    }
                    c => value.push(c),
                }
            }
            if !closed {
                return None;
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == ',' || c.is_whitespace() {
                    break;
                }
                value.push(c);
                chars.next();
            }
        }
        out.push((key.to_ascii_lowercase(), value));
    }
}

impl DigestCredentials {
    /// Parse an Authorization value. `None` if the scheme is not Digest or a required
    /// parameter (username, realm, nonce, uri, response) is missing.
    #[must_use]
    pub fn parse(value: &str) -> Option<Self> {
        let value = value.trim();
        let (scheme, rest) = value.split_once(char::is_whitespace)?;
        if !scheme.eq_ignore_ascii_case("Digest") {
            return None;
        }
        let params = parse_params(rest)?;
        let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        Some(Self {
            username: get("username")?,
            realm: get("realm")?,
            nonce: get("nonce")?,
            uri: get("uri")?,
            response: get("response")?.to_ascii_lowercase(),
            algorithm: get("algorithm"),
            cnonce: get("cnonce"),
            nc: get("nc"),
            qop: get("qop"),
            opaque: get("opaque"),
        })
    }

    /// The algorithm named, if we support it.
    #[must_use]
    pub fn algorithm(&self) -> Option<DigestAlgorithm> {
        match self.algorithm.as_deref() {
            None => Some(DigestAlgorithm::Md5),
            Some(a) if a.eq_ignore_ascii_case("MD5") => Some(DigestAlgorithm::Md5),
            Some(a) if a.eq_ignore_ascii_case("SHA-256") => Some(DigestAlgorithm::Sha256),
            Some(_) => None,
        }
    }
}

/// A parsed `WWW-Authenticate` / `Proxy-Authenticate: Digest ...` value: what a UAS or proxy
/// asks of us when we dial out (RFC 3261 §22.2, RFC 8760).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestChallenge {
    /// `realm`.
    pub realm: String,
    /// `nonce`.
    pub nonce: String,
    /// `algorithm`; `None` means MD5.
    pub algorithm: Option<String>,
    /// The `qop` options offered (comma-separated in the header), lower-cased.
    pub qop: Vec<String>,
    /// `opaque`, returned unchanged.
    pub opaque: Option<String>,
    /// `stale=true`: the old nonce expired, the password was right.
    pub stale: bool,
}

impl DigestChallenge {
    /// Parse a challenge value. `None` if the scheme is not Digest or realm or nonce is
    /// missing.
    #[must_use]
    pub fn parse(value: &str) -> Option<Self> {
        let (scheme, rest) = value.trim().split_once(char::is_whitespace)?;
        if !scheme.eq_ignore_ascii_case("Digest") {
            return None;
        }
        let params = parse_params(rest)?;
        let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        Some(Self {
            realm: get("realm")?,
            nonce: get("nonce")?,
            algorithm: get("algorithm"),
            qop: get("qop")
                .map(|q| {
                    q.split(',')
                        .map(|o| o.trim().to_ascii_lowercase())
                        .filter(|o| !o.is_empty())
                        .collect()
                })
                .unwrap_or_default(),
            opaque: get("opaque"),
            stale: get("stale").is_some_and(|v| v.eq_ignore_ascii_case("true")),
        })
    }

    /// The algorithm asked for, if we support it.
    #[must_use]
    pub fn algorithm(&self) -> Option<DigestAlgorithm> {
        match self.algorithm.as_deref() {
            None => Some(DigestAlgorithm::Md5),
            Some(a) if a.eq_ignore_ascii_case("MD5") => Some(DigestAlgorithm::Md5),
            Some(a) if a.eq_ignore_ascii_case("SHA-256") => Some(DigestAlgorithm::Sha256),
            Some(_) => None,
        }
    }

    /// The `Authorization` value answering this challenge for `method` on `uri`, from the
    /// user's `ha1` for the challenge's algorithm and realm. `qop=auth` when offered (with
    /// `cnonce` and `nc`), the RFC 2069 form otherwise. `None` when the algorithm is not one
    /// we support or only `auth-int` is offered.
    #[must_use]
    pub fn answer(
        &self,
        username: &str,
        ha1: &str,
        method: &str,
        uri: &str,
        cnonce: &str,
        nc: u32,
    ) -> Option<String> {
        let alg = self.algorithm()?;
        let qop = if self.qop.is_empty() {
            None
        } else if self.qop.iter().any(|q| q == "auth") {
            Some("auth".to_owned())
        } else {
            return None;
        };
        let creds = DigestCredentials {
            username: username.to_owned(),
            realm: self.realm.clone(),
            nonce: self.nonce.clone(),
            uri: uri.to_owned(),
            response: String::new(),
            algorithm: self.algorithm.clone(),
            cnonce: qop.as_ref().map(|_| cnonce.to_owned()),
            nc: qop.as_ref().map(|_| format!("{nc:08x}")),
            qop: qop.clone(),
            opaque: self.opaque.clone(),
        };
        let response = expected_response(alg, ha1, method, &creds);
        let mut v = format!(
            "Digest username=\"{username}\", realm=\"{}\", nonce=\"{}\", uri=\"{uri}\", response=\"{response}\", algorithm={}",
            self.realm,
            self.nonce,
            alg.token()
        );
        if let (Some(q), Some(nc), Some(c)) = (&creds.qop, &creds.nc, &creds.cnonce) {
            v.push_str(&format!(", qop={q}, nc={nc}, cnonce=\"{c}\""));
        }
        if let Some(o) = &self.opaque {
            v.push_str(&format!(", opaque=\"{o}\""));
        }
        Some(v)
    }
}

/// `H(username:realm:password)`.
#[must_use]
pub fn ha1(alg: DigestAlgorithm, username: &str, realm: &str, password: &str) -> String {
    alg.hash_hex(format!("{username}:{realm}:{password}").as_bytes())
}

/// The expected `response` (RFC 7616 §3.4.1): with `qop=auth`
/// `KD(HA1, nonce:nc:cnonce:qop:HA2)`, without qop (RFC 2069) `KD(HA1, nonce:HA2)`.
#[must_use]
pub fn expected_response(
    alg: DigestAlgorithm,
    ha1: &str,
    method: &str,
    creds: &DigestCredentials,
) -> String {
    let ha2 = alg.hash_hex(format!("{method}:{}", creds.uri).as_bytes());
    match (&creds.qop, &creds.nc, &creds.cnonce) {
        (Some(qop), Some(nc), Some(cnonce)) => {
            alg.hash_hex(format!("{ha1}:{}:{nc}:{cnonce}:{qop}:{ha2}", creds.nonce).as_bytes())
        }
        _ => alg.hash_hex(format!("{ha1}:{}:{ha2}", creds.nonce).as_bytes()),
    }
}

/// What a verification concluded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DigestOutcome {
    /// Credentials are right and fresh.
    Valid,
    /// Right password, but the nonce expired: challenge again with `stale=true`.
    Stale,
    /// Wrong response (wrong password or tampering).
    WrongResponse,
    /// The nonce is not one we issued (or was altered).
    UnknownNonce,
    /// `nc` did not increase: a replayed request.
    Replay,
    /// The realm is not ours.
    WrongRealm,
    /// The algorithm or qop is one we do not offer.
    Unsupported,
}

const MAC_HEX: usize = 32;

/// Issues challenges and verifies credentials for one realm.
pub struct DigestServer {
    realm: String,
    secret: Vec<u8>,
    epoch: Instant,
    lifetime: Duration,
    /// Highest `nc` per (nonce, cnonce).
    seen_nc: HashMap<(String, String), u32>,
    max_tracked: usize,
}

impl std::fmt::Debug for DigestServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DigestServer")
            .field("realm", &self.realm)
            .field("lifetime", &self.lifetime)
            .field("tracked_nonces", &self.seen_nc.len())
            .finish_non_exhaustive()
    }
}

fn hmac_sha256(key: &[u8], msg: &[u8]) -> [u8; 32] {
    let mut k = [0u8; 64];
    if key.len() > 64 {
        k[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(k.map(|b| b ^ 0x36));
    inner.update(msg);
    let mut outer = Sha256::new();
    outer.update(k.map(|b| b ^ 0x5c));
    outer.update(inner.finalize());
    outer.finalize().into()
}

fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl DigestServer {
    /// A server for `realm`, keyed by `secret` (keep it private and random), with nonces valid
    /// for `lifetime`. `epoch` dates nonces; nonces do not survive a restart (peers re-auth).
    #[must_use]
    pub fn new(realm: &str, secret: &[u8], epoch: Instant, lifetime: Duration) -> Self {
        Self {
            realm: realm.to_owned(),
            secret: secret.to_vec(),
            epoch,
            lifetime,
            seen_nc: HashMap::new(),
            max_tracked: 65_536,
        }
    }

    /// The realm.
    #[must_use]
    pub fn realm(&self) -> &str {
        &self.realm
    }

    fn mac(&self, secs: u64) -> String {
        let mut msg = secs.to_be_bytes().to_vec();
        msg.extend_from_slice(self.realm.as_bytes());
        let mut h = hex::encode(hmac_sha256(&self.secret, &msg));
        h.truncate(MAC_HEX);
        h
    }

    /// A fresh nonce for `now`.
    #[must_use]
    pub fn nonce(&self, now: Instant) -> String {
        let secs = now.saturating_duration_since(self.epoch).as_secs();
        format!("{secs:016x}{}", self.mac(secs))
    }

    /// WWW-Authenticate values, SHA-256 first (RFC 8760 §2.4: preferred first), then MD5.
    #[must_use]
    pub fn challenge(&self, now: Instant, stale: bool) -> Vec<String> {
        let nonce = self.nonce(now);
        [DigestAlgorithm::Sha256, DigestAlgorithm::Md5]
            .iter()
            .map(|alg| {
                format!(
                    "Digest realm=\"{}\", nonce=\"{nonce}\", algorithm={}, qop=\"auth\"{}",
                    self.realm,
                    alg.token(),
                    if stale { ", stale=true" } else { "" }
                )
            })
            .collect()
    }

    /// Date a nonce: `Some(issued seconds)` if we issued it.
    fn check_nonce(&self, nonce: &str) -> Option<u64> {
        let ts = nonce.get(..16)?;
        let mac = nonce.get(16..)?;
        let secs = u64::from_str_radix(ts, 16).ok()?;
        ct_eq(mac.as_bytes(), self.mac(secs).as_bytes()).then_some(secs)
    }

    /// Verify credentials against a plaintext password.
    pub fn verify(
        &mut self,
        now: Instant,
        method: &str,
        creds: &DigestCredentials,
        password: &str,
    ) -> DigestOutcome {
        let Some(alg) = creds.algorithm() else {
            return DigestOutcome::Unsupported;
        };
        let h = ha1(alg, &creds.username, &creds.realm, password);
        self.verify_ha1(now, method, creds, &h)
    }

    /// Verify credentials against a stored `H(username:realm:password)` for the algorithm the
    /// peer chose (so a store need not keep passwords).
    pub fn verify_ha1(
        &mut self,
        now: Instant,
        method: &str,
        creds: &DigestCredentials,
        ha1: &str,
    ) -> DigestOutcome {
        let Some(alg) = creds.algorithm() else {
            return DigestOutcome::Unsupported;
        };
        if creds.realm != self.realm {
            return DigestOutcome::WrongRealm;
        }
        if creds.qop.as_deref().is_some_and(|q| q != "auth") {
            return DigestOutcome::Unsupported;
        }
        let Some(issued) = self.check_nonce(&creds.nonce) else {
            return DigestOutcome::UnknownNonce;
        };
        let expected = expected_response(alg, ha1, method, creds);
        if !ct_eq(expected.as_bytes(), creds.response.as_bytes()) {
            tracing::debug!(user = %creds.username, "digest response mismatch");
            return DigestOutcome::WrongResponse;
        }
        let age = now
            .saturating_duration_since(self.epoch)
            .as_secs()
            .saturating_sub(issued);
        if age > self.lifetime.as_secs() {
            return DigestOutcome::Stale;
        }
        if creds.qop.is_some() {
            let (Some(nc), Some(cnonce)) = (
                creds
                    .nc
                    .as_deref()
                    .and_then(|n| u32::from_str_radix(n, 16).ok()),
                creds.cnonce.clone(),
            ) else {
                return DigestOutcome::WrongResponse;
            };
            if self.seen_nc.len() >= self.max_tracked {
                self.prune(now);
            }
            let last = self
                .seen_nc
                .entry((creds.nonce.clone(), cnonce))
                .or_insert(0);
            if nc <= *last {
                return DigestOutcome::Replay;
            }
            *last = nc;
        }
        DigestOutcome::Valid
    }

    fn prune(&mut self, now: Instant) {
        let now_s = now.saturating_duration_since(self.epoch).as_secs();
        let life = self.lifetime.as_secs();
        let epoch_ok = |n: &str| {
            n.get(..16)
                .and_then(|t| u64::from_str_radix(t, 16).ok())
                .is_some_and(|t| now_s.saturating_sub(t) <= life)
        };
        self.seen_nc.retain(|(n, _), _| epoch_ok(n));
        if self.seen_nc.len() >= self.max_tracked {
            // Still full of live nonces: forget them all; those peers get a stale re-challenge
            // at worst, which is cheaper than unbounded memory.
            self.seen_nc.clear();
        }
    }
}
