//! The command line, as clap parses it.

use clap::{Args, Parser, Subcommand, ValueEnum};

/// `dais`: operate a Dais MCU from the shell.
#[derive(Debug, Parser)]
#[command(name = "dais", version, about, long_about = None)]
pub struct Cli {
    /// Server URL, e.g. http://127.0.0.1:8080 (else DAIS_SERVER, else the one saved by login).
    #[arg(long, global = true, value_name = "URL")]
    pub server: Option<String>,
    /// Print the API's JSON instead of tables.
    #[arg(long, global = true)]
    pub json: bool,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Every subcommand.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Log in and save the token (password from DAIS_PASSWORD or a prompt).
    Login {
        /// Account name.
        #[arg(long, short)]
        user: String,
    },
    /// End the session and forget the saved token.
    Logout,
    /// Show the logged-in operator.
    Whoami,
    /// List meetings.
    Meetings,
    /// Show, schedule or start one meeting.
    #[command(subcommand)]
    Meeting(MeetingCmd),
    /// List venues.
    Venues,
    /// Show or add one venue.
    #[command(subcommand)]
    Venue(VenueCmd),
    /// List operator accounts.
    Operators,
    /// Add an operator account.
    #[command(subcommand)]
    Operator(OperatorCmd),
    /// List bookings (yours, or all for approvers, the IT centre and auditors).
    Bookings,
    /// File, show, approve or reject a booking; the approval inbox.
    #[command(subcommand)]
    Booking(BookingCmd),
    /// List sites with their A/B administrators and vacancies.
    Sites,
    /// Register a site, fill or replace an A/B slot, show its history.
    #[command(subcommand)]
    Site(SiteCmd),
    /// Equipment: monthly checks and the due list, faults, moves and their test calls.
    #[command(subcommand)]
    Equipment(EquipmentCmd),
    /// Scheduled → testing.
    StartTesting(Num),
    /// Scheduled or testing → live.
    GoLive(Num),
    /// End the meeting for everyone (hangs up every venue).
    End(Num),
    /// Show a venue to everyone.
    Broadcast(NumVenue),
    /// The chair privately watches a venue.
    View(NumVenue),
    /// End the chair's private view.
    StopView(Num),
    /// Broadcast the main venue again.
    ReturnToMain(Num),
    /// Roll-call a venue (broadcast it, open only its microphone).
    RollCall(NumVenue),
    /// Roll-call the next venue in the list.
    RollCallNext(Num),
    /// Leave roll-call mode.
    EndRollCall(Num),
    /// Polling: broadcast venues in turn.
    #[command(subcommand)]
    Poll(PollCmd),
    /// Voice-activated switching on or off.
    Voice {
        /// Meeting number.
        number: String,
        /// on or off.
        state: OnOff,
    },
    /// Close a venue's microphone.
    Mute(NumVenue),
    /// Open a venue's microphone.
    Unmute(NumVenue),
    /// Mute every venue but the main one.
    MuteAll(Num),
    /// Stop sending the meeting's audio to a venue.
    BlockAudio(NumVenue),
    /// Send the meeting's audio to a venue again.
    UnblockAudio(NumVenue),
    /// Admit no new dial-ins.
    Lock(Num),
    /// Admit dial-ins again.
    Unlock(Num),
    /// Move the planned end later.
    Extend {
        /// Meeting number.
        number: String,
        /// Minutes to add.
        #[arg(long)]
        minutes: u32,
    },
    /// Hand the chair to another operator.
    HandChair {
        /// Meeting number.
        number: String,
        /// The new chair's account name.
        to: String,
    },
    /// Call a venue.
    Dial(NumVenue),
    /// Hang up a venue.
    HangUp(NumVenue),
    /// Call a dropped venue again now.
    Redial(NumVenue),
}

/// A meeting number.
#[derive(Debug, Args)]
pub struct Num {
    /// Meeting number, e.g. 8001.
    pub number: String,
}

/// A meeting number and a venue.
#[derive(Debug, Args)]
pub struct NumVenue {
    /// Meeting number, e.g. 8001.
    pub number: String,
    /// Venue name, e.g. jinan.
    pub venue: String,
}

/// `on` / `off`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum OnOff {
    /// On.
    On,
    /// Off.
    Off,
}

/// `dais meeting ...`
#[derive(Debug, Subcommand)]
pub enum MeetingCmd {
    /// The live state of a meeting (or the stored plan of one not running).
    Show(Num),
    /// Schedule a meeting (IT centre).
    Create {
        /// Dial number.
        number: String,
        /// Subject.
        #[arg(long)]
        subject: String,
        /// The hosting venue.
        #[arg(long = "main")]
        main_venue: String,
        /// Other venues in roll-call order (repeat, or comma-separated).
        #[arg(long = "venue", value_delimiter = ',')]
        venues: Vec<String>,
        /// The chair operator's account.
        #[arg(long)]
        chair: Option<String>,
    },
    /// Start a scheduled meeting and dial its venues.
    Start {
        /// Meeting number.
        number: String,
        /// Start in the joint-test state instead of live.
        #[arg(long)]
        testing: bool,
    },
}

/// Venue kinds.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Kind {
    /// Provincial main venue.
    Main,
    /// Unit or county endpoint.
    Branch,
    /// City venue.
    City,
}

/// `dais venue ...`
#[derive(Debug, Subcommand)]
pub enum VenueCmd {
    /// One venue, by id or name.
    Show {
        /// Id or name.
        venue: String,
    },
    /// Add a venue (IT centre); SIP password from DAIS_SIP_PASSWORD or a prompt.
    Add {
        /// Name (a-z 0-9 _ -), used in commands.
        name: String,
        /// Place in the network.
        #[arg(long, value_enum)]
        kind: Kind,
        /// Parent venue's name.
        #[arg(long)]
        parent: Option<String>,
        /// Site running it (default: the name).
        #[arg(long)]
        site: Option<String>,
        /// SIP user (default: the name).
        #[arg(long)]
        sip_user: Option<String>,
        /// Digest realm (default: dais).
        #[arg(long)]
        realm: Option<String>,
        /// Dial-out URI, e.g. sip:jinan@10.0.0.7.
        #[arg(long)]
        contact: Option<String>,
    },
}

/// Roles.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum RoleArg {
    /// Provincial IT centre.
    ItCentre,
    /// A site's administrator (needs --site).
    SiteAdmin,
    /// Chair operator.
    ChairOperator,
    /// Booking approver (needs --stage).
    Approver,
    /// Read-only auditor.
    Auditor,
}

/// `dais operator ...`
#[derive(Debug, Subcommand)]
pub enum OperatorCmd {
    /// Add an account (IT centre); password from DAIS_NEW_PASSWORD or a prompt.
    Add {
        /// Login name.
        username: String,
        /// Role.
        #[arg(long, value_enum)]
        role: RoleArg,
        /// Site (site-admin).
        #[arg(long)]
        site: Option<String>,
        /// unit_head, it_centre or department_leader (approver).
        #[arg(long)]
        stage: Option<String>,
    },
}

/// `dais poll ...`
#[derive(Debug, Subcommand)]
pub enum PollCmd {
    /// Start polling these venues.
    Start {
        /// Meeting number.
        number: String,
        /// Seconds between switches.
        #[arg(long)]
        every: u32,
        /// Venues in order.
        #[arg(required = true)]
        venues: Vec<String>,
    },
    /// Hold polling on the current venue.
    Pause(Num),
    /// Continue polling.
    Resume(Num),
    /// Stop polling.
    Stop(Num),
}

/// `dais booking ...`
#[derive(Debug, Subcommand)]
pub enum BookingCmd {
    /// File a booking (the application form).
    Create(Box<NewBookingArgs>),
    /// One booking, with where it stands and the opinions so far.
    Show {
        /// Booking reference.
        id: i64,
    },
    /// The bookings waiting for your opinion.
    Inbox,
    /// Approve a booking at the stage it waits at.
    Approve {
        /// Booking reference.
        id: i64,
        /// Your opinion.
        #[arg(long)]
        opinion: String,
    },
    /// Reject a booking at the stage it waits at.
    Reject {
        /// Booking reference.
        id: i64,
        /// Your opinion.
        #[arg(long)]
        opinion: String,
    },
    /// The meeting-room catalogue.
    Rooms,
}

/// An A/B slot.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum SlotArg {
    /// Primary.
    A,
    /// Backup.
    B,
}

/// Why a slot changes hands.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ReasonArg {
    /// Filling a vacant slot.
    Appointment,
    /// The holder moved to another post.
    Transfer,
    /// The holder is on leave.
    Leave,
    /// The holder resigned.
    Resignation,
    /// The holder retired.
    Retirement,
}

/// `dais site ...`
#[derive(Debug, Subcommand)]
pub enum SiteCmd {
    /// Register a site (IT centre).
    Add {
        /// Name (a-z 0-9 - _).
        name: String,
    },
    /// Put a site administrator in slot a or b (IT centre).
    Assign {
        /// Site.
        site: String,
        /// Slot.
        #[arg(value_enum)]
        slot: SlotArg,
        /// The site administrator's account.
        operator: String,
        /// Why: appointment for a vacant slot, else why the holder goes.
        #[arg(long, value_enum)]
        reason: ReasonArg,
        /// Free text.
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Leave slot a or b vacant (IT centre).
    Vacate {
        /// Site.
        site: String,
        /// Slot.
        #[arg(value_enum)]
        slot: SlotArg,
        /// Why the holder goes.
        #[arg(long, value_enum)]
        reason: ReasonArg,
        /// Free text.
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Every change of a site's slots.
    History {
        /// Site.
        site: String,
    },
}

/// `dais booking create` arguments.
#[derive(Debug, Args)]
pub struct NewBookingArgs {
    /// The applying unit.
    #[arg(long)]
    pub unit: String,
    /// Subject (meeting content).
    #[arg(long)]
    pub subject: String,
    /// Who attends.
    #[arg(long)]
    pub attendees: String,
    /// How many attend.
    #[arg(long)]
    pub count: u32,
    /// Start: RFC 3339 (2026-12-01T09:00:00+08:00) or Unix seconds.
    #[arg(long)]
    pub from: String,
    /// End: RFC 3339 or Unix seconds.
    #[arg(long)]
    pub to: String,
    /// Meeting room (see the catalogue in `dais booking rooms`).
    #[arg(long)]
    pub room: String,
    /// Venues, main venue first (repeat, or comma-separated).
    #[arg(long = "venue", value_delimiter = ',', required = true)]
    pub venues: Vec<String>,
    /// Remarks.
    #[arg(long, default_value = "")]
    pub remarks: String,
    /// The chair operator's account.
    #[arg(long)]
    pub chair: Option<String>,
    /// The meeting's dial number (else allocated at approval).
    #[arg(long)]
    pub number: Option<String>,
}

/// A fault's next status.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum FaultStatusArg {
    /// Being repaired.
    InRepair,
    /// Repaired.
    Fixed,
    /// Cannot be repaired on site.
    ReportedToItCentre,
}

/// `dais equipment ...`
#[derive(Debug, Subcommand)]
pub enum EquipmentCmd {
    /// Venues whose monthly check is due within a week or overdue.
    Due,
    /// Recorded checks, newest first.
    Checks,
    /// Record a monthly check of a venue (passed unless --failed).
    Check {
        /// Venue name.
        venue: String,
        /// Something did not work.
        #[arg(long)]
        failed: bool,
        /// Findings.
        #[arg(long, default_value = "")]
        notes: String,
    },
    /// Fault reports, newest first.
    Faults,
    /// Report a fault on a venue's equipment.
    Fault {
        /// Venue name.
        venue: String,
        /// What is wrong.
        #[arg(long)]
        description: String,
    },
    /// Move a fault on.
    FaultStatus {
        /// Fault id.
        id: i64,
        /// The new status.
        #[arg(value_enum)]
        status: FaultStatusArg,
    },
    /// Equipment move requests, newest first.
    Moves,
    /// Apply for an equipment move at a venue.
    Move {
        /// Venue name.
        venue: String,
        /// What moves where.
        #[arg(long)]
        description: String,
    },
    /// Record the joint test call after a move (passed unless --failed; IT centre).
    TestCall {
        /// Move id.
        id: i64,
        /// The call failed.
        #[arg(long)]
        failed: bool,
        /// Notes.
        #[arg(long, default_value = "")]
        notes: String,
    },
}
