//! Cloud Build substitution syntax.
//!
//! Cloud Build replaces `$NAME` and `${NAME}` anywhere in a step and turns `$$` into `$`. Text
//! that comes from the spec goes through [`literal`], so only the generator's own references
//! (written with [`var`]) stay live; [`live`] finds those references again, which is how every
//! file declares exactly the substitutions it uses and how tests prove nothing else is live.

use crate::model::delivery::Stage;

/// Substitutions Cloud Build provides itself (for triggered builds), never declared in a file.
pub const BUILT_INS: [&str; 20] = [
    "PROJECT_ID",
    "PROJECT_NUMBER",
    "BUILD_ID",
    "LOCATION",
    "TRIGGER_NAME",
    "COMMIT_SHA",
    "REVISION_ID",
    "SHORT_SHA",
    "REPO_NAME",
    "REPO_FULL_NAME",
    "BRANCH_NAME",
    "TAG_NAME",
    "REF_NAME",
    "TRIGGER_BUILD_CONFIG_PATH",
    "SERVICE_ACCOUNT_EMAIL",
    "SERVICE_ACCOUNT",
    "_HEAD_BRANCH",
    "_BASE_BRANCH",
    "_HEAD_REPO_URL",
    "_PR_NUMBER",
];

/// Substitutions a person sets when running a trigger by hand (`gcloud builds triggers run …
/// --substitutions=KEY=VALUE`). The triggers don't pass them, so a file that reads one declares it
/// empty.
pub const SWITCHES: [&str; 1] = [ROLLBACK];

/// Names the commit deployed now (a prefix of its SHA) to deploy an older commit over it on
/// purpose: a rollback (`turn.rs`).
pub const ROLLBACK: &str = "_ROLLBACK";

/// Text that must reach the step exactly as written: every `$` becomes `$$`.
pub fn literal(text: &str) -> String {
    text.replace('$', "$$")
}

/// A live reference to a substitution: `${NAME}`.
pub fn var(name: &str) -> String {
    format!("${{{name}}}")
}

/// Cloud Build's live reference to a delivery variable of a stage's environment.
pub trait Live {
    /// E.g. `${_NEXT_DOCKER_REPO}` for `Stage::Next` and `DOCKER_REPO`.
    fn var(self, name: &str) -> String;
}

impl Live for Stage {
    fn var(self, name: &str) -> String {
        var(&self.key(name))
    }
}

/// The substitutions a string references, in order of appearance, or a description of a `$` that
/// is neither `$$` nor a reference (Cloud Build would reject or mangle it).
pub fn live(text: &str) -> Result<Vec<String>, String> {
    let mut names = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        let after = &rest[at + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            rest = tail;
        } else if let Some(braced) = after.strip_prefix('{') {
            let end = braced.find('}').ok_or_else(|| format!("unclosed `${{` in {text:?}"))?;
            let name = &braced[..end];
            if !is_name(name) {
                return Err(format!("`${{{name}}}` is not a substitution name in {text:?}"));
            }
            names.push(name.to_owned());
            rest = &braced[end + 1..];
        } else {
            let len = after.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(after.len());
            let name = &after[..len];
            if !is_name(name) {
                return Err(format!("a lone `$` in {text:?}"));
            }
            names.push(name.to_owned());
            rest = &after[len..];
        }
    }
    Ok(names)
}

/// A name Cloud Build treats as a substitution: a letter or `_`, then letters, digits and `_`.
fn is_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Whether `name` is a valid user-defined substitution key (`_` then upper-case letters, digits
/// and `_`).
pub fn is_user_key(name: &str) -> bool {
    name.len() > 1
        && name.starts_with('_')
        && name.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_text_has_no_live_reference() {
        for text in ["$HOME", "${X}", "$$", "a$", "$(pwd)", "${_ENV}", "$1 $@ $?", "%{x} {{ y }}"] {
            assert_eq!(live(&literal(text)), Ok(vec![]), "{text}");
        }
    }

    #[test]
    fn finds_live_references() {
        assert_eq!(live("${_A}/x:$SHORT_SHA-$$HOME"), Ok(vec!["_A".to_owned(), "SHORT_SHA".to_owned()]));
        assert!(live("cost: 5$").is_err());
        assert!(live("${unclosed").is_err());
        assert!(live("${a-b}").is_err());
    }

    #[test]
    fn user_keys() {
        assert!(is_user_key("_DOCKER_REPO") && is_user_key("_NEXT_ENV"));
        assert!(!is_user_key("_") && !is_user_key("_lower") && !is_user_key("ENV"));
    }
}
