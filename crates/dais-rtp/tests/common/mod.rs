//! Test helpers: a minimal pcap reader (classic little/big-endian pcap, Ethernet/IPv4/UDP only).
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// One UDP datagram from a capture.
#[derive(Debug, Clone)]
pub struct Datagram {
    /// Capture time in microseconds since the epoch.
    pub micros: u64,
    pub src_port: u16,
    pub dst_port: u16,
    pub payload: Vec<u8>,
}

pub fn data_path(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(rel)
}

pub fn read(rel: &str) -> Vec<u8> {
    std::fs::read(data_path(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// UDP payloads of every Ethernet/IPv4/UDP frame in a classic pcap file; other frames are skipped.
pub fn udp_datagrams(rel: &str) -> Vec<Datagram> {
    let file = read(rel);
    let magic = u32::from_le_bytes(file[0..4].try_into().unwrap());
    let le = match magic {
        0xa1b2c3d4 => true,
        0xd4c3b2a1 => false,
        m => panic!("{rel}: not a microsecond pcap (magic {m:#x})"),
    };
    let u32_at = |b: &[u8], o: usize| {
        let a: [u8; 4] = b[o..o + 4].try_into().unwrap();
        if le {
            u32::from_le_bytes(a)
        } else {
            u32::from_be_bytes(a)
        }
    };
    assert_eq!(u32_at(&file, 20), 1, "{rel}: link type must be Ethernet");
    let mut out = Vec::new();
    let mut off = 24;
    while off + 16 <= file.len() {
        let secs = u32_at(&file, off) as u64;
        let usecs = u32_at(&file, off + 4) as u64;
        let incl = u32_at(&file, off + 8) as usize;
        let frame = &file[off + 16..off + 16 + incl];
        off += 16 + incl;
        // Ethernet II, IPv4 (no VLAN tag in these captures).
        if frame.len() < 14 + 20 || frame[12..14] != [0x08, 0x00] {
            continue;
        }
        let ip = &frame[14..];
        let ihl = (ip[0] & 0x0f) as usize * 4;
        if ip[9] != 17 {
            continue;
        }
        let total = u16::from_be_bytes([ip[2], ip[3]]) as usize;
        let udp = &ip[ihl..total.min(ip.len())];
        let udp_len = u16::from_be_bytes([udp[4], udp[5]]) as usize;
        out.push(Datagram {
            micros: secs * 1_000_000 + usecs,
            src_port: u16::from_be_bytes([udp[0], udp[1]]),
            dst_port: u16::from_be_bytes([udp[2], udp[3]]),
            payload: udp[8..udp_len.min(udp.len())].to_vec(),
        });
    }
    out
}

/// Parses the `Seq=N` field of a str0m/tshark ground-truth line.
pub fn seq_of(line: &str) -> Option<u16> {
    let rest = line.split("Seq=").nth(1)?;
    rest.split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}
