//! Turning the layers of raw inventory files into the validated model.
//!
//! Resolution never stops at the first problem: it records a diagnostic,
//! goes on with a placeholder, and returns every problem at the end.

mod checks;
mod database;
mod dns;
mod fleets;
mod sites;

use std::path::Path;
use std::time::Duration;

use indexmap::IndexMap;

use crate::diagnostic::{Diagnostic, Diagnostics, SourceRef};
use crate::inventory::layers::{Found, Layers};
use crate::inventory::model::{Environment, Inventory, Project};
use crate::inventory::raw::RawInventory;
use crate::suggest;
use crate::yaml::Spanned;

/// Smallest TTL DigitalOcean accepts for a DNS record, in seconds.
pub const MIN_TTL: i64 = 30;

pub fn resolve(
    root: &Layers<'_, RawInventory>,
    dir: &Path,
    overlay: Option<&str>,
) -> Result<Inventory, Diagnostics> {
    let mut diagnostics = Diagnostics::default();
    let mut ctx = Ctx {
        diagnostics: &mut diagnostics,
    };

    let project = resolve_project(&mut ctx, root);
    let environments = resolve_environments(&mut ctx, root);
    let fleets = fleets::resolve(&mut ctx, root, &project, &environments);
    let database = database::resolve_database(&mut ctx, root);
    let apps = sites::resolve_apps(&mut ctx, root, &database);
    let sites = sites::resolve_sites(&mut ctx, root, &apps, &environments);
    let dns = dns::resolve(&mut ctx, root, &environments, &fleets);
    let tls = database::resolve_tls(&mut ctx, root);
    let cloud = database::resolve_cloud(&mut ctx, root);

    let inventory = Inventory {
        dir: dir.to_path_buf(),
        overlay: overlay.map(str::to_string),
        project,
        environments,
        fleets,
        apps,
        sites,
        dns,
        database,
        tls,
        cloud,
    };
    checks::check_references(&mut ctx, root, &inventory);

    diagnostics.into_result().map(|()| inventory)
}

/// The diagnostics of one resolution and the readers that record them.
pub(super) struct Ctx<'d> {
    pub diagnostics: &'d mut Diagnostics,
}

impl Ctx<'_> {
    pub fn report(
        &mut self,
        at: SourceRef,
        key_path: impl Into<String>,
        message: impl Into<String>,
    ) {
        self.diagnostics
            .push(Diagnostic::new(at, key_path, message));
    }

    pub fn report_with_hint(
        &mut self,
        at: SourceRef,
        key_path: impl Into<String>,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) {
        self.diagnostics
            .push(Diagnostic::new(at, key_path, message).with_hint(hint));
    }

    /// The value of a key that must be present, reporting its absence at the
    /// position of the entity that lacks it.
    pub fn required<'a, T, V>(
        &mut self,
        layers: &Layers<'a, T>,
        name: &str,
        get: impl Fn(&'a T) -> Option<&'a Spanned<V>>,
    ) -> Option<Found<'a, V>> {
        let found = layers.field(name, get);
        if found.is_none() {
            self.report_with_hint(
                layers.origin.clone(),
                layers.path(name),
                format!("missing required key `{name}`"),
                format!("add `{name}:` under `{}`", layers.key_path),
            );
        }
        found
    }

    pub fn required_string<'a, T>(
        &mut self,
        layers: &Layers<'a, T>,
        name: &str,
        get: impl Fn(&'a T) -> Option<&'a Spanned<String>>,
    ) -> String {
        self.required(layers, name, get)
            .map(|found| found.value.clone())
            .unwrap_or_default()
    }

    /// A string that must name one of `choices`, with a suggestion when it
    /// does not.
    pub fn check_choice(
        &mut self,
        found: &Found<'_, String>,
        what: &str,
        choices: &[&str],
    ) -> bool {
        if choices.contains(&found.value.as_str()) {
            return true;
        }
        self.report_with_hint(
            found.at.clone(),
            found.key_path.clone(),
            format!("unknown {what} `{}`", found.value),
            suggest::hint_for(found.value, choices.iter().copied()),
        );
        false
    }

    /// Reads a duration such as `5s`, `10m` or `1h 30m`, or `default` when absent.
    pub fn duration_or<'a, T>(
        &mut self,
        layers: &Layers<'a, T>,
        name: &str,
        get: impl Fn(&'a T) -> Option<&'a Spanned<String>>,
        default: Duration,
    ) -> Duration {
        let Some(found) = layers.field(name, get) else {
            return default;
        };
        match parse_duration(found.value) {
            Ok(duration) => duration,
            Err(reason) => {
                self.report_with_hint(
                    found.at,
                    found.key_path,
                    format!("`{}` {reason}", found.value),
                    DURATION_HINT,
                );
                default
            }
        }
    }

    /// Checks a TTL in seconds, which DigitalOcean requires to be at least 30.
    pub fn ttl(&mut self, found: &Found<'_, i64>) -> Option<u32> {
        let value = *found.value;
        if value < MIN_TTL {
            self.report_with_hint(
                found.at.clone(),
                found.key_path.clone(),
                format!("TTL {value} is below DigitalOcean's minimum of {MIN_TTL} seconds"),
                format!("set a TTL of at least {MIN_TTL}"),
            );
            return None;
        }
        match u32::try_from(value) {
            Ok(ttl) if value <= i64::from(i32::MAX) => Some(ttl),
            _ => {
                self.report_with_hint(
                    found.at.clone(),
                    found.key_path.clone(),
                    format!("TTL {value} is too large"),
                    "DNS TTLs are at most 2147483647 seconds; a day is 86400",
                );
                None
            }
        }
    }
}

/// The forms of duration that `parse_duration` accepts, for hints.
pub const DURATION_HINT: &str =
    "write a number with a unit, such as `500ms`, `30s`, `10m`, `1h 30m` or `5 minutes`";

/// Parses a human duration such as `30s`, `10m` or `1h 30m` with jiff's
/// friendly format. The error completes a sentence about the value
/// (`is not a duration`) and leaves out the parser's own words.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let signed: jiff::SignedDuration = text
        .trim()
        .parse()
        .map_err(|_: jiff::Error| "is not a duration".to_string())?;
    if signed.is_negative() {
        return Err("is a negative duration".to_string());
    }
    signed
        .try_into()
        .map_err(|_: jiff::Error| "is too long a duration".to_string())
}

fn resolve_project(ctx: &mut Ctx<'_>, root: &Layers<'_, RawInventory>) -> Project {
    let layers = root.spanned_child("project", |raw| raw.project.as_ref());
    if layers.is_empty() {
        ctx.report_with_hint(
            root.origin.clone(),
            "project",
            "no inventory file in this folder defines the required section `project`",
            "add `project.yaml` to the inventory folder with a `project:` section holding `name`, `region`, `image` and `current_fleet`",
        );
    }

    let ssh_keys = layers
        .field("ssh_keys", |raw| raw.ssh_keys.as_ref())
        .map(|found| found.value.iter().map(|key| key.value.clone()).collect())
        .unwrap_or_default();
    let aliases = layers
        .child("aliases", |raw| raw.aliases.as_ref())
        .items
        .iter()
        .flat_map(|layer| layer.value.iter())
        .map(|(name, fleet)| (name.value.clone(), fleet.value.clone()))
        .collect();

    Project {
        name: ctx.required_string(&layers, "name", |raw| raw.name.as_ref()),
        region: ctx.required_string(&layers, "region", |raw| raw.region.as_ref()),
        image: ctx.required_string(&layers, "image", |raw| raw.image.as_ref()),
        ssh_keys,
        current_fleet: ctx
            .required_string(&layers, "current_fleet", |raw| raw.current_fleet.as_ref()),
        aliases,
    }
}

fn resolve_environments(
    ctx: &mut Ctx<'_>,
    root: &Layers<'_, RawInventory>,
) -> IndexMap<String, Environment> {
    let section = root.spanned_child("environments", |raw| raw.environments.as_ref());
    let entries = section.entries("", Some, ctx.diagnostics);
    if entries.is_empty() {
        ctx.report_with_hint(
            section.origin.clone(),
            "environments",
            "no environments are defined",
            "add `environments:` with `prod` and `staging`, each with a `git_ref`",
        );
    }

    entries
        .into_iter()
        .map(|entry| {
            let git_ref = ctx.required_string(&entry.layers, "git_ref", |raw| raw.git_ref.as_ref());
            let environment = Environment {
                name: entry.key.to_string(),
                git_ref,
            };
            (entry.key.to_string(), environment)
        })
        .collect()
}
