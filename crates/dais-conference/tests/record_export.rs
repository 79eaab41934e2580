//! The meeting record and the snapshot serialize for the API and export as JSON and CSV.

mod common;

use std::time::Duration;

use common::*;
use dais_conference::*;

fn meeting() -> Sim {
    let mut s = Sim::live(2);
    s.advance(Duration::from_millis(1500));
    s.ok(&chair(), ChairCommand::Broadcast { venue: id("b1") });
    s.advance(Duration::from_secs(2));
    s.event(
        "b2",
        LegEvent::Dropped {
            reason: DropReason::MediaTimeout,
        },
    );
    let odd = Actor::new("=cmd|' /C calc'!A0, \"x\"", Role::ItCentre);
    s.ok(&odd, ChairCommand::Mute { venue: id("b1") });
    s.ok(&chair(), ChairCommand::EndMeeting);
    s
}

#[test]
fn record_names_who_did_what_and_when() {
    let s = meeting();
    let r = s.conf.record();
    let b = r
        .iter()
        .position(|e| {
            e.kind
                == RecordKind::Command {
                    command: ChairCommand::Broadcast { venue: id("b1") },
                }
        })
        .expect("broadcast recorded");
    assert_eq!(r[b].at, MeetingTime(Duration::from_millis(1500)));
    assert_eq!(r[b].actor, Some(chair()));
    assert_eq!(
        r[b + 1].kind,
        RecordKind::Shown {
            feed: FeedRole::Broadcast,
            venue: Some(id("b1")),
            cause: ShowCause::Command
        }
    );
    assert!(
        r.iter()
            .any(|e| e.actor.is_none() && e.kind == RecordKind::Joined { venue: id("b2") })
    );
    assert!(
        r.iter()
            .any(|e| e.at == MeetingTime(Duration::from_millis(3500))
                && e.kind
                    == RecordKind::Dropped {
                        venue: id("b2"),
                        reason: DropReason::MediaTimeout
                    })
    );
    let times: Vec<_> = r.iter().map(|e| e.at).collect();
    assert!(
        times.windows(2).all(|w| w[0] <= w[1]),
        "record in time order"
    );
}

#[test]
fn json_export_round_trips_through_serde_json() {
    let s = meeting();
    let json = record::to_json(s.conf.record()).unwrap();
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let arr = v.as_array().unwrap();
    assert_eq!(arr.len(), s.conf.record().len());
    let broadcast = arr
        .iter()
        .find(|e| e["kind"]["command"] == "broadcast")
        .expect("broadcast entry");
    assert_eq!(broadcast["at"], 1500);
    assert_eq!(broadcast["actor"]["operator"], CHAIR);
    assert_eq!(broadcast["actor"]["role"]["role"], "chair_operator");
    assert_eq!(broadcast["kind"]["kind"], "command");
    assert_eq!(broadcast["kind"]["venue"], "b1");
}

#[test]
fn csv_export_has_one_quoted_row_per_entry() {
    let s = meeting();
    let csv = record::to_csv(s.conf.record()).unwrap();
    let lines: Vec<&str> = csv.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(lines[0], record::CSV_HEADER);
    assert_eq!(lines.len(), s.conf.record().len() + 1);
    let broadcast = lines.iter().find(|l| l.contains(",broadcast,")).unwrap();
    assert!(broadcast.starts_with(&format!("1500,{CHAIR},chair_operator,broadcast,b1,\"{{")));
    // The hostile operator name is quoted, its quotes doubled, and defused as a formula.
    let mute = lines.iter().find(|l| l.contains(",mute,")).unwrap();
    assert!(
        mute.contains(",\"'=cmd|' /C calc'!A0, \"\"x\"\"\",it_centre,mute,b1,"),
        "{mute}"
    );
    let system = lines.iter().find(|l| l.contains(",dropped,")).unwrap();
    assert!(system.starts_with("3500,,system,dropped,b2,"));
}

#[test]
fn snapshot_serializes_the_whole_live_state() {
    let mut s = Sim::live(2);
    s.ok(&chair(), ChairCommand::Broadcast { venue: id("b1") });
    s.ok(&chair(), ChairCommand::Mute { venue: id("b2") });
    s.ok(
        &chair(),
        ChairCommand::StartPolling {
            venues: vec![id("b1"), id("b2")],
            interval: Duration::from_secs(20),
        },
    );
    let v = serde_json::to_value(s.conf.snapshot()).unwrap();
    assert_eq!(v["state"], "live");
    assert_eq!(v["feeds"]["broadcast"], "b1");
    assert_eq!(v["feeds"]["broadcaster_view"], MAIN);
    assert_eq!(v["polling"]["status"], "running");
    assert_eq!(v["polling"]["interval"], 20000);
    assert_eq!(v["polling"]["next_switch"], 20000);
    let b2 = &v["legs"][2];
    assert_eq!(b2["venue"], "b2");
    assert_eq!(b2["status"]["status"], "connected");
    assert_eq!(b2["muted"], true);
    assert_eq!(b2["microphone_open"], false);
    assert_eq!(b2["picture"], "broadcast");
    assert_eq!(v["legs"][1]["picture"], "broadcaster_view");
}

#[test]
fn commands_deserialize_from_api_json() {
    let c: ChairCommand = serde_json::from_str(
        r#"{"command":"start_polling","venues":["b1","b2"],"interval":15000}"#,
    )
    .unwrap();
    assert_eq!(
        c,
        ChairCommand::StartPolling {
            venues: vec![id("b1"), id("b2")],
            interval: Duration::from_secs(15)
        }
    );
    assert!(
        serde_json::from_str::<ChairCommand>(r#"{"command":"broadcast","venue":"Bad Slug"}"#)
            .is_err()
    );
    let e = serde_json::to_value(CommandError::Conflict {
        conflict: Conflict::RollCallRunning,
    })
    .unwrap();
    assert_eq!(e["error"], "conflict");
    assert_eq!(e["conflict"], "roll_call_running");
}

#[test]
fn venue_ids_are_validated_slugs() {
    assert!(VenueId::new("jinan-licheng_2").is_ok());
    for bad in ["", "Jinan", "jinan licheng", "济南", &"a".repeat(33), "a/b"] {
        assert!(VenueId::new(bad).is_err(), "{bad:?}");
    }
    assert_eq!(format!("{:?}", id("jinan")), "VenueId(\"jinan\")");
}

#[test]
fn bad_plans_are_refused() {
    let mut p = plan(2);
    p.venues.push(p.venues[1].clone());
    assert_eq!(
        Conference::new(std::time::Instant::now(), p, config()).unwrap_err(),
        ConfigError::DuplicateVenue { venue: id("b1") }
    );
    let mut p = plan(2);
    p.main_venue = id("elsewhere");
    assert!(matches!(
        Conference::new(std::time::Instant::now(), p, config()),
        Err(ConfigError::MainVenueNotInvited { .. })
    ));
    let mut p = plan(2);
    p.roll_call_order.push(id(MAIN));
    assert!(matches!(
        Conference::new(std::time::Instant::now(), p, config()),
        Err(ConfigError::BadRollCallEntry { .. })
    ));
    let mut cfg = config();
    cfg.voice_hold = Duration::ZERO;
    assert!(matches!(
        Conference::new(std::time::Instant::now(), plan(1), cfg),
        Err(ConfigError::Invalid { .. })
    ));
}
