//! The database server's option file, valid for MySQL 8 and MariaDB.

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::inventory::{Inventory, Role};
use crate::render::engine;
use crate::render::error::RenderError;
use crate::render::facts::Facts;
use crate::render::file::{RenderedFile, Validation};
use crate::render::host::Host;

/// Path of the option file on Debian's MariaDB. It is read after the
/// package's `50-server.cnf`, so its settings win.
pub const MYSQL_CONFIG_PATH: &str = "/etc/mysql/mariadb.conf.d/99-wwdtm.cnf";
pub const MYSQL_PORT: u16 = 3306;
/// The server's Unix socket on Debian and Ubuntu.
pub const MYSQL_SOCKET: &str = "/run/mysqld/mysqld.sock";

/// Smallest buffer pool wwctl sets, in MiB: MySQL's and MariaDB's default.
const MIN_BUFFER_POOL_MB: u64 = 128;
/// InnoDB resizes the buffer pool in chunks of 128 MiB by default, and
/// rounds other sizes up to whole chunks.
const BUFFER_POOL_CHUNK_MB: u64 = 128;

#[derive(Serialize)]
struct MysqlContext {
    droplet: String,
    fleet: String,
    bind_address: String,
    bind_reason: String,
    port: u16,
    max_connections: u64,
    memory_mb: u64,
    buffer_pool_mb: u64,
    buffer_pool_share: &'static str,
    buffer_pool_reason: &'static str,
    chunk_mb: u64,
    min_buffer_pool_mb: u64,
    charset: String,
    collation: String,
    sql_mode: String,
    server_id: u32,
}

/// Renders the option file of a droplet with role `database`, or returns
/// `None` for other droplets.
pub fn mysql_file(host: &Host<'_>, facts: &Facts) -> Result<Option<RenderedFile>, RenderError> {
    if !host.droplet.has_role(Role::Database) {
        return Ok(None);
    }
    check_unique_server_ids(host.inventory)?;

    let remote_apps = !host.peers_with_role(Role::App).is_empty();
    let (bind_address, bind_reason) = if remote_apps {
        (
            facts.peer_address(&host.droplet.name)?.to_string(),
            "The app servers connect over the network, on this droplet's private\n# address when it has one.".to_string(),
        )
    } else {
        (
            "127.0.0.1".to_string(),
            "The apps run on this droplet, so the server listens on localhost only.".to_string(),
        )
    };

    let dedicated = host.droplet.roles == [Role::Database];
    let buffer_pool = buffer_pool_mb(host.droplet.memory_mb, dedicated);
    let database = &host.inventory.database;
    let context = MysqlContext {
        droplet: host.droplet.name.clone(),
        fleet: host.fleet.name.clone(),
        bind_address,
        bind_reason,
        port: MYSQL_PORT,
        max_connections: database.max_connections,
        memory_mb: host.droplet.memory_mb,
        buffer_pool_mb: buffer_pool,
        buffer_pool_share: if dedicated { "Half" } else { "A quarter" },
        buffer_pool_reason: if dedicated {
            "a dedicated database server"
        } else {
            "shared with NGINX and the apps"
        },
        chunk_mb: BUFFER_POOL_CHUNK_MB,
        min_buffer_pool_mb: MIN_BUFFER_POOL_MB,
        charset: database.charset.clone(),
        collation: database.collation.clone(),
        sql_mode: database.sql_mode.clone(),
        server_id: server_id(&host.fleet.name, &host.droplet.name),
    };

    let text = engine::render("mysql/wwdtm.cnf.j2", &context)?;
    Ok(Some(
        RenderedFile::text(MYSQL_CONFIG_PATH, text).with_validation(Validation::MysqlConfig),
    ))
}

/// Sizes the InnoDB buffer pool in MiB: half the droplet's memory on a
/// dedicated database server, a quarter where NGINX and the apps share the
/// memory, rounded down to whole 128 MiB chunks, and at least 128 MiB.
pub fn buffer_pool_mb(memory_mb: u64, dedicated: bool) -> u64 {
    let share = if dedicated {
        memory_mb / 2
    } else {
        memory_mb / 4
    };
    let rounded = share / BUFFER_POOL_CHUNK_MB * BUFFER_POOL_CHUNK_MB;
    rounded.max(MIN_BUFFER_POOL_MB)
}

/// Derives a server-id for replication, stable across runs: the first four
/// bytes of SHA-256 over `fleet/droplet`, mapped into 1..=4294967295 (0 is
/// not a valid id for a replication source).
pub fn server_id(fleet: &str, droplet: &str) -> u32 {
    let digest = Sha256::digest(format!("{fleet}/{droplet}").as_bytes());
    let hash = u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]]);
    (hash % u32::MAX) + 1
}

/// Two database droplets of the inventory, in any fleet, must not share a
/// server-id, because a later fleet may replicate from an earlier one.
fn check_unique_server_ids(inventory: &Inventory) -> Result<(), RenderError> {
    let ids: Vec<(String, u32)> = inventory
        .fleets
        .values()
        .flat_map(|fleet| fleet.droplets.values())
        .filter(|droplet| droplet.has_role(Role::Database))
        .map(|droplet| {
            (
                droplet.name.clone(),
                server_id(&droplet.fleet, &droplet.name),
            )
        })
        .collect();
    first_collision(&ids).map_or(Ok(()), Err)
}

fn first_collision(ids: &[(String, u32)]) -> Option<RenderError> {
    for (index, (first, id)) in ids.iter().enumerate() {
        if let Some((second, _)) = ids[index + 1..].iter().find(|(_, other)| other == id) {
            return Some(RenderError::ServerIdCollision {
                first: first.clone(),
                second: second.clone(),
                server_id: *id,
            });
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::{buffer_pool_mb, first_collision, server_id};

    #[test]
    fn buffer_pool_follows_the_rule() {
        assert_eq!(buffer_pool_mb(4096, true), 2048);
        assert_eq!(buffer_pool_mb(2048, false), 512);
        assert_eq!(buffer_pool_mb(1024, false), 256);
        assert_eq!(buffer_pool_mb(512, false), 128);
        assert_eq!(buffer_pool_mb(3000, true), 1408);
    }

    #[test]
    fn server_id_is_stable_and_nonzero() {
        assert_eq!(
            server_id("2023", "prod-2023"),
            server_id("2023", "prod-2023")
        );
        assert_ne!(
            server_id("2023", "prod-2023"),
            server_id("2023", "staging-2023")
        );
        assert_ne!(server_id("2022", "db-2022"), 0);
    }

    #[test]
    fn server_id_collision_names_both() {
        let ids = vec![
            ("db-a".to_string(), 7),
            ("db-b".to_string(), 9),
            ("db-c".to_string(), 7),
        ];
        let error = first_collision(&ids).unwrap().to_string();
        assert!(error.contains("`db-a` and `db-c`"), "{error}");
        assert!(error.contains("server-id 7"), "{error}");
    }
}
