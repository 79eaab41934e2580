//! What the service needs to know about venues and meetings, and who answers it.

use std::future::Future;
use std::pin::Pin;

use dais_conference::VenueId;
use dais_net::meeting::MeetingHandle;

/// A boxed future, for the object-safe [`Directory`].
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A venue's SIP credentials: which venue a SIP user is, and its digest HA1 values.
#[derive(Clone, PartialEq, Eq)]
pub struct VenueCredentials {
    /// The venue, as meetings name it.
    pub venue: VenueId,
    /// The realm the HA1 values were computed for.
    pub realm: String,
    /// Lower-case hex MD5(`user:realm:password`).
    pub ha1_md5: String,
    /// Lower-case hex SHA-256(`user:realm:password`).
    pub ha1_sha256: String,
}

impl std::fmt::Debug for VenueCredentials {
    // HA1 values are password-equivalent for their realm: never print them.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VenueCredentials")
            .field("venue", &self.venue)
            .field("realm", &self.realm)
            .finish_non_exhaustive()
    }
}

/// Answers the service's questions about venues and meetings. daisd implements it over the
/// store and the meetings registry; tests with a small in-memory map.
///
/// Lookups may be slow (a database): the service calls them from spawned tasks, never from the
/// task that owns the SIP core.
pub trait Directory: Send + Sync + 'static {
    /// The venue a SIP user authenticates as, with its HA1 values; `None` when unknown.
    fn credentials(&self, sip_user: &str) -> BoxFuture<'_, Option<VenueCredentials>>;
    /// The running meeting with this number, if any.
    fn meeting(&self, number: &str) -> Option<MeetingHandle>;
    /// The configured contact URI of a venue (used for dial-out when it is not registered).
    fn contact_uri(&self, venue: &VenueId) -> BoxFuture<'_, Option<String>>;
    /// A venue's SIP user and credentials, to answer its digest challenge when we dial it (a
    /// cascaded MCU or an SBC that authenticates callers): the venue's one shared secret
    /// serves both ways, so a challenge in the venue's realm can be answered from its HA1.
    /// `None` (the default) leaves challenged dial-outs failing with 401/407.
    fn venue_credentials(
        &self,
        venue: &VenueId,
    ) -> BoxFuture<'_, Option<(String, VenueCredentials)>> {
        let _ = venue;
        Box::pin(async { None })
    }
}
