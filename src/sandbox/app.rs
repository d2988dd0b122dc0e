//! The running emulator: its state, host backend, and per-account runtime
//! data (settings, faults, fault RNG, request windows) that is not persisted.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rand::rngs::StdRng;

use crate::sandbox::faults::{FaultSpec, account_rng};
use crate::sandbox::hosts::HostBackend;
use crate::sandbox::ratelimit::{MinuteWindow, RequestWindow};
use crate::sandbox::settings::Settings;
use crate::sandbox::state::Store;
use crate::sandbox::token::AccountKey;

pub struct App {
    pub store: Store,
    pub backend: Arc<dyn HostBackend>,
    /// Settings of accounts that set none of their own.
    pub default_settings: Settings,
    /// Faults of accounts that set none of their own (`--faults`).
    pub default_faults: FaultSpec,
    pub fault_seed: u64,
    /// Factor applied to boot times, address delays and action durations.
    pub time_scale: f64,
    /// Base URL for pagination links, when fixed by `--public-url`.
    pub public_url: Option<String>,
    accounts: Mutex<HashMap<AccountKey, AccountRuntime>>,
    /// Public addresses of deleted droplets whose machines are still being
    /// destroyed, by droplet id. A new droplet given one of them waits.
    destroying: Mutex<HashMap<u64, std::net::Ipv4Addr>>,
}

/// The in-memory data of an account.
pub struct AccountRuntime {
    pub settings: Option<Settings>,
    pub faults: Option<FaultSpec>,
    pub rng: StdRng,
    pub requests: RequestWindow,
    /// `GET /v2/account/keys` has its own limit of 10 a minute.
    pub key_listings: MinuteWindow,
    /// Requests handled (not faulted or limited), by method, since the
    /// daemon started.
    pub handled: std::collections::BTreeMap<String, u64>,
    /// The same requests by method and route, ids replaced by `{id}`.
    pub handled_routes: std::collections::BTreeMap<String, u64>,
}

pub struct AppConfig {
    pub default_settings: Settings,
    pub default_faults: FaultSpec,
    pub fault_seed: u64,
    pub time_scale: f64,
    pub public_url: Option<String>,
}

impl App {
    pub fn new(store: Store, backend: Arc<dyn HostBackend>, config: AppConfig) -> Self {
        Self {
            store,
            backend,
            default_settings: config.default_settings,
            default_faults: config.default_faults,
            fault_seed: config.fault_seed,
            time_scale: config.time_scale,
            public_url: config.public_url,
            accounts: Mutex::new(HashMap::new()),
            destroying: Mutex::new(HashMap::new()),
        }
    }

    /// Note that the machine of droplet `id`, which held `address`, is
    /// being destroyed.
    pub fn destroy_started(&self, id: u64, address: std::net::Ipv4Addr) {
        self.lock_destroying().insert(id, address);
    }

    pub fn destroy_ended(&self, id: u64) {
        self.lock_destroying().remove(&id);
    }

    /// Returns whether a deleted droplet's machine still uses `address`.
    pub fn address_being_freed(&self, address: std::net::Ipv4Addr) -> bool {
        self.lock_destroying().values().any(|held| *held == address)
    }

    fn lock_destroying(&self) -> std::sync::MutexGuard<'_, HashMap<u64, std::net::Ipv4Addr>> {
        self.destroying
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Run `work` on an account's runtime data, creating it on first use.
    pub fn with_runtime<T>(
        &self,
        account: &AccountKey,
        work: impl FnOnce(&mut AccountRuntime) -> T,
    ) -> T {
        let mut accounts = self.lock_accounts();
        let runtime = accounts
            .entry(account.clone())
            .or_insert_with(|| AccountRuntime {
                settings: None,
                faults: None,
                rng: account_rng(self.fault_seed, &account.0),
                requests: RequestWindow::default(),
                key_listings: MinuteWindow::default(),
                handled: Default::default(),
                handled_routes: Default::default(),
            });
        work(runtime)
    }

    /// Return the settings in force for an account.
    pub fn settings(&self, account: &AccountKey) -> Settings {
        self.with_runtime(account, |runtime| runtime.settings)
            .unwrap_or(self.default_settings)
    }

    /// Take the account's one-shot `next_public_address`, clearing it.
    pub fn take_next_address(&self, account: &AccountKey) -> Option<std::net::Ipv4Addr> {
        self.with_runtime(account, |runtime| {
            runtime
                .settings
                .as_mut()
                .and_then(|settings| settings.next_public_address.take())
        })
    }

    /// Return the faults in force for an account.
    pub fn faults(&self, account: &AccountKey) -> FaultSpec {
        self.with_runtime(account, |runtime| runtime.faults.clone())
            .unwrap_or_else(|| self.default_faults.clone())
    }

    /// Return the faults of a droplet's owner, found by the account key
    /// string the state uses.
    pub fn faults_of(&self, account: &str) -> FaultSpec {
        self.faults(&AccountKey(account.to_string()))
    }

    /// Scale a real-time duration to how long it lasts in this emulator.
    pub fn scaled(&self, duration: Duration) -> Duration {
        duration.mul_f64(self.time_scale)
    }

    fn lock_accounts(&self) -> MutexGuard<'_, HashMap<AccountKey, AccountRuntime>> {
        self.accounts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
