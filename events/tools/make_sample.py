#!/usr/bin/env python3
"""Writes events/sample.jsonl: several years of a small party (codes, members, bodies, an
election, motions, decisions, money). Needs the PyPI package blake3. Run it after changing it,
and commit both."""
import json, blake3
events = []
def ev(stream, typ, eff, data, personal=None):
    e = {"id": None, "stream": stream, "type": typ, "effective": eff, "data": data}
    if personal is not None: e["personal"] = personal
    events.append(e)
def h(s): return blake3.blake3(s.encode()).hexdigest()  # BLAKE3 of a stand-in document text
# bodies
ev("body/alv","BodyEstablished","2018-01-06",{"body_id":"alv","name":"Algemene ledenvergadering","kind":"alv","appointed_by":"alv","seats":[{"role":"lid","count":100000}]})
ev("meeting/alv-2018-01","MeetingHeld","2018-01-06",{"meeting_id":"alv-2018-01","body_id":"alv","date":"2018-01-06","present_count":41,"quorum_met":True})
ev("decision/2018-001","DecisionTaken","2018-01-06",{"decision_id":"2018-001","body_id":"alv","meeting_id":"alv-2018-01","title":"Vaststelling gedragscode","category":"governance","basis":"vote"})
ev("code/gedragscode","CodeVersionAdopted","2018-01-06",{"code_id":"gedragscode","version":1,"title":"Gedragscode 2018","text_blake3":h("gedragscode-v1"),"decision_id":"2018-001"})
ev("body/landelijk-bestuur","BodyEstablished","2018-01-06",{"body_id":"landelijk-bestuur","name":"Landelijk bestuur","kind":"board","appointed_by":"alv","seats":[{"role":"voorzitter","count":1},{"role":"secretaris","count":1},{"role":"penningmeester","count":1},{"role":"algemeen-bestuurslid","portfolio":"campagne","count":1},{"role":"algemeen-bestuurslid","portfolio":"ledenwerving","count":1}],"term_years":3,"max_reappointments":2,"decision_id":"2018-001"})
for b, name in [("afdeling-utrecht","Afdeling Utrecht"),("afdeling-den-haag","Afdeling Den Haag"),("afdeling-groningen","Afdeling Groningen")]:
    ev(f"body/{b}","BodyEstablished","2018-01-06",{"body_id":b,"name":name,"kind":"branch","parent_id":None,"appointed_by":"alv","seats":[{"role":"lid","count":100000}]})
ev("body/afdeling-den-haag/bestuur","BodyEstablished","2018-02-10",{"body_id":"afdeling-den-haag/bestuur","name":"Bestuur afdeling Den Haag","kind":"board","parent_id":"afdeling-den-haag","appointed_by":"afdeling-den-haag","seats":[{"role":"voorzitter","count":1},{"role":"secretaris","count":1},{"role":"penningmeester","count":1}],"term_years":2,"max_reappointments":1})
ev("body/kascommissie","BodyEstablished","2018-01-06",{"body_id":"kascommissie","name":"Kascommissie","kind":"committee","appointed_by":"alv","seats":[{"role":"lid","count":3}],"term_years":1,"max_reappointments":2})
ev("body/geschillencommissie","BodyEstablished","2018-01-06",{"body_id":"geschillencommissie","name":"Geschillencommissie","kind":"committee","appointed_by":"alv","seats":[{"role":"voorzitter","count":1},{"role":"lid","count":2}],"term_years":3,"max_reappointments":1})
ev("body/kandidatencommissie","BodyEstablished","2018-01-06",{"body_id":"kandidatencommissie","name":"Kandidatencommissie","kind":"committee","appointed_by":"landelijk-bestuur","seats":[{"role":"lid","count":3}],"term_years":2})
names = [("Anna de Vries","Utrecht"),("Bram Jansen","Den Haag"),("Chantal Bakker","Groningen"),("Daan Visser","Utrecht"),("Esra Yilmaz","Den Haag"),
 ("Fleur Smit","Groningen"),("Gijs Meijer","Utrecht"),("Hanna de Boer","Den Haag"),("Ilias El Amrani","Utrecht"),("Joke Mulder","Groningen"),
 ("Kees de Groot","Den Haag"),("Lotte Bos","Utrecht"),("Mehmet Kaya","Den Haag"),("Noor Vos","Groningen"),("Olaf Peters","Utrecht"),
 ("Priya Ramdin","Den Haag"),("Quinten Hendriks","Utrecht"),("Roos van Dijk","Groningen"),("Sven Dekker","Utrecht"),("Tess Willems","Den Haag")]
branch = {"Utrecht":"afdeling-utrecht","Den Haag":"afdeling-den-haag","Groningen":"afdeling-groningen"}
members = []
for i,(n,r) in enumerate(names):
    mid = str(10201+i); members.append(mid)
    month = 1 + (i % 11); year = 2018 + (i // 8)
    ev(f"member/{mid}","MemberJoined",f"{year}-{month:02d}-{10+i%15:02d}",{"member_id":mid,"branch_id":branch[r]},{"name":n,"residence":r,"email":f"{n.split()[0].lower()}@example.nl"})
    ev(f"member/{mid}","ConductCodeSigned",f"{year}-{month:02d}-{11+i%15:02d}",{"member_id":mid,"code_id":"gedragscode","version":1})
for y in (2019,2020,2021,2022,2023):
    for i,mid in enumerate(members):
        join_year = 2018 + (i//8)
        if join_year <= y and not (y >= 2022 and mid == "10217"):
            ev(f"member/{mid}","ContributionPaid",f"{y-1}-12-{10+i%15:02d}",{"member_id":mid,"year":y,"amount_cents":1200 if i%4 else 2400})
ev("member/10217","MembershipEnded","2021-12-31",{"member_id":"10217","reason":"resigned"})
ev("member/10207","MemberDetailsChanged","2021-06-01",{"member_id":"10207","branch_id":"afdeling-den-haag"},{"residence":"Den Haag"})
ev("member/10210","ContributionRefunded","2020-03-01",{"member_id":"10210","year":2020,"amount_cents":1200})
# board appointed 2018
ev("decision/2018-002","DecisionTaken","2018-01-06",{"decision_id":"2018-002","body_id":"alv","meeting_id":"alv-2018-01","title":"Benoeming landelijk bestuur","category":"appointment","basis":"vote"})
for mid, role, pf in [("10201","voorzitter",None),("10202","secretaris",None),("10203","penningmeester",None)]:
    d = {"body_id":"landelijk-bestuur","member_id":mid,"role":role,"term_start":"2018-01-06","term_end":"2021-01-05","decision_id":"2018-002"}
    if pf: d["portfolio"]=pf
    ev("body/landelijk-bestuur","MemberAppointed","2018-01-06",d)
ev("body/kascommissie","MemberAppointed","2019-03-16",{"body_id":"kascommissie","member_id":"10206","role":"lid","term_start":"2019-03-16","term_end":"2020-03-15"})
ev("body/kascommissie","MemberAppointed","2019-03-16",{"body_id":"kascommissie","member_id":"10207","role":"lid","term_start":"2019-03-16","term_end":"2020-03-15"})
ev("body/geschillencommissie","MemberAppointed","2019-03-16",{"body_id":"geschillencommissie","member_id":"10209","role":"voorzitter","term_start":"2019-03-16","term_end":"2022-03-15"})
ev("body/kandidatencommissie","MemberAppointed","2019-02-01",{"body_id":"kandidatencommissie","member_id":"10204","role":"lid","term_start":"2019-02-01","term_end":"2021-01-31"})
ev("body/kandidatencommissie","MemberAppointed","2019-02-01",{"body_id":"kandidatencommissie","member_id":"10205","role":"lid","term_start":"2019-02-01","term_end":"2021-01-31"})
# ALV 2020: election of board, motions
ev("meeting/alv-2020-11","MeetingHeld","2020-11-21",{"meeting_id":"alv-2020-11","body_id":"alv","date":"2020-11-21","present_count":87,"quorum_met":True,"minutes_blake3":h("notulen-alv-2020-11")})
ev("election/bestuur-2021","ElectionCalled","2020-09-01",{"election_id":"bestuur-2021","body_id":"landelijk-bestuur","seats":[{"role":"voorzitter","count":1},{"role":"algemeen-bestuurslid","portfolio":"campagne","count":1}],"candidacy_opens":"2020-09-01","candidacy_closes":"2020-10-15","screening_body_id":"kandidatencommissie","meeting_id":"alv-2020-11"})
for mid, prefs, terms, day in [("10201",["voorzitter","algemeen-bestuurslid"],["ervaring bestuur","verbinder","financiën"],"05"),
                                 ("10211",["voorzitter","algemeen-bestuurslid"],["jong","campagne","digitaal"],"12"),
                                 ("10212",["algemeen-bestuurslid","voorzitter"],["campagne","lokale politiek"],"20"),
                                 ("10213",["algemeen-bestuurslid","voorzitter"],["vakbond","onderwijs"],"28")]:
    ev("election/bestuur-2021","CandidacySubmitted",f"2020-09-{day}",{"election_id":"bestuur-2021","member_id":mid,"preferences":prefs,"motivation_blake3":h("motivatie-"+mid)},{"profile_terms":terms})
ev("election/bestuur-2021","CandidacyWithdrawn","2020-10-02",{"election_id":"bestuur-2021","member_id":"10213"})
for mid, ok, reason in [("10201",True,None),("10211",True,None),("10212",False,"Niet voldaan aan de eis van twee jaar lidmaatschap")]:
    d = {"election_id":"bestuur-2021","member_id":mid,"admitted":ok}
    if reason: d["reason"]=reason
    ev("election/bestuur-2021","CandidacyScreened","2020-10-20",d)
ev("election/bestuur-2021","ElectionResult","2020-11-21",{"election_id":"bestuur-2021","role":"voorzitter","tally":[{"member_id":"10201","votes":52},{"member_id":"10211","votes":31}],"blank":3,"invalid":1,"elected":["10201"]})
ev("election/bestuur-2021","ElectionResult","2020-11-21",{"election_id":"bestuur-2021","role":"algemeen-bestuurslid","portfolio":"campagne","tally":[{"member_id":"10211","votes":60}],"blank":20,"invalid":0,"elected":["10211"]})
ev("decision/2020-014","DecisionTaken","2020-11-21",{"decision_id":"2020-014","body_id":"alv","meeting_id":"alv-2020-11","title":"Herbenoeming voorzitter en benoeming bestuurslid campagne","category":"appointment","basis":"vote"})
ev("body/landelijk-bestuur","MemberReappointed","2021-01-05",{"body_id":"landelijk-bestuur","member_id":"10201","role":"voorzitter","term_end":"2024-01-05","decision_id":"2020-014"})
ev("body/landelijk-bestuur","MemberAppointed","2021-01-06",{"body_id":"landelijk-bestuur","member_id":"10211","role":"algemeen-bestuurslid","portfolio":"campagne","term_start":"2021-01-06","term_end":"2024-01-05","decision_id":"2020-014","election_id":"bestuur-2021"})
ev("body/landelijk-bestuur","MemberLeftBody","2020-12-31",{"body_id":"landelijk-bestuur","member_id":"10203","role":"penningmeester","reason":"resigned"})
ev("body/landelijk-bestuur","MemberAppointed","2021-01-06",{"body_id":"landelijk-bestuur","member_id":"10214","role":"penningmeester","term_start":"2021-01-06","term_end":"2024-01-05","decision_id":"2020-014"})
ev("motion/2020-m07","MotionSubmitted","2020-11-01",{"motion_id":"2020-m07","meeting_id":"alv-2020-11","title":"Contributie naar EUR 15","text_blake3":h("motie-2020-m07"),"submitters":["10204","10208"]})
ev("motion/2020-m07a","MotionSubmitted","2020-11-10",{"motion_id":"2020-m07a","meeting_id":"alv-2020-11","title":"Amendement: korting voor jongeren","submitters":["10215"],"amends":"2020-m07"})
ev("motion/2020-m07a","MotionVoted","2020-11-21",{"motion_id":"2020-m07a","method":"show_of_hands","for":40,"against":35,"abstain":12,"outcome":"adopted"})
ev("motion/2020-m07","MotionVoted","2020-11-21",{"motion_id":"2020-m07","method":"ballot","for":50,"against":30,"abstain":7,"outcome":"adopted"})
ev("decision/2020-015","DecisionTaken","2020-11-21",{"decision_id":"2020-015","body_id":"alv","meeting_id":"alv-2020-11","title":"Contributie per 2021","category":"financial","basis":"vote","motion_id":"2020-m07"})
ev("motion/2020-m08","MotionSubmitted","2020-11-02",{"motion_id":"2020-m08","meeting_id":"alv-2020-11","title":"Digitaal stemmen","submitters":["10216"]})
ev("motion/2020-m08","MotionWithdrawn","2020-11-20",{"motion_id":"2020-m08"})
# code v2 2022
ev("decision/2022-003","DecisionTaken","2022-03-12",{"decision_id":"2022-003","body_id":"alv","title":"Safer Space-richtlijnen en gedragscode 2022","category":"policy","basis":"consensus"})
ev("code/gedragscode","CodeVersionAdopted","2022-03-12",{"code_id":"gedragscode","version":2,"title":"Gedragscode 2022","text_blake3":h("gedragscode-v2"),"decision_id":"2022-003"})
ev("code/safer-space","CodeVersionAdopted","2022-03-12",{"code_id":"safer-space","version":1,"title":"Safer Space-richtlijnen","text_blake3":h("safer-space-v1"),"decision_id":"2022-003"})
for i,mid in enumerate(members[:12]):
    if mid == "10217": continue
    ev(f"member/{mid}","ConductCodeSigned",f"2022-04-{1+i:02d}",{"member_id":mid,"code_id":"gedragscode","version":2})
# finance
ev("decision/2021-020","DecisionTaken","2021-11-27",{"decision_id":"2021-020","body_id":"alv","title":"Begroting 2022","category":"financial","basis":"vote","amount_cents":18500000})
ev("finance/2022","BudgetAdopted","2021-11-27",{"year":2022,"decision_id":"2021-020","lines":[{"name":"Campagne","amount_cents":9000000},{"name":"Bureau","amount_cents":7000000},{"name":"Opleiding","amount_cents":2500000}]})
ev("finance/2022","SubsidyReceived","2022-02-15",{"year":2022,"recipient":"party","amount_cents":21250000,"grantor":"Ministerie van BZK"})
ev("finance/2022","SubsidyReceived","2022-02-15",{"year":2022,"recipient":"youth_org","amount_cents":3100000,"grantor":"Ministerie van BZK"})
ev("finance/2022","GiftReceived","2022-05-03",{"year":2022,"amount_cents":250000,"donor_ref":"d-0042","donor_kind":"natural_person","dutch_donor":True},{"donor_name":"J. Pietersen","donor_residence":"Amersfoort"})
ev("finance/2022","GiftReceived","2022-09-19",{"year":2022,"amount_cents":500000,"donor_ref":"d-0043","donor_kind":"legal_person","dutch_donor":True},{"donor_name":"Stichting Vooruit","donor_residence":"Utrecht"})
ev("finance/2023","GiftReceived","2023-03-08",{"year":2023,"amount_cents":1200000,"donor_ref":"d-0042","donor_kind":"natural_person","dutch_donor":True},{"donor_name":"J. Pietersen","donor_residence":"Amersfoort"})
ev("finance/2023","SubsidyReceived","2023-02-14",{"year":2023,"recipient":"party","amount_cents":22400000,"grantor":"Ministerie van BZK"})
ev("decision/2023-002","DecisionTaken","2023-02-20",{"decision_id":"2023-002","body_id":"landelijk-bestuur","title":"Besteding subsidie 2023","category":"subsidy","basis":"mandate","amount_cents":22400000})
ev("decision/2023-003","DecisionTaken","2023-04-02",{"decision_id":"2023-003","body_id":"landelijk-bestuur","title":"Huur campagnebus","category":"financial","basis":"consensus","amount_cents":450000})
ev("decision/2023-004","DecisionTaken","2023-05-10",{"decision_id":"2023-004","body_id":"landelijk-bestuur","title":"Huur kantoor Utrecht","category":"financial","basis":"consensus","amount_cents":1800000})
ev("decision/2023-003","DecisionRevoked","2023-05-10",{"decision_id":"2023-003","by_decision_id":"2023-004","reason":"Vervangen door besluit over huur van kantoor met vervoer"})
# access
ev("access/penningmeester-bureau","AccessGranted","2023-01-02",{"principal":"penningmeester-bureau","role":"secretary","token_blake3":h("token-voorbeeld-niet-geheim")})
for i,e in enumerate(events):
    e["id"] = f"5a3b0000-0000-4000-8000-{i+1:012x}"
with open(__import__("os").path.join(__import__("os").path.dirname(__file__), "..", "sample.jsonl"),"w") as f:
    for e in events:
        f.write(json.dumps(e, ensure_ascii=False, separators=(",",":"))+"\n")
print(len(events))
