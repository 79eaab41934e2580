//! Row types and their identifiers.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::StoreError;

macro_rules! id_newtype {
    ($(#[$m:meta])* $name:ident, $label:literal) => {
        $(#[$m])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!($label, "({})"), self.0)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }
    };
}

id_newtype!(
    /// Database id of an operator account.
    OperatorId,
    "OperatorId"
);
id_newtype!(
    /// Database id of a venue.
    VenueId,
    "VenueId"
);
id_newtype!(
    /// Database id of a meeting (not its dial number, see [`Meeting::number`]).
    MeetingId,
    "MeetingId"
);

/// The three opinions a booking needs, in the order the regulation asks for them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalStage {
    /// The applying unit's head.
    UnitHead,
    /// The provincial IT centre.
    ItCentre,
    /// The department leader.
    DepartmentLeader,
}

impl ApprovalStage {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ApprovalStage::UnitHead => "unit_head",
            ApprovalStage::ItCentre => "it_centre",
            ApprovalStage::DepartmentLeader => "department_leader",
        }
    }

    /// Parses the stored spelling.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "unit_head" => Some(ApprovalStage::UnitHead),
            "it_centre" => Some(ApprovalStage::ItCentre),
            "department_leader" => Some(ApprovalStage::DepartmentLeader),
            _ => None,
        }
    }
}

/// What an operator may do. Checks live in the callers (the server, the conference policy);
/// the store only records the role.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Role {
    /// Provincial IT centre: administers the whole network.
    ItCentre,
    /// One of a site's A/B administrators.
    SiteAdmin {
        /// The site administered.
        site: String,
    },
    /// Runs the chair console of meetings.
    ChairOperator,
    /// Gives one of the three booking opinions.
    Approver {
        /// Which opinion.
        stage: ApprovalStage,
    },
    /// Reads records and the audit log, changes nothing.
    Auditor,
}

impl Role {
    /// The stored kind column.
    pub fn kind_str(&self) -> &'static str {
        match self {
            Role::ItCentre => "it_centre",
            Role::SiteAdmin { .. } => "site_admin",
            Role::ChairOperator => "chair_operator",
            Role::Approver { .. } => "approver",
            Role::Auditor => "auditor",
        }
    }

    pub(crate) fn from_columns(
        kind: &str,
        site: Option<String>,
        stage: Option<String>,
    ) -> Result<Self, StoreError> {
        let corrupt = |reason: String| StoreError::Corrupt {
            table: "operators",
            reason,
        };
        Ok(match kind {
            "it_centre" => Role::ItCentre,
            "site_admin" => Role::SiteAdmin {
                site: site.ok_or_else(|| corrupt("site_admin without site".into()))?,
            },
            "chair_operator" => Role::ChairOperator,
            "approver" => {
                let s = stage.ok_or_else(|| corrupt("approver without stage".into()))?;
                Role::Approver {
                    stage: ApprovalStage::parse(&s)
                        .ok_or_else(|| corrupt(format!("unknown stage {s:?}")))?,
                }
            }
            "auditor" => Role::Auditor,
            other => return Err(corrupt(format!("unknown role {other:?}"))),
        })
    }

    pub(crate) fn site(&self) -> Option<&str> {
        match self {
            Role::SiteAdmin { site } => Some(site),
            _ => None,
        }
    }

    pub(crate) fn stage(&self) -> Option<&'static str> {
        match self {
            Role::Approver { stage } => Some(stage.as_str()),
            _ => None,
        }
    }
}

/// An operator account, without its secrets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Operator {
    /// Database id.
    pub id: OperatorId,
    /// Login name (unique).
    pub username: String,
    /// What the operator may do.
    pub role: Role,
    /// Creation time, Unix seconds.
    pub created_at: i64,
    /// A disabled account cannot log in and its sessions stop working.
    pub disabled: bool,
    /// Consecutive failed logins since the last success or lockout.
    pub failed_logins: u32,
    /// While set and in the future, logins are refused.
    pub locked_until: Option<i64>,
}

/// A freshly issued login session. The token is shown to the client once; the store keeps only
/// its SHA-256.
#[derive(Clone, PartialEq, Eq)]
pub struct Session {
    /// The bearer token (64 hex characters, 32 random bytes).
    pub token: String,
    /// Who logged in.
    pub operator: Operator,
    /// When the token stops working, Unix seconds.
    pub expires_at: i64,
}

impl fmt::Debug for Session {
    // The token is a credential: keep it out of logs that print the session.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("token", &"<redacted>")
            .field("operator", &self.operator)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// A venue's place in the network (see the regulation's venue table).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VenueKind {
    /// A provincial main venue: can host and can be a branch.
    Main,
    /// A terminal endpoint of a unit or county.
    Branch,
    /// A city venue: branch of the province, main venue for its counties.
    City,
}

impl VenueKind {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            VenueKind::Main => "main",
            VenueKind::Branch => "branch",
            VenueKind::City => "city",
        }
    }

    /// Parses the stored spelling.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "main" => Some(VenueKind::Main),
            "branch" => Some(VenueKind::Branch),
            "city" => Some(VenueKind::City),
            _ => None,
        }
    }
}

/// The digest credential of a venue's SIP account, as HA1 values only (RFC 8760 §3: both
/// algorithms are offered in challenges, so both are kept).
#[derive(Clone, PartialEq, Eq)]
pub struct DigestHa1 {
    /// The digest realm the HA1 values were computed for.
    pub realm: String,
    /// Lower-case hex MD5(`user:realm:password`).
    pub md5: String,
    /// Lower-case hex SHA-256(`user:realm:password`).
    pub sha256: String,
}

impl fmt::Debug for DigestHa1 {
    // An HA1 is password-equivalent for its realm: do not print it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DigestHa1")
            .field("realm", &self.realm)
            .finish_non_exhaustive()
    }
}

/// A venue (a SIP endpoint or a cascaded MCU).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Venue {
    /// Database id.
    pub id: VenueId,
    /// Display name (unique), e.g. `jinan`.
    pub name: String,
    /// Place in the network.
    pub kind: VenueKind,
    /// The venue above this one (a county's city), if any.
    pub parent: Option<VenueId>,
    /// The site that runs this venue.
    pub site: String,
    /// SIP user part the venue registers and authenticates as (unique).
    pub sip_user: String,
    /// The digest credential.
    pub digest: DigestHa1,
    /// Where to dial the venue when it is not registered, e.g. `sip:jinan@10.0.0.7`.
    pub contact_uri: Option<String>,
}

/// Input to [`crate::Store::create_venue`].
#[derive(Debug, Clone)]
pub struct NewVenue<'a> {
    /// Display name (unique).
    pub name: &'a str,
    /// Place in the network.
    pub kind: VenueKind,
    /// Parent venue, if any (must exist).
    pub parent: Option<VenueId>,
    /// Site that runs it.
    pub site: &'a str,
    /// SIP user part (unique).
    pub sip_user: &'a str,
    /// Digest realm.
    pub realm: &'a str,
    /// The clear SIP password: hashed into HA1 values here and then forgotten.
    pub sip_password: &'a str,
    /// Dial-out URI, if any.
    pub contact_uri: Option<&'a str>,
}

/// Lifecycle of a meeting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MeetingState {
    /// Booked, not started.
    Scheduled,
    /// Venues are joining for the pre-meeting test.
    Testing,
    /// In progress.
    Live,
    /// Over; every leg was torn down.
    Ended,
}

impl MeetingState {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            MeetingState::Scheduled => "scheduled",
            MeetingState::Testing => "testing",
            MeetingState::Live => "live",
            MeetingState::Ended => "ended",
        }
    }

    /// Parses the stored spelling.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "scheduled" => Some(MeetingState::Scheduled),
            "testing" => Some(MeetingState::Testing),
            "live" => Some(MeetingState::Live),
            "ended" => Some(MeetingState::Ended),
            _ => None,
        }
    }
}

/// A meeting as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Meeting {
    /// Database id.
    pub id: MeetingId,
    /// The dial number (unique), e.g. `8001`.
    pub number: String,
    /// Subject.
    pub subject: String,
    /// The hosting venue.
    pub main_venue: VenueId,
    /// Every venue of the meeting in roll-call order; the main venue is first.
    pub venues: Vec<VenueId>,
    /// Lifecycle state.
    pub state: MeetingState,
    /// The chair operator's account name, when one was named at scheduling.
    pub chair: Option<String>,
    /// Creation time, Unix seconds.
    pub created_at: i64,
}

/// Input to [`crate::Store::create_meeting`].
#[derive(Debug, Clone)]
pub struct NewMeeting<'a> {
    /// Dial number: 1 to 32 ASCII digits.
    pub number: &'a str,
    /// Subject.
    pub subject: &'a str,
    /// Hosting venue (must exist).
    pub main_venue: VenueId,
    /// Participating venues in roll-call order (must exist); the main venue is added first if
    /// missing, duplicates are refused.
    pub venues: &'a [VenueId],
    /// The chair operator's account name, if named now (it need not exist yet: accounts and
    /// bookings are managed by different people).
    pub chair: Option<&'a str>,
}

/// How an audited action ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", content = "reason", rename_all = "snake_case")]
pub enum AuditResult {
    /// Done.
    Ok,
    /// Refused by a check (authentication, permission, validation), with the reason.
    Refused(String),
    /// Attempted and failed, with the reason.
    Failed(String),
}

impl AuditResult {
    /// The stored spelling: `ok`, `refused: reason`, `failed: reason`.
    pub fn to_stored(&self) -> String {
        match self {
            AuditResult::Ok => "ok".to_owned(),
            AuditResult::Refused(r) => format!("refused: {r}"),
            AuditResult::Failed(r) => format!("failed: {r}"),
        }
    }

    /// Parses the stored spelling; anything unrecognised is kept as a failure text so that a
    /// reader never loses a row.
    pub fn from_stored(s: &str) -> Self {
        if s == "ok" {
            AuditResult::Ok
        } else if let Some(r) = s.strip_prefix("refused: ") {
            AuditResult::Refused(r.to_owned())
        } else if let Some(r) = s.strip_prefix("failed: ") {
            AuditResult::Failed(r.to_owned())
        } else {
            AuditResult::Failed(s.to_owned())
        }
    }
}

/// An audit event to append.
#[derive(Debug, Clone)]
pub struct AuditEvent<'a> {
    /// Who acted: an operator's user name, `system`, or `anonymous`.
    pub actor: &'a str,
    /// What was attempted, e.g. `login`, `meeting.command`.
    pub action: &'a str,
    /// What it was attempted on, e.g. `meeting 8001`.
    pub target: &'a str,
    /// When, Unix seconds.
    pub at: i64,
    /// The client's address, if the action came over the network.
    pub from: Option<&'a str>,
    /// How it ended.
    pub result: AuditResult,
}

/// A stored audit row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditEntry {
    /// Position in the chain (1, 2, ...).
    pub id: i64,
    /// Who acted.
    pub actor: String,
    /// What was attempted.
    pub action: String,
    /// On what.
    pub target: String,
    /// When, Unix seconds.
    pub at: i64,
    /// From which address.
    pub from: Option<String>,
    /// How it ended.
    pub result: AuditResult,
    /// Hex SHA-256 of the previous row (64 zeros for the first).
    pub prev_hash: String,
    /// Hex SHA-256 over `prev_hash` and this row's canonical form.
    pub hash: String,
}
