// API input validation for every field, over real HTTPS: each refused request gets the right
// status and code, its message names the field (JSON pointer or field name) and never repeats
// the request's personal data, and each refusal the broker records is in the audit trail.
#include <gtest/gtest.h>

#include <boost/beast/http.hpp>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <thread>

#include "harness.h"
#include "mash/audit/query.h"
#include "mash/crypto/keys.h"

namespace mash::testing {
namespace {

namespace http = boost::beast::http;
using namespace std::chrono_literals;

constexpr const char* kPractitioner =
    "7d3c1b9a5e2f4d6c8b0a1f3e5d7c9b2a4f6e8d0c2b4a6f8e1d3c5b7a9f2e4d6c";
constexpr const char* kIg = "2b4d6f8a1c3e5a7c9e1b3d5f7a9c2e4b6d8f1a3c5e7b9d2f4a6c8e1b3d5f7a9c";

// The personal data of the valid request: none of it may appear in any error.
const std::vector<std::string> kPersonal = {"Amelia",     "Jones",   "2015-03-09",
                                            "9434765919", "CF-1042", "perpetrator"};

class ApiValidationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    hub_ = std::make_unique<TestHub>([](broker::BrokerConfig& c) {
      const auto p = crypto::Sha256(common::AsBytes(kPractitioner));
      c.api_tokens.push_back({"pat.practitioner", "practitioner", common::HexEncode(p), "mash"});
      const auto ig = crypto::Sha256(common::AsBytes(kIg));
      c.api_tokens.push_back({"ian.ig", "ig_officer", common::HexEncode(ig), "mash"});
    });
    port_ = OnIo(hub_->io(), [&] { return hub_->broker().api_port(); });
  }

  HttpReply Call(http::verb verb, const std::string& target, const std::string& body = "",
                 const std::string& token = kPractitioner,
                 const std::string& content_type = "application/json") {
    return HttpsCall(hub_->pki(), port_, std::string(http::to_string(verb)), target, body, token,
                     content_type);
  }

  static nlohmann::json ValidRequest() { return ConsentedCheckBody({"police", "health"}); }

  static nlohmann::json OverrideRequest() {
    nlohmann::json r = ValidRequest();
    r["consent"] = {{"state", "not_sought"},
                    {"override_ground", "child_significant_harm"},
                    {"justification", "Consent would alert the alleged perpetrator."}};
    return r;
  }

  // `r` is refused with `status` and `code`, names `field` and repeats nothing of `secrets`
  // or of the valid request's personal data.
  static void ExpectRefused(const HttpReply& r, int status, const std::string& code,
                            const std::string& field, const std::string& what,
                            const std::vector<std::string>& secrets = {}) {
    EXPECT_EQ(r.status, status) << what << ": " << r.body.dump();
    EXPECT_EQ(r.body["error"].value("code", ""), code) << what << ": " << r.body.dump();
    const std::string message = r.body["error"].value("message", "");
    EXPECT_NE(message.find(field), std::string::npos)
        << what << ": the message does not name " << field << ": " << message;
    const std::string dumped = r.body.dump();
    for (const auto& s : kPersonal)
      EXPECT_EQ(dumped.find(s), std::string::npos) << what << ": " << s;
    for (const auto& s : secrets) EXPECT_EQ(dumped.find(s), std::string::npos) << what << ": " << s;
  }

  // The request_refused rows of the audit trail, as "person/detail" -> count.
  std::map<std::string, int> Refusals() {
    hub_->broker().audit().Flush();
    storage::DatabaseOptions o;
    o.file = hub_->config().audit.database;
    o.key_file = hub_->config().audit.database_key;
    auto db = storage::Database::Open(o);
    EXPECT_TRUE(db.ok()) << db.status().ToString();
    if (!db.ok()) return {};
    auto events = audit::QueryEvents(**db, {});
    EXPECT_TRUE(events.ok());
    std::map<std::string, int> seen;
    if (!events.ok()) return seen;
    for (const auto& e : *events) {
      if (e.type != audit::EventType::kRequestRefused) continue;
      seen[e.person + "/" + e.detail]++;
    }
    return seen;
  }

  // Waits (the refusals are appended without waiting) until the trail holds `expected`.
  void ExpectRefusals(const std::map<std::string, int>& expected) {
    std::map<std::string, int> seen;
    for (int i = 0; i < 50; ++i) {
      seen = Refusals();
      if (seen == expected) break;
      std::this_thread::sleep_for(100ms);
    }
    EXPECT_EQ(seen, expected);
  }

  std::string RaiseValid(const nlohmann::json& request) {
    const HttpReply r = Call(http::verb::post, "/api/v1/checks", request.dump());
    EXPECT_EQ(r.status, 201) << r.body.dump();
    return r.body.value("id", "");
  }

  std::unique_ptr<TestHub> hub_;
  uint16_t port_ = 0;
};

TEST_F(ApiValidationTest, RaisingNamesEveryFieldAndRuleAndRecordsTheRefusal) {
  struct Case {
    const char* what;
    std::function<void(nlohmann::json&)> change;
    const char* field;
    std::vector<std::string> secrets;
  };
  const std::string long_nhs = "94347659190000000000";
  const std::vector<Case> cases = {
      {"missing subject", [](auto& j) { j.erase("subject"); }, "/subject", {}},
      {"missing purpose", [](auto& j) { j.erase("purpose"); }, "/purpose", {}},
      {"missing lawful basis", [](auto& j) { j.erase("lawful_basis"); }, "/lawful_basis", {}},
      {"missing consent", [](auto& j) { j.erase("consent"); }, "/consent", {}},
      {"missing consent state", [](auto& j) { j["consent"].erase("state"); }, "/consent/state", {}},
      {"missing urgency", [](auto& j) { j.erase("urgency"); }, "/urgency", {}},
      {"missing agencies", [](auto& j) { j.erase("agencies"); }, "/agencies", {}},
      {"subject with nothing to match on",
       [](auto& j) {
         j["subject"] = {{"given_names", "Amelia"}};
       },
       "/subject",
       {}},
      {"subject with a family name but no dob",
       [](auto& j) {
         j["subject"] = {{"family_name", "Jones"}};
       },
       "/subject",
       {}},
      {"subject with a dob but no family name",
       [](auto& j) {
         j["subject"] = {{"dob", "2015-03-09"}};
       },
       "/subject",
       {}},
      {"bad dob",
       [](auto& j) { j["subject"]["dob"] = "09/03/2015"; },
       "/subject/dob",
       {"09/03/2015"}},
      {"nhs_number too long",
       [&](auto& j) { j["subject"]["identifiers"]["nhs_number"] = long_nhs; },
       "/subject/identifiers/nhs_number",
       {long_nhs}},
      {"nhs_number not a string",
       [](auto& j) { j["subject"]["identifiers"]["nhs_number"] = 9434765919; },
       "/subject/identifiers/nhs_number",
       {}},
      {"unknown identifier kind",
       [](auto& j) { j["subject"]["identifiers"]["passport"] = "P1234567"; },
       "/subject/identifiers/passport",
       {"P1234567"}},
      {"bad sex", [](auto& j) { j["subject"]["sex"] = "x"; }, "/subject/sex", {}},
      {"bad household member dob",
       [](auto& j) {
         j["household"] = {{{"dob", "1/2/1980"}}};
       },
       "/household/0/dob",
       {"1/2/1980"}},
      {"purpose breaks its pattern",
       [](auto& j) { j["purpose"] = "Child Protection!"; },
       "/purpose",
       {"Child Protection!"}},
      {"unknown purpose",
       [](auto& j) { j["purpose"] = "made-up-purpose"; },
       "/purpose",
       {"made-up-purpose"}},
      {"unknown lawful basis",
       [](auto& j) { j["lawful_basis"] = "made-up-basis"; },
       "/lawful_basis",
       {"made-up-basis"}},
      {"bad consent state", [](auto& j) { j["consent"]["state"] = "maybe"; }, "/consent/state", {}},
      {"consent given without evidence",
       [](auto& j) { j["consent"].erase("evidence_ref"); },
       "/consent/evidence_ref",
       {}},
      {"empty evidence",
       [](auto& j) { j["consent"]["evidence_ref"] = ""; },
       "/consent/evidence_ref",
       {}},
      {"override ground with consent given",
       [](auto& j) { j["consent"]["override_ground"] = "serious_crime"; },
       "/consent/override_ground",
       {}},
      {"not sought without override ground",
       [](auto& j) {
         j["consent"] = {{"state", "not_sought"},
                         {"justification", "Consent would alert the alleged perpetrator."}};
       },
       "/consent/override_ground",
       {}},
      {"unknown override ground",
       [](auto& j) {
         j["consent"] = {{"state", "refused"},
                         {"override_ground", "because"},
                         {"justification", "Consent would alert the alleged perpetrator."}};
       },
       "/consent/override_ground",
       {}},
      {"override without justification",
       [](auto& j) {
         j["consent"] = {{"state", "withdrawn"}, {"override_ground", "serious_crime"}};
       },
       "/consent/justification",
       {}},
      {"short justification",
       [](auto& j) {
         j["consent"] = {{"state", "not_sought"},
                         {"override_ground", "serious_crime"},
                         {"justification", "Jones kid"}};
       },
       "/consent/justification",
       {"Jones kid"}},
      {"unknown consent member",
       [](auto& j) { j["consent"]["signed_by"] = "mum"; },
       "/consent/signed_by",
       {"mum"}},
      {"bad urgency", [](auto& j) { j["urgency"] = "purple"; }, "/urgency", {"purple"}},
      {"level 4", [](auto& j) { j["level"] = 4; }, "/level", {}},
      {"level -1", [](auto& j) { j["level"] = -1; }, "/level", {}},
      {"level as a string", [](auto& j) { j["level"] = "2"; }, "/level", {}},
      {"level as a fraction", [](auto& j) { j["level"] = 1.5; }, "/level", {}},
      {"empty agencies", [](auto& j) { j["agencies"] = nlohmann::json::array(); }, "/agencies", {}},
      {"duplicate agencies",
       [](auto& j) {
         j["agencies"] = {"police", "police"};
       },
       "/agencies",
       {}},
      {"agency breaks its pattern", [](auto& j) { j["agencies"] = {"Police"}; }, "/agencies/0", {}},
      {"bad category pattern",
       [](auto& j) { j["categories"] = {"Mental Health"}; },
       "/categories/0",
       {"Mental Health"}},
      {"extra top-level field", [](auto& j) { j["priority"] = 1; }, "/priority", {}},
      {"subject as a string",
       [](auto& j) { j["subject"] = "Amelia Jones 2015-03-09"; },
       "/subject",
       {}},
      {"consent as a string", [](auto& j) { j["consent"] = "given"; }, "/consent", {}},
      {"agencies as a string", [](auto& j) { j["agencies"] = "police"; }, "/agencies", {}},
      {"urgency as a number", [](auto& j) { j["urgency"] = 1; }, "/urgency", {}},
      {"purpose as a number", [](auto& j) { j["purpose"] = 7; }, "/purpose", {}},
      {"household as an object",
       [](auto& j) { j["household"] = nlohmann::json::object(); },
       "/household",
       {}},
      {"body an array", [](auto& j) { j = nlohmann::json::array({j}); }, "invalid at /", {}},
  };
  for (const auto& c : cases) {
    nlohmann::json body = ValidRequest();
    c.change(body);
    ExpectRefused(Call(http::verb::post, "/api/v1/checks", body.dump()), 400, "invalid", c.field,
                  c.what, c.secrets);
  }
  // Beyond the schema: an agency the hub does not know is named (it is not personal data).
  nlohmann::json unknown = ValidRequest();
  unknown["agencies"] = {"police", "martians"};
  ExpectRefused(Call(http::verb::post, "/api/v1/checks", unknown.dump()), 400, "invalid",
                "/agencies", "unknown agency");

  // Not JSON, too deep, too large, not declared JSON.
  ExpectRefused(Call(http::verb::post, "/api/v1/checks", R"({"subject": {"family_name": "Jones")"),
                400, "bad_request", "JSON", "not JSON");
  ExpectRefused(
      Call(http::verb::post, "/api/v1/checks", std::string(40, '[') + std::string(40, ']')), 400,
      "bad_request", "nested", "too deep");
  nlohmann::json big = ValidRequest();
  big["consent"]["evidence_ref"] = "Amelia " + std::string(70 * 1024, 'x');
  ExpectRefused(Call(http::verb::post, "/api/v1/checks", big.dump()), 413, "too_large", "body",
                "body over 64 KiB");
  ExpectRefused(
      Call(http::verb::post, "/api/v1/checks", ValidRequest().dump(), kPractitioner, "text/plain"),
      415, "bad_request", "application/json", "wrong content type");
  ExpectRefused(Call(http::verb::post, "/api/v1/checks", ValidRequest().dump(), kPractitioner,
                     "application/x-www-form-urlencoded"),
                415, "bad_request", "application/json", "form content type");

  // The valid request itself is accepted: the cases above fail for their one change.
  RaiseValid(ValidRequest());

  ExpectRefusals({{"pat.practitioner/invalid_request", static_cast<int>(cases.size())},
                  {"pat.practitioner/unknown_agency", 1},
                  {"pat.practitioner/malformed_request", 2}});
}

TEST_F(ApiValidationTest, DecisionNamesItsFieldsAndRecordsMalformedBodies) {
  const std::string id = RaiseValid(ValidRequest());
  ASSERT_EQ(id.size(), 32u);
  const std::string path = "/api/v1/checks/" + id + "/decision";
  const std::string rationale = "Amelia Jones needs an early help assessment.";
  auto decision = [&](const nlohmann::json& outcome, const nlohmann::json& why) {
    return nlohmann::json{{"outcome", outcome}, {"rationale", why}}.dump();
  };

  ExpectRefused(Call(http::verb::post, path, decision("maybe", rationale)), 400, "invalid",
                "/outcome", "bad outcome", {"maybe"});
  ExpectRefused(Call(http::verb::post, path, decision("early_help", "Amelia J.")), 400, "invalid",
                "/rationale", "short rationale");
  ExpectRefused(
      Call(http::verb::post, path, decision("early_help", "Jones " + std::string(4000, 'x'))), 400,
      "invalid", "/rationale", "long rationale");
  // Malformed bodies: the message names the two fields.
  const std::vector<std::pair<const char*, std::string>> malformed = {
      {"extra field",
       nlohmann::json{{"outcome", "early_help"}, {"rationale", rationale}, {"urgent", true}}
           .dump()},
      {"missing rationale", nlohmann::json{{"outcome", "early_help"}}.dump()},
      {"missing outcome", nlohmann::json{{"rationale", rationale}}.dump()},
      {"outcome a number", decision(3, rationale)},
      {"rationale an array", decision("early_help", nlohmann::json::array({rationale}))},
      {"rationale over 8000 bytes", decision("early_help", "Amelia " + std::string(8000, 'x'))},
      {"not JSON", "outcome=early_help&rationale=Amelia"},
      {"an array", "[\"early_help\"]"},
      {"empty", ""},
  };
  for (const auto& [what, body] : malformed) {
    ExpectRefused(Call(http::verb::post, path, body), 400, "invalid", "\"rationale\"", what);
    const HttpReply again = Call(http::verb::post, path, body);
    EXPECT_NE(again.body["error"].value("message", "").find("\"outcome\""), std::string::npos)
        << what;
  }
  EXPECT_EQ(Call(http::verb::get, path).status, 405);

  // A bad or unknown id is not found, never a server error.
  ExpectRefused(Call(http::verb::post, "/api/v1/checks/not-an-id/decision",
                     decision("early_help", rationale)),
                404, "not_found", "no such", "malformed id");
  ExpectRefused(Call(http::verb::post, "/api/v1/checks/" + std::string(32, 'a') + "/decision",
                     decision("early_help", rationale)),
                404, "not_found", "no such", "unknown id");

  // The well-formed decision is taken: the refusals above were for their one change.
  const HttpReply decided = Call(http::verb::post, path, decision("early_help", rationale));
  ASSERT_EQ(decided.status, 200) << decided.body.dump();
  EXPECT_EQ(decided.body["state"], "closed");
  ExpectRefused(Call(http::verb::post, path, decision("early_help", rationale)), 409, "conflict",
                "closed", "second decision");

  ExpectRefusals({{"pat.practitioner/malformed_request", static_cast<int>(2 * malformed.size())},
                  {"pat.practitioner/decide: invalid_request", 3},
                  {"pat.practitioner/decide: state", 1},
                  {"pat.practitioner/decide: no such check", 1}});
}

TEST_F(ApiValidationTest, AcknowledgementNamesItsFieldAndRecordsRefusals) {
  const std::string id = RaiseValid(OverrideRequest());
  ASSERT_EQ(id.size(), 32u);
  const std::string path = "/api/v1/alerts/" + id + "/acknowledgement";
  auto note = [](const nlohmann::json& n) { return nlohmann::json{{"note", n}}.dump(); };

  ExpectRefused(Call(http::verb::post, path, note("ok"), kIg), 400, "invalid", "/note",
                "short note");
  ExpectRefused(Call(http::verb::post, path, note("Jones " + std::string(2000, 'x')), kIg), 400,
                "invalid", "/note", "long note");
  const std::vector<std::pair<const char*, std::string>> malformed = {
      {"extra field", nlohmann::json{{"note", "seen at IG"}, {"by", "Amelia"}}.dump()},
      {"missing note", "{}"},
      {"note a number", note(1)},
      {"not JSON", "note=Amelia"},
  };
  for (const auto& [what, body] : malformed) {
    ExpectRefused(Call(http::verb::post, path, body, kIg), 400, "invalid", "\"note\"", what);
  }
  // Only IG officers and DPOs acknowledge; a practitioner is refused and recorded.
  ExpectRefused(Call(http::verb::post, path, note("seen at IG"), kPractitioner), 403, "refused",
                "IG", "practitioner");
  ExpectRefused(
      Call(http::verb::post, "/api/v1/alerts/not-an-id/acknowledgement", note("seen at IG"), kIg),
      404, "not_found", "no such", "malformed id");
  ExpectRefused(
      Call(http::verb::post, "/api/v1/alerts/" + std::string(32, 'b') + "/acknowledgement",
           note("seen at IG"), kIg),
      404, "not_found", "no such", "unknown id");
  EXPECT_EQ(Call(http::verb::get, path, "", kIg).status, 405);

  // The path names the check (as older clients do): its override alert is closed with the note.
  const HttpReply acknowledged = Call(http::verb::post, path, note("seen at IG"), kIg);
  ASSERT_EQ(acknowledged.status, 200) << acknowledged.body.dump();
  EXPECT_EQ(acknowledged.body["status"], "closed");
  EXPECT_EQ(acknowledged.body["check"], id);
  ASSERT_EQ(acknowledged.body["history"].size(), 1u);
  EXPECT_EQ(acknowledged.body["history"][0]["by"], "ian.ig");
  EXPECT_EQ(acknowledged.body["history"][0]["note"], "seen at IG");
  ExpectRefused(Call(http::verb::post, path, note("seen at IG"), kIg), 409, "conflict", "closed",
                "second acknowledgement");

  ExpectRefusals({{"ian.ig/malformed_request", static_cast<int>(malformed.size())},
                  {"ian.ig/alert: invalid_request", 2},
                  {"ian.ig/alert: no such alert", 1},
                  {"ian.ig/alert: state", 1},
                  {"pat.practitioner/alert: role", 1}});
}

TEST_F(ApiValidationTest, AlertStatusChangesNameTheirFieldAndFollowTheWorkflow) {
  const std::string check = RaiseValid(OverrideRequest());
  ASSERT_EQ(check.size(), 32u);
  const HttpReply listed = Call(http::verb::get, "/api/v1/alerts?kind=override", "", kIg);
  ASSERT_EQ(listed.status, 200) << listed.body.dump();
  ASSERT_EQ(listed.body["alerts"].size(), 1u);
  const std::string id = listed.body["alerts"][0]["id"];
  EXPECT_NE(id, check);
  EXPECT_EQ(listed.body["alerts"][0]["status"], "new");
  EXPECT_EQ(listed.body["alerts"][0]["person"], "pat.practitioner");
  const std::string path = "/api/v1/alerts/" + id + "/status";
  auto change = [](const std::string& status, const std::string& note = "") {
    nlohmann::json j = {{"status", status}};
    if (!note.empty()) j["note"] = note;
    return j.dump();
  };
  const std::string note = "Ground and justification checked with the team manager.";

  ExpectRefused(Call(http::verb::post, path, change("closed"), kIg), 400, "invalid", "/note",
                "close without a note");
  ExpectRefused(Call(http::verb::post, path, change("escalated", "short"), kIg), 400, "invalid",
                "/note", "short note");
  ExpectRefused(Call(http::verb::post, path, change("archived", note), kIg), 400, "invalid",
                "/status", "unknown status");
  for (const std::string& body :
       {std::string("{}"), std::string("{\"status\": 1}"),
        nlohmann::json{{"status", "closed"}, {"by", "x"}}.dump(), std::string("status=closed")}) {
    ExpectRefused(Call(http::verb::post, path, body, kIg), 400, "invalid", "\"status\"", body);
  }
  ExpectRefused(Call(http::verb::post, path, change("under_review"), kPractitioner), 403, "refused",
                "IG", "practitioner");
  ExpectRefused(Call(http::verb::get, "/api/v1/alerts/" + id, "", kPractitioner), 403, "refused",
                "IG", "practitioner reads");
  ExpectRefused(Call(http::verb::post, "/api/v1/alerts/" + std::string(32, 'd') + "/status",
                     change("under_review"), kIg),
                404, "not_found", "no such", "unknown id");
  EXPECT_EQ(Call(http::verb::get, path, "", kIg).status, 405);

  // new -> under_review (no note needed) -> escalated -> closed; closed is final.
  HttpReply r = Call(http::verb::post, path, change("under_review"), kIg);
  ASSERT_EQ(r.status, 200) << r.body.dump();
  EXPECT_EQ(r.body["status"], "under_review");
  r = Call(http::verb::post, path, change("escalated", note), kIg);
  ASSERT_EQ(r.status, 200) << r.body.dump();
  r = Call(http::verb::post, path, change("closed", note), kIg);
  ASSERT_EQ(r.status, 200) << r.body.dump();
  ExpectRefused(Call(http::verb::post, path, change("new"), kIg), 409, "conflict", "closed",
                "closed to new");
  ExpectRefused(Call(http::verb::post, path, change("under_review"), kIg), 409, "conflict",
                "closed", "reopened");

  const HttpReply shown = Call(http::verb::get, "/api/v1/alerts/" + id, "", kIg);
  ASSERT_EQ(shown.status, 200);
  ASSERT_EQ(shown.body["history"].size(), 3u);
  EXPECT_EQ(shown.body["history"][0]["from"], "new");
  EXPECT_EQ(shown.body["history"][0]["to"], "under_review");
  EXPECT_FALSE(shown.body["history"][0].contains("note"));
  EXPECT_EQ(shown.body["history"][2]["to"], "closed");
  EXPECT_EQ(shown.body["history"][2]["note"], note);
  EXPECT_EQ(shown.body["history"][2]["role"], "ig_officer");
  // Closed alerts leave the default list and show with status=closed.
  EXPECT_TRUE(Call(http::verb::get, "/api/v1/alerts", "", kIg).body["alerts"].empty());
  EXPECT_EQ(Call(http::verb::get, "/api/v1/alerts?status=closed", "", kIg).body["alerts"].size(),
            1u);

  ExpectRefusals({{"ian.ig/malformed_request", 4},
                  {"ian.ig/alert: invalid_request", 3},
                  {"ian.ig/alert: no such alert", 1},
                  {"ian.ig/alert: state", 2},
                  {"pat.practitioner/alert: role", 2}});
}

TEST_F(ApiValidationTest, QueriesAndPathsAreValidated) {
  for (const char* query : {"state=bad", "state=", "state=BAD!", "state=open&state=closed", "foo=1",
                            "state=open;drop"}) {
    ExpectRefused(Call(http::verb::get, std::string("/api/v1/checks?") + query), 400, "invalid",
                  "state", query);
  }
  for (const char* state : {"open", "overdue", "awaiting_authorisation", "closed"}) {
    const HttpReply r = Call(http::verb::get, std::string("/api/v1/checks?state=") + state);
    EXPECT_EQ(r.status, 200) << state << ": " << r.body.dump();
  }
  for (const char* query : {"all=false", "all=true&x=1", "x", "status=new&all=true",
                            "status=", "status=new,,closed", "kind=OVERRIDE", "status=new;drop"}) {
    ExpectRefused(Call(http::verb::get, std::string("/api/v1/alerts?") + query, "", kIg), 400,
                  "invalid", "all=true", query);
  }
  ExpectRefused(Call(http::verb::get, "/api/v1/alerts?status=archived", "", kIg), 400, "invalid",
                "status", "unknown status");
  ExpectRefused(Call(http::verb::get, "/api/v1/alerts?kind=holiday", "", kIg), 400, "invalid",
                "kind", "unknown kind");
  for (const char* query : {"all=true", "status=new&status=closed", "status=new,escalated",
                            "kind=override,out_of_hours&status=under_review"}) {
    EXPECT_EQ(Call(http::verb::get, std::string("/api/v1/alerts?") + query, "", kIg).status, 200)
        << query;
  }
  for (const std::string& bad :
       {std::string("not-an-id"), std::string(32, 'A'), std::string(32, 'a') + "/extra"}) {
    ExpectRefused(Call(http::verb::get, "/api/v1/alerts/" + bad, "", kIg), 404, "not_found",
                  "no such", bad);
  }

  // Ids of another form are simply not found: never a 500, never the id repeated.
  for (const std::string& bad :
       {std::string("not-an-id"), std::string(32, 'A'), std::string(31, 'a'), std::string(33, 'a'),
        std::string(32, 'g'), std::string("..%2f..%2fetc"), std::string(30, 'a') + "%00"}) {
    ExpectRefused(Call(http::verb::get, "/api/v1/checks/" + bad), 404, "not_found", "no such", bad,
                  {bad});
  }
  ExpectRefused(Call(http::verb::get, "/api/v1/checks/" + std::string(32, 'c')), 404, "not_found",
                "no such", "unknown id");
  ExpectRefusals({{"pat.practitioner/show: no such check", 1}});
}

// The bodies the broker sends have the shape schemas/api/openapi.json gives them: every required
// member is there and no member is undocumented.
void ExpectDocumented(const nlohmann::json& body, const std::string& component) {
  static const nlohmann::json doc = [] {
    std::ifstream in(std::filesystem::path(MASH_SOURCE_DIR) / "schemas" / "api" / "openapi.json");
    return nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  }();
  ASSERT_FALSE(doc.is_discarded());
  const auto& schema = doc["components"]["schemas"][component];
  ASSERT_TRUE(schema.is_object()) << component;
  for (const auto& r : schema["required"]) {
    EXPECT_TRUE(body.contains(r.get<std::string>())) << component << " lacks " << r;
  }
  for (const auto& [k, _] : body.items()) {
    EXPECT_TRUE(schema["properties"].contains(k)) << component << "." << k << " is undocumented";
  }
}

TEST_F(ApiValidationTest, ResponsesHaveTheDocumentedShape) {
  const std::string id = RaiseValid(OverrideRequest());
  ASSERT_EQ(id.size(), 32u);
  const HttpReply shown = Call(http::verb::get, "/api/v1/checks/" + id);
  ASSERT_EQ(shown.status, 200);
  ExpectDocumented(shown.body, "Check");
  for (const auto& part : shown.body["agencies"]) ExpectDocumented(part, "CheckPart");
  const HttpReply listed = Call(http::verb::get, "/api/v1/checks");
  ASSERT_EQ(listed.status, 200);
  ASSERT_EQ(listed.body["checks"].size(), 1u);
  ExpectDocumented(listed.body["checks"][0], "CheckSummary");
  const HttpReply acknowledged = Call(http::verb::post, "/api/v1/alerts/" + id + "/acknowledgement",
                                      nlohmann::json{{"note", "seen at IG"}}.dump(), kIg);
  ASSERT_EQ(acknowledged.status, 200);
  ExpectDocumented(acknowledged.body, "Alert");
  ExpectDocumented(acknowledged.body["override"], "AlertOverride");
  for (const auto& change : acknowledged.body["history"]) ExpectDocumented(change, "AlertChange");
  const HttpReply refused = Call(http::verb::get, "/api/v1/checks?state=bad");
  ExpectDocumented(refused.body, "Error");
}

}  // namespace
}  // namespace mash::testing
