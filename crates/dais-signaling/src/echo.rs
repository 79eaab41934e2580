//! The test call's media: a UDP socket that sends every packet back where it came from.

use std::net::{IpAddr, SocketAddr};

use tokio::net::UdpSocket;
use tokio::sync::oneshot;

/// Keeps an echo running; dropping it stops the echo.
#[derive(Debug)]
pub struct EchoGuard {
    _stop: oneshot::Sender<()>,
    addr: SocketAddr,
}

impl EchoGuard {
    /// Where the echo listens (what the SDP answer announces).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

/// Binds an echo socket on `ip` (any free port) and starts echoing.
///
/// # Errors
/// When no socket can be bound.
pub async fn spawn(ip: IpAddr) -> std::io::Result<EchoGuard> {
    let socket = UdpSocket::bind(SocketAddr::new(ip, 0)).await?;
    let addr = socket.local_addr()?;
    let (tx, mut rx) = oneshot::channel::<()>();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 2048];
        let mut echoed = 0u64;
        loop {
            tokio::select! {
                _ = &mut rx => break,
                r = socket.recv_from(&mut buf) => match r {
                    Ok((n, from)) => {
                        if socket.send_to(buf.get(..n).unwrap_or_default(), from).await.is_ok() {
                            echoed += 1;
                        }
                    }
                    // ICMP port unreachable from a peer that left: keep serving.
                    Err(_) => continue,
                },
            }
        }
        tracing::debug!(%addr, echoed, "test-call echo stopped");
    });
    Ok(EchoGuard { _stop: tx, addr })
}
