// The broker's audit trail and sharing agreement, end to end: every step of a check is an event
// in the Merkle log, refusals are recorded with the agreement's reasons, the broker fails closed
// when the log cannot record, and refuses to start on a log that does not verify.
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "harness.h"
#include "mash/audit/log.h"
#include "mash/audit/query.h"
#include "mash/audit/verify.h"
#include "mash/common/encoding.h"
#include "mash/common/log.h"
#include "mash/crypto/keys.h"
#include "mash/crypto/pseudonym.h"
#include "mash/policy/bundle.h"
#include "mash/policy/store.h"
#include "mash/schemas/messages.h"

namespace mash::testing {
namespace {

using namespace std::chrono_literals;

broker::RaiseRequest ConsentedRequest(std::vector<std::string> agencies) {
  return ConsentedCheck(std::move(agencies));
}

nlohmann::json Peek(TestHub& hub, const std::string& id) { return PeekCheck(hub, id); }

nlohmann::json WaitWhile(TestHub& hub, const std::string& id, const std::string& state,
                         std::chrono::seconds limit) {
  const auto until = std::chrono::steady_clock::now() + limit;
  nlohmann::json shown = Peek(hub, id);
  while (shown["state"] == state && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(20ms);
    shown = Peek(hub, id);
  }
  return shown;
}

class AuditTrailTest : public ::testing::Test {
 protected:
  void SetUp() override { hub_ = std::make_unique<TestHub>(); }

  // A second, read-only connection to the broker's audit database (WAL allows it while the
  // broker writes).
  std::unique_ptr<storage::Database> OpenAuditDb() {
    storage::DatabaseOptions o;
    o.file = hub_->config().audit.database;
    o.key_file = hub_->config().audit.database_key;
    o.create_if_missing = false;
    auto db = storage::Database::Open(o);
    EXPECT_TRUE(db.ok()) << db.status().ToString();
    return db.ok() ? std::move(*db) : nullptr;
  }

  std::vector<audit::AuditEvent> EventsOfCheck(const std::string& check_id) {
    OnIo(hub_->io(), [&] { return 0; });
    hub_->broker().audit().Flush();
    auto db = OpenAuditDb();
    audit::QueryFilter all;
    auto events = audit::QueryEvents(*db, all);
    EXPECT_TRUE(events.ok());
    std::vector<audit::AuditEvent> out;
    for (auto& e : *events) {
      if (e.check_ref == check_id) out.push_back(std::move(e));
    }
    return out;
  }

  static size_t CountOf(const std::vector<audit::AuditEvent>& events, audit::EventType type) {
    return std::count_if(events.begin(), events.end(),
                         [&](const audit::AuditEvent& e) { return e.type == type; });
  }

  std::string AgreementVersion() {
    return OnIo(hub_->io(), [&] { return hub_->broker().checks().agreement().enforced().version; });
  }

  std::unique_ptr<TestHub> hub_;
};

TEST_F(AuditTrailTest, EveryStepOfACheckIsAnEventAndTheLogVerifies) {
  for (const std::string a : {"police", "health"}) hub_->StartAgent(a, Fixture(a));
  ASSERT_TRUE(hub_->WaitOnline("police", 10s));
  ASSERT_TRUE(hub_->WaitOnline("health", 10s));
  auto id = hub_->Raise(ConsentedRequest({"police", "health"}));
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  const nlohmann::json check = WaitWhile(*hub_, *id, "dispatched", 15s);
  ASSERT_EQ(check["state"], "answered") << check.dump(2);
  EXPECT_EQ(check["policy_version"], AgreementVersion());

  const auto events = EventsOfCheck(*id);
  EXPECT_EQ(CountOf(events, audit::EventType::kCheckRaised), 1u);
  EXPECT_EQ(CountOf(events, audit::EventType::kQuerySent), 2u);
  EXPECT_EQ(CountOf(events, audit::EventType::kAnswerReceived), 2u);
  EXPECT_GE(CountOf(events, audit::EventType::kCategoryDisclosed) +
                CountOf(events, audit::EventType::kCategoryWithheld),
            1u);
  for (const auto& e : events) {
    // About whom: pseudonyms only, never the plain identifier.
    ASSERT_FALSE(e.subjects.empty());
    for (const auto& s : e.subjects) EXPECT_TRUE(s.starts_with("ps1:")) << s;
    const std::string json = audit::EventToJson(e).dump();
    EXPECT_EQ(json.find("9434765919"), std::string::npos);
    EXPECT_EQ(json.find("943 476 5919"), std::string::npos);
    EXPECT_EQ(json.find("Amelia"), std::string::npos);
    EXPECT_EQ(e.purpose, "child-protection-s47");
    if (e.type == audit::EventType::kCheckRaised || e.type == audit::EventType::kQuerySent) {
      EXPECT_EQ(e.policy_version, AgreementVersion());
      EXPECT_FALSE(e.rule.empty());
      EXPECT_EQ(e.person, "test.practitioner");
    }
    if (e.type == audit::EventType::kAnswerReceived) {
      // The agency's own policy version, and the hash of its signed answer.
      EXPECT_TRUE(e.policy_version.starts_with("sha256:")) << e.policy_version;
      EXPECT_NE(e.policy_version, AgreementVersion());
      EXPECT_EQ(e.envelope_hashes.size(), 1u);
      EXPECT_EQ(e.role, "agent");
    }
  }

  // IG finds the subject by pseudonym.
  auto key =
      crypto::ReadKeyFile(hub_->config().audit.pseudonym_key, crypto::KeyKind::kPseudonymKey);
  ASSERT_TRUE(key.ok());
  auto p = crypto::Pseudonymiser::Create(std::move(*key));
  ASSERT_TRUE(p.ok());
  auto db = OpenAuditDb();
  audit::QueryFilter by_subject;
  by_subject.subject = p->Pseudonym("nhs_number", "9434765919");
  auto found = audit::QueryEvents(*db, by_subject);
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(found->size(), events.size());

  auto pub = crypto::LoadSigningPublicKey(hub_->config().audit.checkpoint_key.parent_path() /
                                          "hub.audit.sign.pub");
  ASSERT_TRUE(pub.ok());
  audit::VerifyOptions vo;
  vo.origin = "hub";
  auto report = audit::VerifyLog(*db, *pub, vo);
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->ok) << report->problem;
}

// Issue 5: a category the agency's own policy forbids never leaves the agency, whatever the
// hub's agreement allows: the hub sees it withheld with the forbidding rule, and its content
// appears nowhere in the check.
TEST_F(AuditTrailTest, ACategoryTheAgencyPolicyForbidsIsWithheldEndToEnd) {
  const std::filesystem::path policy = hub_->dir() / "police-no-intelligence.toml";
  {
    std::ifstream in(std::filesystem::path(MASH_SOURCE_DIR) / "examples" / "policies" /
                     "police-disclosure.toml");
    std::ostringstream source;
    source << in.rdbuf();
    std::ofstream out(policy);
    out << source.str()
        << "\n[[rule]]\nid = \"no-intelligence-here\"\neffect = \"forbid\"\n"
           "description = \"this force shares no intelligence through the hub\"\n"
           "categories = [\"intelligence\"]\n";
  }
  hub_->StartAgent("police", Fixture("police"),
                   [&](agent::AgentConfig& c, crypto::TlsOptions&) { c.policy.file = policy; });
  ASSERT_TRUE(hub_->WaitOnline("police", 10s));
  auto id = hub_->Raise(ConsentedRequest({"police"}));
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  const nlohmann::json check = WaitWhile(*hub_, *id, "dispatched", 15s);
  const nlohmann::json* police = nullptr;
  for (const auto& part : check["agencies"]) {
    if (part["agency"] == "police") police = &part;
  }
  ASSERT_NE(police, nullptr) << check.dump(2);
  ASSERT_TRUE(police->contains("answer")) << check.dump(2);
  std::map<std::string, nlohmann::json> categories;
  for (const auto& c : (*police)["answer"]["categories"]) categories[c["category"]] = c;
  ASSERT_TRUE(categories.count("intelligence")) << check.dump(2);
  const nlohmann::json& intelligence = categories["intelligence"];
  EXPECT_EQ(intelligence["outcome"], "withheld") << intelligence.dump();
  EXPECT_EQ(intelligence["rule"], "no-intelligence-here") << intelligence.dump();
  EXPECT_FALSE(intelligence.contains("summary"));
  EXPECT_TRUE(!intelligence.contains("records") || intelligence["records"].empty());
  // The same answer still carries what the policy permits: the agent did answer.
  ASSERT_TRUE(categories.count("missing_episodes")) << check.dump(2);
  EXPECT_NE(categories["missing_episodes"]["outcome"], "withheld");
  // The fixture's intelligence summary is nowhere in what the hub holds.
  EXPECT_EQ(check.dump().find("intelligence report"), std::string::npos);

  const auto events = EventsOfCheck(*id);
  const bool recorded = std::any_of(events.begin(), events.end(), [](const auto& e) {
    return e.type == audit::EventType::kCategoryWithheld && !e.categories.empty() &&
           e.categories[0].category == "intelligence" && e.categories[0].disposition == "withheld";
  });
  EXPECT_TRUE(recorded);
}

TEST_F(AuditTrailTest, PolicyAndKeyChangesAreRecordedOnceWhenTheyTakeEffect) {
  auto count = [&](audit::EventType type) {
    hub_->broker().audit().Flush();
    auto db = OpenAuditDb();
    audit::QueryFilter f;
    f.type = type;
    auto events = audit::QueryEvents(*db, f);
    EXPECT_TRUE(events.ok());
    return events.ok() ? *events : std::vector<audit::AuditEvent>{};
  };
  auto published = count(audit::EventType::kPolicyPublished);
  ASSERT_EQ(published.size(), 1u);
  EXPECT_EQ(published[0].policy_version, AgreementVersion());
  EXPECT_EQ(published[0].rule, "northshire-mash-agreement");
  // The hub's keys, the audit key and six agencies' keys.
  EXPECT_EQ(count(audit::EventType::kKeyChanged).size(), 8u);

  hub_->StopBroker();
  hub_->StartBroker();
  EXPECT_EQ(count(audit::EventType::kPolicyPublished).size(), 1u);
  EXPECT_EQ(count(audit::EventType::kKeyChanged).size(), 8u);

  // A re-registered agency key is recorded at the next start.
  hub_->StopBroker();
  const auto keys = hub_->dir() / "keys";
  ASSERT_TRUE(crypto::GenerateKeyPairFiles(keys, "police2").ok());
  for (auto& a : hub_->config().agencies) {
    if (a.id == "police") a.sign_public_key = keys / "police2.sign.pub";
  }
  hub_->StartBroker();
  const auto changed = count(audit::EventType::kKeyChanged);
  ASSERT_EQ(changed.size(), 9u);
  EXPECT_EQ(changed.back().agency, "police");
}

TEST_F(AuditTrailTest, ARefusalByTheAgreementIsExplainedAndRecorded) {
  // An IG officer may not raise checks (hub-agreement.toml, only-mash-staff-raise-checks).
  auto id = hub_->Raise(ConsentedRequest({"police"}), "ig.officer", "ig_officer");
  ASSERT_FALSE(id.ok());
  EXPECT_EQ(id.status().code(), StatusCode::kPermissionDenied);
  EXPECT_NE(id.status().message().find("police"), std::string::npos) << id.status().message();

  hub_->broker().audit().Flush();
  auto db = OpenAuditDb();
  audit::QueryFilter refused;
  refused.type = audit::EventType::kRequestRefused;
  auto events = audit::QueryEvents(*db, refused);
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 1u);
  const auto& e = events->front();
  EXPECT_EQ(e.person, "ig.officer");
  EXPECT_EQ(e.role, "ig_officer");
  EXPECT_EQ(e.outcome, audit::Outcome::kRefused);
  EXPECT_EQ(e.rule, "only-mash-staff-raise-checks");
  EXPECT_EQ(e.policy_version, AgreementVersion());
  EXPECT_FALSE(e.subjects.empty());
}

TEST_F(AuditTrailTest, AnOverrideWaitsForAManagerAndSendsNothing) {
  hub_->StartAgent("police", Fixture("police"));
  ASSERT_TRUE(hub_->WaitOnline("police", 10s));
  broker::RaiseRequest r = ConsentedRequest({"police"});
  r.consent_state = "not_sought";
  r.evidence_ref.clear();
  r.override_ground = "child_significant_harm";
  r.justification = "Seeking consent would place the child at increased risk.";
  auto id = hub_->Raise(r);
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  std::this_thread::sleep_for(300ms);
  const nlohmann::json check = Peek(*hub_, *id);
  EXPECT_EQ(check["state"], "awaiting_authorisation");
  EXPECT_EQ(check["agencies"][0]["state"], "awaiting_authorisation");
  EXPECT_NE(std::find(check["obligations"].begin(), check["obligations"].end(), "second_approver"),
            check["obligations"].end());
  const auto events = EventsOfCheck(*id);
  EXPECT_EQ(CountOf(events, audit::EventType::kCheckRaised), 1u);
  EXPECT_EQ(CountOf(events, audit::EventType::kQuerySent), 0u);
  for (const auto& e : events) EXPECT_EQ(e.override_ground, "child_significant_harm");
}

TEST(AuthorisationTest, NoAgencyIsAskedBeforeTheSecondApproverWhicheverAgencyNeedsIt) {
  // An agreement that wants a second approver for housing only.
  TempDir dir("mash-agreement");
  std::ifstream in(std::filesystem::path(MASH_SOURCE_DIR) / "examples/policies/hub-agreement.toml");
  const std::string source((std::istreambuf_iterator<char>(in)), {});
  std::ofstream(dir / "agreement.toml") << source << R"(
[[rule]]
id = "test-housing-second-approver"
effect = "permit"
roles = ["practitioner"]
purposes = ["child-protection-s47"]
agencies = ["housing"]
max_level = 2
obligations = ["second_approver"]
)";
  TestHub hub([&](broker::BrokerConfig& c) { c.policy.agreement = dir / "agreement.toml"; });
  for (const std::string a : {"police", "housing"}) hub.StartAgent(a, Fixture(a));
  ASSERT_TRUE(hub.WaitOnline("police", 10s));
  ASSERT_TRUE(hub.WaitOnline("housing", 10s));
  auto id = hub.Raise(ConsentedRequest({"police", "housing"}));
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  std::this_thread::sleep_for(300ms);
  nlohmann::json check = Peek(hub, *id);
  EXPECT_EQ(check["state"], "awaiting_authorisation");
  for (const auto& p : check["agencies"]) {
    EXPECT_EQ(p["state"], "awaiting_authorisation") << p.dump();
    EXPECT_FALSE(p.contains("sent_at")) << p.dump();
  }

  // The raiser cannot authorise; a practitioner cannot; a manager can, and then both go out.
  auto decide = [&](const broker::Staff& who, bool approve) {
    auto done = std::make_shared<std::promise<Result<nlohmann::json>>>();
    auto fut = done->get_future();
    boost::asio::post(hub.io(), [&, done] {
      hub.broker().checks().Authorise(*id, who, approve, "strategy discussion today",
                                      [done](Result<nlohmann::json> r) { done->set_value(r); });
    });
    return fut.get();
  };
  EXPECT_EQ(decide({"test.practitioner", "manager", "hub", "mash"}, true).status().code(),
            StatusCode::kPermissionDenied);
  EXPECT_EQ(decide({"other.practitioner", "practitioner", "hub", "mash"}, true).status().code(),
            StatusCode::kPermissionDenied);
  auto authorised = decide({"the.manager", "manager", "hub", "mash"}, true);
  ASSERT_TRUE(authorised.ok()) << authorised.status().ToString();
  EXPECT_EQ((*authorised)["authorisation"]["by"], "the.manager");
  EXPECT_EQ(decide({"the.manager", "manager", "hub", "mash"}, true).status().code(),
            StatusCode::kFailedPrecondition);
  check = WaitWhile(hub, *id, "dispatched", 15s);
  EXPECT_EQ(check["state"], "answered") << check.dump(2);
}

TEST_F(AuditTrailTest, UnknownVocabularyIsRejectedBeforeAnythingHappens) {
  nlohmann::json body = {{"subject", {{"identifiers", {{"nhs_number", "9434765919"}}}}},
                         {"purpose", "curiosity"},
                         {"lawful_basis", "uk-gdpr-6-1-e"},
                         {"consent", {{"state", "given"}, {"evidence_ref", "CF-1"}}},
                         {"urgency", "amber"},
                         {"agencies", {"police"}}};
  auto r = broker::RaiseRequest::FromJson(body);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("/purpose"), std::string::npos);
  body["purpose"] = "early-help";
  body["lawful_basis"] = "because";
  r = broker::RaiseRequest::FromJson(body);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("/lawful_basis"), std::string::npos);
  body["lawful_basis"] = "uk-gdpr-6-1-e";
  EXPECT_TRUE(broker::RaiseRequest::FromJson(body).ok());
}

audit::AuditEvent Filler() {
  audit::AuditEvent e;
  e.type = audit::EventType::kRequestRefused;
  e.outcome = audit::Outcome::kRefused;
  e.detail = "filler";
  return e;
}

// Fills the audit database up to its configured ceiling: batches first, then single events
// (a failed batch is rolled back whole, so smaller ones may still fit), until one small event
// no longer fits.
void FillAuditLog(audit::AuditLog& log) {
  for (int round = 0; round < 400; ++round) {
    std::atomic<int> failed{0};
    for (int i = 0; i < 200; ++i) {
      log.Append(Filler(), [&failed](Result<uint64_t> r) {
        if (!r.ok()) ++failed;
      });
    }
    log.Flush();
    if (failed > 0) break;
  }
  for (int i = 0; i < 100000; ++i) {
    if (!log.AppendAndWait(Filler()).ok()) return;
  }
  FAIL() << "the audit log never filled up";
}

TEST(AuditFailClosedTest, AFullAuditStoreRefusesNewChecks) {
  TestHub hub([](broker::BrokerConfig& c) { c.audit.max_size_mb = 1; });
  FillAuditLog(hub.broker().audit());
  auto id = hub.Raise(ConsentedRequest({"police"}));
  ASSERT_FALSE(id.ok());
  EXPECT_EQ(id.status().code(), StatusCode::kUnavailable);
}

TEST(AuditFailClosedTest, AnAnswerTheLogCannotRecordIsNeverShown) {
  TestHub hub([](broker::BrokerConfig& c) { c.audit.max_size_mb = 1; });
  // Raised while the agency is offline, so that its query waits; the log fills up before the
  // agent connects and answers.
  auto id = hub.Raise(ConsentedRequest({"police"}));
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  FillAuditLog(hub.broker().audit());
  hub.StartAgent("police", Fixture("police"));
  ASSERT_TRUE(hub.WaitOnline("police", 10s));
  nlohmann::json check = WaitWhile(hub, *id, "dispatched", 15s);
  check = WaitWhile(hub, *id, "dispatched", 15s);
  const auto& part = check["agencies"][0];
  EXPECT_EQ(part["state"], "failed") << check.dump(2);
  EXPECT_FALSE(part.contains("answer"));
}

TEST(AgreementShadowTest, AShadowVersionIsEvaluatedAndDifferencesLoggedButNotActedOn) {
  auto sink_stream = std::make_shared<std::ostringstream>();
  common::InitLogging({"test", common::LogLevel::kInfo, false, std::nullopt});
  common::AddLogSink(std::make_shared<spdlog::sinks::ostream_sink_mt>(*sink_stream));
  {
    TempDir store_dir("mash-shadow-store");
    const auto agreement = std::filesystem::path(MASH_SOURCE_DIR) / "examples/policies";
    std::ifstream in(agreement / "hub-agreement.toml");
    const std::string source((std::istreambuf_iterator<char>(in)), {});
    // The shadow version forbids practitioners everything: a change the DPO wants to see the
    // effect of before enforcing it.
    const std::string stricter =
        source + "\n[[rule]]\nid = \"shadow-no-practitioners\"\neffect = \"forbid\"\n" +
        "roles = [\"practitioner\"]\n";
    auto enforced = policy::MakeBundle(source, "hub-agreement.toml");
    auto shadow = policy::MakeBundle(stricter, "hub-agreement.toml");
    ASSERT_TRUE(enforced.ok() && shadow.ok()) << shadow.status().ToString();
    auto store = policy::PolicyStore::Open(store_dir.path(), /*create=*/true);
    ASSERT_TRUE(store.ok());
    ASSERT_TRUE(store->Publish(*enforced, policy::PublishMode::kEnforce, 1000, {}).ok());
    ASSERT_TRUE(store->Publish(*shadow, policy::PublishMode::kShadow, 2000, {}).ok());

    TestHub hub([&](broker::BrokerConfig& c) {
      c.policy.agreement.clear();
      c.policy.store = store_dir.path();
    });
    EXPECT_EQ(OnIo(hub.io(), [&] { return hub.broker().checks().agreement().enforced().version; }),
              enforced->version);
    auto id = hub.Raise(ConsentedRequest({"police"}));
    ASSERT_TRUE(id.ok()) << id.status().ToString();  // the enforced version decides
    spdlog::default_logger()->flush();
    const std::string logs = sink_stream->str();
    const auto at = logs.find("policy.shadow_differs");
    ASSERT_NE(at, std::string::npos);
    const std::string line = logs.substr(at, logs.find('\n', at) - at);
    EXPECT_NE(line.find("shadow-no-practitioners"), std::string::npos) << line;
    EXPECT_NE(line.find(shadow->version), std::string::npos) << line;
  }
  common::InitLogging({"test", common::LogLevel::kWarn, true, std::nullopt});
}

TEST(AuditStartupTest, TheBrokerRefusesToStartOnATamperedLog) {
  TestHub hub;
  auto id = hub.Raise(ConsentedRequest({"police"}));
  ASSERT_TRUE(id.ok());
  ASSERT_TRUE(hub.broker().audit().Checkpoint().ok());
  hub.StopBroker();
  {
    storage::DatabaseOptions o;
    o.file = hub.config().audit.database;
    o.key_file = hub.config().audit.database_key;
    auto db = storage::Database::Open(o);
    ASSERT_TRUE(db.ok());
    // Someone with the database key rewrites who raised the check.
    auto stmt = (*db)->Prepare("SELECT seq, encoded FROM audit_events WHERE type = 'check_raised'");
    ASSERT_TRUE(stmt.ok());
    ASSERT_TRUE(*stmt->Step());
    const int64_t seq = stmt->ColumnInt(0);
    auto encoded = stmt->ColumnBlob(1);
    auto event = audit::DecodeEvent(encoded);
    ASSERT_TRUE(event.ok());
    event->person = "someone.else";
    auto forged = audit::EncodeEvent(*event);
    ASSERT_TRUE(forged.ok());
    auto update = (*db)->Prepare("UPDATE audit_events SET encoded = ?, person = ? WHERE seq = ?");
    ASSERT_TRUE(update.ok());
    update->BindBlob(1, *forged).Bind(2, "someone.else").Bind(3, seq);
    ASSERT_TRUE(update->Run().ok());
  }
  boost::asio::io_context io;
  common::SystemClock clock;
  common::SystemRandom random;
  auto broker = broker::Broker::Create(io, hub.config(), clock, random);
  ASSERT_FALSE(broker.ok());
  EXPECT_EQ(broker.status().code(), StatusCode::kDataLoss) << broker.status().ToString();
}

}  // namespace
}  // namespace mash::testing
