//! Cost of policy decisions in a 1000-venue meeting (the normal case, not an edge case).
//!
//! `cargo bench -p dais-conference --bench conference`

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use dais_conference::*;

const N: usize = 1000;

fn vid(s: &str) -> VenueId {
    s.parse().expect("slug")
}

fn live(n: usize) -> (Conference, Instant, Actor) {
    let mut venues = vec![Venue {
        id: vid("province"),
        name: "main".into(),
        kind: VenueKind::Main,
        parent: None,
    }];
    for i in 1..=n {
        venues.push(Venue {
            id: vid(&format!("v{i}")),
            name: format!("venue {i}"),
            kind: VenueKind::Branch,
            parent: None,
        });
    }
    let plan = MeetingPlan {
        number: "bench".into(),
        subject: "bench".into(),
        main_venue: vid("province"),
        roll_call_order: venues.iter().skip(1).map(|v| v.id.clone()).collect(),
        venues,
        chair: "chair".into(),
        duration: None,
    };
    let now = Instant::now();
    let mut conf = Conference::new(now, plan, ConferenceConfig::default()).expect("plan");
    let it = Actor::new("it", Role::ItCentre);
    conf.command(now, &it, ChairCommand::GoLive).expect("live");
    conf.handle_leg_event(now, &vid("province"), LegEvent::Answered)
        .expect("main");
    for i in 1..=n {
        conf.handle_leg_event(now, &vid(&format!("v{i}")), LegEvent::Answered)
            .expect("leg");
    }
    while conf.poll_event().is_some() {}
    (conf, now, it)
}

fn benches(c: &mut Criterion) {
    let mut g = c.benchmark_group("conference_1000_venues");
    g.measurement_time(Duration::from_secs(3));

    let (mut conf, now, it) = live(N);
    let (a, b) = (vid("v10"), vid("v900"));
    let mut flip = false;
    g.bench_function("broadcast_switch", |bench| {
        bench.iter(|| {
            flip = !flip;
            let venue = if flip { a.clone() } else { b.clone() };
            let out = conf
                .command(now, &it, ChairCommand::Broadcast { venue })
                .expect("broadcast");
            conf.poll_event();
            conf.poll_event();
            conf.poll_event();
            black_box(out)
        })
    });

    let (mut conf, now, it) = live(N);
    let venues: Vec<VenueId> = (1..=N).map(|i| vid(&format!("v{i}"))).collect();
    let interval = Duration::from_secs(10);
    conf.command(now, &it, ChairCommand::StartPolling { venues, interval })
        .expect("polling");
    let mut t = now;
    g.bench_function("polling_tick_with_preroll", |bench| {
        bench.iter(|| {
            t += interval;
            let out = conf.handle_timeout(t);
            while conf.poll_event().is_some() {}
            black_box(out)
        })
    });

    let (mut conf, mut now, it) = live(N);
    conf.command(now, &it, ChairCommand::SetVoiceActivation { on: true })
        .expect("voice");
    let speakers = [vid("v1"), vid("v2")];
    let mut k = 0usize;
    g.bench_function("dominant_speaker_report", |bench| {
        bench.iter(|| {
            k += 1;
            now += Duration::from_millis(300);
            let out = conf
                .handle_dominant_speaker(now, &speakers[k % 2])
                .expect("speaker");
            black_box(out)
        })
    });

    let (mut conf, mut now, _) = live(N);
    let v = vid("v500");
    g.bench_function("drop_and_rejoin", |bench| {
        bench.iter(|| {
            now += Duration::from_millis(10);
            let dropped = conf
                .handle_leg_event(
                    now,
                    &v,
                    LegEvent::Dropped {
                        reason: DropReason::MediaTimeout,
                    },
                )
                .expect("drop");
            let back = conf
                .handle_leg_event(now, &v, LegEvent::Answered)
                .expect("answer");
            while conf.poll_event().is_some() {}
            black_box((dropped, back))
        })
    });

    let (mut conf, now, it) = live(N);
    g.bench_function("mute_all_but_main_then_unmute_one", |bench| {
        bench.iter(|| {
            let out = conf
                .command(now, &it, ChairCommand::MuteAllButMain)
                .expect("mute");
            conf.command(now, &it, ChairCommand::Unmute { venue: vid("v7") })
                .expect("unmute");
            black_box(out)
        })
    });
    g.finish();
}

criterion_group!(conference, benches);
criterion_main!(conference);
