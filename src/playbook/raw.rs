//! A playbook as written in YAML, before validation.

use serde::Deserialize;

use crate::yaml::{KeyedMap, Spanned};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPlaybook {
    pub description: Option<Spanned<String>>,
    pub params: Option<KeyedMap<RawParam>>,
    pub steps: Spanned<Vec<Spanned<RawStep>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawParam {
    #[serde(rename = "type")]
    pub param_type: Spanned<String>,
    pub optional: Option<Spanned<bool>>,
    pub description: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStep {
    pub id: Spanned<String>,
    pub kind: Spanned<String>,
    pub title: Option<Spanned<String>>,
    pub needs: Option<Spanned<Vec<Spanned<String>>>>,
    pub targets: Option<Spanned<RawTargets>>,
    /// Parameters of the step's kind; each kind checks its own keys.
    #[serde(rename = "with")]
    pub with_params: Option<Spanned<serde_json::Value>>,
}

/// The droplets a step acts on, chosen from the inventory.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTargets {
    pub fleet: Spanned<String>,
    pub env: Option<Spanned<String>>,
    pub roles: Option<Spanned<Vec<Spanned<String>>>>,
}
