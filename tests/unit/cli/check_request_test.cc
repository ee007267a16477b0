#include "mash/cli/check_request.h"

#include <gtest/gtest.h>

#include <sstream>

#include "mash/cli/api_client.h"
#include "mash/schemas/validator.h"

namespace mash::cli {
namespace {

using nlohmann::json;

RaiseFlags GoodFlags() {
  RaiseFlags f;
  f.nhs_number = "9434765919";
  f.given_names = "Alex";
  f.family_name = "Smith";
  f.dob = "2015-03-14";
  f.sex = "male";
  f.postcodes = {"SW1A 1AA", "LS1 4AP"};
  f.purpose = "child_protection_s47";
  f.lawful_basis = "uk_gdpr_6_1_e";
  f.consent = "not_sought";
  f.override_ground = "child_significant_harm";
  f.justification = "Seeking consent would place the child at increased risk.";
  f.urgency = "red";
  f.level = 2;
  f.agencies = {"police", "health"};
  f.categories = {"involvement"};
  return f;
}

TEST(BuildRaiseRequestTest, RequestFromFlagsValidatesAgainstTheSchema) {
  auto body = BuildRaiseRequest(GoodFlags());
  ASSERT_TRUE(body.ok()) << body.status().message();
  EXPECT_TRUE(schemas::Validate("check-request", *body).ok());
  EXPECT_EQ((*body)["subject"]["identifiers"]["nhs_number"], "9434765919");
  EXPECT_EQ((*body)["subject"]["family_name"], "Smith");
  EXPECT_EQ((*body)["subject"]["dob"], "2015-03-14");
  EXPECT_EQ((*body)["subject"]["postcodes"], json({"SW1A 1AA", "LS1 4AP"}));
  EXPECT_EQ((*body)["consent"]["state"], "not_sought");
  EXPECT_EQ((*body)["consent"]["override_ground"], "child_significant_harm");
  EXPECT_EQ((*body)["urgency"], "red");
  EXPECT_EQ((*body)["level"], 2);
  EXPECT_EQ((*body)["agencies"], json({"police", "health"}));
  EXPECT_EQ((*body)["categories"], json({"involvement"}));
}

TEST(BuildRaiseRequestTest, OmitsWhatWasNotGiven) {
  RaiseFlags f;
  f.pnc_id = "99/123456X";
  f.purpose = "early_help";
  f.lawful_basis = "uk_gdpr_6_1_e";
  f.consent = "given";
  f.evidence_ref = "CASE-1/consent-form";
  f.urgency = "green";
  f.agencies = {"education"};
  auto body = BuildRaiseRequest(f);
  ASSERT_TRUE(body.ok()) << body.status().message();
  EXPECT_FALSE(body->contains("level"));
  EXPECT_FALSE(body->contains("categories"));
  EXPECT_EQ((*body)["subject"], json({{"identifiers", {{"pnc_id", "99/123456X"}}}}));
  EXPECT_EQ((*body)["consent"],
            json({{"state", "given"}, {"evidence_ref", "CASE-1/consent-form"}}));
}

TEST(BuildRaiseRequestTest, ConsentGivenNeedsEvidenceAndNoOverride) {
  RaiseFlags f = GoodFlags();
  f.consent = "given";
  f.override_ground.clear();
  f.justification.clear();
  auto body = BuildRaiseRequest(f);
  ASSERT_FALSE(body.ok());
  EXPECT_NE(body.status().message().find("/consent/evidence_ref"), std::string::npos);

  f.evidence_ref = "form 12";
  f.override_ground = "serious_crime";
  body = BuildRaiseRequest(f);
  ASSERT_FALSE(body.ok());
  EXPECT_NE(body.status().message().find("/consent/override_ground"), std::string::npos);
}

TEST(BuildRaiseRequestTest, NoConsentNeedsGroundAndJustification) {
  RaiseFlags f = GoodFlags();
  f.override_ground.clear();
  EXPECT_NE(BuildRaiseRequest(f).status().message().find("/consent/override_ground"),
            std::string::npos);
  f = GoodFlags();
  f.justification.clear();
  EXPECT_NE(BuildRaiseRequest(f).status().message().find("/consent/justification"),
            std::string::npos);
  f = GoodFlags();
  f.justification = "too short";  // the schema wants at least 10 characters
  EXPECT_FALSE(BuildRaiseRequest(f).ok());
}

TEST(BuildRaiseRequestTest, SubjectNeedsAnIdentifierOrFamilyNameAndDob) {
  RaiseFlags f = GoodFlags();
  f.nhs_number.clear();
  EXPECT_TRUE(BuildRaiseRequest(f).ok());  // family name and dob remain
  f.dob.clear();
  auto body = BuildRaiseRequest(f);
  ASSERT_FALSE(body.ok());
  EXPECT_NE(body.status().message().find("/subject"), std::string::npos);
}

TEST(BuildRaiseRequestTest, RefusesBadValuesWithoutEchoingThem) {
  RaiseFlags f = GoodFlags();
  f.dob = "14/03/2015";
  auto body = BuildRaiseRequest(f);
  ASSERT_FALSE(body.ok());
  EXPECT_NE(body.status().message().find("/subject/dob"), std::string::npos);
  EXPECT_EQ(body.status().message().find("14/03/2015"), std::string::npos);

  f.dob = "2015-02-30";  // the right shape, not a date
  body = BuildRaiseRequest(f);
  ASSERT_FALSE(body.ok());
  EXPECT_NE(body.status().message().find("/subject/dob"), std::string::npos);

  f = GoodFlags();
  f.urgency = "purple";
  EXPECT_FALSE(BuildRaiseRequest(f).ok());
  f = GoodFlags();
  f.agencies = {"Police!"};
  EXPECT_FALSE(BuildRaiseRequest(f).ok());
  f = GoodFlags();
  f.level = 4;
  EXPECT_FALSE(BuildRaiseRequest(f).ok());
}

TEST(CheckRaiseRequestTest, ChecksHouseholdDates) {
  json body = *BuildRaiseRequest(GoodFlags());
  body["household"] = json::array({{{"family_name", "Smith"}, {"dob", "1990-13-01"}}});
  const Status s = CheckRaiseRequest(body);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("/household/0/dob"), std::string::npos);
  body["household"][0]["dob"] = "1990-12-01";
  EXPECT_TRUE(CheckRaiseRequest(body).ok());
}

TEST(CheckIdTest, OnlyThirtyTwoLowerHex) {
  EXPECT_TRUE(IsCheckId("0123456789abcdef0123456789abcdef"));
  EXPECT_FALSE(IsCheckId("0123456789ABCDEF0123456789abcdef"));
  EXPECT_FALSE(IsCheckId("0123456789abcdef0123456789abcde"));
  EXPECT_FALSE(IsCheckId("../../api/v1/agencies"));
  EXPECT_FALSE(IsCheckId(""));
}

json SampleCheck() {
  return json::parse(R"({
    "id": "0123456789abcdef0123456789abcdef", "state": "partially_answered",
    "purpose": "child_protection_s47", "urgency": "red", "level": 1,
    "agencies": [
      {"agency": "health", "name": "NHS Trust", "state": "answered", "elapsed_ms": 812,
       "answer": {"held": true, "match": "confirmed", "matched_on": ["nhs_number", "dob"],
                  "household": [{"index": 0, "held": true, "match": "possible",
                                 "matched_on": ["family_name", "postcode"]},
                                {"index": 1, "held": false, "match": "none"}],
                  "categories": [
                    {"category": "involvement", "outcome": "shared", "summary": "Known to\u001b[31m GP"},
                    {"category": "sexual_health", "outcome": "withheld", "reason": "never shared"}]}},
      {"agency": "police", "name": "Police", "state": "sent"},
      {"agency": "housing", "name": "Housing", "state": "no_answer"}
    ]})");
}

TEST(PrintCheckTest, ShowsEveryPartAndCategory) {
  std::ostringstream out;
  PrintCheck(SampleCheck(), out);
  const std::string text = out.str();
  for (const char* expected :
       {"0123456789abcdef0123456789abcdef", "partially_answered", "child_protection_s47", "red",
        "agency health (NHS Trust)", "elapsed_ms  812", "held        yes", "match       confirmed",
        "matched_on  nhs_number, dob", "involvement: shared", "sexual_health: withheld",
        "reason: never shared", "agency police (Police)", "state       sent", "no_answer",
        "household   member 0: possible (family_name, postcode)", "household   member 1: none"}) {
    EXPECT_NE(text.find(expected), std::string::npos) << expected << "\n" << text;
  }
  // An escape sequence from the broker never reaches the terminal.
  EXPECT_EQ(text.find('\x1b'), std::string::npos);
  EXPECT_NE(text.find("Known to?[31m GP"), std::string::npos);
}

TEST(PrintCheckTest, ShowsPolicyDutiesAuthorisationAndEachCategorysRule) {
  json check = SampleCheck();
  check["policy_version"] = "sha256:abcd";
  check["obligations"] = {"second_approver", "record_reason"};
  check["authorisation"] = {{"decision", "authorised"},
                            {"by", "m.manager"},
                            {"at", "2026-11-22T10:00:00Z"},
                            {"reason", "strategy\u001b discussion"}};
  auto& part = check["agencies"][0];
  part["level"] = 2;
  part["rule"] = "s47-red-records";
  part["answer"]["policy_version"] = "sha256:ef01";
  part["answer"]["categories"][0]["level"] = 2;
  part["answer"]["categories"][0]["rule"] = "core-health";
  part["answer"]["categories"][0]["redacted"] = {"clinical_notes", 7, "third_party_names"};
  std::ostringstream out;
  PrintCheck(check, out);
  const std::string text = out.str();
  for (const char* expected :
       {"policy   sha256:abcd", "duties   second_approver, record_reason",
        "override authorised by m.manager at 2026-11-22T10:00:00Z: strategy? discussion",
        "level       2 (agreement rule s47-red-records)", "policy      sha256:ef01",
        "involvement: shared, level 2 (rule core-health)",
        "redacted: clinical_notes, third_party_names"}) {
    EXPECT_NE(text.find(expected), std::string::npos) << expected << "\n" << text;
  }
  check.erase("authorisation");
  check["state"] = "awaiting_authorisation";
  std::ostringstream waiting;
  PrintCheck(check, waiting);
  EXPECT_NE(waiting.str().find("mashctl check authorise 0123456789abcdef0123456789abcdef"),
            std::string::npos);
}

TEST(PrintCheckTest, ShowsWhichAgencysCustodianReviewsWhat) {
  json check = SampleCheck();
  check["awaiting_agency_review"] = {"health"};
  auto& part = check["agencies"][0];
  part["state"] = "awaiting_agency_review";
  part["review"] = {{"categories", {"sexual_health", "mental_health"}},
                    {"since", "2026-11-22T10:00:00Z"},
                    {"overdue", true}};
  check["agencies"][1]["late"] = true;
  std::ostringstream out;
  PrintCheck(check, out);
  const std::string text = out.str();
  for (const char* expected :
       {"review   waiting for the custodian of health",
        "waiting for NHS Trust (custodian review: sexual_health, mental_health), past the deadline",
        "late        answered after the deadline"}) {
    EXPECT_NE(text.find(expected), std::string::npos) << expected << "\n" << text;
  }
  // The custodian may take hours: --wait does not hold the practitioner for it.
  EXPECT_TRUE(IsSettled(json::parse(R"({"agencies": [{"state": "awaiting_agency_review"}]})")));
}

TEST(PrintCheckTest, SurvivesMistypedFields) {
  std::ostringstream out;
  PrintCheck(json::parse(
                 R"({"id": 5, "agencies": [3, {"answer": "x"}, {"answer": {"categories": [1]}}]})"),
             out);
  PrintCheck(json::array(), out);
  EXPECT_NE(out.str().find("check    -"), std::string::npos);
}

TEST(SettledTest, OpenPartsAreWaitingOrSent) {
  json check = SampleCheck();
  EXPECT_FALSE(IsSettled(check));
  check["agencies"][1]["state"] = "answered";
  EXPECT_TRUE(IsSettled(check));
  EXPECT_EQ(UnansweredParts(check), 1);
  check["agencies"][1]["state"] = "waiting_for_agent";
  EXPECT_FALSE(IsSettled(check));
  EXPECT_TRUE(IsSettled(json::object()));
}

// A check as GET /api/v1/checks/{id} shows it after the deadline: one agency answered late,
// one chased and breached, still open; an override; household members (broker/src/checks.cc
// CheckService::ToJson).
json OverdueCheck() {
  json check = SampleCheck();
  check["team"] = "north\u001b[2J";
  check["raised_by"] = "p.practitioner";
  check["raised_at"] = "2026-11-22T08:00:00Z";
  check["purpose_name"] = "Section 47 enquiry";
  check["household"] = {{{"family_name", "Smith"}}, {{"family_name", "Jones"}}};
  check["override"] = {{"ground", "child_significant_harm"},
                       {"ground_name", "Risk of significant harm to a child"},
                       {"justification", "Parents\u0007 would flee"}};
  check["due_at"] = "2026-11-22T12:00:00Z";
  check["overdue"] = true;
  check["not_answered"] = {"Police", "Housing"};
  check["note"] = "Police has not answered; Housing\u001b[0m has not answered";
  check["decision"] = nullptr;
  auto& health = check["agencies"][0];
  health["late"] = true;
  health["answer"]["categories"][0]["name"] = "Involvement with services";
  health["answer"]["categories"][0]["why"] =
      "Shared by NHS Trust (rule core-health of policy sha256:ef01)";
  health["answer"]["categories"][1]["name"] = "Sexual health";
  health["answer"]["categories"][1]["why"] = "Withheld by NHS Trust: never\xc2\x9b shared\x1b";
  auto& police = check["agencies"][1];
  police["chased_at"] = "2026-11-22T11:00:00Z";
  police["breached"] = true;
  police["overdue"] = true;
  return check;
}

TEST(PrintCheckTest, ShowsDeadlinesOverrideNoteAndWhyEachCategory) {
  std::ostringstream out;
  PrintCheck(OverdueCheck(), out);
  const std::string text = out.str();
  for (const char* expected :
       {"team     north?[2J, raised by p.practitioner at 2026-11-22T08:00:00Z",
        "purpose  child_protection_s47 (Section 47 enquiry)",
        "due      2026-11-22T12:00:00Z OVERDUE", "household 2 members",
        "ground   child_significant_harm (Risk of significant harm to a child): Parents? would "
        "flee",
        "note     Police has not answered; Housing?[0m has not answered",
        "decide   mashctl check decide 0123456789abcdef0123456789abcdef --outcome "
        "information_and_advice|early_help|child_and_family_assessment|strategy_discussion|"
        "no_further_action --rationale TEXT",
        "late        answered after the deadline",
        "involvement (Involvement with services): shared",
        "why: Shared by NHS Trust (rule core-health of policy sha256:ef01)",
        "sexual_health (Sexual health): withheld", "why: Withheld by NHS Trust: never? shared?",
        "chased      2026-11-22T11:00:00Z", "breached    the deadline passed before it answered",
        "OVERDUE     still open past the deadline"}) {
    EXPECT_NE(text.find(expected), std::string::npos) << expected << "\n" << text;
  }
  // Nothing the broker sent can drive the terminal.
  for (char c : {'\x1b', '\x07'}) EXPECT_EQ(text.find(c), std::string::npos) << int(c);
  EXPECT_EQ(text.find("\xc2\x9b"), std::string::npos);  // C1 CSI in UTF-8
  // Only the part still open is marked overdue; the late answer is not breached.
  EXPECT_EQ(text.find("OVERDUE     "), text.rfind("OVERDUE     "));
  EXPECT_EQ(text.find("breached    "), text.rfind("breached    "));
  EXPECT_EQ(text.find("decision "), std::string::npos);
}

TEST(PrintCheckTest, AClosedCheckShowsItsDecisionAndNoHint) {
  json check = OverdueCheck();
  check["state"] = "closed";
  check["overdue"] = false;
  check.erase("note");
  check["decision"] = {{"outcome", "early_help"},
                       {"rationale", "Family\u001b agreed to support"},
                       {"by", "p.practitioner"},
                       {"at", "2026-11-22T13:00:00Z"}};
  std::ostringstream out;
  PrintCheck(check, out);
  const std::string text = out.str();
  EXPECT_NE(text.find("decision early_help by p.practitioner at 2026-11-22T13:00:00Z: Family? "
                      "agreed to support"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("due      2026-11-22T12:00:00Z\n"), std::string::npos) << text;
  EXPECT_EQ(text.find("mashctl check decide"), std::string::npos);
  EXPECT_EQ(text.find("note     "), std::string::npos);
  // A closed check is settled even with a part still marked sent: --wait stops.
  EXPECT_TRUE(IsSettled(check));
  check["state"] = "dispatched";
  EXPECT_FALSE(IsSettled(check));
}

TEST(PrintCheckTest, DecisionHintOnlyOnceAnsweredOrExpired) {
  for (const char* state : {"answered", "partially_answered", "expired"}) {
    json check = SampleCheck();
    check["state"] = state;
    std::ostringstream out;
    PrintCheck(check, out);
    EXPECT_NE(out.str().find("mashctl check decide"), std::string::npos) << state;
  }
  for (const char* state : {"dispatched", "awaiting_authorisation", "rejected", "closed"}) {
    json check = SampleCheck();
    check["state"] = state;
    std::ostringstream out;
    PrintCheck(check, out);
    EXPECT_EQ(out.str().find("mashctl check decide"), std::string::npos) << state;
  }
}

TEST(PrintCheckTest, ShowsConsentEvidenceWhenGiven) {
  json check = SampleCheck();
  check["consent_evidence"] = "form\u001b 12";
  std::ostringstream out;
  PrintCheck(check, out);
  EXPECT_NE(out.str().find("consent  given, recorded at form? 12"), std::string::npos) << out.str();
  EXPECT_EQ(out.str().find("ground   "), std::string::npos);
}

TEST(PrintCheckListTest, TableWithDeadlinesBreachesAndOutcome) {
  std::ostringstream out;
  PrintCheckList(json::parse(R"({"checks": [
      {"id": "0123456789abcdef0123456789abcdef", "state": "dispatched", "team": "north",
       "raised_by": "p.one", "raised_at": "2026-11-22T08:00:00Z", "purpose": "child_protection_s47",
       "urgency": "red", "agencies": 3, "open_parts": 2, "breaches": 2, "override": true,
       "due_at": "2026-11-22T12:00:00Z", "overdue": true},
      {"id": "fedcba9876543210fedcba9876543210", "state": "closed", "team": "north",
       "raised_by": "p.t\u001bwo", "purpose": "adult_safeguarding", "urgency": "green",
       "agencies": 1, "open_parts": 0, "breaches": 0, "override": false,
       "due_at": "2026-11-29T08:00:00Z", "overdue": false, "outcome": "early_help"},
      {"id": "00000000000000000000000000000000", "state": "awaiting_authorisation",
       "urgency": "amber", "breaches": 0, "purpose": "child_in_need"}]})"),
                 out);
  const std::string text = out.str();
  std::istringstream lines(text);
  std::vector<std::string> rows;
  for (std::string line; std::getline(lines, line);) rows.push_back(line);
  ASSERT_EQ(rows.size(), 4u) << text;
  EXPECT_EQ(rows[0].find("ID"), 0u);
  for (const char* column :
       {"STATE", "URGENCY", "DUE", "BREACHES", "PURPOSE", "RAISED_BY", "OUTCOME"}) {
    EXPECT_NE(rows[0].find(column), std::string::npos) << column;
  }
  for (const char* cell : {"dispatched (override)", "red", "2026-11-22T12:00:00Z OVERDUE", "  2  ",
                           "child_protection_s47", "p.one"}) {
    EXPECT_NE(rows[1].find(cell), std::string::npos) << cell << "\n" << text;
  }
  for (const char* cell : {"closed", "2026-11-29T08:00:00Z ", "p.t?wo", "early_help"}) {
    EXPECT_NE(rows[2].find(cell), std::string::npos) << cell << "\n" << text;
  }
  EXPECT_EQ(rows[2].find("OVERDUE"), std::string::npos);
  EXPECT_EQ(rows[2].find("(override)"), std::string::npos);
  // Missing fields print as "-".
  EXPECT_NE(rows[3].find("awaiting_authorisation  amber"), std::string::npos) << text;
  EXPECT_EQ(text.find('\x1b'), std::string::npos);

  std::ostringstream empty;
  PrintCheckList(json::parse(R"({"checks": []})"), empty);
  EXPECT_EQ(empty.str(), "no checks\n");
  std::ostringstream wrong;
  PrintCheckList(json::array(), wrong);
  EXPECT_EQ(wrong.str(), "no checks\n");
}

TEST(PrintAlertsTest, BlocksWithKindStatusOverrideAndHistory) {
  std::ostringstream out;
  PrintAlerts(json::parse(R"({"alerts": [
      {"id": "00112233445566778899aabbccddeeff", "kind": "override", "status": "new",
       "created_at": "2026-11-22T08:00:00Z", "person": "p.one", "role": "practitioner",
       "team": "north", "summary": "Check raised without consent: Risk of harm",
       "check": "0123456789abcdef0123456789abcdef", "history": [],
       "override": {"state": "dispatched", "purpose": "child_protection_s47", "urgency": "red",
         "consent": "not_sought", "ground": "child_significant_harm",
         "ground_name": "Risk of significant harm to a child",
         "justification": "Parents\u001b[2J would flee", "agencies": 3,
         "authorisation": {"decision": "authorised", "by": "m.manager",
                           "at": "2026-11-22T08:10:00Z", "reason": "agreed in strategy meeting"}}},
      {"id": "fedcba9876543210fedcba9876543210", "kind": "unusual_volume", "status": "closed",
       "created_at": "2026-11-22T07:00:00Z", "person": "p.two", "role": "manager",
       "summary": "More than 20 checks raised within 24 hours",
       "history": [{"at": "2026-11-22T09:00:00Z", "by": "i.officer", "from": "new",
                    "to": "closed", "note": "Reviewed\u0007 ok"}]}]})"),
              out);
  const std::string text = out.str();
  for (const char* expected :
       {"alert 00112233445566778899aabbccddeeff override new",
        "raised      2026-11-22T08:00:00Z, about p.one (practitioner, team north)",
        "summary     Check raised without consent: Risk of harm",
        "check       0123456789abcdef0123456789abcdef",
        "override    dispatched, child_protection_s47, urgency red, 3 agencies, consent not_sought",
        "ground      child_significant_harm (Risk of significant harm to a child)",
        "justified   Parents?[2J would flee",
        "manager     authorised by m.manager at 2026-11-22T08:10:00Z: agreed in strategy meeting",
        "to move it on: mashctl audit alert-status 00112233445566778899aabbccddeeff",
        "alert fedcba9876543210fedcba9876543210 unusual_volume closed", "about p.two (manager)\n",
        "More than 20 checks raised within 24 hours",
        "closed 2026-11-22T09:00:00Z by i.officer: Reviewed? ok"}) {
    EXPECT_NE(text.find(expected), std::string::npos) << expected << "\n" << text;
  }
  EXPECT_EQ(text.find("alert-status fedcba"), std::string::npos) << "closed is final";
  for (char c : {'\x1b', '\x07'}) EXPECT_EQ(text.find(c), std::string::npos) << int(c);
  std::ostringstream empty;
  PrintAlerts(json::parse(R"({"alerts": []})"), empty);
  EXPECT_EQ(empty.str(), "no alerts\n");
}

TEST(DecisionRequestTest, OutcomesAndRationaleLength) {
  for (const char* outcome : {"information_and_advice", "early_help", "child_and_family_assessment",
                              "strategy_discussion", "no_further_action"}) {
    auto body = BuildDecisionRequest(outcome, "Known to services; no current risk");
    ASSERT_TRUE(body.ok()) << outcome;
    EXPECT_EQ(*body,
              json({{"outcome", outcome}, {"rationale", "Known to services; no current risk"}}));
  }
  EXPECT_FALSE(IsMashOutcome("decided"));
  EXPECT_FALSE(IsMashOutcome(""));
  EXPECT_FALSE(BuildDecisionRequest("early help", "long enough rationale").ok());
  EXPECT_FALSE(BuildDecisionRequest("early_help", std::string(9, 'x')).ok());
  EXPECT_TRUE(BuildDecisionRequest("early_help", std::string(10, 'x')).ok());
  EXPECT_TRUE(BuildDecisionRequest("early_help", std::string(4000, 'x')).ok());
  auto too_long = BuildDecisionRequest("early_help", std::string(4001, 'x'));
  ASSERT_FALSE(too_long.ok());
  EXPECT_EQ(too_long.status().message().find("xxx"), std::string::npos);
}

TEST(SafeForTerminalTest, ReplacesC0DelAndC1ButKeepsUtf8) {
  EXPECT_EQ(SafeForTerminal("a\x1b[31mb\x07\x7f"), "a?[31mb??");
  EXPECT_EQ(SafeForTerminal("x\xc2\x9b"
                            "2Jy\xc2\x80"),
            "x?2Jy?");
  // Other UTF-8 passes: U+00A0..U+00FF (also lead byte 0xc2) and beyond.
  EXPECT_EQ(SafeForTerminal("Zo\xc3\xab \xc2\xa3 \xe2\x82\xac"),
            "Zo\xc3\xab \xc2\xa3 \xe2\x82\xac");
  EXPECT_EQ(SafeForTerminal("end\xc2"), "end\xc2");
}

TEST(PrintAgenciesTest, TableWithOnlineStatus) {
  std::ostringstream out;
  PrintAgencies(json::parse(R"({"agencies": [
      {"id": "police", "name": "Police", "type": "police", "online": true},
      {"id": "health", "name": "NHS Trust", "type": "health", "online": false}]})"),
                out);
  const std::string text = out.str();
  EXPECT_NE(text.find("ID"), std::string::npos);
  EXPECT_NE(text.find("police  Police     police  online"), std::string::npos) << text;
  EXPECT_NE(text.find("health  NHS Trust  health  offline"), std::string::npos) << text;
  std::ostringstream empty;
  PrintAgencies(json::object(), empty);
  EXPECT_EQ(empty.str(), "no agencies registered\n");
}

TEST(ParseBrokerUrlTest, AcceptsHttpsHostAndPort) {
  auto a = ParseBrokerUrl("https://hub.example.org:8443");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->host, "hub.example.org");
  EXPECT_EQ(a->port, "8443");
  a = ParseBrokerUrl("https://127.0.0.1:9000/");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->host, "127.0.0.1");
  a = ParseBrokerUrl("https://[::1]:9000");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->host, "::1");
  EXPECT_EQ(a->port, "9000");
  a = ParseBrokerUrl("https://hub");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->port, "443");
}

TEST(ParseBrokerUrlTest, RefusesEverythingElse) {
  for (const char* bad :
       {"http://hub:80", "hub:8443", "https://", "https://hub:0", "https://hub:65536",
        "https://hub:", "https://hub:84x3", "https://user@hub:1", "https://hub:1/api",
        "https://hub:1?x", "https://[::1", "https://[]:1", "https://hub name:1"}) {
    EXPECT_FALSE(ParseBrokerUrl(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace mash::cli
