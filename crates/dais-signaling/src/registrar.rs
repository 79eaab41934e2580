//! The registrar (RFC 3261 §10.3): one binding per venue, with expiry. Sans-IO.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use dais_conference::VenueId;
use dais_sip::Transport;

/// Where a registered venue can be reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    /// The Contact URI it registered.
    pub contact: String,
    /// The address the REGISTER came from: requests go there (NAT-friendly, like `rport`).
    pub source: SocketAddr,
    /// The transport it registered over.
    pub transport: Transport,
    /// When the binding lapses.
    pub expires_at: Instant,
    call_id: String,
    cseq: u32,
}

/// What a REGISTER did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegisterOutcome {
    /// Bound (or refreshed) for this many seconds.
    Bound(u32),
    /// Binding removed (expires 0 or `*`).
    Removed,
    /// An older request of the same Call-ID arrived late (RFC 3261 §10.3 step 7): ignored.
    OutOfOrder,
}

/// All bindings.
#[derive(Debug, Default)]
pub struct Registrar {
    bindings: HashMap<VenueId, Binding>,
}

/// One REGISTER, already authenticated.
#[derive(Debug, Clone)]
pub struct RegisterRequest {
    /// The venue it authenticated as.
    pub venue: VenueId,
    /// First Contact URI, or `None` for `*` or no Contact (a query or removal).
    pub contact: Option<String>,
    /// Expires asked (Contact `expires` param or Expires header), in seconds.
    pub expires: Option<u32>,
    /// Source address.
    pub source: SocketAddr,
    /// Transport.
    pub transport: Transport,
    /// Call-ID and CSeq, to order refreshes.
    pub call_id: String,
    /// CSeq number.
    pub cseq: u32,
}

impl Registrar {
    /// Applies a REGISTER, clamping its expiry to `[min, max]` (0 removes).
    pub fn register(
        &mut self,
        now: Instant,
        req: RegisterRequest,
        min: u32,
        max: u32,
    ) -> RegisterOutcome {
        if let Some(b) = self.bindings.get(&req.venue)
            && b.call_id == req.call_id
            && req.cseq <= b.cseq
            && b.expires_at > now
        {
            return RegisterOutcome::OutOfOrder;
        }
        let asked = req.expires.unwrap_or(max);
        let Some(contact) = req.contact.filter(|_| asked > 0) else {
            self.bindings.remove(&req.venue);
            return RegisterOutcome::Removed;
        };
        let secs = asked.clamp(min, max);
        self.bindings.insert(
            req.venue,
            Binding {
                contact,
                source: req.source,
                transport: req.transport,
                expires_at: now + Duration::from_secs(u64::from(secs)),
                call_id: req.call_id,
                cseq: req.cseq,
            },
        );
        RegisterOutcome::Bound(secs)
    }

    /// The live binding of a venue; lapsed ones are removed on the way.
    pub fn lookup(&mut self, now: Instant, venue: &VenueId) -> Option<&Binding> {
        if self
            .bindings
            .get(venue)
            .is_some_and(|b| b.expires_at <= now)
        {
            self.bindings.remove(venue);
        }
        self.bindings.get(venue)
    }

    /// Drops every lapsed binding.
    pub fn expire(&mut self, now: Instant) {
        self.bindings.retain(|_, b| b.expires_at > now);
    }

    /// Live bindings.
    pub fn len(&self) -> usize {
        self.bindings.len()
    }

    /// No bindings.
    pub fn is_empty(&self) -> bool {
        self.bindings.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(venue: &str, expires: Option<u32>, cseq: u32) -> RegisterRequest {
        RegisterRequest {
            venue: venue.parse().unwrap(),
            contact: Some("sip:room@10.0.0.9:5062".into()),
            expires,
            source: "10.0.0.9:5062".parse().unwrap(),
            transport: Transport::Udp,
            call_id: "abc".into(),
            cseq,
        }
    }

    #[test]
    fn binding_lives_for_its_expiry_clamped() {
        let t0 = Instant::now();
        let mut r = Registrar::default();
        let v: VenueId = "jinan".parse().unwrap();
        assert_eq!(
            r.register(t0, req("jinan", Some(10), 1), 60, 3600),
            RegisterOutcome::Bound(60)
        );
        assert!(r.lookup(t0 + Duration::from_secs(59), &v).is_some());
        assert!(r.lookup(t0 + Duration::from_secs(61), &v).is_none());
        assert_eq!(
            r.register(t0, req("jinan", Some(99_999), 2), 60, 3600),
            RegisterOutcome::Bound(3600)
        );
    }

    #[test]
    fn expires_zero_removes_and_stale_cseq_is_ignored() {
        let t0 = Instant::now();
        let mut r = Registrar::default();
        let v: VenueId = "jinan".parse().unwrap();
        r.register(t0, req("jinan", None, 5), 60, 3600);
        assert_eq!(
            r.register(t0, req("jinan", Some(0), 4), 60, 3600),
            RegisterOutcome::OutOfOrder
        );
        assert!(r.lookup(t0, &v).is_some());
        assert_eq!(
            r.register(t0, req("jinan", Some(0), 6), 60, 3600),
            RegisterOutcome::Removed
        );
        assert!(r.lookup(t0, &v).is_none());
    }
}
