//! The part of cloud-config that wwctl uses, read from a droplet's user
//! data: `ssh_keys`, `users`, `write_files`, `bootcmd`, `runcmd` and
//! `packages`. Other keys are reported as not applied.

use std::collections::BTreeMap;

use base64::Engine;
use serde_json::Value;

/// The kinds of user data.
#[derive(Debug, Default, PartialEq)]
pub enum UserData {
    /// No user data.
    #[default]
    Empty,
    /// A `#cloud-config` document.
    CloudConfig(Box<CloudConfig>),
    /// A script (`#!` first line), run like `runcmd`.
    Script(String),
}

/// A parsed `#cloud-config` document.
#[derive(Debug, Default, PartialEq)]
pub struct CloudConfig {
    /// Host keys by cloud-init's key name (`ed25519_private`, `rsa_public`).
    pub ssh_keys: BTreeMap<String, String>,
    pub users: Vec<UserSpec>,
    pub write_files: Vec<WriteFile>,
    pub bootcmd: Vec<String>,
    pub runcmd: Vec<String>,
    pub packages: Vec<String>,
    /// Top-level keys the lab does not apply.
    pub ignored_keys: Vec<String>,
}

#[derive(Debug, Default, PartialEq)]
pub struct UserSpec {
    pub name: String,
    pub ssh_authorized_keys: Vec<String>,
    /// sudoers rules for the user (`ALL=(ALL) NOPASSWD:ALL`).
    pub sudo: Vec<String>,
    pub shell: Option<String>,
    pub groups: Vec<String>,
    pub gecos: Option<String>,
    pub homedir: Option<String>,
    pub system: bool,
}

#[derive(Debug, PartialEq)]
pub struct WriteFile {
    pub path: String,
    pub content: Vec<u8>,
    pub permissions: u32,
    pub owner: String,
    pub append: bool,
    pub defer: bool,
}

/// A cloud-config error naming the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("user data: {0}")]
pub struct ConfigError(pub String);

/// Keys the lab applies or deliberately treats as done.
const KNOWN_KEYS: &[&str] = &[
    "ssh_keys",
    "users",
    "write_files",
    "bootcmd",
    "runcmd",
    "packages",
    "package_update",
    "package_upgrade",
    "package_reboot_if_required",
    "ssh_deletekeys",
    "ssh_genkeytypes",
    "disable_root",
    "ssh_pwauth",
    "preserve_hostname",
    "manage_etc_hosts",
    "hostname",
    "fqdn",
];

/// Parse user data: a `#cloud-config` YAML document, a `#!` script or
/// nothing.
pub fn parse(text: &str) -> Result<UserData, ConfigError> {
    let trimmed = text.trim_start();
    if trimmed.is_empty() {
        return Ok(UserData::Empty);
    }
    if trimmed.starts_with("#!") {
        return Ok(UserData::Script(text.to_string()));
    }
    let first_line = trimmed.lines().next().unwrap_or_default().trim_end();
    if first_line != "#cloud-config" {
        return Err(ConfigError(format!(
            "the first line `{first_line}` is neither `#cloud-config` nor a `#!` script line"
        )));
    }

    let document: Value = serde_saphyr::from_str(text)
        .map_err(|error| ConfigError(format!("invalid YAML: {error}")))?;
    let Value::Object(map) = document else {
        if document.is_null() {
            return Ok(UserData::CloudConfig(Box::default()));
        }
        return Err(ConfigError(
            "the cloud-config document is not a mapping".into(),
        ));
    };

    let mut config = CloudConfig::default();
    for (key, value) in &map {
        match key.as_str() {
            "ssh_keys" => config.ssh_keys = string_map(key, value)?,
            "users" => config.users = users(value)?,
            "write_files" => config.write_files = write_files(value)?,
            "bootcmd" => config.bootcmd = commands(key, value)?,
            "runcmd" => config.runcmd = commands(key, value)?,
            "packages" => config.packages = packages(value)?,
            other if KNOWN_KEYS.contains(&other) => {}
            other => config.ignored_keys.push(other.to_string()),
        }
    }
    Ok(UserData::CloudConfig(Box::new(config)))
}

fn string_map(key: &str, value: &Value) -> Result<BTreeMap<String, String>, ConfigError> {
    let Value::Object(map) = value else {
        return Err(ConfigError(format!("`{key}` must be a mapping")));
    };
    map.iter()
        .map(|(name, text)| match text {
            Value::String(text) => Ok((name.clone(), text.clone())),
            _ => Err(ConfigError(format!("`{key}.{name}` must be a string"))),
        })
        .collect()
}

fn string_list(key: &str, value: &Value) -> Result<Vec<String>, ConfigError> {
    match value {
        Value::Null => Ok(Vec::new()),
        Value::String(text) => Ok(text
            .split(',')
            .map(str::trim)
            .filter(|part| !part.is_empty())
            .map(str::to_string)
            .collect()),
        Value::Array(items) => items
            .iter()
            .map(|item| match item {
                Value::String(text) => Ok(text.clone()),
                _ => Err(ConfigError(format!(
                    "every item of `{key}` must be a string"
                ))),
            })
            .collect(),
        _ => Err(ConfigError(format!(
            "`{key}` must be a string or a list of strings"
        ))),
    }
}

fn users(value: &Value) -> Result<Vec<UserSpec>, ConfigError> {
    let Value::Array(items) = value else {
        return Err(ConfigError("`users` must be a list".into()));
    };
    let mut users = Vec::new();
    for (index, item) in items.iter().enumerate() {
        let key = format!("users[{index}]");
        let map = match item {
            // The image's default user; DigitalOcean's images log in as root.
            Value::String(name) if name == "default" => continue,
            Value::String(name) => {
                users.push(UserSpec {
                    name: name.clone(),
                    ..UserSpec::default()
                });
                continue;
            }
            Value::Object(map) => map,
            _ => return Err(ConfigError(format!("`{key}` must be a mapping or a name"))),
        };
        let name = match map.get("name") {
            Some(Value::String(name)) if !name.is_empty() => name.clone(),
            _ => return Err(ConfigError(format!("`{key}.name` is missing"))),
        };
        let text = |field: &str| match map.get(field) {
            Some(Value::String(text)) => Ok(Some(text.clone())),
            None | Some(Value::Null) => Ok(None),
            Some(_) => Err(ConfigError(format!("`{key}.{field}` must be a string"))),
        };
        // A sudo rule contains commas of its own, so a string is one rule.
        let sudo = match map.get("sudo") {
            None | Some(Value::Null) | Some(Value::Bool(false)) => Vec::new(),
            Some(Value::String(rule)) => vec![rule.clone()],
            Some(value @ Value::Array(_)) => string_list(&format!("{key}.sudo"), value)?,
            Some(_) => {
                return Err(ConfigError(format!(
                    "`{key}.sudo` must be a rule, a list of rules or false"
                )));
            }
        };
        users.push(UserSpec {
            ssh_authorized_keys: match map.get("ssh_authorized_keys") {
                Some(value) => string_list(&format!("{key}.ssh_authorized_keys"), value)?,
                None => Vec::new(),
            },
            sudo,
            shell: text("shell")?,
            groups: match map.get("groups") {
                Some(value) => string_list(&format!("{key}.groups"), value)?,
                None => Vec::new(),
            },
            gecos: text("gecos")?,
            homedir: text("homedir")?,
            system: matches!(map.get("system"), Some(Value::Bool(true))),
            name,
        });
    }
    Ok(users)
}

fn write_files(value: &Value) -> Result<Vec<WriteFile>, ConfigError> {
    let Value::Array(items) = value else {
        return Err(ConfigError("`write_files` must be a list".into()));
    };
    items
        .iter()
        .enumerate()
        .map(|(index, item)| write_file(&format!("write_files[{index}]"), item))
        .collect()
}

fn write_file(key: &str, item: &Value) -> Result<WriteFile, ConfigError> {
    let Value::Object(map) = item else {
        return Err(ConfigError(format!("`{key}` must be a mapping")));
    };
    let text = |field: &str| match map.get(field) {
        Some(Value::String(text)) => Ok(Some(text.clone())),
        None | Some(Value::Null) => Ok(None),
        Some(_) => Err(ConfigError(format!("`{key}.{field}` must be a string"))),
    };
    let flag = |field: &str| match map.get(field) {
        Some(Value::Bool(flag)) => Ok(*flag),
        None | Some(Value::Null) => Ok(false),
        Some(_) => Err(ConfigError(format!(
            "`{key}.{field}` must be true or false"
        ))),
    };

    let path = text("path")?.ok_or_else(|| ConfigError(format!("`{key}.path` is missing")))?;
    if !path.starts_with('/') {
        return Err(ConfigError(format!(
            "`{key}.path` `{path}` is not an absolute path"
        )));
    }
    let raw = text("content")?.unwrap_or_default();
    let content = match text("encoding")?.as_deref() {
        None | Some("text/plain") => raw.into_bytes(),
        Some("b64" | "base64") => base64::engine::general_purpose::STANDARD
            .decode(raw.split_whitespace().collect::<String>())
            .map_err(|error| {
                ConfigError(format!("`{key}.content` is not valid base64: {error}"))
            })?,
        Some(other) => {
            return Err(ConfigError(format!(
                "`{key}.encoding` `{other}` is not supported by the lab (use b64 or text/plain)"
            )));
        }
    };
    let permissions = match map.get("permissions") {
        None | Some(Value::Null) => 0o644,
        Some(Value::String(mode)) => u32::from_str_radix(mode.trim_start_matches("0o"), 8)
            .map_err(|_| {
                ConfigError(format!("`{key}.permissions` `{mode}` is not an octal mode"))
            })?,
        Some(_) => {
            return Err(ConfigError(format!(
                "`{key}.permissions` must be a quoted octal string such as '0644'"
            )));
        }
    };
    Ok(WriteFile {
        path,
        content,
        permissions,
        owner: text("owner")?.unwrap_or_else(|| "root:root".to_string()),
        append: flag("append")?,
        defer: flag("defer")?,
    })
}

/// `runcmd`/`bootcmd` items: a string is a shell line; a list is an argv,
/// quoted into one shell line.
fn commands(key: &str, value: &Value) -> Result<Vec<String>, ConfigError> {
    let Value::Array(items) = value else {
        return Err(ConfigError(format!("`{key}` must be a list")));
    };
    items
        .iter()
        .enumerate()
        .map(|(index, item)| match item {
            Value::String(line) => Ok(line.clone()),
            Value::Array(words) => words
                .iter()
                .map(|word| match word {
                    Value::String(word) => Ok(shell_quote(word)),
                    Value::Number(number) => Ok(number.to_string()),
                    _ => Err(ConfigError(format!(
                        "`{key}[{index}]` has a word that is not a string"
                    ))),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(|words| words.join(" ")),
            _ => Err(ConfigError(format!(
                "`{key}[{index}]` must be a string or a list"
            ))),
        })
        .collect()
}

fn packages(value: &Value) -> Result<Vec<String>, ConfigError> {
    let Value::Array(items) = value else {
        return Err(ConfigError("`packages` must be a list".into()));
    };
    items
        .iter()
        .enumerate()
        .map(|(index, item)| match item {
            Value::String(name) => Ok(name.clone()),
            // `[name, version]`: the lab has one version, the installed one.
            Value::Array(pair) => match pair.first() {
                Some(Value::String(name)) => Ok(name.clone()),
                _ => Err(ConfigError(format!(
                    "`packages[{index}]` has no package name"
                ))),
            },
            _ => Err(ConfigError(format!("`packages[{index}]` must be a name"))),
        })
        .collect()
}

/// Quote a word for `/bin/sh` with single quotes.
pub fn shell_quote(word: &str) -> String {
    let safe = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c));
    if safe {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::{UserData, parse, shell_quote};

    #[test]
    fn parse_reads_wwctl_subset() {
        let text = r#"#cloud-config
ssh_keys:
  ed25519_private: |
    -----BEGIN OPENSSH PRIVATE KEY-----
    abc
    -----END OPENSSH PRIVATE KEY-----
  ed25519_public: ssh-ed25519 AAAA host
users:
  - default
  - name: deploy
    shell: /bin/bash
    sudo: ALL=(ALL) NOPASSWD:ALL
    groups: [adm, www-data]
    ssh_authorized_keys: [ssh-ed25519 AAAA me]
write_files:
  - path: /etc/motd
    content: aGVsbG8K
    encoding: b64
    permissions: '0600'
    owner: deploy:deploy
    defer: true
runcmd:
  - echo one
  - [touch, /tmp/two words]
packages: [nginx, [mariadb-server, "1:10.11"]]
timezone: UTC
"#;
        let UserData::CloudConfig(config) = parse(text).unwrap() else {
            panic!("expected a cloud-config document");
        };
        assert!(config.ssh_keys["ed25519_private"].contains("BEGIN OPENSSH"));
        assert_eq!(config.users.len(), 1);
        assert_eq!(config.users[0].name, "deploy");
        assert_eq!(config.users[0].sudo, vec!["ALL=(ALL) NOPASSWD:ALL"]);
        assert_eq!(config.users[0].groups, vec!["adm", "www-data"]);
        assert_eq!(config.write_files[0].content, b"hello\n");
        assert_eq!(config.write_files[0].permissions, 0o600);
        assert!(config.write_files[0].defer);
        assert_eq!(config.runcmd, vec!["echo one", "touch '/tmp/two words'"]);
        assert_eq!(config.packages, vec!["nginx", "mariadb-server"]);
        assert_eq!(config.ignored_keys, vec!["timezone"]);
    }

    #[test]
    fn parse_rejects_unknown_first_line() {
        let error = parse("hello: world\n").unwrap_err();
        assert!(
            error.to_string().contains("neither `#cloud-config`"),
            "{error}"
        );
    }

    #[test]
    fn parse_names_bad_key() {
        let error = parse("#cloud-config\nwrite_files:\n  - content: x\n").unwrap_err();
        assert_eq!(
            error.to_string(),
            "user data: `write_files[0].path` is missing"
        );
        let error =
            parse("#cloud-config\nwrite_files:\n  - path: /x\n    permissions: 644\n").unwrap_err();
        assert!(error.to_string().contains("quoted octal string"), "{error}");
    }

    #[test]
    fn script_and_empty_user_data() {
        assert_eq!(parse("").unwrap(), UserData::Empty);
        assert!(matches!(
            parse("#!/bin/sh\necho hi\n").unwrap(),
            UserData::Script(_)
        ));
    }

    #[test]
    fn shell_quote_quotes_only_when_needed() {
        assert_eq!(shell_quote("/usr/bin/env"), "/usr/bin/env");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
    }
}
