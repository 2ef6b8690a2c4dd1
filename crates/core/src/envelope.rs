//! The envelope of an event to append, and its structural checks.
//!
//! An event to append is one JSON object: `{"stream", "type", "effective", "data",
//! "personal"?, "id"?, "expected_version"?}`. [`ProposedEvent::parse`] applies the structural
//! rules of DOMAIN.md in the table's order — `unknown-type`, `malformed-field`,
//! `type-not-in-category`, `stream-id-mismatch`, `negative-amount` — and reports the first
//! one broken with the field at fault. It is pure: no clock, no store.

use crate::canonical;
use crate::catalogue::{self, Category, EventData, EventType, PersonalSpec, NON_NEGATIVE_KEYS};
use crate::rules::{Refusal, Rule};
use crate::types::{is_valid_body_id, is_valid_id, Date, EventId};
use serde_json::{Map, Value};
use std::fmt;

/// A stream name `category/id`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StreamName {
    category: Category,
    name: String,
}

impl StreamName {
    /// Parses `category/id`, checking the id's form for the category.
    pub fn parse(s: &str) -> Result<Self, String> {
        let (cat, id) = s
            .split_once('/')
            .ok_or_else(|| format!("\"{s}\" is not a stream name: write category/id"))?;
        let category = Category::from_name(cat).ok_or_else(|| {
            format!(
                "\"{cat}\" is not a stream category: use one of {}",
                Category::ALL.map(Category::name).join(", ")
            )
        })?;
        let ok = match category {
            Category::Body => is_valid_body_id(id),
            Category::Finance => {
                id.len() == 4 && id.bytes().all(|b| b.is_ascii_digit()) && !id.starts_with('0')
            }
            _ => is_valid_id(id),
        };
        if !ok {
            let form = match category {
                Category::Body => "lower-case [a-z0-9][a-z0-9._-]* segments joined by /",
                Category::Finance => "a four-digit year",
                _ => "lower-case [a-z0-9][a-z0-9._-]*",
            };
            return Err(format!(
                "\"{s}\" has a malformed id: a {cat} stream's id is {form}"
            ));
        }
        Ok(StreamName {
            category,
            name: s.to_owned(),
        })
    }

    /// The stream's category.
    pub fn category(&self) -> Category {
        self.category
    }

    /// The id part, after `category/`.
    pub fn id(&self) -> &str {
        &self.name[self.category.name().len() + 1..]
    }

    /// The whole name.
    pub fn as_str(&self) -> &str {
        &self.name
    }
}

impl fmt::Display for StreamName {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(&self.name)
    }
}

/// What the appender expects of the stream (DOMAIN.md, *Optimistic concurrency*).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExpectedVersion {
    /// Check nothing.
    #[default]
    Any,
    /// The stream has no event yet.
    NoStream,
    /// The stream has at least one event.
    Exists,
    /// The stream's last event has this version.
    Exact(u64),
}

impl ExpectedVersion {
    /// Checks the expectation against a stream holding `len` events.
    pub fn matches(self, len: u64) -> bool {
        match self {
            ExpectedVersion::Any => true,
            ExpectedVersion::NoStream => len == 0,
            ExpectedVersion::Exists => len > 0,
            ExpectedVersion::Exact(n) => len > 0 && len - 1 == n,
        }
    }

    fn parse(v: &Value) -> Result<Self, String> {
        match v {
            Value::String(s) if s == "any" => Ok(ExpectedVersion::Any),
            Value::String(s) if s == "no_stream" => Ok(ExpectedVersion::NoStream),
            Value::String(s) if s == "exists" => Ok(ExpectedVersion::Exists),
            Value::Number(n) if n.as_u64().is_some() => {
                Ok(ExpectedVersion::Exact(n.as_u64().unwrap_or_default()))
            }
            other => Err(format!(
                "{other} is not an expected version: write an integer ≥ 0, \"no_stream\", \"exists\" or \"any\""
            )),
        }
    }
}

impl fmt::Display for ExpectedVersion {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            ExpectedVersion::Any => f.write_str("any"),
            ExpectedVersion::NoStream => f.write_str("no_stream"),
            ExpectedVersion::Exists => f.write_str("exists"),
            ExpectedVersion::Exact(n) => write!(f, "{n}"),
        }
    }
}

/// An event to append that passed the structural rules.
#[derive(Debug, Clone, PartialEq)]
pub struct ProposedEvent {
    pub id: Option<EventId>,
    pub stream: StreamName,
    pub event_type: EventType,
    pub effective: Date,
    /// `data` exactly as given.
    pub data: Value,
    /// `personal` exactly as given, when present and not null.
    pub personal: Option<Value>,
    pub expected_version: ExpectedVersion,
    /// `data`, typed.
    pub event: EventData,
}

const ENVELOPE_KEYS: [&str; 7] = [
    "stream",
    "type",
    "effective",
    "data",
    "personal",
    "id",
    "expected_version",
];

impl ProposedEvent {
    /// Parses one line of a `.jsonl` file (or one HTTP item) and applies the structural rules.
    pub fn parse_line(line: &str) -> Result<Self, Refusal> {
        let value = canonical::parse_strict(line).map_err(|e| {
            Refusal::new(
                Rule::MalformedField,
                format!("the line is not valid I-JSON: {e}"),
            )
        })?;
        Self::parse(value)
    }

    /// Applies the structural rules to a parsed JSON value.
    pub fn parse(value: Value) -> Result<Self, Refusal> {
        // Text that hides what it says: a NUL or another control character, or a
        // bidirectional override that makes a name read otherwise than it is stored. Refused for
        // new events only (a restore takes the ledger's records as they were written).
        if let Some((path, c)) = first_unsafe_text(&value) {
            return Err(Refusal::at(
                Rule::MalformedField,
                path.clone(),
                format!(
                    "{path} holds the invisible character U+{:04X}: control and bidirectional-override characters are not taken",
                    u32::from(c)
                ),
            ));
        }
        Self::parse_with(value, true)
    }

    /// Applies the structural rules to a recorded event whose personal data may be gone
    /// (erased, or left out of an export): `personal` is checked only when `personal_known`.
    pub fn parse_recorded(value: Value, personal_known: bool) -> Result<Self, Refusal> {
        Self::parse_with(value, personal_known)
    }

    fn parse_with(value: Value, personal_known: bool) -> Result<Self, Refusal> {
        let Value::Object(mut obj) = value else {
            return Err(Refusal::new(
                Rule::MalformedField,
                "an event must be a JSON object",
            ));
        };
        // unknown-type comes first in the table: judge the type before anything else.
        let event_type = match obj.get("type") {
            Some(Value::String(name)) => EventType::from_name(name).ok_or_else(|| {
                Refusal::at(
                    Rule::UnknownType,
                    "type",
                    format!(
                        "\"{name}\" is not an event type of the catalogue (see events/README.md)"
                    ),
                )
            })?,
            Some(_) => {
                return Err(Refusal::at(
                    Rule::MalformedField,
                    "type",
                    "type must be a string",
                ))
            }
            None => {
                return Err(Refusal::at(
                    Rule::MalformedField,
                    "type",
                    "the key type is missing",
                ))
            }
        };
        if let Some(key) = obj.keys().find(|k| !ENVELOPE_KEYS.contains(&k.as_str())) {
            return Err(Refusal::at(
                Rule::MalformedField,
                key.clone(),
                format!(
                    "unknown key \"{key}\": an event has only {}",
                    ENVELOPE_KEYS.join(", ")
                ),
            ));
        }
        let stream = match obj.get("stream") {
            Some(Value::String(s)) => {
                StreamName::parse(s).map_err(|e| Refusal::at(Rule::MalformedField, "stream", e))?
            }
            Some(_) => {
                return Err(Refusal::at(
                    Rule::MalformedField,
                    "stream",
                    "stream must be a string",
                ))
            }
            None => {
                return Err(Refusal::at(
                    Rule::MalformedField,
                    "stream",
                    "the key stream is missing",
                ))
            }
        };
        let effective = match obj.get("effective") {
            Some(Value::String(s)) => {
                Date::parse(s).map_err(|e| Refusal::at(Rule::MalformedField, "effective", e))?
            }
            _ => {
                return Err(Refusal::at(
                    Rule::MalformedField,
                    "effective",
                    "effective must be a date YYYY-MM-DD",
                ))
            }
        };
        let id = match obj.get("id") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => {
                Some(EventId::parse(s).map_err(|e| Refusal::at(Rule::MalformedField, "id", e))?)
            }
            Some(_) => {
                return Err(Refusal::at(
                    Rule::MalformedField,
                    "id",
                    "id must be a UUID string",
                ))
            }
        };
        let expected_version = match obj.get("expected_version") {
            None | Some(Value::Null) => ExpectedVersion::Any,
            Some(v) => ExpectedVersion::parse(v)
                .map_err(|e| Refusal::at(Rule::MalformedField, "expected_version", e))?,
        };
        let data = match obj.remove("data") {
            Some(v @ Value::Object(_)) => v,
            Some(_) => {
                return Err(Refusal::at(
                    Rule::MalformedField,
                    "data",
                    "data must be a JSON object",
                ))
            }
            None => {
                return Err(Refusal::at(
                    Rule::MalformedField,
                    "data",
                    "the key data is missing",
                ))
            }
        };
        let event = catalogue::parse_data(event_type, &data).map_err(|(field, msg)| {
            Refusal::at(
                Rule::MalformedField,
                format!("data.{field}"),
                format!("data.{field}: {msg}"),
            )
        })?;
        catalogue::check_values(&event)
            .map_err(|(field, message)| Refusal::at(Rule::MalformedField, field, message))?;
        let spec = match event_type.personal() {
            PersonalSpec::Required if !personal_known => PersonalSpec::Optional,
            spec => spec,
        };
        let personal = match (spec, obj.remove("personal")) {
            (PersonalSpec::None, None | Some(Value::Null)) => None,
            (PersonalSpec::None, Some(_)) => {
                return Err(Refusal::at(
                    Rule::MalformedField,
                    "personal",
                    format!("{event_type} carries no personal data: leave personal out"),
                ))
            }
            (PersonalSpec::Required, None | Some(Value::Null)) => {
                return Err(Refusal::at(
                    Rule::MalformedField,
                    "personal",
                    format!("{event_type} needs its personal object (see events/README.md)"),
                ))
            }
            (PersonalSpec::Optional, None | Some(Value::Null)) => None,
            (_, Some(p @ Value::Object(_))) => {
                catalogue::check_personal(event_type, &p).map_err(|(field, msg)| {
                    Refusal::at(
                        Rule::MalformedField,
                        format!("personal.{field}"),
                        format!("personal.{field}: {msg}"),
                    )
                })?;
                Some(p)
            }
            (_, Some(_)) => {
                return Err(Refusal::at(
                    Rule::MalformedField,
                    "personal",
                    "personal must be a JSON object",
                ))
            }
        };
        if !event_type.categories().contains(&stream.category()) {
            return Err(Refusal::at(
                Rule::TypeNotInCategory,
                "stream",
                format!(
                    "{event_type} belongs in a {} stream, not in {stream}",
                    event_type
                        .categories()
                        .iter()
                        .map(|c| c.name())
                        .collect::<Vec<_>>()
                        .join(" or ")
                ),
            ));
        }
        check_stream_id(&stream, &event)?;
        if let Some((path, n)) = first_negative(&data, "data") {
            return Err(Refusal::at(
                Rule::NegativeAmount,
                path.clone(),
                format!("{path} is {n}: amounts, counts and votes cannot be negative"),
            ));
        }
        Ok(ProposedEvent {
            id,
            stream,
            event_type,
            effective,
            data,
            personal,
            expected_version,
            event,
        })
    }

    /// BLAKE3 over the JCS of what makes two appends "the same event" for idempotency:
    /// `stream`, `type`, `effective`, `data` and `personal`.
    pub fn content_digest(&self) -> [u8; 32] {
        content_digest(
            self.stream.as_str(),
            self.event_type.name(),
            &self.effective.to_string(),
            &self.data,
            self.personal.as_ref(),
        )
    }
}

/// The idempotency digest of an event's content (see [`ProposedEvent::content_digest`]).
pub fn content_digest(
    stream: &str,
    event_type: &str,
    effective: &str,
    data: &Value,
    personal: Option<&Value>,
) -> [u8; 32] {
    let mut obj = Map::new();
    obj.insert("data".into(), data.clone());
    obj.insert("effective".into(), Value::String(effective.into()));
    obj.insert("personal".into(), personal.cloned().unwrap_or(Value::Null));
    obj.insert("stream".into(), Value::String(stream.into()));
    obj.insert("type".into(), Value::String(event_type.into()));
    *blake3::hash(&canonical::to_canonical(&Value::Object(obj))).as_bytes()
}

fn check_stream_id(stream: &StreamName, event: &EventData) -> Result<(), Refusal> {
    let field = format!("data.{}", event.stream_id_field());
    if let EventData::PersonalDataErased(d) = event {
        use catalogue::ErasureSubject as S;
        let fits = matches!(
            (&d.subject, stream.category()),
            (S::Member(_), Category::Member)
                | (S::Case(_), Category::Case)
                | (S::Donor(_), Category::Finance)
        );
        if !fits {
            return Err(Refusal::at(
                Rule::StreamIdMismatch,
                field,
                format!(
                    "an erasure of {} is recorded in {}, not in {stream}",
                    d.subject,
                    match &d.subject {
                        S::Member(m) => format!("member/{m}"),
                        S::Case(c) => format!("case/{c}"),
                        S::Donor(_) =>
                            "the finance/<year> stream of the donor's latest gift".into(),
                    }
                ),
            ));
        }
    }
    match event.stream_id() {
        Some(id) if id != stream.id() => Err(Refusal::at(
            Rule::StreamIdMismatch,
            field.clone(),
            format!(
                "stream {stream} has id {}, but {field} is {id}",
                stream.id()
            ),
        )),
        _ => Ok(()),
    }
}

/// Whether `c` may not be in the ledger's text: a control character other than tab, line feed
/// and carriage return, or a bidirectional embedding, override or isolate (U+202A–U+202E,
/// U+2066–U+2069).
fn unsafe_char(c: char) -> bool {
    (c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
        || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// The first string (key or value) in `value` holding an unsafe character, with its path. The
/// path is built only for what is found: every new event passes through here.
fn first_unsafe_text(value: &Value) -> Option<(String, char)> {
    fn find(value: &Value) -> Option<(Vec<String>, char)> {
        match value {
            Value::String(s) => s.chars().find(|c| unsafe_char(*c)).map(|c| (Vec::new(), c)),
            Value::Object(map) => map.iter().find_map(|(k, v)| {
                if let Some(c) = k.chars().find(|c| unsafe_char(*c)) {
                    return Some((vec![k.clone()], c));
                }
                find(v).map(|(mut path, c)| {
                    path.push(k.clone());
                    (path, c)
                })
            }),
            Value::Array(items) => items.iter().enumerate().find_map(|(i, v)| {
                find(v).map(|(mut path, c)| {
                    path.push(format!("[{i}]"));
                    (path, c)
                })
            }),
            _ => None,
        }
    }
    find(value).map(|(segments, c)| {
        let mut path = String::new();
        for s in segments.iter().rev() {
            if !path.is_empty() && !s.starts_with('[') {
                path.push('.');
            }
            path.push_str(s);
        }
        (path, c)
    })
}

fn first_negative(value: &Value, path: &str) -> Option<(String, i64)> {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            for key in keys {
                let child = &map[key.as_str()];
                let child_path = format!("{path}.{key}");
                if let Value::Number(n) = child {
                    let counted =
                        key.ends_with("_cents") || NON_NEGATIVE_KEYS.contains(&key.as_str());
                    if let Some(v) = n.as_i64().filter(|v| counted && *v < 0) {
                        return Some((child_path, v));
                    }
                } else if let Some(found) = first_negative(child, &child_path) {
                    return Some(found);
                }
            }
            None
        }
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, item)| first_negative(item, &format!("{path}[{i}]"))),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Table of lines and the rule (and field) each must be refused with; `None` = accepted.
    #[test]
    fn structural_rules() {
        /// A line, and the rule id and field it must be refused with (`None`: accepted).
        type Case<'a> = (&'a str, Option<(&'a str, Option<&'a str>)>);
        let cases: &[Case] = &[
            (
                r#"{"stream":"member/10234","type":"MemberJoined","effective":"2019-03-01","data":{"member_id":"10234","branch_id":null},"personal":{"name":"An","residence":"Delft"}}"#,
                None,
            ),
            (
                r#"{"stream":"member/10234","type":"MemberJoned","effective":"2019-03-01","data":{}}"#,
                Some(("unknown-type", Some("type"))),
            ),
            (
                r#"{"stream":"member/10234","type":"PersonalDataErased","effective":"2024-03-01","data":{"subject":"10234","reason":"AVG-verzoek"}}"#,
                None,
            ),
            (
                r#"{"stream":"member/10234","type":"PersonalDataErased","effective":"2024-03-01","data":{"subject":"10234","reason":" "}}"#,
                Some(("malformed-field", Some("data.reason"))),
            ),
            (
                r#"{"stream":"member/10234","type":"MemberJoined","effective":"2019-03-01","data":{"member_id":"10234"},"personal":{"name":"An\u0000na","residence":"Delft"}}"#,
                Some(("malformed-field", Some("personal.name"))),
            ),
            (
                r#"{"stream":"member/10234","type":"MemberJoined","effective":"2019-03-01","data":{"member_id":"10234"},"personal":{"name":"An \u202Eayrov","residence":"Delft"}}"#,
                Some(("malformed-field", Some("personal.name"))),
            ),
            (
                r#"{"stream":"member/10234","type":"MemberJoined","effective":"2019-03-01","data":{"member_id":"10234"},"personal":{"name":"Zoë O'Brien-Çelik","residence":"'s-Hertogenbosch"}}"#,
                None,
            ),
            (
                r#"{"stream":"member/10234","type":"MemberJoined","effective":"2019-3-01","data":{"member_id":"10234"},"personal":{"name":"An","residence":"Delft"}}"#,
                Some(("malformed-field", Some("effective"))),
            ),
            (
                r#"{"stream":"member/10234","type":"MemberJoined","effective":"2019-03-01","data":{"member_id":"10234","extra":1},"personal":{"name":"An","residence":"Delft"}}"#,
                Some(("malformed-field", Some("data.extra"))),
            ),
            (
                r#"{"stream":"member/10234","type":"MemberJoined","effective":"2019-03-01","data":{},"personal":{"name":"An","residence":"Delft"}}"#,
                Some(("malformed-field", Some("data.member_id"))),
            ),
            (
                r#"{"stream":"member/10234","type":"MemberJoined","effective":"2019-03-01","data":{"member_id":"10234"}}"#,
                Some(("malformed-field", Some("personal"))),
            ),
            (
                r#"{"stream":"member/10234","type":"MemberJoined","effective":"2019-03-01","data":{"member_id":"10234"},"personal":{"name":5,"residence":"Delft"}}"#,
                Some(("malformed-field", Some("personal.name"))),
            ),
            (
                r#"{"stream":"body/landelijk-bestuur","type":"MemberJoined","effective":"2019-03-01","data":{"member_id":"10234"},"personal":{"name":"An","residence":"Delft"}}"#,
                Some(("type-not-in-category", Some("stream"))),
            ),
            (
                r#"{"stream":"member/1020","type":"ContributionPaid","effective":"2019-03-01","data":{"member_id":"1021","year":2019,"amount_cents":1200}}"#,
                Some(("stream-id-mismatch", Some("data.member_id"))),
            ),
            (
                r#"{"stream":"member/1020","type":"ContributionPaid","effective":"2019-03-01","data":{"member_id":"1020","year":2019,"amount_cents":-1}}"#,
                Some(("negative-amount", Some("data.amount_cents"))),
            ),
            (
                r#"{"stream":"body/b","type":"SeatsChanged","effective":"2019-03-01","data":{"body_id":"b","seats":[{"role":"lid","count":-2}]}}"#,
                Some(("negative-amount", Some("data.seats[0].count"))),
            ),
            (
                r#"{"stream":"body/afdeling-delft/bestuur","type":"BodyDissolved","effective":"2019-03-01","data":{"body_id":"afdeling-delft/bestuur"}}"#,
                None,
            ),
            (
                r#"{"stream":"member/1020","type":"ContributionPaid","effective":"2019-03-01","data":{"member_id":"1020","year":2019,"amount_cents":1.5}}"#,
                Some(("malformed-field", None)),
            ),
            (
                r#"{"stream":"member/1020","type":"ContributionPaid","effective":"2019-03-01","data":{"member_id":"1020","year":2019,"amount_cents":100},"id":"ABC"}"#,
                Some(("malformed-field", Some("id"))),
            ),
            (
                r#"{"stream":"member/1020","type":"MemberJoined","effective":"2019-03-01","data":{"member_id":"1020"},"personal":{"name":"A","residence":"B"},"expected_version":"latest"}"#,
                Some(("malformed-field", Some("expected_version"))),
            ),
            (
                r#"{"stream":"finance/2023","type":"PersonalDataErased","effective":"2023-03-01","data":{"subject":"donor:d-17","reason":"request"}}"#,
                None,
            ),
            (
                r#"{"stream":"finance/2023","type":"PersonalDataErased","effective":"2023-03-01","data":{"subject":"10234","reason":"request"}}"#,
                Some(("stream-id-mismatch", Some("data.subject"))),
            ),
            (
                r#"{"stream":"motion/m1","type":"MotionVoted","effective":"2023-03-01","data":{"motion_id":"m1","method":"ballot","for":3,"against":1,"abstain":0,"outcome":"adopted"}}"#,
                None,
            ),
            (
                r#"{"stream":"motion/m1","type":"MotionVoted","effective":"2023-03-01","data":{"motion_id":"m1","method":"raised","for":3,"against":1,"abstain":0,"outcome":"adopted"}}"#,
                Some(("malformed-field", Some("data.method"))),
            ),
            (
                r#"{"stream":"finance/2023","type":"GiftReceived","effective":"2023-03-01","data":{"year":2022,"amount_cents":100,"donor_ref":"d1","donor_kind":"natural_person","dutch_donor":true},"personal":{"donor_name":"X","donor_residence":"Y"}}"#,
                Some(("stream-id-mismatch", Some("data.year"))),
            ),
            ("[1,2]", Some(("malformed-field", None))),
        ];
        for (line, expected) in cases {
            let got = ProposedEvent::parse_line(line);
            match (expected, got) {
                (None, Ok(_)) => {}
                (None, Err(r)) => panic!("{line}\nrefused: {r}"),
                (Some((rule, field)), Err(r)) => {
                    assert_eq!(r.rule.id(), *rule, "{line}: {r}");
                    if field.is_some() {
                        assert_eq!(r.field.as_deref(), *field, "{line}: {r}");
                    }
                }
                (Some((rule, _)), Ok(_)) => panic!("{line}\naccepted, expected {rule}"),
            }
        }
    }

    #[test]
    fn expected_versions() {
        assert!(ExpectedVersion::Any.matches(0));
        assert!(ExpectedVersion::NoStream.matches(0));
        assert!(!ExpectedVersion::NoStream.matches(1));
        assert!(ExpectedVersion::Exists.matches(1));
        assert!(!ExpectedVersion::Exact(0).matches(0));
        assert!(ExpectedVersion::Exact(0).matches(1));
        assert!(ExpectedVersion::Exact(4).matches(5));
    }
}
