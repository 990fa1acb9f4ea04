//! A serde `Serializer` that prints straight to text in [`super::json`]'s format (kfp's key
//! order, indent, escaping and Python float form), without building a `serde_json::Value` first.
//!
//! Each object's entries are written where they fall; their byte ranges and keys are kept on one
//! shared stack, and only an object whose keys did not arrive in code-point order (struct fields,
//! an `IndexMap`-backed `Value`) has its entries reordered when it closes. The result is the text
//! `json::to_string(&serde_json::to_value(x))` gives, for values whose keys are unique.

use super::json::{python_float, write_string};
use serde::ser::{self, Serialize};
use std::borrow::Cow;
use std::fmt;

/// Pretty-prints any serialisable value (no trailing newline).
pub fn to_string<T: Serialize + ?Sized>(value: &T, capacity: usize) -> Result<String, Error> {
    let mut writer = Writer { out: String::with_capacity(capacity), depth: 0, entries: Vec::new() };
    value.serialize(&mut writer)?;
    Ok(writer.out)
}

/// A value JSON can't represent (a non-string map key).
#[derive(Debug)]
pub struct Error(String);

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

impl ser::Error for Error {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Error(msg.to_string())
    }
}

/// One written object entry: its key and where its text (indent to end of value) lies.
#[derive(Debug)]
struct Entry {
    key: Cow<'static, str>,
    start: usize,
    end: usize,
}

#[derive(Debug)]
struct Writer {
    out: String,
    depth: usize,
    /// Entries of the objects being written, innermost last.
    entries: Vec<Entry>,
}

impl Writer {
    fn indent(&mut self, depth: usize) {
        for _ in 0..depth {
            self.out.push_str("  ");
        }
    }

    fn open_object(&mut self) -> Object<'_> {
        self.out.push('{');
        let frame = self.entries.len();
        let body = self.out.len();
        Object { w: self, frame, body, key: None }
    }

    fn open_array(&mut self) -> Array<'_> {
        self.out.push('[');
        Array { w: self, len: 0 }
    }

    fn integer(&mut self, text: impl fmt::Display) {
        use std::fmt::Write as _;
        let _ = write!(self.out, "{text}");
    }
}

/// An object being written.
#[derive(Debug)]
struct Object<'w> {
    w: &'w mut Writer,
    /// Index of this object's first entry on the stack.
    frame: usize,
    /// Offset just after `{`.
    body: usize,
    /// The pending key of a map entry.
    key: Option<Cow<'static, str>>,
}

impl Object<'_> {
    fn entry<T: Serialize + ?Sized>(&mut self, key: Cow<'static, str>, value: &T) -> Result<(), Error> {
        let w = &mut *self.w;
        w.out.push_str(if w.entries.len() == self.frame { "\n" } else { ",\n" });
        let start = w.out.len();
        w.indent(w.depth + 1);
        write_string(&mut w.out, &key);
        w.out.push_str(": ");
        w.depth += 1;
        let written = value.serialize(&mut *w);
        w.depth -= 1;
        written?;
        let end = w.out.len();
        w.entries.push(Entry { key, start, end });
        Ok(())
    }

    fn close(self) -> Result<(), Error> {
        let w = self.w;
        if w.entries.len() == self.frame {
            w.out.push('}');
            return Ok(());
        }
        let entries = &mut w.entries[self.frame..];
        if !entries.windows(2).all(|p| p[0].key <= p[1].key) {
            let tail = w.out.split_off(self.body);
            entries.sort_by(|a, b| a.key.cmp(&b.key));
            for (i, e) in entries.iter().enumerate() {
                w.out.push_str(if i == 0 { "\n" } else { ",\n" });
                w.out.push_str(&tail[e.start - self.body..e.end - self.body]);
            }
        }
        w.entries.truncate(self.frame);
        w.out.push('\n');
        w.indent(w.depth);
        w.out.push('}');
        Ok(())
    }
}

/// An array being written.
#[derive(Debug)]
struct Array<'w> {
    w: &'w mut Writer,
    len: usize,
}

impl Array<'_> {
    fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        let w = &mut *self.w;
        w.out.push_str(if self.len == 0 { "\n" } else { ",\n" });
        self.len += 1;
        w.indent(w.depth + 1);
        w.depth += 1;
        let written = value.serialize(&mut *w);
        w.depth -= 1;
        written
    }

    fn close(self) -> Result<(), Error> {
        if self.len > 0 {
            self.w.out.push('\n');
            self.w.indent(self.w.depth);
        }
        self.w.out.push(']');
        Ok(())
    }
}

/// A variant written as `{"variant": …}` around an inner array or object.
#[derive(Debug)]
struct Variant<'w, Inner> {
    inner: Inner,
    /// The outer object's frame and body, and the variant name.
    outer: (usize, usize, &'static str),
    _w: std::marker::PhantomData<&'w ()>,
}

impl<'a> ser::Serializer for &'a mut Writer {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Array<'a>;
    type SerializeTuple = Array<'a>;
    type SerializeTupleStruct = Array<'a>;
    type SerializeTupleVariant = TupleVariant<'a>;
    type SerializeMap = Object<'a>;
    type SerializeStruct = Object<'a>;
    type SerializeStructVariant = StructVariant<'a>;

    fn serialize_bool(self, v: bool) -> Result<(), Error> {
        self.out.push_str(if v { "true" } else { "false" });
        Ok(())
    }
    fn serialize_i8(self, v: i8) -> Result<(), Error> {
        self.serialize_i64(i64::from(v))
    }
    fn serialize_i16(self, v: i16) -> Result<(), Error> {
        self.serialize_i64(i64::from(v))
    }
    fn serialize_i32(self, v: i32) -> Result<(), Error> {
        self.serialize_i64(i64::from(v))
    }
    fn serialize_i64(self, v: i64) -> Result<(), Error> {
        self.integer(v);
        Ok(())
    }
    fn serialize_u8(self, v: u8) -> Result<(), Error> {
        self.serialize_u64(u64::from(v))
    }
    fn serialize_u16(self, v: u16) -> Result<(), Error> {
        self.serialize_u64(u64::from(v))
    }
    fn serialize_u32(self, v: u32) -> Result<(), Error> {
        self.serialize_u64(u64::from(v))
    }
    fn serialize_u64(self, v: u64) -> Result<(), Error> {
        self.integer(v);
        Ok(())
    }
    fn serialize_f32(self, v: f32) -> Result<(), Error> {
        self.serialize_f64(f64::from(v))
    }
    fn serialize_f64(self, v: f64) -> Result<(), Error> {
        self.out.push_str(&python_float(v));
        Ok(())
    }
    fn serialize_char(self, v: char) -> Result<(), Error> {
        self.serialize_str(v.encode_utf8(&mut [0; 4]))
    }
    fn serialize_str(self, v: &str) -> Result<(), Error> {
        write_string(&mut self.out, v);
        Ok(())
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<(), Error> {
        let mut array = self.open_array();
        for b in v {
            ser::SerializeSeq::serialize_element(&mut array, b)?;
        }
        array.close()
    }
    fn serialize_none(self) -> Result<(), Error> {
        self.serialize_unit()
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Error> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), Error> {
        self.out.push_str("null");
        Ok(())
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<(), Error> {
        self.serialize_unit()
    }
    fn serialize_unit_variant(self, _name: &'static str, _index: u32, variant: &'static str) -> Result<(), Error> {
        self.serialize_str(variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _name: &'static str, value: &T) -> Result<(), Error> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        let mut object = self.open_object();
        object.entry(Cow::Borrowed(variant), value)?;
        object.close()
    }
    fn serialize_seq(self, _len: Option<usize>) -> Result<Array<'a>, Error> {
        Ok(self.open_array())
    }
    fn serialize_tuple(self, _len: usize) -> Result<Array<'a>, Error> {
        Ok(self.open_array())
    }
    fn serialize_tuple_struct(self, _name: &'static str, _len: usize) -> Result<Array<'a>, Error> {
        Ok(self.open_array())
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<TupleVariant<'a>, Error> {
        let outer = open_variant(self, variant);
        Ok(Variant { inner: self.open_array(), outer, _w: std::marker::PhantomData })
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<Object<'a>, Error> {
        Ok(self.open_object())
    }
    fn serialize_struct(self, _name: &'static str, _len: usize) -> Result<Object<'a>, Error> {
        Ok(self.open_object())
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<StructVariant<'a>, Error> {
        let outer = open_variant(self, variant);
        Ok(Variant { inner: self.open_object(), outer, _w: std::marker::PhantomData })
    }
}

type TupleVariant<'a> = Variant<'a, Array<'a>>;
type StructVariant<'a> = Variant<'a, Object<'a>>;

/// Writes `{` and the variant's key, leaving the writer one level deeper for its value.
fn open_variant(w: &mut Writer, variant: &'static str) -> (usize, usize, &'static str) {
    w.out.push('{');
    let (frame, body) = (w.entries.len(), w.out.len());
    w.out.push('\n');
    w.indent(w.depth + 1);
    write_string(&mut w.out, variant);
    w.out.push_str(": ");
    w.depth += 1;
    (frame, body, variant)
}

/// Closes what [`open_variant`] opened, once the inner value is written.
fn close_variant(w: &mut Writer, (frame, body, variant): (usize, usize, &'static str)) {
    w.depth -= 1;
    let end = w.out.len();
    w.entries.push(Entry { key: Cow::Borrowed(variant), start: body + 1, end });
    Object { w, frame, body, key: None }.close().ok();
}

impl ser::SerializeSeq for Array<'_> {
    type Ok = ();
    type Error = Error;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.element(value)
    }
    fn end(self) -> Result<(), Error> {
        self.close()
    }
}

impl ser::SerializeTuple for Array<'_> {
    type Ok = ();
    type Error = Error;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.element(value)
    }
    fn end(self) -> Result<(), Error> {
        self.close()
    }
}

impl ser::SerializeTupleStruct for Array<'_> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.element(value)
    }
    fn end(self) -> Result<(), Error> {
        self.close()
    }
}

impl ser::SerializeTupleVariant for TupleVariant<'_> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.inner.element(value)
    }
    fn end(self) -> Result<(), Error> {
        let Array { w, len } = self.inner;
        Array { w: &mut *w, len }.close()?;
        close_variant(w, self.outer);
        Ok(())
    }
}

impl ser::SerializeMap for Object<'_> {
    type Ok = ();
    type Error = Error;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Error> {
        self.key = Some(Cow::Owned(key_text(key)?));
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        let key = self.key.take().ok_or_else(|| Error("a map value without a key".into()))?;
        self.entry(key, value)
    }
    fn end(self) -> Result<(), Error> {
        self.close()
    }
}

impl ser::SerializeStruct for Object<'_> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) -> Result<(), Error> {
        self.entry(Cow::Borrowed(key), value)
    }
    fn end(self) -> Result<(), Error> {
        self.close()
    }
}

impl ser::SerializeStructVariant for StructVariant<'_> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) -> Result<(), Error> {
        self.inner.entry(Cow::Borrowed(key), value)
    }
    fn end(self) -> Result<(), Error> {
        let Object { w, frame, body, key } = self.inner;
        Object { w: &mut *w, frame, body, key }.close()?;
        close_variant(w, self.outer);
        Ok(())
    }
}

/// A map key as text: a string, or a number (as serde_json writes integer keys).
fn key_text<T: Serialize + ?Sized>(key: &T) -> Result<String, Error> {
    match serde_json::to_value(key) {
        Ok(serde_json::Value::String(s)) => Ok(s),
        Ok(serde_json::Value::Number(n)) => Ok(n.to_string()),
        _ => Err(Error("a JSON object key must be a string".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Serialize;
    use serde_json::json;

    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    enum Input {
        Plain(String),
        #[serde(rename_all = "camelCase")]
        FromTask {
            producer_task: String,
            key: u32,
        },
        Pair(u8, f64),
        Unit,
    }

    #[derive(Serialize)]
    struct Spec {
        zeta: Vec<Input>,
        alpha: Option<f64>,
        map: std::collections::BTreeMap<String, serde_json::Value>,
        none: Option<u8>,
        empty: Vec<u8>,
    }

    #[test]
    fn prints_what_the_value_path_prints() {
        let spec = Spec {
            zeta: vec![
                Input::Plain("a\"\u{e9}".into()),
                Input::FromTask { producer_task: "t".into(), key: 3 },
                Input::Pair(1, 0.00001),
                Input::Unit,
            ],
            alpha: Some(10.0),
            map: [
                ("b".to_owned(), json!({"z": 1, "a": [], "\u{e9}": {}, "~": super::super::json::float(2.0)})),
                ("a".to_owned(), json!(null)),
            ]
            .into_iter()
            .collect(),
            none: None,
            empty: vec![],
        };
        let via_value = serde_json::to_value(&spec).map(|v| super::super::json::to_string(&v)).ok();
        assert_eq!(to_string(&spec, 0).ok(), via_value);
    }
}
