//! Python source fragments for the DAG templates: literals, identifiers and Jinja-inert strings.
//!
//! Every value that reaches a generated DAG goes through [`literal`] (or [`docstring`]), so a spec
//! string can't end a string literal or inject code. Airflow additionally renders Jinja in
//! templated operator fields at run time; [`inert`] rewrites a string so that this rendering gives
//! back the original text.

use serde_json::Value;
use std::fmt::Write as _;

/// A Python expression that evaluates to `value` (JSON maps to `dict`, `list`, `str`, `int`,
/// `float`, `bool` and `None`).
pub fn literal(value: &Value) -> String {
    let mut out = String::new();
    write_literal(value, &mut out);
    out
}

fn write_literal(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("None"),
        Value::Bool(true) => out.push_str("True"),
        Value::Bool(false) => out.push_str("False"),
        Value::Number(n) => write_number(n, out),
        Value::String(s) => out.push_str(&string(s)),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_literal(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (k, v)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(&string(k));
                out.push_str(": ");
                write_literal(v, out);
            }
            out.push('}');
        }
    }
}

/// JSON numbers are Python numbers, except that floats always keep a `.` or an exponent so they
/// stay floats (`1.0`, not `1`).
fn write_number(n: &serde_json::Number, out: &mut String) {
    let text = n.to_string();
    let is_float = n.is_f64();
    out.push_str(&text);
    if is_float && !text.contains(['.', 'e', 'E']) {
        out.push_str(".0");
    }
}

/// A Python string literal: double-quoted unless single quotes need fewer escapes (as `ruff
/// format` writes it).
pub fn string(s: &str) -> String {
    let quote = if s.matches('"').count() > s.matches('\'').count() { '\'' } else { '"' };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        push_escaped(c, quote, &mut out);
    }
    out.push(quote);
    out
}

/// The line length the generated files keep to (the conformance suite's ruff `line-length`).
pub const LINE_LENGTH: usize = 120;

/// Docstring lines longer than this are wrapped with a backslash continuation.
const DOC_WIDTH: usize = 100;

/// A triple-quoted docstring holding exactly `s`, laid out so ruff has nothing to flag: `"` is
/// escaped where it could close the literal, a line's trailing whitespace character is written as
/// an escape, and long lines are wrapped with `\`-newline continuations (which Python removes from
/// the value).
pub fn docstring(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    // Each character's escaped text, back to back in `text`; `tokens` holds their byte ranges and
    // `lines` the token ranges of each source line (tokens of a line are contiguous in `text`).
    let mut text = String::with_capacity(s.len() + 8);
    let mut tokens: Vec<(usize, usize)> = Vec::with_capacity(chars.len());
    let mut lines: Vec<std::ops::Range<usize>> = Vec::new();
    let mut line_start = 0;
    for (i, &c) in chars.iter().enumerate() {
        let quote_next = i == 0 || i + 1 == chars.len() || chars[i - 1] == '"' || chars[i + 1] == '"';
        let start = text.len();
        match c {
            '\n' => {
                lines.push(line_start..tokens.len());
                line_start = tokens.len();
                continue;
            }
            '"' if quote_next => text.push_str("\\\""),
            '"' => text.push('"'),
            c if c.is_whitespace() && chars.get(i + 1).is_none_or(|n| *n == '\n') => {
                let _ = write!(text, "\\u{:04x}", u32::from(c));
            }
            c => push_escaped(c, '"', &mut text),
        }
        tokens.push((start, text.len()));
    }
    lines.push(line_start..tokens.len());
    let mut out = String::with_capacity(text.len() + 6 + 2 * (text.len() / DOC_WIDTH + lines.len()));
    out.push_str("\"\"\"");
    for (i, line) in lines.into_iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let line = &tokens[line];
        let mut used = if i == 0 { 3 } else { 0 };
        let mut start = 0;
        while start < line.len() {
            let end = wrap_end(&text, &line[start..], DOC_WIDTH.saturating_sub(used)) + start;
            out.push_str(&text[line[start].0..line[end - 1].1]);
            if end < line.len() {
                out.push_str("\\\n");
            }
            (start, used) = (end, 0);
        }
    }
    out.push_str("\"\"\"");
    out
}

/// How many tokens (byte ranges of `text`) fit in `room` columns, breaking after a space where
/// possible (at least one).
fn wrap_end(text: &str, tokens: &[(usize, usize)], room: usize) -> usize {
    let mut width_so_far = 0;
    let mut last_space = None;
    for (i, &(a, b)) in tokens.iter().enumerate() {
        let t = &text[a..b];
        width_so_far += width(t);
        if width_so_far > room && i > 0 {
            return last_space.map_or(i, |s| s + 1);
        }
        if t == " " {
            last_space = Some(i);
        }
    }
    tokens.len()
}

/// Appends `# noqa: E501` to code lines longer than [`LINE_LENGTH`] (spec strings can be long and
/// a string literal can't be wrapped). The module docstring, the only multi-line string in a
/// generated DAG, is left alone: [`docstring`] covers it.
pub fn guard_line_length(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_docstring = false;
    for line in text.lines() {
        let quotes = line.matches("\"\"\"").count();
        let inside = in_docstring || quotes > 0;
        if quotes % 2 == 1 {
            in_docstring = !in_docstring;
        }
        out.push_str(line);
        if !inside && width(line) > LINE_LENGTH && !line.contains("# noqa") {
            out.push_str("  # noqa: E501");
        }
        out.push('\n');
    }
    out
}

/// Display width as ruff measures it, erring on the wide side (wide scripts count double).
fn width(line: &str) -> usize {
    line.chars().map(|c| if u32::from(c) >= 0x1100 { 2 } else { 1 }).sum()
}

/// Escapes one character for a Python string literal delimited by `quote`. Control, format and
/// separator characters (which could hide code from a reviewer) become `\u` escapes.
fn push_escaped(c: char, quote: char, out: &mut String) {
    match c {
        '\\' => out.push_str("\\\\"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        c if c == quote => {
            out.push('\\');
            out.push(c);
        }
        c if is_invisible(c) => {
            let _ = write!(out, "\\u{:04x}", u32::from(c));
        }
        c => out.push(c),
    }
}

/// Characters a reviewer can't see: controls, bidi overrides, zero-width and line separators.
fn is_invisible(c: char) -> bool {
    c.is_control()
        || matches!(u32::from(c), 0x200B..=0x200F | 0x2028..=0x202E | 0x2060..=0x2069 | 0xFEFF | 0xFFF9..=0xFFFB)
}

/// Whether `s` is a Python identifier we are willing to emit (ASCII, not a keyword).
pub fn is_identifier(s: &str) -> bool {
    const KEYWORDS: [&str; 38] = [
        "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class", "continue", "def",
        "del", "elif", "else", "except", "finally", "for", "from", "global", "if", "import", "in", "is",
        "lambda", "nonlocal", "not", "or", "pass", "raise", "return", "try", "while", "with", "yield", "match",
        "case", "type",
    ];
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !KEYWORDS.contains(&s)
}

/// Whether Airflow's Jinja would treat part of `s` as markup.
fn has_jinja_markup(s: &str) -> bool {
    ["{{", "{%", "{#"].iter().any(|m| s.contains(m))
}

/// Rewrites a string for a templated operator field so that Airflow's run-time Jinja rendering
/// yields `s` unchanged: plain text stays as it is; text with Jinja markup becomes one Jinja
/// string-literal expression, `{{ '…' }}` (Jinja unescapes `\\` and `\'` inside it).
pub fn inert(s: &str) -> String {
    if !has_jinja_markup(s) {
        return s.to_owned();
    }
    let mut out = String::from("{{ '");
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            // Jinja normalises raw line breaks; escapes survive (it decodes them as `unicode-escape`).
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push_str("' }}");
    out
}

/// Applies [`inert`] to every string inside a JSON value (Airflow renders nested lists and dicts
/// value by value; keys are not rendered).
pub fn inert_value(value: &Value) -> Value {
    match value {
        Value::String(s) => Value::String(inert(s)),
        Value::Array(items) => Value::Array(items.iter().map(inert_value).collect()),
        Value::Object(map) => Value::Object(map.iter().map(|(k, v)| (k.clone(), inert_value(v))).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn literals() {
        let v = json!({"s": "a\"b\\c\n{{ x }}'", "f": 1.0, "g": 0.05, "i": 3, "b": true, "n": null, "l": [1, "x"]});
        assert_eq!(
            literal(&v),
            r#"{"s": "a\"b\\c\n{{ x }}'", "f": 1.0, "g": 0.05, "i": 3, "b": True, "n": None, "l": [1, "x"]}"#
        );
        assert_eq!(string("\u{202e}\u{0}"), r#""\u202e\u0000""#);
        assert_eq!(string(r#"it's "q""#), r#"'it\'s "q"'"#);
    }

    #[test]
    fn docstrings() {
        assert_eq!(docstring("a\nb \"q\" \"\"\" c\\d"), "\"\"\"a\nb \"q\" \\\"\\\"\\\" c\\\\d\"\"\"");
        assert_eq!(docstring("ends with \""), "\"\"\"ends with \\\"\"\"\"");
        let long = format!("{}\nend  ", "word ".repeat(30));
        let doc = docstring(&long);
        assert!(doc.lines().all(|l| width(l) <= DOC_WIDTH + 1 && l == l.trim_end()), "{doc}");
        assert!(doc.ends_with("end \\u0020\"\"\""), "{doc}");
    }

    #[test]
    fn guards_long_code_lines() {
        let long = format!("X = {}", string(&"x".repeat(130)));
        let text = format!("\"\"\"Doc\n{long}\n\"\"\"\n{long}\nY = 1\n");
        let lines: Vec<String> = guard_line_length(&text).lines().map(str::to_owned).collect();
        assert_eq!(lines[1], long);
        assert_eq!(lines[3], format!("{long}  # noqa: E501"));
        assert_eq!(lines[4], "Y = 1");
    }

    #[test]
    fn identifiers() {
        assert!(is_identifier("wait_for_customers"));
        assert!(!is_identifier("1x") && !is_identifier("a-b") && !is_identifier("class") && !is_identifier(""));
    }

    #[test]
    fn inert_strings() {
        assert_eq!(inert("plain {x} $y"), "plain {x} $y");
        assert_eq!(inert(r"{{ ds }} it's \n"), r"{{ '{{ ds }} it\'s \\n' }}");
    }
}
