//! A small YAML writer for serde-built values, in the style yamllint accepts by default.
//!
//! serde_yaml's emitter writes sequences flush with their parent key, which yamllint's default
//! `indentation` rule rejects, and it has no say over quoting. This writer indents sequences,
//! writes multi-line text as literal blocks, and leaves a string plain only when it reads back as
//! the same string under both YAML 1.2 and the YAML 1.1 rules older parsers apply (`yes`, `on`,
//! `0777`, `1:30` …); every other string is double-quoted, with escapes for everything YAML
//! doesn't allow raw. Keys are the generator's own and always plain.

use serde_json::Value;

/// Renders a mapping as a YAML document, starting with `---`.
pub fn document(value: &Value) -> String {
    let mut out = String::from("---\n");
    match value {
        Value::Object(map) if !map.is_empty() => mapping(&mut out, map, 0),
        other => {
            out.push_str(&inline(other));
            out.push('\n');
        }
    }
    out
}

fn mapping(out: &mut String, map: &serde_json::Map<String, Value>, indent: usize) {
    for (key, value) in map {
        pad(out, indent);
        out.push_str(key);
        out.push(':');
        entry(out, value, indent);
    }
}

fn sequence(out: &mut String, items: &[Value], indent: usize) {
    for item in items {
        pad(out, indent);
        out.push('-');
        match item {
            Value::Object(map) if !map.is_empty() => {
                let mut nested = String::new();
                mapping(&mut nested, map, indent + 2);
                out.push(' ');
                out.push_str(&nested[indent + 2..]);
            }
            other => entry(out, other, indent),
        }
    }
}

/// Writes what follows `key:` or `-`: a scalar on the same line, or a nested block.
fn entry(out: &mut String, value: &Value, indent: usize) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            out.push('\n');
            mapping(out, map, indent + 2);
        }
        Value::Array(items) if !items.is_empty() => {
            out.push('\n');
            sequence(out, items, indent + 2);
        }
        Value::String(s) if literal_block_ok(s) => {
            out.push_str(" |-\n");
            for line in s.split('\n') {
                if !line.is_empty() {
                    pad(out, indent + 2);
                    out.push_str(line);
                }
                out.push('\n');
            }
        }
        other => {
            out.push(' ');
            out.push_str(&inline(other));
            out.push('\n');
        }
    }
}

/// Writes `n` spaces.
fn pad(out: &mut String, n: usize) {
    out.extend(std::iter::repeat_n(' ', n));
}

fn inline(value: &Value) -> String {
    match value {
        Value::String(s) => scalar(s),
        Value::Object(_) => "{}".to_owned(),
        Value::Array(_) => "[]".to_owned(),
        other => other.to_string(),
    }
}

/// A string as a plain or double-quoted scalar.
pub fn scalar(s: &str) -> String {
    if plain_ok(s) {
        s.to_owned()
    } else {
        double_quoted(s)
    }
}

/// A double-quoted scalar: `"` and `\` escaped, and every character YAML does not allow raw (or
/// that YAML 1.1 reads as a line break) written as `\uXXXX`.
fn double_quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if needs_escape(c) => {
                out.push_str(&format!("\\u{:04x}", u32::from(c)));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Characters YAML does not allow raw, or that YAML 1.1 reads as line breaks or a byte-order mark.
fn needs_escape(c: char) -> bool {
    c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{feff}')
}

/// Whether a key prints plain and reads back as itself: a name of ASCII letters, digits and `_`
/// starting with a letter or `_`, and no YAML 1.1 boolean or null word.
pub fn plain_key(k: &str) -> bool {
    k.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && !YAML11_WORDS.contains(&k.to_ascii_lowercase().as_str())
}

/// Words YAML 1.1 reads as booleans or null.
const YAML11_WORDS: [&str; 12] = ["y", "n", "yes", "no", "on", "off", "true", "false", "null", "~", "=", "<<"];

fn plain_ok(s: &str) -> bool {
    !s.is_empty()
        && s.trim() == s
        && !s.chars().any(needs_escape)
        && !s.starts_with(|c: char| "-?:,[]{}#&*!|>'\"%@`=<~+.".contains(c) || c.is_ascii_digit())
        && plain_syntax_ok(s)
        && !YAML11_WORDS.contains(&s.to_ascii_lowercase().as_str())
        && (reads_back_as_string(s) || serde_yaml::from_str::<serde_yaml::Value>(s).ok() == Some(serde_yaml::Value::String(s.to_owned())))
}

/// Whether a plain scalar in block context ends where the text ends: no `: ` (a mapping key),
/// no ` #` (a comment) and no final `:`.
fn plain_syntax_ok(s: &str) -> bool {
    !s.contains(": ") && !s.contains(" #") && !s.ends_with(':')
}

/// A fast answer for the common case (names, URIs, image tags, shell words, sentences), which
/// saves starting a YAML parser per scalar. Text that starts with an ASCII letter, has no
/// control character and ends where a plain scalar would ([`plain_syntax_ok`]) is a string:
/// YAML 1.2's core schema and YAML 1.1 only resolve words to null or booleans and text starting
/// with a digit, sign or dot to numbers, times and dates; the boolean and null words, and what
/// spells a float the way serde_yaml reads one (`inf`, `nan` …), are left to the full parse.
fn reads_back_as_string(s: &str) -> bool {
    let lower = s.to_ascii_lowercase();
    s.starts_with(|c: char| c.is_ascii_alphabetic())
        && s.trim_end() == s
        && !s.chars().any(needs_escape)
        && plain_syntax_ok(s)
        && !YAML11_WORDS.contains(&lower.as_str())
        && !lower.starts_with("inf")
        && !lower.starts_with("nan")
}

/// Multi-line text reads back exactly from a `|-` block when no line carries edge whitespace or
/// control characters and the text neither starts with a space nor ends with a newline.
fn literal_block_ok(s: &str) -> bool {
    s.contains('\n')
        && !s.ends_with('\n')
        && !s.starts_with([' ', '\n'])
        && s.split('\n').all(|line| line.trim_end() == line && !line.chars().any(needs_escape))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn round_trip(value: &Value) {
        let text = document(value);
        let back: serde_yaml::Value = serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        let back: Value = serde_json::to_value(back).unwrap_or_default();
        assert_eq!(&back, value, "\n{text}");
    }

    #[test]
    fn hostile_strings_read_back_unchanged() {
        let hostile = [
            "",
            " lead",
            "trail ",
            "yes",
            "No",
            "on",
            "0777",
            "1:30",
            "0x1F",
            "1e3",
            ".inf",
            "-",
            "- x",
            "a: b",
            "a #b",
            "#c",
            "{{ x }}",
            "{% y %}",
            "${X}",
            "$$HOME",
            "%{z}",
            "'q'",
            "\"dq\"",
            "back\\slash",
            "tab\there",
            "multi\nline",
            "ends\n",
            "\n lead",
            "trail \nx",
            "null",
            "~",
            "=",
            "<<",
            "@at",
            "`tick`",
            "!tag",
            "&a",
            "*b",
            "? k",
            "|",
            ">",
            "[1]",
            "k:",
            "x:y",
            "é ü 漢",
            "\u{0}",
            "\u{7f}",
            "\u{85}",
            "\u{2028}",
            "\u{feff}x",
            "\r\n",
            "a\u{2028}\nb",
            "python:3.11-slim",
        ];
        for s in hostile {
            round_trip(&json!({ "k": s, "seq": [s, {"in": s}] }));
        }
    }

    proptest::proptest! {
        /// The fast path never calls a string plain that the full parse would read differently.
        #[test]
        fn fast_path_agrees_with_the_parser(s in "[A-Za-z][A-Za-z0-9_./: #$@%&*!|>{}\\[\\],'\"?=+~`^()\\\\-]{0,14}") {
            if reads_back_as_string(&s) {
                proptest::prop_assert_eq!(serde_yaml::from_str::<serde_yaml::Value>(&s).ok(), Some(serde_yaml::Value::String(s.clone())));
            }
        }
    }

    #[test]
    fn fast_path_leaves_core_schema_words_to_the_parser() {
        for word in ["inf", "Infinity", "NaN", "nan", "INF", "True", "FALSE", "Null", "yes", "off", "y"] {
            assert!(!reads_back_as_string(word), "{word}");
        }
        assert!(reads_back_as_string("europe-west4-docker.pkg.dev/acme/x/trainer"));
    }

    #[test]
    fn layout_is_indented_block_style() {
        let v = json!({"steps": [{"id": "a", "args": ["-c", "x\ny"], "waitFor": ["-"]}], "empty": [], "m": {"k": 1}});
        assert_eq!(
            document(&v),
            "---\nsteps:\n  - id: a\n    args:\n      - \"-c\"\n      - |-\n        x\n        y\n    waitFor:\n      - \"-\"\nempty: []\nm:\n  k: 1\n"
        );
        round_trip(&v);
    }
}
