//! "Did you mean" for config errors: the known name nearest to a misspelt one.
//!
//! One implementation for every config section (the core's ids, `[notify]` and
//! `[enrichment]` keys), built on `strsim`'s Levenshtein distance, so a misspelling gets the
//! same suggestion wherever it is written.

/// Farthest a suggestion may be from what was written; beyond it a suggestion is more
/// likely to mislead than to help.
const MAX_DISTANCE: usize = 3;

/// The candidate nearest to `word` within edit distance 3; ties go to the alphabetically
/// first candidate, so the suggestion does not depend on the order of a hash map.
pub fn closest<'k>(word: &str, candidates: impl IntoIterator<Item = &'k str>) -> Option<&'k str> {
    candidates
        .into_iter()
        .map(|c| (strsim::levenshtein(word, c), c))
        .filter(|(d, _)| *d <= MAX_DISTANCE)
        .min_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(b.1)))
        .map(|(_, c)| c)
}

/// The fix for an unknown id of kind `what` (rep, team, …): the nearest known id, or how
/// to define one.
pub fn suggest<'k>(what: &str, name: &str, known: impl Iterator<Item = &'k String>) -> String {
    match closest(name, known.map(String::as_str)) {
        Some(k) => format!("did you mean `{k}`? Define the {what} or fix the spelling"),
        None => format!("define a {what} with this id, or use an existing one"),
    }
}

/// The fix for an unknown key among `valid` keys of a table.
pub fn unknown_key_fix(key: &str, valid: &[&str]) -> String {
    match closest(key, valid.iter().copied()) {
        Some(s) => format!("did you mean `{s}`? valid keys: {}", valid.join(", ")),
        None => format!("remove it; valid keys: {}", valid.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_within_three_edits() {
        let keys = ["timeout_secs", "base_url", "link_path"];
        assert_eq!(closest("tmeout_secs", keys), Some("timeout_secs"));
        assert_eq!(closest("baseurl", keys), Some("base_url"));
        assert_eq!(closest("colour", keys), None);
    }

    #[test]
    fn ties_go_to_the_alphabetically_first() {
        assert_eq!(closest("ab", ["ac", "aa"]), Some("aa"));
        assert_eq!(closest("ab", ["aa", "ac"]), Some("aa"));
    }

    #[test]
    fn suggest_names_the_id_or_how_to_define_it() {
        let known = ["amer-ent".to_string(), "emea".to_string()];
        assert_eq!(
            suggest("team", "amer-emt", known.iter()),
            "did you mean `amer-ent`? Define the team or fix the spelling"
        );
        assert_eq!(
            suggest("team", "apac-smb-east", known.iter()),
            "define a team with this id, or use an existing one"
        );
        assert_eq!(
            unknown_key_fix("colour", &["budget", "provider"]),
            "remove it; valid keys: budget, provider"
        );
    }
}
