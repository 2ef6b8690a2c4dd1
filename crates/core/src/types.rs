//! Validated value types of the catalogue: ids, stream names, dates, hashes, event ids.
//!
//! Each type refuses a malformed value when it is built (and so when serde reads it), with a
//! message that says what the value should look like. DOMAIN.md fixes the forms:
//! ids are lower-case `[a-z0-9][a-z0-9._-]*` (with `/` between segments inside body ids),
//! dates are `YYYY-MM-DD`, hashes are 64 lower-case hex digits, UUIDs are lower-case.

use serde::{Deserialize, Serialize};
use std::fmt;

/// True for an id DOMAIN.md allows: lower-case `[a-z0-9][a-z0-9._-]*`.
pub fn is_valid_id(s: &str) -> bool {
    let bytes = s.as_bytes();
    match bytes.first() {
        Some(b) if b.is_ascii_lowercase() || b.is_ascii_digit() => {}
        _ => return false,
    }
    bytes
        .iter()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-'))
}

/// True for a body id: one or more valid id segments joined by `/` (`afdeling-den-haag/bestuur`).
pub fn is_valid_body_id(s: &str) -> bool {
    s.split('/').all(is_valid_id)
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $check:path, $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, bincode::Encode, bincode::Decode)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = String;
            fn try_from(s: String) -> Result<Self, String> {
                if $check(&s) {
                    Ok(Self(s))
                } else {
                    Err(format!(
                        "\"{s}\" is not a valid {}: {}",
                        $what,
                        if $what == "body id" {
                            "use lower-case [a-z0-9][a-z0-9._-]* segments, joined by /"
                        } else {
                            "use lower-case [a-z0-9][a-z0-9._-]*"
                        }
                    ))
                }
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

id_type!(
    /// A member's id: the party's membership number (`10234`).
    MemberId, is_valid_id, "member id");
id_type!(
    /// A body's id, which may hold `/` between segments (`afdeling-den-haag/bestuur`).
    BodyId, is_valid_body_id, "body id");
id_type!(
    /// Any other id of the catalogue: meeting, motion, decision, election, case, code, donor,
    /// principal, role and portfolio ids.
    Id, is_valid_id, "id");

/// A calendar date `YYYY-MM-DD` (Europe/Amsterdam), as DOMAIN.md writes dates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Date(chrono::NaiveDate);

/// Stored (in snapshots of the read models) as the day number counted from 1 January of
/// year 1 (chrono's `num_days_from_ce`).
impl bincode::Encode for Date {
    fn encode<E: bincode::enc::Encoder>(
        &self,
        encoder: &mut E,
    ) -> Result<(), bincode::error::EncodeError> {
        chrono::Datelike::num_days_from_ce(&self.0).encode(encoder)
    }
}

impl<Context> bincode::Decode<Context> for Date {
    fn decode<D: bincode::de::Decoder<Context = Context>>(
        decoder: &mut D,
    ) -> Result<Self, bincode::error::DecodeError> {
        let days = i32::decode(decoder)?;
        chrono::NaiveDate::from_num_days_from_ce_opt(days)
            .map(Date)
            .ok_or(bincode::error::DecodeError::Other(
                "a day number out of range",
            ))
    }
}
bincode::impl_borrow_decode!(Date);

impl Date {
    /// Parses `YYYY-MM-DD` exactly (four-digit year, two-digit month and day).
    pub fn parse(s: &str) -> Result<Self, String> {
        let b = s.as_bytes();
        let shape_ok = b.len() == 10
            && b[4] == b'-'
            && b[7] == b'-'
            && b.iter()
                .enumerate()
                .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
        if !shape_ok {
            return Err(format!("\"{s}\" is not a date: write YYYY-MM-DD"));
        }
        // The shape is checked: read the digits directly (no format-string interpreter).
        let number = |range: std::ops::Range<usize>| {
            b[range]
                .iter()
                .fold(0u32, |n, c| n * 10 + u32::from(c - b'0'))
        };
        let year = i32::try_from(number(0..4)).unwrap_or(0);
        chrono::NaiveDate::from_ymd_opt(year, number(5..7), number(8..10))
            .map(Date)
            .ok_or_else(|| format!("\"{s}\" is not a calendar date"))
    }

    /// The underlying chrono date.
    pub fn naive(self) -> chrono::NaiveDate {
        self.0
    }

    /// Builds a date from a chrono date.
    pub fn from_naive(date: chrono::NaiveDate) -> Self {
        Date(date)
    }
}

impl TryFrom<String> for Date {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Date::parse(&s)
    }
}

impl From<Date> for String {
    fn from(d: Date) -> String {
        d.to_string()
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        use chrono::Datelike;
        let (y, m, d) = (self.0.year(), self.0.month(), self.0.day());
        if (0..=9999).contains(&y) {
            // The common case without chrono's format-string interpreter (a rebuild formats
            // millions of dates).
            write!(f, "{y:04}-{m:02}-{d:02}")
        } else {
            write!(f, "{}", self.0.format("%Y-%m-%d"))
        }
    }
}

/// A BLAKE3 hash written as 64 lower-case hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct HashHex(pub [u8; 32]);

impl HashHex {
    /// Parses 64 lower-case hex digits.
    pub fn parse(s: &str) -> Result<Self, String> {
        parse_hex32(s)
            .map(HashHex)
            .ok_or_else(|| format!("\"{s}\" is not a hash: write 64 lower-case hex digits"))
    }
}

impl TryFrom<String> for HashHex {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        HashHex::parse(&s)
    }
}

impl From<HashHex> for String {
    fn from(h: HashHex) -> String {
        hex(&h.0)
    }
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(HEX[usize::from(b >> 4)]));
        s.push(char::from(HEX[usize::from(b & 0x0f)]));
    }
    s
}

/// Parses exactly 64 lower-case hex digits into 32 bytes.
///
/// Every stored record carries one or two of these, so this runs once or twice per record on
/// a rebuild: a table lookup per digit and one check at the end, no branch per digit.
pub fn parse_hex32(s: &str) -> Option<[u8; 32]> {
    let b = s.as_bytes();
    if b.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    let mut invalid = 0u8;
    for (byte, pair) in out.iter_mut().zip(b.chunks_exact(2)) {
        let (high, low) = (
            HEX_DIGIT[usize::from(pair[0])],
            HEX_DIGIT[usize::from(pair[1])],
        );
        invalid |= high | low;
        *byte = (high << 4) | (low & 0x0f);
    }
    (invalid & NOT_HEX == 0).then_some(out)
}

/// A lower-case hex digit's value, or [`NOT_HEX`] for any other byte.
const HEX_DIGIT: [u8; 256] = {
    let mut table = [NOT_HEX; 256];
    let mut i = 0;
    while i < 10 {
        table[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        table[b'a' as usize + i] = 10 + i as u8;
        i += 1;
    }
    table
};
const NOT_HEX: u8 = 0x80;

/// An event's UUID, always written lower-case and hyphenated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventId(pub uuid::Uuid);

impl EventId {
    /// Parses a lower-case hyphenated UUID.
    pub fn parse(s: &str) -> Result<Self, String> {
        // 36 characters is the hyphenated form only; with no upper-case digit it is the one
        // way to write this UUID.
        let uuid = Some(s)
            .filter(|s| s.len() == 36 && !s.bytes().any(|b| b.is_ascii_uppercase()))
            .and_then(|s| uuid::Uuid::try_parse(s).ok())
            .ok_or_else(|| {
                format!("\"{s}\" is not a UUID: write it lower-case with hyphens (8-4-4-4-12)")
            })?;
        Ok(EventId(uuid))
    }

    /// A fresh random (version 4) id.
    pub fn new_v4_from(bytes: [u8; 16]) -> Self {
        EventId(uuid::Builder::from_random_bytes(bytes).into_uuid())
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{}", self.0.hyphenated())
    }
}

/// The year of a financial stream or a contribution: an integer from 1000 through 9999.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "i64")]
pub struct Year(pub i32);

impl TryFrom<i64> for Year {
    type Error = String;
    fn try_from(y: i64) -> Result<Self, String> {
        if (1000..=9999).contains(&y) {
            Ok(Year(y as i32))
        } else {
            Err(format!(
                "{y} is not a year: write a four-digit year such as 2023"
            ))
        }
    }
}

impl From<Year> for i64 {
    fn from(y: Year) -> i64 {
        i64::from(y.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        for good in ["10234", "landelijk-bestuur", "a.b_c-d", "0"] {
            assert!(is_valid_id(good), "{good}");
        }
        for bad in ["", "-a", "A", "a b", "a/b", ".a", "é"] {
            assert!(!is_valid_id(bad), "{bad}");
        }
        assert!(is_valid_body_id("afdeling-den-haag/bestuur"));
        for bad in ["a/", "/a", "a//b", "a/B"] {
            assert!(!is_valid_body_id(bad), "{bad}");
        }
    }

    #[test]
    fn dates() {
        assert!(Date::parse("2024-02-29").is_ok());
        for text in [
            "2024-02-29",
            "0001-01-01",
            "0999-12-31",
            "9999-12-31",
            "2019-10-01",
        ] {
            assert_eq!(
                Date::parse(text).map(|d| d.to_string()),
                Ok(text.to_owned())
            );
        }
        for bad in [
            "2023-02-29",
            "2023-2-01",
            "20230201",
            "2023-13-01",
            " 2023-01-01",
        ] {
            assert!(Date::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn hashes_and_uuids() {
        let h = "00".repeat(32);
        assert!(HashHex::parse(&h).is_ok());
        assert!(HashHex::parse(&"AA".repeat(32)).is_err());
        assert!(HashHex::parse("00").is_err());
        assert!(EventId::parse("0b6c9b0e-2f3a-4c1d-9e8f-7a6b5c4d3e2f").is_ok());
        assert!(EventId::parse("0B6C9B0E-2F3A-4C1D-9E8F-7A6B5C4D3E2F").is_err());
        assert!(EventId::parse("0b6c9b0e2f3a4c1d9e8f7a6b5c4d3e2f").is_err());
        for other_form in [
            "{0b6c9b0e-2f3a-4c1d-9e8f-7a6b5c4d3e2f}",
            "urn:uuid:0b6c9b0e-2f3a-4c1d-9e8f-7a6b5c4d3e2f",
            "0b6c9b0e-2f3a-4c1d-9e8f-7a6b5c4d3e2F",
            "0b6c9b0e-2f3a4-c1d-9e8f-7a6b5c4d3e2f",
            "0b6c9b0e-2f3a-4c1d-9e8f-7a6b5c4d3e2g",
        ] {
            assert!(EventId::parse(other_form).is_err(), "{other_form}");
        }
    }

    proptest::proptest! {
        #[test]
        fn event_ids_read_back_only_as_written(bytes: [u8; 16]) {
            let id = EventId::new_v4_from(bytes);
            let text = id.to_string();
            proptest::prop_assert_eq!(EventId::parse(&text), Ok(id));
            if text.bytes().any(|b| b.is_ascii_lowercase()) {
                proptest::prop_assert!(EventId::parse(&text.to_uppercase()).is_err());
            }
        }

        #[test]
        fn hex32_reads_back_what_hex_wrote(bytes: [u8; 32]) {
            proptest::prop_assert_eq!(parse_hex32(&hex(&bytes)), Some(bytes));
        }

        #[test]
        fn hex32_refuses_any_byte_that_is_not_a_lower_case_hex_digit(
            bytes: [u8; 32],
            at in 0usize..64,
            other: u8,
        ) {
            let mut text = hex(&bytes).into_bytes();
            text[at] = other;
            let expected = other.is_ascii_digit() || (b'a'..=b'f').contains(&other);
            let parsed = std::str::from_utf8(&text).ok().and_then(parse_hex32);
            proptest::prop_assert_eq!(parsed.is_some(), expected);
        }
    }
}
