//! Each app's Gunicorn settings, systemd unit and `config.json`.

use minijinja::Value;
use serde::Serialize;

use crate::inventory::{App, Role};
use crate::render::engine::{self, SecretValue};
use crate::render::error::RenderError;
use crate::render::facts::{Facts, Secrets};
use crate::render::file::{Contents, RenderedFile, Validation};
use crate::render::host::Host;
use crate::render::mysql::{MYSQL_PORT, MYSQL_SOCKET};
use crate::secret::Secret;

/// Parent of each app's log folder.
pub const LOG_ROOT: &str = "/var/log/wwdtm";
pub const UNIT_DIR: &str = "/etc/systemd/system";
/// Time zone the apps show dates in; the apps' own default.
const TIME_ZONE: &str = "UTC";

#[derive(Serialize)]
struct GunicornContext {
    droplet: String,
    fleet: String,
    app: String,
    service: String,
    bind: String,
    workers: u64,
    worker_class: String,
    access_log: String,
    error_log: String,
}

#[derive(Serialize)]
struct UnitContext {
    droplet: String,
    fleet: String,
    project: String,
    app: String,
    user: String,
    group: String,
    path: String,
    python: String,
    entry: String,
    log_dir: String,
    logs_directory: String,
    local_database: bool,
}

#[derive(Serialize)]
struct ConfigContext {
    database: DatabaseContext,
    time_zone: &'static str,
}

#[derive(Serialize)]
struct DatabaseContext {
    unix_socket: Option<String>,
    host: Option<String>,
    port: Option<u16>,
    user: String,
    password: Value,
    name: String,
}

/// The way the apps of a droplet reach the database.
enum Connection {
    Socket,
    Network(String),
}

/// Renders the files of every app the droplet runs, none without role `app`.
pub fn app_files(
    host: &Host<'_>,
    facts: &Facts,
    secrets: &Secrets,
) -> Result<Vec<RenderedFile>, RenderError> {
    if !host.droplet.has_role(Role::App) {
        return Ok(Vec::new());
    }
    let connection = database_connection(host, facts)?;

    let mut files = Vec::new();
    for app in &host.apps {
        files.push(gunicorn_file(host, app)?);
        files.push(unit_file(host, app, &connection)?);
        let password = secrets.database_password(&app.database_user)?;
        files.push(config_file(host, app, &connection, password)?);
    }
    Ok(files)
}

fn database_connection(host: &Host<'_>, facts: &Facts) -> Result<Connection, RenderError> {
    let Some(database) = host.database_droplet() else {
        return Err(RenderError::Inventory {
            key_path: format!("fleets/{}/droplets", host.fleet.name),
            message: format!(
                "environment `{}` of fleet `{}` has no droplet with role `database` for the apps to use",
                host.droplet.env, host.fleet.name
            ),
            hint: "give the `database` role to one droplet of the environment".to_string(),
        });
    };
    if database.name == host.droplet.name {
        return Ok(Connection::Socket);
    }
    Ok(Connection::Network(
        facts.peer_address(&database.name)?.to_string(),
    ))
}

fn log_dir(app: &App) -> String {
    format!("{LOG_ROOT}/{}", app.name)
}

fn gunicorn_file(host: &Host<'_>, app: &App) -> Result<RenderedFile, RenderError> {
    let logs = log_dir(app);
    let context = GunicornContext {
        droplet: host.droplet.name.clone(),
        fleet: host.fleet.name.clone(),
        app: app.name.clone(),
        service: app.service.clone(),
        bind: format!("unix:{}", app.socket),
        workers: app.workers,
        worker_class: app.worker_class.clone(),
        access_log: format!("{logs}/access.log"),
        error_log: format!("{logs}/error.log"),
    };
    let text = engine::render("app/gunicorn.conf.py.j2", &context)?;
    Ok(
        RenderedFile::text(format!("{}/gunicorn.conf.py", app_dir(app)), text)
            .with_validation(Validation::PythonSyntax),
    )
}

fn unit_file(
    host: &Host<'_>,
    app: &App,
    connection: &Connection,
) -> Result<RenderedFile, RenderError> {
    let logs = log_dir(app);
    let context = UnitContext {
        droplet: host.droplet.name.clone(),
        fleet: host.fleet.name.clone(),
        project: host.inventory.project.name.clone(),
        app: app.name.clone(),
        user: app.user.clone(),
        group: app.user.clone(),
        path: app_dir(app).to_string(),
        python: format!("{}/venv/bin/python", app_dir(app)),
        entry: app.entry.clone(),
        logs_directory: logs.strip_prefix("/var/log/").unwrap_or(&logs).to_string(),
        log_dir: logs,
        local_database: matches!(connection, Connection::Socket),
    };
    let text = engine::render("app/service.j2", &context)?;
    Ok(
        RenderedFile::text(format!("{UNIT_DIR}/{}.service", app.service), text)
            .with_validation(Validation::SystemdUnit),
    )
}

/// Renders `config.json` with the database connection. It contains the
/// app's password, so it is a secret file readable by the app's user only.
fn config_file(
    host: &Host<'_>,
    app: &App,
    connection: &Connection,
    password: &Secret,
) -> Result<RenderedFile, RenderError> {
    let (unix_socket, address, port) = match connection {
        Connection::Socket => (Some(MYSQL_SOCKET.to_string()), None, None),
        Connection::Network(address) => (None, Some(address.clone()), Some(MYSQL_PORT)),
    };
    let context = ConfigContext {
        database: DatabaseContext {
            unix_socket,
            host: address,
            port,
            user: app.database_user.clone(),
            password: SecretValue::value(password),
            name: host.inventory.database.name.clone(),
        },
        time_zone: TIME_ZONE,
    };

    let text = engine::render("app/config.json.j2", &context)?;
    Ok(RenderedFile {
        path: format!("{}/config.json", app_dir(app)),
        contents: Contents::Secret(Secret::new(text)),
        mode: 0o600,
        owner: app.user.clone(),
        group: app.user.clone(),
        validate: Some(Validation::Json),
    })
}

fn app_dir(app: &App) -> &str {
    app.path.trim_end_matches('/')
}
