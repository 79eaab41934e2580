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
            audio_codecs: default_audio_codecs(),
            video_codecs: vec![Codec::H264, Codec::Vp8],
            shutdown_grace: Duration::from_secs(4),
            seed: None,
        }
    }
}

/// The audio codecs offered and accepted by default: G.711 μ-law and A-law, then Opus when the
/// meeting's mixer decodes it (the `opus` feature; see
/// [`MixedAudio::mixes_opus`](dais_net::media_task::MixedAudio::mixes_opus)). A build without
/// Opus neither offers nor accepts it, so a venue is never left unmixed on the feed model.
///
/// G.711 first: what room systems and gateways all speak, and it costs the mixer ~30 times
/// less than Opus per venue (docs/benchmarks.md), which counts in a 256-venue meeting. A venue
/// that offers only Opus gets Opus.
pub fn default_audio_codecs() -> Vec<Codec> {
    let mut codecs = vec![Codec::Pcmu, Codec::Pcma];
    if dais_net::media_task::MixedAudio::mixes_opus() {
        codecs.push(Codec::Opus);
    }
    codecs
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

#[cfg(test)]
mod tests {
    use super::*;
    use dais_sip::offer_answer::{Capabilities, SdpError, build_offer, negotiate};

    fn caps(cfg: &ServiceConfig) -> Capabilities {
        Capabilities {
            address: IpAddr::V4(Ipv4Addr::LOCALHOST),
            audio_port: 30_000,
            video_port: 30_000,
            audio: cfg.audio_codecs.clone(),
            video: cfg.video_codecs.clone(),
            ..Capabilities::default()
        }
    }

    fn offer(formats: &str, rtpmaps: &str) -> String {
        format!(
            "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
             m=audio 40000 RTP/AVP {formats}\r\n{rtpmaps}"
        )
    }

    #[test]
    fn opus_is_offered_and_accepted_only_when_the_mixer_decodes_it() {
        let cfg = ServiceConfig::default();
        let opus_built = cfg!(feature = "opus");
        assert_eq!(cfg.audio_codecs.contains(&Codec::Opus), opus_built);
        assert_eq!(&cfg.audio_codecs[..2], &[Codec::Pcmu, Codec::Pcma]);

        // Our offer (dial-out) names opus/48000/2 only when it is built.
        let ours = build_offer(&caps(&cfg), 1);
        assert_eq!(ours.contains("opus/48000/2"), opus_built, "{ours}");
        assert!(ours.contains("PCMU/8000"), "{ours}");

        // A venue offering Opus first and PCMA: G.711 is preferred either way.
        let both = offer(
            "111 8",
            "a=rtpmap:111 opus/48000/2\r\na=rtpmap:8 PCMA/8000\r\n",
        );
        let n = negotiate(both.as_bytes(), &caps(&cfg), 1).unwrap();
        assert_eq!(n.media[0].codec, Some(Codec::Pcma));
        assert_eq!(n.media[0].payload_type, 8);

        // A venue offering only Opus: accepted (and mixed) with the feature, refused without.
        let opus_only = offer(
            "111",
            "a=rtpmap:111 opus/48000/2\r\na=fmtp:111 useinbandfec=1\r\n",
        );
        match negotiate(opus_only.as_bytes(), &caps(&cfg), 1) {
            Ok(n) => {
                assert!(opus_built, "Opus accepted by a build that cannot mix it");
                assert_eq!(n.media[0].codec, Some(Codec::Opus));
                assert_eq!(n.media[0].payload_type, 111);
                let leg = crate::media::leg_config(&n.media).unwrap();
                let audio = dais_net::media_task::MixedAudio::for_leg(&leg).unwrap();
                assert_eq!(audio.codec, dais_audio::Codec::Opus);
                assert_eq!(audio.payload_type, 111);
            }
            Err(e) => {
                assert!(!opus_built, "Opus refused by a build that mixes it: {e}");
                assert_eq!(e, SdpError::NoAcceptableMedia);
            }
        }
    }
}
