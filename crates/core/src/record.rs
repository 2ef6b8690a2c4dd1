//! The record: what the ledger writes for each event, its hash, and its export line.
//!
//! DOMAIN.md, *The record and its hash*: `hash` = BLAKE3 of the JCS of the record without
//! `hash`, `personal` and `personal_salt`; `prev_hash` chains from 64 zeros;
//! `personal_commitment` = BLAKE3 keyed with a random 32-byte salt over the JCS of `personal`.
//! The hashed bytes are written here field by field in JCS order, so they never depend on
//! what a serializer happens to emit. See `events/FORMAT.md` for the test vectors.

use crate::canonical::{self, write_string};
use crate::catalogue::{parse_data, EventData, EventType};
use crate::types::{hex, parse_hex32, EventId};
use serde_json::{Map, Value};
use std::sync::OnceLock;

/// `prev_hash` of the record at position 0.
pub const ZERO_HASH: [u8; 32] = [0; 32];

/// One event as the ledger recorded it (without its personal data, which is kept apart).
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub position: u64,
    pub version: u64,
    pub stream: String,
    pub event_type: EventType,
    pub id: EventId,
    /// `YYYY-MM-DD`.
    pub effective: String,
    /// UTC, six fractional digits and `Z`.
    pub recorded_at: String,
    /// `role:principal`.
    pub actor: String,
    /// The event's `data` object. Read back from the store it is kept as the stored text and
    /// parsed into a tree only when asked for (see [`JsonData`]).
    pub data: JsonData,
    pub personal_commitment: Option<[u8; 32]>,
    pub prev_hash: [u8; 32],
    pub hash: [u8; 32],
    /// Held *withheld* (a follower's copy of one role's view, `kroniek follow`): only
    /// `position`, `version`, `stream`, `event_type`, `prev_hash` and `hash` are the record's;
    /// the other fields are empty, and `hash` cannot be recomputed. Always `false` in a
    /// ledger of its own.
    pub withheld: bool,
}

/// A JSON value kept as the canonical text it was stored as, parsed into a [`Value`] only on
/// first use (it dereferences to that value).
///
/// A rebuild reads every record's `data`, but the folds read it through its typed form
/// ([`Record::event_data`], parsed straight from the text): building a tree of maps and
/// strings for each record only to drop it was the largest part of decoding one. A record
/// made from a [`Value`] (a new append, an import) holds the value and no text.
#[derive(Clone)]
pub struct JsonData {
    /// Canonical (JCS) text: the bytes a stored record hashed, checked as JSON when read.
    text: Option<Box<str>>,
    value: OnceLock<Value>,
    /// The typed form, when read ahead ([`JsonData::read_typed`]: a replay's reading threads
    /// do, so the fold does not).
    typed: OnceLock<Box<EventData>>,
}

impl JsonData {
    /// `text`, which must be one JSON value in canonical form (as the store writes it).
    pub(crate) fn from_canonical_text(text: &str) -> JsonData {
        JsonData {
            text: Some(text.into()),
            value: OnceLock::new(),
            typed: OnceLock::new(),
        }
    }

    /// JSON as a store keeps it (canonical text): kept as the text when a syntax check and
    /// [`reads_as_checked`] pass it, else parsed by the strict parser (which refuses what is
    /// not I-JSON).
    pub(crate) fn read_stored(bytes: &[u8]) -> Result<JsonData, String> {
        let checked = serde_json::from_slice::<serde::de::IgnoredAny>(bytes).is_ok()
            && reads_as_checked(bytes);
        match std::str::from_utf8(bytes) {
            Ok(text) if checked => Ok(JsonData::from_canonical_text(text)),
            _ => canonical::parse_strict_bytes(bytes).map(JsonData::from),
        }
    }

    /// The value (parsed from the text on first use).
    pub fn value(&self) -> &Value {
        self.value.get_or_init(|| match &self.text {
            // The text was checked as JSON when the record was read, and the store writes
            // only what a `Value` serialised to, so it parses.
            Some(text) => serde_json::from_str(text).unwrap_or(Value::Null),
            None => Value::Null,
        })
    }

    /// The canonical text, when the value was read from one and not yet parsed: what a
    /// typed read can take instead of the tree.
    pub fn unparsed_text(&self) -> Option<&str> {
        match self.value.get() {
            None => self.text.as_deref(),
            Some(_) => None,
        }
    }

    /// Reads the data as `ty`'s fields ahead of [`crate::Record::event_data`], which then
    /// answers without parsing; nothing is kept when it does not read (that call then says why).
    pub fn read_typed(&self, ty: EventType) {
        if let Some(event) = self.typed_from_text(ty) {
            let _ = self.typed.set(Box::new(event));
        }
    }

    /// The typed form read ahead, if it was.
    pub(crate) fn typed(&self) -> Option<&EventData> {
        self.typed.get().map(|event| &**event)
    }

    /// The data read as `ty`'s fields from the text, when it has text not yet parsed and it
    /// reads.
    pub(crate) fn typed_from_text(&self, ty: EventType) -> Option<EventData> {
        self.unparsed_text()
            .and_then(|text| crate::catalogue::parse_data_text(ty, text))
    }

    /// Whether the value is an object, told from the text's first byte while it is not
    /// parsed (so asking builds no tree).
    pub fn is_object(&self) -> bool {
        match self.unparsed_text() {
            Some(text) => text.starts_with('{'),
            None => self.value().is_object(),
        }
    }

    /// The value as compact canonical JSON text.
    pub fn canonical_text(&self) -> String {
        match &self.text {
            Some(text) => text.to_string(),
            None => String::from_utf8(canonical::to_canonical(self.value())).unwrap_or_default(),
        }
    }

    /// Appends the canonical form to `out`.
    fn write_canonical(&self, out: &mut Vec<u8>) {
        match &self.text {
            Some(text) => out.extend_from_slice(text.as_bytes()),
            None => canonical::write_canonical(self.value(), out),
        }
    }
}

impl From<Value> for JsonData {
    fn from(value: Value) -> JsonData {
        JsonData {
            text: None,
            value: OnceLock::from(value),
            typed: OnceLock::new(),
        }
    }
}

impl std::ops::Deref for JsonData {
    type Target = Value;
    fn deref(&self) -> &Value {
        self.value()
    }
}

impl PartialEq for JsonData {
    fn eq(&self, other: &JsonData) -> bool {
        match (&self.text, &other.text) {
            (Some(a), Some(b)) if a == b => true,
            _ => self.value() == other.value(),
        }
    }
}

impl std::fmt::Debug for JsonData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.value(), f)
    }
}

impl serde::Serialize for JsonData {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.value().serialize(serializer)
    }
}

/// A record's personal data: the salt and the `personal` object it commits to.
#[derive(Debug, Clone, PartialEq)]
pub struct Personal {
    pub salt: [u8; 32],
    /// The `personal` object. Read back from the store it is kept as the stored text and
    /// parsed only when asked for (see [`JsonData`]): the read models keep most of it as that
    /// text.
    pub value: JsonData,
}

impl Personal {
    /// Personal data of `value` under `salt`.
    pub fn new(salt: [u8; 32], value: Value) -> Personal {
        Personal {
            salt,
            value: value.into(),
        }
    }

    /// The keyed commitment to this personal data.
    pub fn commitment(&self) -> [u8; 32] {
        let mut jcs = Vec::new();
        self.value.write_canonical(&mut jcs);
        *blake3::keyed_hash(&self.salt, &jcs).as_bytes()
    }
}

/// BLAKE3 keyed with `salt` over the JCS of `personal`.
pub fn commitment(salt: &[u8; 32], personal: &Value) -> [u8; 32] {
    *blake3::keyed_hash(salt, &canonical::to_canonical(personal)).as_bytes()
}

/// How an export shows a record's personal data.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PersonalView<'a> {
    /// `personal` and `personal_salt` as recorded.
    Shown(&'a Personal),
    /// Both keys `null`: the data was erased.
    Erased,
    /// Both keys left out: the reader may not see personal data.
    Omitted,
}

impl Record {
    /// Builds a record and computes its hash.
    #[allow(
        clippy::too_many_arguments,
        reason = "each argument is one field of DOMAIN.md's record"
    )]
    pub fn seal(
        position: u64,
        version: u64,
        stream: String,
        event_type: EventType,
        id: EventId,
        effective: String,
        recorded_at: String,
        actor: String,
        data: Value,
        personal_commitment: Option<[u8; 32]>,
        prev_hash: [u8; 32],
    ) -> Record {
        Record::seal_stored(
            position,
            version,
            stream,
            event_type,
            id,
            effective,
            recorded_at,
            actor,
            data,
            personal_commitment,
            prev_hash,
        )
        .0
    }

    /// [`Record::seal`], with the value a store keeps for the record: its hash, then its
    /// hashed bytes. The bytes are written once, for the hash and for the store.
    #[allow(
        clippy::too_many_arguments,
        reason = "each argument is one field of DOMAIN.md's record"
    )]
    pub fn seal_stored(
        position: u64,
        version: u64,
        stream: String,
        event_type: EventType,
        id: EventId,
        effective: String,
        recorded_at: String,
        actor: String,
        data: Value,
        personal_commitment: Option<[u8; 32]>,
        prev_hash: [u8; 32],
    ) -> (Record, Vec<u8>) {
        let mut record = Record {
            position,
            version,
            stream,
            event_type,
            id,
            effective,
            recorded_at,
            actor,
            data: data.into(),
            personal_commitment,
            prev_hash,
            hash: ZERO_HASH,
            withheld: false,
        };
        let mut stored = Vec::with_capacity(32 + 384);
        stored.extend_from_slice(&ZERO_HASH);
        record.write_fields(&mut stored, None);
        record.hash = *blake3::hash(&stored[32..]).as_bytes();
        stored[..32].copy_from_slice(&record.hash);
        (record, stored)
    }

    /// A record held *withheld*: only its place in the chain (see [`Record::withheld`]).
    pub fn withheld_stub(
        position: u64,
        version: u64,
        stream: String,
        event_type: EventType,
        prev_hash: [u8; 32],
        hash: [u8; 32],
    ) -> Record {
        Record {
            position,
            version,
            stream,
            event_type,
            id: EventId(uuid::Uuid::nil()),
            effective: String::new(),
            recorded_at: String::new(),
            actor: String::new(),
            data: Value::Null.into(),
            personal_commitment: None,
            prev_hash,
            hash,
            withheld: true,
        }
    }

    /// The bytes the hash covers: the JCS of the record without `hash`, `personal` and
    /// `personal_salt`.
    pub fn hashed_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(384);
        self.write_fields(&mut out, None);
        out
    }

    /// The export line (JCS of the whole record, no newline).
    pub fn export_line(&self, personal: PersonalView<'_>) -> Vec<u8> {
        let mut out = Vec::with_capacity(512);
        self.write_fields(&mut out, Some(personal));
        out
    }

    /// The *withheld* export line: only what places the record in the chain.
    pub fn withheld_line(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(256);
        out.extend_from_slice(b"{\"hash\":\"");
        out.extend_from_slice(hex(&self.hash).as_bytes());
        out.extend_from_slice(b"\",\"position\":");
        out.extend_from_slice(self.position.to_string().as_bytes());
        out.extend_from_slice(b",\"prev_hash\":\"");
        out.extend_from_slice(hex(&self.prev_hash).as_bytes());
        out.extend_from_slice(b"\",\"stream\":");
        write_string(&self.stream, &mut out);
        out.extend_from_slice(b",\"type\":");
        write_string(self.event_type.name(), &mut out);
        out.extend_from_slice(b",\"version\":");
        out.extend_from_slice(self.version.to_string().as_bytes());
        out.extend_from_slice(b",\"withheld\":true}");
        out
    }

    /// Writes the JCS members in order; with `export`, also `hash` and the personal keys.
    fn write_fields(&self, out: &mut Vec<u8>, export: Option<PersonalView<'_>>) {
        out.extend_from_slice(b"{\"actor\":");
        write_string(&self.actor, out);
        out.extend_from_slice(b",\"data\":");
        self.data.write_canonical(out);
        out.extend_from_slice(b",\"effective\":");
        write_string(&self.effective, out);
        if export.is_some() {
            out.extend_from_slice(b",\"hash\":\"");
            out.extend_from_slice(hex(&self.hash).as_bytes());
            out.push(b'"');
        }
        out.extend_from_slice(b",\"id\":\"");
        out.extend_from_slice(self.id.to_string().as_bytes());
        out.push(b'"');
        let shown = match (export, self.personal_commitment) {
            (Some(view), Some(_)) => Some(view),
            _ => None,
        };
        match shown {
            Some(PersonalView::Shown(p)) => {
                out.extend_from_slice(b",\"personal\":");
                p.value.write_canonical(out);
            }
            Some(PersonalView::Erased) => out.extend_from_slice(b",\"personal\":null"),
            _ => {}
        }
        out.extend_from_slice(b",\"personal_commitment\":");
        match &self.personal_commitment {
            Some(c) => {
                out.push(b'"');
                out.extend_from_slice(hex(c).as_bytes());
                out.push(b'"');
            }
            None => out.extend_from_slice(b"null"),
        }
        match shown {
            Some(PersonalView::Shown(p)) => {
                out.extend_from_slice(b",\"personal_salt\":\"");
                out.extend_from_slice(hex(&p.salt).as_bytes());
                out.push(b'"');
            }
            Some(PersonalView::Erased) => out.extend_from_slice(b",\"personal_salt\":null"),
            _ => {}
        }
        out.extend_from_slice(b",\"position\":");
        out.extend_from_slice(self.position.to_string().as_bytes());
        out.extend_from_slice(b",\"prev_hash\":\"");
        out.extend_from_slice(hex(&self.prev_hash).as_bytes());
        out.extend_from_slice(b"\",\"recorded_at\":");
        write_string(&self.recorded_at, out);
        out.extend_from_slice(b",\"stream\":");
        write_string(&self.stream, out);
        out.extend_from_slice(b",\"type\":");
        write_string(self.event_type.name(), out);
        out.extend_from_slice(b",\"version\":");
        out.extend_from_slice(self.version.to_string().as_bytes());
        out.push(b'}');
    }

    /// Reads a record back from its hashed bytes (as the store keeps them) and its hash.
    pub fn from_hashed_bytes(bytes: &[u8], hash: [u8; 32]) -> Result<Record, String> {
        // Stored records were written by `write_fields`: read them by that layout first, and
        // anything else (a string with an escape, say) with the strict parser.
        if let Some(record) = Record::from_written_layout(bytes, hash) {
            return Ok(record);
        }
        let value = canonical::parse_strict_bytes(bytes)?;
        let Value::Object(map) = value else {
            return Err("a record must be a JSON object".into());
        };
        let mut record = record_from_map(map, &HASHED_KEYS)?;
        record.hash = hash;
        Ok(record)
    }

    /// The record in hashed bytes laid out exactly as `write_fields` writes them, its strings
    /// without escapes; `None` for any other bytes. Every rebuild reads each record through
    /// this, so it reads the keys as the literals they are instead of parsing them; only
    /// `data` goes through serde_json.
    fn from_written_layout(bytes: &[u8], hash: [u8; 32]) -> Option<Record> {
        let mut cur = Cursor { bytes, at: 0 };
        cur.expect(b"{\"actor\":")?;
        let actor = cur.quoted_plain()?.to_owned();
        cur.expect(b",\"data\":")?;
        if bytes.get(cur.at) != Some(&b'{') {
            return None;
        }
        // Only checked as JSON here (no tree is built): see `JsonData`.
        let mut values = serde_json::Deserializer::from_slice(&bytes[cur.at..])
            .into_iter::<serde::de::IgnoredAny>();
        values.next()?.ok()?;
        let data_end = cur.at + values.byte_offset();
        let text = &bytes[cur.at..data_end];
        if !reads_as_checked(text) {
            return None;
        }
        let data = JsonData::from_canonical_text(std::str::from_utf8(text).ok()?);
        cur.at = data_end;
        cur.expect(b",\"effective\":")?;
        let effective = cur.quoted_plain()?.to_owned();
        cur.expect(b",\"id\":")?;
        let id = EventId::parse(cur.quoted_plain()?).ok()?;
        cur.expect(b",\"personal_commitment\":")?;
        let (tail, recorded_at) = cur.tail()?;
        let event_type = EventType::from_name(tail.event_type)?;
        Some(Record {
            position: tail.position,
            version: tail.version,
            stream: tail.stream.to_owned(),
            event_type,
            id,
            effective,
            recorded_at: recorded_at.to_owned(),
            actor,
            data,
            personal_commitment: tail.personal_commitment,
            prev_hash: tail.prev_hash,
            hash,
            withheld: false,
        })
    }
}

impl Record {
    /// The record's `data` read as its type's fields ([`parse_data`]): as read ahead by a
    /// replay ([`JsonData::read_typed`]), else from the stored text when the
    /// record was read from the store and its `data` not yet parsed (no tree is built), else
    /// from the value. A refusal is always [`parse_data`]'s, with the path of the
    /// first bad field.
    pub fn event_data(&self) -> Result<std::borrow::Cow<'_, EventData>, (String, String)> {
        use std::borrow::Cow;
        if let Some(event) = self.data.typed() {
            return Ok(Cow::Borrowed(event));
        }
        if let Some(event) = self.data.typed_from_text(self.event_type) {
            return Ok(Cow::Owned(event));
        }
        parse_data(self.event_type, self.data.value()).map(Cow::Owned)
    }
}

/// Whether JSON `text`, already checked as JSON syntax, holds nothing that a syntax check
/// passes and a [`Value`] refuses: a `\u` escape (it may be a lone surrogate) or a number with
/// an exponent (it may be out of range); nor whitespace between tokens, which canonical text
/// has none of. The store writes an exponent in no event's data or personal data (their
/// numbers are integers within ±(2^53 − 1)) and `\u` only for a rare control character; text
/// with either is read by the strict parser instead.
fn reads_as_checked(text: &[u8]) -> bool {
    let mut in_string = false;
    let mut escaped = false;
    let mut after_digit = false;
    for &b in text {
        if in_string {
            if escaped {
                if b == b'u' {
                    return false;
                }
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
        } else {
            if (after_digit && (b == b'e' || b == b'E')) || b.is_ascii_whitespace() {
                return false;
            }
            after_digit = b.is_ascii_digit();
            in_string = b == b'"';
        }
    }
    true
}

const HASHED_KEYS: [&str; 11] = [
    "actor",
    "data",
    "effective",
    "id",
    "personal_commitment",
    "position",
    "prev_hash",
    "recorded_at",
    "stream",
    "type",
    "version",
];

fn record_from_map(mut map: Map<String, Value>, allowed: &[&str]) -> Result<Record, String> {
    if let Some(key) = map.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(format!("unexpected key \"{key}\" in a record"));
    }
    let mut take = |key: &str| {
        map.remove(key)
            .ok_or_else(|| format!("the key \"{key}\" is missing"))
    };
    let string = |v: Value, key: &str| match v {
        Value::String(s) => Ok(s),
        _ => Err(format!("\"{key}\" must be a string")),
    };
    let number = |v: Value, key: &str| {
        v.as_u64()
            .ok_or_else(|| format!("\"{key}\" must be an integer ≥ 0"))
    };
    let hash = |v: Value, key: &str| {
        v.as_str()
            .and_then(parse_hex32)
            .ok_or_else(|| format!("\"{key}\" must be 64 lower-case hex digits"))
    };
    let actor = string(take("actor")?, "actor")?;
    let data = take("data")?;
    if !data.is_object() {
        return Err("\"data\" must be an object".into());
    }
    let data = JsonData::from(data);
    let effective = string(take("effective")?, "effective")?;
    let id_text = string(take("id")?, "id")?;
    let id = EventId::parse(&id_text)?;
    let personal_commitment = match take("personal_commitment")? {
        Value::Null => None,
        v => Some(hash(v, "personal_commitment")?),
    };
    let position = number(take("position")?, "position")?;
    let prev_hash = hash(take("prev_hash")?, "prev_hash")?;
    let recorded_at = string(take("recorded_at")?, "recorded_at")?;
    let stream = string(take("stream")?, "stream")?;
    let type_name = string(take("type")?, "type")?;
    let event_type = EventType::from_name(&type_name)
        .ok_or_else(|| format!("\"{type_name}\" is not an event type of the catalogue"))?;
    let version = number(take("version")?, "version")?;
    Ok(Record {
        position,
        version,
        stream,
        event_type,
        id,
        effective,
        recorded_at,
        actor,
        data,
        personal_commitment,
        prev_hash,
        hash: ZERO_HASH,
        withheld: false,
    })
}

/// One line of an export, parsed.
#[derive(Debug, Clone, PartialEq)]
#[allow(
    clippy::large_enum_variant,
    reason = "a line is parsed and taken apart at once, never held in numbers"
)]
pub enum ExportLine {
    /// A whole record; `hash` is as written in the line (check it with [`Record::hashed_bytes`]).
    Full {
        record: Record,
        personal: LinePersonal,
    },
    /// A withheld record: only its place in the chain.
    Withheld {
        hash: [u8; 32],
        position: u64,
        prev_hash: [u8; 32],
        stream: String,
        event_type: String,
        version: u64,
    },
}

/// The personal keys of an export line.
#[derive(Debug, Clone, PartialEq)]
pub enum LinePersonal {
    /// Neither `personal` nor `personal_salt` is present.
    Absent,
    /// Both are `null`: erased.
    Erased,
    /// Both are present.
    Present(Personal),
}

impl ExportLine {
    /// A withheld line as the record held withheld ([`Record::withheld_stub`]); `None` for a
    /// whole record, or a type the catalogue does not know.
    pub fn withheld_record(&self) -> Option<Record> {
        match self {
            ExportLine::Withheld {
                hash,
                position,
                prev_hash,
                stream,
                event_type,
                version,
            } => Some(Record::withheld_stub(
                *position,
                *version,
                stream.clone(),
                EventType::from_name(event_type)?,
                *prev_hash,
                *hash,
            )),
            ExportLine::Full { .. } => None,
        }
    }

    /// Parses one export line, refusing a line that is not in canonical (JCS) form.
    pub fn parse(line: &[u8]) -> Result<ExportLine, String> {
        let value =
            canonical::parse_strict_bytes(line).map_err(|e| format!("not valid JSON: {e}"))?;
        if canonical::to_canonical(&value) != line {
            return Err("the line is not in canonical (RFC 8785) form".into());
        }
        let Value::Object(mut map) = value else {
            return Err("a record must be a JSON object".into());
        };
        if map.get("withheld").is_some() {
            if map.get("withheld") != Some(&Value::Bool(true)) || map.len() != 7 {
                return Err("a withheld record has exactly hash, position, prev_hash, stream, type, version and withheld: true".into());
            }
            let get_hash = |k: &str| {
                map.get(k)
                    .and_then(Value::as_str)
                    .and_then(parse_hex32)
                    .ok_or_else(|| format!("\"{k}\" must be 64 lower-case hex digits"))
            };
            let get_u64 = |k: &str| {
                map.get(k)
                    .and_then(Value::as_u64)
                    .ok_or_else(|| format!("\"{k}\" must be an integer ≥ 0"))
            };
            let get_str = |k: &str| {
                map.get(k)
                    .and_then(Value::as_str)
                    .map(str::to_owned)
                    .ok_or_else(|| format!("\"{k}\" must be a string"))
            };
            return Ok(ExportLine::Withheld {
                hash: get_hash("hash")?,
                position: get_u64("position")?,
                prev_hash: get_hash("prev_hash")?,
                stream: get_str("stream")?,
                event_type: get_str("type")?,
                version: get_u64("version")?,
            });
        }
        let hash = map
            .remove("hash")
            .and_then(|v| v.as_str().and_then(parse_hex32))
            .ok_or("\"hash\" must be 64 lower-case hex digits")?;
        let personal = match (map.remove("personal"), map.remove("personal_salt")) {
            (None, None) => LinePersonal::Absent,
            (Some(Value::Null), Some(Value::Null)) => LinePersonal::Erased,
            (Some(value @ Value::Object(_)), Some(Value::String(salt))) => LinePersonal::Present(Personal {
                salt: parse_hex32(&salt).ok_or("\"personal_salt\" must be 64 lower-case hex digits")?,
                value: value.into(),
            }),
            _ => return Err("\"personal\" and \"personal_salt\" must be both absent, both null, or an object and a salt".into()),
        };
        let mut record = record_from_map(map, &HASHED_KEYS)?;
        record.hash = hash;
        if record.personal_commitment.is_none() && personal != LinePersonal::Absent {
            return Err(
                "a record without personal_commitment has no personal or personal_salt keys".into(),
            );
        }
        Ok(ExportLine::Full { record, personal })
    }
}

/// The fields that follow `data` in a record's hashed bytes, read without parsing the JSON.
///
/// Everything after `data` has a fixed shape (DOMAIN.md's field order under JCS), so the
/// store's verifier reads it straight from the bytes: this is what lets `verify` run near
/// the speed of hashing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HashedTail<'a> {
    pub personal_commitment: Option<[u8; 32]>,
    pub position: u64,
    pub prev_hash: [u8; 32],
    pub stream: &'a str,
    pub event_type: &'a str,
    pub version: u64,
}

impl<'a> HashedTail<'a> {
    /// Reads the tail of a record's hashed bytes; `None` when the bytes do not have its shape.
    pub fn parse(bytes: &'a [u8]) -> Option<HashedTail<'a>> {
        const KEY: &[u8] = b",\"personal_commitment\":";
        // The key sits within the last few hundred bytes unless the stream name is very long:
        // look there first.
        let window = bytes.len().saturating_sub(640);
        let find = |from: usize| {
            bytes[from..]
                .windows(KEY.len())
                .rposition(|w| w == KEY)
                .map(|i| i + from)
        };
        let start = find(window).or_else(|| find(0))? + KEY.len();
        Cursor { bytes, at: start }.tail().map(|(tail, _)| tail)
    }
}

struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn literal(&mut self, lit: &[u8]) -> bool {
        if self.bytes[self.at..].starts_with(lit) {
            self.at += lit.len();
            true
        } else {
            false
        }
    }
    fn expect(&mut self, lit: &[u8]) -> Option<()> {
        self.literal(lit).then_some(())
    }
    fn number(&mut self) -> Option<u64> {
        let digits = self.bytes[self.at..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        if digits == 0 || digits > 19 || (digits > 1 && self.bytes[self.at] == b'0') {
            return None;
        }
        let text = std::str::from_utf8(&self.bytes[self.at..self.at + digits]).ok()?;
        self.at += digits;
        // As the strict parser: beyond 2^53 − 1 is not an I-JSON integer.
        text.parse()
            .ok()
            .filter(|n| *n <= canonical::MAX_SAFE_INTEGER as u64)
    }
    fn quoted_plain(&mut self) -> Option<&'a str> {
        self.expect(b"\"")?;
        // Stops at an escape or a control character too, which are then refused.
        let len = self.bytes[self.at..]
            .iter()
            .position(|&b| b == b'"' || b == b'\\' || b < 0x20)?;
        let text = std::str::from_utf8(&self.bytes[self.at..self.at + len]).ok()?;
        self.at += len;
        self.expect(b"\"")?;
        Some(text)
    }
    fn quoted_hash(&mut self) -> Option<[u8; 32]> {
        parse_hex32(self.quoted_plain()?)
    }
    /// The fields after `"personal_commitment":` to the end of the bytes, and `recorded_at`.
    fn tail(&mut self) -> Option<(HashedTail<'a>, &'a str)> {
        let personal_commitment = if self.literal(b"null") {
            None
        } else {
            Some(self.quoted_hash()?)
        };
        self.expect(b",\"position\":")?;
        let position = self.number()?;
        self.expect(b",\"prev_hash\":")?;
        let prev_hash = self.quoted_hash()?;
        self.expect(b",\"recorded_at\":")?;
        let recorded_at = self.quoted_plain()?;
        self.expect(b",\"stream\":")?;
        let stream = self.quoted_plain()?;
        self.expect(b",\"type\":")?;
        let event_type = self.quoted_plain()?;
        self.expect(b",\"version\":")?;
        let version = self.number()?;
        self.expect(b"}")?;
        let tail = HashedTail {
            personal_commitment,
            position,
            prev_hash,
            stream,
            event_type,
            version,
        };
        (self.at == self.bytes.len()).then_some((tail, recorded_at))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample() -> Record {
        Record::seal(
            3,
            0,
            "member/10234".into(),
            EventType::MemberJoined,
            EventId::parse("00000000-0000-4000-8000-000000000001").unwrap(),
            "2019-03-01".into(),
            "2026-11-24T21:49:07.123456Z".into(),
            "secretary:partijbureau".into(),
            json!({"member_id": "10234", "branch_id": null}),
            Some([7; 32]),
            [1; 32],
        )
    }

    /// The stored value a seal writes is the record's hash, then its hashed bytes, and is
    /// read back as the same record.
    #[test]
    fn the_value_written_at_the_seal_is_the_hash_then_the_hashed_bytes() {
        let r = sample();
        let (sealed, stored) = Record::seal_stored(
            r.position,
            r.version,
            r.stream.clone(),
            r.event_type,
            r.id,
            r.effective.clone(),
            r.recorded_at.clone(),
            r.actor.clone(),
            r.data.value().clone(),
            r.personal_commitment,
            r.prev_hash,
        );
        assert_eq!(sealed, r);
        assert_eq!(&stored[..32], &r.hash);
        assert_eq!(&stored[32..], &r.hashed_bytes()[..]);
        assert_eq!(Record::from_hashed_bytes(&stored[32..], r.hash), Ok(r));
    }

    #[test]
    fn hashed_bytes_are_jcs_of_the_record_without_the_excluded_keys() {
        let r = sample();
        let value = json!({
            "actor": r.actor, "data": r.data, "effective": r.effective, "id": r.id.to_string(),
            "personal_commitment": hex(&[7; 32]), "position": 3, "prev_hash": hex(&[1; 32]),
            "recorded_at": r.recorded_at, "stream": r.stream, "type": "MemberJoined", "version": 0
        });
        assert_eq!(r.hashed_bytes(), canonical::to_canonical(&value));
        assert_eq!(r.hash, *blake3::hash(&r.hashed_bytes()).as_bytes());
    }

    #[test]
    fn export_lines_round_trip() {
        let r = sample();
        let p = Personal::new([9; 32], json!({"name": "An", "residence": "Delft"}));
        for view in [
            PersonalView::Shown(&p),
            PersonalView::Erased,
            PersonalView::Omitted,
        ] {
            let line = r.export_line(view);
            let ExportLine::Full { record, personal } = ExportLine::parse(&line).unwrap() else {
                panic!("not a full record")
            };
            assert_eq!(record, r);
            let expected = match view {
                PersonalView::Shown(p) => LinePersonal::Present(p.clone()),
                PersonalView::Erased => LinePersonal::Erased,
                PersonalView::Omitted => LinePersonal::Absent,
            };
            assert_eq!(personal, expected);
        }
        let withheld = r.withheld_line();
        assert!(matches!(
            ExportLine::parse(&withheld).unwrap(),
            ExportLine::Withheld { position: 3, .. }
        ));
    }

    #[test]
    fn stored_bytes_read_back_to_the_same_record() {
        let mut r = sample();
        assert_eq!(
            Record::from_hashed_bytes(&r.hashed_bytes(), r.hash).unwrap(),
            r
        );
        r.actor = "secretary:\"bureau\"".into();
        r.data = json!({"member_id": "10234", "note": "tab\there, quote \" and é"}).into();
        let again = Record::from_hashed_bytes(&r.hashed_bytes(), r.hash).unwrap();
        assert_eq!(again, r);
        assert!(Record::from_hashed_bytes(b"{\"actor\":1}", r.hash).is_err());
    }

    fn strict_read(bytes: &[u8], hash: [u8; 32]) -> Result<Record, String> {
        let Value::Object(map) = canonical::parse_strict_bytes(bytes)? else {
            return Err("not an object".into());
        };
        let mut record = record_from_map(map, &HASHED_KEYS)?;
        record.hash = hash;
        Ok(record)
    }

    proptest::proptest! {
        /// The layout reader and the strict parser read every stored record alike; the
        /// layout reader declines only strings with an escape.
        #[test]
        fn the_layout_reader_agrees_with_the_strict_parser(
            position in 0u64..(1 << 54),
            version in 0u64..1_000_000,
            stream in "[a-z]{1,8}/[a-z0-9\\-\"\\\\\u{1}\u{e9}]{1,12}",
            actor in "[a-z]{1,8}:[a-z\"\t\u{e9}\u{1f600}]{0,12}",
            note in "\\PC{0,24}",
            amount in 0i64..(1 << 53),
            commitment in proptest::option::of(proptest::prelude::any::<[u8; 32]>()),
            prev in proptest::prelude::any::<[u8; 32]>(),
        ) {
            let record = Record::seal(
                position,
                version,
                stream.clone(),
                EventType::ContributionPaid,
                EventId::parse("00000000-0000-4000-8000-000000000001").unwrap(),
                "2024-02-29".into(),
                "2026-11-24T21:49:07.123456Z".into(),
                actor.clone(),
                json!({"member_id": "10234", "amount_cents": amount, "note": note, "nested": {"a": [1, null, true]}}),
                commitment,
                prev,
            );
            let bytes = record.hashed_bytes();
            let escaped = [&stream, &actor]
                .iter()
                .any(|s| s.contains(|c: char| c == '"' || c == '\\' || c < ' '));
            let layout = Record::from_written_layout(&bytes, record.hash);
            let read = Record::from_hashed_bytes(&bytes, record.hash);
            if position > canonical::MAX_SAFE_INTEGER as u64 {
                // Not I-JSON: both refuse it.
                proptest::prop_assert!(strict_read(&bytes, record.hash).is_err());
                proptest::prop_assert!(layout.is_none());
                proptest::prop_assert!(read.is_err());
            } else {
                proptest::prop_assert_eq!(layout.is_none(), escaped);
                if let Some(layout) = layout {
                    proptest::prop_assert_eq!(&layout, &record);
                }
                proptest::prop_assert_eq!(strict_read(&bytes, record.hash), Ok(record.clone()));
                proptest::prop_assert_eq!(read, Ok(record));
            }
        }
    }

    #[test]
    fn the_layout_reader_declines_bytes_of_another_layout() {
        let r = sample();
        let bytes = String::from_utf8(r.hashed_bytes()).unwrap();
        for other in [
            bytes.replacen(",\"data\":", ", \"data\":", 1),
            bytes.replacen("\"position\":3", "\"position\":03", 1),
            bytes.replacen("\"version\":0}", "\"version\":0,\"extra\":1}", 1),
            bytes.replacen("\"data\":{", "\"data\":[{", 1),
            // A raw control character in a string: not JSON.
            bytes.replacen("secretary:", "secretary:\u{1}", 1),
            format!("{bytes} "),
            bytes[..bytes.len() - 1].to_owned(),
        ] {
            assert!(
                Record::from_written_layout(other.as_bytes(), r.hash).is_none(),
                "{other}"
            );
        }
    }

    /// Every event of the sample ledger, stored and read back: its `data` is kept as the
    /// stored text, reads to the same value, and reads as the same typed event from the text,
    /// read ahead or not, as from the value.
    #[test]
    fn stored_data_is_kept_as_text_and_reads_as_its_value() {
        let ledger = include_str!("../../../events/sample.jsonl");
        for (n, line) in ledger.lines().enumerate() {
            let event = crate::envelope::ProposedEvent::parse_line(line).unwrap();
            let mut record = sample();
            record.event_type = event.event_type;
            record.data = event.data.clone().into();
            let bytes = record.hashed_bytes();
            let read = Record::from_hashed_bytes(&bytes, record.hash).unwrap();
            let text = read.data.unparsed_text().expect("kept as text");
            assert!(read.data.is_object(), "line {n}");
            assert_eq!(
                read.data.unparsed_text(),
                Some(text),
                "asking builds no tree"
            );
            assert_eq!(
                text.as_bytes(),
                canonical::to_canonical(&event.data),
                "line {n}"
            );
            let expected = crate::catalogue::parse_data(event.event_type, &event.data).unwrap();
            assert!(matches!(read.event_data(), Ok(std::borrow::Cow::Owned(e)) if e == expected));
            read.data.read_typed(read.event_type);
            assert!(
                matches!(read.event_data(), Ok(std::borrow::Cow::Borrowed(e)) if *e == expected)
            );
            assert_eq!(read.data.value(), &event.data, "line {n}");
            assert_eq!(read.data.unparsed_text(), None, "parsed once asked for");
            assert_eq!(read, record, "line {n}");
            assert_eq!(
                read.hashed_bytes(),
                bytes,
                "line {n}: written back as stored"
            );
        }
    }

    /// Data that does not read as its type is refused from the text as from the value, with
    /// the same field and reason; text that a syntax check passes and a value refuses (a lone
    /// surrogate, a number out of range) goes to the strict parser, which refuses it.
    #[test]
    fn stored_data_that_does_not_read_is_refused_as_before() {
        let mut record = sample();
        record.data = json!({"member_id": 10234, "branch_id": null}).into();
        let read = Record::from_hashed_bytes(&record.hashed_bytes(), record.hash).unwrap();
        read.data.read_typed(read.event_type);
        let refused = crate::catalogue::parse_data(record.event_type, record.data.value());
        assert!(refused.is_err());
        assert_eq!(read.event_data().map(|e| e.into_owned()), refused);

        let bytes = String::from_utf8(sample().hashed_bytes()).unwrap();
        for bad in ["\"\\ud800\"", "1e400"] {
            let tampered = bytes.replacen("\"branch_id\":null", &format!("\"branch_id\":{bad}"), 1);
            assert_ne!(tampered, bytes);
            assert!(
                Record::from_written_layout(tampered.as_bytes(), [0; 32]).is_none(),
                "{bad}"
            );
            assert!(
                Record::from_hashed_bytes(tampered.as_bytes(), [0; 32]).is_err(),
                "{bad}"
            );
        }
        // Exponents and escapes inside strings are not numbers or surrogates.
        assert!(reads_as_checked(
            br#"{"a":"2e5","b":"x\n","c":[1,true,false]}"#
        ));
        assert!(!reads_as_checked(br#"{"a":2e5}"#));
        assert!(!reads_as_checked(br#"{"a":"\u0001"}"#));
    }

    /// Stored personal data: canonical text is kept as text; text the quick check declines
    /// goes to the strict parser (kept as its value when it reads, refused when it does not);
    /// bytes that are not JSON are refused.
    #[test]
    fn read_stored_keeps_canonical_text_and_sends_the_rest_to_the_strict_parser() {
        let kept = JsonData::read_stored(br#"{"name":"A. de Vries","town":"Delft"}"#).unwrap();
        assert_eq!(
            kept.unparsed_text(),
            Some(r#"{"name":"A. de Vries","town":"Delft"}"#)
        );
        assert!(kept.is_object());
        assert_eq!(
            *kept.value(),
            json!({"name": "A. de Vries", "town": "Delft"})
        );

        let escaped = JsonData::read_stored(br#"{"a":"\u0001"}"#).unwrap();
        assert_eq!(escaped.unparsed_text(), None, "parsed by the strict parser");
        assert_eq!(*escaped.value(), json!({"a": "\u{1}"}));

        for bad in [
            &br#"{"a":"\ud800"}"#[..],
            br#"{"a":1e400}"#,
            b"{\"a\":",
            b"\xff",
        ] {
            assert!(
                JsonData::read_stored(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn tail_reads_the_fields_after_data() {
        let r = sample();
        let bytes = r.hashed_bytes();
        let tail = HashedTail::parse(&bytes).unwrap();
        assert_eq!(tail.position, 3);
        assert_eq!(tail.version, 0);
        assert_eq!(tail.stream, "member/10234");
        assert_eq!(tail.event_type, "MemberJoined");
        assert_eq!(tail.prev_hash, [1; 32]);
        assert_eq!(tail.personal_commitment, Some([7; 32]));
    }

    #[test]
    fn non_canonical_lines_are_refused() {
        let r = sample();
        let line = String::from_utf8(r.export_line(PersonalView::Omitted)).unwrap();
        let spaced = line.replacen(",", ", ", 1);
        assert!(ExportLine::parse(spaced.as_bytes()).is_err());
    }
}
