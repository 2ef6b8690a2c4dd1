//! Readable tables of the read models, for the terminal. `--json` prints the views instead.

use kroniek_projections::views::*;
use std::fmt::Write;

fn opt(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or("-")
}

fn euros(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    format!(
        "{sign}EUR {}.{:02}",
        cents.unsigned_abs() / 100,
        cents.unsigned_abs() % 100
    )
}

/// Lines of columns padded to the widest cell.
fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let line = |cells: Vec<&str>, out: &mut String| {
        let padded: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:<w$}", w = widths[i]))
            .collect();
        let _ = writeln!(out, "{}", padded.join("  ").trim_end());
    };
    line(header.to_vec(), &mut out);
    line(
        widths
            .iter()
            .map(|w| "-".repeat(*w))
            .collect::<Vec<_>>()
            .iter()
            .map(String::as_str)
            .collect(),
        &mut out,
    );
    for row in rows {
        line(row.iter().map(String::as_str).collect(), &mut out);
    }
    out
}

pub fn composition(c: &Composition) -> String {
    let mut out = format!("{} ({}, {}) on {}\n", c.name, c.body_id, c.kind, c.as_of);
    if let Some(d) = &c.dissolved {
        let _ = writeln!(out, "dissolved on {d}");
    }
    let mut rows = Vec::new();
    for s in &c.seats {
        if s.holders.is_empty() {
            rows.push(vec![
                s.role.clone(),
                opt(&s.portfolio).into(),
                "(vacant)".into(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
            ]);
        }
        for h in &s.holders {
            let mut notes = Vec::new();
            if h.term_expired {
                notes.push("term_expired".to_string());
            }
            if !h.member_active {
                notes.push(format!("member {}", h.member_status));
            }
            for f in &h.findings {
                notes.push(format!("FINDING: {f}"));
            }
            rows.push(vec![
                s.role.clone(),
                opt(&s.portfolio).into(),
                h.member_id.clone(),
                h.term_start.clone(),
                opt(&h.term_end).into(),
                h.times_reappointed.to_string(),
                notes.join(", "),
            ]);
        }
        if !s.holders.is_empty() && s.vacancies > 0 {
            rows.push(vec![
                s.role.clone(),
                opt(&s.portfolio).into(),
                format!("(vacant ×{})", s.vacancies),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
            ]);
        }
    }
    out.push_str(&table(
        &[
            "role",
            "portfolio",
            "member_id",
            "term_start",
            "term_end",
            "reappointed",
            "notes",
        ],
        &rows,
    ));
    let vacancies: i64 = c.seats.iter().map(|s| s.vacancies).sum();
    let _ = writeln!(out, "{} seated, {vacancies} vacant", c.seated);
    match &c.rules {
        Some(r) => {
            let _ = writeln!(out, "{}", rules_line(r));
        }
        None => {
            let _ = writeln!(
                out,
                "no rules in force (no BodyRulesAdopted on or before this date)"
            );
        }
    }
    if c.below_min_members {
        let _ = writeln!(
            out,
            "below the minimum of {} members",
            c.min_members.unwrap_or_default()
        );
    }
    out
}

pub fn terms(t: &TermSchedule) -> String {
    let mut out = format!(
        "Rooster van aftreden: {} ({}); term {} years, at most {} reappointments\n",
        t.name,
        t.body_id,
        t.term_years.map_or("-".into(), |y| y.to_string()),
        t.max_reappointments
            .map_or("unlimited".into(), |m| m.to_string())
    );
    let rows: Vec<Vec<String>> = t
        .terms
        .iter()
        .map(|v| {
            vec![
                v.role.clone(),
                opt(&v.portfolio).into(),
                v.member_id.clone(),
                v.term_start.clone(),
                opt(&v.term_end).into(),
                v.times_reappointed.to_string(),
                v.reappointments_remaining
                    .map_or("-".into(), |r| r.to_string()),
                v.left.as_ref().map_or(String::new(), |l| {
                    format!("left {l} ({})", opt(&v.left_reason))
                }),
            ]
        })
        .collect();
    out.push_str(&table(
        &[
            "role",
            "portfolio",
            "member_id",
            "term_start",
            "term_end",
            "reappointed",
            "remaining",
            "left",
        ],
        &rows,
    ));
    out
}

pub fn member(m: &MemberView) -> String {
    let mut out = format!("member {} on {}: {}\n", m.member_id, m.as_of, m.status);
    let _ = writeln!(out, "branch: {}", opt(&m.branch_id));
    match (&m.details, m.personal_erased) {
        (_, true) => out.push_str("personal data: erased\n"),
        (Some(d), _) => {
            for (k, v) in d {
                let _ = writeln!(
                    out,
                    "{k}: {}",
                    v.as_str().map_or_else(|| v.to_string(), str::to_owned)
                );
            }
        }
        (None, _) => {}
    }
    out.push_str("\nstatus history\n");
    out.push_str(&table(
        &["from", "status"],
        &m.history
            .iter()
            .map(|c| vec![c.date.clone(), c.status.clone()])
            .collect::<Vec<_>>(),
    ));
    out.push_str("\nbodies\n");
    out.push_str(&table(
        &[
            "body_id",
            "role",
            "portfolio",
            "term_start",
            "term_end",
            "notes",
        ],
        &m.bodies
            .iter()
            .map(|b| {
                vec![
                    b.body_id.clone(),
                    b.role.clone(),
                    opt(&b.portfolio).into(),
                    b.term_start.clone(),
                    opt(&b.term_end).into(),
                    if b.term_expired {
                        "term_expired".into()
                    } else {
                        String::new()
                    },
                ]
            })
            .collect::<Vec<_>>(),
    ));
    out.push_str("\ncode-of-conduct signatures\n");
    out.push_str(&table(
        &["code_id", "version", "date"],
        &m.signatures
            .iter()
            .map(|s| vec![s.code_id.clone(), s.version.to_string(), s.date.clone()])
            .collect::<Vec<_>>(),
    ));
    out.push_str("\nnet contributions\n");
    out.push_str(&table(
        &["year", "net"],
        &m.contributions
            .iter()
            .map(|c| vec![c.year.to_string(), euros(c.net_cents)])
            .collect::<Vec<_>>(),
    ));
    out
}

pub fn members(c: &MembershipCount) -> String {
    let statuses = ["active", "suspended", "expelled", "ended"];
    let mut out = format!(
        "members on {}: {} (active or suspended)\n",
        c.as_of, c.members
    );
    let mut rows: Vec<Vec<String>> = c
        .by_branch
        .iter()
        .map(|(b, counts)| {
            let mut row = vec![b.clone()];
            row.extend(
                statuses
                    .iter()
                    .map(|s| counts.get(*s).copied().unwrap_or(0).to_string()),
            );
            row
        })
        .collect();
    let mut total = vec!["total".to_string()];
    total.extend(
        statuses
            .iter()
            .map(|s| c.by_status.get(*s).copied().unwrap_or(0).to_string()),
    );
    rows.push(total);
    out.push_str(&table(
        &["branch", "active", "suspended", "expelled", "ended"],
        &rows,
    ));
    out
}

pub fn timeline(entries: &[TimelineEntry]) -> String {
    let rows: Vec<Vec<String>> = entries
        .iter()
        .map(|e| match e {
            TimelineEntry::Decision(d) => {
                let mut notes = Vec::new();
                if let Some(a) = d.amount_cents {
                    notes.push(euros(a));
                }
                if let Some(m) = &d.motion_id {
                    notes.push(format!("motion {m}"));
                }
                if let Some(r) = &d.revoked {
                    notes.push(format!(
                        "REVOKED {} by {}: {}",
                        r.date, r.by_decision_id, r.reason
                    ));
                }
                for f in &d.findings {
                    notes.push(format!("FINDING: {f}"));
                }
                vec![
                    d.date.clone(),
                    "decision".into(),
                    d.decision_id.clone(),
                    d.body_id.clone(),
                    d.category.clone(),
                    d.title.clone(),
                    notes.join("; "),
                ]
            }
            TimelineEntry::Motion(m) => {
                let mut notes = Vec::new();
                if let Some(a) = &m.amends {
                    notes.push(format!("amends {a}"));
                }
                if !m.amendments.is_empty() {
                    notes.push(format!("amended by {}", m.amendments.join(", ")));
                }
                if let Some(w) = &m.withdrawn {
                    notes.push(format!("withdrawn {w}"));
                }
                for v in &m.votes {
                    notes.push(format!(
                        "{} {}-{}-{} {}",
                        v.method, v.votes_for, v.against, v.abstain, v.outcome
                    ));
                }
                vec![
                    m.date.clone(),
                    "motion".into(),
                    m.motion_id.clone(),
                    opt(&m.body_id).into(),
                    String::new(),
                    m.title.clone(),
                    notes.join("; "),
                ]
            }
        })
        .collect();
    table(
        &["date", "kind", "id", "body", "category", "title", "notes"],
        &rows,
    )
}

/// A body's rules in force, on one line.
fn rules_line(r: &RulesView) -> String {
    let mut parts = vec![
        format!("rules from {}", r.from),
        format!("notice {} days", r.notice_days),
        format!("quorum {}", r.quorum),
        format!("statute majority {}", r.statute_majority),
    ];
    if let Some(a) = &r.appeal_body_id {
        parts.push(format!("appeals to {a}"));
    }
    if !r.incompatible_with.is_empty() {
        parts.push(format!(
            "incompatible with {}",
            r.incompatible_with.join(", ")
        ));
    }
    if let Some(reg) = &r.regulation {
        parts.push(reg.clone());
    }
    parts.join("; ")
}

pub fn meeting(m: &MeetingView) -> String {
    let mut out = format!(
        "meeting {} of {} on {}
",
        m.meeting_id, m.body_id, m.date
    );
    match &m.convened {
        Some(c) => {
            let _ = writeln!(
                out,
                "convened on {} ({} days' notice){}",
                c.sent,
                c.notice_days,
                c.proposal_available_on
                    .as_ref()
                    .map_or(String::new(), |p| format!(
                        "; proposals open for inspection from {p}"
                    ))
            );
            let rows: Vec<Vec<String>> = c
                .agenda
                .iter()
                .map(|i| vec![i.item.clone(), i.kind.clone(), opt(&i.motion_id).into()])
                .collect();
            if !rows.is_empty() {
                out.push_str(&table(&["agenda item", "kind", "motion"], &rows));
            }
        }
        None => out.push_str("no convocation recorded\n"),
    }
    match &m.held {
        Some(h) => {
            let _ = writeln!(
                out,
                "held: {} present, quorum {}",
                h.present_count,
                if h.quorum_met { "met" } else { "NOT met" }
            );
        }
        None => out.push_str("not held (yet)\n"),
    }
    if let Some(r) = &m.rules {
        let _ = writeln!(out, "{}", rules_line(r));
    }
    if !m.motions.is_empty() {
        out.push('\n');
        let rows: Vec<Vec<String>> = m
            .motions
            .iter()
            .map(|x| {
                let votes: Vec<String> = x
                    .votes
                    .iter()
                    .map(|v| {
                        format!(
                            "{} {}-{}-{} {}",
                            v.method, v.votes_for, v.against, v.abstain, v.outcome
                        )
                    })
                    .collect();
                vec![
                    x.motion_id.clone(),
                    x.title.clone(),
                    opt(&x.amends).into(),
                    x.withdrawn
                        .clone()
                        .map_or(votes.join("; "), |w| format!("withdrawn {w}")),
                ]
            })
            .collect();
        out.push_str(&table(&["motion", "title", "amends", "vote"], &rows));
    }
    if !m.decisions.is_empty() {
        out.push('\n');
        let rows: Vec<Vec<String>> = m
            .decisions
            .iter()
            .map(|d| {
                vec![
                    d.decision_id.clone(),
                    d.body_id.clone(),
                    d.basis.clone(),
                    d.title.clone(),
                    d.findings
                        .iter()
                        .map(|f| format!("FINDING: {f}"))
                        .collect::<Vec<_>>()
                        .join("; "),
                ]
            })
            .collect();
        out.push_str(&table(
            &["decision", "body", "basis", "title", "notes"],
            &rows,
        ));
    }
    if !m.elections.is_empty() {
        let _ = writeln!(out, "\nelections: {}", m.elections.join(", "));
    }
    out
}

pub fn election(e: &ElectionView) -> String {
    let seats: Vec<String> = e
        .seats
        .iter()
        .map(|s| {
            format!(
                "{}{} ×{}",
                s.role,
                s.portfolio
                    .as_ref()
                    .map_or(String::new(), |p| format!("/{p}")),
                s.count
            )
        })
        .collect();
    let mut out = format!(
        "election {} for {}: {}\ncandidacies {} through {}, screened by {}\n\ncandidacies\n",
        e.election_id,
        e.body_id,
        seats.join(", "),
        e.candidacy_opens,
        e.candidacy_closes,
        e.screening_body_id
    );
    let rows: Vec<Vec<String>> = e
        .candidacies
        .iter()
        .map(|c| {
            let screening = match c.admitted {
                Some(true) => "admitted".to_string(),
                Some(false) => format!("refused: {}", opt(&c.reason)),
                None => "not screened".into(),
            };
            vec![
                c.member_id.clone(),
                c.preferences.join(" > "),
                c.submitted.clone(),
                opt(&c.withdrawn).into(),
                screening,
            ]
        })
        .collect();
    out.push_str(&table(
        &[
            "member_id",
            "preferences",
            "submitted",
            "withdrawn",
            "screening",
        ],
        &rows,
    ));
    out.push_str("\nanonymised profiles (fixed order)\n");
    for (i, p) in e.profiles.iter().enumerate() {
        let _ = writeln!(out, "{:>3}. {}", i + 1, p.join(", "));
    }
    out.push_str("\nresults\n");
    for r in &e.results {
        let tally: Vec<String> = r
            .tally
            .iter()
            .map(|t| format!("{} {}", t.member_id, t.votes))
            .collect();
        let _ = writeln!(
            out,
            "{}{}: {}; blank {}, invalid {}; elected {}",
            r.role,
            r.portfolio
                .as_ref()
                .map_or(String::new(), |p| format!("/{p}")),
            tally.join(", "),
            r.blank,
            r.invalid,
            if r.elected.is_empty() {
                "no one".into()
            } else {
                r.elected.join(", ")
            }
        );
    }
    out
}

pub fn case(c: &CaseView) -> String {
    let mut out = format!(
        "case {} ({}) before {}, on {}: {}\nsubject: {}\n",
        c.case_id, c.kind, c.body_id, c.as_of, c.status, c.subject
    );
    if let Some(s) = &c.summary {
        let _ = writeln!(out, "summary: {s}");
    }
    let _ = writeln!(
        out,
        "complainants: {}; respondents: {}",
        c.complainants.join(", "),
        c.respondents.join(", ")
    );
    if let Some(o) = &c.outcome {
        let _ = writeln!(
            out,
            "outcome: {o}{}",
            c.appeal_deadline
                .as_ref()
                .map_or(String::new(), |d| format!(", appeal deadline {d}"))
        );
    }
    if let Some(o) = &c.appeal_outcome {
        let _ = writeln!(out, "appeal: {o}");
    }
    for s in &c.suspended {
        let _ = writeln!(
            out,
            "member {}: {}",
            s.member_id,
            if s.suspended {
                "suspended because of this case"
            } else {
                "not suspended by this case"
            }
        );
    }
    if let Some(r) = &c.regulation {
        let _ = writeln!(out, "governed by {r}");
    }
    if !c.by_respondent.is_empty() {
        out.push('\n');
        let rows: Vec<Vec<String>> = c
            .by_respondent
            .iter()
            .map(|r| {
                vec![
                    r.member_id.clone(),
                    match (&r.decided, &r.outcome) {
                        (Some(d), Some(o)) => format!("{o} {d}"),
                        _ => "-".into(),
                    },
                    opt(&r.notice_received).into(),
                    match (&r.appeal_term_ends, r.days_left) {
                        (Some(t), Some(n)) => format!("{t} ({n} days left)"),
                        (Some(t), None) => t.clone(),
                        _ => "-".into(),
                    },
                    match (&r.appeal_filed, &r.appeal_outcome) {
                        (Some(f), Some(o)) => format!("{f}, {o}"),
                        (Some(f), None) => format!("{f}, pending"),
                        _ => "-".into(),
                    },
                    match (&r.suspended_from, &r.suspended_until) {
                        (Some(f), Some(u)) => format!("{f} to {u}"),
                        (Some(f), None) => format!("since {f}"),
                        _ => "-".into(),
                    },
                ]
            })
            .collect();
        out.push_str(&table(
            &[
                "respondent",
                "decision",
                "notice",
                "appeal term ends",
                "appeal",
                "suspended",
            ],
            &rows,
        ));
    }
    if c.later_events > 0 {
        let _ = writeln!(
            out,
            "({} later events of the file are after {})",
            c.later_events, c.as_of
        );
    }
    out.push('\n');
    let rows: Vec<Vec<String>> = c
        .events
        .iter()
        .map(|e| {
            vec![
                e.position.to_string(),
                e.effective.clone(),
                e.event_type.clone(),
                e.hash[..16].to_string(),
            ]
        })
        .collect();
    out.push_str(&table(&["position", "effective", "type", "hash"], &rows));
    out
}

pub fn conduct(c: &ConductView) -> String {
    let mut out = format!(
        "code-of-conduct coverage on {}: {} active members\n",
        c.as_of, c.active_members
    );
    let pct = |n: u64| {
        if c.active_members == 0 {
            "-".to_string()
        } else {
            format!("{:.1}%", n as f64 * 100.0 / c.active_members as f64)
        }
    };
    let rows: Vec<Vec<String>> = c
        .codes
        .iter()
        .map(|k| {
            vec![
                k.code_id.clone(),
                k.version.to_string(),
                k.adopted.clone(),
                k.title.clone(),
                format!("{} ({})", k.signed_current, pct(k.signed_current)),
                format!("{} ({})", k.signed_any, pct(k.signed_any)),
            ]
        })
        .collect();
    out.push_str(&table(
        &[
            "code_id",
            "version",
            "adopted",
            "title",
            "signed this version",
            "signed any version",
        ],
        &rows,
    ));
    out
}
