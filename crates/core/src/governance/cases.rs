//! Cases per respondent (step 10): each respondent's decision, the day they received notice of
//! it, their appeal term (the later of the decision's `appeal_deadline` and one calendar month
//! after the notice: BW 2:35 lid 2), their appeal and its outcome; and the rule that a case stays
//! open while a respondent of an `expelled` decision may still appeal (`case-still-open`).

use super::state::*;
use crate::catalogue::*;
use crate::rules::{Refusal, Rule};
use crate::types::Date;

type Checked = Result<(), Refusal>;

fn fail(rule: Rule, field: &str, message: String) -> Checked {
    Err(Refusal::at(rule, field, message))
}

impl GovernanceState {
    /// `member` must be a respondent of `case`.
    fn respondent(
        &self,
        case_id: &str,
        c: &CaseState,
        member: &str,
        field: &str,
        rule: Rule,
    ) -> Checked {
        if !c.respondents.iter().any(|r| r == member) {
            return fail(
                rule,
                field,
                format!(
                    "member {member} is not a respondent of case {case_id} (its respondents: {})",
                    if c.respondents.is_empty() {
                        "none".to_owned()
                    } else {
                        c.respondents.join(", ")
                    }
                ),
            );
        }
        Ok(())
    }

    pub(super) fn check_case_decided_respondent(&self, d: &CaseDecided, c: &CaseState) -> Checked {
        match &d.respondent {
            Some(m) => self.respondent(
                d.case_id.as_str(),
                c,
                m.as_str(),
                "data.respondent",
                Rule::InvalidState,
            ),
            None => Ok(()),
        }
    }

    pub(super) fn check_notice(&self, d: &NoticeDelivered, effective: Date) -> Checked {
        let c = self.need_case(d.case_id.as_str(), "data.case_id")?;
        self.need_member(d.member_id.as_str(), "data.member_id")?;
        self.respondent(
            d.case_id.as_str(),
            c,
            d.member_id.as_str(),
            "data.member_id",
            Rule::InvalidState,
        )?;
        match c.decision_for(d.member_id.as_str()) {
            Some((_, dec)) if dec.date <= effective => Ok(()),
            Some((_, dec)) => fail(
                Rule::InvalidState,
                "effective",
                format!(
                    "case {} was decided on {}: notice of it cannot be received on {effective}",
                    d.case_id, dec.date
                ),
            ),
            None => fail(
                Rule::InvalidState,
                "data.case_id",
                format!(
                    "case {} has no decision about member {} to give notice of",
                    d.case_id, d.member_id
                ),
            ),
        }
    }

    /// An `AppealFiled`: by a respondent of the decision, once against it, within their term.
    pub(super) fn check_appeal_filed(&self, d: &AppealFiled, effective: Date) -> Checked {
        let c = self.need_case(d.case_id.as_str(), "data.case_id")?;
        self.need_member(d.member_id.as_str(), "data.member_id")?;
        self.case_open(d.case_id.as_str(), c, effective)?;
        let case_id = d.case_id.as_str();
        let member = d.member_id.as_str();
        let not_allowed = |why: String| fail(Rule::AppealNotAllowed, "data.case_id", why);
        if let Some(x) = c.closed {
            return not_allowed(format!("case {case_id} was closed on {x}"));
        }
        let Some((index, dec)) = c.decision_for(member) else {
            return not_allowed(format!("case {case_id} is not decided"));
        };
        self.respondent(case_id, c, member, "data.member_id", Rule::AppealNotAllowed)?;
        if let Some(a) = c.appeal_of(member, index) {
            return not_allowed(format!(
                "member {member} appealed the decision of {} in case {case_id} before, on {}",
                dec.date, a.filed
            ));
        }
        match c.appeal_term_end(member, index) {
            None => not_allowed(format!(
                "case {case_id} was decided on {} without an appeal deadline, and no notice to member {member} was recorded",
                dec.date
            )),
            Some(end) if effective > end => not_allowed(format!(
                "member {member}'s appeal term in case {case_id} ended on {end} (the later of the deadline {} and a month after notice {}); {effective} is too late",
                dec.appeal_deadline.map_or("none".to_owned(), |x| x.to_string()),
                c.notice_of(member, index).map_or("not recorded".to_owned(), |x| x.to_string())
            )),
            Some(_) => Ok(()),
        }
    }

    /// An `AppealDecided`: of the named respondent's pending appeal, or the only one pending.
    pub(super) fn check_appeal_decided(&self, d: &AppealDecided, effective: Date) -> Checked {
        let c = self.need_case(d.case_id.as_str(), "data.case_id")?;
        self.need_decision(d.decision_id.as_ref(), "data.decision_id")?;
        if let Some(m) = &d.member_id {
            self.need_member(m.as_str(), "data.member_id")?;
        }
        self.case_open(d.case_id.as_str(), c, effective)?;
        let pending: Vec<&Appeal> = c
            .appeals
            .iter()
            .filter(|a| {
                a.decided.is_none()
                    && d.member_id
                        .as_ref()
                        .is_none_or(|m| a.member_id == m.as_str())
            })
            .collect();
        if pending.is_empty() {
            return fail(
                Rule::InvalidState,
                "data.case_id",
                match &d.member_id {
                    Some(m) => format!("case {} has no pending appeal of member {m}", d.case_id),
                    None => format!(
                        "case {} has no appeal to decide (no AppealFiled pending)",
                        d.case_id
                    ),
                },
            );
        }
        if pending.len() > 1 {
            let who: Vec<&str> = pending.iter().map(|a| a.member_id.as_str()).collect();
            return fail(
                Rule::InvalidState,
                "data.member_id",
                format!(
                    "case {} has pending appeals of members {}: name the member_id whose appeal is decided",
                    d.case_id,
                    who.join(", ")
                ),
            );
        }
        self.check_case_decision(c, d.decision_id.as_ref(), true, effective)
    }

    /// A `CaseClosed` after its other checks: not while a respondent of an `expelled`
    /// decision may still appeal, or has an appeal not yet decided.
    pub(super) fn check_case_closed(
        &self,
        case_id: &str,
        c: &CaseState,
        effective: Date,
    ) -> Checked {
        for member in &c.respondents {
            let Some((index, dec)) = c.decision_for(member) else {
                continue;
            };
            if dec.outcome != CaseOutcome::Expelled {
                continue;
            }
            let why = match c.appeal_of(member, index) {
                Some(a) if a.decided.is_none() => Some(format!(
                    "member {member}'s appeal of {} is not decided",
                    a.filed
                )),
                Some(_) => None,
                None => c
                    .appeal_term_end(member, index)
                    .filter(|end| effective <= *end)
                    .map(|end| format!("member {member} may appeal the expulsion until {end}")),
            };
            if let Some(why) = why {
                return fail(
                    Rule::CaseStillOpen,
                    "data.case_id",
                    format!("case {case_id} cannot close on {effective}: {why}"),
                );
            }
        }
        Ok(())
    }

    /// Why `member`'s expulsion in `case` is not final on `effective`, if it is not.
    pub(super) fn expulsion_not_final(
        &self,
        case_id: &str,
        case: &CaseState,
        member: &str,
        effective: Date,
    ) -> Option<String> {
        if case.kind != CaseKind::Royement {
            return Some(format!(
                "case {case_id} is a {} case, not a royement",
                case.kind.as_str()
            ));
        }
        if !case.respondents.iter().any(|r| r == member) {
            return Some(format!(
                "member {member} is not a respondent of case {case_id}"
            ));
        }
        let Some((index, dec)) = case.decision_for(member) else {
            return Some(format!("case {case_id} is not decided"));
        };
        if dec.outcome != CaseOutcome::Expelled {
            return Some(format!(
                "case {case_id} was decided {}, not expelled",
                dec.outcome.as_str()
            ));
        }
        match (case.appeal_of(member, index), case.appeal_term_end(member, index)) {
            (None, Some(end)) if effective > end => None,
            (None, Some(end)) => Some(format!(
                "member {member}'s appeal term in case {case_id} ends on {end}: the expulsion is final only from the day after"
            )),
            (None, None) => Some(format!("case {case_id} was decided without an appeal deadline")),
            (Some(a), _) => match a.decided {
                Some((date, AppealOutcome::Upheld)) if effective >= date => None,
                Some((date, AppealOutcome::Upheld)) => Some(format!(
                    "the appeal in case {case_id} was decided on {date}: the expulsion may not be dated before it"
                )),
                Some((_, outcome)) => Some(format!(
                    "the appeal in case {case_id} was decided {}: the expulsion does not stand",
                    outcome.as_str()
                )),
                None => Some(format!(
                    "an appeal in case {case_id} was filed on {} and is pending",
                    a.filed
                )),
            },
        }
    }
}
