//! Writes JSON the way the kfp compiler does (`json.dump(d, indent=2, sort_keys=True)` after
//! `MessageToDict`): keys sorted by code point at every level, two-space indent, control and
//! non-ASCII characters `\u`-escaped, and floats in Python's `repr` form (`10.0`, `1e-05`).
//!
//! One deliberate difference: characters outside the Basic Multilingual Plane (emoji) are written
//! as UTF-8, not as the surrogate pairs Python writes, because kfp's own loader (which reads JSON
//! through a YAML parser) rejects surrogate escapes.
//!
//! Numbers keep the kind they were built with: a float (`Number::from_f64`) prints as a Python
//! float, an integer prints as an integer. The IR builders store every `google.protobuf.Value`
//! number as a float, as protobuf does.

use serde_json::Value;
use std::fmt::Write;

/// Pretty-prints a value (no trailing newline).
pub fn to_string(value: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, value, 0);
    out
}

fn write_value(out: &mut String, value: &Value, depth: usize) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) if !n.is_f64() => {
                let _ = write!(out, "{i}");
            }
            (_, Some(u), _) if !n.is_f64() => {
                let _ = write!(out, "{u}");
            }
            (_, _, Some(f)) => out.push_str(&python_float(f)),
            _ => out.push_str("null"),
        },
        Value::String(s) => write_string(out, s),
        Value::Array(items) if items.is_empty() => out.push_str("[]"),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                out.push_str(if i == 0 { "\n" } else { ",\n" });
                indent(out, depth + 1);
                write_value(out, item, depth + 1);
            }
            out.push('\n');
            indent(out, depth);
            out.push(']');
        }
        Value::Object(map) if map.is_empty() => out.push_str("{}"),
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                out.push_str(if i == 0 { "\n" } else { ",\n" });
                indent(out, depth + 1);
                write_string(out, key);
                out.push_str(": ");
                write_value(out, item, depth + 1);
            }
            out.push('\n');
            indent(out, depth);
            out.push('}');
        }
    }
}

fn indent(out: &mut String, depth: usize) {
    for _ in 0..depth {
        out.push_str("  ");
    }
}

/// A JSON string literal with Python's `ensure_ascii=True` escaping.
pub fn write_string(out: &mut String, s: &str) {
    out.reserve(s.len() + 2);
    out.push('"');
    // Copy runs of plain printable ASCII in one go; stop only at characters that need care.
    let bytes = s.as_bytes();
    let (mut run, mut i) = (0, 0);
    while i < bytes.len() {
        let b = bytes[i];
        if matches!(b, b' '..=b'~') && b != b'"' && b != b'\\' {
            i += 1;
            continue;
        }
        out.push_str(&s[run..i]);
        let Some(c) = s[i..].chars().next() else { break };
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\u{10000}'.. => out.push(c),
            _ => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
        }
        i += c.len_utf8();
        run = i;
    }
    out.push_str(&s[run..]);
    out.push('"');
}

/// Python's `repr(float)`: the shortest round-trip digits, in scientific notation when the
/// decimal exponent is below -4 or at least 16, otherwise fixed with at least one decimal.
pub fn python_float(x: f64) -> String {
    if !x.is_finite() {
        return "null".to_owned();
    }
    // `{:e}` gives the shortest round-trip digits: "-1.2345e-7", "1e16", "0e0".
    let sci = format!("{x:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let (sign, mantissa) = mantissa.strip_prefix('-').map_or(("", mantissa), |m| ("-", m));
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    if x == 0.0 {
        return format!("{sign}0.0");
    }
    if !(-4..16).contains(&exp) {
        let (first, rest) = digits.split_at(1);
        let frac = if rest.is_empty() { String::new() } else { format!(".{rest}") };
        let esign = if exp < 0 { '-' } else { '+' };
        return format!("{sign}{first}{frac}e{esign}{:02}", exp.unsigned_abs());
    }
    let point = exp + 1; // digits before the decimal point
    if point <= 0 {
        let zeros = "0".repeat(point.unsigned_abs() as usize);
        format!("{sign}0.{zeros}{digits}")
    } else {
        let point = point as usize;
        if digits.len() <= point {
            format!("{sign}{digits}{}.0", "0".repeat(point - digits.len()))
        } else {
            format!("{sign}{}.{}", &digits[..point], &digits[point..])
        }
    }
}

/// A float JSON number (a `google.protobuf.Value` number).
pub fn float(x: f64) -> Value {
    serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number)
}

/// Converts every number inside a value to a float, as a trip through `google.protobuf.Value`
/// does (`6` → `6.0`).
pub fn proto_value(v: &Value) -> Value {
    match v {
        Value::Number(n) => n.as_f64().map_or(Value::Null, float),
        Value::Array(items) => Value::Array(items.iter().map(proto_value).collect()),
        Value::Object(map) => Value::Object(map.iter().map(|(k, v)| (k.clone(), proto_value(v))).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn floats_print_like_python_repr() {
        let cases = [
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1e-7, "1e-07"),
            (1e16, "1e+16"),
            (123456789012345.0, "123456789012345.0"),
            (1.0 / 3.0, "0.3333333333333333"),
            (0.536870912, "0.536870912"),
            (10.0, "10.0"),
            (-2.5, "-2.5"),
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (9007199254740991.0, "9007199254740991.0"),
            (1.5e300, "1.5e+300"),
            (17.179869184, "17.179869184"),
        ];
        for (x, want) in cases {
            assert_eq!(python_float(x), want, "{x}");
        }
    }

    #[test]
    fn sorts_keys_indents_and_escapes_like_python() {
        let v = json!({"b": [1, float(2.0), {}], "a": "Gr\u{f6}\u{df}e \u{2713} \u{1F600} \"q\" \\ \n\u{7f}", "c": []});
        let want = "{\n  \"a\": \"Gr\\u00f6\\u00dfe \\u2713 \u{1F600} \\\"q\\\" \\\\ \\n\\u007f\",\n  \"b\": [\n    1,\n    2.0,\n    {}\n  ],\n  \"c\": []\n}";
        assert_eq!(to_string(&v), want);
    }

    #[test]
    fn proto_values_have_only_floats() {
        assert_eq!(to_string(&proto_value(&json!({"n": [6, {"m": 1}]}))), "{\n  \"n\": [\n    6.0,\n    {\n      \"m\": 1.0\n    }\n  ]\n}");
    }
}
