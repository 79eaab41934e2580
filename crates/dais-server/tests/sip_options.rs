//! The real `daisd` binary answers SIP OPTIONS with 200 over UDP and over TCP.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

fn options(transport: &str, local: SocketAddr, server: SocketAddr, branch: &str) -> String {
    format!(
        "OPTIONS sip:{server} SIP/2.0\r\n\
         Via: SIP/2.0/{transport} {local};branch=z9hG4bK{branch}\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:probe@{local}>;tag=probe{branch}\r\n\
         To: <sip:{server}>\r\n\
         Call-ID: {branch}@probe\r\n\
         CSeq: 1 OPTIONS\r\n\
         Accept: application/sdp\r\n\
         Content-Length: 0\r\n\r\n"
    )
}

#[test]
fn daisd_answers_options_with_200_over_udp_and_tcp() {
    let data = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_daisd"))
        .env_clear()
        .env("RUST_LOG", "info")
        .env("DAIS_ADMIN_PASSWORD", "sip options test password")
        .arg("--data")
        .arg(data.path())
        .args([
            "--http",
            "127.0.0.1:0",
            "--sip",
            "127.0.0.1:0",
            "--log-format",
            "json",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn daisd");
    let out = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line)
                && v["message"] == "SIP service listening (UDP and TCP)"
                && let Some(a) = v["local"].as_str()
            {
                let _ = tx.send(a.parse::<SocketAddr>().unwrap());
            }
        }
    });
    // A hang guard, not a timing assertion.
    let sip = match rx.recv_timeout(Duration::from_secs(120)) {
        Ok(a) => a,
        Err(_) => {
            let _ = child.kill();
            let mut e = String::new();
            let _ = child.stderr.take().unwrap().read_to_string(&mut e);
            panic!("daisd did not start its SIP service: {e}");
        }
    };

    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    udp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let msg = options("UDP", udp.local_addr().unwrap(), sip, "udp1");
    udp.send_to(msg.as_bytes(), sip).unwrap();
    let mut buf = [0u8; 4096];
    let (n, _) = udp.recv_from(&mut buf).expect("a UDP answer");
    let answer = String::from_utf8_lossy(&buf[..n]).into_owned();
    assert!(answer.starts_with("SIP/2.0 200"), "UDP answer: {answer}");
    assert!(answer.contains("CSeq: 1 OPTIONS"), "{answer}");

    let mut tcp = TcpStream::connect(sip).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let msg = options("TCP", tcp.local_addr().unwrap(), sip, "tcp1");
    tcp.write_all(msg.as_bytes()).unwrap();
    let mut got = Vec::new();
    while !got.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = tcp.read(&mut buf).expect("a TCP answer");
        assert!(n > 0, "connection closed without an answer");
        got.extend_from_slice(&buf[..n]);
    }
    let answer = String::from_utf8_lossy(&got).into_owned();
    assert!(answer.starts_with("SIP/2.0 200"), "TCP answer: {answer}");

    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let status = child.wait().unwrap();
    assert!(status.success(), "daisd exit after SIGTERM: {status:?}");
}
