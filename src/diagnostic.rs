//! Diagnostics: what every stage reports about the user's spec, pointing at `file:line:col`.
//!
//! A diagnostic carries a stable [`Code`], a message, the position in the spec, and an optional
//! hint ("did you mean `trainer`?"). [`render`] prints it with a caret excerpt of the source line.

use annotate_snippets::{AnnotationKind, Level, Renderer, Snippet};
use std::fmt;

/// The spec text and the name it is reported under.
#[derive(Debug, Clone)]
pub struct Source {
    /// Path as the user gave it (never canonicalised, so output stays machine-independent).
    pub name: String,
    /// The YAML text.
    pub text: String,
}

/// A position in the source: 1-based line and column (in characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Pos {
    /// 1-based line.
    pub line: usize,
    /// 1-based column, counted in characters.
    pub col: usize,
}

/// Stable diagnostic codes. Their numbers never change meaning; new checks get new numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Code {
    /// E001: the file is not valid YAML.
    YamlSyntax,
    /// E002: a mapping has the same key twice.
    DuplicateKey,
    /// E003: YAML features the spec does not accept (tags, complex keys, oversized documents).
    UnsupportedYaml,
    /// E010: the spec does not match the JSON Schema.
    Schema,
    /// E020: a name refers to nothing declared.
    UnknownReference,
    /// E021: steps depend on each other in a cycle.
    Cycle,
    /// E022: two things would get the same generated name.
    DuplicateName,
    /// E023: a reference points at something of the wrong kind.
    WrongKind,
    /// E030: a name breaks the GCP (or Airflow/KFP) naming rules for its resource kind.
    InvalidName,
    /// E031: a cron expression is invalid.
    InvalidCron,
    /// E032: an unknown GCP region.
    UnknownRegion,
    /// E033: a machine type or accelerator is unknown or the pair is not allowed.
    InvalidMachine,
    /// E034: a path would escape the repository or output directory.
    PathEscape,
    /// E035: a value is out of its allowed range or badly formed.
    InvalidValue,
    /// E036: a string holds characters its target language cannot carry safely.
    UnsafeString,
    /// W001 (warning): a pipeline parameter nothing reads.
    UnusedParameter,
    /// W002 (warning): a declared resource nothing uses, so none is created (`orchestration.composer`).
    UnusedResource,
    /// W003 (warning): the release into the last environment waits for an approval that only
    /// project owners can give (`ci.approvers` is empty).
    NoApprovers,
    /// W004 (warning): a step reads a registry version by an alias no step moves onto a version
    /// of that model, so it is skipped until someone sets the alias by hand.
    UnsetAlias,
}

impl Code {
    /// The stable code, e.g. `E020`.
    pub fn as_str(self) -> &'static str {
        match self {
            Code::YamlSyntax => "E001",
            Code::DuplicateKey => "E002",
            Code::UnsupportedYaml => "E003",
            Code::Schema => "E010",
            Code::UnknownReference => "E020",
            Code::Cycle => "E021",
            Code::DuplicateName => "E022",
            Code::WrongKind => "E023",
            Code::InvalidName => "E030",
            Code::InvalidCron => "E031",
            Code::UnknownRegion => "E032",
            Code::InvalidMachine => "E033",
            Code::PathEscape => "E034",
            Code::InvalidValue => "E035",
            Code::UnsafeString => "E036",
            Code::UnusedParameter => "W001",
            Code::UnusedResource => "W002",
            Code::NoApprovers => "W003",
            Code::UnsetAlias => "W004",
        }
    }
}

impl Code {
    /// Whether it is a warning (reported, but the spec still compiles).
    pub fn is_warning(self) -> bool {
        matches!(self, Code::UnusedParameter | Code::UnusedResource | Code::NoApprovers | Code::UnsetAlias)
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One problem in the spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Stable code.
    pub code: Code,
    /// What is wrong.
    pub message: String,
    /// Where.
    pub pos: Pos,
    /// How to fix it.
    pub hint: Option<String>,
}

impl Diagnostic {
    /// A diagnostic without a hint.
    pub fn new(code: Code, pos: Pos, message: impl Into<String>) -> Self {
        Diagnostic { code, message: message.into(), pos, hint: None }
    }

    /// Adds a hint.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

/// Renders diagnostics as `error[E020]: … --> file:line:col` (`warning[W001]` for warnings) with
/// a caret under the position.
pub fn render(source: &Source, diagnostics: &[Diagnostic], color: bool) -> String {
    let renderer = if color { Renderer::styled() } else { Renderer::plain() };
    let mut out = String::new();
    for d in diagnostics {
        let (line_start, line_text) = line_at(&source.text, d.pos.line);
        let start = byte_col(line_text, d.pos.col);
        let end = token_end(line_text, start);
        let snippet = Snippet::source(line_text)
            .line_start(line_start)
            .path(source.name.as_str())
            .annotation(AnnotationKind::Primary.span(start..end));
        let level = if d.code.is_warning() { Level::WARNING } else { Level::ERROR };
        let mut group = level
            .primary_title(d.message.as_str())
            .id(d.code.as_str())
            .element(snippet);
        if let Some(hint) = &d.hint {
            group = group.element(Level::HELP.message(hint.as_str()));
        }
        out.push_str(&renderer.render(&[group]));
        out.push_str("\n\n");
    }
    out
}

/// The 1-based line number actually shown and that line's text (clamped to the file).
fn line_at(text: &str, line: usize) -> (usize, &str) {
    let count = text.lines().count().max(1);
    let line = line.clamp(1, count);
    (line, text.lines().nth(line - 1).unwrap_or(""))
}

/// Byte offset of a 1-based character column within a line.
fn byte_col(line: &str, col: usize) -> usize {
    line.char_indices().nth(col.saturating_sub(1)).map_or(line.len(), |(i, _)| i)
}

/// End of the token starting at `start`: a quoted scalar up to its closing quote; a plain one up to
/// the next `:`-space, comma, bracket, comment (`#` after a space, as YAML reads it) or end of line.
fn token_end(line: &str, start: usize) -> usize {
    let rest = &line[start..];
    if let Some(quote) = rest.chars().next().filter(|c| *c == '"' || *c == '\'') {
        let mut chars = rest.char_indices().skip(1);
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' if quote == '"' => {
                    chars.next();
                }
                c if c == quote && quote == '\'' && rest[i + 1..].starts_with('\'') => {
                    chars.next();
                }
                c if c == quote => return start + i + 1,
                _ => {}
            }
        }
        return start + rest.trim_end().len().max(1);
    }
    let len = rest
        .char_indices()
        .find(|&(i, c)| {
            c == ',' || c == '}' || c == ']' || (c == ':' && rest[i + 1..].starts_with(' ')) || (c == '#' && rest[..i].ends_with(' '))
        })
        .map_or(rest.trim_end().len(), |(i, _)| rest[..i].trim_end().len());
    start + len.max(1).min(rest.len().max(1))
}

#[cfg(test)]
mod tests {
    use super::token_end;

    #[test]
    fn a_caret_covers_the_whole_scalar() {
        let token = |line: &str, start: usize| line[start..token_end(line, start)].to_owned();
        assert_eq!(token(r#"  notify: ["slack:#alerts"]"#, 11), r#""slack:#alerts""#);
        assert_eq!(token("  notify: [slack:#alerts]", 11), "slack:#alerts");
        assert_eq!(token("  cron: 0 25 * * * # nightly", 8), "0 25 * * *");
        assert_eq!(token(r#"  a: "x\"y", b: 1"#, 5), r#""x\"y""#);
        assert_eq!(token("  a: 'it''s', b: 1", 5), "'it''s'");
        assert_eq!(token("  a: {b: 1}", 9), "1");
    }
}
