//! "Did you mean …?" suggestions by edit distance.

/// The closest candidate within a small edit distance, if any.
pub fn closest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (name.chars().count() / 3).max(2);
    candidates
        .into_iter()
        .map(|c| (strsim::damerau_levenshtein(name, c), c))
        .filter(|(d, _)| *d <= limit)
        .min()
        .map(|(_, c)| c)
}

/// A hint: `did you mean `x`?` or the list of valid names.
pub fn hint<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str> + Clone) -> String {
    match closest(name, candidates.clone()) {
        Some(c) => format!("did you mean `{c}`?"),
        None => {
            let all: Vec<&str> = candidates.into_iter().collect();
            if all.is_empty() {
                "nothing of this kind is declared".to_owned()
            } else {
                let shown: Vec<String> = all.iter().take(8).map(|c| format!("`{c}`")).collect();
                format!("declared: {}", shown.join(", "))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_near_names_only() {
        assert_eq!(closest("trainr", ["trainer", "server"]), Some("trainer"));
        assert_eq!(closest("zzz", ["trainer", "server"]), None);
    }
}
