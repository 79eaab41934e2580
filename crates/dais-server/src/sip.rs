//! daisd's SIP service: the `dais-signaling` service on `config.sip`, with a [`Directory`] over
//! the store (venue credentials and contact URIs) and the meetings registry.
//!
//! Venues are named in meetings by their store `name` (the conference's venue slug); a store
//! venue whose name is not a valid slug cannot take part in meetings over SIP.
//!
//! Shutdown: [`App::serve`](crate::App::serve) ends the meetings first (each BYEs its legs
//! through the SIP dialer), then runs the `sip` step registered here, which waits for the
//! outstanding BYEs (bounded) and closes the sockets.

use std::sync::Arc;

use dais_conference::VenueId;
use dais_net::meeting::MeetingHandle;
use dais_signaling::{
    BoxFuture, Directory, ServiceConfig, SipDialer, SipService, VenueCredentials,
};
use dais_store::Store;
use tracing::warn;

use crate::App;
use crate::meetings::Meetings;

/// The digest realm of venue credentials; the venues API creates venues with it by default.
/// (A config key when `config.rs` grows one: `sip_realm`.)
pub const SIP_REALM: &str = "dais";

/// The echo test number. (A config key when `config.rs` grows one: `sip_test_number`.)
pub const TEST_CALL_NUMBER: &str = "9999";

/// Answers the SIP service from the store and the meetings registry.
#[derive(Debug)]
pub struct StoreDirectory {
    store: Store,
    meetings: Arc<Meetings>,
}

impl StoreDirectory {
    /// A directory over `store` and `meetings`.
    pub fn new(store: Store, meetings: Arc<Meetings>) -> Self {
        Self { store, meetings }
    }
}

impl Directory for StoreDirectory {
    fn credentials(&self, sip_user: &str) -> BoxFuture<'_, Option<VenueCredentials>> {
        let user = sip_user.to_owned();
        Box::pin(async move {
            let v = match self.store.venue_by_sip_user(&user).await {
                Ok(v) => v?,
                Err(e) => {
                    warn!(error = %e, "store lookup of a SIP user failed");
                    return None;
                }
            };
            let venue: VenueId = match v.name.parse() {
                Ok(id) => id,
                Err(e) => {
                    warn!(name = %v.name, error = %e, "venue name is not a meeting venue id");
                    return None;
                }
            };
            Some(VenueCredentials {
                venue,
                realm: v.digest.realm.clone(),
                ha1_md5: v.digest.md5.clone(),
                ha1_sha256: v.digest.sha256.clone(),
            })
        })
    }

    fn meeting(&self, number: &str) -> Option<MeetingHandle> {
        self.meetings.handle(number)
    }

    fn venue_credentials(
        &self,
        venue: &VenueId,
    ) -> BoxFuture<'_, Option<(String, VenueCredentials)>> {
        let name = venue.to_string();
        let venue = venue.clone();
        Box::pin(async move {
            match self.store.venue_by_name(&name).await {
                Ok(v) => v.map(|v| {
                    (
                        v.sip_user.clone(),
                        VenueCredentials {
                            venue,
                            realm: v.digest.realm.clone(),
                            ha1_md5: v.digest.md5.clone(),
                            ha1_sha256: v.digest.sha256.clone(),
                        },
                    )
                }),
                Err(e) => {
                    warn!(error = %e, "store lookup of a venue failed");
                    None
                }
            }
        })
    }

    fn contact_uri(&self, venue: &VenueId) -> BoxFuture<'_, Option<String>> {
        let name = venue.to_string();
        Box::pin(async move {
            match self.store.venue_by_name(&name).await {
                Ok(v) => v.and_then(|v| v.contact_uri),
                Err(e) => {
                    warn!(error = %e, "store lookup of a venue failed");
                    None
                }
            }
        })
    }
}

/// Starts the SIP service on `config.sip` and registers its shutdown step. Returns the dialer
/// for meetings whose venues are SIP endpoints.
///
/// # Errors
/// When the SIP address cannot be bound.
pub async fn start(app: &mut App, meetings: Arc<Meetings>) -> Result<Arc<SipDialer>, String> {
    let cfg = ServiceConfig {
        bind: app.config().sip,
        public_ip: Some(app.config().public_ip),
        realm: SIP_REALM.to_owned(),
        test_call_number: TEST_CALL_NUMBER.to_owned(),
        shutdown_grace: app.config().shutdown_grace,
        ..ServiceConfig::default()
    };
    let dir = Arc::new(StoreDirectory::new(app.store().clone(), meetings));
    let svc = SipService::start(cfg, dir)
        .await
        .map_err(|e| e.to_string())?;
    let dialer = svc.dialer();
    app.add_shutdown_step("sip", async move { svc.shutdown().await });
    Ok(dialer)
}
