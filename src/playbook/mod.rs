//! Playbooks: the ordered steps of a command, with parameters.
//!
//! A playbook names step kinds and the inventory targets they act on. It is
//! checked in two passes. `load` checks its shape and every reference that
//! does not depend on parameters. `Playbook::resolve` then substitutes the
//! command's parameters and turns each step into a concrete `Step`.

mod params;
mod raw;
mod resolve;

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::diagnostic::{Diagnostic, Diagnostics, SourceRef};
use crate::inventory::{Inventory, Role};
use crate::suggest;
use crate::yaml::{self, source_ref};

pub use params::{ParamType, Params, substitute};
pub use resolve::Step;

/// The playbooks wwctl's commands run, by file name.
pub const COMMAND_PLAYBOOKS: [&str; 4] = ["provision", "migrate", "rollback", "teardown"];

#[derive(Clone, Debug)]
pub struct Playbook {
    pub name: String,
    pub file: PathBuf,
    pub description: String,
    pub params: Vec<ParamSpec>,
    pub steps: Vec<StepSpec>,
    /// SHA-256 of the file, recorded in journals to notice a playbook that
    /// changed between a run and its resumption.
    pub digest: String,
}

#[derive(Clone, Debug)]
pub struct ParamSpec {
    pub name: String,
    pub param_type: ParamType,
    pub optional: bool,
    pub description: String,
}

#[derive(Clone, Debug)]
pub struct StepSpec {
    pub id: String,
    pub kind: String,
    pub title: String,
    pub needs: Vec<String>,
    pub targets: Option<TargetSpec>,
    /// The kind's parameters, with `${param}` references not yet substituted.
    pub with_params: serde_json::Value,
    pub at: SourceRef,
    pub key_path: String,
}

/// The droplets a step acts on. `fleet` and `env` may contain `${param}`.
#[derive(Clone, Debug)]
pub struct TargetSpec {
    pub fleet: String,
    pub env: Option<String>,
    pub roles: Vec<Role>,
    pub at: SourceRef,
}

/// Path of the playbook `name` in `dir`.
pub fn path_of(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.yaml"))
}

/// Load and check the playbook `name` from `dir` against `inventory`.
pub fn load(dir: &Path, name: &str, inventory: &Inventory) -> Result<Playbook, Diagnostics> {
    let file = path_of(dir, name);
    let text = std::fs::read_to_string(&file).map_err(|error| {
        let diagnostic = Diagnostic::new(SourceRef::file(&file), "", format!("cannot read playbook `{name}`: {error}"));
        Diagnostics {
            items: vec![diagnostic.with_hint(
                "run wwctl from the project folder, or pass `--playbooks DIR` (or set WWCTL_PLAYBOOKS)",
            )],
        }
    })?;
    let raw: raw::RawPlaybook = yaml::parse(&file, &text).map_err(|diagnostic| Diagnostics {
        items: vec![diagnostic],
    })?;

    let mut diagnostics = Diagnostics::default();
    let playbook = build(name, &file, &text, &raw, inventory, &mut diagnostics);
    diagnostics.into_result().map(|()| playbook)
}

/// Check every command playbook in `dir`, for `wwctl inventory check`.
pub fn check_all(dir: &Path, inventory: &Inventory) -> Diagnostics {
    let mut diagnostics = Diagnostics::default();
    for name in COMMAND_PLAYBOOKS {
        if let Err(found) = load(dir, name, inventory) {
            diagnostics.extend(found);
        }
    }
    diagnostics
}

fn build(
    name: &str,
    file: &Path,
    text: &str,
    raw: &raw::RawPlaybook,
    inventory: &Inventory,
    diagnostics: &mut Diagnostics,
) -> Playbook {
    let params = params::build_specs(file, raw.params.as_ref(), diagnostics);
    let mut steps: Vec<StepSpec> = Vec::new();

    if raw.steps.value.is_empty() {
        diagnostics.push(
            Diagnostic::new(
                source_ref(file, &raw.steps),
                "steps",
                "the playbook has no steps",
            )
            .with_hint("add at least one step with an `id` and a `kind`"),
        );
    }
    for (index, spanned) in raw.steps.value.iter().enumerate() {
        let step = build_step(
            file,
            index,
            spanned,
            &steps,
            &params,
            inventory,
            diagnostics,
        );
        steps.push(step);
    }

    Playbook {
        name: name.to_string(),
        file: file.to_path_buf(),
        description: raw
            .description
            .as_ref()
            .map(|d| d.value.clone())
            .unwrap_or_default(),
        params,
        steps,
        digest: hex::encode(Sha256::digest(text.as_bytes())),
    }
}

fn build_step(
    file: &Path,
    index: usize,
    spanned: &yaml::Spanned<raw::RawStep>,
    earlier: &[StepSpec],
    params: &[ParamSpec],
    inventory: &Inventory,
    diagnostics: &mut Diagnostics,
) -> StepSpec {
    let raw = &spanned.value;
    let id = raw.id.value.clone();
    let key_path = format!("steps/{id}");
    let at = source_ref(file, spanned);

    if !is_step_id(&id) {
        diagnostics.push(
            Diagnostic::new(
                source_ref(file, &raw.id),
                format!("steps/{index}/id"),
                format!("invalid step id `{id}`"),
            )
            .with_hint("use lowercase letters, digits and `-`, such as `create-server`"),
        );
    }
    if let Some(first) = earlier.iter().find(|step| step.id == id) {
        diagnostics.push(
            Diagnostic::new(
                source_ref(file, &raw.id),
                key_path.clone(),
                format!("duplicate step id `{id}`, first defined at {}", first.at),
            )
            .with_hint("give each step its own id"),
        );
    }

    let kind = raw.kind.value.clone();
    if !crate::steps::KINDS.contains(&kind.as_str()) {
        diagnostics.push(
            Diagnostic::new(
                source_ref(file, &raw.kind),
                format!("{key_path}/kind"),
                format!("unknown step kind `{kind}`"),
            )
            .with_hint(suggest::hint_for(
                &kind,
                crate::steps::KINDS.iter().copied(),
            )),
        );
    }

    let needs = build_needs(file, &key_path, raw, earlier, diagnostics);
    let targets = raw.targets.as_ref().map(|targets| {
        resolve::check_targets(file, &key_path, targets, params, inventory, diagnostics)
    });
    let with_params = raw
        .with_params
        .as_ref()
        .map(|with| with.value.clone())
        .unwrap_or(serde_json::Value::Null);
    params::check_references(file, &key_path, raw, params, diagnostics);

    let step = StepSpec {
        id,
        title: raw
            .title
            .as_ref()
            .map(|title| title.value.clone())
            .unwrap_or_else(|| kind.clone()),
        kind,
        needs,
        targets,
        with_params,
        at,
        key_path,
    };
    if crate::steps::KINDS.contains(&step.kind.as_str()) {
        resolve::check_kind_params(&step, params, inventory, diagnostics);
    }
    step
}

fn build_needs(
    file: &Path,
    key_path: &str,
    raw: &raw::RawStep,
    earlier: &[StepSpec],
    diagnostics: &mut Diagnostics,
) -> Vec<String> {
    let Some(needs) = &raw.needs else {
        return Vec::new();
    };

    let mut found = Vec::new();
    for need in &needs.value {
        if earlier.iter().any(|step| step.id == need.value) {
            found.push(need.value.clone());
            continue;
        }
        let ids = earlier.iter().map(|step| step.id.as_str());
        diagnostics.push(
            Diagnostic::new(
                source_ref(file, need),
                format!("{key_path}/needs"),
                format!("step `{}` is not defined before this step", need.value),
            )
            .with_hint(format!(
                "{} (steps run in the order written, so a step can only need earlier ones)",
                suggest::hint_for(&need.value, ids)
            )),
        );
    }
    found
}

fn is_step_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !id.starts_with('-')
}
