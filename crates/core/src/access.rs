//! Who may do what: the roles of DOMAIN.md's API table, the principals and their token
//! hashes (folded from `access/…` records), and which records and personal data each role sees.
//!
//! Pure policy: the HTTP edge and the web pages ask these functions, so there is one access
//! check, not two.

use crate::catalogue::{AccessRole, Category, EventData, EventType};
use crate::record::Record;
use std::collections::BTreeMap;

/// A principal with access.
#[derive(Debug, Clone, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct Principal {
    pub name: String,
    pub role: AccessRole,
    pub token_blake3: [u8; 32],
    /// Granted on (the `effective` date of the latest AccessGranted).
    pub granted: String,
    /// Revoked on, if it was.
    pub revoked: Option<String>,
}

/// Every principal, folded from `AccessGranted` / `AccessRevoked` records.
#[derive(Debug, Clone, PartialEq, Default, bincode::Encode, bincode::Decode)]
pub struct AccessTable {
    principals: BTreeMap<String, Principal>,
}

impl AccessTable {
    /// Applies an event (only access events change the table).
    pub fn apply(&mut self, event: &EventData, effective: &str) {
        match event {
            EventData::AccessGranted(d) => {
                self.principals.insert(
                    d.principal.to_string(),
                    Principal {
                        name: d.principal.to_string(),
                        role: d.role,
                        token_blake3: d.token_blake3.0,
                        granted: effective.to_owned(),
                        revoked: None,
                    },
                );
            }
            EventData::AccessRevoked(d) => {
                if let Some(p) = self.principals.get_mut(d.principal.as_str()) {
                    p.revoked = Some(effective.to_owned());
                }
            }
            _ => {}
        }
    }

    /// Every principal, by name.
    pub fn principals(&self) -> impl Iterator<Item = &Principal> {
        self.principals.values()
    }

    /// The principal of that name.
    pub fn get(&self, name: &str) -> Option<&Principal> {
        self.principals.get(name)
    }

    /// Whether any admin's access stands.
    pub fn has_admin(&self) -> bool {
        self.principals
            .values()
            .any(|p| p.role == AccessRole::Admin && p.revoked.is_none())
    }

    /// The principal whose token this is, if its access stands. Every standing principal's
    /// hash is compared, each in constant time, so the answer's timing says nothing about
    /// which hash came close.
    pub fn authenticate(&self, token: &str) -> Option<&Principal> {
        let presented = blake3::hash(token.as_bytes());
        let mut found = None;
        for p in self.principals.values() {
            if presented == blake3::Hash::from_bytes(p.token_blake3) && p.revoked.is_none() {
                found = Some(p);
            }
        }
        found
    }
}

/// The hash kept for a token: BLAKE3 of its text.
pub fn token_hash(token: &str) -> [u8; 32] {
    *blake3::hash(token.as_bytes()).as_bytes()
}

/// Whether `role` may append an event to a stream of `category`.
pub fn may_append(role: AccessRole, category: Category) -> bool {
    match role {
        AccessRole::Admin => true,
        AccessRole::Secretary => !matches!(category, Category::Case | Category::Access),
        AccessRole::Disputes => category == Category::Case,
        AccessRole::Auditor | AccessRole::Board | AccessRole::Member => false,
    }
}

/// The categories that are governance: bodies, meetings, motions, decisions, elections,
/// codes, and member status.
fn governance(category: Category) -> bool {
    matches!(
        category,
        Category::Body
            | Category::Meeting
            | Category::Motion
            | Category::Decision
            | Category::Election
            | Category::Code
            | Category::Member
    )
}

/// Whether `role` sees records of `category` (otherwise they are exported *withheld*).
pub fn sees_records(role: AccessRole, category: Category) -> bool {
    match role {
        AccessRole::Admin => true,
        AccessRole::Secretary | AccessRole::Auditor => category != Category::Case,
        AccessRole::Disputes => category == Category::Case || governance(category),
        AccessRole::Board => governance(category),
        AccessRole::Member => matches!(category, Category::Decision | Category::Body),
    }
}

/// Whether `role` sees the whole `personal` object of a record of `event_type` in `category`.
/// (Names of office holders reach the other roles through the read models, not raw records:
/// a record's personal data is shown whole or not at all, so that its commitment verifies.)
pub fn sees_personal(role: AccessRole, category: Category, event_type: EventType) -> bool {
    match role {
        AccessRole::Admin => true,
        AccessRole::Secretary => category != Category::Case,
        AccessRole::Disputes => category == Category::Case,
        AccessRole::Auditor => {
            matches!(
                event_type,
                EventType::GiftReceived | EventType::LoanReceived
            )
        }
        AccessRole::Board | AccessRole::Member => false,
    }
}

/// Whether `role` sees the names of office holders (anyone who holds or held a seat).
pub fn sees_office_holder_names(role: AccessRole) -> bool {
    !matches!(role, AccessRole::Disputes)
}

/// How a record is shown to `role`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shown {
    /// Withheld: only its place in the chain.
    Withheld,
    /// The record, with or without its personal data.
    Record { personal: bool },
}

/// How `record` is shown to `role`. A record held withheld (a view copy's) is withheld from
/// every role.
pub fn shown(role: AccessRole, record: &Record) -> Shown {
    if record.withheld {
        return Shown::Withheld;
    }
    shown_in(role, &record.stream, record.event_type)
}

/// How a record of `event_type` in `stream` is shown to `role`. A stream outside the
/// catalogue's categories is treated as a case file's (the least shown).
pub fn shown_in(role: AccessRole, stream: &str, event_type: EventType) -> Shown {
    let category = stream
        .split('/')
        .next()
        .and_then(Category::from_name)
        .unwrap_or(Category::Case);
    if !sees_records(role, category) {
        return Shown::Withheld;
    }
    Shown::Record {
        personal: sees_personal(role, category, event_type),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::AccessGranted;
    use crate::types::{HashHex, Id};

    #[test]
    fn authenticate_by_hash_and_stop_at_revocation() {
        let mut t = AccessTable::default();
        let grant = |name: &str, token: &str| {
            EventData::AccessGranted(AccessGranted {
                principal: Id::try_from(name.to_owned()).unwrap(),
                role: AccessRole::Secretary,
                token_blake3: HashHex(token_hash(token)),
            })
        };
        t.apply(&grant("bureau", "krn_one"), "2024-01-01");
        t.apply(&grant("kas", "krn_two"), "2024-01-01");
        assert_eq!(
            t.authenticate("krn_one").map(|p| p.name.as_str()),
            Some("bureau")
        );
        assert!(t.authenticate("krn_three").is_none());
        t.apply(
            &EventData::AccessRevoked(crate::catalogue::AccessRevoked {
                principal: Id::try_from("bureau".to_owned()).unwrap(),
            }),
            "2024-02-01",
        );
        assert!(t.authenticate("krn_one").is_none());
        assert!(!t.has_admin());
    }

    #[test]
    fn the_role_table() {
        use AccessRole::*;
        assert!(
            may_append(Secretary, Category::Member)
                && !may_append(Secretary, Category::Case)
                && !may_append(Secretary, Category::Access)
        );
        assert!(may_append(Disputes, Category::Case) && !may_append(Disputes, Category::Member));
        assert!(
            !may_append(Auditor, Category::Finance)
                && !may_append(Board, Category::Body)
                && !may_append(Member, Category::Decision)
        );
        assert!(!sees_records(Auditor, Category::Case) && sees_records(Auditor, Category::Finance));
        assert!(
            sees_records(Disputes, Category::Case) && !sees_records(Disputes, Category::Finance)
        );
        assert!(!sees_records(Board, Category::Finance) && sees_records(Board, Category::Member));
        assert!(
            sees_records(Member, Category::Decision) && !sees_records(Member, Category::Member)
        );
        assert!(sees_personal(
            Auditor,
            Category::Finance,
            EventType::GiftReceived
        ));
        assert!(!sees_personal(
            Auditor,
            Category::Member,
            EventType::MemberJoined
        ));
        assert!(!sees_personal(
            Secretary,
            Category::Case,
            EventType::CaseOpened
        ));
        assert!(sees_personal(
            Disputes,
            Category::Case,
            EventType::CaseOpened
        ));
    }
}
