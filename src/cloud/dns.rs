//! Domains and DNS records, and the upsert a DNS step uses: find the record
//! on any page, update it in place when it differs, and write nothing when
//! it already matches.

use std::net::{IpAddr, Ipv4Addr};

use serde::{Deserialize, Serialize};

use crate::cloud::client::{ApiRequest, ApiResponse, CloudClient, segment};
use crate::cloud::droplets::Deletion;
use crate::cloud::error::CloudError;
use crate::cloud::models::{Domain, DomainRecord, RecordSpec, RecordType};
use crate::cloud::record_name::{qualified_record_name, relative_record_name, validate_record};

/// A filter on the records of a zone. Names may be relative or qualified.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecordFilter {
    pub kind: Option<RecordType>,
    pub name: Option<String>,
}

/// The change [`CloudClient::upsert_record`] would make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordPlan {
    /// The record exists as wanted: no write.
    Unchanged(DomainRecord),
    /// The record exists with other data or TTL and is updated in place.
    Update(DomainRecord),
    /// No record of that type and name exists.
    Create,
}

/// The result of an upsert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordChange {
    Unchanged(DomainRecord),
    Updated {
        before: DomainRecord,
        after: DomainRecord,
    },
    Created(DomainRecord),
}

/// Fields to change with `PATCH`, leaving the rest as they are. The spec
/// requires the record's `type` in every PATCH body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecordPatch {
    #[serde(rename = "type")]
    pub kind: RecordType,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttl: Option<u32>,
}

#[derive(Deserialize)]
struct DomainBody {
    domain: Domain,
}

#[derive(Deserialize)]
struct RecordBody {
    domain_record: DomainRecord,
}

impl CloudClient {
    /// Returns the zone `name`, or `None` when DigitalOcean DNS does not manage it.
    pub async fn domain(&self, name: &str) -> Result<Option<Domain>, CloudError> {
        let path = format!("/v2/domains/{}", segment(&zone_name(name)));
        let request = ApiRequest::get(path, "domain:read");
        match self.fetch::<DomainBody>(&request).await {
            Ok(body) => Ok(Some(body.domain)),
            Err(error) if error.is_not_found() => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// Add the zone `name`. With `apex_ip`, the API also creates an apex A
    /// record. After an ambiguous failure the zone is looked up and adopted
    /// when this account has it, also when a retry got 422 "already exists".
    pub async fn create_domain(
        &self,
        name: &str,
        apex_ip: Option<Ipv4Addr>,
    ) -> Result<Domain, CloudError> {
        let zone = zone_name(name);
        let mut body = serde_json::json!({"name": zone});
        if let Some(address) = apex_ip {
            body["ip_address"] = serde_json::Value::String(address.to_string());
        }
        let mut request = ApiRequest::new(reqwest::Method::POST, "/v2/domains", "domain:create");
        request.body = Some(body);

        let object = format!("domain `{zone}`");
        let parse = |response: ApiResponse| Ok(response.json::<DomainBody>()?.domain);
        self.post_or_adopt(&request, &object, parse, || self.domain(&zone))
            .await
    }

    /// Returns the zone `name`, adding it first when missing.
    pub async fn ensure_domain(&self, name: &str) -> Result<Domain, CloudError> {
        match self.domain(name).await? {
            Some(domain) => Ok(domain),
            None => self.create_domain(name, None).await,
        }
    }

    /// Lists the records of `zone` that pass `filter`, from every page. The
    /// filter is applied again to the response, with names compared as
    /// [`relative_record_name`] does.
    pub async fn records(
        &self,
        zone: &str,
        filter: &RecordFilter,
    ) -> Result<Vec<DomainRecord>, CloudError> {
        let mut request = ApiRequest::get(records_path(zone), "domain:read");
        if let Some(kind) = filter.kind {
            request = request.query("type", kind);
        }
        let wanted_name = match &filter.name {
            Some(name) => {
                request = request.query("name", qualified_record_name(name, zone)?);
                Some(relative_record_name(name, zone)?)
            }
            None => None,
        };

        let records: Vec<DomainRecord> = self.list_all(request, "domain_records").await?;
        Ok(records
            .into_iter()
            .filter(|record| {
                filter
                    .kind
                    .is_none_or(|kind| record.kind.eq_ignore_ascii_case(kind.as_str()))
            })
            .filter(|record| {
                wanted_name.as_ref().is_none_or(|wanted| {
                    relative_record_name(&record.name, zone).is_ok_and(|name| &name == wanted)
                })
            })
            .collect())
    }

    /// Add the record `spec`. After an ambiguous failure the records of its
    /// type and name are listed, and one with the same data is adopted in
    /// place of posting again.
    pub async fn create_record(
        &self,
        zone: &str,
        spec: &RecordSpec,
    ) -> Result<DomainRecord, CloudError> {
        let body = relative_spec(spec, zone)?;
        let request = ApiRequest::new(reqwest::Method::POST, records_path(zone), "domain:create")
            .json(&body)?;

        let object = format!(
            "{} record `{}`",
            spec.kind,
            qualified_record_name(&spec.name, zone)?
        );
        let parse = |response: ApiResponse| Ok(response.json::<RecordBody>()?.domain_record);
        self.post_or_adopt(&request, &object, parse, || {
            self.find_same_record(zone, spec)
        })
        .await
    }

    /// Returns a record of `spec`'s type and name whose data, TTL and other
    /// fields match it (see [`record_matches`]).
    async fn find_same_record(
        &self,
        zone: &str,
        spec: &RecordSpec,
    ) -> Result<Option<DomainRecord>, CloudError> {
        let filter = RecordFilter {
            kind: Some(spec.kind),
            name: Some(spec.name.clone()),
        };
        let records = self.records(zone, &filter).await?;
        Ok(records
            .into_iter()
            .find(|record| record_matches(record, spec, zone)))
    }

    /// Replace a record's fields with `PUT`.
    pub async fn update_record(
        &self,
        zone: &str,
        record_id: u64,
        spec: &RecordSpec,
    ) -> Result<DomainRecord, CloudError> {
        let body = relative_spec(spec, zone)?;
        let path = format!("{}/{record_id}", records_path(zone));
        let request = ApiRequest::new(reqwest::Method::PUT, path, "domain:update").json(&body)?;
        let body: RecordBody = self.fetch(&request).await?;
        Ok(body.domain_record)
    }

    /// Change some fields of a record with `PATCH`, such as the TTL alone.
    pub async fn patch_record(
        &self,
        zone: &str,
        record_id: u64,
        patch: &RecordPatch,
    ) -> Result<DomainRecord, CloudError> {
        if let Some(ttl) = patch.ttl {
            crate::cloud::record_name::validate_ttl(&format!("record {record_id}"), ttl)?;
        }
        let path = format!("{}/{record_id}", records_path(zone));
        let request = ApiRequest::new(reqwest::Method::PATCH, path, "domain:update").json(patch)?;
        let body: RecordBody = self.fetch(&request).await?;
        Ok(body.domain_record)
    }

    /// Delete a record by id; 404 is [`Deletion::AlreadyGone`].
    pub async fn delete_record(&self, zone: &str, record_id: u64) -> Result<Deletion, CloudError> {
        let path = format!("{}/{record_id}", records_path(zone));
        let request = ApiRequest::new(reqwest::Method::DELETE, path, "domain:delete");
        self.delete(&request).await
    }

    /// Plans what [`Self::upsert_record`] would do, reading only.
    pub async fn plan_record(
        &self,
        zone: &str,
        spec: &RecordSpec,
    ) -> Result<RecordPlan, CloudError> {
        validate_record(spec, zone)?;
        let filter = RecordFilter {
            kind: Some(spec.kind),
            name: Some(spec.name.clone()),
        };
        let existing = self.records(zone, &filter).await?;
        plan_record_change(spec, zone, &existing)
    }

    /// Make the record `spec` exist: create it when missing, update it in
    /// place when it differs, and send no write when it matches. A create
    /// that fails ambiguously adopts as [`Self::create_record`] does.
    pub async fn upsert_record(
        &self,
        zone: &str,
        spec: &RecordSpec,
    ) -> Result<RecordChange, CloudError> {
        match self.plan_record(zone, spec).await? {
            RecordPlan::Unchanged(record) => Ok(RecordChange::Unchanged(record)),
            RecordPlan::Update(before) => {
                let after = self.update_record(zone, before.id, spec).await?;
                Ok(RecordChange::Updated { before, after })
            }
            RecordPlan::Create => Ok(RecordChange::Created(self.create_record(zone, spec).await?)),
        }
    }
}

/// Compare `spec` with the records of its type and name. More than one is
/// an error: the client cannot tell which one the step owns.
pub fn plan_record_change(
    spec: &RecordSpec,
    zone: &str,
    existing: &[DomainRecord],
) -> Result<RecordPlan, CloudError> {
    let wanted_name = relative_record_name(&spec.name, zone)?;
    let same: Vec<&DomainRecord> = existing
        .iter()
        .filter(|record| record.kind.eq_ignore_ascii_case(spec.kind.as_str()))
        .filter(|record| {
            relative_record_name(&record.name, zone).is_ok_and(|name| name == wanted_name)
        })
        .collect();

    match same.as_slice() {
        [] => Ok(RecordPlan::Create),
        [record] if record_matches(record, spec, zone) => {
            Ok(RecordPlan::Unchanged((*record).clone()))
        }
        [record] => Ok(RecordPlan::Update((*record).clone())),
        records => Err(CloudError::Ambiguous {
            what: "records",
            name: format!("{} {}", spec.kind, qualified_record_name(&spec.name, zone)?),
            count: records.len(),
            ids: records.iter().map(|record| record.id.to_string()).collect(),
            hint: "delete the extra records in the DigitalOcean control panel, then rerun",
        }),
    }
}

/// Returns whether an existing record already is `spec`: same data (addresses and
/// host names compared by meaning), same TTL, and the same priority, port,
/// weight, flags and tag where `spec` sets them.
pub fn record_matches(record: &DomainRecord, spec: &RecordSpec, zone: &str) -> bool {
    let data_matches = record
        .data
        .as_deref()
        .is_some_and(|data| same_data(spec.kind, data, &spec.data, zone));
    let optional_matches =
        |wanted: Option<u32>, actual: Option<u32>| wanted.is_none() || wanted == actual;

    data_matches
        && record.ttl == Some(spec.ttl)
        && optional_matches(spec.priority, record.priority)
        && optional_matches(spec.port, record.port)
        && optional_matches(spec.weight, record.weight)
        && optional_matches(spec.flags, record.flags)
        && (spec.tag.is_none() || spec.tag == record.tag)
}

fn same_data(kind: RecordType, left: &str, right: &str, zone: &str) -> bool {
    if matches!(kind, RecordType::A | RecordType::AAAA) {
        return match (
            left.trim().parse::<IpAddr>(),
            right.trim().parse::<IpAddr>(),
        ) {
            (Ok(left), Ok(right)) => left == right,
            _ => false,
        };
    }
    if kind.data_is_host_name() {
        let host = |name: &str| {
            let name = name.trim().trim_end_matches('.').to_ascii_lowercase();
            if name == "@" {
                zone.trim_end_matches('.').to_ascii_lowercase()
            } else {
                name
            }
        };
        return host(left) == host(right);
    }
    left == right
}

fn relative_spec(spec: &RecordSpec, zone: &str) -> Result<RecordSpec, CloudError> {
    validate_record(spec, zone)?;
    let mut relative = spec.clone();
    relative.name = relative_record_name(&spec.name, zone)?;
    relative.data = spec.data.trim().to_string();
    Ok(relative)
}

fn records_path(zone: &str) -> String {
    format!("/v2/domains/{}/records", segment(&zone_name(zone)))
}

/// Normalises a zone name as the API writes it: lowercase, without a
/// trailing dot.
fn zone_name(zone: &str) -> String {
    zone.trim().trim_end_matches('.').to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::{RecordPlan, plan_record_change};
    use crate::cloud::models::{DomainRecord, RecordSpec, RecordType};

    fn record(id: u64, kind: &str, name: &str, data: &str, ttl: u32) -> DomainRecord {
        DomainRecord {
            id,
            kind: kind.to_string(),
            name: name.to_string(),
            data: Some(data.to_string()),
            ttl: Some(ttl),
            priority: None,
            port: None,
            weight: None,
            flags: None,
            tag: None,
        }
    }

    #[test]
    fn apex_written_as_zone_matches_at_sign() {
        let existing = [record(7, "A", "@", "192.0.2.10", 1800)];
        let spec = RecordSpec::new(RecordType::A, "wwdt.me.", "192.0.2.10", 1800);
        let plan = plan_record_change(&spec, "wwdt.me", &existing).unwrap();
        assert_eq!(plan, RecordPlan::Unchanged(existing[0].clone()));
    }

    #[test]
    fn other_ttl_or_data_is_an_update() {
        let existing = [
            record(7, "A", "www", "192.0.2.10", 1800),
            record(8, "AAAA", "www", "2001:db8::1", 1800),
        ];
        let ttl = RecordSpec::new(RecordType::A, "www", "192.0.2.10", 300);
        assert_eq!(
            plan_record_change(&ttl, "wwdt.me", &existing).unwrap(),
            RecordPlan::Update(existing[0].clone())
        );
        let data = RecordSpec::new(RecordType::A, "www.wwdt.me", "192.0.2.11", 1800);
        assert_eq!(
            plan_record_change(&data, "wwdt.me", &existing).unwrap(),
            RecordPlan::Update(existing[0].clone())
        );
    }

    #[test]
    fn cname_data_compares_host_names() {
        let existing = [record(9, "CNAME", "www", "WWDT.me.", 1800)];
        let spec = RecordSpec::new(RecordType::CNAME, "www", "@", 1800);
        assert_eq!(
            plan_record_change(&spec, "wwdt.me", &existing).unwrap(),
            RecordPlan::Unchanged(existing[0].clone())
        );
    }

    #[test]
    fn duplicate_records_are_ambiguous() {
        let existing = [
            record(1, "A", "www", "192.0.2.10", 1800),
            record(2, "A", "www", "192.0.2.10", 1800),
        ];
        let spec = RecordSpec::new(RecordType::A, "www", "192.0.2.10", 1800);
        let error = plan_record_change(&spec, "wwdt.me", &existing).unwrap_err();
        assert!(error.to_string().contains("ids 1, 2"), "{error}");
    }

    #[test]
    fn missing_record_is_created() {
        let existing = [record(1, "A", "@", "192.0.2.10", 1800)];
        let spec = RecordSpec::new(RecordType::A, "www", "192.0.2.10", 1800);
        assert_eq!(
            plan_record_change(&spec, "wwdt.me", &existing).unwrap(),
            RecordPlan::Create
        );
    }
}
