//! Asking a nameserver directly what it answers for a name, the way a
//! resolver sees a zone, without any cache in between.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{Name, RData, RecordType};
use tokio::net::UdpSocket;

/// Maximum size of a UDP response wwctl reads. Address answers for one name are small.
const MAX_ANSWER_BYTES: usize = 4096;

/// A nameserver's response to an A query.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddressAnswer {
    pub addresses: Vec<Ipv4Addr>,
    /// TTL of the answer's records, the smallest when they differ.
    pub ttl: Option<u32>,
    pub authoritative: bool,
}

/// Ask `server` for the A records of `name`, without recursion.
pub async fn query_a(
    server: SocketAddr,
    name: &str,
    timeout: Duration,
) -> anyhow::Result<AddressAnswer> {
    let fqdn = Name::from_str(&format!("{}.", name.trim_end_matches('.')))
        .with_context(|| format!("`{name}` is not a valid DNS name"))?;
    let id: u16 = rand::random();
    let mut message = Message::new(id, MessageType::Query, OpCode::Query);
    message.metadata.recursion_desired = false;
    message.add_query(Query::query(fqdn, RecordType::A));
    let request = message.to_vec().context("cannot encode the DNS query")?;

    let local: SocketAddr = match server.ip() {
        IpAddr::V4(_) => "0.0.0.0:0".parse().expect("valid address"),
        IpAddr::V6(_) => "[::]:0".parse().expect("valid address"),
    };
    let socket = UdpSocket::bind(local)
        .await
        .context("cannot open a UDP socket")?;
    socket
        .connect(server)
        .await
        .with_context(|| format!("cannot reach the nameserver {server}"))?;
    socket
        .send(&request)
        .await
        .with_context(|| format!("cannot send a query to {server}"))?;

    let mut buffer = vec![0u8; MAX_ANSWER_BYTES];
    let response = loop {
        let length = tokio::time::timeout(timeout, socket.recv(&mut buffer))
            .await
            .map_err(|_| {
                anyhow::anyhow!(
                    "the nameserver {server} did not respond within {}s",
                    timeout.as_secs()
                )
            })?
            .with_context(|| format!("cannot read the answer from {server}"))?;
        let response = Message::from_vec(&buffer[..length])
            .with_context(|| format!("{server} sent an invalid DNS message"))?;
        // Datagrams for other queries are ignored, as a resolver would.
        if response.metadata.id == id {
            break response;
        }
    };

    match response.metadata.response_code {
        ResponseCode::NoError => {}
        ResponseCode::NXDomain => {
            return Ok(AddressAnswer {
                addresses: Vec::new(),
                ttl: None,
                authoritative: response.metadata.authoritative,
            });
        }
        code => anyhow::bail!("{server} responded to the query for `{name}` with {code}"),
    }

    let mut addresses = Vec::new();
    let mut ttl: Option<u32> = None;
    for record in &response.answers {
        if let RData::A(address) = &record.data {
            addresses.push(address.0);
            ttl = Some(ttl.map_or(record.ttl, |known| known.min(record.ttl)));
        }
    }
    addresses.sort();
    Ok(AddressAnswer {
        addresses,
        ttl,
        authoritative: response.metadata.authoritative,
    })
}

/// Resolve `address:port` or a host name with the system resolver, for a
/// zone's nameservers.
pub async fn resolve_server(text: &str, default_port: u16) -> anyhow::Result<SocketAddr> {
    if let Ok(address) = SocketAddr::from_str(text) {
        return Ok(address);
    }
    if let Ok(ip) = IpAddr::from_str(text) {
        return Ok(SocketAddr::new(ip, default_port));
    }
    let host = text.trim_end_matches('.');
    let mut found = tokio::net::lookup_host((host, default_port))
        .await
        .with_context(|| format!("cannot resolve the nameserver `{host}`"))?;
    found
        .next()
        .ok_or_else(|| anyhow::anyhow!("the nameserver `{host}` has no address"))
}
