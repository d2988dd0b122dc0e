//! Strict YAML reading with positions: every value that validation may reject
//! keeps its line and column, and parse errors carry the key path.
//!
//! The parser is `serde-saphyr`, a maintained YAML deserializer whose errors
//! and `Spanned` values carry line and column.

use std::cell::RefCell;
use std::fmt;
use std::marker::PhantomData;
use std::path::Path;

use serde::de::{DeserializeOwned, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_path_to_error::Segment;

use crate::diagnostic::{Diagnostic, SourceRef};

pub use serde_saphyr::Spanned;

/// Largest file wwctl reads as YAML. Inventories and playbooks are a few
/// kilobytes; anything this large is a wrong path, not a configuration.
pub const MAX_FILE_BYTES: usize = 4 * 1024 * 1024;

/// Position of a spanned value in `file`.
pub fn source_ref<T>(file: &Path, value: &Spanned<T>) -> SourceRef {
    SourceRef::new(file, value.referenced.line(), value.referenced.column())
}

/// Parse `text`, the contents of `file`, into `T`. Unknown keys, duplicate
/// keys, wrong types and syntax errors become one diagnostic with the file,
/// line, column and key path.
pub fn parse<T: DeserializeOwned>(file: &Path, text: &str) -> Result<T, Diagnostic> {
    if text.len() > MAX_FILE_BYTES {
        return Err(Diagnostic::new(
            SourceRef::file(file),
            "",
            format!(
                "file is {} bytes, more than the {MAX_FILE_BYTES} bytes wwctl reads",
                text.len()
            ),
        )
        .with_hint("check that the path names an inventory or playbook file"));
    }

    FAILED_KEYS.with(|keys| keys.borrow_mut().clear());
    let mut tracked_path = None;
    let result = serde_saphyr::with_deserializer_from_str(text, |deserializer| {
        let mut track = serde_path_to_error::Track::new();
        let tracked = serde_path_to_error::Deserializer::new(deserializer, &mut track);
        let value = T::deserialize(tracked);
        if value.is_err() {
            tracked_path = Some(track.path());
        }
        value
    });

    let failed_keys = FAILED_KEYS.with(|keys| std::mem::take(&mut *keys.borrow_mut()));
    let segments = key_segments(tracked_path.as_ref(), failed_keys);
    result.map_err(|error| to_diagnostic(file, segments, &error))
}

thread_local! {
    /// Keys of `KeyedMap` entries whose value failed to parse, innermost
    /// first. The path tracker cannot read keys that carry a position, so it
    /// records an unknown segment for them; `parse` puts these names back in
    /// their place.
    static FAILED_KEYS: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

/// Turn a tracked path into key path segments. Unknown segments take the
/// keys recorded while the error travelled outwards (innermost first), the
/// `value` segments that `Spanned` wrappers add are dropped, and a sequence
/// index joins the segment before it (`steps[2]`). Map keys stay whole, so a
/// key such as `wwdt.me` is one segment.
///
/// NOTE: a real key named `value` would be dropped too; no inventory or
/// playbook key has that name.
fn key_segments(
    path: Option<&serde_path_to_error::Path>,
    mut failed_keys: Vec<String>,
) -> Vec<String> {
    let mut segments: Vec<String> = Vec::new();
    for segment in path.into_iter().flat_map(serde_path_to_error::Path::iter) {
        match segment {
            Segment::Seq { index } => match segments.last_mut() {
                Some(last) => last.push_str(&format!("[{index}]")),
                None => segments.push(format!("[{index}]")),
            },
            Segment::Map { key } if key == "value" => {}
            Segment::Map { key } | Segment::Enum { variant: key } => segments.push(key.clone()),
            Segment::Unknown => {
                segments.push(failed_keys.pop().unwrap_or_else(|| "?".to_string()));
            }
        }
    }
    segments
}

fn to_diagnostic(
    file: &Path,
    mut segments: Vec<String>,
    error: &serde_saphyr::Error,
) -> Diagnostic {
    let at = match error.location() {
        Some(location) => SourceRef::new(file, location.line(), location.column()),
        None => SourceRef::file(file),
    };
    let message = plain_message(error);
    let hint = hint_for_parse_error(&message);

    // A duplicate key fails before its name reaches the path tracker.
    if let Some(duplicate) = message
        .strip_prefix("duplicate key `")
        .and_then(|rest| rest.strip_suffix('`'))
        && let Some(last) = segments.last_mut()
        && last == "?"
    {
        *last = duplicate.to_string();
    }

    // A syntax error inside a flow mapping leaves an unknown segment at the
    // end, which names no key.
    while segments.last().is_some_and(|last| last == "?") {
        segments.pop();
    }

    Diagnostic::new(at, segments.join("/"), message).with_optional_hint(hint)
}

/// The error text without the source snippet and the position suffix, since
/// the diagnostic prints the position itself.
fn plain_message(error: &serde_saphyr::Error) -> String {
    let text = error.without_snippet().to_string();
    let first_line = text.lines().next().unwrap_or_default().trim();
    let message = match first_line.rfind(" at line ") {
        Some(index) => &first_line[..index],
        None => first_line,
    };

    // The parser's own duplicate-key text advises a parser option; say it
    // in the inventory's terms instead.
    if let Some(rest) = message.strip_prefix("duplicate mapping key: ") {
        let key = rest
            .split(", set DuplicateKeyPolicy")
            .next()
            .unwrap_or(rest);
        return format!("duplicate key `{key}`");
    }
    for (jargon, plain) in PLAIN_WORDS {
        if message == *jargon {
            return (*plain).to_string();
        }
    }
    if let Some(kind) = message.strip_prefix("invalid ")
        && matches!(kind, "u8" | "u16" | "u32" | "u64" | "i32" | "i64" | "usize")
    {
        return "expected a whole number".to_string();
    }
    message.to_string()
}

/// The parser's words for common mistakes, and the same in plain words.
const PLAIN_WORDS: &[(&str, &str)] = &[
    ("invalid f64", "expected a number"),
    ("invalid bool", "expected `true` or `false`"),
    ("invalid boolean", "expected `true` or `false`"),
    ("expected sequence start", "expected a list"),
    ("expected mapping start", "expected keys with values"),
    ("expected string scalar", "expected a text value"),
    (
        "unexpected end of input",
        "the file ends before any content",
    ),
];

fn hint_for_parse_error(message: &str) -> Option<String> {
    if let Some(rest) = message.strip_prefix("unknown field `") {
        let (field, expected) = rest.split_once('`')?;
        let choices: Vec<&str> = expected
            .trim_start_matches(", expected one of ")
            .trim_start_matches(", expected ")
            .split(", ")
            .map(|choice| choice.trim_matches('`'))
            .filter(|choice| !choice.is_empty())
            .collect();
        return Some(crate::suggest::hint_for(field, choices.iter().copied()));
    }
    if message.ends_with("expected `auto`, `true` or `false`") {
        return Some("write `auto`, `true` or `false` without quotes".to_string());
    }
    if message.starts_with("duplicate key") {
        return Some("each key may appear once in a mapping; remove or rename one".to_string());
    }
    if message.contains("tabs disallowed") {
        return Some("indent with spaces; YAML does not allow tabs".to_string());
    }
    if message.contains("did not find expected ',' or '}'") {
        return Some(
            "look for a `{` without its `}` at or before this point, or entries without a `,` between them".to_string(),
        );
    }
    if message.contains("did not find expected ',' or ']'") {
        return Some(
            "look for a `[` without its `]` at or before this point, or items without a `,` between them".to_string(),
        );
    }
    let hint = match message {
        "expected a whole number" => "write digits only, such as `200`, without quotes or units",
        "expected a number" => "write a number such as `0.5`, without quotes or units",
        "expected `true` or `false`" => "write `true` or `false` without quotes",
        "expected a list" => {
            "write a list as `[a, b]`, or as lines starting with `- ` indented under the key"
        }
        "expected keys with values" => "write `key: value` lines indented under this key",
        "expected a text value" => "look for an unclosed `[`, `{` or quote before this point",
        "the file ends before any content" => {
            "the file is empty; give it its top-level section, such as `database:`, or remove it"
        }
        _ if message.contains("indicator") => {
            "look for an unclosed `[`, `{` or quote before this point"
        }
        _ if message.starts_with("unexpected character") => {
            "look for mismatched quotes before this point: a value that starts with a quote must end with the same quote"
        }
        _ => return None,
    };
    Some(hint.to_string())
}

/// An ordered YAML mapping whose keys keep their positions, so validation can
/// point at the key that names an entity (a droplet, a site, a zone).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyedMap<T> {
    pub entries: Vec<(Spanned<String>, T)>,
}

impl<T> Default for KeyedMap<T> {
    fn default() -> Self {
        Self {
            entries: Vec::new(),
        }
    }
}

impl<T> KeyedMap<T> {
    pub fn iter(&self) -> impl Iterator<Item = (&Spanned<String>, &T)> {
        self.entries.iter().map(|(key, value)| (key, value))
    }

    pub fn get(&self, key: &str) -> Option<&T> {
        self.entries
            .iter()
            .find(|(candidate, _)| candidate.value == key)
            .map(|(_, value)| value)
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut T> {
        self.entries
            .iter_mut()
            .find(|(candidate, _)| candidate.value == key)
            .map(|(_, value)| value)
    }

    pub fn keys(&self) -> impl Iterator<Item = &str> + Clone {
        self.entries.iter().map(|(key, _)| key.value.as_str())
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for KeyedMap<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyedMapVisitor<T>(PhantomData<T>);

        impl<'de, T: Deserialize<'de>> Visitor<'de> for KeyedMapVisitor<T> {
            type Value = KeyedMap<T>;

            fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
                formatter.write_str("a mapping")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut entries = Vec::new();
                while let Some(key) = map.next_key::<Spanned<String>>()? {
                    let value = match map.next_value::<T>() {
                        Ok(value) => value,
                        Err(error) => {
                            FAILED_KEYS.with(|keys| keys.borrow_mut().push(key.value.clone()));
                            return Err(error);
                        }
                    };
                    entries.push((key, value));
                }
                Ok(KeyedMap { entries })
            }
        }

        deserializer.deserialize_map(KeyedMapVisitor(PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use serde::Deserialize;

    use super::{KeyedMap, Spanned, parse};

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Droplet {
        size: Option<Spanned<String>>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Document {
        droplets: KeyedMap<Droplet>,
    }

    #[test]
    fn keyed_map_keeps_key_positions() {
        let text = "droplets:\n  web-01:\n    size: s-1vcpu-1gb\n  web-02: {}\n";
        let document: Document = parse(Path::new("f.yaml"), text).unwrap();

        let (key, droplet) = &document.droplets.entries[0];
        assert_eq!(key.value, "web-01");
        assert_eq!(key.referenced.line(), 2);
        assert_eq!(droplet.size.as_ref().unwrap().referenced.line(), 3);
        assert_eq!(document.droplets.entries[1].0.referenced.line(), 4);
    }

    #[test]
    fn unknown_key_reports_path_and_suggestion() {
        let text = "droplets:\n  web-01:\n    sise: s-1vcpu-1gb\n";
        let error = parse::<Document>(Path::new("f.yaml"), text).unwrap_err();

        assert_eq!(error.at.line, 3);
        assert_eq!(error.at.column, 5);
        assert_eq!(error.key_path, "droplets/web-01/sise");
        assert!(
            error.message.contains("unknown field `sise`"),
            "{}",
            error.message
        );
        assert_eq!(error.hint.as_deref(), Some("did you mean `size`?"));
    }

    #[test]
    fn key_path_keeps_dotted_keys_whole() {
        let text = "droplets:\n  web.example:\n    sise: s-1vcpu-1gb\n";
        let error = parse::<Document>(Path::new("f.yaml"), text).unwrap_err();

        assert_eq!(error.key_path, "droplets/web.example/sise");
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Zones {
        #[expect(dead_code, reason = "the test checks only the parse error")]
        zones: indexmap::IndexMap<String, KeyedMap<Droplet>>,
    }

    #[test]
    fn key_path_keeps_dotted_plain_map_keys() {
        let text = "zones:\n  wwdt.me:\n    stats.staging:\n      typo: 1\n";
        let error = parse::<Zones>(Path::new("f.yaml"), text).unwrap_err();

        assert_eq!(error.key_path, "zones/wwdt.me/stats.staging/typo");
    }

    #[test]
    fn duplicate_key_is_rejected() {
        let text = "droplets:\n  web-01: {}\n  web-01: {}\n";
        let error = parse::<Document>(Path::new("f.yaml"), text).unwrap_err();

        assert_eq!(error.at.line, 3);
        assert!(error.message.contains("duplicate"), "{}", error.message);
    }

    #[test]
    fn parser_jargon_becomes_plain_words_with_hint() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Limits {
            max: u64,
            names: Vec<String>,
        }
        let cases = [
            (
                "max: lots\nnames: []\n",
                "expected a whole number",
                "digits only",
            ),
            ("max: 1\nnames: proxy\n", "expected a list", "`[a, b]`"),
        ];
        for (text, message, hint) in cases {
            let error = parse::<Limits>(Path::new("limits.yaml"), text).unwrap_err();
            assert_eq!(error.message, message, "{text}");
            assert!(
                error.hint.as_deref().unwrap_or("").contains(hint),
                "{text}: {error:?}"
            );
        }
    }

    #[test]
    fn syntax_error_has_position() {
        let error = parse::<Document>(Path::new("f.yaml"), "droplets: [\n").unwrap_err();

        assert_eq!(error.at.file, Path::new("f.yaml"));
        assert!(error.at.line >= 1);
    }
}
