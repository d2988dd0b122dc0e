//! Reading one entity from several inventory files at once.
//!
//! The base files and an optional overlay are kept apart instead of being
//! merged into one tree, so every value still knows the file it came from.
//! A lookup takes the value from the overlay when the overlay sets it, and
//! from the base files otherwise.

use std::path::Path;

use crate::diagnostic::{Diagnostic, Diagnostics, SourceRef};
use crate::suggest;
use crate::yaml::{KeyedMap, Spanned, source_ref};

/// A piece of one inventory file.
#[derive(Debug)]
pub struct Layer<'a, T> {
    pub value: &'a T,
    pub file: &'a Path,
    pub is_overlay: bool,
}

impl<T> Clone for Layer<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Layer<'_, T> {}

/// The pieces describing one entity, overlay first, with the key path that
/// leads to the entity from the document root.
#[derive(Debug)]
pub struct Layers<'a, T> {
    pub items: Vec<Layer<'a, T>>,
    pub key_path: String,
    /// Position of the entity: its key, or the start of its value.
    pub origin: SourceRef,
}

impl<T> Clone for Layers<'_, T> {
    fn clone(&self) -> Self {
        Self {
            items: self.items.clone(),
            key_path: self.key_path.clone(),
            origin: self.origin.clone(),
        }
    }
}

/// A value found in one of the layers, with its position and key path.
#[derive(Debug)]
pub struct Found<'a, V> {
    pub value: &'a V,
    pub at: SourceRef,
    pub key_path: String,
}

/// One entry of a keyed mapping, such as a droplet in a fleet. Its layers'
/// origin is the position of the key in the base file that defines it.
#[derive(Debug)]
pub struct Entry<'a, U> {
    pub key: &'a str,
    pub layers: Layers<'a, U>,
}

impl<'a, T> Layers<'a, T> {
    pub fn new(items: Vec<Layer<'a, T>>, key_path: impl Into<String>, origin: SourceRef) -> Self {
        Self {
            items,
            key_path: key_path.into(),
            origin,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn path(&self, name: &str) -> String {
        join_path(&self.key_path, name)
    }

    /// The value of field `name`, from the first layer that sets it.
    pub fn field<V>(
        &self,
        name: &str,
        get: impl Fn(&'a T) -> Option<&'a Spanned<V>>,
    ) -> Option<Found<'a, V>> {
        self.items.iter().find_map(|layer| {
            get(layer.value).map(|spanned| Found {
                value: &spanned.value,
                at: source_ref(layer.file, spanned),
                key_path: self.path(name),
            })
        })
    }

    /// The layers of a nested section that is not itself spanned.
    pub fn child<U>(&self, name: &str, get: impl Fn(&'a T) -> Option<&'a U>) -> Layers<'a, U> {
        let items = self
            .items
            .iter()
            .filter_map(|layer| {
                get(layer.value).map(|value| Layer {
                    value,
                    file: layer.file,
                    is_overlay: layer.is_overlay,
                })
            })
            .collect();
        Layers::new(items, self.path(name), self.origin.clone())
    }

    /// The layers of a nested section written as a spanned value; the origin
    /// is where the base files, or else the overlay, write it.
    pub fn spanned_child<U>(
        &self,
        name: &str,
        get: impl Fn(&'a T) -> Option<&'a Spanned<U>> + Copy,
    ) -> Layers<'a, U> {
        let mut child = self.child(name, move |value| get(value).map(|spanned| &spanned.value));
        let base_first = self
            .items
            .iter()
            .filter(|layer| !layer.is_overlay)
            .chain(self.items.iter());
        for layer in base_first {
            if let Some(spanned) = get(layer.value) {
                child.origin = source_ref(layer.file, spanned);
                break;
            }
        }
        child
    }

    /// The entries of keyed mapping `name`, in the order the base files give
    /// them. An overlay may change entries but not add them, so an overlay
    /// key the base files lack is reported, with the closest base key.
    pub fn entries<U>(
        &self,
        name: &str,
        get: impl Fn(&'a T) -> Option<&'a KeyedMap<U>>,
        diagnostics: &mut Diagnostics,
    ) -> Vec<Entry<'a, U>> {
        let map_path = self.path(name);
        let mut entries: Vec<Entry<'a, U>> = Vec::new();

        for layer in self.items.iter().filter(|layer| !layer.is_overlay) {
            let Some(map) = get(layer.value) else {
                continue;
            };
            for (key, value) in map.iter() {
                let piece = Layer {
                    value,
                    file: layer.file,
                    is_overlay: false,
                };
                match entries.iter_mut().find(|entry| entry.key == key.value) {
                    Some(entry) => entry.layers.items.push(piece),
                    None => entries.push(Entry {
                        key: &key.value,
                        layers: Layers::new(
                            vec![piece],
                            join_path(&map_path, &key.value),
                            source_ref(layer.file, key),
                        ),
                    }),
                }
            }
        }

        for layer in self.items.iter().filter(|layer| layer.is_overlay) {
            let Some(map) = get(layer.value) else {
                continue;
            };
            for (key, value) in map.iter() {
                let piece = Layer {
                    value,
                    file: layer.file,
                    is_overlay: true,
                };
                match entries.iter_mut().find(|entry| entry.key == key.value) {
                    Some(entry) => entry.layers.items.insert(0, piece),
                    None => {
                        diagnostics.push(overlay_adds_entry(layer.file, key, &map_path, &entries))
                    }
                }
            }
        }

        entries
    }
}

fn overlay_adds_entry<U>(
    file: &Path,
    key: &Spanned<String>,
    map_path: &str,
    entries: &[Entry<'_, U>],
) -> Diagnostic {
    let known: Vec<&str> = entries.iter().map(|entry| entry.key).collect();
    let hint = match suggest::closest(&key.value, known.iter().copied()) {
        Some(found) => format!("did you mean `{found}`? An overlay can only change entries the base inventory defines"),
        None => "an overlay can only change entries the base inventory defines; add the entry to the base files first".to_string(),
    };
    Diagnostic::new(
        source_ref(file, key),
        join_path(map_path, &key.value),
        format!(
            "overlay names `{}`, which the base inventory does not define",
            key.value
        ),
    )
    .with_hint(hint)
}

pub fn join_path(parent: &str, name: &str) -> String {
    if name.is_empty() {
        parent.to_string()
    } else if parent.is_empty() {
        name.to_string()
    } else {
        format!("{parent}/{name}")
    }
}
