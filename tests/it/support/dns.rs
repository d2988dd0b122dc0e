//! A DNS client for tests: one query over UDP or TCP, built and read with
//! hickory-proto.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::time::Duration;

use hickory_proto::op::{Message, MessageType, OpCode, Query};
use hickory_proto::rr::{Name, RData, RecordType};

const TIMEOUT: Duration = Duration::from_secs(5);

fn query_message(name: &str, record_type: RecordType) -> Message {
    let mut message = Message::new(rand::random(), MessageType::Query, OpCode::Query);
    message.metadata.recursion_desired = false;
    let name = Name::from_ascii(name).expect("a valid query name");
    message.add_query(Query::query(name, record_type));
    message
}

/// Ask `server` over UDP.
pub fn query_udp(server: SocketAddr, name: &str, record_type: RecordType) -> Message {
    let socket = UdpSocket::bind("127.0.0.1:0").expect("a UDP socket");
    socket
        .set_read_timeout(Some(TIMEOUT))
        .expect("a read timeout");
    let query = query_message(name, record_type);
    socket
        .send_to(&query.to_vec().expect("an encoded query"), server)
        .expect("the query is sent");
    let mut buffer = [0u8; 4096];
    let (length, _) = socket.recv_from(&mut buffer).expect("an answer over UDP");
    let answer = Message::from_vec(&buffer[..length]).expect("a DNS answer");
    assert_eq!(
        answer.metadata.id, query.metadata.id,
        "the answer's id matches the query's"
    );
    answer
}

/// Ask `server` over TCP.
pub fn query_tcp(server: SocketAddr, name: &str, record_type: RecordType) -> Message {
    let mut stream = TcpStream::connect_timeout(&server, TIMEOUT).expect("a TCP connection");
    stream
        .set_read_timeout(Some(TIMEOUT))
        .expect("a read timeout");
    let query = query_message(name, record_type)
        .to_vec()
        .expect("an encoded query");
    let mut framed = (query.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(&query);
    stream.write_all(&framed).expect("the query is sent");

    let mut prefix = [0u8; 2];
    stream.read_exact(&mut prefix).expect("an answer length");
    let mut answer = vec![0u8; usize::from(u16::from_be_bytes(prefix))];
    stream.read_exact(&mut answer).expect("an answer over TCP");
    Message::from_vec(&answer).expect("a DNS answer")
}

/// Return the A records of a response's answer section as (address, TTL).
pub fn a_records(answer: &Message) -> Vec<(String, u32)> {
    answer
        .answers
        .iter()
        .filter_map(|record| match &record.data {
            RData::A(address) => Some((address.0.to_string(), record.ttl)),
            _ => None,
        })
        .collect()
}
