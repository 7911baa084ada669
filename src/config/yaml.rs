//! A YAML document as a tree of nodes that remember where they stand in the file.
//!
//! serde-saphyr does the parsing (panic-free, with budgets against alias bombs); we
//! deserialize into this small tree rather than straight into the config model so that
//! validation can walk the whole document and report *every* mistake with its line,
//! instead of stopping at the first one the way a derived `Deserialize` does.
//! This module knows nothing about awsnycast's keys.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;

/// Where a node starts: 1-based line and column. `0:0` means unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Mark {
    pub line: u32,
    pub column: u32,
}

impl Mark {
    fn of(location: &serde_saphyr::Location) -> Self {
        Mark {
            line: u32::try_from(location.line()).unwrap_or(u32::MAX),
            column: u32::try_from(location.column()).unwrap_or(u32::MAX),
        }
    }
}

/// One YAML node and where it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub mark: Mark,
    pub value: Value,
}

/// A mapping key (always rendered as text) and where it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Key {
    pub mark: Mark,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(Key, Node)>),
}

impl Value {
    /// What this value is, in the words an error message uses.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Null => "nothing (null)",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "a number",
            Value::Float(_) => "a number",
            Value::Str(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }
}

/// A YAML error from the parser, with the place it points at.
#[derive(Debug, Clone)]
pub struct ParseError {
    pub mark: Mark,
    pub message: String,
}

/// Parses one YAML document into a [`Node`] tree. An empty document is `Null`.
pub fn parse(text: &str) -> Result<Node, ParseError> {
    match serde_saphyr::from_str::<Option<Spanned<Value>>>(text) {
        Ok(Some(spanned)) => Ok(Node {
            mark: Mark::of(&spanned.referenced),
            value: spanned.value,
        }),
        Ok(None) => Ok(Node {
            mark: Mark { line: 1, column: 1 },
            value: Value::Null,
        }),
        Err(err) => {
            let mark = err.location().map(|l| Mark::of(&l)).unwrap_or_default();
            // The rendered form carries a snippet; the plain form is one line, which is
            // what we want beside our own file:line prefix.
            let message = err.without_snippet().to_string();
            Err(ParseError { mark, message })
        }
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Value::deserialize(d)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Int(v.into()))
    }
    fn visit_i128<E>(self, v: i128) -> Result<Value, E> {
        Ok(Value::Int(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Int(v.into()))
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Value, E> {
        i128::try_from(v)
            .map(Value::Int)
            .map_err(|_| E::custom("integer too large"))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Float(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::Str(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::Str(v))
    }
    fn visit_bytes<E>(self, v: &[u8]) -> Result<Value, E> {
        Ok(Value::Str(String::from_utf8_lossy(v).into_owned()))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Spanned<Value>>()? {
            items.push(Node {
                mark: Mark::of(&item.referenced),
                value: item.value,
            });
        }
        Ok(Value::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<Spanned<KeyText>>()? {
            let value = map.next_value::<Spanned<Value>>()?;
            entries.push((
                Key {
                    mark: Mark::of(&key.referenced),
                    name: key.value.0,
                },
                Node {
                    mark: Mark::of(&value.referenced),
                    value: value.value,
                },
            ));
        }
        Ok(Value::Map(entries))
    }
}

/// A mapping key: scalars of any type become their text; a non-scalar key is refused.
struct KeyText(String);

impl<'de> Deserialize<'de> for KeyText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = KeyText;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a plain mapping key")
            }
            fn visit_str<E>(self, v: &str) -> Result<KeyText, E> {
                Ok(KeyText(v.to_owned()))
            }
            fn visit_string<E>(self, v: String) -> Result<KeyText, E> {
                Ok(KeyText(v))
            }
            fn visit_bool<E>(self, v: bool) -> Result<KeyText, E> {
                Ok(KeyText(v.to_string()))
            }
            fn visit_i64<E>(self, v: i64) -> Result<KeyText, E> {
                Ok(KeyText(v.to_string()))
            }
            fn visit_u64<E>(self, v: u64) -> Result<KeyText, E> {
                Ok(KeyText(v.to_string()))
            }
            fn visit_f64<E>(self, v: f64) -> Result<KeyText, E> {
                Ok(KeyText(v.to_string()))
            }
            fn visit_unit<E>(self) -> Result<KeyText, E> {
                Ok(KeyText("null".to_owned()))
            }
        }
        deserializer.deserialize_any(KeyVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(node: &Node) -> &Vec<(Key, Node)> {
        match &node.value {
            Value::Map(m) => m,
            other => panic!("expected a map, got {other:?}"),
        }
    }

    #[test]
    fn nodes_carry_lines() {
        let doc = parse("a: 1\nb:\n  - x\n  - {c: true}\n").expect("valid yaml");
        let top = map(&doc);
        assert_eq!(top[0].0.name, "a");
        assert_eq!(top[0].0.mark.line, 1);
        assert_eq!(top[0].1.value, Value::Int(1));
        assert_eq!(top[1].0.mark.line, 2);
        let Value::Seq(items) = &top[1].1.value else {
            panic!("b is a list")
        };
        assert_eq!(items[0].mark.line, 3);
        assert_eq!(items[0].value, Value::Str("x".into()));
        assert_eq!(items[1].mark.line, 4);
        assert_eq!(map(&items[1])[0].1.value, Value::Bool(true));
    }

    #[test]
    fn empty_document_is_null() {
        assert_eq!(parse("").expect("empty is fine").value, Value::Null);
        assert_eq!(parse("# only a comment\n").expect("fine").value, Value::Null);
    }

    #[test]
    fn syntax_errors_point_at_a_line() {
        let err = parse("a: 1\nb: [1, 2\n").expect_err("unclosed flow sequence");
        assert!(err.mark.line >= 2, "{err:?}");
        assert!(!err.message.is_empty());
    }

    #[test]
    fn duplicate_keys_are_an_error() {
        let err = parse("a: 1\na: 2\n").expect_err("duplicate key");
        assert!(
            err.message.to_lowercase().contains("duplicate"),
            "{}",
            err.message
        );
    }
}
