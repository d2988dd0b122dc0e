//! Remote execution over SSH: pinned host keys, one multiplexed connection
//! per server, commands as argument vectors, change-aware file sync.

pub mod error;
pub mod host;
pub mod host_keys;
pub mod keyscan;
pub mod known_hosts;
pub mod quote;
pub mod settings;

pub use error::RemoteError;
pub use host::{Cmd, Host, Output, Target};
pub use settings::SshSettings;
pub mod packages;
pub mod pool;
pub mod readiness;
pub mod runner;
pub mod services;
pub mod sync;
