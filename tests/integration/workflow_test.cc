// The check workflow at the hub (issue 6), end to end with a real broker and agents: who may do
// what (roles and teams), overrides that wait for a manager, the MASH decision that closes a
// check, the IG alert queue, checks kept across a restart, deadlines with chasing and breaches,
// and retention that purges a check's contents but leaves a verifiable audit trail.
#include <gtest/gtest.h>

#include <future>
#include <thread>

#include "harness.h"
#include "mash/audit/query.h"
#include "mash/audit/verify.h"
#include "mash/crypto/keys.h"

namespace mash::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

const broker::Staff kPat{"test.practitioner", "practitioner", "hub", "mash"};
const broker::Staff kMo{"mo.manager", "manager", "hub", "mash"};
const broker::Staff kSam{"sam.south", "practitioner", "hub", "south"};
const broker::Staff kSouthManager{"sue.south", "manager", "hub", "south"};
const broker::Staff kIan{"ian.ig", "ig_officer", "hub", ""};
const broker::Staff kAda{"ada.admin", "admin", "hub", ""};

broker::RaiseRequest OverrideCheck(std::vector<std::string> agencies) {
  broker::RaiseRequest r = ConsentedCheck(std::move(agencies), "red");
  r.consent_state = "not_sought";
  r.evidence_ref.clear();
  r.override_ground = "child_significant_harm";
  r.justification = "Mother's partner is the alleged abuser; asking would alert him.";
  return r;
}

// Runs an asynchronous CheckService call on the broker's thread and waits for its answer.
template <typename Fn>
Result<json> Await(TestHub& hub, Fn fn) {
  auto done = std::make_shared<std::promise<Result<json>>>();
  auto fut = done->get_future();
  boost::asio::post(hub.io(), [&hub, fn, done] {
    fn(hub.broker().checks(), [done](Result<json> r) { done->set_value(std::move(r)); });
  });
  if (fut.wait_for(30s) != std::future_status::ready) return Unavailable("no answer");
  return fut.get();
}

// Moves an alert on the broker's thread and waits for the answer.
Result<json> ChangeAlert(TestHub& hub, const std::string& id, const broker::Staff& who,
                         const std::string& status, const std::string& note = "") {
  auto done = std::make_shared<std::promise<Result<json>>>();
  auto fut = done->get_future();
  boost::asio::post(hub.io(), [&hub, id, who, status, note, done] {
    hub.broker().alerts().ChangeStatus(id, who, status, note,
                                       [done](Result<json> r) { done->set_value(std::move(r)); });
  });
  if (fut.wait_for(30s) != std::future_status::ready) return Unavailable("no answer");
  return fut.get();
}

// The alerts `who` sees with `filter` (default: every alert not closed).
Result<json> ListAlerts(TestHub& hub, const broker::Staff& who, broker::AlertFilter filter = {}) {
  return OnIo(hub.io(), [&] { return hub.broker().alerts().List(who, filter); });
}

Result<json> Decide(TestHub& hub, const std::string& id, const broker::Staff& who,
                    const std::string& outcome = "strategy_discussion",
                    const std::string& rationale = "Threshold met: strategy discussion today.") {
  return Await(hub, [=](broker::CheckService& s, broker::CheckService::Done d) {
    s.Decide(id, who, outcome, rationale, std::move(d));
  });
}

Result<json> Authorise(TestHub& hub, const std::string& id, const broker::Staff& who,
                       bool approve) {
  return Await(hub, [=](broker::CheckService& s, broker::CheckService::Done d) {
    s.Authorise(id, who, approve, "Risk to the child outweighs the intrusion.", std::move(d));
  });
}

Result<json> Show(TestHub& hub, const std::string& id, const broker::Staff& who) {
  return Await(hub,
               [=](broker::CheckService& s, broker::CheckService::Done d) { s.Show(id, who, d); });
}

json WaitFor(TestHub& hub, const std::string& id, const std::function<bool(const json&)>& done,
             std::chrono::seconds limit = 20s) {
  const auto until = std::chrono::steady_clock::now() + limit;
  json shown = PeekCheck(hub, id);
  while (!done(shown) && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(20ms);
    shown = PeekCheck(hub, id);
  }
  return shown;
}

bool Settled(const json& check) {
  for (const auto& p : check["agencies"]) {
    if (p["state"] == "sent" || p["state"] == "waiting_for_agent") return false;
  }
  return true;
}

class WorkflowTest : public ::testing::Test {
 protected:
  void Start(std::function<void(broker::BrokerConfig&)> tune = {},
             std::vector<std::string> agencies = {"police", "health"}) {
    hub_ = std::make_unique<TestHub>(std::move(tune));
    for (const auto& a : agencies) hub_->StartAgent(a, Fixture(a));
    for (const auto& a : agencies) ASSERT_TRUE(hub_->WaitOnline(a, 10s)) << a;
  }

  std::vector<audit::AuditEvent> Events(const std::string& check_id = "") {
    return AuditEventsOf(*hub_, check_id);
  }

  size_t Count(const std::string& check_id, audit::EventType type) {
    const auto events = Events(check_id);
    return std::count_if(events.begin(), events.end(),
                         [&](const audit::AuditEvent& e) { return e.type == type; });
  }

  std::unique_ptr<TestHub> hub_;
};

TEST_F(WorkflowTest, OnlyPractitionersAndManagersRaiseChecks) {
  Start();
  for (const std::string role : {"ig_officer", "admin", "dpo", "custodian"}) {
    auto id = hub_->Raise(ConsentedCheck({"police"}), "someone", role);
    ASSERT_FALSE(id.ok()) << role;
    EXPECT_EQ(id.status().code(), StatusCode::kPermissionDenied) << role;
  }
  auto by_manager = hub_->Raise(ConsentedCheck({"police"}), "mo.manager", "manager");
  EXPECT_TRUE(by_manager.ok()) << by_manager.status().ToString();
}

TEST_F(WorkflowTest, NobodyReadsOrDecidesACheckOfAnotherTeam) {
  Start();
  auto id = hub_->Raise(ConsentedCheck({"police"}));
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  WaitFor(*hub_, *id, Settled);

  // Another team's practitioner and manager, the IG officer and the admin: as if there were no
  // such check, and each refusal is in the audit trail.
  for (const auto& who : {kSam, kSouthManager, kIan, kAda}) {
    auto shown = Show(*hub_, *id, who);
    ASSERT_FALSE(shown.ok()) << who.user;
    EXPECT_EQ(shown.status().code(), StatusCode::kNotFound) << who.user;
    auto decided = Decide(*hub_, *id, who);
    ASSERT_FALSE(decided.ok()) << who.user;
    EXPECT_EQ(decided.status().code(), StatusCode::kNotFound) << who.user;
  }
  EXPECT_GE(Count(*id, audit::EventType::kRequestRefused), 8u);
  EXPECT_EQ(Count(*id, audit::EventType::kResultViewed), 0u);
  EXPECT_EQ(Count(*id, audit::EventType::kMashDecisionRecorded), 0u);

  // The team's manager reads it (a result_viewed event) and sees it in the team's list.
  auto shown = Show(*hub_, *id, kMo);
  ASSERT_TRUE(shown.ok()) << shown.status().ToString();
  EXPECT_EQ(Count(*id, audit::EventType::kResultViewed), 1u);
  auto listed = OnIo(hub_->io(), [&] { return hub_->broker().checks().List(kMo, "open"); });
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ((*listed)["checks"].size(), 1u);
  EXPECT_EQ((*listed)["checks"][0]["id"], *id);
  auto south = OnIo(hub_->io(), [&] { return hub_->broker().checks().List(kSam, ""); });
  ASSERT_TRUE(south.ok());
  EXPECT_TRUE((*south)["checks"].empty());
  auto ig = OnIo(hub_->io(), [&] { return hub_->broker().checks().List(kIan, ""); });
  EXPECT_EQ(ig.status().code(), StatusCode::kPermissionDenied);
  auto bad = OnIo(hub_->io(), [&] { return hub_->broker().checks().List(kMo, "everything"); });
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
}

TEST_F(WorkflowTest, AnOverrideIsNeverSentWithoutAManagersAuthorisation) {
  Start();
  auto id = hub_->Raise(OverrideCheck({"police", "health"}));
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  std::this_thread::sleep_for(500ms);
  json check = PeekCheck(*hub_, *id);
  EXPECT_EQ(check["state"], "awaiting_authorisation");
  EXPECT_FALSE(check.contains("due_at")) << "the clock starts at authorisation";

  // The IG alert queue has it, with the ground and justification but no subject.
  auto alerts = ListAlerts(*hub_, kIan);
  ASSERT_TRUE(alerts.ok());
  ASSERT_EQ((*alerts)["alerts"].size(), 1u);
  const json alert = (*alerts)["alerts"][0];
  EXPECT_EQ(alert["kind"], "override");
  EXPECT_EQ(alert["status"], "new");
  EXPECT_EQ(alert["check"], *id);
  EXPECT_EQ(alert["person"], kPat.user);
  EXPECT_EQ(alert["override"]["ground"], "child_significant_harm");
  EXPECT_EQ(alert["override"]["justification"], OverrideCheck({}).justification);
  EXPECT_EQ(alert["summary"].get<std::string>().find("alert him"), std::string::npos)
      << "the summary never holds the justification";
  EXPECT_EQ(alert.dump().find("Amelia"), std::string::npos);
  auto not_ig = ListAlerts(*hub_, kPat);
  EXPECT_EQ(not_ig.status().code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(Count(*id, audit::EventType::kAlertRaised), 1u);

  // Nobody but a manager of the team who did not raise it decides; a decision cannot be
  // recorded before; the other team's manager does not even see it.
  EXPECT_EQ(Authorise(*hub_, *id, kPat, true).status().code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(Authorise(*hub_, *id, kSouthManager, true).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(Decide(*hub_, *id, kPat).status().code(), StatusCode::kFailedPrecondition);

  auto rejected = Authorise(*hub_, *id, kMo, false);
  ASSERT_TRUE(rejected.ok()) << rejected.status().ToString();
  EXPECT_EQ((*rejected)["state"], "rejected");
  EXPECT_EQ(Authorise(*hub_, *id, kMo, true).status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(Decide(*hub_, *id, kPat).status().code(), StatusCode::kFailedPrecondition);
  std::this_thread::sleep_for(300ms);
  const json after_rejection = PeekCheck(*hub_, *id);
  for (const auto& p : after_rejection["agencies"]) EXPECT_EQ(p["state"], "rejected");
  EXPECT_EQ(Count(*id, audit::EventType::kQuerySent), 0u);
  EXPECT_EQ(Count(*id, audit::EventType::kCheckRejected), 1u);

  // The IG officer closes the alert once, with a note.
  const std::string alert_id = alert["id"];
  auto closed =
      ChangeAlert(*hub_, alert_id, kIan, "closed", "Reviewed: ground recorded, rejection fair.");
  ASSERT_TRUE(closed.ok()) << closed.status().ToString();
  EXPECT_EQ((*closed)["status"], "closed");
  EXPECT_EQ((*closed)["history"][0]["by"], "ian.ig");
  auto again = ChangeAlert(*hub_, alert_id, kIan, "closed", "Closing it a second time.");
  EXPECT_EQ(again.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(Count(*id, audit::EventType::kAlertAcknowledged), 1u);
  auto open_alerts = ListAlerts(*hub_, kIan);
  EXPECT_TRUE((*open_alerts)["alerts"].empty());
}

TEST_F(WorkflowTest, AnAuthorisedCheckRunsFromRaisingToDecisionAndCloses) {
  Start();
  auto id = hub_->Raise(OverrideCheck({"police", "health"}));
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  auto authorised = Authorise(*hub_, *id, kMo, true);
  ASSERT_TRUE(authorised.ok()) << authorised.status().ToString();
  ASSERT_TRUE(authorised->contains("due_at"));
  json check = WaitFor(*hub_, *id, [](const json& c) { return c["state"] == "answered"; });
  ASSERT_EQ(check["state"], "answered") << check.dump();
  EXPECT_FALSE(check.contains("not_answered"));
  // The compiled answer says per category what happened and why, in words.
  bool explained = false;
  for (const auto& p : check["agencies"]) {
    for (const auto& c : p["answer"]["categories"]) {
      ASSERT_TRUE(c.contains("why")) << c.dump();
      ASSERT_TRUE(c.contains("name")) << c.dump();
      explained = explained || c["why"].get<std::string>().find(p["name"].get<std::string>()) !=
                                   std::string::npos;
    }
  }
  EXPECT_TRUE(explained);

  // Field by field validation of the decision, then the decision closes the check.
  EXPECT_EQ(Decide(*hub_, *id, kPat, "case_closed").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Decide(*hub_, *id, kPat, "early_help", "short").status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(Decide(*hub_, *id, kPat, "early_help", std::string(4001, 'x')).status().code(),
            StatusCode::kInvalidArgument);
  auto decided = Decide(*hub_, *id, kPat);
  ASSERT_TRUE(decided.ok()) << decided.status().ToString();
  EXPECT_EQ((*decided)["state"], "closed");
  EXPECT_EQ((*decided)["decision"]["outcome"], "strategy_discussion");
  EXPECT_EQ((*decided)["decision"]["by"], "test.practitioner");
  EXPECT_EQ(Decide(*hub_, *id, kMo).status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(Count(*id, audit::EventType::kMashDecisionRecorded), 1u);
  auto closed = OnIo(hub_->io(), [&] { return hub_->broker().checks().List(kMo, "closed"); });
  ASSERT_EQ((*closed)["checks"].size(), 1u);
  EXPECT_EQ((*closed)["checks"][0]["outcome"], "strategy_discussion");
}

TEST_F(WorkflowTest, ChecksSurviveARestartOfTheBroker) {
  Start();
  auto decided_id = hub_->Raise(ConsentedCheck({"police"}));
  ASSERT_TRUE(decided_id.ok());
  WaitFor(*hub_, *decided_id, [](const json& c) { return c["state"] == "answered"; });
  ASSERT_TRUE(Decide(*hub_, *decided_id, kPat).ok());
  auto waiting_id = hub_->Raise(OverrideCheck({"police"}));
  ASSERT_TRUE(waiting_id.ok());
  const json before = PeekCheck(*hub_, *decided_id);

  hub_->StopBroker();
  hub_->StartBroker();
  ASSERT_TRUE(hub_->WaitOnline("police", 15s));

  json after = PeekCheck(*hub_, *decided_id);
  EXPECT_EQ(after["state"], "closed");
  EXPECT_EQ(after["decision"], before["decision"]);
  EXPECT_EQ(after["agencies"][0]["answer"], before["agencies"][0]["answer"]);
  EXPECT_EQ(PeekCheck(*hub_, *waiting_id)["state"], "awaiting_authorisation");
  // The override is authorised after the restart, and its query goes out then.
  ASSERT_TRUE(Authorise(*hub_, *waiting_id, kMo, true).ok());
  json answered =
      WaitFor(*hub_, *waiting_id, [](const json& c) { return c["state"] == "answered"; });
  EXPECT_EQ(answered["state"], "answered") << answered.dump();
}

TEST_F(WorkflowTest, RetentionPurgesContentsAndLeavesAVerifiableAuditTrail) {
  Start([](broker::BrokerConfig& c) { c.check_retention = 1s; });
  auto id = hub_->Raise(ConsentedCheck({"police"}));
  ASSERT_TRUE(id.ok());
  WaitFor(*hub_, *id, [](const json& c) { return c["state"] == "answered"; });
  auto open_id = hub_->Raise(ConsentedCheck({"police"}));
  ASSERT_TRUE(open_id.ok());
  ASSERT_TRUE(Decide(*hub_, *id, kPat).ok());
  std::this_thread::sleep_for(1200ms);
  EXPECT_EQ(OnIo(hub_->io(), [&] { return hub_->broker().checks().PurgeExpired(); }), 1u);
  const auto until = std::chrono::steady_clock::now() + 10s;
  while (OnIo(hub_->io(), [&] { return hub_->broker().checks().Peek(*id).ok(); }) &&
         std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_EQ(OnIo(hub_->io(), [&] { return hub_->broker().checks().Peek(*id).status().code(); }),
            StatusCode::kNotFound);
  EXPECT_TRUE(OnIo(hub_->io(), [&] { return hub_->broker().checks().Peek(*open_id).ok(); }))
      << "an open check is never purged";
  EXPECT_EQ(Count(*id, audit::EventType::kRetentionPurge), 1u);

  // The stored row is a tombstone; nothing of the subject is left in it, and after a restart
  // the purged check stays gone.
  hub_->StopBroker();
  {
    auto store = broker::CheckStore::Open({hub_->config().database, hub_->config().database_key});
    ASSERT_TRUE(store.ok());
    auto row = (*store)->Get(*id);
    ASSERT_TRUE(row.ok() && row->has_value());
    EXPECT_EQ((*row)->state, "purged");
    EXPECT_TRUE((*row)->document.empty());
    EXPECT_NE((*row)->purged_at_ms, 0);
  }
  hub_->StartBroker();
  EXPECT_EQ(OnIo(hub_->io(), [&] { return hub_->broker().checks().Peek(*id).status().code(); }),
            StatusCode::kNotFound);

  // The audit trail still verifies, and still holds the whole history of the purged check.
  hub_->StopBroker();
  storage::DatabaseOptions o{hub_->config().audit.database, hub_->config().audit.database_key,
                             false};
  auto db = storage::Database::Open(o);
  ASSERT_TRUE(db.ok());
  auto pub = crypto::LoadSigningPublicKey(hub_->config().audit.checkpoint_key.parent_path() /
                                          "hub.audit.sign.pub");
  ASSERT_TRUE(pub.ok());
  audit::VerifyOptions vo;
  vo.origin = "hub";
  auto report = audit::VerifyLog(**db, *pub, vo);
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->ok) << report->problem;
  audit::QueryFilter f;
  auto events = audit::QueryEvents(**db, f);
  ASSERT_TRUE(events.ok());
  size_t of_check = 0;
  for (const auto& e : *events) of_check += e.check_ref == *id ? 1 : 0;
  EXPECT_GE(of_check, 5u);  // raised, sent, answer, categories, viewed/decided, purge
}

// Deadlines in working time, on the broker's own (fake) clock: an amber check raised on Christmas
// Eve 2026 at 14:00 is due 24 working hours later across a weekend and two bank holidays (25 and
// 28 December), is chased at three quarters of that, and breached after it. No agent is online,
// so nothing is sealed with the fake time.
TEST(WorkflowDeadlineTest, AcrossAWeekendAndBankHolidaysTheHubChasesThenMarksTheBreach) {
  const auto at = [](const char* rfc3339) {
    std::tm tm{};
    strptime(rfc3339, "%Y-%m-%dT%H:%M:%S", &tm);
    return common::FromUnix(timegm(&tm));
  };
  common::FakeClock clock(at("2026-12-24T14:00:00"));
  TestHub hub(
      [](broker::BrokerConfig& c) {
        c.deadlines.hours.bank_holidays = {std::chrono::year{2026} / 12 / 25,
                                           std::chrono::year{2026} / 12 / 28};
      },
      &clock);
  auto id = hub.Raise(ConsentedCheck({"police"}, "amber"), "test.practitioner", "practitioner");
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  json check = PeekCheck(hub, *id);
  // Thu 24 14:00-17:00 (3 h), Tue 29 (8 h), Wed 30 (8 h), Thu 31 09:00-14:00 (5 h).
  EXPECT_EQ(check["due_at"], "2026-12-31T14:00:00.000Z");
  EXPECT_EQ(check["state"], "dispatched");
  EXPECT_EQ(check["agencies"][0]["state"], "waiting_for_agent");

  const auto sweep_then_peek = [&](const char* when) {
    clock.Set(at(when));
    std::this_thread::sleep_for(1500ms);  // the broker sweeps once a second
    return PeekCheck(hub, *id);
  };
  // 18 working hours (0.75 of 24) are reached on Wed 30 at 16:00: not chased over the holidays.
  check = sweep_then_peek("2026-12-29T17:00:00");
  EXPECT_FALSE(check["agencies"][0].contains("chased_at")) << check.dump(2);
  check = sweep_then_peek("2026-12-30T15:59:00");
  EXPECT_FALSE(check["agencies"][0].contains("chased_at")) << check.dump(2);
  check = sweep_then_peek("2026-12-30T16:01:00");
  EXPECT_EQ(check["agencies"][0]["chased_at"], "2026-12-30T16:01:00.000Z") << check.dump(2);
  EXPECT_FALSE(check["agencies"][0].contains("breached"));
  EXPECT_EQ(check["overdue"], false);

  check = sweep_then_peek("2026-12-31T14:01:00");
  EXPECT_EQ(check["agencies"][0]["breached"], true) << check.dump(2);
  EXPECT_EQ(check["overdue"], true);
  EXPECT_EQ(check["state"], "expired");
  EXPECT_EQ(check["not_answered"], json::array({"police"}));
  EXPECT_NE(check["note"].get<std::string>().find("police has not answered"), std::string::npos);

  // One chase and one breach each, however many sweeps ran.
  const auto events = AuditEventsOf(hub, *id);
  size_t chased = 0;
  size_t breached = 0;
  for (const auto& e : events) {
    chased += e.type == audit::EventType::kAgencyChased ? 1 : 0;
    breached += e.type == audit::EventType::kDeadlineBreached ? 1 : 0;
  }
  EXPECT_EQ(chased, 1u);
  EXPECT_EQ(breached, 1u);
  auto overdue = OnIo(hub.io(), [&] { return hub.broker().checks().List(kPat, "overdue"); });
  ASSERT_TRUE(overdue.ok());
  ASSERT_EQ((*overdue)["checks"].size(), 1u);
  EXPECT_EQ((*overdue)["checks"][0]["breaches"], 1);
}

// ---- the IG alert queue (issue 7): out of hours, unusual volume, statuses, restarts ----------

common::TimePoint At(const char* rfc3339) {
  std::tm tm{};
  strptime(rfc3339, "%Y-%m-%dT%H:%M:%S", &tm);
  return common::FromUnix(timegm(&tm));
}

std::vector<json> AlertsOfKind(TestHub& hub, const std::string& kind) {
  broker::AlertFilter all;
  all.statuses = {"new", "under_review", "escalated", "closed"};
  all.kinds = {kind};
  auto listed = ListAlerts(hub, kIan, all);
  EXPECT_TRUE(listed.ok()) << listed.status().ToString();
  if (!listed.ok()) return {};
  return (*listed)["alerts"].get<std::vector<json>>();
}

// Saturday 21 November 2026 is outside the default working week (Mon-Fri 09:00-17:00
// Europe/London); Monday 23 at 11:00 is inside it. No agent is online (fake time).
TEST(WorkflowAlertTest, ACheckRaisedOnASaturdayMakesOneOutOfHoursAlertAndAWeekdayOneNone) {
  common::FakeClock clock(At("2026-11-21T10:00:00"));
  TestHub hub([](broker::BrokerConfig& c) { c.alerts.out_of_hours = true; }, &clock);
  auto saturday = hub.Raise(ConsentedCheck({"police"}));
  ASSERT_TRUE(saturday.ok()) << saturday.status().ToString();
  auto alerts = AlertsOfKind(hub, "out_of_hours");
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0]["check"], *saturday);
  EXPECT_EQ(alerts[0]["person"], "test.practitioner");
  EXPECT_EQ(alerts[0]["status"], "new");
  EXPECT_EQ(alerts[0]["detail"]["action"], "raised");
  EXPECT_EQ(alerts[0]["created_at"], "2026-11-21T10:00:00.000Z");

  clock.Set(At("2026-11-23T11:00:00"));
  auto monday = hub.Raise(ConsentedCheck({"police"}));
  ASSERT_TRUE(monday.ok());
  EXPECT_EQ(AlertsOfKind(hub, "out_of_hours").size(), 1u) << "a weekday check makes none";
  ASSERT_TRUE(Show(hub, *monday, kPat).ok());
  EXPECT_EQ(AlertsOfKind(hub, "out_of_hours").size(), 1u) << "nor does a weekday view";

  // Viewed at 19:00 on the Monday: one alert for the view, not one per view.
  clock.Set(At("2026-11-23T19:00:00"));
  ASSERT_TRUE(Show(hub, *monday, kPat).ok());
  ASSERT_TRUE(Show(hub, *monday, kPat).ok());
  alerts = AlertsOfKind(hub, "out_of_hours");
  ASSERT_EQ(alerts.size(), 2u);
  EXPECT_EQ(alerts[0]["detail"]["action"], "viewed");
  EXPECT_EQ(alerts[0]["check"], *monday);
  const auto events = AuditEventsOf(hub);
  EXPECT_EQ(std::count_if(events.begin(), events.end(),
                          [](const audit::AuditEvent& e) {
                            return e.type == audit::EventType::kAlertRaised &&
                                   e.person == "test.practitioner";
                          }),
            2);
}

TEST(WorkflowAlertTest, RoundTheClockHoursOrTheSwitchOffMakeNoOutOfHoursAlert) {
  common::FakeClock clock(At("2026-11-21T03:00:00"));
  TestHub always(
      [](broker::BrokerConfig& c) {
        c.alerts.out_of_hours = true;
        c.deadlines.hours.always = true;
      },
      &clock);
  ASSERT_TRUE(always.Raise(ConsentedCheck({"police"})).ok());
  EXPECT_TRUE(AlertsOfKind(always, "out_of_hours").empty());
  TestHub off([](broker::BrokerConfig& c) { c.alerts.out_of_hours = false; }, &clock);
  ASSERT_TRUE(off.Raise(ConsentedCheck({"police"})).ok());
  EXPECT_TRUE(AlertsOfKind(off, "out_of_hours").empty());
}

TEST(WorkflowAlertTest, AVolumeThresholdMakesExactlyOneAlertPerPersonAndWindow) {
  common::FakeClock clock(At("2026-11-24T10:00:00"));
  TestHub hub(
      [](broker::BrokerConfig& c) {
        c.alerts.volume_checks = 3;
        c.alerts.volume_views = 2;
        c.alerts.volume_window = 24h;
      },
      &clock);
  std::vector<std::string> ids;
  for (int i = 0; i < 6; ++i) {
    clock.Set(At("2026-11-24T10:00:00") + std::chrono::minutes(i));
    auto id = hub.Raise(ConsentedCheck({"police"}));
    ASSERT_TRUE(id.ok()) << id.status().ToString();
    ids.push_back(*id);
    EXPECT_EQ(AlertsOfKind(hub, "unusual_volume").size(), i < 3 ? 0u : 1u) << "after " << i + 1;
  }
  auto alerts = AlertsOfKind(hub, "unusual_volume");
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0]["person"], "test.practitioner");
  EXPECT_EQ(alerts[0]["detail"]["measure"], "checks");
  EXPECT_EQ(alerts[0]["detail"]["threshold"], 3);
  EXPECT_FALSE(alerts[0].contains("check"));
  // Another person's checks count for them, not for the first.
  ASSERT_TRUE(hub.Raise(ConsentedCheck({"police"}), "mo.manager", "manager").ok());

  // Three views are more than two: one alert for the views.
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(Show(hub, ids[0], kPat).ok());
  EXPECT_EQ(AlertsOfKind(hub, "unusual_volume").size(), 2u);

  // After a restart the raising counts come back from the checks, and the window of the last
  // alert from the stored alerts: one more check in the same window makes no second alert.
  hub.StopBroker();
  hub.StartBroker();
  clock.Set(At("2026-11-24T12:00:00"));
  ASSERT_TRUE(hub.Raise(ConsentedCheck({"police"})).ok());
  EXPECT_EQ(AlertsOfKind(hub, "unusual_volume").size(), 2u);

  // A day later the window has moved on: four more checks make the next one.
  for (int i = 0; i < 4; ++i) {
    clock.Set(At("2026-11-25T13:00:00") + std::chrono::minutes(i));
    ASSERT_TRUE(hub.Raise(ConsentedCheck({"police"})).ok());
  }
  alerts = AlertsOfKind(hub, "unusual_volume");
  ASSERT_EQ(alerts.size(), 3u);
  EXPECT_EQ(alerts[0]["created_at"], "2026-11-25T13:03:00.000Z");
}

TEST(WorkflowAlertTest, StatusChangesNeedTheRoleAndANoteAndAreAuditedAndKeptAcrossARestart) {
  TestHub hub;
  auto check = hub.Raise(OverrideCheck({"police"}));
  ASSERT_TRUE(check.ok()) << check.status().ToString();
  const auto alert_id =
      OnIo(hub.io(), [&] { return hub.broker().alerts().OverrideAlertOf(*check); });
  ASSERT_TRUE(alert_id.has_value());
  EXPECT_EQ(OnIo(hub.io(), [&] { return hub.broker().alerts().CountNew(); }), 1u);

  // A practitioner (even the one concerned) and a manager are refused, and each refusal is on
  // the record.
  for (const auto& who : {kPat, kMo}) {
    auto refused = ChangeAlert(hub, *alert_id, who, "closed", "Nothing to see here, honestly.");
    EXPECT_EQ(refused.status().code(), StatusCode::kPermissionDenied) << who.user;
  }
  EXPECT_EQ(ChangeAlert(hub, *alert_id, kIan, "closed").status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(ChangeAlert(hub, *alert_id, kIan, "escalated", "too short").status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(ChangeAlert(hub, *alert_id, kIan, "closed", std::string(2001, 'x')).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(ChangeAlert(hub, std::string(32, 'e'), kIan, "under_review").status().code(),
            StatusCode::kNotFound);

  const broker::Staff dpo{"dee.dpo", "dpo", "hub", ""};
  auto review = ChangeAlert(hub, *alert_id, kIan, "under_review");
  ASSERT_TRUE(review.ok()) << review.status().ToString();
  EXPECT_EQ(OnIo(hub.io(), [&] { return hub.broker().alerts().CountNew(); }), 0u);
  auto escalated = ChangeAlert(hub, *alert_id, kIan, "escalated",
                               "Justification thin; DPO to review with the team manager.");
  ASSERT_TRUE(escalated.ok()) << escalated.status().ToString();

  hub.StopBroker();
  hub.StartBroker();
  broker::AlertFilter escalated_only;
  escalated_only.statuses = {"escalated"};
  auto listed = ListAlerts(hub, dpo, escalated_only);
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ((*listed)["alerts"].size(), 1u);
  const json kept = (*listed)["alerts"][0];
  EXPECT_EQ(kept["id"], *alert_id);
  ASSERT_EQ(kept["history"].size(), 2u);
  EXPECT_EQ(kept["history"][1]["note"], "Justification thin; DPO to review with the team manager.");
  EXPECT_EQ(kept["override"]["ground"], "child_significant_harm");

  auto back = ChangeAlert(hub, *alert_id, dpo, "under_review", "Taken back for the DPO's review.");
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  auto closed = ChangeAlert(hub, *alert_id, dpo, "closed", "Proportionate; advice given to team.");
  ASSERT_TRUE(closed.ok()) << closed.status().ToString();
  EXPECT_EQ(ChangeAlert(hub, *alert_id, dpo, "new").status().code(),
            StatusCode::kFailedPrecondition);
  EXPECT_EQ(
      ChangeAlert(hub, *alert_id, dpo, "escalated", "Reopening a closed alert.").status().code(),
      StatusCode::kFailedPrecondition);

  const auto events = AuditEventsOf(hub, *check);
  auto count = [&](audit::EventType t, const std::string& detail = "") {
    return std::count_if(events.begin(), events.end(), [&](const audit::AuditEvent& e) {
      return e.type == t && (detail.empty() || e.detail == detail);
    });
  };
  EXPECT_EQ(count(audit::EventType::kAlertRaised), 1);
  EXPECT_EQ(count(audit::EventType::kAlertStatusChanged), 3);  // review, escalate, back
  EXPECT_EQ(count(audit::EventType::kAlertAcknowledged), 1);   // closed
  EXPECT_EQ(count(audit::EventType::kRequestRefused, "alert: role"), 2);
  EXPECT_EQ(count(audit::EventType::kRequestRefused, "alert: state"), 2);
  EXPECT_EQ(count(audit::EventType::kRequestRefused, "alert: invalid_request"), 3);
  for (const auto& e : events) {
    if (e.type == audit::EventType::kAlertStatusChanged && e.person == "dee.dpo") {
      EXPECT_EQ(e.detail, "alert:" + *alert_id + " override escalated->under_review");
      EXPECT_EQ(e.role, "dpo");
    }
    EXPECT_EQ(e.detail.find("Proportionate"), std::string::npos) << "notes stay out of the log";
    // Like every event of the check, those of its alert carry its context.
    EXPECT_EQ(e.override_ground, "child_significant_harm") << audit::EventTypeName(e.type);
    EXPECT_FALSE(e.subjects.empty()) << audit::EventTypeName(e.type);
  }
}

// A database from before alerts had their own table: the check document kept the IG officer's
// acknowledgement. At start each override check gets its alert once: closed with the old note,
// or new.
TEST(WorkflowAlertTest, OverrideChecksOfAnOlderDatabaseGetTheirAlertsOnce) {
  TestHub hub;
  auto acknowledged = hub.Raise(OverrideCheck({"police"}));
  auto open = hub.Raise(OverrideCheck({"police"}));
  ASSERT_TRUE(acknowledged.ok() && open.ok());
  hub.StopBroker();
  {
    auto store = broker::CheckStore::Open({hub.config().database, hub.config().database_key});
    ASSERT_TRUE(store.ok());
    for (const auto& [id, by] :
         {std::pair{*acknowledged, std::string("old.ig")}, std::pair{*open, std::string()}}) {
      auto row = (*store)->Get(id);
      ASSERT_TRUE(row.ok() && row->has_value());
      json doc = json::parse((*row)->document);
      doc["alert_ack"] = {{"by", by},
                          {"note", by.empty() ? "" : "Reviewed at the weekly IG meeting."},
                          {"at", by.empty() ? 0 : 1'790'000'000'000}};
      (*row)->document = doc.dump();
      ASSERT_TRUE((*store)->Put(**row).ok());
    }
    auto db = storage::Database::Open({hub.config().database, hub.config().database_key});
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE((*db)->Exec("DELETE FROM hub_alert").ok());
  }
  for (int start = 0; start < 2; ++start) {
    hub.StartBroker();
    auto alerts = AlertsOfKind(hub, "override");
    ASSERT_EQ(alerts.size(), 2u) << "start " << start;
    for (const auto& a : alerts) {
      if (a["check"] == *acknowledged) {
        EXPECT_EQ(a["status"], "closed");
        ASSERT_EQ(a["history"].size(), 1u);
        EXPECT_EQ(a["history"][0]["by"], "old.ig");
        EXPECT_EQ(a["history"][0]["note"], "Reviewed at the weekly IG meeting.");
      } else {
        EXPECT_EQ(a["check"], *open);
        EXPECT_EQ(a["status"], "new");
        EXPECT_TRUE(a["history"].empty());
      }
    }
    hub.StopBroker();
  }
}

}  // namespace
}  // namespace mash::testing
