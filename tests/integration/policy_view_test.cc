// What the DPO pages read from a real broker (broker/include/mash/broker/policy_view.h): the
// agreement in force from a policy store with a shadow version, "try a request", the shadow
// differences a raise records, the agencies' policy versions, and who may see them.
#include "mash/broker/policy_view.h"

#include <gtest/gtest.h>

#include <fstream>
#include <thread>

#include "console/page.h"
#include "harness.h"
#include "mash/policy/bundle.h"
#include "mash/policy/store.h"

namespace mash::testing {
namespace {

using namespace std::chrono_literals;

const broker::Staff kDpo{"test.dpo", "dpo", "hub", ""};
const broker::Staff kIg{"test.ig", "ig_officer", "hub", ""};
const broker::Staff kPractitioner{"test.practitioner", "practitioner", "hub", "team-a"};

std::filesystem::path Examples() {
  return std::filesystem::path(MASH_SOURCE_DIR) / "examples/policies";
}

std::string HubAgreementSource() {
  std::ifstream in(Examples() / "hub-agreement.toml");
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

// A store with the example agreement enforced (at t=1000) and, in shadow (t=2000), a version
// that forbids practitioners everything: the change a DPO wants to see the effect of first.
class PolicyViewTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string source = HubAgreementSource();
    auto enforced = policy::MakeBundle(source, "hub-agreement.toml");
    auto shadow = policy::MakeBundle(source +
                                         "\n[[rule]]\nid = \"shadow-no-practitioners\"\n"
                                         "effect = \"forbid\"\nroles = [\"practitioner\"]\n",
                                     "hub-agreement.toml");
    ASSERT_TRUE(enforced.ok() && shadow.ok());
    enforced_version_ = enforced->version;
    shadow_version_ = shadow->version;
    auto store = policy::PolicyStore::Open(store_dir_.path(), /*create=*/true);
    ASSERT_TRUE(store.ok());
    ASSERT_TRUE(store->Publish(*enforced, policy::PublishMode::kEnforce, 1000, {}).ok());
    ASSERT_TRUE(store->Publish(*shadow, policy::PublishMode::kShadow, 2000, {}).ok());
  }

  std::unique_ptr<TestHub> StartHub(const common::Clock* clock = nullptr) {
    auto tune = [this](broker::BrokerConfig& c) {
      c.policy.agreement.clear();
      c.policy.store = store_dir_.path();
    };
    return clock != nullptr ? std::make_unique<TestHub>(tune, clock)
                            : std::make_unique<TestHub>(tune);
  }

  static broker::TryRequest Consented(std::vector<std::string> agencies) {
    broker::TryRequest r;
    r.role = "practitioner";
    r.purpose = "child-protection-s47";
    r.lawful_basis = "uk-gdpr-6-1-e";
    r.consent_state = "given";
    r.urgency = "amber";
    r.level = 2;
    r.agencies = std::move(agencies);
    return r;
  }

  TempDir store_dir_{"mash-dpo-store"};
  std::string enforced_version_;
  std::string shadow_version_;
};

TEST_F(PolicyViewTest, ShowsTheAgreementFromAStoreWithItsShadowVersionAndHistory) {
  auto hub = StartHub();
  auto view = OnIo(hub->io(), [&] { return hub->broker().policy_view().Agreement(kDpo); });
  ASSERT_TRUE(view.ok()) << view.status().ToString();
  EXPECT_EQ(view->enforced.id, "northshire-mash-agreement");
  EXPECT_EQ(view->enforced.version, enforced_version_);
  EXPECT_EQ(view->enforced.review_date, "2027-09-30");
  EXPECT_FALSE(view->enforced.review_overdue);  // the system clock is before it
  EXPECT_EQ(view->enforced.parties, 6u);
  EXPECT_TRUE(view->signers.empty());  // unsigned: no trusted keys in the test config
  ASSERT_TRUE(view->shadow.has_value());
  EXPECT_EQ(view->shadow->version, shadow_version_);
  EXPECT_EQ(view->shadow->rules, view->enforced.rules + 1);
  ASSERT_TRUE(view->diff.has_value());
  ASSERT_EQ(view->diff->rules.size(), 1u);
  EXPECT_EQ(view->diff->rules[0].rule_id, "shadow-no-practitioners");
  EXPECT_EQ(view->diff->rules[0].kind, policy::RuleChange::Kind::kAdded);
  EXPECT_EQ(view->store, store_dir_.path());
  ASSERT_EQ(view->history.size(), 2u);  // newest first
  EXPECT_EQ(view->history[0].mode, policy::PublishMode::kShadow);
  EXPECT_EQ(view->history[0].version, shadow_version_);
  EXPECT_EQ(view->history[1].mode, policy::PublishMode::kEnforce);
  EXPECT_EQ(view->history[1].time_unix, 1000);
  EXPECT_TRUE(view->history_error.empty());
  EXPECT_FALSE(view->restart_pending);

  // The DPO enforces the shadow version: the history shows it at once, and the page says it
  // takes effect when the broker restarts.
  auto store = policy::PolicyStore::Open(store_dir_.path(), false);
  ASSERT_TRUE(store.ok());
  auto shadow = store->Load(shadow_version_, {});
  ASSERT_TRUE(shadow.ok());
  ASSERT_TRUE(store->Publish(shadow->bundle, policy::PublishMode::kEnforce, 3000, {}).ok());
  view = OnIo(hub->io(), [&] { return hub->broker().policy_view().Agreement(kIg); });
  ASSERT_TRUE(view.ok()) << view.status().ToString();
  EXPECT_EQ(view->history.size(), 3u);
  EXPECT_TRUE(view->restart_pending);
  EXPECT_EQ(view->enforced.version, enforced_version_);  // until the restart
}

TEST_F(PolicyViewTest, AReviewDateInThePastOfTheBrokersClockIsOverdue) {
  common::FakeClock clock(common::FromUnix(1823299200));  // 2027-10-12T00:00:00Z
  auto hub = StartHub(&clock);
  auto view = OnIo(hub->io(), [&] { return hub->broker().policy_view().Agreement(kDpo); });
  ASSERT_TRUE(view.ok()) << view.status().ToString();
  EXPECT_TRUE(view->enforced.review_overdue);
  ASSERT_TRUE(view->shadow.has_value());
  EXPECT_TRUE(view->shadow->review_overdue);
}

TEST_F(PolicyViewTest, TryingARequestShowsBothDecisionsWithTheirExplanation) {
  auto hub = StartHub();
  broker::PolicyView& pv = hub->broker().policy_view();
  const size_t events_before = AuditEventsOf(*hub).size();

  // A consented s47 request to two agencies: the enforced version permits a relevant summary,
  // the shadow version forbids practitioners.
  auto allowed = OnIo(hub->io(), [&] { return pv.Try(kDpo, Consented({"police", "health"})); });
  ASSERT_TRUE(allowed.ok()) << allowed.status().ToString();
  ASSERT_EQ(allowed->agencies.size(), 2u);
  EXPECT_FALSE(allowed->refused);
  EXPECT_TRUE(allowed->shadow_refused);
  EXPECT_TRUE(allowed->any_differs);
  const auto& police = allowed->agencies[0];
  EXPECT_EQ(police.agency, "police");
  EXPECT_EQ(police.enforced.effect, policy::Effect::kPermit);
  EXPECT_EQ(police.enforced.level, 2);
  EXPECT_EQ(police.enforced.deciding_rule, "s47-all-agencies");
  EXPECT_EQ(police.enforced.policy_version, enforced_version_);
  ASSERT_TRUE(police.shadow.has_value());
  EXPECT_EQ(police.shadow->effect, policy::Effect::kDeny);
  EXPECT_EQ(police.shadow->deciding_rule, "shadow-no-practitioners");
  EXPECT_EQ(police.shadow->policy_version, shadow_version_);
  EXPECT_TRUE(police.differs);
  // The explanation is the text `mashctl policy explain` prints.
  EXPECT_EQ(police.enforced_text, policy::FormatDecision(police.enforced));
  EXPECT_EQ(police.enforced_text.rfind("permit at level 2  (deciding rule: s47-all-agencies)", 0),
            0u)
      << police.enforced_text;
  EXPECT_NE(police.enforced_text.find("policy version: " + enforced_version_), std::string::npos);
  EXPECT_EQ(police.shadow_text.rfind("deny  (deciding rule: shadow-no-practitioners)", 0), 0u)
      << police.shadow_text;

  // Consent refused and no override ground: both versions deny, with the agreement's reason.
  broker::TryRequest refused = Consented({"police"});
  refused.consent_state = "refused";
  auto denied = OnIo(hub->io(), [&] { return pv.Try(kDpo, refused); });
  ASSERT_TRUE(denied.ok()) << denied.status().ToString();
  ASSERT_EQ(denied->agencies.size(), 1u);
  EXPECT_TRUE(denied->refused);
  const auto& d = denied->agencies[0];
  EXPECT_EQ(d.enforced.effect, policy::Effect::kDeny);
  EXPECT_EQ(d.enforced.deciding_rule, "refused-without-override");
  EXPECT_NE(d.enforced_text.find("consent refused or withdrawn"), std::string::npos)
      << d.enforced_text;
  EXPECT_EQ(d.shadow->effect, policy::Effect::kDeny);
  EXPECT_FALSE(d.differs);  // same effect, level and obligations: not a difference
  EXPECT_FALSE(denied->any_differs);

  // Trying is not a check: nothing was recorded, no check exists, no difference was kept.
  EXPECT_EQ(AuditEventsOf(*hub).size(), events_before);
  auto diffs = OnIo(hub->io(), [&] { return pv.Differences(kDpo); });
  ASSERT_TRUE(diffs.ok());
  EXPECT_EQ(diffs->total, 0);
}

TEST_F(PolicyViewTest, ARequestWithMissingOrUnknownFieldsNamesEachField) {
  auto hub = StartHub();
  broker::PolicyView& pv = hub->broker().policy_view();
  broker::TryRequest empty;
  auto errors = OnIo(hub->io(), [&] { return pv.Validate(empty); });
  std::vector<std::string> fields;
  for (const auto& e : errors) fields.push_back(e.field);
  EXPECT_EQ(fields, (std::vector<std::string>{"role", "purpose", "lawful_basis", "consent_state",
                                              "urgency", "level", "agencies"}));
  broker::TryRequest bad = Consented({"police", "not-a-party"});
  bad.purpose = "curiosity";
  bad.override_ground = "because";
  bad.level = 4;
  errors = OnIo(hub->io(), [&] { return pv.Validate(bad); });
  fields.clear();
  for (const auto& e : errors) fields.push_back(e.field);
  EXPECT_EQ(fields, (std::vector<std::string>{"purpose", "override_ground", "level", "agencies"}));
  auto tried = OnIo(hub->io(), [&] { return pv.Try(kDpo, bad); });
  ASSERT_FALSE(tried.ok());
  EXPECT_EQ(tried.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(tried.status().message().rfind("purpose: ", 0), 0u) << tried.status().message();
}

TEST_F(PolicyViewTest, ARaiseTheShadowDecidesDifferentlyRecordsOneDurableDifference) {
  auto hub = StartHub();
  auto id = hub->Raise(ConsentedCheck({"police"}));
  ASSERT_TRUE(id.ok()) << id.status().ToString();  // the enforced version decides
  auto diffs = OnIo(hub->io(), [&] { return hub->broker().policy_view().Differences(kDpo); });
  ASSERT_TRUE(diffs.ok()) << diffs.status().ToString();
  ASSERT_EQ(diffs->total, 1);
  ASSERT_EQ(diffs->newest.size(), 1u);
  const broker::ShadowDifference& d = diffs->newest[0];
  EXPECT_EQ(d.check_ref, *id);
  EXPECT_EQ(d.agency, "police");
  EXPECT_GT(d.time_ms, 0);
  EXPECT_EQ(d.enforced.effect, "permit");
  EXPECT_EQ(d.enforced.level, 2);
  EXPECT_EQ(d.enforced.rule, "s47-all-agencies");
  EXPECT_EQ(d.enforced.obligations, std::vector<std::string>{"record_reason"});
  EXPECT_EQ(d.enforced.version, enforced_version_);
  EXPECT_EQ(d.shadow.effect, "deny");
  EXPECT_EQ(d.shadow.level, -1);
  EXPECT_EQ(d.shadow.rule, "shadow-no-practitioners");
  EXPECT_EQ(d.shadow.version, shadow_version_);
  ASSERT_EQ(diffs->by_rule.size(), 1u);
  EXPECT_EQ(diffs->by_rule[0].enforced_rule, "s47-all-agencies");
  EXPECT_EQ(diffs->by_rule[0].shadow_rule, "shadow-no-practitioners");
  EXPECT_EQ(diffs->by_rule[0].count, 1);

  // A request refused by the hub's own rules (a DPO does not raise checks) never reached the
  // decision: no difference. Then, after a restart, the difference is still there.
  auto by_dpo = hub->Raise(ConsentedCheck({"police"}), "test.dpo", "dpo");
  EXPECT_FALSE(by_dpo.ok());
  hub->StopBroker();
  hub->StartBroker();
  diffs = OnIo(hub->io(), [&] { return hub->broker().policy_view().Differences(kIg); });
  ASSERT_TRUE(diffs.ok()) << diffs.status().ToString();
  EXPECT_EQ(diffs->total, 1);
  ASSERT_EQ(diffs->newest.size(), 1u);
  EXPECT_EQ(diffs->newest[0].check_ref, *id);
}

TEST_F(PolicyViewTest, AnAgencysPolicyVersionIsShownFromItsAnswersAndAfterARestart) {
  auto hub = StartHub();
  auto before = OnIo(hub->io(), [&] { return hub->broker().policy_view().AgencyPolicies(kDpo); });
  ASSERT_TRUE(before.ok());
  ASSERT_EQ(before->size(), 6u);  // every party of the agreement, none seen yet
  for (const auto& a : *before) {
    EXPECT_TRUE(a.party);
    EXPECT_FALSE(a.name.empty());
    EXPECT_TRUE(a.version.empty()) << a.agency;
  }
  hub->StartAgent("police", Fixture("police"));
  ASSERT_TRUE(hub->WaitOnline("police", 10s));
  auto id = hub->Raise(ConsentedCheck({"police"}));
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  const auto until = std::chrono::steady_clock::now() + 15s;
  while (PeekCheck(*hub, *id)["state"] == "dispatched" && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(20ms);
  const auto police_policy = policy::ParsePolicyFile(Examples() / "police-disclosure.toml");
  ASSERT_TRUE(police_policy.ok());
  auto find_police = [&] {
    auto seen = OnIo(hub->io(), [&] { return hub->broker().policy_view().AgencyPolicies(kIg); });
    EXPECT_TRUE(seen.ok());
    for (const auto& a : *seen) {
      if (a.agency == "police") return a;
    }
    return broker::AgencyPolicySeen{};
  };
  broker::AgencyPolicySeen police = find_police();
  EXPECT_EQ(police.version, police_policy.policy->version);
  EXPECT_TRUE(police.shadow_version.empty());  // agents keep their shadow version
  EXPECT_NE(police.last_seen, common::TimePoint{});
  // The broker restarts: the stored answers say which version answered last.
  hub->StopAgents();
  hub->StopBroker();
  hub->StartBroker();
  EXPECT_EQ(find_police().version, police_policy.policy->version);
}

TEST_F(PolicyViewTest, OnlyTheDpoTriesAndOnlyDpoAndIgReadOthersAreRefusedAndAudited) {
  auto hub = StartHub();
  broker::PolicyView& pv = hub->broker().policy_view();
  EXPECT_EQ(OnIo(hub->io(), [&] { return pv.Agreement(kPractitioner).status().code(); }),
            StatusCode::kPermissionDenied);
  EXPECT_EQ(OnIo(hub->io(), [&] { return pv.AgencyPolicies(kPractitioner).status().code(); }),
            StatusCode::kPermissionDenied);
  EXPECT_EQ(OnIo(hub->io(), [&] { return pv.Differences(kPractitioner).status().code(); }),
            StatusCode::kPermissionDenied);
  const broker::Staff manager{"test.manager", "manager", "hub", "team-a"};
  EXPECT_EQ(OnIo(hub->io(), [&] { return pv.Try(manager, Consented({"police"})).status().code(); }),
            StatusCode::kPermissionDenied);
  // An IG officer reads, but does not try requests.
  EXPECT_TRUE(OnIo(hub->io(), [&] { return pv.Agreement(kIg).ok(); }));
  EXPECT_EQ(OnIo(hub->io(), [&] { return pv.Try(kIg, Consented({"police"})).status().code(); }),
            StatusCode::kPermissionDenied);

  std::vector<std::string> refusals;
  for (const auto& e : AuditEventsOf(*hub)) {
    if (e.type != audit::EventType::kRequestRefused) continue;
    EXPECT_EQ(e.outcome, audit::Outcome::kRefused);
    refusals.push_back(e.person + " " + e.role + " " + e.detail);
  }
  EXPECT_EQ(refusals,
            (std::vector<std::string>{"test.practitioner practitioner policy_view: agreement: role",
                                      "test.practitioner practitioner policy_view: "
                                      "agency_policies: role",
                                      "test.practitioner practitioner policy_view: "
                                      "shadow_differences: role",
                                      "test.manager manager policy_view: try: role",
                                      "test.ig ig_officer policy_view: try: role"}));
}

// The DPO's console pages, driven through their routes on the broker's thread (the console core
// checks login, CSRF and roles before a route runs; the browser test covers that path).
class PolicyPagesTest : public PolicyViewTest {
 protected:
  void SetUp() override {
    PolicyViewTest::SetUp();
    hub_ = StartHub();
    context_.services.policy = &hub_->broker().policy_view();
    context_.options.service_name = "MASH Exchange";
    broker::console::AddPolicyPages(router_, context_);
  }

  // Runs the route for `method` `path` as `staff` with the form `body`; nullopt when no route.
  std::optional<broker::console::Response> Call(const std::string& method, const std::string& path,
                                                const broker::Staff& staff,
                                                const std::string& body = "",
                                                std::set<std::string>* roles = nullptr) {
    return OnIo(hub_->io(), [&]() -> std::optional<broker::console::Response> {
      std::vector<std::string> params;
      bool known = false;
      const auto* route = router_.Find(method, path, params, known);
      if (route == nullptr) return std::nullopt;
      if (roles != nullptr) *roles = route->roles;
      broker::console::Request r{.method = method,
                                 .path = path,
                                 .params = params,
                                 .query = *broker::console::Params::Parse(""),
                                 .form = *broker::console::Params::Parse(body),
                                 .staff = staff,
                                 .csrf = "csrf-token"};
      std::optional<broker::console::Response> out;
      route->handler(r, [&out](broker::console::Response res) { out = std::move(res); });
      return out;
    });
  }

  std::unique_ptr<TestHub> hub_;
  broker::console::Router router_;
  broker::console::Context context_;
};

TEST_F(PolicyPagesTest, PoliciesShowsTheAgreementShadowHistoryAndAgencies) {
  std::set<std::string> roles;
  auto res = Call("GET", "/policies", kDpo, "", &roles);
  ASSERT_TRUE(res.has_value());
  EXPECT_EQ(roles, (std::set<std::string>{"dpo", "ig_officer"}));
  EXPECT_EQ(res->status, 200);
  const std::string& html = res->html;
  EXPECT_NE(html.find("Sharing agreement in force"), std::string::npos);
  EXPECT_NE(html.find(enforced_version_), std::string::npos);
  EXPECT_NE(html.find(shadow_version_), std::string::npos);
  EXPECT_NE(html.find("2027-09-30"), std::string::npos);
  EXPECT_EQ(html.find("Overdue"), std::string::npos);
  EXPECT_NE(html.find("<code>shadow-no-practitioners</code> added"), std::string::npos);
  EXPECT_NE(html.find("Publication history"), std::string::npos);
  EXPECT_NE(html.find(">Shadow</strong>"), std::string::npos);
  EXPECT_NE(html.find(">Enforced</strong>"), std::string::npos);
  EXPECT_NE(html.find("Northshire Police"), std::string::npos);
  EXPECT_NE(html.find("No answer yet"), std::string::npos);
}

TEST_F(PolicyPagesTest, TryARequestRendersBothDecisionsAndTheirExplanation) {
  std::set<std::string> roles;
  auto form = Call("GET", "/policies/try", kDpo, "", &roles);
  ASSERT_TRUE(form.has_value());
  EXPECT_EQ(roles, std::set<std::string>{"dpo"});
  EXPECT_NE(form->html.find("name=\"csrf\" value=\"csrf-token\""), std::string::npos);
  EXPECT_NE(form->html.find("value=\"child-protection-s47\""), std::string::npos);
  EXPECT_NE(form->html.find("value=\"police\""), std::string::npos);
  EXPECT_EQ(form->html.find("id=\"decision\""), std::string::npos);

  auto res = Call("POST", "/policies/try", kDpo,
                  "csrf=csrf-token&role=practitioner&purpose=child-protection-s47&"
                  "lawful_basis=uk-gdpr-6-1-e&consent_state=given&override_ground=&"
                  "urgency=amber&level=2&agencies=police");
  ASSERT_TRUE(res.has_value());
  EXPECT_EQ(res->status, 200);
  const std::string& html = res->html;
  EXPECT_NE(html.find("id=\"decision\""), std::string::npos);
  EXPECT_NE(html.find("A check with these agencies would be raised"), std::string::npos);
  EXPECT_NE(html.find("The shadow version decides differently"), std::string::npos);
  EXPECT_NE(html.find("<li>permit at level 2  (deciding rule: s47-all-agencies)</li>"),
            std::string::npos);
  EXPECT_NE(html.find("<li>deny  (deciding rule: shadow-no-practitioners)</li>"),
            std::string::npos);
  EXPECT_NE(html.find("policy version: " + enforced_version_), std::string::npos);
  // The form keeps what was asked.
  EXPECT_NE(html.find("value=\"child-protection-s47\" checked"), std::string::npos);
}

TEST_F(PolicyPagesTest, TryARequestWithMissingFieldsShowsAnErrorSummary) {
  auto res = Call("POST", "/policies/try", kDpo, "csrf=csrf-token&role=practitioner&level=2");
  ASSERT_TRUE(res.has_value());
  EXPECT_EQ(res->status, 400);
  const std::string& html = res->html;
  EXPECT_NE(html.find("govuk-error-summary"), std::string::npos);
  EXPECT_NE(html.find("href=\"#purpose\""), std::string::npos);
  EXPECT_NE(html.find("Select a purpose"), std::string::npos);
  EXPECT_NE(html.find("href=\"#agencies\""), std::string::npos);
  EXPECT_EQ(html.find("href=\"#role\""), std::string::npos);
  EXPECT_EQ(html.find("id=\"decision\""), std::string::npos);
}

TEST_F(PolicyPagesTest, ShadowListsTheDifferencesOfARaise) {
  auto empty = Call("GET", "/policies/shadow", kIg);
  ASSERT_TRUE(empty.has_value());
  EXPECT_NE(empty->html.find("No differences have been recorded"), std::string::npos);
  auto id = hub_->Raise(ConsentedCheck({"police"}));
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  auto res = Call("GET", "/policies/shadow", kDpo);
  ASSERT_TRUE(res.has_value());
  EXPECT_EQ(res->status, 200);
  EXPECT_NE(res->html.find("1 difference by deciding rules"), std::string::npos);
  EXPECT_NE(res->html.find("<code>" + *id + "</code>"), std::string::npos);
  EXPECT_NE(res->html.find("<code>shadow-no-practitioners</code>"), std::string::npos);
  // Nothing about the subject is on the page.
  EXPECT_EQ(res->html.find("Amelia"), std::string::npos);
  EXPECT_EQ(res->html.find("943 476 5919"), std::string::npos);
}

}  // namespace
}  // namespace mash::testing
