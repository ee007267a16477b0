"""The checks the end-to-end benchmark raises (run-e2e.sh), as one JSON document on stdout:

  {"match": [RAISE_BODY, ...], "none": [RAISE_BODY, ...]}

"match": children that health holds with an NHS number, in the first families (kept in every
agency's store), so that agencies which hold them confirm the match; "none": people of another
generator seed, shaped like the held ones, whom no agency holds. The generator numbers NHS numbers
by person (the same for every seed), so a stranger's would be a held person's: theirs are taken
from a range it never issues instead (below 400000000), each with a valid check digit. Every check asks all six
agencies for child protection (s.47) with consent given, at level 1, for the categories each
agency's disclosure policy releases without its custodian: agents answer automatically.

    make_requests.py SYNTH_DIR STRANGERS_DIR RECORDS
"""
import csv
import json
import sys

AGENCIES = ["police", "social-care", "health", "education", "probation", "housing"]
# Released automatically for child-protection-s47 at level 1 (examples/policies/*-disclosure.toml).
CATEGORIES = ["registration", "attendances", "safeguarding_flags", "enrolment", "attendance",
              "exclusions", "sen", "tenancy", "arrears", "antisocial_behaviour", "warning_markers",
              "missing_episodes", "supervision", "risk_level", "referrals", "looked_after_status"]


def subject(p):
    d = {"given_names": p["given_names"], "family_name": p["family_name"]}
    postcodes = [x for x in p["postcodes"].split(";") if x][:1]
    if postcodes:
        d["postcodes"] = postcodes
    if p["dob"]:
        d["dob"] = p["dob"]
    if p["sex"]:
        d["sex"] = p["sex"]
    if p["nhs_number"]:
        d["identifiers"] = {"nhs_number": p["nhs_number"]}
    return d


def request(p, n):
    return {
        "subject": subject(p),
        "purpose": "child-protection-s47",
        "lawful_basis": "uk-gdpr-6-1-e",
        "consent": {"state": "given", "evidence_ref": f"BENCH-CONSENT-{n:06d}"},
        "urgency": "amber",
        "level": 1,
        "agencies": AGENCIES,
        "categories": CATEGORIES,
    }


def nhs_check_digit(nine):
    """The modulus-11 check digit of nine digits, or None when they take none."""
    check = 11 - sum(int(d) * (10 - i) for i, d in enumerate(nine)) % 11
    return 0 if check == 11 else None if check == 10 else check


def unissued_nhs_numbers():
    """Valid NHS numbers that mash-synth never issues (it starts at 400000000)."""
    n = 300000000
    while True:
        nine = f"{n:09d}"
        check = nhs_check_digit(nine)
        if check is not None:
            yield nine + str(check)
        n += 7


def children(path, limit):
    out = []
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            if row["dob"] >= "2010" and row["nhs_number"] and row["family_name"]:
                out.append(row)
                if len(out) >= limit:
                    break
    return out


def main():
    synth, strangers, records = sys.argv[1], sys.argv[2], int(sys.argv[3])
    # Health keeps its first RECORDS people; the children among its first fifth are held in full.
    held = children(f"{synth}/health/people.kept.csv", max(10, min(500, records // 50)))
    unheld = children(f"{strangers}/health/people.csv", 2000)
    if not held or not unheld:
        sys.exit("make_requests: no subjects in the generated records")
    for p, nhs in zip(unheld, unissued_nhs_numbers()):
        p["nhs_number"] = nhs
    json.dump({"match": [request(p, i) for i, p in enumerate(held)],
               "none": [request(p, len(held) + i) for i, p in enumerate(unheld)]},
              sys.stdout)


main()
