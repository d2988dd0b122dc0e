//! Checking step targets and parameters, and turning specs into steps.

use std::path::Path;

use crate::diagnostic::{Diagnostic, Diagnostics, SourceRef};
use crate::error::UserError;
use crate::inventory::{Inventory, Role};
use crate::steps::Action;
use crate::suggest;
use crate::yaml::{Spanned, source_ref};

use super::params::{Params, substitute, substitute_value};
use super::raw::RawTargets;
use super::{ParamSpec, ParamType, Playbook, StepSpec, TargetSpec};

/// A step ready to plan or run: parameters substituted, targets resolved.
#[derive(Clone, Debug)]
pub struct Step {
    pub id: String,
    pub kind: String,
    pub title: String,
    pub needs: Vec<String>,
    /// Names of the droplets the step acts on, in inventory order.
    pub targets: Vec<String>,
    pub action: Action,
    pub at: SourceRef,
}

pub(super) fn check_targets(
    file: &Path,
    key_path: &str,
    targets: &Spanned<RawTargets>,
    params: &[ParamSpec],
    inventory: &Inventory,
    diagnostics: &mut Diagnostics,
) -> TargetSpec {
    let raw = &targets.value;
    let fleet = &raw.fleet.value;
    if !fleet.contains("${") && inventory.fleet(fleet).is_err() {
        let candidates = inventory
            .fleets
            .keys()
            .chain(inventory.project.aliases.keys())
            .map(String::as_str);
        diagnostics.push(
            Diagnostic::new(
                source_ref(file, &raw.fleet),
                format!("{key_path}/targets/fleet"),
                format!("unknown fleet `{fleet}`"),
            )
            .with_hint(suggest::hint_for(fleet, candidates)),
        );
    }
    expect_param_type(
        file,
        key_path,
        &raw.fleet,
        params,
        ParamType::Fleet,
        diagnostics,
    );

    if let Some(env) = &raw.env {
        if !env.value.contains("${") && !inventory.environments.contains_key(&env.value) {
            diagnostics.push(
                Diagnostic::new(
                    source_ref(file, env),
                    format!("{key_path}/targets/env"),
                    format!("unknown environment `{}`", env.value),
                )
                .with_hint(suggest::hint_for(
                    &env.value,
                    inventory.environments.keys().map(String::as_str),
                )),
            );
        }
        expect_param_type(file, key_path, env, params, ParamType::Env, diagnostics);
    }

    let mut roles = Vec::new();
    for role in raw.roles.iter().flat_map(|roles| roles.value.iter()) {
        match Role::parse(&role.value) {
            Some(parsed) => roles.push(parsed),
            None => diagnostics.push(
                Diagnostic::new(
                    source_ref(file, role),
                    format!("{key_path}/targets/roles"),
                    format!("unknown role `{}`", role.value),
                )
                .with_hint(suggest::hint_for(
                    &role.value,
                    Role::ALL.iter().map(|r| r.name()),
                )),
            ),
        }
    }

    TargetSpec {
        fleet: fleet.clone(),
        env: raw.env.as_ref().map(|env| env.value.clone()),
        roles,
        at: source_ref(file, targets),
    }
}

/// A target written as exactly `${name}` must use a parameter of the right type.
fn expect_param_type(
    file: &Path,
    key_path: &str,
    value: &Spanned<String>,
    params: &[ParamSpec],
    expected: ParamType,
    diagnostics: &mut Diagnostics,
) {
    let Some(name) = value
        .value
        .strip_prefix("${")
        .and_then(|rest| rest.strip_suffix('}'))
    else {
        return;
    };
    if let Some(param) = params.iter().find(|param| param.name == name)
        && param.param_type != expected
    {
        diagnostics.push(Diagnostic::new(
            source_ref(file, value),
            format!("{key_path}/targets"),
            format!(
                "parameter `{name}` is of type {:?}, but this place needs {expected:?}",
                param.param_type
            ),
        ));
    }
}

/// Check a step's `with` parameters against its kind, with placeholder
/// values standing in for the playbook's parameters.
pub(super) fn check_kind_params(
    step: &StepSpec,
    params: &[ParamSpec],
    inventory: &Inventory,
    diagnostics: &mut Diagnostics,
) {
    let placeholders: Params = params
        .iter()
        .map(|param| {
            let value = match param.param_type {
                ParamType::Fleet => inventory.fleets.keys().next().cloned(),
                ParamType::Env => inventory.environments.keys().next().cloned(),
                ParamType::Text => Some("text".to_string()),
            };
            (param.name.clone(), value)
        })
        .collect();

    let Ok(with_params) = substitute_value(&step.with_params, &placeholders) else {
        return;
    };
    if let Err(message) = Action::parse(&step.kind, &with_params) {
        diagnostics.push(
            Diagnostic::new(step.at.clone(), format!("{}/with", step.key_path), message).with_hint(
                format!(
                    "see the parameters of step kind `{}` in the README",
                    step.kind
                ),
            ),
        );
    }
}

impl Playbook {
    /// Check the command's parameter values against the playbook's
    /// declarations; fleet aliases become fleet names.
    pub fn check_params(&self, inventory: &Inventory, given: &Params) -> Result<Params, UserError> {
        for name in given.keys() {
            if !self.params.iter().any(|param| &param.name == name) {
                return Err(UserError::usage(format!(
                    "playbook `{}` has no parameter `{name}`",
                    self.name
                )));
            }
        }

        let mut checked = Params::new();
        for spec in &self.params {
            let value = given.get(&spec.name).cloned().flatten();
            let value = match (value, spec.optional) {
                (None, true) => None,
                (None, false) => {
                    return Err(UserError::usage(format!(
                        "playbook `{}` needs parameter `{}`",
                        self.name, spec.name
                    )));
                }
                (Some(value), _) => Some(check_value(inventory, spec, &value)?),
            };
            checked.insert(spec.name.clone(), value);
        }
        Ok(checked)
    }

    /// Resolves the steps: `params` substituted, targets resolved.
    pub fn resolve(&self, inventory: &Inventory, params: &Params) -> Result<Vec<Step>, UserError> {
        self.steps
            .iter()
            .map(|spec| resolve_step(spec, inventory, params))
            .collect()
    }
}

fn check_value(inventory: &Inventory, spec: &ParamSpec, value: &str) -> Result<String, UserError> {
    match spec.param_type {
        ParamType::Fleet => Ok(inventory.fleet(value)?.name.clone()),
        ParamType::Env if inventory.environments.contains_key(value) => Ok(value.to_string()),
        ParamType::Env => Err(UserError::usage(format!("unknown environment `{value}`"))
            .with_hint(suggest::hint_for(
                value,
                inventory.environments.keys().map(String::as_str),
            ))),
        ParamType::Text => Ok(value.to_string()),
    }
}

fn resolve_step(
    spec: &StepSpec,
    inventory: &Inventory,
    params: &Params,
) -> Result<Step, UserError> {
    let in_step =
        |message: String| UserError::usage(format!("{}: {}: {message}", spec.at, spec.key_path));

    let with_params = substitute_value(&spec.with_params, params).map_err(in_step)?;
    let action = Action::parse(&spec.kind, &with_params).map_err(in_step)?;
    let targets = match &spec.targets {
        Some(targets) => resolve_targets(targets, inventory, params).map_err(in_step)?,
        None => Vec::new(),
    };

    Ok(Step {
        id: spec.id.clone(),
        kind: spec.kind.clone(),
        title: spec.title.clone(),
        needs: spec.needs.clone(),
        targets,
        action,
        at: spec.at.clone(),
    })
}

fn resolve_targets(
    targets: &TargetSpec,
    inventory: &Inventory,
    params: &Params,
) -> Result<Vec<String>, String> {
    let fleet_name = substitute(&targets.fleet, params)?.ok_or("the target fleet has no value")?;
    let fleet = inventory
        .fleet(&fleet_name)
        .map_err(|error| error.to_string())?;
    let env = match &targets.env {
        Some(env) => substitute(env, params)?,
        None => None,
    };

    Ok(inventory
        .droplets(&fleet.name, env.as_deref())
        .into_iter()
        .filter(|droplet| {
            targets.roles.is_empty() || targets.roles.iter().any(|role| droplet.has_role(*role))
        })
        .map(|droplet| droplet.name.clone())
        .collect())
}
