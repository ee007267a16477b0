// broker.toml: the audit and policy sections, and the errors an operator gets for them.
#include "mash/broker/config.h"

#include <gtest/gtest.h>

#include <fstream>
#include <vector>

#include "support/temp_dir.h"

namespace mash::broker {
namespace {

constexpr const char* kBase = R"(
[tls]
ca = "root.pem"
crls = ["root.crl.pem"]
cert = "broker.pem"
key = "broker.key"

[keys]
sign = "hub.sign.key"
enc = "hub.enc.key"

[storage]
database = "hub.db"
key = "hub.db.key"

[[agency]]
id = "police"
name = "Police"
type = "police"
sign_public_key = "police.sign.pub"
enc_public_key = "police.enc.pub"
)";

constexpr const char* kAudit = R"(
[audit]
database = "audit.db"
key = "audit.db.key"
checkpoint_key = "hub.audit.sign.key"
pseudonym_key = "hub.pseudonym.key"
)";

class BrokerConfigTest : public ::testing::Test {
 protected:
  Result<BrokerConfig> Load(const std::string& text) {
    const auto path = dir_ / "broker.toml";
    std::ofstream(path) << text;
    return LoadBrokerConfig(path);
  }
  testing::TempDir dir_{"mash-broker-config"};
};

TEST_F(BrokerConfigTest, ReadsTheAuditAndPolicySections) {
  auto c = Load(std::string(kBase) + kAudit + R"(
checkpoint_every_events = 50
checkpoint_every_s = 3
retention_days = 2555
anchor_file = "anchor.txt"
max_size_mb = 4096

[policy]
store = "policy"
trusted_keys = ["dpo.sign.pub"]

[[api_token]]
user = "m"
role = "manager"
sha256 = "0000000000000000000000000000000000000000000000000000000000000000"
)");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->audit.database, dir_ / "audit.db");
  EXPECT_EQ(c->audit.checkpoint_key, dir_ / "hub.audit.sign.key");
  EXPECT_EQ(c->audit.checkpoint_every_events, 50u);
  EXPECT_EQ(c->audit.checkpoint_every, std::chrono::seconds(3));
  ASSERT_TRUE(c->audit.retention.has_value());
  EXPECT_EQ(*c->audit.retention, std::chrono::hours(24 * 2555));
  EXPECT_EQ(c->audit.anchor_file, dir_ / "anchor.txt");
  EXPECT_EQ(c->audit.max_size_mb, 4096u);
  EXPECT_EQ(c->policy.store, dir_ / "policy");
  EXPECT_TRUE(c->policy.agreement.empty());
  ASSERT_EQ(c->policy.trusted_keys.size(), 1u);
  EXPECT_EQ(c->api_tokens[0].role, "manager");
}

TEST_F(BrokerConfigTest, TheAuditLogIsRequired) {
  auto c = Load(std::string(kBase) + "\n[policy]\nagreement = \"hub.bundle.json\"\n");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("audit.database"), std::string::npos) << c.status().message();
  EXPECT_NE(c.status().message().find("audit.checkpoint_key"), std::string::npos);
  EXPECT_NE(c.status().message().find("audit.pseudonym_key"), std::string::npos);
}

TEST_F(BrokerConfigTest, ExactlyOnePolicySource) {
  auto none = Load(std::string(kBase) + kAudit);
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.status().message().find("exactly one of policy.agreement and policy.store"),
            std::string::npos)
      << none.status().message();
  auto both = Load(std::string(kBase) + kAudit +
                   "\n[policy]\nagreement = \"a.bundle.json\"\nstore = \"policy\"\n");
  ASSERT_FALSE(both.ok());
  EXPECT_NE(both.status().message().find("exactly one"), std::string::npos);
}

TEST_F(BrokerConfigTest, TheAuditLogHasItsOwnDatabase) {
  std::string audit = kAudit;
  audit.replace(audit.find("audit.db\""), 9, "hub.db\"");
  auto c = Load(std::string(kBase) + audit + "\n[policy]\nagreement = \"a.toml\"\n");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("must not be storage.database"), std::string::npos)
      << c.status().message();
}

TEST_F(BrokerConfigTest, TokenRolesComeFromTheVocabularyWithPositions) {
  auto c = Load(std::string(kBase) + kAudit + R"(
[policy]
agreement = "a.toml"

[[api_token]]
user = "x"
role = "superuser"
sha256 = "0000000000000000000000000000000000000000000000000000000000000000"
)");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("broker.toml:"), std::string::npos);
  EXPECT_NE(c.status().message().find("role must be one of the vocabulary's roles"),
            std::string::npos)
      << c.status().message();
}

TEST_F(BrokerConfigTest, UnknownAuditKeysAreErrors) {
  auto c = Load(std::string(kBase) + kAudit + "checkpoint_evry_events = 5\n" +
                "\n[policy]\nagreement = \"a.toml\"\n");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("checkpoint_evry_events"), std::string::npos)
      << c.status().message();
}

TEST_F(BrokerConfigTest, ReadsTheEnrolmentSection) {
  const std::string policy = "\n[policy]\nagreement = \"hub.toml\"\n";
  auto none = Load(std::string(kBase) + kAudit + policy);
  ASSERT_TRUE(none.ok()) << none.status().message();
  EXPECT_FALSE(none->enrolment.has_value());

  auto c = Load(std::string(kBase) + kAudit + policy + R"(
[enrolment]
issuing_ca_cert = "issuing-ca.pem"
issuing_ca_key = "issuing-ca.key"
certificate_lifetime_days = 30
token_lifetime_minutes = 15
agent_url = "wss://hub.example:8443/agent/v1"
)");
  ASSERT_TRUE(c.ok()) << c.status().message();
  ASSERT_TRUE(c->enrolment.has_value());
  EXPECT_EQ(c->enrolment->issuing_ca_key, dir_ / "issuing-ca.key");
  EXPECT_EQ(c->enrolment->certificate_lifetime, std::chrono::hours(24 * 30));
  EXPECT_EQ(c->enrolment->token_lifetime, std::chrono::minutes(15));
  EXPECT_EQ(c->enrolment->renew_window, std::chrono::hours(24 * 10));  // a third, by default
  EXPECT_EQ(c->enrolment->agent_url, "wss://hub.example:8443/agent/v1");
}

TEST_F(BrokerConfigTest, OnlyAHubThatEnrolsMayListNoAgency) {
  std::string base(kBase);
  base.erase(base.find("[[agency]]"));
  const std::string head = base + kAudit + "\n[policy]\nagreement = \"hub.toml\"\n";
  auto none = Load(head);
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.status().message().find("[[agency]]"), std::string::npos)
      << none.status().message();
  auto enrols =
      Load(head + "[enrolment]\nissuing_ca_cert = \"i.pem\"\nissuing_ca_key = \"i.key\"\n");
  ASSERT_TRUE(enrols.ok()) << enrols.status().message();
  EXPECT_TRUE(enrols->agencies.empty());
}

TEST_F(BrokerConfigTest, EnrolmentLimitsAreEnforced) {
  const std::string head = std::string(kBase) + kAudit +
                           "\n[policy]\nagreement = \"hub.toml\"\n[enrolment]\n"
                           "issuing_ca_cert = \"i.pem\"\nissuing_ca_key = \"i.key\"\n";
  auto long_life = Load(head + "certificate_lifetime_days = 91\n");
  ASSERT_FALSE(long_life.ok());
  EXPECT_NE(long_life.status().message().find("certificate_lifetime_days"), std::string::npos);
  auto window = Load(head + "certificate_lifetime_days = 30\nrenew_window_days = 30\n");
  ASSERT_FALSE(window.ok());
  EXPECT_NE(window.status().message().find("renew_window_days"), std::string::npos);
  auto url = Load(head + "agent_url = \"https://hub:8443/agent/v1\"\n");
  ASSERT_FALSE(url.ok());
  EXPECT_NE(url.status().message().find("agent_url"), std::string::npos);
  auto no_ca =
      Load(std::string(kBase) + kAudit + "\n[policy]\nagreement = \"hub.toml\"\n[enrolment]\n");
  ASSERT_FALSE(no_ca.ok());
  EXPECT_NE(no_ca.status().message().find("issuing_ca_cert"), std::string::npos);
}

TEST_F(BrokerConfigTest, AdminIsARole) {
  auto c = Load(std::string(kBase) + kAudit + R"(
[policy]
agreement = "hub.toml"
[[api_token]]
user = "ada"
role = "admin"
sha256 = "0000000000000000000000000000000000000000000000000000000000000000"
)");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->api_tokens.at(0).role, "admin");
}

// ---- [deadlines] -------------------------------------------------------------------------------

constexpr const char* kPolicy = "\n[policy]\nagreement = \"hub.toml\"\n";

common::TimePoint Utc(int y, unsigned mo, unsigned d, int h = 0) {
  return common::TimePoint(std::chrono::sys_days{std::chrono::year(y) / std::chrono::month(mo) /
                                                 std::chrono::day(d)}) +
         std::chrono::hours(h);
}

// The lines of an error message that mention `needle`.
std::vector<std::string> LinesWith(const Status& s, const std::string& needle) {
  std::vector<std::string> out;
  std::string line;
  for (char ch : s.message() + "\n") {
    if (ch != '\n') {
      line += ch;
      continue;
    }
    if (line.find(needle) != std::string::npos) out.push_back(line);
    line.clear();
  }
  return out;
}

TEST_F(BrokerConfigTest, DeadlinesDefaultToTheVocabularyAndOfficeHours) {
  auto c = Load(std::string(kBase) + kAudit + kPolicy);
  ASSERT_TRUE(c.ok()) << c.status().message();
  const DeadlineSettings& d = c->deadlines;
  EXPECT_EQ(Allowance(d, "red"), std::chrono::hours(4));
  EXPECT_EQ(Allowance(d, "amber"), std::chrono::hours(24));
  EXPECT_EQ(Allowance(d, "green"), std::chrono::hours(72));
  EXPECT_EQ(Allowance(d, "purple"), std::chrono::hours(4));  // unknown: the shortest
  EXPECT_DOUBLE_EQ(d.chase_at, 0.75);
  EXPECT_EQ(ChaseAfter(d, "red"), std::chrono::hours(3));
  EXPECT_FALSE(d.hours.always);
  EXPECT_EQ(d.hours.zone, common::TimeZone::kEuropeLondon);
  EXPECT_EQ(d.hours.day_start, std::chrono::hours(9));
  EXPECT_EQ(d.hours.day_end, std::chrono::hours(17));
  EXPECT_TRUE(d.hours.bank_holidays.empty());
  const std::array<bool, 7> weekdays = {true, true, true, true, true, false, false};
  EXPECT_EQ(d.hours.days, weekdays);
  auto cal = MakeCalendar(d);
  ASSERT_TRUE(cal.ok()) << cal.status().message();
  // Fri 20 Nov 2026 15:00 GMT, red: Monday 11:00.
  EXPECT_EQ(cal->Add(Utc(2026, 11, 20, 15), Allowance(d, "red")), Utc(2026, 11, 23, 11));
  // A default-constructed BrokerConfig has the same.
  EXPECT_EQ(Allowance(BrokerConfig{}.deadlines, "green"), std::chrono::hours(72));
}

TEST_F(BrokerConfigTest, ReadsTheDeadlinesSection) {
  std::ofstream(dir_ / "holidays.txt") << "# test\n2026-12-28\n2027-01-01 # new year\n";
  auto c = Load(std::string(kBase) + kAudit + kPolicy + R"(
[deadlines]
red_hours = 2
amber_hours = 8
green_seconds = 90
working_days = ["mon", "tue", "wed", "thu", "fri", "sat"]
day_start = "08:30"
day_end = "18:00"
timezone = "UTC"
bank_holidays = ["2026-12-25"]
bank_holidays_file = "holidays.txt"
chase_at = 0.5
)");
  ASSERT_TRUE(c.ok()) << c.status().message();
  const DeadlineSettings& d = c->deadlines;
  EXPECT_EQ(Allowance(d, "red"), std::chrono::hours(2));
  EXPECT_EQ(Allowance(d, "amber"), std::chrono::hours(8));
  EXPECT_EQ(Allowance(d, "green"), std::chrono::seconds(90));  // seconds override the hours
  EXPECT_EQ(Allowance(d, "unknown"), std::chrono::seconds(90));
  EXPECT_EQ(ChaseAfter(d, "red"), std::chrono::hours(1));
  EXPECT_EQ(ChaseAfter(d, "green"), std::chrono::seconds(45));
  EXPECT_TRUE(d.hours.days[5]);
  EXPECT_FALSE(d.hours.days[6]);
  EXPECT_EQ(d.hours.day_start, std::chrono::minutes(8 * 60 + 30));
  EXPECT_EQ(d.hours.day_end, std::chrono::hours(18));
  EXPECT_EQ(d.hours.zone, common::TimeZone::kUtc);
  ASSERT_EQ(d.hours.bank_holidays.size(), 3u);
  EXPECT_DOUBLE_EQ(d.chase_at, 0.5);
  auto cal = MakeCalendar(d);
  ASSERT_TRUE(cal.ok());
  // Thu 24 Dec 2026 17:00 UTC, amber 8 h: 1 h on Thursday; Friday 25th is a holiday; Saturday
  // is a working day from 08:30, so the other 7 h end at 15:30.
  EXPECT_EQ(cal->Add(Utc(2026, 12, 24, 17), std::chrono::hours(8)),
            Utc(2026, 12, 26, 15) + std::chrono::minutes(30));
}

TEST_F(BrokerConfigTest, AlwaysIsRoundTheClock) {
  auto c = Load(std::string(kBase) + kAudit + kPolicy +
                "[deadlines]\nalways = true\nworking_days = []\n");
  ASSERT_TRUE(c.ok()) << c.status().message();
  auto cal = MakeCalendar(c->deadlines);
  ASSERT_TRUE(cal.ok());
  EXPECT_EQ(cal->Add(Utc(2026, 12, 25, 23), std::chrono::hours(4)), Utc(2026, 12, 26, 3));
}

TEST_F(BrokerConfigTest, TheShippedEnglandAndWalesHolidaysLoad) {
  auto c = Load(std::string(kBase) + kAudit + kPolicy + "[deadlines]\nbank_holidays_file = \"" +
                MASH_SOURCE_DIR + "/examples/bank-holidays-england-and-wales.txt\"\n");
  ASSERT_TRUE(c.ok()) << c.status().message();
  std::vector<std::chrono::year_month_day> expected;
  for (const char* s :
       {"2026-01-01", "2026-04-03", "2026-04-06", "2026-05-04", "2026-05-25", "2026-08-31",
        "2026-12-25", "2026-12-28", "2027-01-01", "2027-03-26", "2027-03-29", "2027-05-03",
        "2027-05-31", "2027-08-30", "2027-12-27", "2027-12-28"}) {
    expected.push_back(common::ParseCivilDate(s).value());
  }
  EXPECT_EQ(c->deadlines.hours.bank_holidays, expected);
  auto cal = MakeCalendar(c->deadlines);
  ASSERT_TRUE(cal.ok());
  // Thu 24 Dec 2026 14:00, amber: Thursday 31 Dec 14:00.
  EXPECT_EQ(cal->Add(Utc(2026, 12, 24, 14), Allowance(c->deadlines, "amber")),
            Utc(2026, 12, 31, 14));
}

TEST_F(BrokerConfigTest, BadDeadlineSettingsAreReportedWithPositions) {
  struct Case {
    std::string text;
    std::string key;  // appears in the message
    std::string position;
  };
  const std::vector<Case> cases = {
      {"working_days = [\"mon\", \"funday\"]\n", "is not a day name", "broker.toml:32:16"},
      {"working_days = [\"mon\", \"mon\"]\n", "names 'mon' twice", "broker.toml:32:16"},
      {"working_days = []\n", "at least one day", "broker.toml:32:16"},
      {"day_start = \"17:00\"\nday_end = \"09:00\"\n", "later than deadlines.day_start",
       "broker.toml:33:11"},
      {"day_end = \"09:00\"\n", "later than deadlines.day_start", "broker.toml:32:11"},
      {"day_start = \"9am\"\n", "is not a time of day HH:MM", "broker.toml:32:13"},
      {"day_start = \"24:00\"\nday_end = \"24:00\"\n", "before 24:00", "broker.toml:32:13"},
      {"bank_holidays = [\"2026-12-25\", \"2026-02-30\"]\n", "is not a date YYYY-MM-DD",
       "broker.toml:32:17"},
      {"timezone = \"Europe/Paris\"\n", "supported: UTC, Europe/London", "broker.toml:32:12"},
      {"chase_at = 1.0\n", "less than 1", "broker.toml:32:12"},
      {"chase_at = 0\n", "greater than 0", "broker.toml:32:12"},
      {"chase_at = 1.5\n", "between 0 and 1", "broker.toml:32:12"},
      {"red_hours = 0\n", "deadlines.red_hours", "broker.toml:32:13"},
      {"amber_seconds = -5\n", "deadlines.amber_seconds", "broker.toml:32:17"},
      {"bank_holidays_file = \"missing.txt\"\n", "cannot read", "broker.toml:32:22"},
      {"purple_hours = 3\n", "unknown key 'deadlines.purple_hours'", "broker.toml:32:1"},
  };
  const std::string head = std::string(kBase) + kAudit + kPolicy + "[deadlines]\n";
  for (const auto& k : cases) {
    auto c = Load(head + k.text);
    ASSERT_FALSE(c.ok()) << k.text;
    const auto lines = LinesWith(c.status(), k.key);
    ASSERT_EQ(lines.size(), 1u) << k.text << "\n" << c.status().message();
    EXPECT_NE(lines[0].find("/" + k.position + ": "), std::string::npos) << lines[0];
  }
}

TEST_F(BrokerConfigTest, ABadHolidayFileNamesItsLine) {
  std::ofstream(dir_ / "holidays.txt") << "2026-12-25\n# comment\n25/12/2026\n";
  auto c = Load(std::string(kBase) + kAudit + kPolicy +
                "[deadlines]\nbank_holidays_file = \"holidays.txt\"\n");
  ASSERT_FALSE(c.ok());
  const auto lines = LinesWith(c.status(), "holidays.txt");
  ASSERT_EQ(lines.size(), 1u) << c.status().message();
  EXPECT_NE(lines[0].find("line 3: '25/12/2026' is not a date YYYY-MM-DD"), std::string::npos)
      << lines[0];
}

TEST_F(BrokerConfigTest, ReadsTheStaffSectionWithDefaultsAndLimits) {
  const std::string head = std::string(kBase) + kAudit + "\n[policy]\nagreement = \"hub.toml\"\n";
  auto defaults = Load(head);
  ASSERT_TRUE(defaults.ok()) << defaults.status().message();
  EXPECT_EQ(defaults->staff.lockout_attempts, 5);
  EXPECT_EQ(defaults->staff.lockout, std::chrono::minutes(15));
  EXPECT_EQ(defaults->staff.session, std::chrono::hours(8));
  EXPECT_EQ(defaults->staff.session_idle, std::chrono::minutes(30));
  EXPECT_EQ(defaults->staff.token_days_max, 365);
  auto c = Load(head + R"(
[staff]
lockout_attempts = 3
lockout_minutes = 60
session_hours = 4
session_idle_minutes = 10
token_days_max = 30
)");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->staff.lockout_attempts, 3);
  EXPECT_EQ(c->staff.lockout, std::chrono::minutes(60));
  EXPECT_EQ(c->staff.session, std::chrono::hours(4));
  EXPECT_EQ(c->staff.session_idle, std::chrono::minutes(10));
  EXPECT_EQ(c->staff.token_days_max, 30);
  auto too_long = Load(head + "[staff]\ntoken_days_max = 366\n");
  ASSERT_FALSE(too_long.ok());
  EXPECT_NE(too_long.status().message().find("token_days_max"), std::string::npos);
  auto unknown = Load(head + "[staff]\npassword = \"x\"\n");
  EXPECT_FALSE(unknown.ok());
}

// ---- [alerts] ----------------------------------------------------------------------------------

TEST_F(BrokerConfigTest, ReadsTheAlertsSectionWithDefaults) {
  const std::string head = std::string(kBase) + kAudit + kPolicy;
  auto defaults = Load(head);
  ASSERT_TRUE(defaults.ok()) << defaults.status().message();
  EXPECT_TRUE(defaults->alerts.out_of_hours);
  EXPECT_EQ(defaults->alerts.volume_checks, 20);
  EXPECT_EQ(defaults->alerts.volume_views, 50);
  EXPECT_EQ(defaults->alerts.volume_window, std::chrono::hours(24));
  auto c = Load(head +
                "[alerts]\nout_of_hours = false\nvolume_checks = 5\nvolume_views = 0\n"
                "volume_window_hours = 8\n");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_FALSE(c->alerts.out_of_hours);
  EXPECT_EQ(c->alerts.volume_checks, 5);
  EXPECT_EQ(c->alerts.volume_views, 0);
  EXPECT_EQ(c->alerts.volume_window, std::chrono::hours(8));
}

TEST_F(BrokerConfigTest, BadAlertSettingsAreReportedWithPositions) {
  struct Case {
    std::string text;
    std::string key;
    std::string position;
  };
  const std::vector<Case> cases = {
      {"out_of_hours = \"yes\"\n", "alerts.out_of_hours", "broker.toml:32:16"},
      {"volume_checks = -1\n", "alerts.volume_checks", "broker.toml:32:17"},
      {"volume_views = 100001\n", "alerts.volume_views", "broker.toml:32:16"},
      {"volume_window_hours = 0\n", "alerts.volume_window_hours", "broker.toml:32:23"},
      {"volume_window_hours = 745\n", "alerts.volume_window_hours", "broker.toml:32:23"},
      {"volume = 3\n", "unknown key 'alerts.volume'", "broker.toml:32:1"},
  };
  const std::string head = std::string(kBase) + kAudit + kPolicy + "[alerts]\n";
  for (const auto& k : cases) {
    auto c = Load(head + k.text);
    ASSERT_FALSE(c.ok()) << k.text;
    const auto lines = LinesWith(c.status(), k.key);
    ASSERT_EQ(lines.size(), 1u) << k.text << "\n" << c.status().message();
    EXPECT_NE(lines[0].find("/" + k.position + ": "), std::string::npos) << lines[0];
  }
}

TEST_F(BrokerConfigTest, TheOpsListenerIsOnLoopbackOnly) {
  const std::string head = std::string(kBase) + kAudit + "\n[policy]\nagreement = \"hub.toml\"\n";
  auto none = Load(head);
  ASSERT_TRUE(none.ok()) << none.status().message();
  EXPECT_FALSE(none->ops_listen.has_value());
  auto c = Load(head + "\n[ops]\nlisten = \"127.0.0.1:9464\"\n");
  ASSERT_TRUE(c.ok()) << c.status().message();
  ASSERT_TRUE(c->ops_listen.has_value());
  EXPECT_EQ(c->ops_listen->address, "127.0.0.1");
  EXPECT_EQ(c->ops_listen->port, 9464);
  for (const char* bad : {"0.0.0.0:9464", "10.0.0.7:9464", "localhost:9464", "[::]:9464",
                          "127.0.0.1:99999", "127.0.0.1"}) {
    auto r = Load(head + "\n[ops]\nlisten = \"" + bad + "\"\n");
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.status().message().find("ops.listen"), std::string::npos) << r.status().message();
  }
}

}  // namespace
}  // namespace mash::broker
