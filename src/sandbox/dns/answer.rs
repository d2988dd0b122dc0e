//! Authoritative DNS responses built from the emulator's zones. They carry
//! the records of the queried name and type with their TTLs, CNAMEs
//! (followed inside the zone) and wildcard matches. A missing type gets
//! NODATA and a missing name NXDOMAIN, both with the zone's SOA, and a name
//! outside every zone gets REFUSED.

use std::net::{Ipv4Addr, Ipv6Addr};

use hickory_proto::op::{Edns, Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, CAA, CNAME, MX, NS, SOA, SRV, TXT};
use hickory_proto::rr::{Name, RData, Record as WireRecord, RecordType};

use crate::sandbox::state::World;
use crate::sandbox::state::model::{Domain, Record};
use crate::sandbox::zone::{self, NAME_SERVERS, SOA_TIMERS};

/// The largest UDP answer the server sends to EDNS clients.
const EDNS_PAYLOAD: u16 = 1232;
/// The largest UDP answer to clients without EDNS.
const PLAIN_PAYLOAD: u16 = 512;
/// The maximum length of one TXT character-string (RFC 1035), so longer
/// data is split.
const TXT_CHUNK: usize = 255;

/// Build the response to a query message.
pub fn answer(world: &World, request: &Message) -> Message {
    let mut response = Message::response(request.metadata.id, request.metadata.op_code);
    response.metadata.recursion_desired = request.metadata.recursion_desired;
    response.queries = request.queries.clone();
    if request.edns.is_some() {
        let mut edns = Edns::new();
        edns.set_max_payload(EDNS_PAYLOAD);
        response.edns = Some(edns);
    }

    if request.metadata.message_type != MessageType::Query
        || request.metadata.op_code != OpCode::Query
    {
        response.metadata.response_code = ResponseCode::NotImp;
        return response;
    }
    let [query] = request.queries.as_slice() else {
        response.metadata.response_code = ResponseCode::FormErr;
        return response;
    };

    let qname = query
        .name()
        .to_ascii()
        .trim_end_matches('.')
        .to_ascii_lowercase();
    let Some(domain) = find_zone(world, &qname) else {
        response.metadata.response_code = ResponseCode::Refused;
        return response;
    };
    response.metadata.authoritative = true;

    let relative = zone::relative_name(&qname, &domain.name).unwrap_or_else(|| "@".to_string());
    let answers = answers_for(domain, &relative, query.name(), query.query_type());
    if answers.is_empty() {
        if !name_exists(domain, &relative) && wildcard_for(domain, &relative).is_none() {
            response.metadata.response_code = ResponseCode::NXDomain;
        }
        response.authorities.extend(negative_soa(domain));
    }
    response.answers = answers;
    response
}

/// Return the maximum size of a UDP response to this request.
pub fn udp_limit(request: &Message) -> usize {
    match &request.edns {
        Some(edns) => usize::from(edns.max_payload().clamp(PLAIN_PAYLOAD, EDNS_PAYLOAD)),
        None => usize::from(PLAIN_PAYLOAD),
    }
}

/// Find the zone of a name: the longest zone name it equals or ends with.
fn find_zone<'w>(world: &'w World, qname: &str) -> Option<&'w Domain> {
    world
        .accounts
        .values()
        .flat_map(|account| account.domains.values())
        .filter(|domain| zone::relative_name(qname, &domain.name).is_some())
        .max_by_key(|domain| domain.name.len())
}

fn answers_for(
    domain: &Domain,
    relative: &str,
    owner: &Name,
    qtype: RecordType,
) -> Vec<WireRecord> {
    let mut here: Vec<&Record> = records_named(domain, relative);
    if here.is_empty()
        && !name_exists(domain, relative)
        && let Some(wildcard) = wildcard_for(domain, relative)
    {
        here = records_named(domain, &wildcard);
    }

    let cname = here.iter().find(|record| record.kind == "CNAME");
    if let Some(cname) = cname
        && qtype != RecordType::CNAME
        && qtype != RecordType::ANY
    {
        let mut answers: Vec<WireRecord> = to_wire(domain, cname, owner).into_iter().collect();
        let target = zone::target_fqdn(&cname.data, &domain.name);
        if let (Some(target_relative), Ok(target_name)) = (
            zone::relative_name(&target, &domain.name),
            Name::from_ascii(format!("{target}.")),
        ) {
            answers.extend(
                records_named(domain, &target_relative)
                    .into_iter()
                    .filter(|record| type_matches(record, qtype))
                    .filter_map(|record| to_wire(domain, record, &target_name)),
            );
        }
        return answers;
    }

    here.into_iter()
        .filter(|record| type_matches(record, qtype))
        .filter_map(|record| to_wire(domain, record, owner))
        .collect()
}

fn records_named<'d>(domain: &'d Domain, relative: &str) -> Vec<&'d Record> {
    domain
        .records
        .values()
        .filter(|record| record.name == relative)
        .collect()
}

fn type_matches(record: &Record, qtype: RecordType) -> bool {
    qtype == RecordType::ANY || record_type(&record.kind) == Some(qtype)
}

fn record_type(kind: &str) -> Option<RecordType> {
    Some(match kind {
        "A" => RecordType::A,
        "AAAA" => RecordType::AAAA,
        "CAA" => RecordType::CAA,
        "CNAME" => RecordType::CNAME,
        "MX" => RecordType::MX,
        "NS" => RecordType::NS,
        "SOA" => RecordType::SOA,
        "SRV" => RecordType::SRV,
        "TXT" => RecordType::TXT,
        _ => return None,
    })
}

/// Check whether a name exists in the zone: it has records, is the apex,
/// or has names below it (an empty non-terminal).
fn name_exists(domain: &Domain, relative: &str) -> bool {
    if relative == "@" {
        return true;
    }
    let suffix = format!(".{relative}");
    domain
        .records
        .values()
        .any(|record| record.name == relative || record.name.ends_with(&suffix))
}

/// Find the wildcard record name (`*.dev`, `*`) that covers a missing name.
fn wildcard_for(domain: &Domain, relative: &str) -> Option<String> {
    if relative == "@" || name_exists(domain, relative) {
        return None;
    }
    let labels: Vec<&str> = relative.split('.').collect();
    (1..=labels.len())
        .map(|start| match labels[start..].join(".") {
            rest if rest.is_empty() => "*".to_string(),
            rest => format!("*.{rest}"),
        })
        .find(|candidate| !records_named(domain, candidate).is_empty())
}

/// Build the zone's SOA for the authority section of a negative response,
/// with the TTL negative caching uses (RFC 2308: the lower of the SOA's TTL
/// and its minimum).
fn negative_soa(domain: &Domain) -> Option<WireRecord> {
    let soa = domain
        .records
        .values()
        .find(|record| record.kind == "SOA")?;
    let apex = Name::from_ascii(format!("{}.", domain.name)).ok()?;
    let mut record = to_wire(domain, soa, &apex)?;
    record.ttl = soa.ttl.min(SOA_TIMERS.3);
    Some(record)
}

/// Convert a stored record to a DNS resource record owned by `owner`, or
/// `None` for data the wire format cannot carry.
fn to_wire(domain: &Domain, record: &Record, owner: &Name) -> Option<WireRecord> {
    let host = || {
        Name::from_ascii(format!(
            "{}.",
            zone::target_fqdn(&record.data, &domain.name)
        ))
        .ok()
    };
    let number = |value: Option<u32>| u16::try_from(value.unwrap_or_default()).ok();

    let data = match record.kind.as_str() {
        "A" => RData::A(A(record.data.parse::<Ipv4Addr>().ok()?)),
        "AAAA" => RData::AAAA(AAAA(record.data.parse::<Ipv6Addr>().ok()?)),
        "CNAME" => RData::CNAME(CNAME(host()?)),
        "NS" => RData::NS(NS(host()?)),
        "MX" => RData::MX(MX::new(number(record.priority)?, host()?)),
        "SRV" => RData::SRV(SRV::new(
            number(record.priority)?,
            number(record.weight)?,
            number(record.port)?,
            host()?,
        )),
        "TXT" => RData::TXT(TXT::new(txt_chunks(&record.data))),
        "CAA" => RData::CAA(caa(record)?),
        "SOA" => RData::SOA(soa(domain)?),
        _ => return None,
    };
    Some(WireRecord::from_rdata(owner.clone(), record.ttl, data))
}

fn soa(domain: &Domain) -> Option<SOA> {
    let (refresh, retry, expire, minimum) = SOA_TIMERS;
    Some(SOA::new(
        Name::from_ascii(format!("{}.", NAME_SERVERS[0])).ok()?,
        Name::from_ascii(format!("hostmaster.{}.", domain.name)).ok()?,
        domain.serial,
        refresh,
        retry,
        expire,
        minimum,
    ))
}

fn caa(record: &Record) -> Option<CAA> {
    let critical = record.flags.unwrap_or_default() & 0x80 != 0;
    match record.tag.as_deref()? {
        "issue" => Some(CAA::new_issue(
            critical,
            Name::from_ascii(&record.data).ok(),
            Vec::new(),
        )),
        "issuewild" => Some(CAA::new_issuewild(
            critical,
            Name::from_ascii(&record.data).ok(),
            Vec::new(),
        )),
        "iodef" => Some(CAA::new_iodef(critical, record.data.parse().ok()?)),
        _ => None,
    }
}

fn txt_chunks(data: &str) -> Vec<String> {
    let mut chunks = Vec::new();
    let mut current = String::new();
    for character in data.chars() {
        if current.len() + character.len_utf8() > TXT_CHUNK {
            chunks.push(std::mem::take(&mut current));
        }
        current.push(character);
    }
    chunks.push(current);
    chunks
}

#[cfg(test)]
mod tests {
    use super::txt_chunks;

    #[test]
    fn long_txt_data_is_split_into_strings() {
        let data = "x".repeat(600);
        let chunks = txt_chunks(&data);
        assert_eq!(chunks.len(), 3);
        assert_eq!(chunks[0].len(), 255);
        assert_eq!(chunks.concat(), data);
    }
}
