//! The inventory: what the servers, sites, DNS and database should be.
//!
//! An inventory is a folder of YAML files (`*.yaml` at its top level) plus
//! optional overlays in `overlays/NAME.yaml` that change a few values for
//! one setting, such as the sandbox.

mod layers;
pub mod model;
pub mod names;
mod query;
pub mod raw;
mod resolve;

use std::path::{Path, PathBuf};

use crate::diagnostic::{Diagnostic, Diagnostics, SourceRef};
use crate::suggest;
use crate::yaml::{self, Spanned};

pub use model::*;
pub use query::FleetSelector;
pub use resolve::{DURATION_HINT, MIN_TTL, parse_duration};

use layers::{Layer, Layers};
use raw::RawInventory;

/// A parsed inventory file.
struct ParsedFile {
    path: PathBuf,
    raw: RawInventory,
}

/// Load and validate the inventory in `dir`, with the overlay `overlay` from
/// `dir/overlays/` when given. Every problem in every file is returned at once.
pub fn load(dir: &Path, overlay: Option<&str>) -> Result<Inventory, Diagnostics> {
    let mut diagnostics = Diagnostics::default();
    let base_paths = list_base_files(dir, &mut diagnostics)?;
    let mut base = Vec::new();
    for path in base_paths {
        match parse_file(&path) {
            Ok(raw) => base.push(ParsedFile { path, raw }),
            Err(diagnostic) => diagnostics.push(diagnostic),
        }
    }

    let overlay_file = match overlay {
        Some(name) => match load_overlay(dir, name) {
            Ok(parsed) => Some(parsed),
            Err(diagnostic) => {
                diagnostics.push(diagnostic);
                None
            }
        },
        None => None,
    };
    check_sections_once(&base, &mut diagnostics);
    if !diagnostics.is_empty() {
        return Err(diagnostics);
    }

    let mut items: Vec<Layer<'_, RawInventory>> = Vec::new();
    if let Some(parsed) = &overlay_file {
        items.push(Layer {
            value: &parsed.raw,
            file: &parsed.path,
            is_overlay: true,
        });
    }
    items.extend(base.iter().map(|parsed| Layer {
        value: &parsed.raw,
        file: &parsed.path,
        is_overlay: false,
    }));
    // A section that no file defines is reported at the folder, since no
    // single file is to blame.
    let root = Layers::new(items, "", SourceRef::file(dir));

    resolve::resolve(&root, dir, overlay)
}

/// List the `*.yaml` files at the top of `dir`. An entry with a YAML name
/// that is not a file, such as a folder named `database.yaml`, is reported
/// in `diagnostics` rather than skipped.
fn list_base_files(dir: &Path, diagnostics: &mut Diagnostics) -> Result<Vec<PathBuf>, Diagnostics> {
    let entries = std::fs::read_dir(dir).map_err(|error| {
        single(
            Diagnostic::new(SourceRef::file(dir), "", format!("cannot read the inventory folder: {error}"))
                .with_hint("run wwctl from the project folder, or pass `--inventory DIR` (or set WWCTL_INVENTORY)"),
        )
    })?;

    let mut paths: Vec<PathBuf> = Vec::new();
    for path in entries.filter_map(Result::ok).map(|entry| entry.path()) {
        if !matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml")
        ) {
            continue;
        }
        if path.is_file() {
            paths.push(path);
        } else {
            diagnostics.push(
                Diagnostic::new(
                    SourceRef::file(&path),
                    "",
                    "has a YAML file name but is not a file",
                )
                .with_hint("replace it with the inventory file, or rename or move it out of the inventory folder"),
            );
        }
    }
    paths.sort();

    if paths.is_empty() {
        diagnostics.push(
            Diagnostic::new(
                SourceRef::file(dir),
                "",
                "the inventory folder has no `.yaml` files",
            )
            .with_hint("pass `--inventory DIR` with the folder that holds the inventory files"),
        );
        return Err(std::mem::take(diagnostics));
    }
    Ok(paths)
}

fn load_overlay(dir: &Path, name: &str) -> Result<ParsedFile, Diagnostic> {
    let overlays = dir.join("overlays");
    let path = overlays.join(format!("{name}.yaml"));
    if !path.is_file() {
        let known = list_overlays(&overlays);
        return Err(Diagnostic::new(
            SourceRef::file(&path),
            "",
            format!("overlay `{name}` not found"),
        )
        .with_hint(suggest::hint_for(name, known.iter().map(String::as_str))));
    }
    let raw = parse_file(&path)?;
    Ok(ParsedFile { path, raw })
}

/// Names of the overlays in `dir`, such as `sandbox` for `sandbox.yaml`.
pub fn list_overlays(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let path = entry.path();
            (path.extension()? == "yaml").then(|| path.file_stem()?.to_str().map(str::to_string))?
        })
        .collect();
    names.sort();
    names
}

fn parse_file(path: &Path) -> Result<RawInventory, Diagnostic> {
    let bytes = std::fs::read(path).map_err(|error| {
        Diagnostic::new(
            SourceRef::file(path),
            "",
            format!("cannot read the file: {error}"),
        )
    })?;
    let text = String::from_utf8(bytes).map_err(|error| {
        Diagnostic::new(
            SourceRef::file(path),
            "",
            format!(
                "the file is not valid UTF-8 (first bad byte at offset {})",
                error.utf8_error().valid_up_to()
            ),
        )
        .with_hint("save the file as UTF-8")
    })?;
    yaml::parse(path, &text)
}

/// Each top-level section lives in one base file, so no value is silently
/// replaced by another file's.
fn check_sections_once(files: &[ParsedFile], diagnostics: &mut Diagnostics) {
    let mut owners: Vec<(&str, SourceRef)> = Vec::new();
    for file in files {
        for (section, position) in section_positions(&file.raw, &file.path) {
            match owners.iter().find(|(name, _)| *name == section) {
                Some((_, first)) => diagnostics.push(
                    Diagnostic::new(position, section, format!("section `{section}` is also defined at {first}"))
                        .with_hint("keep each top-level section in one inventory file, or move the change into an overlay"),
                ),
                None => owners.push((section, position)),
            }
        }
    }
}

fn section_positions(raw: &RawInventory, file: &Path) -> Vec<(&'static str, SourceRef)> {
    fn at<T>(file: &Path, value: &Option<Spanned<T>>) -> Option<SourceRef> {
        value
            .as_ref()
            .map(|spanned| yaml::source_ref(file, spanned))
    }

    [
        ("project", at(file, &raw.project)),
        ("environments", at(file, &raw.environments)),
        ("fleets", at(file, &raw.fleets)),
        ("apps", at(file, &raw.apps)),
        ("sites", at(file, &raw.sites)),
        ("dns", at(file, &raw.dns)),
        ("database", at(file, &raw.database)),
        ("tls", at(file, &raw.tls)),
        ("cloud", at(file, &raw.cloud)),
    ]
    .into_iter()
    .filter_map(|(name, position)| position.map(|position| (name, position)))
    .collect()
}

fn single(diagnostic: Diagnostic) -> Diagnostics {
    Diagnostics {
        items: vec![diagnostic],
    }
}
