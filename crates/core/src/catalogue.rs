//! The event catalogue of DOMAIN.md as typed data: every event type, its stream category,
//! its `data` and `personal` keys, and the enums its fields take.
//!
//! The JSON names here are the contract. Each `data` struct refuses unknown keys; an optional
//! key may be absent or `null`. The typed value is for checking and for the rules and
//! projections; the ledger stores the `data` and `personal` JSON exactly as appended.

use crate::types::{BodyId, Date, HashHex, Id, MemberId, Year};
use serde::{Deserialize, Serialize};
use std::fmt;

/// A stream category (the part of a stream name before the first `/`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Category {
    Code,
    Member,
    Body,
    Meeting,
    Motion,
    Decision,
    Election,
    Case,
    Finance,
    Access,
}

impl Category {
    /// Every category, in DOMAIN.md's order.
    pub const ALL: [Category; 10] = [
        Category::Code,
        Category::Member,
        Category::Body,
        Category::Meeting,
        Category::Motion,
        Category::Decision,
        Category::Election,
        Category::Case,
        Category::Finance,
        Category::Access,
    ];

    /// The category's name in a stream name.
    pub fn name(self) -> &'static str {
        match self {
            Category::Code => "code",
            Category::Member => "member",
            Category::Body => "body",
            Category::Meeting => "meeting",
            Category::Motion => "motion",
            Category::Decision => "decision",
            Category::Election => "election",
            Category::Case => "case",
            Category::Finance => "finance",
            Category::Access => "access",
        }
    }

    /// The category of that name.
    pub fn from_name(name: &str) -> Option<Category> {
        Category::ALL.into_iter().find(|c| c.name() == name)
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(self.name())
    }
}

macro_rules! string_enum {
    ($(#[$doc:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, bincode::Encode, bincode::Decode)]
        pub enum $name {
            $(#[serde(rename = $text)] $variant),+
        }
        impl $name {
            /// The value as DOMAIN.md writes it.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
            /// Every value, as DOMAIN.md writes them (the choices of a form).
            pub const NAMES: &'static [&'static str] = &[$($text),+];
        }
    };
}

string_enum!(
    /// What kind of body: DOMAIN.md's glossary.
    BodyKind { Alv = "alv", Board = "board", DailyBoard = "daily_board", Council = "council",
    Committee = "committee", Branch = "branch", WorkingGroup = "working_group",
    Network = "network", Affiliate = "affiliate" });
string_enum!(
    /// Why a membership ended.
    EndReason { Resigned = "resigned", Deceased = "deceased", NonPayment = "non_payment", Other = "other" });
string_enum!(
    /// Why a member left a body.
    LeaveReason { Resigned = "resigned", TermEnded = "term_ended", Dismissed = "dismissed",
    Expelled = "expelled", Deceased = "deceased" });
string_enum!(
    /// How a motion was voted on.
    VoteMethod { ShowOfHands = "show_of_hands", Ballot = "ballot", Online = "online", Consensus = "consensus" });
string_enum!(
    /// A vote's outcome.
    VoteOutcome { Adopted = "adopted", Rejected = "rejected" });
string_enum!(
    /// A decision's category.
    DecisionCategory { Governance = "governance", Appointment = "appointment", Financial = "financial",
    Subsidy = "subsidy", Disciplinary = "disciplinary", Policy = "policy" });
string_enum!(
    /// What kind of member: a member with voting rights (the default), a youth member, or a
    /// supporter (donateur). Only `member` counts for the subsidy.
    MemberKind { Member = "member", YouthMember = "youth_member", Supporter = "supporter" });
string_enum!(
    /// What a versioned code is: a code of conduct (signed by members), a regulation
    /// (geschillenreglement, huishoudelijk reglement) or the statutes.
    CodeKind { Conduct = "conduct", Regulation = "regulation", Statutes = "statutes" });
string_enum!(
    /// How equal votes at the boundary of an election's seats were decided.
    TieBreak { Lot = "lot" });
string_enum!(
    /// What a motion is about: an ordinary motion, or one the law asks more of (BW 2:42-43).
    MotionKind { Ordinary = "ordinary", StatuteAmendment = "statute_amendment", Dissolution = "dissolution" });
string_enum!(
    /// What an agenda item of a convocation is.
    AgendaKind { Ordinary = "ordinary", StatuteAmendment = "statute_amendment", Dissolution = "dissolution",
    Election = "election", RoyementAppeal = "royement_appeal" });
string_enum!(
    /// What a decision rests on.
    DecisionBasis { Consensus = "consensus", Vote = "vote", Mandate = "mandate" });
string_enum!(
    /// What kind of case.
    CaseKind { Dispute = "dispute", ConductComplaint = "conduct_complaint", Royement = "royement", Appeal = "appeal" });
string_enum!(
    /// How a case was decided.
    CaseOutcome { Upheld = "upheld", Rejected = "rejected", Settled = "settled", Warning = "warning",
    Suspended = "suspended", Expelled = "expelled", NoAction = "no_action" });
string_enum!(
    /// How an appeal was decided.
    AppealOutcome { Upheld = "upheld", Overturned = "overturned", Modified = "modified" });
string_enum!(
    /// Who received a subsidy.
    SubsidyRecipient { Party = "party", YouthOrg = "youth_org", Institute = "institute", Other = "other" });
string_enum!(
    /// A donor's legal form.
    DonorKind { NaturalPerson = "natural_person", LegalPerson = "legal_person", Anonymous = "anonymous" });
string_enum!(
    /// On what ground a donor is a Dutch donor (Wfpp art. 1 onderdeel m, Stb. 2022, 412): a
    /// voter for the Tweede Kamer, a legal person or business in the Handelsregister (KvK), or
    /// neither (not a Dutch donor).
    DonorBasis { Voter = "voter", Kvk = "kvk", Other = "other" });
string_enum!(
    /// A role that may use the API.
    AccessRole { Admin = "admin", Secretary = "secretary", Board = "board", Auditor = "auditor",
    Disputes = "disputes", Member = "member" });

/// One seat definition of a body or an election: a role (and portfolio) and how many hold it;
/// the body that appoints to it when not the body's own appointing body, and whether it is
/// held *ex officio* (by virtue of another office, so appointed by no decision or election).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, bincode::Encode, bincode::Decode)]
#[serde(deny_unknown_fields)]
pub struct Seat {
    pub role: Id,
    #[serde(default)]
    pub portfolio: Option<Id>,
    pub count: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub appointed_by: Option<BodyId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ex_officio: Option<bool>,
}

/// A candidate's preference: a role of the election, or one seat of it (a role and portfolio).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Preference {
    Role(Id),
    Seat {
        role: Id,
        #[serde(default)]
        portfolio: Option<Id>,
    },
}

impl Preference {
    pub fn role(&self) -> &Id {
        match self {
            Preference::Role(r) | Preference::Seat { role: r, .. } => r,
        }
    }

    pub fn portfolio(&self) -> Option<&Id> {
        match self {
            Preference::Role(_) => None,
            Preference::Seat { portfolio, .. } => portfolio.as_ref(),
        }
    }
}

impl fmt::Display for Preference {
    /// `role`, or `role/portfolio`.
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self.portfolio() {
            Some(p) => write!(f, "{}/{p}", self.role()),
            None => write!(f, "{}", self.role()),
        }
    }
}

/// What a candidacy must hold (`ElectionCalled.requirements`): a CV, a motivation, and a
/// number of self-description terms.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, bincode::Encode, bincode::Decode,
)]
#[serde(deny_unknown_fields)]
pub struct Requirements {
    #[serde(default)]
    pub cv: bool,
    #[serde(default)]
    pub motivation: bool,
    #[serde(default)]
    pub profile_terms_min: Option<i64>,
    #[serde(default)]
    pub profile_terms_max: Option<i64>,
}

/// A qualified majority: `num` / `den` of the votes cast.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, bincode::Encode, bincode::Decode,
)]
#[serde(deny_unknown_fields)]
pub struct Fraction {
    pub num: i64,
    pub den: i64,
}

impl Fraction {
    /// Two thirds: the statutory majority for a statute amendment (BW 2:43 lid 1).
    pub const TWO_THIRDS: Fraction = Fraction { num: 2, den: 3 };
}

/// A regulation and its version (a `CodeVersionAdopted` of that code).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegulationRef {
    pub code_id: Id,
    pub version: std::num::NonZeroU32,
}

/// One item of a convocation's agenda.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, bincode::Encode, bincode::Decode)]
#[serde(deny_unknown_fields)]
pub struct AgendaItem {
    pub item: String,
    pub kind: AgendaKind,
    #[serde(default)]
    pub motion_id: Option<Id>,
}

/// One line of an election tally.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TallyLine {
    pub member_id: MemberId,
    pub votes: i64,
}

/// One line of a budget.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BudgetLine {
    pub name: String,
    pub amount_cents: i64,
}

macro_rules! data_struct {
    ($(#[$doc:meta])* $name:ident { $($(#[$fattr:meta])* $field:ident : $ty:ty),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct $name { $($(#[$fattr])* pub $field: $ty),* }
        impl $name {
            /// The JSON keys of this object, with their types and whether they are required.
            pub fn fields() -> Vec<FieldSpec> {
                vec![$(FieldSpec::from_declaration(
                    stringify!($field),
                    stringify!($ty),
                    &[$(stringify!($fattr)),*],
                )),*]
            }
        }
    };
}

/// One key of an event's `data` or `personal`, as the catalogue declares it: what a form for
/// the event type asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldSpec {
    /// The JSON key.
    pub key: String,
    /// What kind of value it takes.
    pub kind: FieldKind,
    /// Whether the key must be present.
    pub required: bool,
}

/// The kind of value a field takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    /// Free text (a name, a title, a reason).
    Text,
    /// An identifier (`[a-z0-9-]`, a member id, a body id with `/` segments).
    Identifier,
    /// A BLAKE3 hash as 64 lower-case hex digits.
    Hash,
    /// A calendar date, `YYYY-MM-DD`.
    Date,
    /// An integer (amounts in cents, counts).
    Integer,
    /// An integer of at least 1 (a code version).
    Positive,
    /// A year.
    Year,
    /// `true` or `false`.
    Boolean,
    /// One of a closed list of values.
    Choice(&'static [&'static str]),
    /// A list of identifiers.
    IdentifierList,
    /// A list of free-text terms.
    TextList,
    /// A list of objects (seats, tally lines, budget lines, agenda items), written as JSON.
    ObjectList(&'static str),
    /// One object (a majority, a regulation), written as JSON.
    Object(&'static str),
}

impl FieldSpec {
    /// A field from its declaration in this module: the Rust field name, its type and its
    /// attributes as source text (`rename` gives the key; `default` or `Option` make it optional).
    fn from_declaration(field: &str, ty: &str, attributes: &[&str]) -> FieldSpec {
        let ty: String = ty.chars().filter(|c| !c.is_whitespace()).collect();
        let key = attributes
            .iter()
            .find_map(|a| {
                let rest = a.split("rename").nth(1)?;
                rest.split('"').nth(1).map(str::to_owned)
            })
            .unwrap_or_else(|| field.to_owned());
        let optional =
            ty.starts_with("Option<") || attributes.iter().any(|a| a.contains("default"));
        let inner = ty
            .strip_prefix("Option<")
            .and_then(|t| t.strip_suffix('>'))
            .unwrap_or(&ty);
        FieldSpec {
            key,
            kind: FieldKind::of_type(inner),
            required: !optional,
        }
    }
}

impl FieldKind {
    /// The kind of a catalogue type, by its name.
    fn of_type(ty: &str) -> FieldKind {
        match ty {
            "Id" | "MemberId" | "BodyId" | "ErasureSubject" => FieldKind::Identifier,
            "HashHex" => FieldKind::Hash,
            "Date" => FieldKind::Date,
            "i64" => FieldKind::Integer,
            "std::num::NonZeroU32" => FieldKind::Positive,
            "Year" => FieldKind::Year,
            "bool" => FieldKind::Boolean,
            "Vec<MemberId>" | "Vec<Id>" => FieldKind::IdentifierList,
            "Vec<Preference>" => FieldKind::ObjectList(
                r#"["voorzitter", {"role": "algemeen-bestuurslid", "portfolio": "campagne"}]"#,
            ),
            "Requirements" => FieldKind::Object(
                r#"{"cv": true, "motivation": true, "profile_terms_min": 5, "profile_terms_max": 10}"#,
            ),
            "TieBreak" => FieldKind::Choice(TieBreak::NAMES),
            "Vec<String>" => FieldKind::TextList,
            "Vec<Seat>" => FieldKind::ObjectList(r#"[{"role": "lid", "count": 3}]"#),
            "Vec<TallyLine>" => FieldKind::ObjectList(r#"[{"member_id": "10201", "votes": 40}]"#),
            "Vec<BudgetLine>" => {
                FieldKind::ObjectList(r#"[{"name": "campagne", "amount_cents": 500000}]"#)
            }
            "Vec<AgendaItem>" => FieldKind::ObjectList(
                r#"[{"item": "Statutenwijziging art. 12", "kind": "statute_amendment", "motion_id": "2024-m01"}]"#,
            ),
            "Vec<BodyId>" => FieldKind::IdentifierList,
            "Fraction" => FieldKind::Object(r#"{"num": 2, "den": 3}"#),
            "RegulationRef" => {
                FieldKind::Object(r#"{"code_id": "huishoudelijk-reglement", "version": 1}"#)
            }
            "MotionKind" => FieldKind::Choice(MotionKind::NAMES),
            "CodeKind" => FieldKind::Choice(CodeKind::NAMES),
            "MemberKind" => FieldKind::Choice(MemberKind::NAMES),
            "BodyKind" => FieldKind::Choice(BodyKind::NAMES),
            "EndReason" => FieldKind::Choice(EndReason::NAMES),
            "LeaveReason" => FieldKind::Choice(LeaveReason::NAMES),
            "VoteMethod" => FieldKind::Choice(VoteMethod::NAMES),
            "VoteOutcome" => FieldKind::Choice(VoteOutcome::NAMES),
            "DecisionCategory" => FieldKind::Choice(DecisionCategory::NAMES),
            "DecisionBasis" => FieldKind::Choice(DecisionBasis::NAMES),
            "CaseKind" => FieldKind::Choice(CaseKind::NAMES),
            "CaseOutcome" => FieldKind::Choice(CaseOutcome::NAMES),
            "AppealOutcome" => FieldKind::Choice(AppealOutcome::NAMES),
            "SubsidyRecipient" => FieldKind::Choice(SubsidyRecipient::NAMES),
            "DonorKind" => FieldKind::Choice(DonorKind::NAMES),
            "DonorBasis" => FieldKind::Choice(DonorBasis::NAMES),
            "AccessRole" => FieldKind::Choice(AccessRole::NAMES),
            _ => FieldKind::Text,
        }
    }
}

data_struct!(CodeVersionAdopted { code_id: Id, version: std::num::NonZeroU32, title: String,
    text_blake3: HashHex, #[serde(default)] decision_id: Option<Id>, #[serde(default)] kind: Option<CodeKind> });
data_struct!(MemberJoined { member_id: MemberId, #[serde(default)] branch_id: Option<BodyId>,
    #[serde(default)] kind: Option<MemberKind> });
data_struct!(MemberKindChanged {
    member_id: MemberId,
    kind: MemberKind
});
data_struct!(MemberDetailsChanged { member_id: MemberId, #[serde(default)] branch_id: Option<BodyId> });
data_struct!(ConductCodeSigned {
    member_id: MemberId,
    code_id: Id,
    version: std::num::NonZeroU32
});
data_struct!(ContributionPaid { member_id: MemberId, year: Year, amount_cents: i64,
    #[serde(default)] paid_on: Option<Date>, #[serde(default)] reference_blake3: Option<HashHex> });
data_struct!(ContributionRefunded {
    member_id: MemberId,
    year: Year,
    amount_cents: i64
});
data_struct!(MemberSuspended { member_id: MemberId, case_id: Id, #[serde(default)] until: Option<Date> });
data_struct!(MemberReinstated { member_id: MemberId, #[serde(default)] case_id: Option<Id> });
data_struct!(MemberExpelled { member_id: MemberId, case_id: Id, #[serde(default)] decision_id: Option<Id> });
data_struct!(MembershipEnded {
    member_id: MemberId,
    reason: EndReason
});
data_struct!(PersonalDataErased {
    subject: ErasureSubject,
    reason: String
});
data_struct!(BodyEstablished { body_id: BodyId, name: String, kind: BodyKind,
    #[serde(default)] parent_id: Option<BodyId>, appointed_by: BodyId, seats: Vec<Seat>,
    #[serde(default)] term_years: Option<i64>, #[serde(default)] max_reappointments: Option<i64>,
    #[serde(default)] min_members: Option<i64>, #[serde(default)] decision_id: Option<Id> });
data_struct!(SeatsChanged { body_id: BodyId, seats: Vec<Seat>, #[serde(default)] decision_id: Option<Id> });
data_struct!(MemberAppointed { body_id: BodyId, member_id: MemberId, role: Id,
    #[serde(default)] portfolio: Option<Id>, term_start: Date, #[serde(default)] term_end: Option<Date>,
    #[serde(default)] decision_id: Option<Id>, #[serde(default)] election_id: Option<Id> });
data_struct!(MemberReappointed { body_id: BodyId, member_id: MemberId, role: Id, term_end: Date,
    #[serde(default)] decision_id: Option<Id>, #[serde(default)] election_id: Option<Id> });
data_struct!(MemberLeftBody {
    body_id: BodyId,
    member_id: MemberId,
    role: Id,
    reason: LeaveReason
});
data_struct!(BodyDissolved { body_id: BodyId, #[serde(default)] decision_id: Option<Id> });
data_struct!(BodyRulesAdopted { body_id: BodyId, notice_days: i64, quorum: i64,
    #[serde(default)] statute_majority: Option<Fraction>, #[serde(default)] appeal_body_id: Option<BodyId>,
    #[serde(default)] incompatible_with: Option<Vec<BodyId>>, #[serde(default)] regulation: Option<RegulationRef>,
    #[serde(default)] decision_id: Option<Id> });
data_struct!(AppointingBodyChanged { body_id: BodyId, appointed_by: BodyId, #[serde(default)] role: Option<Id>,
    #[serde(default)] portfolio: Option<Id>, #[serde(default)] decision_id: Option<Id> });
data_struct!(MeetingConvened { meeting_id: Id, body_id: BodyId, date: Date, agenda: Vec<AgendaItem>,
    #[serde(default)] proposal_available_on: Option<Date> });
data_struct!(MeetingHeld { meeting_id: Id, body_id: BodyId, date: Date, present_count: i64,
    quorum_met: bool, #[serde(default)] minutes_blake3: Option<HashHex> });
data_struct!(MotionSubmitted { motion_id: Id, meeting_id: Id, title: String,
    #[serde(default)] text_blake3: Option<HashHex>, submitters: Vec<MemberId>,
    #[serde(default)] amends: Option<Id>, #[serde(default)] kind: Option<MotionKind> });
data_struct!(MotionWithdrawn { motion_id: Id });
data_struct!(MotionVoted {
    motion_id: Id,
    method: VoteMethod,
    #[serde(rename = "for")]
    votes_for: i64,
    against: i64,
    abstain: i64,
    outcome: VoteOutcome
});
data_struct!(DecisionTaken { decision_id: Id, body_id: BodyId, #[serde(default)] meeting_id: Option<Id>,
    title: String, category: DecisionCategory, basis: DecisionBasis,
    #[serde(default)] motion_id: Option<Id>, #[serde(default)] amount_cents: Option<i64> });
data_struct!(DecisionRevoked {
    decision_id: Id,
    by_decision_id: Id,
    reason: String
});
data_struct!(ElectionCalled { election_id: Id, body_id: BodyId, seats: Vec<Seat>,
    candidacy_opens: Date, candidacy_closes: Date, screening_body_id: BodyId,
    #[serde(default)] meeting_id: Option<Id>, #[serde(default)] requirements: Option<Requirements> });
data_struct!(CandidacySubmitted { election_id: Id, member_id: MemberId, preferences: Vec<Preference>,
    #[serde(default)] motivation_blake3: Option<HashHex>, #[serde(default)] cv_blake3: Option<HashHex> });
data_struct!(CandidacyWithdrawn {
    election_id: Id,
    member_id: MemberId
});
data_struct!(CandidacyScreened { election_id: Id, member_id: MemberId, admitted: bool,
    #[serde(default)] reason: Option<String> });
data_struct!(ElectionResult { election_id: Id, role: Id, #[serde(default)] portfolio: Option<Id>,
    tally: Vec<TallyLine>, blank: i64, invalid: i64, elected: Vec<MemberId>,
    #[serde(default)] tie_break: Option<TieBreak> });
/// Stored (in snapshots of the read models) as its JSON: results are few, and their tallies
/// and tie-breaks need no binary form of their own.
impl bincode::Encode for ElectionResult {
    fn encode<E: bincode::enc::Encoder>(
        &self,
        encoder: &mut E,
    ) -> Result<(), bincode::error::EncodeError> {
        serde_json::to_string(self)
            .map_err(|e| bincode::error::EncodeError::OtherString(e.to_string()))?
            .encode(encoder)
    }
}

impl<Context> bincode::Decode<Context> for ElectionResult {
    fn decode<D: bincode::de::Decoder<Context = Context>>(
        decoder: &mut D,
    ) -> Result<Self, bincode::error::DecodeError> {
        let json = String::decode(decoder)?;
        serde_json::from_str(&json)
            .map_err(|e| bincode::error::DecodeError::OtherString(e.to_string()))
    }
}
bincode::impl_borrow_decode!(ElectionResult);

data_struct!(CaseOpened { case_id: Id, kind: CaseKind, body_id: BodyId, complainants: Vec<MemberId>,
    respondents: Vec<MemberId>, subject: String, #[serde(default)] regulation: Option<RegulationRef> });
data_struct!(CaseAdmissibility { case_id: Id, admissible: bool, #[serde(default)] reason: Option<String> });
data_struct!(HearingHeld { case_id: Id, date: Date, present: Vec<MemberId> });
data_struct!(DocumentFiled {
    case_id: Id,
    title: String,
    filed_by: BodyId,
    document_blake3: HashHex
});
data_struct!(CaseDecided { case_id: Id, outcome: CaseOutcome, #[serde(default)] decision_id: Option<Id>,
    #[serde(default)] appeal_deadline: Option<Date>, #[serde(default)] respondent: Option<MemberId> });
data_struct!(NoticeDelivered {
    case_id: Id,
    member_id: MemberId
});
data_struct!(AppealFiled {
    case_id: Id,
    member_id: MemberId
});
data_struct!(AppealDecided { case_id: Id, outcome: AppealOutcome, #[serde(default)] decision_id: Option<Id>,
    #[serde(default)] member_id: Option<MemberId> });
data_struct!(CaseClosed { case_id: Id });
data_struct!(SubsidyReceived {
    year: Year,
    recipient: SubsidyRecipient,
    amount_cents: i64,
    grantor: String
});
data_struct!(SubsidyApplied { year: Year, recipient: SubsidyRecipient, amount_cents: i64,
    #[serde(default)] applied_on: Option<Date> });
data_struct!(GiftReceived { year: Year, amount_cents: i64, donor_ref: Id, donor_kind: DonorKind,
    #[serde(default)] dutch_donor: Option<bool>, #[serde(default)] donor_basis: Option<DonorBasis>,
    #[serde(default)] received_on: Option<Date>, #[serde(default)] in_kind: Option<bool>,
    #[serde(default)] description: Option<String> });
data_struct!(GiftReported {
    year: Year,
    donor_ref: Id,
    reported_on: Date
});
data_struct!(GiftReturned {
    year: Year,
    donor_ref: Id,
    amount_cents: i64,
    returned_on: Date,
    reason: String
});
data_struct!(LoanReceived {
    year: Year,
    lender_ref: Id,
    amount_cents: i64
});
data_struct!(BudgetAdopted { year: Year, decision_id: Id, lines: Vec<BudgetLine> });
data_struct!(AccessGranted {
    principal: Id,
    role: AccessRole,
    token_blake3: HashHex
});
data_struct!(AccessRevoked { principal: Id });

data_struct!(
    /// `personal` of MemberJoined.
    MemberPersonal { name: String, residence: String, #[serde(default)] email: Option<String> });
data_struct!(
    /// `personal` of MemberDetailsChanged.
    MemberDetailsPersonal { #[serde(default)] name: Option<String>, #[serde(default)] residence: Option<String>,
    #[serde(default)] email: Option<String> });
data_struct!(
    /// `personal` of CandidacySubmitted.
    CandidacyPersonal { profile_terms: Vec<String> });
data_struct!(
    /// `personal` of CaseOpened.
    CasePersonal { summary: String });
data_struct!(
    /// `personal` of GiftReceived.
    DonorPersonal { donor_name: String, donor_residence: String });
data_struct!(
    /// `personal` of LoanReceived.
    LenderPersonal { lender_name: String, lender_residence: String });

/// Whose personal data a `PersonalDataErased` erases.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum ErasureSubject {
    /// A member: every record of `member/<id>` and that member's candidacies.
    Member(MemberId),
    /// A donor (`donor:<donor_ref>`): that donor's gifts in every year, and the loans of a
    /// lender with that `lender_ref`.
    Donor(Id),
    /// A case (`case:<case_id>`): the case's summary.
    Case(Id),
}

impl TryFrom<String> for ErasureSubject {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        let bad = || {
            format!("\"{s}\" is not an erasure subject: write a member id, donor:<donor_ref> or case:<case_id>")
        };
        if let Some(rest) = s.strip_prefix("donor:") {
            Id::try_from(rest.to_owned())
                .map(ErasureSubject::Donor)
                .map_err(|_| bad())
        } else if let Some(rest) = s.strip_prefix("case:") {
            Id::try_from(rest.to_owned())
                .map(ErasureSubject::Case)
                .map_err(|_| bad())
        } else {
            MemberId::try_from(s.clone())
                .map(ErasureSubject::Member)
                .map_err(|_| bad())
        }
    }
}

impl From<ErasureSubject> for String {
    fn from(s: ErasureSubject) -> String {
        s.to_string()
    }
}

impl fmt::Display for ErasureSubject {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            ErasureSubject::Member(m) => write!(f, "{m}"),
            ErasureSubject::Donor(d) => write!(f, "donor:{d}"),
            ErasureSubject::Case(c) => write!(f, "case:{c}"),
        }
    }
}

/// The key in `data` that names the donor or lender of a finance record whose personal data
/// an erasure of `donor:<ref>` erases: `donor_ref` of a gift, `lender_ref` of a loan.
pub fn donor_key(event_type: EventType) -> Option<&'static str> {
    match event_type {
        EventType::GiftReceived => Some("donor_ref"),
        EventType::LoanReceived => Some("lender_ref"),
        _ => None,
    }
}

/// Whether a record of `event_type` with `data` is a gift of, or a loan from, `donor`.
pub fn names_donor(event_type: EventType, data: &serde_json::Value, donor: &str) -> bool {
    donor_key(event_type)
        .and_then(|k| data.get(k))
        .and_then(|v| v.as_str())
        == Some(donor)
}

/// Whether an event type carries a top-level `personal` object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PersonalSpec {
    /// No personal data: `personal` must be absent.
    None,
    /// `personal` must be present.
    Required,
    /// `personal` may be absent.
    Optional,
}

macro_rules! catalogue {
    ($( $variant:ident => [$($cat:ident),+] $(, personal $pspec:ident ($pty:ty))? ;)+) => {
        /// An event type of the catalogue.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, bincode::Encode, bincode::Decode)]
        pub enum EventType { $($variant),+ }

        /// An event's `data`, typed.
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub enum EventData { $($variant($variant)),+ }

        impl EventType {
            /// Every event type, in DOMAIN.md's order.
            pub const ALL: &'static [EventType] = &[$(EventType::$variant),+];

            /// The type's name, as in the `type` key.
            pub fn name(self) -> &'static str {
                match self { $(EventType::$variant => stringify!($variant)),+ }
            }

            /// The type of that name.
            pub fn from_name(name: &str) -> Option<EventType> {
                match name { $(stringify!($variant) => Some(EventType::$variant),)+ _ => None }
            }

            /// The stream categories this type may be appended to.
            pub fn categories(self) -> &'static [Category] {
                match self { $(EventType::$variant => &[$(Category::$cat),+]),+ }
            }

            /// Whether this type carries `personal`.
            pub fn personal(self) -> PersonalSpec {
                match self { $(EventType::$variant => catalogue!(@spec $($pspec)?)),+ }
            }

            /// The keys of this type's `data`.
            pub fn data_fields(self) -> Vec<FieldSpec> {
                match self { $(EventType::$variant => $variant::fields()),+ }
            }

            /// The keys of this type's `personal` (none for a type without personal data).
            pub fn personal_fields(self) -> Vec<FieldSpec> {
                match self { $(EventType::$variant => catalogue!(@fields $($pty)?)),+ }
            }
        }

        impl EventData {
            /// The event's type.
            pub fn event_type(&self) -> EventType {
                match self { $(EventData::$variant(_) => EventType::$variant),+ }
            }
        }

        /// Reads `data` of type `ty`, reporting the path and message of the first bad field.
        pub fn parse_data(ty: EventType, data: &serde_json::Value) -> Result<EventData, (String, String)> {
            match ty { $(EventType::$variant => typed::<$variant>(data).map(EventData::$variant)),+ }
        }

        /// [`parse_data`] straight from `data`'s canonical text, without a tree of it;
        /// `None` when it does not read (the caller asks [`parse_data`] for the reason).
        pub(crate) fn parse_data_text(ty: EventType, data: &str) -> Option<EventData> {
            match ty { $(EventType::$variant => serde_json::from_str::<$variant>(data).ok().map(EventData::$variant)),+ }
        }

        /// Reads `personal` of type `ty` (checking only: the JSON is what the ledger keeps).
        pub(crate) fn check_personal(ty: EventType, personal: &serde_json::Value) -> Result<(), (String, String)> {
            match ty {
                $($(EventType::$variant => typed::<$pty>(personal).map(|_| ()),)?)+
                #[allow(unreachable_patterns, reason = "types without personal data are refused before")]
                _ => Ok(()),
            }
        }
    };
    (@spec) => { PersonalSpec::None };
    (@fields) => { Vec::new() };
    (@fields $t:ty) => { <$t>::fields() };
    (@spec $s:ident) => { PersonalSpec::$s };
}

catalogue! {
    CodeVersionAdopted => [Code];
    MemberJoined => [Member], personal Required(MemberPersonal);
    MemberDetailsChanged => [Member], personal Optional(MemberDetailsPersonal);
    MemberKindChanged => [Member];
    ConductCodeSigned => [Member];
    ContributionPaid => [Member];
    ContributionRefunded => [Member];
    MemberSuspended => [Member];
    MemberReinstated => [Member];
    MemberExpelled => [Member];
    MembershipEnded => [Member];
    PersonalDataErased => [Member, Case, Finance];
    BodyEstablished => [Body];
    SeatsChanged => [Body];
    MemberAppointed => [Body];
    MemberReappointed => [Body];
    MemberLeftBody => [Body];
    BodyDissolved => [Body];
    BodyRulesAdopted => [Body];
    AppointingBodyChanged => [Body];
    MeetingConvened => [Meeting];
    MeetingHeld => [Meeting];
    MotionSubmitted => [Motion];
    MotionWithdrawn => [Motion];
    MotionVoted => [Motion];
    DecisionTaken => [Decision];
    DecisionRevoked => [Decision];
    ElectionCalled => [Election];
    CandidacySubmitted => [Election], personal Required(CandidacyPersonal);
    CandidacyWithdrawn => [Election];
    CandidacyScreened => [Election];
    ElectionResult => [Election];
    CaseOpened => [Case], personal Required(CasePersonal);
    CaseAdmissibility => [Case];
    HearingHeld => [Case];
    DocumentFiled => [Case];
    CaseDecided => [Case];
    NoticeDelivered => [Case];
    AppealFiled => [Case];
    AppealDecided => [Case];
    CaseClosed => [Case];
    SubsidyReceived => [Finance];
    GiftReceived => [Finance], personal Required(DonorPersonal);
    BudgetAdopted => [Finance];
    SubsidyApplied => [Finance];
    GiftReported => [Finance];
    GiftReturned => [Finance];
    LoanReceived => [Finance], personal Required(LenderPersonal);
    AccessGranted => [Access];
    AccessRevoked => [Access];
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(self.name())
    }
}

fn typed<T: serde::de::DeserializeOwned>(value: &serde_json::Value) -> Result<T, (String, String)> {
    // The fast way first; only a refusal pays for tracking the path of the bad field.
    if let Ok(t) = T::deserialize(value) {
        return Ok(t);
    }
    serde_path_to_error::deserialize::<_, T>(value).map_err(|err| {
        let path = err.path().to_string();
        let message = err.inner().to_string();
        // serde names a missing or unknown key only in its message: take the name from there.
        let named = ["missing field `", "unknown field `"]
            .iter()
            .find_map(|p| message.strip_prefix(p))
            .and_then(|rest| rest.split('`').next())
            .map(str::to_owned);
        let field = match (named, path.as_str()) {
            (Some(name), "." | "") => name,
            (Some(name), p) if !p.ends_with(name.as_str()) => format!("{p}.{name}"),
            (_, p) => p.to_owned(),
        };
        (field, message)
    })
}

impl EventData {
    /// The id in `data` that names the event's stream, as the stream's id must read.
    /// `None` for `PersonalDataErased` in a finance stream (any year may hold a donor's erasure).
    pub fn stream_id(&self) -> Option<String> {
        use EventData as E;
        Some(match self {
            E::CodeVersionAdopted(d) => d.code_id.to_string(),
            E::MemberJoined(d) => d.member_id.to_string(),
            E::MemberDetailsChanged(d) => d.member_id.to_string(),
            E::MemberKindChanged(d) => d.member_id.to_string(),
            E::ConductCodeSigned(d) => d.member_id.to_string(),
            E::ContributionPaid(d) => d.member_id.to_string(),
            E::ContributionRefunded(d) => d.member_id.to_string(),
            E::MemberSuspended(d) => d.member_id.to_string(),
            E::MemberReinstated(d) => d.member_id.to_string(),
            E::MemberExpelled(d) => d.member_id.to_string(),
            E::MembershipEnded(d) => d.member_id.to_string(),
            E::PersonalDataErased(d) => match &d.subject {
                ErasureSubject::Member(m) => m.to_string(),
                ErasureSubject::Case(c) => c.to_string(),
                ErasureSubject::Donor(_) => return None,
            },
            E::BodyEstablished(d) => d.body_id.to_string(),
            E::SeatsChanged(d) => d.body_id.to_string(),
            E::MemberAppointed(d) => d.body_id.to_string(),
            E::MemberReappointed(d) => d.body_id.to_string(),
            E::MemberLeftBody(d) => d.body_id.to_string(),
            E::BodyDissolved(d) => d.body_id.to_string(),
            E::BodyRulesAdopted(d) => d.body_id.to_string(),
            E::AppointingBodyChanged(d) => d.body_id.to_string(),
            E::MeetingConvened(d) => d.meeting_id.to_string(),
            E::MeetingHeld(d) => d.meeting_id.to_string(),
            E::MotionSubmitted(d) => d.motion_id.to_string(),
            E::MotionWithdrawn(d) => d.motion_id.to_string(),
            E::MotionVoted(d) => d.motion_id.to_string(),
            E::DecisionTaken(d) => d.decision_id.to_string(),
            E::DecisionRevoked(d) => d.decision_id.to_string(),
            E::ElectionCalled(d) => d.election_id.to_string(),
            E::CandidacySubmitted(d) => d.election_id.to_string(),
            E::CandidacyWithdrawn(d) => d.election_id.to_string(),
            E::CandidacyScreened(d) => d.election_id.to_string(),
            E::ElectionResult(d) => d.election_id.to_string(),
            E::CaseOpened(d) => d.case_id.to_string(),
            E::CaseAdmissibility(d) => d.case_id.to_string(),
            E::HearingHeld(d) => d.case_id.to_string(),
            E::DocumentFiled(d) => d.case_id.to_string(),
            E::CaseDecided(d) => d.case_id.to_string(),
            E::NoticeDelivered(d) => d.case_id.to_string(),
            E::AppealFiled(d) => d.case_id.to_string(),
            E::AppealDecided(d) => d.case_id.to_string(),
            E::CaseClosed(d) => d.case_id.to_string(),
            E::SubsidyReceived(d) => d.year.0.to_string(),
            E::GiftReceived(d) => d.year.0.to_string(),
            E::BudgetAdopted(d) => d.year.0.to_string(),
            E::SubsidyApplied(d) => d.year.0.to_string(),
            E::GiftReported(d) => d.year.0.to_string(),
            E::GiftReturned(d) => d.year.0.to_string(),
            E::LoanReceived(d) => d.year.0.to_string(),
            E::AccessGranted(d) => d.principal.to_string(),
            E::AccessRevoked(d) => d.principal.to_string(),
        })
    }

    /// The key in `data` that [`EventData::stream_id`] reads.
    pub fn stream_id_field(&self) -> &'static str {
        use EventData as E;
        match self {
            E::CodeVersionAdopted(_) => "code_id",
            E::PersonalDataErased(_) => "subject",
            E::BodyEstablished(_)
            | E::SeatsChanged(_)
            | E::MemberAppointed(_)
            | E::MemberReappointed(_)
            | E::MemberLeftBody(_)
            | E::BodyDissolved(_)
            | E::BodyRulesAdopted(_)
            | E::AppointingBodyChanged(_) => "body_id",
            E::MeetingConvened(_) | E::MeetingHeld(_) => "meeting_id",
            E::MotionSubmitted(_) | E::MotionWithdrawn(_) | E::MotionVoted(_) => "motion_id",
            E::DecisionTaken(_) | E::DecisionRevoked(_) => "decision_id",
            E::ElectionCalled(_)
            | E::CandidacySubmitted(_)
            | E::CandidacyWithdrawn(_)
            | E::CandidacyScreened(_)
            | E::ElectionResult(_) => "election_id",
            E::CaseOpened(_)
            | E::CaseAdmissibility(_)
            | E::HearingHeld(_)
            | E::DocumentFiled(_)
            | E::CaseDecided(_)
            | E::NoticeDelivered(_)
            | E::AppealFiled(_)
            | E::AppealDecided(_)
            | E::CaseClosed(_) => "case_id",
            E::SubsidyReceived(_)
            | E::GiftReceived(_)
            | E::BudgetAdopted(_)
            | E::SubsidyApplied(_)
            | E::GiftReported(_)
            | E::GiftReturned(_)
            | E::LoanReceived(_) => "year",
            E::AccessGranted(_) | E::AccessRevoked(_) => "principal",
            _ => "member_id",
        }
    }
}

/// The keys of `data` that hold money, counts or vote numbers, which may not be negative.
pub const NON_NEGATIVE_KEYS: &[&str] = &[
    "count",
    "present_count",
    "for",
    "against",
    "abstain",
    "votes",
    "blank",
    "invalid",
    "term_years",
    "max_reappointments",
    "min_members",
    "notice_days",
    "quorum",
    "num",
    "den",
    "profile_terms_min",
    "profile_terms_max",
];

/// What a field's type cannot say: a reason that is not blank, a majority that is a fraction
/// of at most one, with a denominator. The path and message of the first bad value.
pub fn check_values(event: &EventData) -> Result<(), (String, String)> {
    match event {
        EventData::PersonalDataErased(d) if d.reason.trim().is_empty() => Err((
            "data.reason".into(),
            "data.reason is empty: say why the personal data is erased (it is kept in the ledger)"
                .into(),
        )),
        EventData::GiftReceived(d) if d.dutch_donor.is_none() && d.donor_basis.is_none() => Err((
            "data.donor_basis".into(),
            "say whether the donor is a Dutch donor: give data.donor_basis (voter, kvk or other) or data.dutch_donor".into(),
        )),
        EventData::GiftReceived(GiftReceived { in_kind: Some(true), description, .. })
            if description.as_deref().is_none_or(|t| t.trim().is_empty()) =>
        {
            Err((
                "data.description".into(),
                "a gift in kind says what was given: give data.description (the amount is its value)".into(),
            ))
        }
        EventData::GiftReturned(d) if d.reason.trim().is_empty() => Err((
            "data.reason".into(),
            "data.reason is empty: say why the gift was returned".into(),
        )),
        EventData::ElectionCalled(d) if d.candidacy_opens > d.candidacy_closes => Err((
            "data.candidacy_closes".into(),
            format!(
                "data.candidacy_closes {} is before data.candidacy_opens {}: the window closes after it opens",
                d.candidacy_closes, d.candidacy_opens
            ),
        )),
        EventData::ElectionCalled(ElectionCalled {
            requirements: Some(r),
            ..
        }) if r
            .profile_terms_min
            .zip(r.profile_terms_max)
            .is_some_and(|(min, max)| min > max) =>
        {
            Err((
                "data.requirements".into(),
                "data.requirements: profile_terms_min is above profile_terms_max".into(),
            ))
        }
        EventData::CandidacyScreened(d)
            if !d.admitted && d.reason.as_deref().is_none_or(|r| r.trim().is_empty()) =>
        {
            Err((
                "data.reason".into(),
                "a candidate who is not admitted is told why: give data.reason".into(),
            ))
        }
        EventData::BodyRulesAdopted(BodyRulesAdopted {
            statute_majority: Some(f),
            ..
        }) if f.den <= 0 || f.num <= 0 || f.num > f.den => Err((
            "data.statute_majority".into(),
            format!(
                "data.statute_majority is {}/{}: a majority is num/den with 0 < num ≤ den (2/3: num 2, den 3)",
                f.num, f.den
            ),
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_fields_follow_the_declarations() {
        let voted = EventType::MotionVoted.data_fields();
        let keys: Vec<&str> = voted.iter().map(|f| f.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "motion_id",
                "method",
                "for",
                "against",
                "abstain",
                "outcome"
            ]
        );
        assert_eq!(voted[1].kind, FieldKind::Choice(VoteMethod::NAMES));
        let appointed = EventType::MemberAppointed.data_fields();
        let term_end = appointed.iter().find(|f| f.key == "term_end");
        assert_eq!(
            term_end,
            Some(&FieldSpec {
                key: "term_end".into(),
                kind: FieldKind::Date,
                required: false
            })
        );
        let established = EventType::BodyEstablished.data_fields();
        assert!(matches!(established[5].kind, FieldKind::ObjectList(_)));
        assert!(established[5].required);
        let code = EventType::CodeVersionAdopted.data_fields();
        assert_eq!(code[1].kind, FieldKind::Positive);
        assert_eq!(code[3].kind, FieldKind::Hash);
        let personal = EventType::MemberJoined.personal_fields();
        assert_eq!(
            personal
                .iter()
                .map(|f| (f.key.as_str(), f.required))
                .collect::<Vec<_>>(),
            [("name", true), ("residence", true), ("email", false)]
        );
        assert!(EventType::MotionVoted.personal_fields().is_empty());
    }

    /// Every event of the sample ledger uses only declared keys, and has every required one:
    /// so a form built from the declarations can write each of them.
    #[test]
    fn the_sample_ledger_fits_the_declared_fields() {
        let sample = include_str!("../../../events/sample.jsonl");
        for line in sample.lines().filter(|l| !l.trim().is_empty()) {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            let ty = EventType::from_name(v["type"].as_str().unwrap()).unwrap();
            for (object, fields) in [
                ("data", ty.data_fields()),
                ("personal", ty.personal_fields()),
            ] {
                let Some(map) = v.get(object).and_then(|o| o.as_object()) else {
                    continue;
                };
                for key in map.keys() {
                    assert!(fields.iter().any(|f| &f.key == key), "{ty} {object}.{key}");
                }
                for f in fields.iter().filter(|f| f.required) {
                    assert!(map.contains_key(&f.key), "{ty} lacks {object}.{}", f.key);
                }
            }
        }
        // No declared type falls through to free text by accident.
        for ty in EventType::ALL {
            for f in ty.data_fields() {
                if f.kind == FieldKind::Text {
                    assert!(
                        [
                            "title",
                            "reason",
                            "subject",
                            "grantor",
                            "name",
                            "description"
                        ]
                        .contains(&f.key.as_str()),
                        "{ty}.{} is free text",
                        f.key
                    );
                }
            }
        }
    }
}
