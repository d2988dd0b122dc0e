//! The errors rendering can return.

use crate::render::lint::Finding;

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// An inventory value breaks an invariant the templates rely on.
    #[error("{key_path}: {message}")]
    Inventory {
        key_path: String,
        message: String,
        hint: String,
    },

    #[error("unknown fleet `{fleet}`")]
    UnknownFleet { fleet: String, hint: String },

    #[error("droplet `{droplet}` is not in fleet `{fleet}`")]
    UnknownDroplet {
        fleet: String,
        droplet: String,
        hint: String,
    },

    #[error("no IPv4 address is known for droplet `{droplet}`")]
    MissingAddress { droplet: String },

    #[error("no password is given for database user `{user}`")]
    MissingPassword { user: String },

    #[error("template `{name}` failed to render: {message}")]
    Template { name: String, message: String },

    #[error("the rendered NGINX configuration of `{droplet}` fails {} check(s):\n{}", findings.len(), list(findings))]
    Lint {
        droplet: String,
        findings: Vec<Finding>,
    },

    #[error(
        "droplets `{first}` and `{second}` get the same MySQL server-id {server_id}, which breaks replication between them"
    )]
    ServerIdCollision {
        first: String,
        second: String,
        server_id: u32,
    },

    #[error(
        "the cloud-init user data of `{droplet}` is {size} bytes, over DigitalOcean's limit of {limit} bytes"
    )]
    UserDataTooLarge {
        droplet: String,
        size: usize,
        limit: usize,
    },

    #[error("too many droplets for placeholder addresses: {count} (at most {max})")]
    TooManyPlaceholders { count: usize, max: usize },
}

impl RenderError {
    /// Returns what the user can do about the error.
    pub fn hint(&self) -> Option<String> {
        match self {
            RenderError::Inventory { hint, .. }
            | RenderError::UnknownFleet { hint, .. }
            | RenderError::UnknownDroplet { hint, .. } => Some(hint.clone()),
            RenderError::MissingAddress { droplet } => Some(format!(
                "create droplet `{droplet}` first, or render offline with placeholder addresses"
            )),
            RenderError::MissingPassword { user } => Some(format!(
                "give the password of `{user}` to the renderer; it is created with the database users"
            )),
            RenderError::Template { .. } => {
                Some("this is a bug in wwctl's templates; please report it".to_string())
            }
            RenderError::Lint { .. } => Some(
                "fix the inventory value or template that produced the directive; wwctl writes no configuration that fails these checks".to_string(),
            ),
            RenderError::ServerIdCollision { .. } => {
                Some("rename one of the droplets; the server-id is derived from the fleet and droplet name".to_string())
            }
            RenderError::UserDataTooLarge { .. } => Some(
                "put fewer or shorter SSH keys in the user data, or install the extra files after the droplet boots".to_string(),
            ),
            RenderError::TooManyPlaceholders { .. } => None,
        }
    }
}

fn list(findings: &[Finding]) -> String {
    findings
        .iter()
        .map(|finding| format!("  - {finding}"))
        .collect::<Vec<_>>()
        .join("\n")
}

impl From<minijinja::Error> for RenderError {
    fn from(error: minijinja::Error) -> Self {
        let name = error.name().unwrap_or("(unnamed)").to_string();
        let mut message = error.to_string();
        if let Some(line) = error.line() {
            message = format!("{message} (line {line})");
        }
        RenderError::Template { name, message }
    }
}
