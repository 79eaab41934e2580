//! Digest checks and the registrar's REGISTER handling, in the core's task.

use std::sync::atomic::Ordering;
use std::time::Instant;

use dais_sip::digest::{DigestAlgorithm, DigestCredentials, DigestOutcome};
use dais_sip::{Contacts, RequestId};
use tracing::{info, warn};

use crate::registrar::{RegisterOutcome, RegisterRequest};
use crate::service::Worker;

impl Worker {
    /// The WWW-Authenticate values, in the configured algorithm order.
    pub(crate) fn www_authenticate(&self, now: Instant, stale: bool) -> Vec<String> {
        let all = self.digest.challenge(now, stale);
        self.cfg
            .digest_algorithms
            .iter()
            .filter_map(|alg| {
                let token = format!("algorithm={},", alg.token());
                all.iter().find(|c| c.contains(&token)).cloned()
            })
            .collect()
    }

    /// Checks digest credentials against a venue's HA1; `Err(Some(stale))` asks for a new
    /// challenge, `Err(None)` for a refusal.
    pub(crate) fn verify(
        &mut self,
        now: Instant,
        method: &str,
        creds: &DigestCredentials,
        found: Option<&crate::directory::VenueCredentials>,
    ) -> Result<(), Option<bool>> {
        let Some(found) = found else {
            self.stats.auth_failures.fetch_add(1, Ordering::Relaxed);
            info!(user = %creds.username, "unknown SIP user");
            return Err(None);
        };
        if found.realm != self.digest.realm() {
            warn!(venue = %found.venue, realm = %found.realm, "venue's HA1 is for another realm");
            return Err(None);
        }
        let ha1 = match creds.algorithm() {
            Some(DigestAlgorithm::Sha256) => &found.ha1_sha256,
            Some(DigestAlgorithm::Md5) => &found.ha1_md5,
            _ => return Err(Some(false)),
        };
        match self.verify_digest(now, method, creds, ha1) {
            DigestOutcome::Valid => Ok(()),
            DigestOutcome::Stale => Err(Some(true)),
            DigestOutcome::UnknownNonce | DigestOutcome::Unsupported => Err(Some(false)),
            outcome => {
                self.stats.auth_failures.fetch_add(1, Ordering::Relaxed);
                info!(venue = %found.venue, ?outcome, "SIP digest refused");
                Err(None)
            }
        }
    }

    /// Digest verification against the stored HA1 (replays tracked per (nonce, cnonce) by
    /// `DigestServer`).
    fn verify_digest(
        &mut self,
        now: Instant,
        method: &str,
        creds: &DigestCredentials,
        ha1: &str,
    ) -> DigestOutcome {
        self.digest.verify_ha1(now, method, creds, ha1)
    }

    pub(crate) fn register_checked(
        &mut self,
        now: Instant,
        request: RequestId,
        found: Option<crate::directory::VenueCredentials>,
    ) {
        let Some(p) = self.registers.remove(&request) else {
            return;
        };
        self.release_inflight(p.peer.ip());
        let challenge = |w: &mut Worker, stale| {
            let h: Vec<(&str, String)> = w
                .www_authenticate(now, stale)
                .into_iter()
                .map(|v| ("WWW-Authenticate", v))
                .collect();
            let _ = w.core.respond(now, request, 401, &h);
        };
        match self.verify(now, "REGISTER", &p.creds, found.as_ref()) {
            Err(Some(stale)) => return challenge(self, stale),
            Err(None) => {
                let _ = self.core.respond(now, request, 403, &[]);
                return;
            }
            Ok(()) => {}
        }
        let Some(found) = found else { return };
        if p.aor.user() != Some(p.creds.username.as_str()) {
            info!(venue = %found.venue, "REGISTER for another user's address of record");
            let _ = self.core.respond(now, request, 403, &[]);
            return;
        }
        let (contact, param_expires) = match &p.contacts {
            Contacts::List(list) => match list.first() {
                Some(na) => (
                    Some(na.uri.as_str().to_owned()),
                    na.param("expires")
                        .flatten()
                        .and_then(|s| s.trim().parse::<u32>().ok()),
                ),
                None => (None, None),
            },
            Contacts::Wildcard => (None, Some(0)),
        };
        let transport = if self.tcp.contains_key(&p.peer) {
            dais_sip::Transport::Tcp
        } else {
            dais_sip::Transport::Udp
        };
        let query = contact.is_none() && !matches!(p.contacts, Contacts::Wildcard);
        if query {
            // A REGISTER without Contact asks for the current bindings.
            let b = self
                .registrar
                .lookup(now, &found.venue)
                .map(|b| b.contact.clone());
            let h: Vec<(&str, String)> = b
                .map(|c| ("Contact", format!("<{c}>")))
                .into_iter()
                .collect();
            let _ = self.core.respond(now, request, 200, &h);
            return;
        }
        let contact_for_reply = contact.clone();
        let outcome = self.registrar.register(
            now,
            RegisterRequest {
                venue: found.venue.clone(),
                contact,
                expires: param_expires.or(p.expires),
                source: p.peer,
                transport,
                call_id: p.call_id,
                cseq: p.cseq,
            },
            self.cfg.min_register_expires,
            self.cfg.max_register_expires,
        );
        self.registrar.expire(now);
        self.stats
            .registrations
            .store(self.registrar.len() as u64, Ordering::Relaxed);
        info!(venue = %found.venue, ?outcome, source = %p.peer, "REGISTER");
        let headers: Vec<(&str, String)> = match (outcome, contact_for_reply) {
            (RegisterOutcome::Bound(secs), Some(c)) => vec![
                ("Contact", format!("<{c}>;expires={secs}")),
                ("Expires", secs.to_string()),
            ],
            _ => Vec::new(),
        };
        let _ = self.core.respond(now, request, 200, &headers);
    }
}
