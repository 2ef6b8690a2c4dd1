//! A synthetic but realistic ledger for benchmarks: the event mix of a party of many members
//! (joins, signatures and contributions), with fewer meetings, motions, decisions,
//! appointments, cases and gifts. Deterministic for a seed; every event has an id.

use serde_json::{json, Value};
use std::io::Write;

/// A small deterministic generator (xorshift64*), so runs can be compared.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

const FIRST_NAMES: [&str; 12] = [
    "Anna", "Bram", "Chantal", "Daan", "Esra", "Fleur", "Gijs", "Hanna", "Ilias", "Joke", "Kees",
    "Lotte",
];
const LAST_NAMES: [&str; 10] = [
    "de Vries", "Jansen", "Bakker", "Visser", "Yilmaz", "Smit", "Meijer", "de Boer", "Mulder",
    "de Groot",
];
const CATEGORIES: [&str; 3] = ["governance", "financial", "policy"];
const PLACES: [&str; 12] = [
    "Utrecht",
    "Den Haag",
    "Groningen",
    "Amsterdam",
    "Rotterdam",
    "Eindhoven",
    "Tilburg",
    "Nijmegen",
    "Zwolle",
    "Leiden",
    "Delft",
    "Arnhem",
];

/// Writes `events` synthetic events as JSON Lines to `out`.
pub fn generate(events: u64, seed: u64, out: &mut dyn Write) -> std::io::Result<()> {
    let mut rng = Rng(seed.max(1) ^ 0x9e37_79b9_7f4a_7c15);
    let mut written = 0u64;
    let mut emit = |v: Value, out: &mut dyn Write| -> std::io::Result<bool> {
        if written >= events {
            return Ok(false);
        }
        let mut v = v;
        v["id"] = json!(format!(
            "{:08x}-0000-4000-8000-{:012x}",
            seed as u32, written
        ));
        serde_json::to_writer(&mut *out, &v)?;
        out.write_all(b"\n")?;
        written += 1;
        Ok(true)
    };
    let start = chrono::NaiveDate::from_ymd_opt(2010, 1, 1).unwrap_or_default();
    let days_span = 13 * 365;
    let date_at = |i: u64| {
        (start + chrono::Duration::days((i * days_span / events.max(1)) as i64))
            .format("%Y-%m-%d")
            .to_string()
    };
    // The frame: a code of conduct, the ALV, the board, branches and committees.
    let d0 = date_at(0);
    emit(
        json!({"stream": "code/gedragscode", "type": "CodeVersionAdopted", "effective": d0,
        "data": {"code_id": "gedragscode", "version": 1, "title": "Gedragscode", "text_blake3": "7".repeat(64)}}),
        out,
    )?;
    emit(
        json!({"stream": "body/alv", "type": "BodyEstablished", "effective": d0, "data": {"body_id": "alv",
        "name": "Algemene ledenvergadering", "kind": "alv", "appointed_by": "alv", "seats": [{"role": "lid", "count": 10_000_000}]}}),
        out,
    )?;
    emit(
        json!({"stream": "body/geschillencommissie", "type": "BodyEstablished", "effective": d0, "data": {"body_id": "geschillencommissie",
        "name": "Geschillencommissie", "kind": "committee", "appointed_by": "alv", "seats": [{"role": "lid", "count": 3}]}}),
        out,
    )?;
    let branches: Vec<String> = PLACES
        .iter()
        .map(|p| format!("afdeling-{}", p.to_lowercase().replace(' ', "-")))
        .collect();
    for (b, place) in branches.iter().zip(PLACES) {
        emit(
            json!({"stream": format!("body/{b}"), "type": "BodyEstablished", "effective": d0, "data": {"body_id": b,
            "name": format!("Afdeling {place}"), "kind": "branch", "appointed_by": "alv", "seats": [{"role": "lid", "count": 10_000_000}]}}),
            out,
        )?;
    }
    let mut members: u64 = 0;
    let mut meetings: u64 = 0;
    let mut decisions: u64 = 0;
    let mut cases: u64 = 0;
    let mut committees: u64 = 0;
    let mut seats_left: u64 = 0;
    let mut i = written_so_far(&branches);
    loop {
        let date = date_at(i);
        let year: i64 = date[..4].parse().unwrap_or(2010);
        let roll = rng.below(1000);
        let member = |rng: &mut Rng| 100_000 + rng.below(members.max(1));
        let more = if members < 50 || roll < 120 {
            members += 1;
            let m = 100_000 + members - 1;
            let name = format!(
                "{} {}",
                FIRST_NAMES[rng.below(12) as usize],
                LAST_NAMES[rng.below(10) as usize]
            );
            let place = rng.below(12) as usize;
            emit(
                json!({"stream": format!("member/{m}"), "type": "MemberJoined", "effective": date,
                "data": {"member_id": m.to_string(), "branch_id": branches[place]},
                "personal": {"name": name, "residence": PLACES[place], "email": format!("lid{m}@example.nl")}}),
                out,
            )?
        } else if roll < 220 {
            let m = member(&mut rng);
            emit(
                json!({"stream": format!("member/{m}"), "type": "ConductCodeSigned", "effective": date,
                "data": {"member_id": m.to_string(), "code_id": "gedragscode", "version": 1}}),
                out,
            )?
        } else if roll < 800 {
            let m = member(&mut rng);
            emit(
                json!({"stream": format!("member/{m}"), "type": "ContributionPaid", "effective": date,
                "data": {"member_id": m.to_string(), "year": year, "amount_cents": 1200 * (1 + rng.below(3))}}),
                out,
            )?
        } else if roll < 830 {
            let m = member(&mut rng);
            let place = rng.below(12) as usize;
            emit(
                json!({"stream": format!("member/{m}"), "type": "MemberDetailsChanged", "effective": date,
                "data": {"member_id": m.to_string(), "branch_id": branches[place]}, "personal": {"residence": PLACES[place]}}),
                out,
            )?
        } else if roll < 900 {
            // A meeting with a motion, its vote and the decision.
            meetings += 1;
            decisions += 1;
            let (mt, mo, de) = (
                format!("alv-{meetings}"),
                format!("m-{meetings}"),
                format!("d-{decisions}"),
            );
            let (f, a) = (rng.below(200), rng.below(200));
            emit(
                json!({"stream": format!("meeting/{mt}"), "type": "MeetingHeld", "effective": date, "data": {"meeting_id": mt,
                "body_id": "alv", "date": date, "present_count": f + a + 10, "quorum_met": true}}),
                out,
            )? && emit(
                json!({"stream": format!("motion/{mo}"), "type": "MotionSubmitted", "effective": date, "data": {"motion_id": mo,
                    "meeting_id": mt, "title": format!("Motie {meetings}"), "submitters": [member(&mut rng).to_string()]}}),
                out,
            )? && emit(
                json!({"stream": format!("motion/{mo}"), "type": "MotionVoted", "effective": date, "data": {"motion_id": mo,
                    "method": "ballot", "for": f, "against": a, "abstain": 3, "outcome": if f > a { "adopted" } else { "rejected" }}}),
                out,
            )? && emit(
                json!({"stream": format!("decision/{de}"), "type": "DecisionTaken", "effective": date, "data": {"decision_id": de,
                    "body_id": "alv", "meeting_id": mt, "title": format!("Besluit {decisions}"),
                    "category": CATEGORIES[rng.below(3) as usize], "basis": "vote",
                    "amount_cents": rng.below(5_000_000)}}),
                out,
            )?
        } else if roll < 950 {
            // Appointments to working groups of five seats each.
            if seats_left == 0 {
                committees += 1;
                seats_left = 5;
                emit(
                    json!({"stream": format!("body/werkgroep-{committees}"), "type": "BodyEstablished", "effective": date,
                    "data": {"body_id": format!("werkgroep-{committees}"), "name": format!("Werkgroep {committees}"),
                    "kind": "working_group", "appointed_by": "alv", "seats": [{"role": "lid", "count": 5}], "term_years": 2}}),
                    out,
                )?
            } else {
                seats_left -= 1;
                let end = (start
                    + chrono::Duration::days((i * days_span / events.max(1)) as i64 + 730))
                .format("%Y-%m-%d")
                .to_string();
                emit(
                    json!({"stream": format!("body/werkgroep-{committees}"), "type": "MemberAppointed", "effective": date,
                    "data": {"body_id": format!("werkgroep-{committees}"), "member_id": (100_000 + members - 1 - seats_left).to_string(),
                    "role": "lid", "term_start": date, "term_end": end}}),
                    out,
                )?
            }
        } else if roll < 985 {
            cases += 1;
            let c = format!("c-{cases}");
            let (x, y) = (member(&mut rng), member(&mut rng));
            emit(
                json!({"stream": format!("case/{c}"), "type": "CaseOpened", "effective": date, "data": {"case_id": c,
                "kind": "dispute", "body_id": "geschillencommissie", "complainants": [x.to_string()], "respondents": [y.to_string()],
                "subject": "besluit afdeling"}, "personal": {"summary": format!("Geschil tussen {x} en {y}")}}),
                out,
            )? && emit(
                json!({"stream": format!("case/{c}"), "type": "HearingHeld", "effective": date,
                    "data": {"case_id": c, "date": date, "present": [x.to_string(), y.to_string()]}}),
                out,
            )? && emit(
                json!({"stream": format!("case/{c}"), "type": "CaseDecided", "effective": date,
                    "data": {"case_id": c, "outcome": "settled"}}),
                out,
            )? && emit(
                json!({"stream": format!("case/{c}"), "type": "CaseClosed", "effective": date, "data": {"case_id": c}}),
                out,
            )?
        } else {
            let donor = rng.below(500);
            emit(
                json!({"stream": format!("finance/{year}"), "type": "GiftReceived", "effective": date, "data": {"year": year,
                "amount_cents": 10_000 + rng.below(1_500_000), "donor_ref": format!("d-{donor}"),
                "donor_kind": "natural_person", "dutch_donor": rng.below(50) != 0},
                "personal": {"donor_name": format!("Donateur {donor}"), "donor_residence": PLACES[(donor % 12) as usize]}}),
                out,
            )?
        };
        if !more {
            return Ok(());
        }
        i += 1;
    }
}

fn written_so_far(branches: &[String]) -> u64 {
    3 + branches.len() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generates_exactly_n_valid_events_deterministically() {
        let mut a = Vec::new();
        generate(20_000, 7, &mut a).unwrap();
        let mut b = Vec::new();
        generate(20_000, 7, &mut b).unwrap();
        assert_eq!(a, b);
        let text = String::from_utf8(a).unwrap();
        assert_eq!(text.lines().count(), 20_000);
        // Every event passes the catalogue and the governance rules, in order.
        let mut state = kroniek_core::governance::GovernanceState::default();
        for (position, line) in text.lines().enumerate() {
            let e = kroniek_core::ProposedEvent::parse_line(line)
                .unwrap_or_else(|r| panic!("{line}: {r}"));
            state
                .check(&e.event, e.effective)
                .unwrap_or_else(|r| panic!("{line}: {r}"));
            state.apply(&e.event, e.effective, position as u64);
        }
        assert!(
            text.contains("ContributionPaid")
                && text.contains("CaseOpened")
                && text.contains("MemberAppointed")
        );
    }
}
