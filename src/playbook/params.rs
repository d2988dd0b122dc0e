//! Playbook parameters and `${name}` substitution.

use std::path::Path;

use indexmap::IndexMap;

use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::suggest;
use crate::yaml::{KeyedMap, source_ref};

use super::ParamSpec;
use super::raw::{RawParam, RawStep};

/// The kind of name a parameter's value must be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamType {
    /// A fleet in the inventory (aliases are resolved to the fleet's name).
    Fleet,
    /// An environment in the inventory.
    Env,
    /// Any text.
    Text,
}

const PARAM_TYPES: [&str; 3] = ["fleet", "env", "text"];

impl ParamType {
    fn parse(text: &str) -> Option<ParamType> {
        match text {
            "fleet" => Some(ParamType::Fleet),
            "env" => Some(ParamType::Env),
            "text" => Some(ParamType::Text),
            _ => None,
        }
    }
}

/// The values a command gives a playbook's parameters; `None` for an
/// optional parameter left out.
pub type Params = IndexMap<String, Option<String>>;

pub(super) fn build_specs(
    file: &Path,
    raw: Option<&KeyedMap<RawParam>>,
    diagnostics: &mut Diagnostics,
) -> Vec<ParamSpec> {
    let Some(raw) = raw else {
        return Vec::new();
    };

    let mut specs = Vec::new();
    for (name, param) in raw.iter() {
        let param_type = match ParamType::parse(&param.param_type.value) {
            Some(param_type) => param_type,
            None => {
                diagnostics.push(
                    Diagnostic::new(
                        source_ref(file, &param.param_type),
                        format!("params/{}/type", name.value),
                        format!("unknown parameter type `{}`", param.param_type.value),
                    )
                    .with_hint(suggest::hint_for(&param.param_type.value, PARAM_TYPES)),
                );
                ParamType::Text
            }
        };
        specs.push(ParamSpec {
            name: name.value.clone(),
            param_type,
            optional: param
                .optional
                .as_ref()
                .is_some_and(|optional| optional.value),
            description: param
                .description
                .as_ref()
                .map(|d| d.value.clone())
                .unwrap_or_default(),
        });
    }
    specs
}

/// Every `${name}` in a step must name a declared parameter.
pub(super) fn check_references(
    file: &Path,
    key_path: &str,
    raw: &RawStep,
    params: &[ParamSpec],
    diagnostics: &mut Diagnostics,
) {
    let mut texts: Vec<String> = Vec::new();
    if let Some(targets) = &raw.targets {
        texts.push(targets.value.fleet.value.clone());
        if let Some(env) = &targets.value.env {
            texts.push(env.value.clone());
        }
    }
    if let Some(with) = &raw.with_params {
        collect_strings(&with.value, &mut texts);
    }

    let names: Vec<&str> = params.iter().map(|param| param.name.as_str()).collect();
    for text in texts {
        for reference in references(&text) {
            if !names.contains(&reference.as_str()) {
                diagnostics.push(
                    Diagnostic::new(
                        source_ref(file, &raw.id),
                        key_path.to_string(),
                        format!("unknown parameter `${{{reference}}}`"),
                    )
                    .with_hint(suggest::hint_for(&reference, names.iter().copied())),
                );
            }
        }
    }
}

fn collect_strings(value: &serde_json::Value, out: &mut Vec<String>) {
    match value {
        serde_json::Value::String(text) => out.push(text.clone()),
        serde_json::Value::Array(items) => items.iter().for_each(|item| collect_strings(item, out)),
        serde_json::Value::Object(map) => map.values().for_each(|item| collect_strings(item, out)),
        _ => {}
    }
}

/// Finds the parameter names referenced as `${name}` in `text`.
fn references(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        match after.find('}') {
            Some(end) => {
                found.push(after[..end].to_string());
                rest = &after[end + 1..];
            }
            None => break,
        }
    }
    found
}

/// Substitute `${name}` references in `text`. A text that is exactly one
/// reference to a parameter without a value becomes `None`; such a
/// reference inside longer text is an error.
pub fn substitute(text: &str, params: &Params) -> Result<Option<String>, String> {
    let refs = references(text);
    if refs.len() == 1 && text == format!("${{{}}}", refs[0]) {
        return match params.get(&refs[0]) {
            Some(value) => Ok(value.clone()),
            None => Err(format!("unknown parameter `${{{}}}`", refs[0])),
        };
    }

    let mut result = text.to_string();
    for name in refs {
        let value = match params.get(&name) {
            Some(Some(value)) => value,
            Some(None) => {
                return Err(format!(
                    "parameter `{name}` has no value, so `{text}` cannot be built"
                ));
            }
            None => return Err(format!("unknown parameter `${{{name}}}`")),
        };
        result = result.replace(&format!("${{{name}}}"), value);
    }
    Ok(Some(result))
}

/// Substitute parameters in every string of a JSON value; strings that
/// become `None` turn into JSON null.
pub(super) fn substitute_value(
    value: &serde_json::Value,
    params: &Params,
) -> Result<serde_json::Value, String> {
    Ok(match value {
        serde_json::Value::String(text) => match substitute(text, params)? {
            Some(text) => serde_json::Value::String(text),
            None => serde_json::Value::Null,
        },
        serde_json::Value::Array(items) => serde_json::Value::Array(
            items
                .iter()
                .map(|item| substitute_value(item, params))
                .collect::<Result<_, _>>()?,
        ),
        serde_json::Value::Object(map) => serde_json::Value::Object(
            map.iter()
                .map(|(key, item)| Ok((key.clone(), substitute_value(item, params)?)))
                .collect::<Result<_, String>>()?,
        ),
        other => other.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::{Params, substitute};

    fn params() -> Params {
        let mut params = Params::new();
        params.insert("to".to_string(), Some("2023".to_string()));
        params.insert("env".to_string(), None);
        params
    }

    #[test]
    fn whole_reference_is_replaced() {
        assert_eq!(substitute("${to}", &params()), Ok(Some("2023".to_string())));
    }

    #[test]
    fn embedded_reference_is_replaced() {
        assert_eq!(
            substitute("fleet-${to}", &params()),
            Ok(Some("fleet-2023".to_string()))
        );
    }

    #[test]
    fn missing_optional_value_becomes_none() {
        assert_eq!(substitute("${env}", &params()), Ok(None));
        assert!(substitute("x-${env}", &params()).is_err());
    }

    #[test]
    fn unknown_reference_is_an_error() {
        assert_eq!(
            substitute("${form}", &params()),
            Err("unknown parameter `${form}`".to_string())
        );
    }
}
