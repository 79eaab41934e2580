//! The service's configuration, validated by construction (every field has a safe default).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use dais_sip::digest::DigestAlgorithm;
use dais_sip::offer_answer::Codec;

/// How the SIP service runs. `Default` suits a loopback test server.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    /// Where UDP and TCP listen (the same port for both; port 0 picks a free one).
    pub bind: SocketAddr,
    /// Address announced in Via, Contact and SDP when `bind` is a wildcard.
    pub public_ip: Option<IpAddr>,
    /// Digest realm; must be the realm the venues' HA1 values were computed for.
    pub realm: String,
    /// `User-Agent` / `Server` value.
    pub user_agent: String,
    /// Secret for stateless nonces (random per process when `None`).
    pub nonce_secret: Option<Vec<u8>>,
    /// Digest algorithms offered in challenges, one WWW-Authenticate each, in this order.
    /// RFC 8760 puts the preferred (SHA-256) first; clients that take the first challenge and
    /// know only MD5 (sipp 3.6, older room systems) need MD5 first.
    pub digest_algorithms: Vec<DigestAlgorithm>,
    /// Nonce lifetime; older nonces are answered `stale=true`.
    pub nonce_lifetime: Duration,
    /// The echo test number: a venue calling it sees and hears itself.
    pub test_call_number: String,
    /// Most calls (dial-in, dial-out, test calls) at once; beyond it dial-ins get 503.
    pub max_calls: usize,
    /// Most calls in one meeting; beyond it dial-ins to that meeting get 503.
    pub max_calls_per_meeting: usize,
    /// `Retry-After` seconds sent with 503.
    pub retry_after_secs: u32,
    /// Sustained SIP messages per second accepted from one IP address.
    pub rate_per_source: f64,
    /// Burst of SIP messages accepted from one IP address.
    pub burst_per_source: f64,
    /// Requests from one IP address that may wait for a decision (auth, admission) at once.
    pub max_inflight_per_source: u32,
    /// Longest registration we grant, in seconds.
    pub max_register_expires: u32,
    /// Shortest registration we grant, in seconds (shorter asks get this).
    pub min_register_expires: u32,
    /// Audio codecs we offer and accept, preferred first.
    pub audio_codecs: Vec<Codec>,
    /// Video codecs we offer and accept, preferred first.
    pub video_codecs: Vec<Codec>,
    /// How long [`crate::SipService::shutdown`] waits for outstanding BYEs.
    pub shutdown_grace: Duration,
    /// Seed for tags, branches and Call-IDs (random per process when `None`).
    pub seed: Option<u64>,
}

impl Default for ServiceConfig {
    fn default() -> Self {
        Self {
            bind: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 5060),
            public_ip: None,
            realm: "dais".to_owned(),
            user_agent: format!("Dais/{}", env!("CARGO_PKG_VERSION")),
            nonce_secret: None,
            digest_algorithms: vec![DigestAlgorithm::Sha256, DigestAlgorithm::Md5],
            nonce_lifetime: Duration::from_secs(300),
            test_call_number: "9999".to_owned(),
            max_calls: 2000,
            max_calls_per_meeting: 1000,
            retry_after_secs: 30,
            rate_per_source: 200.0,
            burst_per_source: 400.0,
            max_inflight_per_source: 64,
            max_register_expires: 3600,
            min_register_expires: 60,
            // G.711 first: what room systems and gateways all speak; the engine switches
            // audio without transcoding, so the common codec matters more than the best one.
            audio_codecs: vec![Codec::Pcmu, Codec::Pcma, Codec::Opus],
            video_codecs: vec![Codec::H264, Codec::Vp8],
            shutdown_grace: Duration::from_secs(4),
            seed: None,
        }
    }
}

impl ServiceConfig {
    /// The address peers reach us at (what goes in Via, Contact and SDP).
    pub fn advertised_ip(&self, bound: SocketAddr) -> IpAddr {
        match self.public_ip {
            Some(ip) => ip,
            None => bound.ip(),
        }
    }
}
