#include "mash/broker/config.h"

#include <algorithm>
#include <fstream>
#include <iterator>
#include <limits>
#include <regex>
#include <set>

#include "mash/common/config.h"
#include "mash/ops/config.h"
#include "mash/policy/vocabulary.h"

namespace mash::broker {
namespace {

bool ValidId(const std::string& s) {
  static const std::regex kId("^[a-z][a-z0-9-]{1,31}$");
  return std::regex_match(s, kId);
}

// ---- [deadlines] -------------------------------------------------------------------------------

constexpr int64_t kMaxAllowanceHours = 24 * 366;  // a year of round-the-clock working time
constexpr std::uintmax_t kMaxHolidayFileBytes = 1 << 20;

// The text of a bank-holiday file, or an error message.
Result<std::string> ReadHolidayFile(const std::filesystem::path& path) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) return NotFound("cannot read " + path.string());
  if (size > kMaxHolidayFileBytes) return InvalidArgument(path.string() + " is larger than 1 MiB");
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound("cannot read " + path.string());
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

DeadlineSettings ReadDeadlines(common::ConfigReader& r) {
  DeadlineSettings d;
  for (const auto& term : policy::Vocabulary::Builtin().Terms(policy::Dimension::kUrgency)) {
    const std::string hours_key = "deadlines." + term.id + "_hours";
    const std::string seconds_key = "deadlines." + term.id + "_seconds";
    const int64_t hours = r.Integer(hours_key, term.deadline_hours, 1, kMaxAllowanceHours);
    d.allowances[term.id] = std::chrono::hours(hours);
    if (r.Has(seconds_key)) {  // for tests: overrides the hours
      d.allowances[term.id] =
          std::chrono::seconds(r.Integer(seconds_key, std::nullopt, 1, kMaxAllowanceHours * 3600));
    }
  }

  common::WorkingHours& h = d.hours;
  const bool had_errors = r.HasErrors();
  h.always = r.Bool("deadlines.always", false);

  const auto day_names = r.StringArray("deadlines.working_days",
                                       std::vector<std::string>{"mon", "tue", "wed", "thu", "fri"});
  h.days = {};
  for (const auto& name : day_names) {
    auto day = common::ParseDayName(name);
    if (!day.ok()) {
      r.ErrorAt("deadlines.working_days", "deadlines.working_days: " + day.status().message());
      continue;
    }
    bool& slot = h.days[common::WorkingHours::DayIndex(*day)];
    if (slot)
      r.ErrorAt("deadlines.working_days", "deadlines.working_days names '" + name + "' twice");
    slot = true;
  }
  if (!h.always && std::none_of(h.days.begin(), h.days.end(), [](bool b) { return b; })) {
    r.ErrorAt("deadlines.working_days",
              "deadlines.working_days must name at least one day (or set deadlines.always = true)");
  }

  auto clock = [&r](const char* key, const char* def) -> std::optional<std::chrono::minutes> {
    auto m = common::ParseClock(r.String(key, def));
    if (m.ok()) return *m;
    r.ErrorAt(key, std::string(key) + ": " + m.status().message());
    return std::nullopt;
  };
  const auto start = clock("deadlines.day_start", "09:00");
  const auto end = clock("deadlines.day_end", "17:00");
  if (start && *start >= std::chrono::hours(24)) {
    r.ErrorAt("deadlines.day_start", "deadlines.day_start must be before 24:00");
  } else if (start && end && *end <= *start) {
    r.ErrorAt("deadlines.day_end", "deadlines.day_end must be later than deadlines.day_start");
  }
  if (start) h.day_start = *start;
  if (end) h.day_end = *end;

  auto zone = common::ParseTimeZone(r.String("deadlines.timezone", "Europe/London"));
  if (zone.ok()) {
    h.zone = *zone;
  } else {
    r.ErrorAt("deadlines.timezone", "deadlines.timezone: " + zone.status().message());
  }

  for (const auto& text : r.StringArray("deadlines.bank_holidays", std::vector<std::string>{})) {
    auto date = common::ParseCivilDate(text);
    if (date.ok()) {
      h.bank_holidays.push_back(*date);
    } else {
      r.ErrorAt("deadlines.bank_holidays", "deadlines.bank_holidays: " + date.status().message());
    }
  }
  if (r.Has("deadlines.bank_holidays_file")) {
    const auto path = r.Path("deadlines.bank_holidays_file");
    auto text = ReadHolidayFile(path);
    auto dates = text.ok() ? common::ParseHolidayList(*text)
                           : Result<std::vector<std::chrono::year_month_day>>(text.status());
    if (dates.ok()) {
      h.bank_holidays.insert(h.bank_holidays.end(), dates->begin(), dates->end());
    } else {
      r.ErrorAt("deadlines.bank_holidays_file",
                "deadlines.bank_holidays_file: " +
                    (text.ok() ? path.string() + ": " : std::string()) + dates.status().message());
    }
  }

  const double chase_at = r.Double("deadlines.chase_at", 0.75, 0.0, 1.0);
  if (chase_at <= 0.0 || chase_at >= 1.0) {
    r.ErrorAt("deadlines.chase_at", "deadlines.chase_at must be greater than 0 and less than 1");
  } else {
    d.chase_at = chase_at;
  }

  // Every rule of the calendar is checked above with a position; this only guards against the
  // two drifting apart.
  if (!had_errors && !r.HasErrors()) {
    if (auto cal = common::WorkingCalendar::Create(h); !cal.ok()) {
      r.ErrorAt("deadlines", "deadlines: " + cal.status().message());
    }
  }
  return d;
}

// ---- end [deadlines] ---------------------------------------------------------------------------

// ---- [alerts] ----------------------------------------------------------------------------------

AlertSettings ReadAlerts(common::ConfigReader& r) {
  AlertSettings a;
  a.out_of_hours = r.Bool("alerts.out_of_hours", true);
  a.volume_checks = static_cast<int>(r.Integer("alerts.volume_checks", 20, 0, 100000));
  a.volume_views = static_cast<int>(r.Integer("alerts.volume_views", 50, 0, 100000));
  a.volume_window = std::chrono::hours(r.Integer("alerts.volume_window_hours", 24, 1, 24 * 31));
  return a;
}

}  // namespace

std::map<std::string, std::chrono::seconds, std::less<>> DeadlineSettings::DefaultAllowances() {
  std::map<std::string, std::chrono::seconds, std::less<>> out;
  for (const auto& term : policy::Vocabulary::Builtin().Terms(policy::Dimension::kUrgency)) {
    out[term.id] = std::chrono::hours(term.deadline_hours);
  }
  return out;
}

Result<common::WorkingCalendar> MakeCalendar(const DeadlineSettings& d) {
  return common::WorkingCalendar::Create(d.hours);
}

std::chrono::seconds Allowance(const DeadlineSettings& d, std::string_view urgency) {
  if (auto it = d.allowances.find(urgency); it != d.allowances.end()) return it->second;
  std::chrono::seconds shortest = std::chrono::seconds::max();
  for (const auto& [id, allowance] : d.allowances) shortest = std::min(shortest, allowance);
  // No allowances at all cannot come from LoadBrokerConfig; fall back to the red default.
  return d.allowances.empty() ? std::chrono::hours(4) : shortest;
}

std::chrono::seconds ChaseAfter(const DeadlineSettings& d, std::string_view urgency) {
  const auto allowance = Allowance(d, urgency);
  const auto chase = std::chrono::seconds(
      static_cast<int64_t>(static_cast<double>(allowance.count()) * d.chase_at));
  return std::clamp(chase, std::chrono::seconds(1), allowance);
}

Result<BrokerConfig> LoadBrokerConfig(const std::filesystem::path& path) {
  MASH_ASSIGN_OR_RETURN(common::ConfigFile file, common::ConfigFile::Load(path));
  common::ConfigReader r = file.Reader();
  BrokerConfig c;
  c.hub_id = r.String("hub.id", "hub");
  if (!ValidId(c.hub_id)) r.ErrorAt("hub.id", "hub.id must match ^[a-z][a-z0-9-]{1,31}$");
  c.log.service = "mash-broker";
  const std::string level = r.String("log.level", "info");
  if (auto l = common::ParseLogLevel(level)) {
    c.log.level = *l;
  } else {
    r.ErrorAt("log.level", "log.level must be debug, info, warn or error");
  }
  if (r.Has("log.file")) c.log.file = r.Path("log.file");

  c.agent_address = r.String("agents.listen_address", "127.0.0.1");
  c.agent_port = static_cast<uint16_t>(r.Integer("agents.listen_port", 8443, 0, 65535));
  c.max_connections = static_cast<int>(r.Integer("agents.max_connections", 256, 1, 100000));
  c.max_pending = static_cast<int>(r.Integer("agents.max_pending", 64, 1, 100000));
  c.max_pending_per_address =
      static_cast<int>(r.Integer("agents.max_pending_per_address", 16, 1, 100000));
  c.max_connections_per_agency =
      static_cast<int>(r.Integer("agents.max_connections_per_agency", 2, 1, 16));
  c.max_queue = static_cast<size_t>(r.Integer("agents.max_queue", 256, 1, 100000));
  c.handshake_timeout = std::chrono::seconds(r.Integer("agents.handshake_timeout_s", 10, 1, 300));
  c.idle_timeout = std::chrono::seconds(r.Integer("agents.idle_timeout_s", 60, 1, 3600));
  c.ping_interval_s = static_cast<int>(r.Integer("agents.ping_interval_s", 20, 1, 3600));
  if (c.idle_timeout.count() < 2 * c.ping_interval_s) {
    // Agents ping at this interval; a shorter idle deadline would cut every one of them.
    r.ErrorAt("agents.idle_timeout_s",
              "agents.idle_timeout_s must be at least twice agents.ping_interval_s");
  }
  c.query_lifetime = std::chrono::seconds(r.Integer("checks.query_lifetime_s", 120, 10, 300));

  c.api_address = r.String("api.listen_address", "127.0.0.1");
  c.api_port = static_cast<uint16_t>(r.Integer("api.listen_port", 8444, 0, 65535));
  c.api_max_connections = static_cast<int>(r.Integer("api.max_connections", 256, 1, 100000));
  c.api_max_pending = static_cast<int>(r.Integer("api.max_pending", 64, 1, 100000));
  c.api_request_timeout = std::chrono::seconds(r.Integer("api.request_timeout_s", 10, 1, 300));

  c.ops_listen = ops::ReadOpsListen(r);

  c.tls = crypto::ReadTlsOptions(r, crypto::TlsRole::kServer);

  c.sign_key = r.Path("keys.sign");
  c.enc_key = r.Path("keys.enc");
  c.database = r.Path("storage.database");
  c.database_key = r.Path("storage.key");

  c.audit.database = r.Path("audit.database");
  c.audit.database_key = r.Path("audit.key");
  c.audit.checkpoint_key = r.Path("audit.checkpoint_key");
  c.audit.pseudonym_key = r.Path("audit.pseudonym_key");
  c.audit.checkpoint_every_events =
      static_cast<uint64_t>(r.Integer("audit.checkpoint_every_events", 1000, 1, 1'000'000));
  c.audit.checkpoint_every =
      std::chrono::seconds(r.Integer("audit.checkpoint_every_s", 10, 1, 86400));
  if (r.Has("audit.retention_days")) {
    c.audit.retention =
        std::chrono::hours(24) * r.Integer("audit.retention_days", std::nullopt, 1, 36500);
  }
  if (r.Has("audit.anchor_file")) c.audit.anchor_file = r.Path("audit.anchor_file");
  c.audit.full_verify_on_start = r.Bool("audit.full_verify_on_start", false);
  c.audit.max_size_mb = static_cast<uint64_t>(r.Integer("audit.max_size_mb", 0, 0, 16'000'000));
  if (c.audit.database == c.database) {
    r.ErrorAt("audit.database", "audit.database must not be storage.database");
  }

  const bool has_agreement = r.Has("policy.agreement");
  const bool has_store = r.Has("policy.store");
  if (has_agreement == has_store) {
    r.ErrorAt("policy", "give exactly one of policy.agreement and policy.store");
  }
  if (has_agreement) c.policy.agreement = r.Path("policy.agreement");
  if (has_store) c.policy.store = r.Path("policy.store");
  c.policy.trusted_keys = r.PathArray("policy.trusted_keys", std::vector<std::filesystem::path>{});

  std::set<std::string> seen;
  // A hub whose agencies enrol themselves starts with none listed (a new installation).
  for (auto& a : r.TableArray("agency", /*optional=*/r.Has("enrolment"))) {
    AgencyEntry e;
    e.id = a.String("id");
    e.name = a.String("name");
    e.type = a.String("type");
    e.sign_public_key = a.Path("sign_public_key");
    e.enc_public_key = a.Path("enc_public_key");
    if (!ValidId(e.id)) a.ErrorAt("id", "agency id must match ^[a-z][a-z0-9-]{1,31}$");
    if (!seen.insert(e.id).second) a.ErrorAt("id", "agency '" + e.id + "' is listed twice");
    static const std::set<std::string> kTypes = {"police",    "social-care", "health",
                                                 "education", "probation",   "housing"};
    if (kTypes.count(e.type) == 0) {
      a.ErrorAt("type",
                "agency type must be police, social-care, health, education, probation or "
                "housing");
    }
    c.agencies.push_back(std::move(e));
  }
  for (auto& t : r.TableArray("api_token", /*optional=*/true)) {
    ApiToken tok;
    tok.user = t.String("user");
    tok.role = t.String("role");
    if (policy::Vocabulary::Builtin().IndexOf(policy::Dimension::kRole, tok.role) < 0) {
      t.ErrorAt("role",
                "role must be one of the vocabulary's roles (practitioner, manager, custodian, "
                "ig_officer, dpo, agency_it, admin)");
    }
    tok.sha256 = t.String("sha256");
    static const std::regex kHex("^[0-9a-f]{64}$");
    if (!std::regex_match(tok.sha256, kHex)) {
      t.ErrorAt("sha256", "sha256 must be 64 lower-case hex digits (mashctl pki token)");
    }
    if (t.Has("team")) {
      tok.team = t.String("team");
      static const std::regex kTeam("^[a-z0-9][a-z0-9_.-]{0,63}$");
      if (!std::regex_match(tok.team, kTeam)) {
        t.ErrorAt("team", "team must be 1-64 lower-case letters, digits, '.', '_' or '-'");
      }
    }
    c.api_tokens.push_back(std::move(tok));
  }
  c.check_retention = std::chrono::hours(24) * r.Integer("retention.check_days", 90, 1, 3650);
  c.staff.lockout_attempts = static_cast<int>(r.Integer("staff.lockout_attempts", 5, 1, 100));
  c.staff.lockout = std::chrono::minutes(r.Integer("staff.lockout_minutes", 15, 1, 24 * 60));
  c.staff.session = std::chrono::hours(r.Integer("staff.session_hours", 8, 1, 24));
  c.staff.session_idle =
      std::chrono::minutes(r.Integer("staff.session_idle_minutes", 30, 1, 24 * 60));
  c.staff.token_days_max = static_cast<int>(r.Integer("staff.token_days_max", 365, 1, 365));
  c.drain_timeout = std::chrono::seconds(r.Integer("lifecycle.drain_timeout_s", 10, 0, 600));
  c.console.enabled = r.Bool("console.enabled", false);
  if (c.console.enabled) {
    c.console.assets = r.Path("console.assets");
    std::error_code ec;
    if (!std::filesystem::is_regular_file(c.console.assets / "console.css", ec)) {
      r.ErrorAt("console.assets",
                "console.assets must be the built console assets (a folder with console.css; "
                "npm run build --prefix console)");
    }
  }
  c.console.service_name = r.String("console.service_name", "MASH Exchange");
  if (c.console.service_name.empty() || c.console.service_name.size() > 80) {
    r.ErrorAt("console.service_name", "console.service_name must be 1-80 characters");
  }
  if (r.Has("enrolment")) {
    EnrolmentSettings e;
    e.issuing_ca_cert = r.Path("enrolment.issuing_ca_cert");
    e.issuing_ca_key = r.Path("enrolment.issuing_ca_key");
    const int64_t days = r.Integer("enrolment.certificate_lifetime_days", 90, 2, 90);
    e.certificate_lifetime = std::chrono::hours(24) * days;
    e.token_lifetime =
        std::chrono::minutes(r.Integer("enrolment.token_lifetime_minutes", 60, 1, 7 * 24 * 60));
    const int64_t window = r.Integer("enrolment.renew_window_days", (days + 2) / 3, 1, 89);
    if (window >= days) {
      r.ErrorAt("enrolment.renew_window_days",
                "enrolment.renew_window_days must be less than certificate_lifetime_days");
    }
    e.renew_window = std::chrono::hours(24) * window;
    if (r.Has("enrolment.agent_url")) {
      e.agent_url = r.String("enrolment.agent_url");
      static const std::regex kUrl("^wss://[A-Za-z0-9.-]{1,253}(:[0-9]{1,5})?/[A-Za-z0-9/._-]*$");
      if (!std::regex_match(e.agent_url, kUrl)) {
        r.ErrorAt("enrolment.agent_url",
                  "enrolment.agent_url must look like wss://HOST:PORT/agent/v1");
      }
    }
    c.enrolment = std::move(e);
  }
  c.deadlines = ReadDeadlines(r);
  c.alerts = ReadAlerts(r);
  MASH_RETURN_IF_ERROR(r.Finish());
  return c;
}

}  // namespace mash::broker
