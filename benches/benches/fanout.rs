//! The shell's fan-out of one forwarded packet to 64 receivers over loopback UDP (D25): every
//! receiver on the feed's shared header (one `sendmmsg`), every receiver with a header of its
//! own through the trains (one message per receiver, 64 per `sendmmsg`: what a meeting where
//! everyone has broadcast once costs), and the naive alternative, one `sendmmsg` per group;
//! then the audio mixer's frame (per-listener headers on one shared payload) through the
//! trains against one `send_to` per listener.
//!
//! Then a whole video frame to 64 receivers: per packet one `sendmmsg`, against the media
//! task's trains (D37) with and without UDP GSO.
//!
//! The receivers' queues overflow during the run; the kernel still does the whole send path for
//! each datagram, which is what is measured. Compare the three in one run, not across machines.
use std::hint::black_box;
use std::net::{SocketAddr, UdpSocket};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use dais_net::trains::Trains;
use dais_net::udp::{FanOut, HEAD};

const RECEIVERS: usize = 64;

fn fanout(c: &mut Criterion) {
    let tx = UdpSocket::bind("127.0.0.1:0").expect("bind");
    tx.set_nonblocking(true).expect("nonblocking");
    let rx: Vec<UdpSocket> = (0..RECEIVERS)
        .map(|_| UdpSocket::bind("127.0.0.1:0").expect("bind"))
        .collect();
    let dests: Vec<SocketAddr> = rx.iter().map(|s| s.local_addr().expect("addr")).collect();
    let pkt = vec![0x80u8; 1000];
    let heads: Vec<[u8; HEAD]> = (0..RECEIVERS).map(|i| [i as u8; HEAD]).collect();
    let mut fan = FanOut::new();

    let mut g = c.benchmark_group("fanout");
    g.throughput(Throughput::Elements(RECEIVERS as u64));
    g.bench_function("64_shared_header", |b| {
        b.iter(|| black_box(fan.send_except(&tx, &pkt, &dests, None)))
    });
    // Every receiver with a header of its own (what a meeting where everyone has broadcast
    // once costs): the trains, one message per receiver, 64 per `sendmmsg`.
    let mut trains = Trains::without_gso();
    g.bench_function("64_own_headers_trains", |b| {
        b.iter(|| {
            for (head, d) in heads.iter().zip(&dests) {
                let h = trains.head(*head);
                trains.add(*d, h, 0, pkt.len());
            }
            black_box(trains.flush(&tx, |_| &pkt[HEAD..]))
        })
    });
    g.bench_function("64_own_headers_call_per_group", |b| {
        let mut buf = pkt.clone();
        b.iter(|| {
            for (i, head) in heads.iter().enumerate() {
                buf[..HEAD].copy_from_slice(head);
                let _ = black_box(fan.send_except(&tx, &buf, &dests[i..i + 1], None));
            }
        })
    });
    // The mixer's frame: 172-byte G.711 packets, each listener its own header, one shared
    // payload; before session 3 each went out with its own `send_to`.
    let audio = vec![0xd5u8; 160];
    g.bench_function("64_listeners_audio_trains", |b| {
        b.iter(|| {
            for (head, d) in heads.iter().zip(&dests) {
                let h = trains.head(*head);
                trains.add(*d, h, 0, HEAD + audio.len());
            }
            black_box(trains.flush(&tx, |_| &audio))
        })
    });
    g.bench_function("64_listeners_audio_send_to_each", |b| {
        let mut buf = vec![0u8; HEAD + audio.len()];
        buf[HEAD..].copy_from_slice(&audio);
        b.iter(|| {
            for (head, dest) in heads.iter().zip(&dests) {
                buf[..HEAD].copy_from_slice(head);
                let _ = black_box(tx.send_to(&buf, dest));
            }
        })
    });
    g.finish();

    // A video frame (10 packets of one size, as a packetiser cuts it) to 64 receivers: per
    // packet one `sendmmsg` to all (the media task until D37), the same datagrams one message
    // each through the trains, and the trains coalesced with UDP GSO (one message per
    // receiver per frame).
    const FRAME: usize = 10;
    let frame: Vec<Vec<u8>> = (0..FRAME).map(|k| vec![k as u8; 1000]).collect();
    let mut g = c.benchmark_group("fanout_frame");
    g.throughput(Throughput::Elements((FRAME * RECEIVERS) as u64));
    g.bench_function("10x64_sendmmsg_per_packet", |b| {
        b.iter(|| {
            for p in &frame {
                let _ = black_box(fan.send_except(&tx, p, &dests, None));
            }
        })
    });
    for (name, mut trains) in [
        ("10x64_trains_datagram_each", Trains::without_gso()),
        ("10x64_trains_gso", Trains::new()),
    ] {
        g.bench_function(name, |b| {
            b.iter(|| {
                let head = trains.head([0x80; HEAD]);
                for p in 0..FRAME {
                    for d in &dests {
                        trains.add(*d, head, p as u32, 1000);
                    }
                }
                black_box(trains.flush(&tx, |p| &frame[p as usize][HEAD..]))
            })
        });
    }
    g.finish();
}

criterion_group!(benches, fanout);
criterion_main!(benches);
