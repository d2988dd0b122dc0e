//! "Did you mean" suggestions for misspelled names.

/// Return the candidate closest to `input`, when it is close enough to be a
/// plausible typo: a case-insensitive match, or a small edit distance
/// relative to the length of the name.
pub fn closest<'a, I>(input: &str, candidates: I) -> Option<&'a str>
where
    I: IntoIterator<Item = &'a str>,
{
    let lowered = input.to_lowercase();
    let mut best: Option<(usize, &'a str)> = None;

    for candidate in candidates {
        if candidate.to_lowercase() == lowered {
            return Some(candidate);
        }

        let distance = strsim::damerau_levenshtein(&lowered, &candidate.to_lowercase());
        let allowed = (candidate.chars().count().max(input.chars().count()) / 3).max(1);
        if distance <= allowed && best.is_none_or(|(best_distance, _)| distance < best_distance) {
            best = Some((distance, candidate));
        }
    }

    best.map(|(_, candidate)| candidate)
}

/// Build a hint naming the closest candidate, or listing the valid names when
/// none is close.
pub fn hint_for<'a, I>(input: &str, candidates: I) -> String
where
    I: IntoIterator<Item = &'a str>,
    I::IntoIter: Clone,
{
    let candidates = candidates.into_iter();
    if let Some(found) = closest(input, candidates.clone()) {
        return format!("did you mean `{found}`?");
    }

    let names: Vec<String> = candidates.map(|name| format!("`{name}`")).collect();
    if names.is_empty() {
        "there are no names to choose from here".to_string()
    } else {
        format!("expected one of {}", names.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::{closest, hint_for};

    #[test]
    fn letter_o_for_zero_suggests_fleet() {
        assert_eq!(closest("2O23", ["2022", "2023"]), Some("2023"));
    }

    #[test]
    fn case_difference_suggests_name() {
        assert_eq!(closest("PROD", ["prod", "staging"]), Some("prod"));
    }

    #[test]
    fn unrelated_name_suggests_nothing() {
        assert_eq!(closest("database", ["prod", "staging"]), None);
    }

    #[test]
    fn hint_lists_names_when_nothing_is_close() {
        assert_eq!(
            hint_for("zzz", ["prod", "staging"]),
            "expected one of `prod`, `staging`"
        );
    }
}
