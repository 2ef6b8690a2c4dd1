//! `kroniek audit --explain FIGURE`: how a figure of the report was computed, in words, with
//! the events behind it.

use crate::AppError;
use kroniek_projections::audit::{euros, AuditReport};
use std::fmt::Write as _;

/// How a figure was computed, in words, with the events behind it.
pub fn explain(r: &AuditReport, figure: &str) -> Result<String, AppError> {
    let m = &r.membership;
    let mut out = String::new();
    match figure {
        "subsidy_count" | "active" => {
            let _ = writeln!(
                out,
                "{} members were active on the peildatum {}; {} of them count for the subsidy: net contributions for {} of at least {}.",
                m.active, m.peildatum, m.subsidy_count, m.contribution_year, euros(m.min_contribution_cents)
            );
            let _ = writeln!(out, "Active: a MemberJoined on or before the peildatum, no later MembershipEnded, no MemberExpelled, not suspended (MemberSuspended, or a royement decided expelled) on it.");
            for c in &m.members {
                let _ = writeln!(
                    out,
                    "  member {:<8} {:<20} net {:>12}  {}  events {:?}",
                    c.member_id,
                    c.branch_id.clone().unwrap_or_default(),
                    euros(c.net_cents),
                    if c.counted {
                        "counted".to_owned()
                    } else {
                        format!("not counted: {}", c.reason)
                    },
                    c.positions
                );
            }
        }
        "gifts" | "disclosure" | "register" => {
            let g = &r.money.gift_rules;
            let _ = writeln!(out, "Gift rules for {}: {}.", r.params.year, g.source);
            let _ = writeln!(out, "A donor's gifts in the year add up (same donor_ref); registered from {}, disclosed from {}.", euros(g.register_from_cents), euros(g.disclose_from_cents));
            for d in &r.money.register {
                let positions: Vec<u64> = d.gifts.iter().map(|x| x.position).collect();
                let _ = writeln!(
                    out,
                    "  donor {:<10} total {:>14}  gifts at {:?}{}{}{}",
                    d.donor_ref,
                    euros(d.total_cents),
                    positions,
                    if d.over_cap { "  OVER CAP" } else { "" },
                    if d.non_dutch { "  NOT DUTCH" } else { "" },
                    d.possibly_reported_late
                        .map_or(String::new(), |p| format!("  LATE REPORT (position {p})"))
                );
            }
        }
        "financial_total" | "subsidy_total" => {
            let _ = writeln!(out, "The sum of amount_cents of the year's decisions of category financial ({}) and subsidy ({}), revoked decisions left out:", euros(r.decisions.financial_total_cents), euros(r.decisions.subsidy_total_cents));
            for d in &r.decisions.financial {
                let _ = writeln!(
                    out,
                    "  {} {} {:<10} {:>14} {}{}",
                    d.date,
                    d.decision_id,
                    d.category,
                    d.amount_cents.map(euros).unwrap_or_default(),
                    d.title,
                    d.revoked_by
                        .as_ref()
                        .map_or(String::new(), |b| format!(" (revoked by {b})"))
                );
            }
        }
        other => {
            if let Some(id) = other.strip_prefix("member:") {
                let c = m
                    .members
                    .iter()
                    .find(|c| c.member_id == id)
                    .ok_or_else(|| {
                        AppError::Failed(format!(
                            "member {id} was not active on the peildatum {}",
                            m.peildatum
                        ))
                    })?;
                let _ = writeln!(
                    out,
                    "member {id}: net contributions for {} are {}; {}. Events: {:?}",
                    m.contribution_year,
                    euros(c.net_cents),
                    if c.counted {
                        "counted"
                    } else {
                        c.reason.as_str()
                    },
                    c.positions
                );
            } else {
                return Err(AppError::Invalid(format!(
                    "no figure {other}: explain subsidy_count, member:<id>, gifts, financial_total"
                )));
            }
        }
    }
    Ok(out)
}
