//! The rule ids of DOMAIN.md's table, and a refusal: the rule, what was wrong, and the field.
//!
//! Rule ids are a contract: users' scripts match on them. The enum's order is the table's
//! order, which decides which rule is reported when an event breaks several.

use std::fmt;

/// One rule of DOMAIN.md's *Rules that an append must pass*, in the table's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Rule {
    UnknownType,
    MalformedField,
    TypeNotInCategory,
    StreamIdMismatch,
    NegativeAmount,
    AmountOutOfRange,
    IdReused,
    VersionConflict,
    UnknownReference,
    InvalidState,
    MemberNotActive,
    BodyDissolved,
    RoleNotDefined,
    NoSeatHeld,
    SeatCountExceeded,
    ReappointmentLimit,
    CodeVersionSequence,
    CandidacyOutsideWindow,
    CandidacyDuplicate,
    TooFewPreferences,
    ResultNotAdmitted,
    ResultTooManyElected,
    CandidacyIncomplete,
    ResultTallyMismatch,
    VoteOutcomeMismatch,
    AppealDeadlineTooShort,
    AppealNotAllowed,
    ExpulsionNotFinal,
    NoticeTooShort,
    QuorumNotMet,
    VotesExceedPresent,
    MajorityNotReached,
    NotCompetent,
    IncompatibleSeats,
    CaseStillOpen,
}

impl Rule {
    /// Every rule, in the table's order.
    pub const ALL: [Rule; 35] = [
        Rule::UnknownType,
        Rule::MalformedField,
        Rule::TypeNotInCategory,
        Rule::StreamIdMismatch,
        Rule::NegativeAmount,
        Rule::AmountOutOfRange,
        Rule::IdReused,
        Rule::VersionConflict,
        Rule::UnknownReference,
        Rule::InvalidState,
        Rule::MemberNotActive,
        Rule::BodyDissolved,
        Rule::RoleNotDefined,
        Rule::NoSeatHeld,
        Rule::SeatCountExceeded,
        Rule::ReappointmentLimit,
        Rule::CodeVersionSequence,
        Rule::CandidacyOutsideWindow,
        Rule::CandidacyDuplicate,
        Rule::TooFewPreferences,
        Rule::ResultNotAdmitted,
        Rule::ResultTooManyElected,
        Rule::CandidacyIncomplete,
        Rule::ResultTallyMismatch,
        Rule::VoteOutcomeMismatch,
        Rule::AppealDeadlineTooShort,
        Rule::AppealNotAllowed,
        Rule::ExpulsionNotFinal,
        Rule::NoticeTooShort,
        Rule::QuorumNotMet,
        Rule::VotesExceedPresent,
        Rule::MajorityNotReached,
        Rule::NotCompetent,
        Rule::IncompatibleSeats,
        Rule::CaseStillOpen,
    ];

    /// The rule id as DOMAIN.md writes it (`seat-count-exceeded`).
    pub fn id(self) -> &'static str {
        match self {
            Rule::UnknownType => "unknown-type",
            Rule::MalformedField => "malformed-field",
            Rule::TypeNotInCategory => "type-not-in-category",
            Rule::StreamIdMismatch => "stream-id-mismatch",
            Rule::NegativeAmount => "negative-amount",
            Rule::AmountOutOfRange => "amount-out-of-range",
            Rule::IdReused => "id-reused",
            Rule::VersionConflict => "version-conflict",
            Rule::UnknownReference => "unknown-reference",
            Rule::InvalidState => "invalid-state",
            Rule::MemberNotActive => "member-not-active",
            Rule::BodyDissolved => "body-dissolved",
            Rule::RoleNotDefined => "role-not-defined",
            Rule::NoSeatHeld => "no-seat-held",
            Rule::SeatCountExceeded => "seat-count-exceeded",
            Rule::ReappointmentLimit => "reappointment-limit",
            Rule::CodeVersionSequence => "code-version-sequence",
            Rule::CandidacyOutsideWindow => "candidacy-outside-window",
            Rule::CandidacyDuplicate => "candidacy-duplicate",
            Rule::TooFewPreferences => "too-few-preferences",
            Rule::ResultNotAdmitted => "result-not-admitted",
            Rule::ResultTooManyElected => "result-too-many-elected",
            Rule::CandidacyIncomplete => "candidacy-incomplete",
            Rule::ResultTallyMismatch => "result-tally-mismatch",
            Rule::VoteOutcomeMismatch => "vote-outcome-mismatch",
            Rule::AppealDeadlineTooShort => "appeal-deadline-too-short",
            Rule::AppealNotAllowed => "appeal-not-allowed",
            Rule::ExpulsionNotFinal => "expulsion-not-final",
            Rule::NoticeTooShort => "notice-too-short",
            Rule::QuorumNotMet => "quorum-not-met",
            Rule::VotesExceedPresent => "votes-exceed-present",
            Rule::MajorityNotReached => "majority-not-reached",
            Rule::NotCompetent => "not-competent",
            Rule::IncompatibleSeats => "incompatible-seats",
            Rule::CaseStillOpen => "case-still-open",
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(self.id())
    }
}

/// Why one event was refused: the rule it broke, the facts, and the field where one applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub rule: Rule,
    pub message: String,
    /// The field of the event at fault, as a path (`data.seats[0].count`), where one applies.
    pub field: Option<String>,
}

impl Refusal {
    /// A refusal without a field.
    pub fn new(rule: Rule, message: impl Into<String>) -> Self {
        Refusal {
            rule,
            message: message.into(),
            field: None,
        }
    }

    /// A refusal naming the field at fault.
    pub fn at(rule: Rule, field: impl Into<String>, message: impl Into<String>) -> Self {
        Refusal {
            rule,
            message: message.into(),
            field: Some(field.into()),
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{}: {}", self.rule, self.message)
    }
}

/// A refusal of one event of a batch: its place in the batch (from 0) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexedRefusal {
    pub index: usize,
    pub refusal: Refusal,
}
