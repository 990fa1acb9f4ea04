//! Re-parses generated artifacts with real parsers (serde_json, serde_yaml, hcl-rs) or, for
//! Dockerfiles and shell scripts, a word lexer following their quoting rules, and splits every
//! string into what stays literal and what the consuming tool would expand.
//!
//! A [`Parsed`] artifact lists its decoded literal strings, each active part (an HCL
//! interpolation or directive, a Cloud Build substitution, a KFP placeholder in a container
//! command, a shell or Dockerfile `$…`/backtick expansion) replaced by [`MARK`], and separately
//! the source text of every active part. Python files are left to the conformance suite (`ast`).
//!
//! Shared by `tests/hostile.rs`, `tests/fuzz_smoke.rs` and `fuzz/fuzz_targets/compile.rs`.
#![allow(dead_code)]

/// Stands for an active part inside a literal (a noncharacter no spec string contains).
pub const MARK: char = '\u{FFFF}';

/// One artifact's strings after parsing.
#[derive(Debug, Default)]
pub struct Parsed {
    /// Decoded string literals, active parts replaced by [`MARK`].
    pub literals: Vec<String>,
    /// Source text of every active part (`${var.x}`, `$_ENV`, `{{$.inputs…}}`).
    pub active: Vec<String>,
}

impl Parsed {
    fn push(&mut self, parts: Vec<Part>) {
        let mut literal = String::new();
        for part in parts {
            match part {
                Part::Lit(s) => literal.push_str(&s),
                Part::Active(s) => {
                    literal.push(MARK);
                    self.active.push(s);
                }
            }
        }
        self.literals.push(literal);
    }

    /// Whether `s` arrived whole inside one literal.
    pub fn has_literal(&self, s: &str) -> bool {
        self.literals.iter().any(|l| l.contains(s))
    }
}

/// A piece of a string: literal, or expanded by its consumer.
#[derive(Debug)]
pub enum Part {
    /// Literal text.
    Lit(String),
    /// An expansion, as written.
    Active(String),
}

/// Parses one artifact by its path; `Ok(None)` for kinds checked elsewhere (Python) or plain
/// data (requirements, .dockerignore).
pub fn parse(path: &str, text: &str) -> Result<Option<Parsed>, String> {
    let mut out = Parsed::default();
    let name = path.rsplit('/').next().unwrap_or(path);
    if path.ends_with(".json") {
        let v: serde_json::Value = serde_json::from_str(text).map_err(|e| format!("{path}: JSON: {e}"))?;
        json_strings(&v, false, &mut out);
    } else if path.ends_with(".yaml") || path.ends_with(".yml") {
        let v: serde_yaml::Value = serde_yaml::from_str(text).map_err(|e| format!("{path}: YAML: {e}"))?;
        yaml_strings(&v, path.starts_with("cloudbuild/"), &mut out);
    } else if path.ends_with(".tf") || path.ends_with(".tfvars") || path.ends_with(".hcl") {
        let body = hcl::parse(text).map_err(|e| format!("{path}: HCL: {e}"))?;
        hcl_body(&body, &mut out).map_err(|e| format!("{path}: HCL template: {e}"))?;
    } else if name == "Dockerfile" {
        dockerfile(text, &mut out).map_err(|e| format!("{path}: Dockerfile: {e}"))?;
    } else if path.ends_with(".sh") {
        for words in shell_words(text, true).map_err(|e| format!("{path}: shell: {e}"))? {
            out.push(words);
        }
    } else {
        return Ok(None);
    }
    Ok(Some(out))
}

fn json_strings(v: &serde_json::Value, in_container: bool, out: &mut Parsed) {
    match v {
        serde_json::Value::String(s) if in_container => out.push(kfp_parts(s)),
        serde_json::Value::String(s) => out.push(vec![Part::Lit(s.clone())]),
        serde_json::Value::Array(items) => items.iter().for_each(|i| json_strings(i, in_container, out)),
        serde_json::Value::Object(map) => {
            for (k, item) in map {
                out.push(vec![Part::Lit(k.clone())]);
                // KFP fills `{{$…}}` placeholders in a container's command and args.
                json_strings(item, in_container || k == "command" || k == "args", out);
            }
        }
        _ => {}
    }
}

/// Splits KFP `{{$…}}` placeholders out of a container argument.
fn kfp_parts(s: &str) -> Vec<Part> {
    let mut parts = Vec::new();
    let mut rest = s;
    while let Some(at) = rest.find("{{$") {
        let end = rest[at..].find("}}").map_or(rest.len(), |e| at + e + 2);
        parts.push(Part::Lit(rest[..at].to_owned()));
        parts.push(Part::Active(rest[at..end].to_owned()));
        rest = &rest[end..];
    }
    parts.push(Part::Lit(rest.to_owned()));
    parts
}

fn yaml_strings(v: &serde_yaml::Value, cloud_build: bool, out: &mut Parsed) {
    let mut text = |s: &str| out.push(if cloud_build { substitution_parts(s) } else { vec![Part::Lit(s.to_owned())] });
    match v {
        serde_yaml::Value::String(s) => text(s),
        serde_yaml::Value::Sequence(items) => items.iter().for_each(|i| yaml_strings(i, cloud_build, out)),
        serde_yaml::Value::Mapping(map) => {
            for (k, item) in map {
                yaml_strings(k, cloud_build, out);
                yaml_strings(item, cloud_build, out);
            }
        }
        serde_yaml::Value::Tagged(t) => yaml_strings(&t.value, cloud_build, out),
        _ => {}
    }
}

/// What Cloud Build does to a string: `$$` is a literal `$`, `$NAME` and `${NAME}` substitute.
fn substitution_parts(s: &str) -> Vec<Part> {
    let mut parts = Vec::new();
    let mut lit = String::new();
    let mut rest = s;
    while let Some(at) = rest.find('$') {
        lit.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let len = if let Some(tail) = after.strip_prefix('$') {
            lit.push('$');
            rest = tail;
            continue;
        } else if after.starts_with('{') {
            after.find('}').map_or(after.len(), |e| e + 1)
        } else {
            after.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(after.len())
        };
        if len == 0 {
            lit.push('$');
        } else {
            parts.push(Part::Lit(std::mem::take(&mut lit)));
            parts.push(Part::Active(format!("${}", &after[..len])));
        }
        rest = &after[len..];
    }
    lit.push_str(rest);
    parts.push(Part::Lit(lit));
    parts
}

fn hcl_body(body: &hcl::Body, out: &mut Parsed) -> Result<(), hcl::Error> {
    for attr in body.attributes() {
        out.push(vec![Part::Lit(attr.key().to_owned())]);
        hcl_expr(attr.expr(), out)?;
    }
    for block in body.blocks() {
        for label in block.labels() {
            out.push(vec![Part::Lit(label.as_str().to_owned())]);
        }
        hcl_body(block.body(), out)?;
    }
    Ok(())
}

fn hcl_expr(expr: &hcl::Expression, out: &mut Parsed) -> Result<(), hcl::Error> {
    use hcl::Expression as E;
    match expr {
        E::String(s) => out.push(vec![Part::Lit(s.clone())]),
        E::TemplateExpr(t) => {
            let template = hcl::Template::from_expr(t)?;
            let parts = template
                .elements()
                .iter()
                .map(|e| match e {
                    hcl::template::Element::Literal(s) => Part::Lit(s.clone()),
                    other => Part::Active(format!("{other:?}")),
                })
                .collect();
            out.push(parts);
        }
        E::Array(items) => {
            for i in items {
                hcl_expr(i, out)?;
            }
        }
        E::Object(map) => {
            for (k, v) in map {
                match k {
                    hcl::ObjectKey::Identifier(id) => out.push(vec![Part::Lit(id.to_string())]),
                    hcl::ObjectKey::Expression(e) => hcl_expr(e, out)?,
                    _ => {}
                }
                hcl_expr(v, out)?;
            }
        }
        E::FuncCall(call) => {
            for a in &call.args {
                hcl_expr(a, out)?;
            }
        }
        E::Parenthesis(e) => hcl_expr(e, out)?,
        E::Conditional(c) => {
            hcl_expr(&c.cond_expr, out)?;
            hcl_expr(&c.true_expr, out)?;
            hcl_expr(&c.false_expr, out)?;
        }
        E::ForExpr(f) => {
            hcl_expr(&f.collection_expr, out)?;
            hcl_expr(&f.value_expr, out)?;
            if let Some(k) = &f.key_expr {
                hcl_expr(k, out)?;
            }
        }
        E::Operation(op) => match op.as_ref() {
            hcl::expr::Operation::Unary(u) => hcl_expr(&u.expr, out)?,
            hcl::expr::Operation::Binary(b) => {
                hcl_expr(&b.lhs_expr, out)?;
                hcl_expr(&b.rhs_expr, out)?;
            }
        },
        E::Traversal(t) => hcl_expr(&t.expr, out)?,
        _ => {}
    }
    Ok(())
}

/// Dockerfile instructions: exec form (`["a", "b"]`) is JSON; everything else is read as words
/// with Docker's quoting, which for `$` and quotes follows the shell's.
fn dockerfile(text: &str, out: &mut Parsed) -> Result<(), String> {
    let mut logical = String::new();
    for line in text.lines() {
        if logical.is_empty() && (line.trim_start().starts_with('#') || line.trim().is_empty()) {
            continue;
        }
        if let Some(cont) = line.strip_suffix('\\') {
            logical.push_str(cont);
            logical.push(' ');
            continue;
        }
        logical.push_str(line);
        let instruction = std::mem::take(&mut logical);
        let (keyword, args) = instruction.trim_start().split_once(char::is_whitespace).unwrap_or((&instruction, ""));
        if !keyword.chars().all(|c| c.is_ascii_alphabetic()) {
            return Err(format!("not an instruction: {instruction:?}"));
        }
        let args = args.trim();
        if args.starts_with('[') {
            let items: Vec<String> = serde_json::from_str(args).map_err(|e| format!("exec form {args:?}: {e}"))?;
            items.into_iter().for_each(|i| out.push(vec![Part::Lit(i)]));
        } else {
            for words in shell_words(args, false)? {
                out.push(words);
            }
        }
    }
    if logical.is_empty() {
        Ok(())
    } else {
        Err("dangling line continuation".into())
    }
}

/// Splits shell text into words: `'…'` is literal; in `"…"` a backslash escapes `"`, `\`, `$`
/// and a backtick; unquoted, a backslash escapes any character; `$…` and backticks expand
/// outside single quotes. `comments`: an unquoted `#` at a word's start runs to the line end.
pub fn shell_words(text: &str, comments: bool) -> Result<Vec<Vec<Part>>, String> {
    let mut words = Vec::new();
    let mut word: Vec<Part> = Vec::new();
    let mut lit = String::new();
    let mut started = false;
    let mut chars = text.chars().peekable();
    let flush = |word: &mut Vec<Part>, lit: &mut String| {
        if !lit.is_empty() {
            word.push(Part::Lit(std::mem::take(lit)));
        }
    };
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if started {
                    flush(&mut word, &mut lit);
                    words.push(std::mem::take(&mut word));
                    started = false;
                }
            }
            '#' if comments && !started => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        break;
                    }
                }
            }
            '\'' => {
                started = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => lit.push(c),
                        None => return Err(format!("unclosed ' in {text:?}")),
                    }
                }
            }
            '"' => {
                started = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\' | '$' | '`')) => lit.push(c),
                            Some('\n') => {}
                            Some(c) => {
                                lit.push('\\');
                                lit.push(c);
                            }
                            None => return Err(format!("dangling escape in {text:?}")),
                        },
                        Some('$') => expansion(&mut chars, &mut word, &mut lit),
                        Some('`') => backtick(&mut chars, &mut word, &mut lit)?,
                        Some(c) => lit.push(c),
                        None => return Err(format!("unclosed \" in {text:?}")),
                    }
                }
            }
            '\\' => {
                started = true;
                match chars.next() {
                    Some('\n') | None => {}
                    Some(c) => lit.push(c),
                }
            }
            '$' => {
                started = true;
                expansion(&mut chars, &mut word, &mut lit);
            }
            '`' => {
                started = true;
                backtick(&mut chars, &mut word, &mut lit)?;
            }
            c => {
                started = true;
                lit.push(c);
            }
        }
    }
    if started {
        flush(&mut word, &mut lit);
        words.push(word);
    }
    Ok(words)
}

type Chars<'a> = std::iter::Peekable<std::str::Chars<'a>>;

/// After a `$`: `${…}`, `$(…)`, `$NAME`, `$1`, `$?`… are active; a lone `$` is literal.
fn expansion(chars: &mut Chars<'_>, word: &mut Vec<Part>, lit: &mut String) {
    let mut source = String::from("$");
    match chars.peek().copied() {
        Some(open @ ('{' | '(')) => {
            let close = if open == '{' { '}' } else { ')' };
            let mut depth = 0;
            for c in chars.by_ref() {
                source.push(c);
                if c == open {
                    depth += 1;
                } else if c == close {
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                }
            }
        }
        Some(c) if c.is_ascii_alphanumeric() || c == '_' => {
            while let Some(c) = chars.peek().copied().filter(|c| c.is_ascii_alphanumeric() || *c == '_') {
                source.push(c);
                chars.next();
            }
        }
        Some(c @ ('?' | '#' | '@' | '*' | '!' | '$' | '-')) => {
            source.push(c);
            chars.next();
        }
        _ => {
            lit.push('$');
            return;
        }
    }
    if !lit.is_empty() {
        word.push(Part::Lit(std::mem::take(lit)));
    }
    word.push(Part::Active(source));
}

fn backtick(chars: &mut Chars<'_>, word: &mut Vec<Part>, lit: &mut String) -> Result<(), String> {
    let mut source = String::from("`");
    loop {
        match chars.next() {
            Some('`') => break,
            Some(c) => source.push(c),
            None => return Err("unclosed backtick".into()),
        }
    }
    source.push('`');
    if !lit.is_empty() {
        word.push(Part::Lit(std::mem::take(lit)));
    }
    word.push(Part::Active(source));
    Ok(())
}
