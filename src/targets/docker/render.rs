//! The minijinja environment for Dockerfile templates, and the quoting filters values print
//! through.
//!
//! Delimiters: `{= … =}` for values, `{% … %}` for loops and conditions, `{# … #}` for comments,
//! so Jinja's `{{ }}` (which a Go-template `HEALTHCHECK` or a value could hold) is just text.
//! Undefined names are errors, and the formatter refuses to print any string that did not come
//! out of a quoting filter, so a value can't reach the Dockerfile unquoted:
//!
//! | filter | for | output |
//! |--------|-----|--------|
//! | `q`    | `ENV`/`LABEL` values | single-quoted (literal: no escapes, no `$` expansion); each `'` as `"'"` |
//! | `sh`   | words in shell-form `RUN` | POSIX single-quoted |
//! | `exec` | `ENTRYPOINT`/`CMD` | exec-form JSON array |
//! | `word` | image refs, paths, names | the value, if it has no character any of the above would need to quote |

use crate::targets::templates::{load_on_first_use, Embedded};
use minijinja::syntax::SyntaxConfig;
use minijinja::value::{Value, ValueKind};
use minijinja::{Environment, Error, ErrorKind, UndefinedBehavior};

/// An environment with the Dockerfile syntax, strict undefined, the quoting filters and the
/// quoting-only formatter, holding `templates` (name, source), each compiled when first rendered.
pub fn environment(templates: Embedded) -> Result<Environment<'static>, Error> {
    let mut env = Environment::new();
    env.set_syntax(
        SyntaxConfig::builder()
            .variable_delimiters("{=", "=}")
            .block_delimiters("{%", "%}")
            .comment_delimiters("{#", "#}")
            .build()?,
    );
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    env.set_keep_trailing_newline(true);
    env.set_formatter(|out, _state, value| {
        let printable = match value.kind() {
            ValueKind::Number => true,
            ValueKind::String => value.is_safe(),
            _ => false,
        };
        if !printable {
            return Err(Error::new(
                ErrorKind::InvalidOperation,
                format!("`{value}` must be printed through a quoting filter"),
            ));
        }
        out.write_str(&value.to_string()).map_err(|e| Error::new(ErrorKind::WriteFailure, e.to_string()))
    });
    env.add_filter("q", |s: &str| Value::from_safe_string(dockerfile_quoted(s)));
    env.add_filter("sh", |s: &str| Value::from_safe_string(single_quoted(s)));
    env.add_filter("exec", exec_form);
    env.add_filter("word", word);
    load_on_first_use(&mut env, templates);
    Ok(env)
}

/// A Dockerfile value (`ENV`, `LABEL`): single-quoted, which Docker reads literally (no escapes,
/// no `$` expansion), with each `'` closed, written as `"'"` and reopened. Validation rejects a
/// `\` right before a `'` or at the end, which hadolint's parser would misread as an escape.
pub fn dockerfile_quoted(s: &str) -> String {
    format!("'{}'", s.replace('\'', r#"'"'"'"#))
}

/// A POSIX shell word: single-quoted, with `'` written as `'\''`.
pub fn single_quoted(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// Exec form: a JSON array of strings (Docker runs it without a shell and expands nothing).
fn exec_form(items: Vec<String>) -> Result<Value, Error> {
    let items: Result<Vec<String>, _> = items.iter().map(serde_json::to_string).collect();
    items
        .map(|items| Value::from_safe_string(format!("[{}]", items.join(", "))))
        .map_err(|e| Error::new(ErrorKind::BadSerialization, e.to_string()))
}

/// A token that needs no quoting anywhere in a Dockerfile; anything else is a bug upstream
/// (validation guarantees these values).
fn word(s: &str) -> Result<Value, Error> {
    let plain = !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "._/:@+=-".contains(c));
    if plain {
        Ok(Value::from_safe_string(s.to_owned()))
    } else {
        Err(Error::new(ErrorKind::InvalidOperation, format!("`{s}` is not a plain Dockerfile word")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unfiltered_strings_are_refused() {
        let env = environment(&[("t", "{= x =}"), ("n", "{= n =}"), ("ok", "{= x | q =}")]);
        let env = env.unwrap_or_else(|e| panic!("{e}"));
        let render =
            |name: &str| env.get_template(name).and_then(|t| t.render(minijinja::context! { x => "a$b", n => 5 }));
        assert!(render("t").is_err());
        assert_eq!(render("n").ok().as_deref(), Some("5"));
        assert_eq!(render("ok").ok().as_deref(), Some("'a$b'"));
    }

    #[test]
    fn undefined_is_an_error() {
        let env = environment(&[("t", "{= missing | q =}")]).unwrap_or_else(|e| panic!("{e}"));
        assert!(env.get_template("t").and_then(|t| t.render(())).is_err());
    }

    #[test]
    fn quoting() {
        assert_eq!(dockerfile_quoted(r#"a "b" \c $D ${E}"#), r#"'a "b" \c $D ${E}'"#);
        assert_eq!(dockerfile_quoted("it's"), r#"'it'"'"'s'"#);
        assert_eq!(single_quoted("it's"), r"'it'\''s'");
        assert!(word("python:3.11-slim@sha256:abc").is_ok());
        assert!(word("a b").is_err() && word("$X").is_err() && word("").is_err());
    }
}
