//! HCL building blocks: typed expressions (hcl-rs) and a file made of commented top-level blocks.
//!
//! Spec strings only ever enter HCL through [`s`] or the literal parts of [`tpl`], which [`escape`]
//! (quotes, backslashes, control characters, and `${`/`%{` become `$${`/`%%{`), so a spec value can
//! never turn into a Terraform expression. References are hcl-rs traversals, never pasted text.

use hcl::expr::{
    BinaryOp, BinaryOperator, Conditional, Expression, FuncCall, Object, ObjectKey, Operation, TemplateExpr, Traversal,
    Variable,
};
use hcl::structure::{Block, BlockBuilder, Body};
use std::collections::BTreeMap;

/// A literal string, escaped so HCL reads back exactly `value`.
pub fn s(value: impl Into<String>) -> Expression {
    Expression::TemplateExpr(Box::new(TemplateExpr::QuotedString(escape(&value.into()))))
}

/// Escapes text for the inside of an HCL quoted string: `"` `\` and control characters, and the
/// template markers `${`/`%{` by doubling their first character. (hcl-rs's own escaping leaves an
/// already doubled `$${` alone, so a spec value `$${x}` would read back as `${x}`.)
pub fn escape(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len() + 2);
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            '$' | '%' if chars.peek() == Some(&'{') => {
                out.push(c);
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// A number.
pub fn num(value: impl Into<hcl::Number>) -> Expression {
    Expression::Number(value.into())
}

/// A boolean.
pub fn bool(value: bool) -> Expression {
    Expression::Bool(value)
}

/// A reference: `root.attr.attr…` (e.g. `["var", "region"]`, `["google_storage_bucket", "data", "name"]`).
pub fn r(path: &[&str]) -> Expression {
    let (root, attrs) = path.split_first().map_or(("null", &[][..]), |(h, t)| (*h, t));
    let var = Variable::unchecked(root);
    if attrs.is_empty() {
        return Expression::Variable(var);
    }
    attrs.iter().fold(Traversal::builder(var), |b, a| b.attr(*a)).build().into()
}

/// A reference whose segments may pick an instance or element: `["google_x", "y[0]", "name"]` is
/// `google_x.y[0].name`; `["template[0]", "containers[0]", "image"]` a `lifecycle` path.
pub fn ri(path: &[&str]) -> Expression {
    let split = |seg: &str| -> (String, Option<u64>) {
        match seg.strip_suffix(']').and_then(|s| s.split_once('[')) {
            Some((name, n)) => (name.to_owned(), n.parse().ok()),
            None => (seg.to_owned(), None),
        }
    };
    let Some((first, rest)) = path.split_first() else { return r(&[]) };
    let (root, index) = split(first);
    if index.is_none() && rest.is_empty() {
        return Expression::Variable(Variable::unchecked(root));
    }
    let mut b = Traversal::builder(Variable::unchecked(root));
    if let Some(n) = index {
        b = b.index(Expression::Number(n.into()));
    }
    for seg in rest {
        let (name, index) = split(seg);
        b = b.attr(name);
        if let Some(n) = index {
            b = b.index(Expression::Number(n.into()));
        }
    }
    b.build().into()
}

/// A binary operation.
pub fn op(lhs: Expression, operator: BinaryOperator, rhs: Expression) -> Expression {
    Expression::Operation(Box::new(Operation::Binary(BinaryOp::new(lhs, operator, rhs))))
}

/// `count = <condition> ? 1 : 0`, for a resource that exists only where the condition holds.
pub fn count_if(condition: Expression) -> Expression {
    Expression::Conditional(Box::new(Conditional::new(condition, num(1), num(0))))
}

/// `var.<name>`.
pub fn var(name: &str) -> Expression {
    r(&["var", name])
}

/// A reference through the first instance of a nested block: `<path>[0].<attr…>`.
pub fn r0(path: &[&str], rest: &[&str]) -> Expression {
    let base = r(path);
    let mut b = Traversal::builder(base).index(Expression::Number(0.into()));
    for a in rest {
        b = b.attr(*a);
    }
    b.build().into()
}

/// One piece of a string template.
#[derive(Debug, Clone)]
pub enum Part {
    /// Literal text (escaped).
    Lit(String),
    /// An interpolated expression.
    Ref(Expression),
}

/// Literal template text.
pub fn lit(text: impl Into<String>) -> Part {
    Part::Lit(text.into())
}

/// An interpolated reference.
pub fn iref(expr: Expression) -> Part {
    Part::Ref(expr)
}

/// A quoted template `"…${ref}…"`: literal parts are escaped by hcl-rs exactly as in [`s`].
pub fn tpl(parts: Vec<Part>) -> Expression {
    let mut text = String::new();
    for part in parts {
        match part {
            Part::Lit(l) => text.push_str(&escape(&l)),
            Part::Ref(e) => {
                text.push_str("${");
                text.push_str(&hcl::format::to_string(&e).unwrap_or_default());
                text.push('}');
            }
        }
    }
    Expression::TemplateExpr(Box::new(TemplateExpr::QuotedString(text)))
}

/// A list.
pub fn list(items: impl IntoIterator<Item = Expression>) -> Expression {
    Expression::Array(items.into_iter().collect())
}

/// A list of literal strings.
pub fn strings<S: AsRef<str>>(items: impl IntoIterator<Item = S>) -> Expression {
    list(items.into_iter().map(|i| s(i.as_ref())))
}

/// An object with (quoted when needed) string keys, in key order.
pub fn object(entries: impl IntoIterator<Item = (String, Expression)>) -> Expression {
    let mut o = Object::new();
    for (k, v) in entries {
        o.insert(ObjectKey::Expression(s(k)), v);
    }
    Expression::Object(o)
}

/// An object of literal strings.
pub fn string_map(map: &BTreeMap<String, String>) -> Expression {
    object(map.iter().map(|(k, v)| (k.clone(), s(v))))
}

/// A function call.
pub fn call(name: &str, args: Vec<Expression>) -> Expression {
    let mut f = FuncCall::builder(name);
    for a in args {
        f = f.arg(a);
    }
    Expression::FuncCall(Box::new(f.build()))
}

/// A Terraform identifier from a spec key (`on-new-data` → `on_new_data`).
pub fn ident(key: &str) -> String {
    key.replace('-', "_")
}

/// Starts a `resource "<type>" "<name>"` block.
pub fn resource(ty: &str, name: &str) -> BlockBuilder {
    Block::builder("resource").add_label(ty).add_label(name)
}

/// Starts a `data "<type>" "<name>"` block.
pub fn data(ty: &str, name: &str) -> BlockBuilder {
    Block::builder("data").add_label(ty).add_label(name)
}

/// Starts a nested block.
pub fn block(name: &str) -> BlockBuilder {
    Block::builder(name)
}

/// Builder extensions for optional attributes.
pub trait BlockExt: Sized {
    /// Adds `key = value`.
    fn attr(self, key: &str, value: Expression) -> Self;
    /// Adds `key = value` when present.
    fn opt(self, key: &str, value: Option<Expression>) -> Self {
        match value {
            Some(v) => self.attr(key, v),
            None => self,
        }
    }
    /// Adds a nested block when present.
    fn opt_block(self, b: Option<Block>) -> Self;
}

impl BlockExt for BlockBuilder {
    fn attr(self, key: &str, value: Expression) -> Self {
        self.add_attribute((key, value))
    }
    fn opt_block(self, b: Option<Block>) -> Self {
        match b {
            Some(b) => self.add_block(b),
            None => self,
        }
    }
}

/// One top-level item: comment lines above, the block, and comment lines at the top of its body
/// (where checkov looks for `checkov:skip` annotations).
#[derive(Debug, Clone)]
pub struct Item {
    comments: Vec<String>,
    inner: Vec<String>,
    body: ItemBody,
}

#[derive(Debug, Clone)]
enum ItemBody {
    Block(Block),
    Attributes(Body),
    Comment,
}

impl Item {
    /// A block.
    pub fn block(b: Block) -> Item {
        Item { comments: Vec::new(), inner: Vec::new(), body: ItemBody::Block(b) }
    }

    /// Top-level attributes (tfvars).
    pub fn attributes(body: Body) -> Item {
        Item { comments: Vec::new(), inner: Vec::new(), body: ItemBody::Attributes(body) }
    }

    /// A standalone comment paragraph.
    pub fn comment(lines: impl IntoIterator<Item = impl Into<String>>) -> Item {
        Item { comments: lines.into_iter().map(Into::into).collect(), inner: Vec::new(), body: ItemBody::Comment }
    }

    /// Adds a comment line above the item.
    pub fn note(mut self, line: impl Into<String>) -> Item {
        self.comments.push(line.into());
        self
    }

    /// The block, if the item is one.
    pub fn as_block(&self) -> Option<&Block> {
        match &self.body {
            ItemBody::Block(b) => Some(b),
            _ => None,
        }
    }

    /// The block, if the item is one, to change.
    pub fn as_block_mut(&mut self) -> Option<&mut Block> {
        match &mut self.body {
            ItemBody::Block(b) => Some(b),
            _ => None,
        }
    }

    /// Adds a comment line above the item's other comments.
    pub fn note_first(mut self, line: impl Into<String>) -> Item {
        self.comments.insert(0, line.into());
        self
    }

    /// Adds the comment lines of `other` (another environment's version of this item) that this
    /// item lacks, at their place there.
    pub fn absorb_comments(&mut self, other: &Item) {
        for (i, line) in other.comments.iter().enumerate() {
            if !self.comments.contains(line) {
                self.comments.insert(i.min(self.comments.len()), line.clone());
            }
        }
    }

    /// Adds a `#checkov:skip=<check>:<reason>` line inside the block.
    pub fn skip(mut self, check: &str, reason: &str) -> Item {
        self.inner.push(format!("checkov:skip={check}:{reason}"));
        self
    }
}

impl From<Block> for Item {
    fn from(b: Block) -> Item {
        Item::block(b)
    }
}

impl From<BlockBuilder> for Item {
    fn from(b: BlockBuilder) -> Item {
        Item::block(b.build())
    }
}

/// One comment line (newlines from spec text flattened so they cannot end the comment).
fn comment_line(text: &str, indent: &str) -> String {
    let flat: String = text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    let flat = flat.trim_end();
    if flat.is_empty() {
        format!("{indent}#\n")
    } else {
        format!("{indent}# {flat}\n")
    }
}

/// A file of top-level items separated by blank lines, formatted like `terraform fmt`.
#[derive(Debug, Clone, Default)]
pub struct TfFile {
    items: Vec<Item>,
}

impl TfFile {
    /// An empty file.
    pub fn new() -> TfFile {
        TfFile::default()
    }

    /// Appends an item.
    pub fn push(&mut self, item: impl Into<Item>) {
        self.items.push(item.into());
    }

    /// The items, in order (for [`super::per_env`]).
    pub fn items(&self) -> &[Item] {
        &self.items
    }

    /// A file of these items.
    pub fn from_items(items: Vec<Item>) -> TfFile {
        TfFile { items }
    }

    /// Whether nothing was added.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The top-level blocks, for [`super::per_env`].
    pub fn blocks(&self) -> impl Iterator<Item = &Block> {
        self.items.iter().filter_map(|item| match &item.body {
            ItemBody::Block(b) => Some(b),
            _ => None,
        })
    }

    /// The top-level blocks, for [`super::overrides`].
    pub fn blocks_mut(&mut self) -> impl Iterator<Item = &mut Block> {
        self.items.iter_mut().filter_map(|item| match &mut item.body {
            ItemBody::Block(b) => Some(b),
            _ => None,
        })
    }

    /// Renders the file: hcl-rs formats each block, comments are placed, then `=` are aligned.
    pub fn render(&self) -> Result<String, hcl::Error> {
        let mut chunks = Vec::with_capacity(self.items.len());
        for item in &self.items {
            let mut text: String = item.comments.iter().map(|c| comment_line(c, "")).collect();
            let body = match &item.body {
                ItemBody::Block(b) => hcl::format::to_string(b)?,
                ItemBody::Attributes(b) => hcl::format::to_string(b)?,
                ItemBody::Comment => String::new(),
            };
            match body.split_once('\n') {
                Some((head, rest)) if !item.inner.is_empty() => {
                    text.push_str(head);
                    text.push('\n');
                    for c in &item.inner {
                        text.push_str(&comment_line(c, "  "));
                    }
                    text.push_str(rest);
                }
                _ => text.push_str(&body),
            }
            chunks.push(text);
        }
        Ok(super::fmt::terraform_fmt(&chunks.join("\n")))
    }
}

/// An object with identifier keys (`{ source = …, version = … }`), in the given order.
pub fn record<'a>(entries: impl IntoIterator<Item = (&'a str, Expression)>) -> Expression {
    let mut o = Object::new();
    for (k, v) in entries {
        o.insert(ObjectKey::Identifier(hcl::Identifier::unchecked(k)), v);
    }
    Expression::Object(o)
}
