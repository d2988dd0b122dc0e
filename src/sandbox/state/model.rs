//! The emulated cloud's persisted state: accounts and what they own.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use indexmap::IndexMap;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// The version of the state file's layout.
pub const FORMAT: u32 = 1;

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct World {
    pub format: u32,
    pub counters: Counters,
    pub cursors: AddressCursors,
    /// Accounts by the hex SHA-256 of their token.
    pub accounts: BTreeMap<String, Account>,
}

impl Default for World {
    fn default() -> Self {
        Self {
            format: FORMAT,
            counters: Counters::default(),
            cursors: AddressCursors::default(),
            accounts: BTreeMap::new(),
        }
    }
}

/// The last id handed out for each kind of object, shared by all accounts
/// as on the real service.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Counters {
    pub droplet: u64,
    pub action: u64,
    pub image: u64,
    pub record: u64,
    pub ssh_key: u64,
}

impl Default for Counters {
    /// Starting points of the size real ids have. Action ids start above
    /// `i32::MAX`, as DigitalOcean's do, so a client that stores them in
    /// 32 bits fails here too.
    fn default() -> Self {
        Self {
            droplet: 400_000_000,
            action: 2_300_000_000,
            image: 180_000_000,
            record: 1_700_000_000,
            ssh_key: 41_000_000,
        }
    }
}

impl Counters {
    pub fn next_droplet(&mut self) -> u64 {
        self.droplet += 1;
        self.droplet
    }

    pub fn next_action(&mut self) -> u64 {
        self.action += 1;
        self.action
    }

    pub fn next_image(&mut self) -> u64 {
        self.image += 1;
        self.image
    }

    pub fn next_record(&mut self) -> u64 {
        self.record += 1;
        self.record
    }

    pub fn next_ssh_key(&mut self) -> u64 {
        self.ssh_key += 1;
        self.ssh_key
    }
}

/// The start points of the next address searches, so that freed addresses
/// are not handed out again at once.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct AddressCursors {
    pub public: u32,
    pub private: u32,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Account {
    pub uuid: String,
    pub created_at: Timestamp,
    pub droplets: BTreeMap<u64, Droplet>,
    pub actions: BTreeMap<u64, Action>,
    pub snapshots: BTreeMap<u64, Snapshot>,
    pub ssh_keys: BTreeMap<u64, SshKey>,
    /// Tags by canonical name, in creation order.
    pub tags: IndexMap<String, Tag>,
    /// Firewalls by id, in creation order.
    pub firewalls: IndexMap<String, Firewall>,
    /// Domains by name.
    pub domains: BTreeMap<String, Domain>,
}

impl Account {
    pub fn new(uuid: String, created_at: Timestamp) -> Self {
        Self {
            uuid,
            created_at,
            droplets: BTreeMap::new(),
            actions: BTreeMap::new(),
            snapshots: BTreeMap::new(),
            ssh_keys: BTreeMap::new(),
            tags: IndexMap::new(),
            firewalls: IndexMap::new(),
            domains: BTreeMap::new(),
        }
    }

    /// Find the canonical spelling of a tag, case-insensitively.
    pub fn canonical_tag(&self, name: &str) -> Option<&str> {
        self.tags
            .keys()
            .find(|tag| tag.eq_ignore_ascii_case(name))
            .map(String::as_str)
    }

    /// Return the in-progress action of a droplet, if any.
    pub fn pending_action(&self, droplet_id: u64) -> Option<&Action> {
        self.actions.values().find(|action| {
            action.droplet_id == droplet_id && action.status == ActionStatus::InProgress
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DropletStatus {
    New,
    Active,
    Off,
    Archive,
}

impl DropletStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DropletStatus::New => "new",
            DropletStatus::Active => "active",
            DropletStatus::Off => "off",
            DropletStatus::Archive => "archive",
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Droplet {
    pub id: u64,
    pub name: String,
    pub status: DropletStatus,
    pub locked: bool,
    pub created_at: Timestamp,
    pub size_slug: String,
    pub region_slug: String,
    pub image: ImageInfo,
    pub tags: Vec<String>,
    pub vpc_uuid: String,
    pub features: Vec<String>,
    /// Held from the create on, shown in `networks` only once visible.
    pub public_ipv4: Ipv4Addr,
    pub private_ipv4: Ipv4Addr,
    pub networks_visible: bool,
    /// When the addresses become visible; set when the droplet turns active.
    pub networks_due_at: Option<Timestamp>,
    pub snapshot_ids: Vec<u64>,
    pub create_action_id: u64,
    /// Public keys of the SSH keys named at create, for the host's root.
    pub authorized_keys: Vec<String>,
    pub user_data: Option<String>,
    /// A droplet without a lab host: it exists in the API only, created
    /// while the account's `hostless_droplets` setting was on.
    #[serde(default)]
    pub hostless: bool,
}

/// The image a droplet was created from, frozen at create time.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ImageInfo {
    pub id: u64,
    pub name: String,
    pub slug: Option<String>,
    pub distribution: String,
    pub public: bool,
    pub kind: String,
    pub min_disk_size: u64,
    pub size_gigabytes: f64,
    pub created_at: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ActionStatus {
    InProgress,
    Completed,
    Errored,
}

impl ActionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ActionStatus::InProgress => "in-progress",
            ActionStatus::Completed => "completed",
            ActionStatus::Errored => "errored",
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Action {
    pub id: u64,
    /// `create`, `shutdown`, `power_off`, `power_on` or `snapshot`.
    pub kind: String,
    pub status: ActionStatus,
    pub started_at: Timestamp,
    pub completed_at: Option<Timestamp>,
    /// The earliest time the action may complete.
    pub due_at: Timestamp,
    pub droplet_id: u64,
    pub region_slug: String,
    /// For a snapshot action: the id and name the snapshot gets.
    pub snapshot: Option<PendingSnapshot>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PendingSnapshot {
    pub id: u64,
    pub name: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Snapshot {
    pub id: u64,
    pub name: String,
    pub created_at: Timestamp,
    pub droplet_id: u64,
    pub region_slug: String,
    pub min_disk_size: u64,
    pub size_gigabytes: f64,
    pub tags: Vec<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SshKey {
    pub id: u64,
    pub name: String,
    pub public_key: String,
    pub fingerprint: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Tag {
    pub name: String,
    /// The droplet tagged last, for `last_tagged_uri`.
    pub last_tagged_droplet: Option<u64>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Firewall {
    pub id: String,
    pub name: String,
    pub created_at: Timestamp,
    /// Until this time the firewall is `waiting` with pending changes.
    pub applied_at: Timestamp,
    pub droplet_ids: Vec<u64>,
    pub tags: Vec<String>,
    pub inbound_rules: Vec<InboundRule>,
    pub outbound_rules: Vec<OutboundRule>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InboundRule {
    pub protocol: String,
    pub ports: String,
    pub sources: RuleTargets,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OutboundRule {
    pub protocol: String,
    pub ports: String,
    pub destinations: RuleTargets,
}

/// The sources or destinations of a firewall rule. Empty lists are left
/// out of the API's responses, as DigitalOcean does.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RuleTargets {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub droplet_ids: Vec<u64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub load_balancer_uids: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kubernetes_ids: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Domain {
    pub name: String,
    /// The zone's default TTL.
    pub ttl: u32,
    /// The SOA serial, raised on every change of the zone.
    pub serial: u32,
    pub created_at: Timestamp,
    pub records: BTreeMap<u64, Record>,
}

impl Domain {
    /// Raise the SOA serial after a change.
    pub fn touch(&mut self) {
        self.serial = self.serial.wrapping_add(1);
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub id: u64,
    /// `A`, `AAAA`, `CAA`, `CNAME`, `MX`, `NS`, `SOA`, `SRV` or `TXT`.
    pub kind: String,
    /// Relative to the zone; `@` is the apex.
    pub name: String,
    pub data: String,
    pub priority: Option<u32>,
    pub port: Option<u32>,
    pub weight: Option<u32>,
    pub flags: Option<u32>,
    pub tag: Option<String>,
    pub ttl: u32,
}
