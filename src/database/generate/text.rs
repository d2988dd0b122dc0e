//! Names, slugs and prose built from the word pools.

use crate::database::generate::rng::SplitMix64;
use crate::database::generate::words::{FIRST_NAMES, LAST_NAMES, NAME_FLOURISHES, WORDS};

/// A person's name; about one in 25 ends with an emoji.
pub fn person_name(rng: &mut SplitMix64) -> String {
    let mut name = format!("{} {}", rng.pick(&FIRST_NAMES), rng.pick(&LAST_NAMES));
    if rng.percent(4) {
        let flourish: &&str = rng.pick(&NAME_FLOURISHES);
        name.push_str(flourish);
    }
    name
}

/// A URL slug: lowercase ASCII words joined by `-`, accents folded and
/// everything else dropped.
pub fn slug(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars().flat_map(char::to_lowercase) {
        let folded = fold_accent(c);
        if folded.chars().all(|c| c.is_ascii_alphanumeric()) && !folded.is_empty() {
            out.push_str(folded);
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_string()
}

fn fold_accent(c: char) -> &'static str {
    match c {
        'á' | 'à' | 'â' | 'ä' | 'å' | 'ã' => "a",
        'é' | 'è' | 'ê' | 'ë' => "e",
        'í' | 'ì' | 'î' | 'ï' => "i",
        'ó' | 'ò' | 'ô' | 'ö' | 'ø' | 'õ' => "o",
        'ú' | 'ù' | 'û' | 'ü' => "u",
        'ñ' | 'ń' => "n",
        'ç' => "c",
        'ł' => "l",
        'ß' => "ss",
        c if c.is_ascii_alphanumeric() => ascii_str(c),
        _ => "",
    }
}

fn ascii_str(c: char) -> &'static str {
    const ASCII: &str = "0123456789abcdefghijklmnopqrstuvwxyz";
    let index = ASCII.find(c).unwrap_or(0);
    &ASCII[index..index + 1]
}

/// One sentence of 6 to 18 words, capitalized, ending with a period.
pub fn sentence(rng: &mut SplitMix64) -> String {
    let count = rng.between(6, 18) as usize;
    let mut out = String::new();
    for index in 0..count {
        if index > 0 {
            out.push(' ');
        }
        let word = rng.pick(&WORDS);
        if index == 0 {
            let mut chars = word.chars();
            if let Some(first) = chars.next() {
                out.extend(first.to_uppercase());
                out.push_str(chars.as_str());
            }
        } else {
            out.push_str(word);
        }
    }
    out.push('.');
    out
}

/// Prose of at least `min_bytes` bytes: sentences in paragraphs separated
/// by blank lines, now and then with a tab-indented line.
pub fn prose(rng: &mut SplitMix64, min_bytes: usize) -> String {
    let mut out = String::with_capacity(min_bytes + 200);
    while out.len() < min_bytes {
        if !out.is_empty() {
            if rng.percent(20) {
                out.push_str("\n\n");
                if rng.percent(10) {
                    out.push('\t');
                }
            } else {
                out.push(' ');
            }
        }
        out.push_str(&sentence(rng));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{prose, slug};
    use crate::database::generate::rng::SplitMix64;

    #[test]
    fn slug_folds_accents_and_drops_symbols() {
        assert_eq!(slug("Andrés O'Brien 🎺"), "andres-o-brien");
        assert_eq!(slug("Zoë Weiß"), "zoe-weiss");
    }

    #[test]
    fn prose_reaches_requested_length() {
        let mut rng = SplitMix64::new(3);
        assert!(prose(&mut rng, 4096).len() >= 4096);
    }
}
