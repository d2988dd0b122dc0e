//! The emulator's state and its file. Every change is written atomically
//! before the API responds, so a restarted emulator keeps everything.

pub mod addresses;
pub mod model;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use anyhow::Context;

use crate::error::HintExt;
use crate::sandbox::folder::write_atomic;
use crate::sandbox::token::AccountKey;

pub use model::World;
use model::{Account, FORMAT};

/// The state could not be written to disk; the change is kept in memory.
#[derive(Debug, thiserror::Error)]
#[error("cannot save the sandbox state: {0:#}")]
pub struct PersistFailed(pub anyhow::Error);

pub struct Store {
    world: Mutex<World>,
    path: PathBuf,
    /// Raised on every change; the writer skips snapshots older than the
    /// one on disk.
    generation: AtomicU64,
    written: Mutex<u64>,
}

impl Store {
    /// Load the state file, or start empty when there is none.
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        let world = match std::fs::read(path) {
            Ok(bytes) => parse(path, &bytes)?,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => World::default(),
            Err(error) => {
                return Err(error).with_context(|| {
                    format!("cannot read the sandbox state `{}`", path.display())
                });
            }
        };
        Ok(Self {
            world: Mutex::new(world),
            path: path.to_path_buf(),
            generation: AtomicU64::new(0),
            written: Mutex::new(0),
        })
    }

    /// Read the state.
    pub fn read<T>(&self, read: impl FnOnce(&World) -> T) -> T {
        read(&self.lock())
    }

    /// Change the state and save it. A change that returns an error is
    /// rolled back, so a failed request leaves no trace.
    pub fn update<T, E: From<PersistFailed>>(
        &self,
        change: impl FnOnce(&mut World) -> Result<T, E>,
    ) -> Result<T, E> {
        let mut world = self.lock();
        let before = world.clone();
        let value = match change(&mut world) {
            Ok(value) => value,
            Err(error) => {
                *world = before;
                return Err(error);
            }
        };
        let generation = self.generation.fetch_add(1, Ordering::SeqCst) + 1;
        let bytes = serde_json::to_vec(&*world)
            .context("cannot serialize the state")
            .map_err(PersistFailed)?;
        drop(world);

        self.save(generation, &bytes)?;
        Ok(value)
    }

    /// Write a snapshot unless a newer one is already on disk.
    fn save(&self, generation: u64, bytes: &[u8]) -> Result<(), PersistFailed> {
        let mut written = self
            .written
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if *written >= generation {
            return Ok(());
        }
        write_atomic(&self.path, bytes, 0o600).map_err(PersistFailed)?;
        *written = generation;
        Ok(())
    }

    fn lock(&self) -> MutexGuard<'_, World> {
        self.world
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl World {
    /// Return the account of a key, opened empty on first use.
    pub fn account_mut(&mut self, key: &AccountKey) -> &mut Account {
        self.accounts
            .entry(key.0.clone())
            .or_insert_with(|| Account::new(random_uuid(), jiff::Timestamp::now()))
    }

    pub fn account(&self, key: &AccountKey) -> Option<&Account> {
        self.accounts.get(&key.0)
    }

    /// Find the key of the account that owns a domain, across all accounts.
    pub fn domain_owner(&self, name: &str) -> Option<&str> {
        self.accounts
            .iter()
            .find(|(_, account)| account.domains.contains_key(name))
            .map(|(key, _)| key.as_str())
    }
}

fn parse(path: &Path, bytes: &[u8]) -> anyhow::Result<World> {
    let world: World = serde_json::from_slice(bytes)
        .with_context(|| format!("the sandbox state `{}` is not valid", path.display()))
        .hint("move the file away to start the sandbox with an empty cloud")?;
    if world.format != FORMAT {
        return Err(anyhow::anyhow!(
            "the sandbox state `{}` has format {}, and this wwctl reads format {FORMAT}",
            path.display(),
            world.format
        ))
        .hint("use the wwctl that wrote it, or move the file away to start empty");
    }
    Ok(world)
}

/// Generate a random version-4 UUID, as the API uses for ids of accounts,
/// firewalls, VPCs and requests.
pub fn random_uuid() -> String {
    let mut bytes: [u8; 16] = rand::random();
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex = hex::encode(bytes);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}
