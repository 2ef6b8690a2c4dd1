//! RFC 8785 (JCS) canonical JSON for the ledger's values, and a strict I-JSON parser.
//!
//! The ledger only ever holds I-JSON values without floats: `null`, booleans, integers within
//! ±(2^53−1), strings, arrays and objects. For those, JCS is: no whitespace, object members
//! sorted by the UTF-16 code units of their names, strings escaped as ECMAScript's
//! `JSON.stringify` does (only `"`, `\` and control characters), integers in plain decimal.
//! [`parse_strict`] refuses what I-JSON refuses (duplicate member names, numbers outside the
//! safe range) and, as DOMAIN.md asks, every non-integer number.

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};
use std::fmt;

/// The largest integer the ledger accepts in either sign: 2^53 − 1 (I-JSON's safe range).
pub const MAX_SAFE_INTEGER: i64 = (1 << 53) - 1;

/// Appends the JCS form of `value` to `out`.
///
/// Numbers are written as the integers they are; a float (which [`parse_strict`] never
/// produces) is written in serde_json's form, so a verifier will see a non-canonical line.
pub fn write_canonical(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => out.extend_from_slice(n.to_string().as_bytes()),
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(item, out);
            }
            out.push(b']');
        }
        Value::Object(map) => {
            let mut members: Vec<(&String, &Value)> = map.iter().collect();
            members.sort_by(|a, b| utf16_cmp(a.0, b.0));
            out.push(b'{');
            for (i, (key, item)) in members.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_string(key, out);
                out.push(b':');
                write_canonical(item, out);
            }
            out.push(b'}');
        }
    }
}

/// The JCS form of `value` as bytes.
pub fn to_canonical(value: &Value) -> Vec<u8> {
    let mut out = Vec::with_capacity(128);
    write_canonical(value, &mut out);
    out
}

/// Orders member names as JCS does: by their UTF-16 code units.
pub fn utf16_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    a.encode_utf16().cmp(b.encode_utf16())
}

/// Writes `s` as a JSON string the way JCS (ECMAScript `JSON.stringify`) does.
pub fn write_string(s: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape: Option<&[u8]> = match b {
            b'"' => Some(b"\\\""),
            b'\\' => Some(b"\\\\"),
            0x08 => Some(b"\\b"),
            0x09 => Some(b"\\t"),
            0x0a => Some(b"\\n"),
            0x0c => Some(b"\\f"),
            0x0d => Some(b"\\r"),
            _ => None,
        };
        if let Some(esc) = escape {
            out.extend_from_slice(&bytes[start..i]);
            out.extend_from_slice(esc);
            start = i + 1;
        } else if b < 0x20 {
            out.extend_from_slice(&bytes[start..i]);
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.extend_from_slice(b"\\u00");
            out.push(HEX[usize::from(b >> 4)]);
            out.push(HEX[usize::from(b & 0x0f)]);
            start = i + 1;
        }
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// Parses one JSON text as I-JSON without floats: duplicate member names, non-integers and
/// integers beyond ±(2^53−1) are refused with a message that says which.
pub fn parse_strict(text: &str) -> Result<Value, String> {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let value = StrictValue::deserialize_from(&mut deserializer).map_err(|e| e.to_string())?;
    deserializer.end().map_err(|e| e.to_string())?;
    Ok(value)
}

/// Parses bytes with [`parse_strict`], refusing what is not UTF-8.
pub fn parse_strict_bytes(bytes: &[u8]) -> Result<Value, String> {
    let text = std::str::from_utf8(bytes).map_err(|e| format!("not UTF-8: {e}"))?;
    parse_strict(text)
}

struct StrictValue;

impl StrictValue {
    fn deserialize_from<'de, D: Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
        d.deserialize_any(StrictVisitor)
    }
}

struct StrictSeed;

impl<'de> de::DeserializeSeed<'de> for StrictSeed {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        StrictValue::deserialize_from(d)
    }
}

struct StrictVisitor;

fn integer<E: de::Error>(n: i128) -> Result<Value, E> {
    if n.unsigned_abs() > MAX_SAFE_INTEGER as u128 {
        return Err(E::custom(format!(
            "the number {n} is outside ±(2^53−1), the integers I-JSON can carry"
        )));
    }
    // In range, so it fits an i64.
    Ok(Value::Number(Number::from(n as i64)))
}

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        integer(i128::from(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        integer(i128::from(v))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Err(E::custom(format!(
            "the number {v} is not an integer; the ledger only holds integers (money in cents)"
        )))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(StrictSeed)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut members = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let value = map.next_value_seed(StrictSeed)?;
            if members.contains_key(&key) {
                return Err(de::Error::custom(format!(
                    "the member name \"{key}\" appears twice in one object"
                )));
            }
            members.insert(key, value);
        }
        Ok(Value::Object(members))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_forms() {
        let cases: &[(&str, &str)] = &[
            (
                r#"{"b":1,"a":[true,false,null]}"#,
                r#"{"a":[true,false,null],"b":1}"#,
            ),
            (r#" { "z" : "x\u0001y" } "#, r#"{"z":"x\u0001y"}"#),
            (r#""\u00e9\u20ac\t\/""#, "\"é€\\t/\""),
            (r#""\u007f\u2028""#, "\"\u{7f}\u{2028}\""),
            (r#"-9007199254740991"#, "-9007199254740991"),
            (r#"{"\ud83d\ude00":1,"\ufb01":2}"#, "{\"😀\":1,\"ﬁ\":2}"),
            (r#""\u001F\b\f\n\r\"\\""#, r#""\u001f\b\f\n\r\"\\""#),
        ];
        for (input, expected) in cases {
            let value = parse_strict(input).unwrap();
            assert_eq!(
                String::from_utf8(to_canonical(&value)).unwrap(),
                *expected,
                "{input}"
            );
        }
    }

    #[test]
    fn strict_parser_refuses() {
        for bad in [
            "1.5",
            "1e3",
            "9007199254740992",
            "-9007199254740992",
            r#"{"a":1,"a":2}"#,
            "[1,]",
            "{} x",
        ] {
            assert!(parse_strict(bad).is_err(), "{bad} should be refused");
        }
    }
}
