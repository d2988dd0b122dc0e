//! The authoritative DNS server for the emulator's zones, over UDP and TCP
//! on one address.

pub mod answer;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use hickory_proto::op::Message;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};

use crate::sandbox::app::App;

/// How long an idle TCP client may keep its connection.
const TCP_IDLE: Duration = Duration::from_secs(10);
/// Attempts to find a port free for both UDP and TCP.
const PORT_ATTEMPTS: usize = 20;

pub struct DnsSockets {
    pub udp: UdpSocket,
    pub tcp: TcpListener,
}

impl DnsSockets {
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.udp.local_addr()
    }
}

/// Bind UDP and TCP on `requested`, or on one free port of 127.0.0.1.
pub async fn bind(requested: Option<SocketAddr>) -> anyhow::Result<DnsSockets> {
    if let Some(address) = requested {
        let udp = UdpSocket::bind(address)
            .await
            .with_context(|| format!("cannot bind the DNS server to UDP {address}"))?;
        let tcp = TcpListener::bind(address)
            .await
            .with_context(|| format!("cannot bind the DNS server to TCP {address}"))?;
        return Ok(DnsSockets { udp, tcp });
    }

    for _ in 0..PORT_ATTEMPTS {
        let udp = UdpSocket::bind("127.0.0.1:0")
            .await
            .context("cannot bind the DNS server to a UDP port of 127.0.0.1")?;
        let address = udp.local_addr()?;
        if let Ok(tcp) = TcpListener::bind(address).await {
            return Ok(DnsSockets { udp, tcp });
        }
    }
    Err(anyhow::anyhow!(
        "cannot find a port of 127.0.0.1 free for both UDP and TCP"
    ))
}

/// Serve queries until the task is dropped.
pub async fn serve(app: Arc<App>, sockets: DnsSockets) {
    let DnsSockets { udp, tcp } = sockets;
    let udp_app = app.clone();
    tokio::spawn(async move { serve_udp(udp_app, udp).await });
    serve_tcp(app, tcp).await;
}

async fn serve_udp(app: Arc<App>, socket: UdpSocket) {
    let mut buffer = vec![0u8; 4096];
    loop {
        let (length, peer) = match socket.recv_from(&mut buffer).await {
            Ok(received) => received,
            Err(error) => {
                tracing::warn!(%error, "receiving a DNS query failed");
                continue;
            }
        };
        if let Some(reply) = respond(&app, &buffer[..length], true)
            && let Err(error) = socket.send_to(&reply, peer).await
        {
            tracing::warn!(%error, %peer, "sending a DNS answer failed");
        }
    }
}

async fn serve_tcp(app: Arc<App>, listener: TcpListener) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                let app = app.clone();
                tokio::spawn(async move { serve_tcp_client(app, stream).await });
            }
            Err(error) => {
                tracing::warn!(%error, "accepting a DNS connection failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// Serve length-prefixed queries on one connection until it closes or idles.
async fn serve_tcp_client(app: Arc<App>, mut stream: TcpStream) {
    loop {
        let mut prefix = [0u8; 2];
        match tokio::time::timeout(TCP_IDLE, stream.read_exact(&mut prefix)).await {
            Ok(Ok(_)) => {}
            _ => return,
        }
        let mut query = vec![0u8; usize::from(u16::from_be_bytes(prefix))];
        if stream.read_exact(&mut query).await.is_err() {
            return;
        }
        let Some(reply) = respond(&app, &query, false) else {
            return;
        };
        let Ok(length) = u16::try_from(reply.len()) else {
            return;
        };
        let mut framed = length.to_be_bytes().to_vec();
        framed.extend_from_slice(&reply);
        if stream.write_all(&framed).await.is_err() {
            return;
        }
    }
}

/// Encode the response to an encoded query, or return `None` for bytes that
/// are not a DNS message. A UDP response too large for the client is
/// truncated.
fn respond(app: &App, query: &[u8], udp: bool) -> Option<Vec<u8>> {
    let request = Message::from_vec(query).ok()?;
    let response = app.store.read(|world| answer::answer(world, &request));
    let bytes = response.to_vec().ok()?;
    if udp && bytes.len() > answer::udp_limit(&request) {
        return response.truncate().to_vec().ok();
    }
    Some(bytes)
}
