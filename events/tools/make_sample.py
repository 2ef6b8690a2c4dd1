#!/usr/bin/env python3
"""Writes events/sample.jsonl: several years (2018-2024) of a small party, every event type of
the catalogue, consistent with the rules of DOMAIN.md. Needs the PyPI package blake3.
Run it after changing it, and commit both; every event gets a fixed id, so the file can be
appended twice and is recorded once."""
import json
import os

import blake3

events = []


def ev(stream, typ, eff, data, personal=None, expected=None):
    e = {"id": None, "stream": stream, "type": typ, "effective": eff, "data": data}
    if personal is not None:
        e["personal"] = personal
    if expected is not None:
        e["expected_version"] = expected
    events.append(e)


def h(text):
    """BLAKE3 of a stand-in document text."""
    return blake3.blake3(text.encode()).hexdigest()


def body(bid, name, kind, eff, seats, appointed_by="alv", parent=None, **extra):
    data = {"body_id": bid, "name": name, "kind": kind, "appointed_by": appointed_by, "seats": seats}
    if parent:
        data["parent_id"] = parent
    data.update(extra)
    ev(f"body/{bid}", "BodyEstablished", eff, data, expected="no_stream")


def appoint(bid, mid, role, start, end=None, portfolio=None, decision=None, election=None):
    d = {"body_id": bid, "member_id": mid, "role": role, "term_start": start}
    if portfolio:
        d["portfolio"] = portfolio
    if end:
        d["term_end"] = end
    if decision:
        d["decision_id"] = decision
    if election:
        d["election_id"] = election
    ev(f"body/{bid}", "MemberAppointed", start, d)


def reappoint(bid, mid, role, eff, end, decision=None):
    d = {"body_id": bid, "member_id": mid, "role": role, "term_end": end}
    if decision:
        d["decision_id"] = decision
    ev(f"body/{bid}", "MemberReappointed", eff, d)


def leave(bid, mid, role, eff, reason):
    ev(f"body/{bid}", "MemberLeftBody", eff, {"body_id": bid, "member_id": mid, "role": role, "reason": reason})


def meeting(mid, bid, date, present, minutes=True):
    d = {"meeting_id": mid, "body_id": bid, "date": date, "present_count": present, "quorum_met": True}
    if minutes:
        d["minutes_blake3"] = h("notulen " + mid)
    ev(f"meeting/{mid}", "MeetingHeld", date, d)


def decide(did, bid, eff, title, category, basis, meeting_id=None, motion=None, amount=None):
    d = {"decision_id": did, "body_id": bid, "title": title, "category": category, "basis": basis}
    if meeting_id:
        d["meeting_id"] = meeting_id
    if motion:
        d["motion_id"] = motion
    if amount is not None:
        d["amount_cents"] = amount
    ev(f"decision/{did}", "DecisionTaken", eff, d)


# --- members: (id, name, residence, branch, joined)
BRANCH = {"Utrecht": "afdeling-utrecht", "Den Haag": "afdeling-den-haag", "Groningen": "afdeling-groningen"}
MEMBERS = [
    ("10201", "Anna de Vries", "Utrecht", "2018-01-06"), ("10202", "Bram Jansen", "Den Haag", "2018-01-06"),
    ("10203", "Chantal Bakker", "Groningen", "2018-01-06"), ("10204", "Daan Visser", "Utrecht", "2018-01-06"),
    ("10205", "Esra Yilmaz", "Den Haag", "2018-01-06"), ("10206", "Fleur Smit", "Groningen", "2018-01-06"),
    ("10207", "Gijs Meijer", "Den Haag", "2018-01-06"), ("10208", "Hanna de Boer", "Den Haag", "2018-01-06"),
    ("10209", "Ilias El Amrani", "Utrecht", "2018-02-12"), ("10210", "Joke Mulder", "Groningen", "2018-03-03"),
    ("10211", "Kees de Groot", "Den Haag", "2018-04-20"), ("10212", "Lotte Bos", "Utrecht", "2018-05-14"),
    ("10213", "Mehmet Kaya", "Den Haag", "2018-06-01"), ("10214", "Noor Vos", "Groningen", "2018-09-09"),
    ("10215", "Olaf Peters", "Utrecht", "2018-10-10"), ("10216", "Priya Ramdin", "Den Haag", "2019-01-15"),
    ("10217", "Quinten Hendriks", "Utrecht", "2019-02-02"), ("10218", "Roos van Dijk", "Groningen", "2019-03-30"),
    ("10219", "Sven Dekker", "Utrecht", "2019-05-05"), ("10220", "Tess Willems", "Den Haag", "2019-06-21"),
    ("10221", "Umut Demir", "Utrecht", "2019-09-01"), ("10222", "Vera Koster", "Groningen", "2020-01-11"),
    ("10223", "Wout Brouwer", "Den Haag", "2020-02-14"), ("10224", "Xandra Prins", "Utrecht", "2020-06-06"),
    ("10225", "Yara Haddou", "Den Haag", "2020-08-15"), ("10226", "Zeger Kok", "Groningen", "2021-03-01"),
    ("10227", "Amira Bouzid", "Utrecht", "2021-09-09"), ("10228", "Bas Verhoeven", "Den Haag", "2022-01-20"),
]
JOINED = {m: j for m, _, _, j in MEMBERS}
ENDED = {"10217": "2021-12-31", "10219": "2023-08-14"}
EXPELLED = {"10220": "2022-09-20"}

# --- 2018: founding ALV
body("alv", "Algemene ledenvergadering", "alv", "2018-01-06", [])
meeting("alv-2018-01", "alv", "2018-01-06", 41)
decide("2018-001", "alv", "2018-01-06", "Oprichting, statuten en gedragscode", "governance", "vote", "alv-2018-01")
ev("code/gedragscode", "CodeVersionAdopted", "2018-01-06", {"code_id": "gedragscode", "version": 1, "title": "Gedragscode 2018",
   "text_blake3": h("gedragscode versie 1"), "decision_id": "2018-001"}, expected="no_stream")
for b, place in [("afdeling-utrecht", "Utrecht"), ("afdeling-den-haag", "Den Haag"), ("afdeling-groningen", "Groningen")]:
    body(b, f"Afdeling {place}", "branch", "2018-01-06", [])
body("landelijk-bestuur", "Landelijk bestuur", "board", "2018-01-06",
     [{"role": "voorzitter", "count": 1}, {"role": "secretaris", "count": 1}, {"role": "penningmeester", "count": 1},
      {"role": "algemeen-bestuurslid", "portfolio": "campagne", "count": 1},
      {"role": "algemeen-bestuurslid", "portfolio": "ledenwerving", "count": 1},
      {"role": "jongerenvertegenwoordiger", "count": 1}],
     term_years=3, max_reappointments=2, decision_id="2018-001")
body("dagelijks-bestuur", "Dagelijks bestuur", "daily_board", "2018-01-06",
     [{"role": "voorzitter", "count": 1}, {"role": "secretaris", "count": 1}, {"role": "penningmeester", "count": 1}],
     appointed_by="landelijk-bestuur", parent="landelijk-bestuur")
body("kascommissie", "Kascommissie", "committee", "2018-01-06", [{"role": "lid", "count": 3}], term_years=1, max_reappointments=2)
body("geschillencommissie", "Geschillencommissie", "committee", "2018-01-06",
     [{"role": "voorzitter", "count": 1}, {"role": "lid", "count": 2}], term_years=3, max_reappointments=1)
body("kandidatencommissie", "Kandidatencommissie", "committee", "2018-01-06", [{"role": "lid", "count": 3}],
     appointed_by="landelijk-bestuur", term_years=2)
body("dwars", "DWARS-jongeren (jongerenorganisatie)", "affiliate", "2018-01-06", [])

for mid, name, place, joined in MEMBERS:
    first = name.split()[0].lower()
    ev(f"member/{mid}", "MemberJoined", joined, {"member_id": mid, "branch_id": BRANCH[place]},
       {"name": name, "residence": place, "email": f"{first}@example.nl"}, expected="no_stream")
    ev(f"member/{mid}", "ConductCodeSigned", joined, {"member_id": mid, "code_id": "gedragscode", "version": 1})

decide("2018-002", "alv", "2018-01-06", "Benoeming eerste landelijk bestuur", "appointment", "vote", "alv-2018-01")
for mid, role, pf, end in [("10201", "voorzitter", None, "2021-01-05"), ("10202", "secretaris", None, "2021-01-05"),
                           ("10203", "penningmeester", None, "2021-01-05"), ("10204", "algemeen-bestuurslid", "campagne", "2021-01-05"),
                           ("10205", "algemeen-bestuurslid", "ledenwerving", "2021-01-05"),
                           ("10206", "jongerenvertegenwoordiger", None, "2020-01-05")]:
    appoint("landelijk-bestuur", mid, role, "2018-01-06", end, pf, "2018-002")
for mid, role in [("10201", "voorzitter"), ("10202", "secretaris"), ("10203", "penningmeester")]:
    appoint("dagelijks-bestuur", mid, role, "2018-01-06", decision="2018-002")  # ex officio: no term end

# the Den Haag branch gets its own board
body("afdeling-den-haag/bestuur", "Bestuur afdeling Den Haag", "board", "2018-03-01",
     [{"role": "voorzitter", "count": 1}, {"role": "secretaris", "count": 1}, {"role": "penningmeester", "count": 1}],
     appointed_by="afdeling-den-haag", parent="afdeling-den-haag", term_years=2, max_reappointments=1)
appoint("afdeling-den-haag/bestuur", "10207", "voorzitter", "2018-03-01", "2020-02-29")
appoint("afdeling-den-haag/bestuur", "10208", "secretaris", "2018-03-01", "2020-02-29")
appoint("afdeling-den-haag/bestuur", "10211", "penningmeester", "2018-05-01", "2020-02-29")

# contributions: for each year a member is a member on 10 January, or from the day they join
for year in range(2018, 2025):
    for i, (mid, _, _, joined) in enumerate(MEMBERS):
        jan = f"{year}-01-10"
        if joined > f"{year}-12-31":
            continue
        if mid in ENDED and ENDED[mid] <= jan or mid in EXPELLED and EXPELLED[mid] <= jan:
            continue
        paid = max(jan, joined)
        amount = 2400 if i % 4 == 0 else (1200 if i % 7 else 600)
        ev(f"member/{mid}", "ContributionPaid", paid, {"member_id": mid, "year": year, "amount_cents": amount})
ev("member/10210", "ContributionRefunded", "2020-03-01", {"member_id": "10210", "year": 2020, "amount_cents": 600})

# --- 2019
appoint("kascommissie", "10212", "lid", "2019-03-16", "2020-03-15")
appoint("kascommissie", "10215", "lid", "2019-03-16", "2020-03-15")
appoint("geschillencommissie", "10209", "voorzitter", "2019-03-16", "2022-03-15")
appoint("geschillencommissie", "10210", "lid", "2019-03-16", "2022-03-15")
appoint("geschillencommissie", "10216", "lid", "2019-03-16", "2022-03-15")
appoint("kandidatencommissie", "10212", "lid", "2019-02-01", "2021-01-31")
appoint("kandidatencommissie", "10213", "lid", "2019-02-01", "2021-01-31")
appoint("kandidatencommissie", "10218", "lid", "2019-04-01", "2021-01-31")
# a thematic network whose core group needs at least four
body("netwerk-klimaat", "Netwerk Klimaat en Energie", "network", "2019-06-01", [{"role": "kerngroeplid", "count": 6}],
     min_members=4, term_years=2)
for mid in ["10204", "10215", "10219", "10221"]:
    appoint("netwerk-klimaat", mid, "kerngroeplid", "2019-09-01", "2021-08-31")
# the treasurer resigns; a replacement for the rest of the term
leave("landelijk-bestuur", "10203", "penningmeester", "2019-09-30", "resigned")
leave("dagelijks-bestuur", "10203", "penningmeester", "2019-09-30", "resigned")
meeting("alv-2019-10", "alv", "2019-10-12", 63)
decide("2019-011", "alv", "2019-10-12", "Benoeming penningmeester voor de rest van de termijn", "appointment", "vote", "alv-2019-10")
appoint("landelijk-bestuur", "10214", "penningmeester", "2019-10-12", "2021-01-05", decision="2019-011")
appoint("dagelijks-bestuur", "10214", "penningmeester", "2019-10-12", decision="2019-011")
ev("member/10207", "MemberDetailsChanged", "2019-11-02", {"member_id": "10207", "branch_id": "afdeling-den-haag"},
   {"residence": "Den Haag", "email": "gijs.meijer@example.nl"})

# --- 2020
decide("2020-001", "landelijk-bestuur", "2020-01-04", "Herbenoeming jongerenvertegenwoordiger", "appointment", "mandate")
reappoint("landelijk-bestuur", "10206", "jongerenvertegenwoordiger", "2020-01-05", "2022-01-05", "2020-001")
reappoint("afdeling-den-haag/bestuur", "10207", "voorzitter", "2020-02-29", "2022-02-28")
reappoint("afdeling-den-haag/bestuur", "10208", "secretaris", "2020-02-29", "2022-02-28")
# the branch treasurer's term ends without a decision: listed as term_expired; a new treasurer
appoint("afdeling-den-haag/bestuur", "10223", "penningmeester", "2020-03-01", "2022-02-28")
reappoint("kascommissie", "10212", "lid", "2020-03-15", "2021-03-15")
reappoint("kascommissie", "10215", "lid", "2020-03-15", "2021-03-15")

ev("election/bestuur-2021", "ElectionCalled", "2020-09-01", {"election_id": "bestuur-2021", "body_id": "landelijk-bestuur",
   "seats": [{"role": "voorzitter", "count": 1}, {"role": "secretaris", "count": 1}, {"role": "penningmeester", "count": 1},
             {"role": "algemeen-bestuurslid", "portfolio": "campagne", "count": 1}],
   "candidacy_opens": "2020-09-01", "candidacy_closes": "2020-10-15", "screening_body_id": "kandidatencommissie"}, expected="no_stream")
for mid, prefs, terms, day in [
        ("10201", ["voorzitter", "algemeen-bestuurslid"], ["bestuurservaring", "verbinder", "onderwijs"], "2020-09-05"),
        ("10211", ["algemeen-bestuurslid", "voorzitter"], ["campagne", "digitaal", "jong"], "2020-09-12"),
        ("10202", ["secretaris", "voorzitter"], ["organisatie", "statuten"], "2020-09-14"),
        ("10214", ["penningmeester", "secretaris"], ["financiën", "subsidies"], "2020-09-20"),
        ("10225", ["penningmeester", "algemeen-bestuurslid"], ["boekhouding", "ondernemer"], "2020-10-01"),
        ("10213", ["algemeen-bestuurslid", "secretaris"], ["vakbond", "zorg"], "2020-10-10")]:
    ev("election/bestuur-2021", "CandidacySubmitted", day, {"election_id": "bestuur-2021", "member_id": mid, "preferences": prefs,
       "motivation_blake3": h("motivatie " + mid)}, {"profile_terms": terms})
ev("election/bestuur-2021", "CandidacyWithdrawn", "2020-10-14", {"election_id": "bestuur-2021", "member_id": "10213"})
for mid, ok, reason in [("10201", True, None), ("10211", True, None), ("10202", True, None), ("10214", True, None),
                        ("10225", False, "Korter dan twee jaar lid; de statuten vragen twee jaar lidmaatschap")]:
    d = {"election_id": "bestuur-2021", "member_id": mid, "admitted": ok}
    if reason:
        d["reason"] = reason
    ev("election/bestuur-2021", "CandidacyScreened", "2020-10-20", d)
# the refused candidate appeals the screening (a case of kind appeal)
ev("case/c-2020-07", "CaseOpened", "2020-10-22", {"case_id": "c-2020-07", "kind": "appeal", "body_id": "geschillencommissie",
   "complainants": ["10225"], "respondents": [], "subject": "weigering kandidaatstelling bestuur-2021"},
   {"summary": "Kandidaat vindt de eis van twee jaar lidmaatschap onredelijk."}, expected="no_stream")
ev("case/c-2020-07", "CaseAdmissibility", "2020-10-26", {"case_id": "c-2020-07", "admissible": True})
ev("case/c-2020-07", "CaseDecided", "2020-11-05", {"case_id": "c-2020-07", "outcome": "rejected"})
ev("case/c-2020-07", "CaseClosed", "2020-11-06", {"case_id": "c-2020-07"})

meeting("alv-2020-11", "alv", "2020-11-21", 87)
ev("motion/2020-m07", "MotionSubmitted", "2020-11-01", {"motion_id": "2020-m07", "meeting_id": "alv-2020-11",
   "title": "Contributie naar EUR 15 per jaar", "text_blake3": h("motie 2020-m07"), "submitters": ["10204", "10208"]})
ev("motion/2020-m07a", "MotionSubmitted", "2020-11-10", {"motion_id": "2020-m07a", "meeting_id": "alv-2020-11",
   "title": "Amendement: EUR 6 voor jongeren onder 27", "submitters": ["10215"], "amends": "2020-m07"})
ev("motion/2020-m08", "MotionSubmitted", "2020-11-02", {"motion_id": "2020-m08", "meeting_id": "alv-2020-11",
   "title": "Digitaal stemmen op de ALV", "submitters": ["10216"]})
ev("motion/2020-m08", "MotionWithdrawn", "2020-11-20", {"motion_id": "2020-m08"})
ev("motion/2020-m07a", "MotionVoted", "2020-11-21", {"motion_id": "2020-m07a", "method": "show_of_hands", "for": 40,
   "against": 35, "abstain": 12, "outcome": "adopted"})
ev("motion/2020-m07", "MotionVoted", "2020-11-21", {"motion_id": "2020-m07", "method": "ballot", "for": 50, "against": 30,
   "abstain": 7, "outcome": "adopted"})
decide("2020-015", "alv", "2020-11-21", "Contributie per 2021 (geamendeerd)", "financial", "vote", "alv-2020-11", "2020-m07")
for role, pf, tally, blank, elected in [
        ("voorzitter", None, [("10201", 52), ("10211", 31)], 3, ["10201"]),
        ("secretaris", None, [("10202", 77)], 9, ["10202"]),
        ("penningmeester", None, [("10214", 70)], 15, ["10214"]),
        ("algemeen-bestuurslid", "campagne", [("10211", 60)], 25, ["10211"])]:
    d = {"election_id": "bestuur-2021", "role": role, "tally": [{"member_id": m, "votes": v} for m, v in tally],
         "blank": blank, "invalid": 1, "elected": elected}
    if pf:
        d["portfolio"] = pf
    ev("election/bestuur-2021", "ElectionResult", "2020-11-21", d)
decide("2020-016", "alv", "2020-11-21", "Herbenoeming en benoeming landelijk bestuur", "appointment", "vote", "alv-2020-11")

# --- 2021
reappoint("landelijk-bestuur", "10201", "voorzitter", "2021-01-05", "2024-01-05", "2020-016")
reappoint("landelijk-bestuur", "10202", "secretaris", "2021-01-05", "2024-01-05", "2020-016")
reappoint("landelijk-bestuur", "10214", "penningmeester", "2021-01-05", "2024-01-05", "2020-016")
reappoint("landelijk-bestuur", "10205", "algemeen-bestuurslid", "2021-01-05", "2024-01-05", "2020-016")
leave("landelijk-bestuur", "10204", "algemeen-bestuurslid", "2021-01-06", "term_ended")
appoint("landelijk-bestuur", "10211", "algemeen-bestuurslid", "2021-01-06", "2024-01-05", "campagne", "2020-016", "bestuur-2021")
reappoint("kandidatencommissie", "10212", "lid", "2021-01-31", "2023-01-31")
appoint("kandidatencommissie", "10221", "lid", "2021-02-01", "2023-01-31")
body("werkgroep-verkiezingsprogramma", "Werkgroep verkiezingsprogramma 2021", "working_group", "2021-02-01",
     [{"role": "voorzitter", "count": 1}, {"role": "lid", "count": 4}], appointed_by="landelijk-bestuur")
appoint("werkgroep-verkiezingsprogramma", "10212", "voorzitter", "2021-02-01", "2021-11-30")
appoint("werkgroep-verkiezingsprogramma", "10224", "lid", "2021-02-01", "2021-11-30")
decide("2021-030", "landelijk-bestuur", "2021-11-30", "Opheffing werkgroep verkiezingsprogramma", "governance", "consensus")
ev("body/werkgroep-verkiezingsprogramma", "BodyDissolved", "2021-11-30", {"body_id": "werkgroep-verkiezingsprogramma", "decision_id": "2021-030"})
# a conduct complaint with a suspension and a reinstatement
ev("case/c-2021-03", "CaseOpened", "2021-03-20", {"case_id": "c-2021-03", "kind": "conduct_complaint", "body_id": "geschillencommissie",
   "complainants": ["10222"], "respondents": ["10218"], "subject": "gedrag tijdens afdelingsvergadering Groningen"},
   {"summary": "Klacht over intimiderende opmerkingen tijdens de vergadering van 12 maart."})
ev("case/c-2021-03", "CaseAdmissibility", "2021-03-25", {"case_id": "c-2021-03", "admissible": True})
ev("member/10218", "MemberSuspended", "2021-04-01", {"member_id": "10218", "case_id": "c-2021-03"})
ev("case/c-2021-03", "DocumentFiled", "2021-04-02", {"case_id": "c-2021-03", "title": "Verslag van de klager", "filed_by": "10222",
   "document_blake3": h("verslag klager c-2021-03")})
ev("case/c-2021-03", "HearingHeld", "2021-04-20", {"case_id": "c-2021-03", "date": "2021-04-20", "present": ["10222", "10218", "10209"]})
ev("case/c-2021-03", "CaseDecided", "2021-05-14", {"case_id": "c-2021-03", "outcome": "warning"})
ev("member/10218", "MemberReinstated", "2021-05-15", {"member_id": "10218", "case_id": "c-2021-03"})
ev("case/c-2021-03", "CaseClosed", "2021-05-20", {"case_id": "c-2021-03"})
leave("netwerk-klimaat", "10219", "kerngroeplid", "2021-06-30", "resigned")  # the core group drops below four
reappoint("netwerk-klimaat", "10204", "kerngroeplid", "2021-08-31", "2023-08-31")
reappoint("netwerk-klimaat", "10215", "kerngroeplid", "2021-08-31", "2023-08-31")
reappoint("netwerk-klimaat", "10221", "kerngroeplid", "2021-08-31", "2023-08-31")
ev("member/10217", "MembershipEnded", "2021-12-31", {"member_id": "10217", "reason": "resigned"})
decide("2021-020", "alv", "2021-11-27", "Begroting 2022", "financial", "vote", amount=18500000)
ev("finance/2022", "BudgetAdopted", "2021-11-27", {"year": 2022, "decision_id": "2021-020", "lines": [
   {"name": "Campagne", "amount_cents": 9000000}, {"name": "Bureau", "amount_cents": 7000000}, {"name": "Scholing", "amount_cents": 2500000}]})

# --- 2022
reappoint("landelijk-bestuur", "10206", "jongerenvertegenwoordiger", "2022-01-05", "2024-01-05", "2020-016")
appoint("netwerk-klimaat", "10226", "kerngroeplid", "2022-02-01", "2024-01-31")
meeting("alv-2022-03", "alv", "2022-03-12", 102)
decide("2022-003", "alv", "2022-03-12", "Herziene gedragscode en Safer Space-richtlijnen", "policy", "consensus", "alv-2022-03")
ev("code/gedragscode", "CodeVersionAdopted", "2022-03-12", {"code_id": "gedragscode", "version": 2, "title": "Gedragscode 2022",
   "text_blake3": h("gedragscode versie 2"), "decision_id": "2022-003"}, expected=0)
ev("code/safer-space", "CodeVersionAdopted", "2022-03-12", {"code_id": "safer-space", "version": 1, "title": "Safer Space-richtlijnen",
   "text_blake3": h("safer space versie 1"), "decision_id": "2022-003"})
decide("2022-004", "alv", "2022-03-12", "Bestuursportefeuille digitaal", "governance", "vote", "alv-2022-03")
ev("body/landelijk-bestuur", "SeatsChanged", "2022-03-12", {"body_id": "landelijk-bestuur", "decision_id": "2022-004", "seats": [
   {"role": "voorzitter", "count": 1}, {"role": "secretaris", "count": 1}, {"role": "penningmeester", "count": 1},
   {"role": "algemeen-bestuurslid", "portfolio": "campagne", "count": 1},
   {"role": "algemeen-bestuurslid", "portfolio": "ledenwerving", "count": 1},
   {"role": "algemeen-bestuurslid", "portfolio": "digitaal", "count": 1},
   {"role": "jongerenvertegenwoordiger", "count": 1}]})
appoint("landelijk-bestuur", "10224", "algemeen-bestuurslid", "2022-03-12", "2025-03-11", "digitaal", "2022-004")
reappoint("geschillencommissie", "10209", "voorzitter", "2022-03-15", "2025-03-15")
reappoint("geschillencommissie", "10210", "lid", "2022-03-15", "2025-03-15")
leave("geschillencommissie", "10216", "lid", "2022-03-16", "term_ended")
appoint("geschillencommissie", "10222", "lid", "2022-03-16", "2025-03-15")
for i, mid in enumerate(["10201", "10202", "10204", "10205", "10206", "10207", "10208", "10209", "10210", "10211",
                         "10212", "10214", "10215", "10216", "10221", "10222", "10223", "10224"]):
    ev(f"member/{mid}", "ConductCodeSigned", f"2022-04-{1 + i:02d}", {"member_id": mid, "code_id": "gedragscode", "version": 2})
for mid in ["10201", "10202", "10209", "10222"]:
    ev(f"member/{mid}", "ConductCodeSigned", "2022-04-25", {"member_id": mid, "code_id": "safer-space", "version": 1})

# a royement with an appeal
ev("case/r-2022-01", "CaseOpened", "2022-05-02", {"case_id": "r-2022-01", "kind": "royement", "body_id": "landelijk-bestuur",
   "complainants": ["10208"], "respondents": ["10220"], "subject": "herhaalde schending van de gedragscode"},
   {"summary": "Herhaalde intimidatie van vrijwilligers van de afdeling Den Haag, na eerdere waarschuwing."})
ev("case/r-2022-01", "CaseAdmissibility", "2022-05-10", {"case_id": "r-2022-01", "admissible": True})
ev("case/r-2022-01", "DocumentFiled", "2022-05-12", {"case_id": "r-2022-01", "title": "Dossier afdelingsbestuur",
   "filed_by": "afdeling-den-haag/bestuur", "document_blake3": h("dossier r-2022-01")})
ev("case/r-2022-01", "HearingHeld", "2022-06-01", {"case_id": "r-2022-01", "date": "2022-06-01", "present": ["10220", "10201", "10202"]})
decide("2022-010", "landelijk-bestuur", "2022-06-15", "Royement lid 10220", "disciplinary", "vote")
ev("case/r-2022-01", "CaseDecided", "2022-06-15", {"case_id": "r-2022-01", "outcome": "expelled", "decision_id": "2022-010",
   "appeal_deadline": "2022-07-15"})
ev("case/r-2022-01", "AppealFiled", "2022-07-01", {"case_id": "r-2022-01", "member_id": "10220"})
ev("case/r-2022-01", "HearingHeld", "2022-09-01", {"case_id": "r-2022-01", "date": "2022-09-01", "present": ["10220", "10209", "10210"]})
ev("case/r-2022-01", "AppealDecided", "2022-09-19", {"case_id": "r-2022-01", "outcome": "upheld"})
ev("member/10220", "MemberExpelled", "2022-09-20", {"member_id": "10220", "case_id": "r-2022-01", "decision_id": "2022-010"})
ev("case/r-2022-01", "CaseClosed", "2022-09-21", {"case_id": "r-2022-01"})
ev("body/afdeling-den-haag/bestuur", "MemberReappointed", "2022-02-28", {"body_id": "afdeling-den-haag/bestuur",
   "member_id": "10223", "role": "penningmeester", "term_end": "2024-02-29"})
leave("afdeling-den-haag/bestuur", "10207", "voorzitter", "2022-03-01", "term_ended")
appoint("afdeling-den-haag/bestuur", "10228", "voorzitter", "2022-03-01", "2024-02-29")
leave("afdeling-den-haag/bestuur", "10211", "penningmeester", "2022-03-01", "term_ended")

# money
ev("finance/2022", "SubsidyReceived", "2022-02-15", {"year": 2022, "recipient": "party", "amount_cents": 21250000, "grantor": "Ministerie van BZK"})
ev("finance/2022", "SubsidyReceived", "2022-02-15", {"year": 2022, "recipient": "youth_org", "amount_cents": 3100000, "grantor": "Ministerie van BZK"})
ev("finance/2022", "GiftReceived", "2022-05-03", {"year": 2022, "amount_cents": 250000, "donor_ref": "d-0042",
   "donor_kind": "natural_person", "dutch_donor": True}, {"donor_name": "J. Pietersen", "donor_residence": "Amersfoort"})
ev("finance/2022", "GiftReceived", "2022-09-19", {"year": 2022, "amount_cents": 500000, "donor_ref": "d-0043",
   "donor_kind": "legal_person", "dutch_donor": True}, {"donor_name": "Stichting Vooruit", "donor_residence": "Utrecht"})
decide("2022-020", "alv", "2022-11-26", "Begroting 2023", "financial", "vote", amount=19200000)
ev("finance/2023", "BudgetAdopted", "2022-11-26", {"year": 2023, "decision_id": "2022-020", "lines": [
   {"name": "Campagne", "amount_cents": 9500000}, {"name": "Bureau", "amount_cents": 7200000}, {"name": "Scholing", "amount_cents": 2500000}]})

# --- 2023
ev("finance/2023", "SubsidyReceived", "2023-02-14", {"year": 2023, "recipient": "party", "amount_cents": 22400000, "grantor": "Ministerie van BZK"})
decide("2023-002", "landelijk-bestuur", "2023-02-20", "Besteding subsidie 2023", "subsidy", "mandate", amount=22400000)
ev("finance/2023", "GiftReceived", "2023-03-08", {"year": 2023, "amount_cents": 1200000, "donor_ref": "d-0042",
   "donor_kind": "natural_person", "dutch_donor": True}, {"donor_name": "J. Pietersen", "donor_residence": "Amersfoort"})
ev("finance/2023", "GiftReceived", "2023-06-30", {"year": 2023, "amount_cents": 300000, "donor_ref": "d-0051",
   "donor_kind": "natural_person", "dutch_donor": False}, {"donor_name": "M. Schneider", "donor_residence": "Aken"})
decide("2023-003", "landelijk-bestuur", "2023-04-02", "Huur campagnebus", "financial", "consensus", amount=450000)
decide("2023-004", "landelijk-bestuur", "2023-05-10", "Huur kantoor Utrecht met vervoer", "financial", "consensus", amount=1800000)
ev("decision/2023-003", "DecisionRevoked", "2023-05-10", {"decision_id": "2023-003", "by_decision_id": "2023-004",
   "reason": "Vervangen door het besluit over kantoor met vervoer"})
ev("member/10219", "MembershipEnded", "2023-08-14", {"member_id": "10219", "reason": "deceased"})
ev("access/secretariaat", "AccessGranted", "2023-01-02", {"principal": "secretariaat", "role": "secretary",
   "token_blake3": h("voorbeeldtoken secretariaat, niet geheim")}, expected="no_stream")
ev("access/kascommissie-2023", "AccessGranted", "2023-03-01", {"principal": "kascommissie-2023", "role": "auditor",
   "token_blake3": h("voorbeeldtoken kascommissie, niet geheim")})
ev("access/kascommissie-2023", "AccessRevoked", "2023-07-01", {"principal": "kascommissie-2023"})

# --- 2024: the board's terms end; the closed conduct case's summary is erased after its retention period
reappoint("landelijk-bestuur", "10201", "voorzitter", "2024-01-05", "2027-01-05")
leave("landelijk-bestuur", "10202", "secretaris", "2024-01-06", "term_ended")
ev("case/c-2021-03", "PersonalDataErased", "2024-06-01", {"subject": "case:c-2021-03", "reason": "bewaartermijn klachtdossier verstreken"})

# --- 2024-2025 (step 9): the statutes recorded as rules. Appended after everything above (a store
# made from the earlier sample takes these lines alone); no earlier event is rewritten.
ev("meeting/alv-2024-11", "MeetingConvened", "2024-11-01", {"meeting_id": "alv-2024-11", "body_id": "alv", "date": "2024-11-30",
   "agenda": [{"item": "Regels van de ALV, het landelijk bestuur en de kascommissie", "kind": "ordinary"},
              {"item": "Statutenwijziging: digitaal stemmen op de ALV", "kind": "statute_amendment", "motion_id": "2024-m01"}],
   "proposal_available_on": "2024-11-08"}, expected="no_stream")
ev("motion/2024-m01", "MotionSubmitted", "2024-11-01", {"motion_id": "2024-m01", "meeting_id": "alv-2024-11",
   "title": "Statutenwijziging: digitaal stemmen op de ALV", "text_blake3": h("statutenwijziging digitaal stemmen"),
   "submitters": ["10201", "10216"], "kind": "statute_amendment"})
meeting("alv-2024-11", "alv", "2024-11-30", 96)
# exactly two thirds of the votes cast (BW 2:43 lid 1): 64 of 96
ev("motion/2024-m01", "MotionVoted", "2024-11-30", {"motion_id": "2024-m01", "method": "ballot", "for": 64, "against": 32,
   "abstain": 0, "outcome": "adopted"})
decide("2024-011", "alv", "2024-11-30", "Statutenwijziging: digitaal stemmen op de ALV", "governance", "vote", "alv-2024-11", "2024-m01")
decide("2024-012", "alv", "2024-11-30", "Regels van de ALV, het landelijk bestuur en de kascommissie", "governance", "vote", "alv-2024-11")
ev("body/alv", "BodyRulesAdopted", "2024-12-01", {"body_id": "alv", "notice_days": 14, "quorum": 50, "decision_id": "2024-012"})
ev("body/landelijk-bestuur", "BodyRulesAdopted", "2024-12-01", {"body_id": "landelijk-bestuur", "notice_days": 7, "quorum": 4,
   "incompatible_with": ["kascommissie"], "decision_id": "2024-012"})
# BW 2:48 lid 2: the kascommissie is not of the board
ev("body/kascommissie", "BodyRulesAdopted", "2024-12-01", {"body_id": "kascommissie", "notice_days": 7, "quorum": 2,
   "incompatible_with": ["landelijk-bestuur"], "decision_id": "2024-012"})
# from 2025 the ALV, not the national board, appoints the candidates committee
ev("body/kandidatencommissie", "AppointingBodyChanged", "2025-01-01", {"body_id": "kandidatencommissie", "appointed_by": "alv",
   "decision_id": "2024-012"})
ev("meeting/lb-2025-01", "MeetingConvened", "2025-01-02", {"meeting_id": "lb-2025-01", "body_id": "landelijk-bestuur",
   "date": "2025-01-13", "agenda": [{"item": "Jaarplanning 2025", "kind": "ordinary"}]}, expected="no_stream")
ev("meeting/lb-2025-01", "MeetingHeld", "2025-01-13", {"meeting_id": "lb-2025-01", "body_id": "landelijk-bestuur",
   "date": "2025-01-13", "present_count": 5, "quorum_met": True, "minutes_blake3": h("notulen lb-2025-01")})
decide("2025-001", "landelijk-bestuur", "2025-01-13", "Jaarplanning 2025", "policy", "vote", "lb-2025-01")

# --- 2025 (step 10): a royement of two respondents, appealed by one in time from the day their
# notice came (after the deadline), not by the other; a board election with portfolio preferences.
ev("case/r-2025-01", "CaseOpened", "2025-02-01", {"case_id": "r-2025-01", "kind": "royement", "body_id": "landelijk-bestuur",
   "complainants": ["10208"], "respondents": ["10224", "10226"], "subject": "misbruik van ledengegevens"},
   {"summary": "Ledenlijst buiten de partij gedeeld voor een eigen campagne."}, expected="no_stream")
decide("2025-002", "landelijk-bestuur", "2025-03-03", "Royement leden 10224 en 10226", "disciplinary", "vote")
ev("case/r-2025-01", "CaseDecided", "2025-03-03", {"case_id": "r-2025-01", "outcome": "expelled", "decision_id": "2025-002",
   "appeal_deadline": "2025-04-03"})
# 10226 received notice two days later: their term ends 5 April (a month after notice); no appeal.
ev("case/r-2025-01", "NoticeDelivered", "2025-03-05", {"case_id": "r-2025-01", "member_id": "10226"})
# 10224 was abroad and received notice on 31 March: their term runs to 30 April (BW 2:35 lid 2).
ev("case/r-2025-01", "NoticeDelivered", "2025-03-31", {"case_id": "r-2025-01", "member_id": "10224"})
ev("member/10226", "MemberExpelled", "2025-04-07", {"member_id": "10226", "case_id": "r-2025-01", "decision_id": "2025-002"})
ev("case/r-2025-01", "AppealFiled", "2025-04-20", {"case_id": "r-2025-01", "member_id": "10224"})
decide("2025-010", "alv", "2025-06-14", "Beroep van lid 10224 tegen het royement", "disciplinary", "vote")
ev("case/r-2025-01", "AppealDecided", "2025-06-14", {"case_id": "r-2025-01", "outcome": "upheld", "member_id": "10224",
   "decision_id": "2025-010"})
ev("member/10224", "MemberExpelled", "2025-06-15", {"member_id": "10224", "case_id": "r-2025-01", "decision_id": "2025-002"})
ev("case/r-2025-01", "CaseClosed", "2025-06-20", {"case_id": "r-2025-01"})
ev("election/bestuur-2025", "ElectionCalled", "2025-03-01", {"election_id": "bestuur-2025", "body_id": "landelijk-bestuur",
   "seats": [{"role": "algemeen-bestuurslid", "portfolio": "campagne", "count": 1},
             {"role": "algemeen-bestuurslid", "portfolio": "ledenwerving", "count": 1}],
   "candidacy_opens": "2025-03-01", "candidacy_closes": "2025-03-31", "screening_body_id": "kandidatencommissie",
   "requirements": {"cv": True, "motivation": True, "profile_terms_min": 2, "profile_terms_max": 10}}, expected="no_stream")
for mid, prefs, terms in [("10221", ["campagne", "ledenwerving"], ["campagne", "sociale media", "jong"]),
                          ("10222", ["ledenwerving", "campagne"], ["ledenwerving", "afdelingen"])]:
    ev("election/bestuur-2025", "CandidacySubmitted", "2025-03-10", {"election_id": "bestuur-2025", "member_id": mid,
       "preferences": [{"role": "algemeen-bestuurslid", "portfolio": p} for p in prefs],
       "cv_blake3": h("cv " + mid), "motivation_blake3": h("motivatie " + mid)}, {"profile_terms": terms})
for mid in ["10221", "10222"]:
    ev("election/bestuur-2025", "CandidacyScreened", "2025-04-02", {"election_id": "bestuur-2025", "member_id": mid, "admitted": True})
ev("election/bestuur-2025", "ElectionResult", "2025-04-26", {"election_id": "bestuur-2025", "role": "algemeen-bestuurslid",
   "portfolio": "campagne", "tally": [{"member_id": "10221", "votes": 40}, {"member_id": "10222", "votes": 30}],
   "blank": 2, "invalid": 0, "elected": ["10221"]})
ev("election/bestuur-2025", "ElectionResult", "2025-04-26", {"election_id": "bestuur-2025", "role": "algemeen-bestuurslid",
   "portfolio": "ledenwerving", "tally": [{"member_id": "10222", "votes": 45}, {"member_id": "10221", "votes": 20}],
   "blank": 7, "invalid": 0, "elected": ["10222"]})

# --- step 11: who counts, the gift regime dated by law. Appended after everything above (no
# earlier event is rewritten). Figures the tests compute by hand: tests/integration/audit.rs.
# A youth member and a supporter who pay (not counted), a member who becomes a supporter in 2023,
# and a possible duplicate of 10201 (the same name, lower-cased, and residence).
for mid, name, place, joined, kind, cents in [("10240", "Ruben Aydin", "Utrecht", "2021-09-01", "youth_member", 1500),
                                                ("10241", "Sanne Vermeulen", "Den Haag", "2021-09-01", "supporter", 2500),
                                                ("10242", "Tim Janssen", "Groningen", "2021-10-01", "member", 1200),
                                                ("10243", "anna  de vries", "Utrecht", "2021-11-01", "member", 1200)]:
    ev(f"member/{mid}", "MemberJoined", joined, {"member_id": mid, "branch_id": BRANCH[place], "kind": kind},
       {"name": name, "residence": place}, expected="no_stream")
    ev(f"member/{mid}", "ConductCodeSigned", joined, {"member_id": mid, "code_id": "gedragscode", "version": 1})
    for year in (2022, 2024):
        ev(f"member/{mid}", "ContributionPaid", f"{year}-01-10", {"member_id": mid, "year": year, "amount_cents": cents,
           "paid_on": f"{year}-01-10"})
ev("member/10242", "MemberKindChanged", "2023-06-01", {"member_id": "10242", "kind": "supporter"})


def gift(year, donor, cents, received, kind="natural_person", basis="voter", name=None, place="Utrecht", **extra):
    data = {"year": year, "amount_cents": cents, "donor_ref": donor, "donor_kind": kind, "donor_basis": basis,
            "received_on": received}
    data.update(extra)
    ev(f"finance/{year}", "GiftReceived", received, data,
       {"donor_name": name or ("anoniem" if kind == "anonymous" else f"Gever {donor}"), "donor_residence": place})


# 2022, before the amending act: EUR 4,500.00 exactly is disclosed, one cent less is not; an anonymous gift
# of EUR 1,500 with the EUR 500 above the limit returned, one of exactly EUR 1,000 kept; a foreign donor
# (allowed until 2023); a gift in kind; loans of EUR 25,000.00 (disclosed) and one cent less.
ev("finance/2022", "SubsidyApplied", "2021-10-01", {"year": 2022, "recipient": "party", "amount_cents": 21250000,
   "applied_on": "2021-10-01"})
ev("finance/2022", "SubsidyApplied", "2021-10-01", {"year": 2022, "recipient": "youth_org", "amount_cents": 3000000,
   "applied_on": "2021-10-01"})
gift(2022, "d-0060", 450000, "2022-06-01")
gift(2022, "d-0061", 449999, "2022-06-02")
gift(2022, "d-0062", 150000, "2022-07-01", kind="anonymous", basis="other")
ev("finance/2022", "GiftReturned", "2022-07-05", {"year": 2022, "donor_ref": "d-0062", "amount_cents": 50000,
   "returned_on": "2022-07-05", "reason": "anonieme gift: het deel boven EUR 1.000 teruggestort"})
gift(2022, "d-0063", 100000, "2022-07-02", kind="anonymous", basis="other")
gift(2022, "d-0064", 300000, "2022-08-01", basis="other", place="Antwerpen")
gift(2022, "d-0065", 120000, "2022-08-15", kind="legal_person", basis="kvk", in_kind=True,
     description="drukwerk verkiezingsfolders")
ev("finance/2022", "LoanReceived", "2022-10-01", {"year": 2022, "lender_ref": "l-01", "amount_cents": 2500000},
   {"lender_name": "Coöperatieve Bank U.A.", "lender_residence": "Utrecht"})
ev("finance/2022", "LoanReceived", "2022-10-02", {"year": 2022, "lender_ref": "l-02", "amount_cents": 2499999},
   {"lender_name": "H. de Leeuw", "lender_residence": "Zeist"})
# 2024, under the amending act (Stb. 2022, 412): EUR 10,000 reported on day 3 and on day 4; a foreign gift
# returned; an anonymous gift above the limit not returned; a gift in kind of EUR 4,500; a donor at the cap
# exactly, reported the next day; a loan of EUR 25,000; a subsidy applied for and not (yet) received.
ev("finance/2024", "SubsidyApplied", "2023-10-01", {"year": 2024, "recipient": "party", "amount_cents": 23000000,
   "applied_on": "2023-10-01"})
gift(2024, "d-0070", 1000000, "2024-03-01")
ev("finance/2024", "GiftReported", "2024-03-04", {"year": 2024, "donor_ref": "d-0070", "reported_on": "2024-03-04"})
gift(2024, "d-0071", 1000000, "2024-04-01")
ev("finance/2024", "GiftReported", "2024-04-05", {"year": 2024, "donor_ref": "d-0071", "reported_on": "2024-04-05"})
gift(2024, "d-0072", 200000, "2024-05-01", basis="other", place="Brussel")
ev("finance/2024", "GiftReturned", "2024-05-10", {"year": 2024, "donor_ref": "d-0072", "amount_cents": 200000,
   "returned_on": "2024-05-10", "reason": "geen Nederlandse gever (Wfpp art. 23a)"})
gift(2024, "d-0073", 150000, "2024-06-01", kind="anonymous", basis="other")
gift(2024, "d-0074", 450000, "2024-09-01", kind="legal_person", basis="kvk", in_kind=True,
     description="zaalhuur congres")
gift(2024, "d-0075", 6000000, "2024-02-01")
ev("finance/2024", "GiftReported", "2024-02-02", {"year": 2024, "donor_ref": "d-0075", "reported_on": "2024-02-02"})
gift(2024, "d-0075", 4000000, "2024-10-01")
ev("finance/2024", "LoanReceived", "2024-11-01", {"year": 2024, "lender_ref": "l-03", "amount_cents": 2500000},
   {"lender_name": "Coöperatieve Bank U.A.", "lender_residence": "Utrecht"})

for i, e in enumerate(events):
    e["id"] = f"5a3b0000-0000-4000-8000-{i + 1:012x}"
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "sample.jsonl")
with open(out, "w") as f:
    for e in events:
        f.write(json.dumps(e, ensure_ascii=False, separators=(",", ":")) + "\n")
types = {e["type"] for e in events}
print(f"{len(events)} events, {len(types)} event types")
