// The broker's HTTPS JSON API: authentication, validation of every field family, and errors that
// say what is wrong with the request without echoing it.
#include <gtest/gtest.h>

#include <boost/asio/connect.hpp>
#include <boost/beast/http.hpp>
#include <thread>

#include "harness.h"
#include "mash/audit/query.h"
#include "mash/crypto/keys.h"
#include "mash/crypto/tls.h"

namespace mash::testing {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using namespace std::chrono_literals;

constexpr const char* kToken = "4f1c0e7d2b9a8c6e5d4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d";
constexpr const char* kManagerToken =
    "1f2e3d4c5b6a79881f2e3d4c5b6a79881f2e3d4c5b6a79881f2e3d4c5b6a7988";
constexpr const char* kIgToken = "0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9";

class ApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    hub_ = std::make_unique<TestHub>([](broker::BrokerConfig& c) {
      const auto digest = crypto::Sha256(common::AsBytes(kToken));
      c.api_tokens.push_back(
          {"pat.practitioner", "practitioner", common::HexEncode(digest), "mash"});
      const auto ig = crypto::Sha256(common::AsBytes(kIgToken));
      c.api_tokens.push_back({"ian.ig", "ig_officer", common::HexEncode(ig), "mash"});
      const auto manager = crypto::Sha256(common::AsBytes(kManagerToken));
      c.api_tokens.push_back({"mo.manager", "manager", common::HexEncode(manager), "mash"});
    });
    port_ = OnIo(hub_->io(), [&] { return hub_->broker().api_port(); });
  }

  HttpReply Call(http::verb verb, const std::string& target, const std::string& body = "",
                 const std::string& token = kToken,
                 const std::string& content_type = "application/json") {
    return HttpsCall(hub_->pki(), port_, std::string(http::to_string(verb)), target, body, token,
                     content_type);
  }

  static nlohmann::json ValidRequest() { return ConsentedCheckBody({"police", "health"}); }

  std::unique_ptr<TestHub> hub_;
  uint16_t port_ = 0;
};

TEST_F(ApiTest, RequestsWithoutAValidTokenAreRefusedAlike) {
  for (const std::string& token :
       {std::string(), std::string("wrong"), std::string(kToken) + "x"}) {
    const HttpReply r = Call(http::verb::get, "/api/v1/agencies", "", token);
    EXPECT_EQ(r.status, 401) << token;
    EXPECT_EQ(r.body["error"]["message"], "authentication required");
  }
}

TEST_F(ApiTest, RaiseShowAndListAgencies) {
  const HttpReply raised = Call(http::verb::post, "/api/v1/checks", ValidRequest().dump());
  ASSERT_EQ(raised.status, 201) << raised.body.dump();
  const std::string id = raised.body["id"];
  EXPECT_EQ(id.size(), 32u);
  EXPECT_EQ(raised.body["raised_by"], "pat.practitioner");
  EXPECT_EQ(raised.body["consent"], "given");
  const HttpReply shown = Call(http::verb::get, "/api/v1/checks/" + id);
  ASSERT_EQ(shown.status, 200);
  EXPECT_EQ(shown.body["agencies"].size(), 2u);
  // Nobody is connected: both parts wait for their agents.
  for (const auto& p : shown.body["agencies"]) EXPECT_EQ(p["state"], "waiting_for_agent");
  const HttpReply agencies = Call(http::verb::get, "/api/v1/agencies");
  ASSERT_EQ(agencies.status, 200);
  EXPECT_EQ(agencies.body["agencies"].size(), kAgencies.size());
}

// ?wait= holds a view until no agency is left to answer: with one agency offline it times out
// showing that agency still to answer (no compiled_at); once both answered, compiled_at is set,
// after every answer, and a wait returns at once. Bad waits are 400; the view is recorded once
// per request that was answered, however long it waited.
TEST_F(ApiTest, WaitHoldsTheViewUntilEveryAgencyAnswered) {
  hub_->StartAgent("police", Fixture("police"));
  ASSERT_TRUE(hub_->WaitOnline("police", 10s));
  const HttpReply raised = Call(http::verb::post, "/api/v1/checks", ValidRequest().dump());
  ASSERT_EQ(raised.status, 201) << raised.body.dump();
  const std::string id = raised.body["id"];
  EXPECT_FALSE(raised.body.contains("compiled_at"));

  for (const std::string bad : {"?wait=31", "?wait=-1", "?wait=x", "?wait=1&x=2", "?state=open"}) {
    EXPECT_EQ(Call(http::verb::get, "/api/v1/checks/" + id + bad).status, 400) << bad;
  }
  // Health is offline: the wait runs out (the sweep notices within a second).
  const auto t0 = std::chrono::steady_clock::now();
  const HttpReply timed_out = Call(http::verb::get, "/api/v1/checks/" + id + "?wait=1");
  const auto waited = std::chrono::steady_clock::now() - t0;
  ASSERT_EQ(timed_out.status, 200) << timed_out.body.dump();
  EXPECT_GE(waited, 900ms);
  EXPECT_LT(waited, 5s);
  EXPECT_FALSE(timed_out.body.contains("compiled_at"));
  EXPECT_NE(timed_out.body["state"], "answered");

  // A wait outstanding while health connects and answers returns with the compiled check.
  HttpReply compiled;
  std::thread waiter(
      [&] { compiled = Call(http::verb::get, "/api/v1/checks/" + id + "?wait=20"); });
  std::this_thread::sleep_for(300ms);
  const auto started = std::chrono::steady_clock::now();
  hub_->StartAgent("health", Fixture("health"));
  waiter.join();
  EXPECT_LT(std::chrono::steady_clock::now() - started, 15s);
  ASSERT_EQ(compiled.status, 200) << compiled.body.dump();
  EXPECT_EQ(compiled.body["state"], "answered");
  ASSERT_TRUE(compiled.body.contains("compiled_at"));
  const std::string at = compiled.body["compiled_at"];
  for (const auto& part : compiled.body["agencies"]) {
    // Health's policy leaves some categories to its custodian: its part is answered with those
    // still under review (the check is compiled all the same).
    const std::string state = part["state"];
    EXPECT_TRUE(state == "answered" || state == "awaiting_agency_review") << state;
    EXPECT_GE(at, part["answered_at"].get<std::string>());  // same format: text order is time order
  }
  // Compiled: a wait answers at once, with the same compiled_at.
  const auto t1 = std::chrono::steady_clock::now();
  const HttpReply again = Call(http::verb::get, "/api/v1/checks/" + id + "?wait=30");
  EXPECT_LT(std::chrono::steady_clock::now() - t1, 2s);
  EXPECT_EQ(again.body["compiled_at"], at);

  size_t views = 0;
  for (const auto& e : AuditEventsOf(*hub_, id)) {
    if (e.type == audit::EventType::kResultViewed) ++views;
  }
  EXPECT_EQ(views, 3u);  // the timed-out wait, the compiled wait and the last one
}

TEST_F(ApiTest, TheAgreementRefusesWithItsReasonsAndEveryRequestIsAudited) {
  const HttpReply refused =
      Call(http::verb::post, "/api/v1/checks", ValidRequest().dump(), kIgToken);
  ASSERT_EQ(refused.status, 403) << refused.body.dump();
  EXPECT_EQ(refused.body["error"]["code"], "refused");
  const std::string reasons = refused.body["error"]["message"];
  EXPECT_NE(reasons.find("police"), std::string::npos) << reasons;
  EXPECT_EQ(reasons.find("Amelia"), std::string::npos);

  EXPECT_EQ(Call(http::verb::get, "/api/v1/agencies", "", "wrong").status, 401);
  const HttpReply raised = Call(http::verb::post, "/api/v1/checks", ValidRequest().dump());
  ASSERT_EQ(raised.status, 201);
  ASSERT_EQ(Call(http::verb::get, "/api/v1/checks/" + raised.body["id"].get<std::string>()).status,
            200);

  // Requests without a valid token are counted and recorded once a second.
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  auto& log = hub_->broker().audit();
  log.Flush();
  storage::DatabaseOptions o;
  o.file = hub_->config().audit.database;
  o.key_file = hub_->config().audit.database_key;
  auto db = storage::Database::Open(o);
  ASSERT_TRUE(db.ok());
  auto events = audit::QueryEvents(**db, {});
  ASSERT_TRUE(events.ok());
  std::map<std::string, int> seen;
  for (const auto& e : *events) {
    seen[std::string(audit::EventTypeName(e.type)) + "/" + e.person + "/" + e.detail]++;
  }
  EXPECT_EQ((seen["request_refused/ian.ig/agreement"]), 1);
  EXPECT_EQ((seen["request_refused//unauthenticated x1"]), 1);
  EXPECT_EQ((seen["check_raised/pat.practitioner/"]), 1);
  EXPECT_EQ((seen["result_viewed/pat.practitioner/"]), 1);
}

TEST_F(ApiTest, AuthorisationTakesAManagerAWellFormedDecisionAndACheckThatAwaitsIt) {
  nlohmann::json request = ValidRequest();
  request["consent"] = {{"state", "not_sought"},
                        {"override_ground", "child_significant_harm"},
                        {"justification", "Consent would alert the alleged perpetrator."}};
  request["urgency"] = "red";
  const HttpReply raised = Call(http::verb::post, "/api/v1/checks", request.dump());
  ASSERT_EQ(raised.status, 201) << raised.body.dump();
  EXPECT_EQ(raised.body["state"], "awaiting_authorisation");
  const std::string path =
      "/api/v1/checks/" + raised.body["id"].get<std::string>() + "/authorisation";
  const std::string authorise = R"({"decision":"authorise","reason":"strategy meeting today"})";

  EXPECT_EQ(Call(http::verb::get, path, "", kManagerToken).status, 405);
  for (const char* bad :
       {"{", "[]", R"({"decision":"authorise"})", R"({"decision":"maybe","reason":"x"})",
        R"({"decision":"authorise","reason":"x","extra":1})", R"({"decision":1,"reason":"x"})"}) {
    EXPECT_EQ(Call(http::verb::post, path, bad, kManagerToken).status, 400) << bad;
  }
  // The practitioner who raised it is not a manager; an IG officer has no part in the check,
  // which it is not even told exists.
  EXPECT_EQ(Call(http::verb::post, path, authorise).status, 403);
  EXPECT_EQ(Call(http::verb::post, path, authorise, kIgToken).status, 404);
  const HttpReply decided = Call(http::verb::post, path, authorise, kManagerToken);
  ASSERT_EQ(decided.status, 200) << decided.body.dump();
  EXPECT_EQ(decided.body["authorisation"]["by"], "mo.manager");
  // Decided once: a second decision conflicts; an unknown check is not found.
  EXPECT_EQ(Call(http::verb::post, path, authorise, kManagerToken).status, 409);
  EXPECT_EQ(Call(http::verb::post, "/api/v1/checks/" + std::string(32, 'a') + "/authorisation",
                 authorise, kManagerToken)
                .status,
            404);
}

TEST_F(ApiTest, UnknownCheckAndUnknownPathAreNotFound) {
  EXPECT_EQ(Call(http::verb::get, "/api/v1/checks/" + std::string(32, 'a')).status, 404);
  EXPECT_EQ(Call(http::verb::get, "/api/v1/checks/not-an-id").status, 404);
  EXPECT_EQ(Call(http::verb::get, "/api/v2/checks").status, 404);
  EXPECT_EQ(Call(http::verb::delete_, "/api/v1/checks").status, 405);
}

TEST_F(ApiTest, EveryFieldIsValidated) {
  struct Case {
    const char* what;
    std::function<void(nlohmann::json&)> change;
    const char* pointer;
  };
  const std::vector<Case> cases = {
      {"no subject", [](auto& j) { j.erase("subject"); }, "/"},
      {"bad dob", [](auto& j) { j["subject"]["dob"] = "09/03/2015"; }, "/subject/dob"},
      {"bad sex", [](auto& j) { j["subject"]["sex"] = "x"; }, "/subject/sex"},
      {"unknown identifier", [](auto& j) { j["subject"]["identifiers"]["passport"] = "1"; },
       "/subject/identifiers"},
      {"bad purpose", [](auto& j) { j["purpose"] = "Child Protection!"; }, "/purpose"},
      {"bad lawful basis", [](auto& j) { j["lawful_basis"] = ""; }, "/lawful_basis"},
      {"bad consent state", [](auto& j) { j["consent"]["state"] = "maybe"; }, "/consent/state"},
      {"consent without evidence", [](auto& j) { j["consent"].erase("evidence_ref"); },
       "/consent/evidence_ref"},
      {"no consent, no ground",
       [](auto& j) {
         j["consent"] = {{"state", "not_sought"}, {"justification", "a long enough reason"}};
       },
       "/consent/override_ground"},
      {"override without justification",
       [](auto& j) {
         j["consent"] = {{"state", "not_sought"}, {"override_ground", "serious_crime"}};
       },
       "/consent/justification"},
      {"unknown ground",
       [](auto& j) {
         j["consent"] = {{"state", "refused"},
                         {"override_ground", "because"},
                         {"justification", "a long enough reason"}};
       },
       "/consent/override_ground"},
      {"bad urgency", [](auto& j) { j["urgency"] = "purple"; }, "/urgency"},
      {"bad level", [](auto& j) { j["level"] = 4; }, "/level"},
      {"no agencies", [](auto& j) { j["agencies"] = nlohmann::json::array(); }, "/agencies"},
      {"duplicate agencies",
       [](auto& j) {
         j["agencies"] = {"police", "police"};
       },
       "/agencies"},
      {"unregistered agency", [](auto& j) { j["agencies"] = {"martians"}; }, "/agencies"},
      {"unknown field", [](auto& j) { j["priority"] = 1; }, "/"},
      {"nothing to match on",
       [](auto& j) {
         j["subject"] = {{"given_names", "A"}};
       },
       "/subject"},
  };
  for (const auto& c : cases) {
    nlohmann::json body = ValidRequest();
    c.change(body);
    const HttpReply r = Call(http::verb::post, "/api/v1/checks", body.dump());
    EXPECT_EQ(r.status, 400) << c.what;
    const std::string message = r.body["error"]["message"];
    EXPECT_NE(message.find(c.pointer), std::string::npos) << c.what << ": " << message;
    EXPECT_EQ(message.find("Amelia"), std::string::npos) << c.what;
  }
}

TEST_F(ApiTest, MalformedBodiesAreRefused) {
  EXPECT_EQ(Call(http::verb::post, "/api/v1/checks", "{\"subject\":").status, 400);
  EXPECT_EQ(
      Call(http::verb::post, "/api/v1/checks", ValidRequest().dump(), kToken, "text/plain").status,
      415);
  EXPECT_EQ(Call(http::verb::post, "/api/v1/checks", std::string(70 * 1024, ' ')).status, 413);
  std::string deep(100, '[');
  deep += std::string(100, ']');
  EXPECT_EQ(Call(http::verb::post, "/api/v1/checks", deep).status, 400);
}

}  // namespace
}  // namespace mash::testing
