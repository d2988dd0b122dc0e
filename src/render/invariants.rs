//! Inventory values the templates rely on. The inventory loader already
//! rejects most bad values. An inventory built or changed in code skips the
//! loader, so rendering checks again and names the key path.

use crate::inventory::{App, Database, Droplet, Inventory, Site};
use crate::render::error::RenderError;

/// The location NGINX itself responds to, so an app's health check must not
/// reuse it.
pub const NGINX_HEALTH_PATH: &str = "/nginx-health";

pub fn check_droplet(droplet: &Droplet) -> Result<(), RenderError> {
    if droplet.memory_mb == 0 {
        return Err(RenderError::Inventory {
            key_path: key(&droplet.origin.key_path, "memory_mb"),
            message: "memory_mb is 0, so the MySQL buffer pool cannot be sized".to_string(),
            hint: "set the droplet's memory in MiB, such as 2048, or remove the key to read it from the size slug".to_string(),
        });
    }
    Ok(())
}

pub fn check_site<'a>(inventory: &'a Inventory, site: &Site) -> Result<&'a App, RenderError> {
    inventory
        .apps
        .get(&site.app)
        .ok_or_else(|| RenderError::Inventory {
            key_path: key(&site.origin.key_path, "app"),
            message: format!(
                "site `{}` names app `{}`, which is not defined under `apps`",
                site.name, site.app
            ),
            hint: crate::suggest::hint_for(&site.app, inventory.apps.keys().map(String::as_str)),
        })
}

pub fn check_app(app: &App) -> Result<(), RenderError> {
    if !app.health_path.starts_with('/') || app.health_path == NGINX_HEALTH_PATH {
        return Err(RenderError::Inventory {
            key_path: key(&app.origin.key_path, "health_path"),
            message: format!(
                "health path `{}` must start with `/` and differ from `{NGINX_HEALTH_PATH}`, which NGINX answers itself",
                app.health_path
            ),
            hint: "use the app's own health route, such as `/health`".to_string(),
        });
    }
    Ok(())
}

/// Charset, collation and SQL mode go into an option file unquoted, so they
/// may only hold the characters MySQL uses for these names.
pub fn check_database(database: &Database) -> Result<(), RenderError> {
    let fields = [
        ("charset", &database.charset, false),
        ("collation", &database.collation, false),
        ("sql_mode", &database.sql_mode, true),
    ];
    for (field, value, commas) in fields {
        let valid = !value.is_empty()
            && value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || (commas && c == ','));
        if !valid {
            return Err(RenderError::Inventory {
                key_path: format!("database/{field}"),
                message: format!("`{value}` is not a valid {field}"),
                hint: if commas {
                    "list SQL modes separated by commas, such as `STRICT_TRANS_TABLES,NO_ENGINE_SUBSTITUTION`".to_string()
                } else {
                    "use letters, digits and `_`, such as `utf8mb4`".to_string()
                },
            });
        }
    }
    Ok(())
}

fn key(base: &str, field: &str) -> String {
    if base.is_empty() {
        field.to_string()
    } else {
        format!("{base}/{field}")
    }
}
