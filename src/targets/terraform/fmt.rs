//! `terraform fmt` parity for hcl-rs output.
//!
//! hcl-rs writes `key = value` with one space and prints empty blocks as `x {  }`; `hclwrite.Format`
//! (the formatter behind `terraform fmt`) aligns the `=` of consecutive attribute lines and prints
//! `x {}`. This pass applies exactly those rules, as hclwrite states them:
//! - a line has an "assign cell" when it has an `=` after its first token and the rest of the line
//!   from that `=` has balanced brackets (so `labels = {` starts no cell);
//! - consecutive lines with an assign cell form a chain, broken by any other line (blank lines,
//!   comments, block headers, closing brackets); within a chain the `=` sits one space after the
//!   longest lead.

use std::borrow::Cow;

/// Formats hcl-rs output the way `terraform fmt` would.
pub fn terraform_fmt(text: &str) -> String {
    let lines: Vec<Cow<'_, str>> = text.lines().map(collapse_empty_block).collect();
    let mut tokens = Vec::new();
    let cells: Vec<Option<usize>> = lines.iter().map(|l| assign_position(l, &mut tokens)).collect();
    let mut out = String::with_capacity(text.len() + 64);
    let mut i = 0;
    while i < lines.len() {
        if cells[i].is_none() {
            out.push_str(&lines[i]);
            out.push('\n');
            i += 1;
            continue;
        }
        let end = (i..lines.len()).find(|&j| cells[j].is_none()).unwrap_or(lines.len());
        let lead = |j: usize| lines[j][..cells[j].unwrap_or(0)].trim_end();
        let width = (i..end).map(|j| lead(j).chars().count()).max().unwrap_or(0);
        for j in i..end {
            let l = lead(j);
            let rest = lines[j][cells[j].unwrap_or(0)..].trim_start_matches('=').trim_start();
            let pad = width - l.chars().count() + 1;
            out.push_str(l);
            out.push_str(&" ".repeat(pad));
            out.push_str("= ");
            out.push_str(rest);
            out.push('\n');
        }
        i = end;
    }
    out
}

/// `x {  }` → `x {}`.
fn collapse_empty_block(line: &str) -> Cow<'_, str> {
    let trimmed = line.trim_end();
    if let Some(head) = trimmed.strip_suffix('}') {
        let head_trim = head.trim_end();
        if head_trim.ends_with('{') && head_trim.len() < head.len() {
            return Cow::Owned(format!("{head_trim}}}"));
        }
    }
    Cow::Borrowed(line)
}

/// Byte offset of the line's assign `=`, if the line has an assign cell (`tokens` is scratch
/// space, reused from line to line).
fn assign_position(line: &str, tokens: &mut Vec<Tok>) -> Option<usize> {
    let bytes = line.as_bytes();
    let first = line.find(|c: char| !c.is_whitespace())?;
    if bytes[first] == b'#' {
        return None;
    }
    scan(&line[first..], tokens);
    let (eq, _) = tokens.iter().enumerate().find(|(_, t)| matches!(t, Tok::Assign(_))).map(|(i, t)| (i, *t))?;
    if eq == 0 {
        return None;
    }
    let net: i32 = tokens[eq..].iter().map(|t| if let Tok::Bracket(d) = t { *d } else { 0 }).sum();
    match tokens[eq] {
        Tok::Assign(pos) if net == 0 => Some(first + pos),
        _ => None,
    }
}

#[derive(Debug, Clone, Copy)]
enum Tok {
    /// A lone `=` at this byte offset.
    Assign(usize),
    /// An opening (+1) or closing (-1) bracket outside strings.
    Bracket(i32),
    /// Anything else.
    Other,
}

/// Just enough of HCL's lexer: strings (with escapes and `${…}`) are one token; brackets and
/// lone `=` (not `==`, `!=`, `<=`, `>=`, `=>`) are tokens of their own. Replaces `toks`.
fn scan(text: &str, toks: &mut Vec<Tok>) {
    let b = text.as_bytes();
    toks.clear();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'"' => {
                i += 1;
                let mut depth = 0usize;
                while i < b.len() {
                    match b[i] {
                        b'\\' => i += 1,
                        b'$' | b'%' if b.get(i + 1) == Some(&b'{') && depth == 0 && !(i > 0 && b[i - 1] == b[i]) => {
                            depth += 1;
                            i += 1;
                        }
                        b'{' if depth > 0 => depth += 1,
                        b'}' if depth > 0 => depth -= 1,
                        b'"' if depth == 0 => break,
                        _ => {}
                    }
                    i += 1;
                }
                toks.push(Tok::Other);
            }
            b'#' => break,
            b'{' | b'[' | b'(' => toks.push(Tok::Bracket(1)),
            b'}' | b']' | b')' => toks.push(Tok::Bracket(-1)),
            b'=' => {
                let prev = if i > 0 { b[i - 1] } else { b' ' };
                let next = b.get(i + 1).copied().unwrap_or(b' ');
                if matches!(prev, b'=' | b'!' | b'<' | b'>') || matches!(next, b'=' | b'>') {
                    toks.push(Tok::Other);
                } else {
                    toks.push(Tok::Assign(i));
                }
            }
            c if c.is_ascii_whitespace() => {}
            _ => {
                if !matches!(toks.last(), Some(Tok::Other)) || i == 0 || b[i - 1].is_ascii_whitespace() {
                    toks.push(Tok::Other);
                }
            }
        }
        i += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligns_consecutive_attributes_only() {
        let input = "resource \"a\" \"b\" {\n  name = \"x\"\n  location = \"y\"\n  labels = {\n    env = \"dev\"\n    \"cost-center\" = \"r\"\n  }\n  optimized {  }\n}\n";
        let want = "resource \"a\" \"b\" {\n  name     = \"x\"\n  location = \"y\"\n  labels = {\n    env           = \"dev\"\n    \"cost-center\" = \"r\"\n  }\n  optimized {}\n}\n";
        assert_eq!(terraform_fmt(input), want);
    }

    #[test]
    fn ignores_equals_inside_strings_and_operators() {
        let assign_position = |line: &str| super::assign_position(line, &mut Vec::new());
        assert_eq!(assign_position("  filter = \"a=b AND c = d\""), Some(9));
        assert_eq!(assign_position("  condition = var.x == \"y\""), Some(12));
        assert_eq!(assign_position("  x = merge(var.a, {"), None);
        assert_eq!(assign_position("  # a = b"), None);
        assert_eq!(assign_position("  v = \"$${x = {\""), Some(4));
    }
}
