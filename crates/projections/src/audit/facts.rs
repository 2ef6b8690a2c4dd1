//! The audit facts: what the yearly report needs beyond the projections (contributions,
//! gifts, loans, subsidies, budgets, the members' status dates), folded from the same records
//! one at a time. A server keeps them in its read side, and in its snapshots, beside the
//! projections; the report's sections (the parent module) read them.

use super::PaymentLine;
use crate::Projections;
use kroniek_core::catalogue::{CaseKind, EventData};
use kroniek_core::record::{Personal, Record};
use kroniek_core::types::Date;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, PartialEq, bincode::Encode, bincode::Decode)]
pub(super) struct MemberFacts {
    /// Positions of the events about the member's status (joins, ends, suspensions, …).
    pub(super) status_events: Vec<u64>,
    /// The member's contributions paid and refunded: indices into [`AuditFacts::payments`]
    /// (kept once, there).
    pub(super) payments: Vec<usize>,
    /// The member's place in [`AuditFacts::payers`], from their first payment or refund.
    pub(super) payer: Option<usize>,
    pub(super) joined: Vec<Date>,
    pub(super) ended: Vec<Date>,
    pub(super) expelled: Vec<Date>,
}

#[derive(Debug, Clone, PartialEq, bincode::Encode, bincode::Decode)]
pub(super) struct Gift {
    pub(super) position: u64,
    /// `received_on`, else `effective`.
    pub(super) received: Date,
    pub(super) recorded_at: String,
    pub(super) year: i32,
    pub(super) amount_cents: i64,
    pub(super) donor_ref: String,
    pub(super) donor_kind: String,
    /// By `donor_basis` where given (voter, kvk), else `dutch_donor`.
    pub(super) dutch: bool,
    pub(super) in_kind: bool,
    pub(super) description: Option<String>,
    pub(super) name: Option<String>,
    pub(super) residence: Option<String>,
}

/// A `GiftReported`.
#[derive(Debug, Clone, PartialEq, bincode::Encode, bincode::Decode)]
pub(super) struct GiftReport {
    pub(super) position: u64,
    pub(super) year: i32,
    pub(super) donor_ref: String,
    pub(super) reported_on: Date,
}

/// A `GiftReturned`.
#[derive(Debug, Clone, PartialEq, bincode::Encode, bincode::Decode)]
pub(super) struct GiftReturn {
    pub(super) position: u64,
    pub(super) year: i32,
    pub(super) donor_ref: String,
    pub(super) amount_cents: i64,
    pub(super) returned_on: Date,
    pub(super) reason: String,
}

/// A `LoanReceived`.
#[derive(Debug, Clone, PartialEq, bincode::Encode, bincode::Decode)]
pub(super) struct Loan {
    pub(super) position: u64,
    pub(super) year: i32,
    pub(super) lender_ref: String,
    pub(super) amount_cents: i64,
    pub(super) name: Option<String>,
    pub(super) residence: Option<String>,
}

/// A `BudgetAdopted`: position, year, decision, lines.
pub(super) type BudgetFact = (u64, i32, String, Vec<(String, i64)>);

/// What the audit report needs beyond the projections, folded from the same records (a
/// server keeps it in its read side, beside the projections it shares).
#[derive(Debug, Clone, Default, PartialEq, bincode::Encode, bincode::Decode)]
pub struct AuditFacts {
    pub(super) members: DenseMap<String, MemberFacts>,
    pub(super) subsidies: Vec<(u64, i32, String, i64, String)>,
    pub(super) budgets: Vec<BudgetFact>,
    pub(super) gifts: Vec<Gift>,
    pub(super) gift_reports: Vec<GiftReport>,
    pub(super) gift_returns: Vec<GiftReturn>,
    pub(super) loans: Vec<Loan>,
    /// `DecisionTaken.amount_cents`: position, year of the decision, cents.
    pub(super) decision_amounts: Vec<(u64, i32, i64)>,
    /// `SubsidyApplied`: position, year, recipient, cents.
    pub(super) subsidy_applications: Vec<(u64, i32, String, i64)>,
    pub(super) cases: Vec<(u64, String, Date, String)>,
    pub(super) decision_positions: DenseMap<String, u64>,
    /// Contributions paid and refunded, with the day money moved (step 11).
    pub(super) payments: Vec<Payment>,
    /// The ids of the members who paid or were refunded, each once: a [`Payment`] names its
    /// member by place here (one id for 441,905 payments of the 1,000,000-event ledger).
    pub(super) payers: Vec<Box<str>>,
}

/// A contribution paid or refunded, as the facts keep it (one per contribution of the whole
/// ledger, so kept small); [`AuditFacts::payment_line`] makes the report's form.
#[derive(Debug, Clone, PartialEq, bincode::Encode, bincode::Decode)]
pub(super) struct Payment {
    /// The member's place in [`AuditFacts::payers`].
    pub(super) payer: usize,
    pub(super) year: i32,
    /// Negative for a refund.
    pub(super) cents: i64,
    pub(super) paid: Date,
    pub(super) reference: Option<Box<[u8; 32]>>,
    pub(super) position: u64,
}

impl AuditFacts {
    /// A member's contributions paid and refunded, in the order recorded.
    pub(super) fn payments_of<'a>(
        &'a self,
        facts: &'a MemberFacts,
    ) -> impl Iterator<Item = &'a Payment> {
        facts.payments.iter().filter_map(|i| self.payments.get(*i))
    }

    /// The id of the member who paid `payment`.
    pub(super) fn payer_of(&self, payment: &Payment) -> &str {
        self.payers.get(payment.payer).map_or("", |id| id)
    }

    /// `payment` in the report's form.
    pub(super) fn payment_line(&self, payment: &Payment) -> PaymentLine {
        PaymentLine {
            member_id: self.payer_of(payment).to_string(),
            year: payment.year,
            cents: payment.cents,
            paid: payment.paid.to_string(),
            reference_blake3: payment
                .reference
                .as_ref()
                .map(|h| kroniek_core::types::hex(&h[..])),
            position: payment.position,
        }
    }

    /// Records a payment (or, with negative cents, a refund) of `member_id`, made by
    /// `payment` from the member's place in [`AuditFacts::payers`].
    fn add_payment(&mut self, member_id: &str, payment: impl FnOnce(usize) -> Payment) {
        let facts = self.members.entry(member_id.to_string()).or_default();
        let payer = *facts.payer.get_or_insert_with(|| {
            self.payers.push(member_id.into());
            self.payers.len() - 1
        });
        facts.payments.push(self.payments.len());
        self.payments.push(payment(payer));
    }
}

impl AuditFacts {
    /// Folds one record (its data parsed as `event`, dated `effective`) that `projections`
    /// has just applied: the facts read the case it decides from them.
    pub fn apply(
        &mut self,
        record: &Record,
        event: &EventData,
        effective: Date,
        personal: Option<&Personal>,
        projections: &Projections,
    ) {
        let p = record.position;
        use EventData as E;
        match event {
            E::MemberJoined(d) => {
                let f = self.members.entry(d.member_id.to_string()).or_default();
                f.status_events.push(p);
                f.joined.push(effective);
            }
            E::MembershipEnded(d) => {
                let f = self.members.entry(d.member_id.to_string()).or_default();
                f.status_events.push(p);
                f.ended.push(effective);
            }
            E::MemberExpelled(d) => {
                let f = self.members.entry(d.member_id.to_string()).or_default();
                f.status_events.push(p);
                f.expelled.push(effective);
            }
            E::MemberSuspended(d) => self
                .members
                .entry(d.member_id.to_string())
                .or_default()
                .status_events
                .push(p),
            E::MemberReinstated(d) => self
                .members
                .entry(d.member_id.to_string())
                .or_default()
                .status_events
                .push(p),
            E::MemberDetailsChanged(d) => self
                .members
                .entry(d.member_id.to_string())
                .or_default()
                .status_events
                .push(p),
            E::ContributionPaid(d) => self.add_payment(d.member_id.as_str(), |payer| Payment {
                payer,
                year: d.year.0,
                cents: d.amount_cents,
                paid: d.paid_on.unwrap_or(effective),
                reference: d.reference_blake3.as_ref().map(|h| Box::new(h.0)),
                position: p,
            }),
            E::ContributionRefunded(d) => self.add_payment(d.member_id.as_str(), |payer| Payment {
                payer,
                year: d.year.0,
                cents: -d.amount_cents,
                paid: effective,
                reference: None,
                position: p,
            }),
            E::CaseDecided(d) => {
                if let Some(c) = projections.state.cases.get(d.case_id.as_str()) {
                    if c.kind == CaseKind::Royement {
                        for m in &c.respondents {
                            self.members
                                .entry(m.clone())
                                .or_default()
                                .status_events
                                .push(p);
                        }
                    }
                }
                self.cases
                    .push((p, d.case_id.to_string(), effective, "decided".into()));
            }
            E::AppealDecided(d) => {
                if let Some(c) = projections.state.cases.get(d.case_id.as_str()) {
                    for m in &c.respondents {
                        self.members
                            .entry(m.clone())
                            .or_default()
                            .status_events
                            .push(p);
                    }
                }
            }
            E::CaseOpened(d) => {
                self.cases
                    .push((p, d.case_id.to_string(), effective, "opened".into()))
            }
            E::CaseClosed(d) => {
                self.cases
                    .push((p, d.case_id.to_string(), effective, "closed".into()))
            }
            E::SubsidyReceived(d) => self.subsidies.push((
                p,
                d.year.0,
                d.recipient.as_str().into(),
                d.amount_cents,
                d.grantor.clone(),
            )),
            E::BudgetAdopted(d) => self.budgets.push((
                p,
                d.year.0,
                d.decision_id.to_string(),
                d.lines
                    .iter()
                    .map(|l| (l.name.clone(), l.amount_cents))
                    .collect(),
            )),
            E::GiftReceived(d) => {
                use kroniek_core::catalogue::DonorBasis;
                let dutch = match d.donor_basis {
                    Some(DonorBasis::Voter | DonorBasis::Kvk) => true,
                    Some(DonorBasis::Other) => false,
                    None => d.dutch_donor.unwrap_or(true),
                };
                self.gifts.push(Gift {
                    position: p,
                    received: d.received_on.unwrap_or(effective),
                    recorded_at: record.recorded_at.clone(),
                    year: d.year.0,
                    amount_cents: d.amount_cents,
                    donor_ref: d.donor_ref.to_string(),
                    donor_kind: d.donor_kind.as_str().into(),
                    dutch,
                    in_kind: d.in_kind.unwrap_or(false),
                    description: d.description.clone(),
                    name: personal_field(personal, "donor_name"),
                    residence: personal_field(personal, "donor_residence"),
                });
            }
            E::GiftReported(d) => self.gift_reports.push(GiftReport {
                position: p,
                year: d.year.0,
                donor_ref: d.donor_ref.to_string(),
                reported_on: d.reported_on,
            }),
            E::GiftReturned(d) => self.gift_returns.push(GiftReturn {
                position: p,
                year: d.year.0,
                donor_ref: d.donor_ref.to_string(),
                amount_cents: d.amount_cents,
                returned_on: d.returned_on,
                reason: d.reason.clone(),
            }),
            E::LoanReceived(d) => self.loans.push(Loan {
                position: p,
                year: d.year.0,
                lender_ref: d.lender_ref.to_string(),
                amount_cents: d.amount_cents,
                name: personal_field(personal, "lender_name"),
                residence: personal_field(personal, "lender_residence"),
            }),
            E::SubsidyApplied(d) => self.subsidy_applications.push((
                p,
                d.year.0,
                d.recipient.as_str().to_owned(),
                d.amount_cents,
            )),
            E::DecisionTaken(d) => {
                self.decision_positions.insert(d.decision_id.to_string(), p);
                if let Some(a) = d.amount_cents {
                    self.decision_amounts
                        .push((p, chrono::Datelike::year(&effective.naive()), a));
                }
            }
            E::PersonalDataErased(d) => self.erase(&d.subject),
            _ => {}
        }
    }

    /// Forgets the names a `PersonalDataErased` of a donor erased (the gifts' and loans'
    /// `personal`): a fold that ran before the erasure holds them, a fold after it never sees
    /// them.
    pub(super) fn erase(&mut self, subject: &kroniek_core::catalogue::ErasureSubject) {
        if let kroniek_core::catalogue::ErasureSubject::Donor(donor) = subject {
            for g in self
                .gifts
                .iter_mut()
                .filter(|g| g.donor_ref == donor.as_str())
            {
                g.name = None;
                g.residence = None;
            }
            for l in self
                .loans
                .iter_mut()
                .filter(|l| l.lender_ref == donor.as_str())
            {
                l.name = None;
                l.residence = None;
            }
        }
    }
}

/// A string of a record's `personal`, if present and not erased.
fn personal_field(personal: Option<&Personal>, key: &str) -> Option<String> {
    personal
        .and_then(|pp| pp.value.get(key))
        .and_then(|v| v.as_str())
        .map(str::to_owned)
}

/// A `BTreeMap` that a snapshot's load builds from its sorted entries in one pass, leaving
/// every node full. bincode's own decoding inserts the entries one at a time, in order, and an
/// ordered insert leaves each node it splits a little over half full: for the audit facts'
/// 90,799 members of the 1,000,000-event ledger, about 14 MB more at a server's peak. The
/// bytes are a `BTreeMap`'s (a length, then each key and value), so snapshots read as before.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct DenseMap<K, V>(BTreeMap<K, V>);

impl<K, V> Default for DenseMap<K, V> {
    fn default() -> Self {
        DenseMap(BTreeMap::new())
    }
}

impl<K, V> std::ops::Deref for DenseMap<K, V> {
    type Target = BTreeMap<K, V>;
    fn deref(&self) -> &BTreeMap<K, V> {
        &self.0
    }
}

impl<K, V> std::ops::DerefMut for DenseMap<K, V> {
    fn deref_mut(&mut self) -> &mut BTreeMap<K, V> {
        &mut self.0
    }
}

impl<'a, K, V> IntoIterator for &'a DenseMap<K, V> {
    type Item = (&'a K, &'a V);
    type IntoIter = std::collections::btree_map::Iter<'a, K, V>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl<K: bincode::Encode + Ord, V: bincode::Encode> bincode::Encode for DenseMap<K, V> {
    fn encode<E: bincode::enc::Encoder>(
        &self,
        encoder: &mut E,
    ) -> Result<(), bincode::error::EncodeError> {
        self.0.encode(encoder)
    }
}

impl<Context, K, V> bincode::Decode<Context> for DenseMap<K, V>
where
    K: bincode::Decode<Context> + Ord,
    V: bincode::Decode<Context>,
{
    fn decode<D: bincode::de::Decoder<Context = Context>>(
        decoder: &mut D,
    ) -> Result<Self, bincode::error::DecodeError> {
        // The entries as a list (the same bytes), then the map built from them at once: a
        // sorted list is built without a sort, and a repeated key keeps its last value, as
        // an insert would.
        let entries: Vec<(K, V)> = bincode::Decode::decode(decoder)?;
        Ok(DenseMap(entries.into_iter().collect()))
    }
}

impl<'de, Context, K, V> bincode::BorrowDecode<'de, Context> for DenseMap<K, V>
where
    K: bincode::Decode<Context> + Ord,
    V: bincode::Decode<Context>,
{
    fn borrow_decode<D: bincode::de::BorrowDecoder<'de, Context = Context>>(
        decoder: &mut D,
    ) -> Result<Self, bincode::error::DecodeError> {
        bincode::Decode::decode(decoder)
    }
}

#[cfg(test)]
mod dense_map_tests {
    use super::DenseMap;
    use std::collections::BTreeMap;

    fn config() -> impl bincode::config::Config {
        bincode::config::standard()
    }

    #[test]
    fn a_dense_map_is_written_and_read_as_a_btree_map() {
        let mut map = DenseMap::default();
        for i in (0..1000u32).rev() {
            map.insert(format!("m-{i:04}"), u64::from(i) * 3);
        }
        let as_map: BTreeMap<String, u64> = (*map).clone();
        let bytes = bincode::encode_to_vec(&map, config()).expect("encodes");
        assert_eq!(
            bytes,
            bincode::encode_to_vec(&as_map, config()).expect("encodes")
        );
        let (read, used): (DenseMap<String, u64>, usize) =
            bincode::decode_from_slice(&bytes, config()).expect("decodes");
        assert_eq!(used, bytes.len());
        assert_eq!(*read, as_map);
        // A map's bytes read as a dense map, and the other way round.
        let (back, _): (BTreeMap<String, u64>, usize) =
            bincode::decode_from_slice(&bytes, config()).expect("decodes");
        assert_eq!(back, as_map);
    }

    #[test]
    fn a_repeated_key_keeps_its_last_value_as_an_insert_would() {
        let entries = vec![
            ("a".to_string(), 1u64),
            ("b".to_string(), 2),
            ("a".to_string(), 3),
        ];
        let bytes = bincode::encode_to_vec(&entries, config()).expect("encodes");
        let (dense, _): (DenseMap<String, u64>, usize) =
            bincode::decode_from_slice(&bytes, config()).expect("decodes");
        let (inserted, _): (BTreeMap<String, u64>, usize) =
            bincode::decode_from_slice(&bytes, config()).expect("decodes");
        assert_eq!(*dense, inserted);
        assert_eq!(dense.get("a"), Some(&3));
    }
}
