//! The emulator's authoritative DNS server answers from the API's zones:
//! new records, changed values and TTLs, NXDOMAIN inside a zone, REFUSED
//! outside.

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{RData, RecordType};
use serde_json::json;

use crate::support::dns::{a_records, query_tcp, query_udp};
use crate::support::emulator::Emulator;

#[tokio::test]
async fn dns_follows_record_changes() {
    let emulator = Emulator::start(&[]);
    let api = emulator.account("dns").await;
    api.post("/v2/domains", json!({ "name": "wwdt.example" }))
        .await
        .expect(201);
    let records = "/v2/domains/wwdt.example/records";

    let before = query_udp(emulator.dns, "www.wwdt.example.", RecordType::A);
    assert_eq!(before.metadata.response_code, ResponseCode::NXDomain);

    let created = api
        .post(
            records,
            json!({ "type": "A", "name": "www", "data": "10.77.0.20", "ttl": 300 }),
        )
        .await
        .expect(201);
    let id = created.body["domain_record"]["id"].as_u64().unwrap();
    let answer = query_udp(emulator.dns, "www.wwdt.example.", RecordType::A);
    assert_eq!(answer.metadata.response_code, ResponseCode::NoError);
    assert!(answer.metadata.authoritative);
    assert_eq!(a_records(&answer), [("10.77.0.20".to_string(), 300)]);

    api.put(
        &format!("{records}/{id}"),
        json!({ "type": "A", "data": "10.77.0.21", "ttl": 60 }),
    )
    .await
    .expect(200);
    let changed = query_udp(emulator.dns, "www.wwdt.example.", RecordType::A);
    assert_eq!(a_records(&changed), [("10.77.0.21".to_string(), 60)]);
    let over_tcp = query_tcp(emulator.dns, "WWW.wwdt.example.", RecordType::A);
    assert_eq!(a_records(&over_tcp), [("10.77.0.21".to_string(), 60)]);

    api.delete(&format!("{records}/{id}")).await.expect(204);
    let gone = query_udp(emulator.dns, "www.wwdt.example.", RecordType::A);
    assert_eq!(gone.metadata.response_code, ResponseCode::NXDomain);
    assert!(
        matches!(gone.authorities[0].data, RData::SOA(_)),
        "NXDOMAIN carries the SOA"
    );
}

#[tokio::test]
async fn dns_serves_every_record_type() {
    let emulator = Emulator::start(&[]);
    let api = emulator.account("dns-types").await;
    api.post(
        "/v2/domains",
        json!({ "name": "types.example", "ip_address": "10.77.0.30" }),
    )
    .await
    .expect(201);
    let records = "/v2/domains/types.example/records";
    for body in [
        json!({ "type": "AAAA", "name": "www", "data": "2001:db8::1", "ttl": 120 }),
        json!({ "type": "CNAME", "name": "stats", "data": "@" }),
        json!({ "type": "TXT", "name": "@", "data": "v=spf1 -all" }),
        json!({ "type": "MX", "name": "@", "data": "mail.types.example.", "priority": 10 }),
        json!({ "type": "A", "name": "*.dev", "data": "10.77.0.31" }),
    ] {
        api.post(records, body).await.expect(201);
    }
    let dns = emulator.dns;

    let aaaa = query_udp(dns, "www.types.example.", RecordType::AAAA);
    assert!(
        matches!(&aaaa.answers[0].data, RData::AAAA(address) if address.0.to_string() == "2001:db8::1")
    );
    assert_eq!(aaaa.answers[0].ttl, 120);

    let cname = query_udp(dns, "stats.types.example.", RecordType::A);
    assert!(matches!(cname.answers[0].data, RData::CNAME(_)));
    assert_eq!(a_records(&cname), [("10.77.0.30".to_string(), 1800)]);

    let txt = query_udp(dns, "types.example.", RecordType::TXT);
    assert!(
        matches!(&txt.answers[0].data, RData::TXT(text) if text.to_string().contains("v=spf1"))
    );
    let mx = query_udp(dns, "types.example.", RecordType::MX);
    assert!(matches!(&mx.answers[0].data, RData::MX(mx) if mx.preference == 10));
    let ns = query_udp(dns, "types.example.", RecordType::NS);
    assert_eq!(ns.answers.len(), 3);
    let soa = query_tcp(dns, "types.example.", RecordType::SOA);
    assert!(
        matches!(&soa.answers[0].data, RData::SOA(soa) if soa.mname.to_string() == "ns1.digitalocean.com.")
    );

    let wildcard = query_udp(dns, "branch.dev.types.example.", RecordType::A);
    assert_eq!(a_records(&wildcard), [("10.77.0.31".to_string(), 1800)]);
    let no_data = query_udp(dns, "www.types.example.", RecordType::MX);
    assert_eq!(no_data.metadata.response_code, ResponseCode::NoError);
    assert!(no_data.answers.is_empty());
    let outside = query_udp(dns, "example.org.", RecordType::A);
    assert_eq!(outside.metadata.response_code, ResponseCode::Refused);
    assert!(!outside.metadata.authoritative);
}
