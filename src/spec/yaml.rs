//! The YAML layer: parses spec text into a JSON value plus a span index.
//!
//! This is the only module that knows YAML. It walks yaml-rust2's marked events, so every mapping
//! key and value keeps its position; the JSON value feeds the JSON Schema and serde, and the
//! [`SpanIndex`] maps any JSON pointer back to `line:col`. Positions are only needed for
//! diagnostics, so a valid spec is parsed without them: the first position asked for is found by
//! reading the events again as far as that node (no tree, no index), and a second one builds the
//! index of every node (by parsing the text again). Scalars resolve per the YAML 1.2 core
//! schema (`yes` stays a string). Duplicate keys, tags, non-scalar keys, documents too large or
//! too deep and alias expansion bombs are reported, never followed.

use crate::diagnostic::{Code, Diagnostic, Pos};
use serde_json::{Map, Number, Value};
use std::collections::HashMap;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// Most JSON nodes one spec may expand to (aliases included).
pub const MAX_NODES: usize = 200_000;
/// Deepest nesting accepted.
pub const MAX_DEPTH: usize = 64;
/// Largest spec file accepted, in bytes.
pub const MAX_BYTES: usize = 4 * 1024 * 1024;

/// A parsed spec document.
#[derive(Debug)]
pub struct Document {
    /// The document as JSON.
    pub value: Value,
    /// Where each node came from.
    pub spans: SpanIndex,
}

/// Positions of keys and values by JSON pointer (`/pipelines/training/steps/train/image`), read
/// from the text when asked for.
#[derive(Debug)]
pub struct SpanIndex {
    text: String,
    /// Whether a position was asked for already: the first is found alone ([`locate`]), which
    /// costs one read of the events up to it; later ones use `positions`, which costs a parse.
    asked: AtomicBool,
    positions: OnceLock<Positions>,
    /// For an environment's merged document: what its overrides set, and where they are written.
    overlay: Option<Overlay>,
}

/// The overrides merged into a document, so a position inside them points at the override.
#[derive(Debug)]
struct Overlay {
    /// Pointer of the overrides in the text (`/environments/dev/overrides`).
    at: String,
    /// The overrides tree.
    tree: Value,
}

impl Overlay {
    /// The pointer in the text that holds what the merged document has at `pointer`, if an
    /// override set it: the override itself, or the override value (a scalar or list that
    /// replaced the base) the pointer lies in. `None` when it comes from the spec itself.
    fn locate(&self, pointer: &str) -> Option<String> {
        let mut node = &self.tree;
        let mut at = self.at.clone();
        for segment in pointer.split('/').skip(1) {
            let key = unescape_segment(segment);
            match node {
                Value::Object(map) => match map.get(&key) {
                    Some(child) => {
                        at = pointer_push(&at, &key);
                        node = child;
                    }
                    None => return None, // merged from the spec itself
                },
                _ => return Some(at), // inside a value the override replaced
            }
        }
        Some(at)
    }
}

#[derive(Debug, Default)]
struct Positions {
    values: HashMap<String, Pos>,
    keys: HashMap<String, Pos>,
}

impl SpanIndex {
    /// Position of the value at `pointer`, or of its nearest ancestor.
    pub fn value(&self, pointer: &str) -> Pos {
        self.find(pointer, false)
    }

    /// Position of the key naming `pointer` (falls back to its value; for a node the document
    /// does not have, to its nearest ancestor's key).
    pub fn key(&self, pointer: &str) -> Pos {
        self.find(pointer, true)
    }

    /// The index of a document merged from this one and the overrides at `at` (whose tree is
    /// `tree`): positions of what the overrides set point into them, the rest into the spec.
    pub fn overlaid(&self, at: &str, tree: Value) -> SpanIndex {
        let overlay = Some(Overlay { at: at.to_owned(), tree });
        SpanIndex { overlay, ..SpanIndex::new(self.text.clone()) }
    }

    fn new(text: String) -> SpanIndex {
        SpanIndex { text, asked: AtomicBool::new(false), positions: OnceLock::new(), overlay: None }
    }

    fn find(&self, pointer: &str, key: bool) -> Pos {
        let at = self.overlay.as_ref().and_then(|o| o.locate(pointer));
        let pointer = at.as_deref().unwrap_or(pointer);
        if self.positions.get().is_none() && !self.asked.swap(true, Ordering::Relaxed) {
            let (value, key_pos) = locate(&self.text, pointer);
            return if key { key_pos.unwrap_or(value) } else { value };
        }
        let positions = self.positions.get_or_init(|| build(&self.text, true).spans);
        if key { positions.key(pointer) } else { positions.value(pointer) }
    }
}

/// What names the next child of an open container, and whether the container is on the path to
/// the node [`locate`] looks for.
struct Open {
    on_path: bool,
    /// A mapping's pending key (`None` until read), or a sequence's next index.
    next: Result<Option<String>, usize>,
}

impl Open {
    fn names(&self, segment: &str) -> bool {
        match &self.next {
            Ok(key) => key.as_deref() == Some(segment),
            Err(index) => index.to_string() == segment,
        }
    }

    /// A child was placed: a mapping waits for its next key, a sequence counts it.
    fn advance(&mut self) {
        match &mut self.next {
            Ok(key) => *key = None,
            Err(index) => *index += 1,
        }
    }
}

/// Where the node at `pointer` is written, as the full index would record it: its value's
/// position and its key's, if it names a mapping entry; for a node the document does not have,
/// those of its nearest ancestor that it has (or 1:1). Reads
/// the events only up to the node, or to the end of its deepest ancestor, keeping one frame per
/// open container; the same events and positions as [`build`], which the tests check node by node.
fn locate(text: &str, pointer: &str) -> (Pos, Option<Pos>) {
    let wanted: Vec<String> = pointer.split('/').skip(1).map(unescape_segment).collect();
    let (mut value, mut key) = (Pos { line: 1, col: 1 }, None);
    // The key naming the next node on the path, once read.
    let mut named = None;
    let mut stack: Vec<Open> = Vec::new();
    let mut parser = Parser::new_from_str(text);
    while let Ok((event, mark)) = parser.next_token() {
        let pos = marker_pos(&mark);
        let next = match event {
            Event::Scalar(text, ..) if matches!(stack.last(), Some(Open { next: Ok(None), .. })) => {
                let depth = stack.len();
                if let Some(map) = stack.last_mut() {
                    if map.on_path && wanted.get(depth - 1) == Some(&text) {
                        named = Some(pos);
                    }
                    map.next = Ok(Some(text));
                }
                continue;
            }
            Event::Scalar(..) | Event::Alias(_) => None,
            Event::MappingStart(..) => Some(Ok(None)),
            Event::SequenceStart(..) => Some(Err(0)),
            Event::MappingEnd | Event::SequenceEnd => {
                if stack.pop().is_some_and(|closed| closed.on_path) {
                    break; // the node is not inside its deepest ancestor: that is the answer
                }
                if let Some(parent) = stack.last_mut() {
                    parent.advance();
                }
                continue;
            }
            Event::StreamEnd => break,
            _ => continue,
        };
        let depth = stack.len();
        let on_path = match stack.last() {
            None => true,
            Some(parent) => parent.on_path && wanted.get(depth - 1).is_some_and(|s| parent.names(s)),
        };
        if on_path {
            value = pos;
            key = named.take();
            if depth == wanted.len() {
                break;
            }
        }
        match next {
            Some(next) => stack.push(Open { on_path, next }),
            None => {
                if let Some(parent) = stack.last_mut() {
                    parent.advance();
                }
            }
        }
    }
    (value, key)
}

impl Positions {
    fn value(&self, pointer: &str) -> Pos {
        self.find(&self.values, pointer)
    }

    /// The key naming the node, its value if no key names it (a sequence item, the root), or,
    /// for a node the document does not have, the same for its nearest ancestor: a missing field
    /// is reported at the key of the mapping it belongs in.
    fn key(&self, pointer: &str) -> Pos {
        let mut p = pointer;
        loop {
            if let Some(pos) = self.keys.get(p).or_else(|| self.values.get(p)) {
                return *pos;
            }
            match p.rfind('/') {
                Some(i) => p = &p[..i],
                None => return Pos { line: 1, col: 1 },
            }
        }
    }

    fn find(&self, map: &HashMap<String, Pos>, pointer: &str) -> Pos {
        let mut p = pointer;
        loop {
            if let Some(pos) = map.get(p) {
                return *pos;
            }
            match p.rfind('/') {
                Some(i) => p = &p[..i],
                None => return Pos { line: 1, col: 1 },
            }
        }
    }
}

/// Appends one escaped JSON-pointer segment.
pub fn pointer_push(base: &str, segment: &str) -> String {
    let mut pointer = String::with_capacity(base.len() + segment.len() + 1);
    pointer.push_str(base);
    push_segment(&mut pointer, segment);
    pointer
}

/// One JSON-pointer segment as the name it escapes (`~1` → `/`, then `~0` → `~`: the reverse of
/// [`push_segment`]).
pub fn unescape_segment(segment: &str) -> String {
    segment.replace("~1", "/").replace("~0", "~")
}

/// Appends one escaped JSON-pointer segment in place (`~` → `~0`, `/` → `~1`).
pub fn push_segment(pointer: &mut String, segment: &str) {
    pointer.push('/');
    for c in segment.chars() {
        match c {
            '~' => pointer.push_str("~0"),
            '/' => pointer.push_str("~1"),
            c => pointer.push(c),
        }
    }
}

/// Parses YAML text. Errors are positioned diagnostics; all structural problems are collected.
pub fn parse(text: &str) -> Result<Document, Vec<Diagnostic>> {
    if text.len() > MAX_BYTES {
        let msg = format!("the spec is {} bytes; the limit is {MAX_BYTES}", text.len());
        return Err(vec![Diagnostic::new(Code::UnsupportedYaml, Pos { line: 1, col: 1 }, msg)]);
    }
    // Without positions first; errors are rare, and their messages need positions (the first
    // definition of a duplicate key…), so a text with errors is parsed again with them.
    let builder = build(text, false);
    let builder = if builder.errors.is_empty() { builder } else { build(text, true) };
    if !builder.errors.is_empty() {
        return Err(builder.errors);
    }
    let value = builder.root.unwrap_or(Value::Null);
    Ok(Document { value, spans: SpanIndex::new(text.to_owned()) })
}

/// Runs the parser over `text`, recording positions if `positions`; errors come sorted.
fn build(text: &str, positions: bool) -> Builder {
    let mut builder = Builder { positions, ..Builder::default() };
    let mut parser = Parser::new_from_str(text);
    if let Err(e) = parser.load(&mut builder, false) {
        let pos = marker_pos(e.marker());
        let d = Diagnostic::new(Code::YamlSyntax, pos, format!("invalid YAML: {}", e.info()))
            .with_hint("check the indentation and quoting around this point");
        builder.errors.insert(0, d);
    }
    builder.errors.sort_by_key(|d| d.pos);
    builder
}

fn marker_pos(m: &Marker) -> Pos {
    Pos { line: m.line().max(1), col: m.col() + 1 }
}

/// A container being filled.
#[derive(Debug)]
enum Frame {
    /// `key`: the pending key, its position, and whether it repeats an earlier one (then its value
    /// is dropped once parsed).
    Map { pointer: String, map: Map<String, Value>, key: Option<(String, Pos, bool)>, anchor: usize },
    Seq { pointer: String, items: Vec<Value>, anchor: usize },
}

#[derive(Debug, Default)]
struct Builder {
    stack: Vec<Frame>,
    root: Option<Value>,
    /// Whether to record positions (and the pointers they are keyed by) in `spans`.
    positions: bool,
    spans: Positions,
    anchors: HashMap<usize, (Value, usize)>,
    nodes: usize,
    errors: Vec<Diagnostic>,
    /// Set once a limit is hit: later events are ignored to avoid a flood of errors.
    stopped: bool,
}

impl Builder {
    /// Pointer of the node about to be placed (empty when not recording positions), or `None` if
    /// it is a mapping key.
    fn next_pointer(&self) -> Option<String> {
        match self.stack.last() {
            Some(Frame::Map { key: None, .. }) => None,
            _ if !self.positions => Some(String::new()),
            None => Some(String::new()),
            Some(Frame::Map { pointer, key: Some((k, _, _)), .. }) => Some(pointer_push(pointer, k)),
            Some(Frame::Seq { pointer, items, .. }) => Some(pointer_push(pointer, &items.len().to_string())),
        }
    }

    fn record_value(&mut self, pointer: &str, pos: Pos) {
        if self.positions {
            self.spans.values.insert(pointer.to_owned(), pos);
        }
    }

    fn count(&mut self, n: usize, pos: Pos) -> bool {
        self.nodes = self.nodes.saturating_add(n);
        if self.nodes > MAX_NODES {
            let msg = format!("the spec expands to more than {MAX_NODES} nodes (alias expansion?)");
            self.fail(Diagnostic::new(Code::UnsupportedYaml, pos, msg));
            return false;
        }
        true
    }

    fn fail(&mut self, d: Diagnostic) {
        self.errors.push(d);
        self.stopped = true;
    }

    /// Places a finished value into the current container (or as the root).
    fn place(&mut self, value: Value, anchor: usize, size: usize) {
        if anchor > 0 {
            self.anchors.insert(anchor, (value.clone(), size));
        }
        match self.stack.last_mut() {
            None => self.root = Some(value),
            Some(Frame::Seq { items, .. }) => items.push(value),
            Some(Frame::Map { map, key, pointer, .. }) => {
                if let Some((k, _, duplicate)) = key.take() {
                    if !duplicate {
                        map.insert(k, value);
                    }
                } else {
                    // A complex (non-scalar) mapping key.
                    let pos = self.spans.value(pointer);
                    let msg = "mapping keys must be plain strings";
                    self.fail(Diagnostic::new(Code::UnsupportedYaml, pos, msg));
                }
            }
        }
    }

    fn scalar(&mut self, text: String, style: TScalarStyle, anchor: usize, pos: Pos) {
        let Some(pointer) = self.next_pointer() else {
            // A mapping key.
            let positions = self.positions;
            if let Some(Frame::Map { map, key, pointer, .. }) = self.stack.last_mut() {
                let child = if positions { pointer_push(pointer, &text) } else { String::new() };
                if map.contains_key(&text) {
                    let first = self.spans.keys.get(&child).copied().unwrap_or_default();
                    let msg = format!("duplicate key `{text}`");
                    let hint = format!("`{text}` is first defined at line {}", first.line);
                    self.errors.push(Diagnostic::new(Code::DuplicateKey, pos, msg).with_hint(hint));
                    *key = Some((format!("{text}\u{0}dup{}", self.nodes), pos, true));
                } else {
                    if positions {
                        self.spans.keys.insert(child, pos);
                    }
                    *key = Some((text, pos, false));
                }
            }
            return;
        };
        self.record_value(&pointer, pos);
        let value = if style == TScalarStyle::Plain { resolve_plain(&text) } else { Ok(Value::String(text)) };
        match value {
            Ok(v) => self.place(v, anchor, 1),
            Err(msg) => self.fail(Diagnostic::new(Code::UnsupportedYaml, pos, msg)),
        }
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        if self.stopped {
            return;
        }
        let pos = marker_pos(&mark);
        if self.stack.len() > MAX_DEPTH {
            let msg = format!("the spec nests deeper than {MAX_DEPTH} levels");
            return self.fail(Diagnostic::new(Code::UnsupportedYaml, pos, msg));
        }
        match ev {
            Event::Scalar(text, style, anchor, tag) => {
                if tag.is_some() {
                    let msg = "YAML tags are not supported in a spec";
                    return self.fail(Diagnostic::new(Code::UnsupportedYaml, pos, msg));
                }
                if self.count(1, pos) {
                    self.scalar(text, style, anchor, pos);
                }
            }
            Event::MappingStart(anchor, tag) | Event::SequenceStart(anchor, tag) if tag.is_some() => {
                let _ = anchor;
                self.fail(Diagnostic::new(Code::UnsupportedYaml, pos, "YAML tags are not supported in a spec"));
            }
            Event::MappingStart(anchor, _) => {
                let pointer = self.next_pointer().unwrap_or_default();
                self.record_value(&pointer, pos);
                if self.count(1, pos) {
                    self.stack.push(Frame::Map { pointer, map: Map::new(), key: None, anchor });
                }
            }
            Event::SequenceStart(anchor, _) => {
                let pointer = self.next_pointer().unwrap_or_default();
                self.record_value(&pointer, pos);
                if self.count(1, pos) {
                    self.stack.push(Frame::Seq { pointer, items: Vec::new(), anchor });
                }
            }
            Event::MappingEnd | Event::SequenceEnd => {
                let (value, anchor) = match self.stack.pop() {
                    Some(Frame::Map { map, anchor, .. }) => (Value::Object(map), anchor),
                    Some(Frame::Seq { items, anchor, .. }) => (Value::Array(items), anchor),
                    None => return,
                };
                let size = if anchor > 0 { node_count(&value) } else { 0 }; // only aliases need it
                self.place(value, anchor, size);
            }
            Event::Alias(id) => {
                let Some((value, size)) = self.anchors.get(&id).cloned() else {
                    return self.fail(Diagnostic::new(Code::YamlSyntax, pos, "alias to an unknown anchor"));
                };
                if let Some(pointer) = self.next_pointer() {
                    self.record_value(&pointer, pos);
                } else {
                    return self.fail(Diagnostic::new(Code::UnsupportedYaml, pos, "aliases cannot be mapping keys"));
                }
                if self.count(size, pos) {
                    self.place(value, 0, size);
                }
            }
            Event::Nothing | Event::StreamStart | Event::StreamEnd | Event::DocumentStart | Event::DocumentEnd => {}
        }
    }
}

fn node_count(v: &Value) -> usize {
    match v {
        Value::Array(items) => 1 + items.iter().map(node_count).sum::<usize>(),
        Value::Object(map) => 1 + map.values().map(node_count).sum::<usize>(),
        _ => 1,
    }
}

/// Resolves a plain scalar per the YAML 1.2 core schema.
fn resolve_plain(text: &str) -> Result<Value, String> {
    Ok(match text {
        "" | "~" | "null" | "Null" | "NULL" => Value::Null,
        "true" | "True" | "TRUE" => Value::Bool(true),
        "false" | "False" | "FALSE" => Value::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "-.inf" | ".nan" | ".NaN" | ".NAN" => {
            return Err(format!("`{text}` is not a finite number; quote it if you mean a string"));
        }
        _ => {
            if let Some(n) = parse_int(text) {
                Value::Number(n)
            } else if let Some(f) = parse_float(text) {
                Number::from_f64(f).map_or_else(|| Value::String(text.to_owned()), Value::Number)
            } else {
                Value::String(text.to_owned())
            }
        }
    })
}

fn parse_int(text: &str) -> Option<Number> {
    let (neg, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let (radix, digits) = if let Some(h) = digits.strip_prefix("0x") {
        (16, h)
    } else if let Some(o) = digits.strip_prefix("0o") {
        (8, o)
    } else {
        (10, digits)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let magnitude = i128::from_str_radix(digits, radix).ok()?;
    let n = if neg { -magnitude } else { magnitude };
    if let Ok(i) = i64::try_from(n) {
        Some(Number::from(i))
    } else {
        u64::try_from(n).ok().map(Number::from)
    }
}

fn parse_float(text: &str) -> Option<f64> {
    let body = text.strip_prefix(['-', '+']).unwrap_or(text);
    let well_formed = !body.is_empty()
        && body.chars().all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '-' | '+'))
        && body.chars().next().is_some_and(|c| c.is_ascii_digit() || c == '.')
        && body.chars().any(|c| c.is_ascii_digit());
    if well_formed { text.parse().ok() } else { None }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(text: &str) -> Value {
        parse(text).map(|d| d.value).unwrap_or(Value::Null)
    }

    #[test]
    fn pointer_segments_escape_tilde_and_slash() {
        assert_eq!(pointer_push("/overrides/pipelines", "a/b~c"), "/overrides/pipelines/a~1b~0c");
        let mut pointer = String::from("/x");
        push_segment(&mut pointer, "~/");
        assert_eq!(pointer, "/x/~0~1");
    }

    #[test]
    fn resolves_core_schema_scalars() {
        let v = value("a: yes\nb: true\nc: 0x1f\nd: 1.5\ne: ~\nf: '12'\ng: 1e3\nh: 1.2.3\n");
        assert_eq!(v["a"], "yes");
        assert_eq!(v["b"], true);
        assert_eq!(v["c"], 31);
        assert_eq!(v["d"], 1.5);
        assert!(v["e"].is_null());
        assert_eq!(v["f"], "12");
        assert_eq!(v["g"], 1000.0);
        assert_eq!(v["h"], "1.2.3");
    }

    #[test]
    fn records_positions_of_keys_and_values() {
        let doc = parse("top:\n  list:\n    - x\n    - {k: v}\n").map_err(|e| format!("{e:?}"));
        let Ok(doc) = doc else { panic!("parse failed") };
        assert_eq!(doc.spans.key("/top/list"), Pos { line: 2, col: 3 });
        assert_eq!(doc.spans.value("/top/list/1"), Pos { line: 4, col: 7 });
        assert_eq!(doc.spans.value("/top/list/1/k"), Pos { line: 4, col: 11 });
        assert_eq!(doc.spans.value("/top/list/1/k/missing"), Pos { line: 4, col: 11 });
    }

    /// Every pointer the full index records, and pointers below them that name nothing (all
    /// three kinds with `every_miss`, else one), are found at the same value and key positions by
    /// [`locate`] as by the index.
    fn assert_locate_matches_index(name: &str, text: &str, every_miss: bool) {
        let index = build(text, true);
        assert!(index.errors.is_empty(), "{name}: {:?}", index.errors);
        let positions = index.spans;
        let mut pointers: Vec<String> = positions.values.keys().chain(positions.keys.keys()).cloned().collect();
        pointers.sort();
        pointers.dedup();
        assert!(pointers.len() > 5, "{name}: only {} pointers", pointers.len());
        let misses = |p: &String| [format!("{p}/missing"), format!("{p}/0"), format!("{p}/7/x")];
        let missing: Vec<String> = pointers.iter().flat_map(|p| misses(p).into_iter().take(if every_miss { 3 } else { 1 })).collect();
        for pointer in pointers.iter().chain(&missing).chain([&"/nowhere".to_owned()]) {
            let (value, key) = locate(text, pointer);
            assert_eq!(value, positions.value(pointer), "{name}: value of `{pointer}`");
            assert_eq!(key.unwrap_or(value), positions.key(pointer), "{name}: key of `{pointer}`");
        }
    }

    #[test]
    fn locating_one_node_agrees_with_the_index_of_all() {
        let tricky = "top:\n  list:\n    - x\n    - {k: v, 'a/b': [1, {c: d}], '~': ~}\n    - - nested\n      - [ ]\n  \
                      anchor: &a {p: 1, q: [2, 3]}\n  alias: *a\n  inside: {r: *a}\n  folded: >\n    two\n    lines\n  \
                      empty: {}\n  \"quoted key\": \"v\"\nlast: [a, b]\n";
        assert_locate_matches_index("tricky", tricky, true);
        let root = env!("CARGO_MANIFEST_DIR");
        for spec in ["minimal", "flagship", "promotion", "forecast"] {
            let text = std::fs::read_to_string(format!("{root}/specs/{spec}.yaml")).unwrap_or_else(|e| panic!("{spec}: {e}"));
            assert_locate_matches_index(spec, &text, false);
        }
    }

    #[test]
    fn the_first_position_is_located_and_later_ones_come_from_the_index() {
        let doc = parse("a:\n  b: 1\n  c: [x, y]\n").unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(doc.spans.key("/a/c"), Pos { line: 3, col: 3 });
        assert!(doc.spans.positions.get().is_none(), "one position built the whole index");
        assert_eq!(doc.spans.value("/a/c/1"), Pos { line: 3, col: 10 });
        assert!(doc.spans.positions.get().is_some(), "the second position did not use the index");
        assert_eq!(doc.spans.key("/a/c"), Pos { line: 3, col: 3 });
    }

    #[test]
    fn a_missing_field_is_reported_at_the_key_of_its_mapping() {
        let text = "top: 1\nci:\n  github: {owner: acme}\n  branch: main\n";
        let doc = parse(text).unwrap_or_else(|e| panic!("{e:?}"));
        // Located (the first lookup), then from the index (the second): the same answer.
        assert_eq!(doc.spans.key("/ci/approve_last"), Pos { line: 2, col: 1 });
        assert_eq!(doc.spans.key("/ci/approve_last"), Pos { line: 2, col: 1 });
        assert_eq!(doc.spans.key("/ci/github/repo"), Pos { line: 3, col: 3 });
        assert_eq!(doc.spans.value("/ci/github/repo"), Pos { line: 3, col: 11 });
    }

    #[test]
    fn reports_every_duplicate_key() {
        let errs = parse("a: 1\nb: 2\na: 3\nb: 4\n").err().unwrap_or_default();
        let found: Vec<_> = errs.iter().map(|d| (d.code, d.pos.line)).collect();
        assert_eq!(found, [(Code::DuplicateKey, 3), (Code::DuplicateKey, 4)]);
    }

    #[test]
    fn keeps_keys_holding_nul() {
        let doc = parse("\"a\\0b\": 1\n").unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(doc.value, serde_json::json!({"a\u{0}b": 1}));
    }

    #[test]
    fn stops_alias_bombs() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..8 {
            let p = i - 1;
            text.push_str(&format!("a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"));
        }
        let errs = parse(&text).err().unwrap_or_default();
        assert_eq!(errs.first().map(|d| d.code), Some(Code::UnsupportedYaml));
    }

    #[test]
    fn rejects_tags() {
        let errs = parse("a: !!binary aGk=\n").err().unwrap_or_default();
        assert_eq!(errs.first().map(|d| d.code), Some(Code::UnsupportedYaml));
    }
}
