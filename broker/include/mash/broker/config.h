// mash-broker configuration (broker.toml). See docs/configuration.md for every key.
// Thread safety: plain values.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mash/common/log.h"
#include "mash/common/status.h"
#include "mash/common/working_calendar.h"
#include "mash/crypto/tls.h"
#include "mash/ops/endpoint.h"

namespace mash::broker {

struct AgencyEntry {
  std::string id;    // matches the certificate's urn:mash:agency:<id>
  std::string name;  // shown to practitioners
  std::string type;  // police | social-care | health | education | probation | housing
  std::filesystem::path sign_public_key;
  std::filesystem::path enc_public_key;
  friend bool operator==(const AgencyEntry&, const AgencyEntry&) = default;
};

struct ApiToken {
  std::string user;
  std::string role;
  std::string sha256;  // hex SHA-256 of the bearer token; the token itself is never stored
  std::string team;    // the team whose checks the holder raises and reads
  friend bool operator==(const ApiToken&, const ApiToken&) = default;
};

// The hub's audit log (DESIGN §8): its own SQLCipher database and key, the Ed25519 key that signs
// its checkpoints, and the HMAC key of subject pseudonyms.
struct AuditSettings {
  std::filesystem::path database;
  std::filesystem::path database_key;
  std::filesystem::path checkpoint_key;  // Ed25519 signing key file (mashctl pki keygen)
  std::filesystem::path pseudonym_key;   // mashctl pki secret --kind pseudonym
  uint64_t checkpoint_every_events = 1000;
  std::chrono::seconds checkpoint_every{10};
  std::optional<std::chrono::seconds> retention;  // unset: keep every event
  std::optional<std::filesystem::path> anchor_file;
  bool full_verify_on_start = false;
  // A ceiling on the audit database's size (SQLite max_page_count): when it is reached, appends
  // fail and the broker refuses what it cannot record, instead of filling the disk. 0: none.
  uint64_t max_size_mb = 0;
  friend bool operator==(const AuditSettings&, const AuditSettings&) = default;
};

// The sharing agreement the broker enforces: a signed bundle or a policy store (enforced and
// shadow versions), verified against the DPO keys.
struct PolicySettings {
  std::filesystem::path agreement;  // a bundle (.json) or, without trusted keys, a TOML file
  std::filesystem::path store;      // or a policy store folder (mashctl policy publish)
  std::vector<std::filesystem::path> trusted_keys;
  friend bool operator==(const PolicySettings&, const PolicySettings&) = default;
};

// The enrolment authority ([enrolment], DESIGN §6): the online issuing CA that certifies agents
// which enrol with a one-time token (broker/include/mash/broker/enrolment.h).
struct EnrolmentSettings {
  std::filesystem::path issuing_ca_cert;  // PEM; the CA that issues agency certificates
  std::filesystem::path issuing_ca_key;   // PEM private key; refused if mode & 077
  std::chrono::seconds certificate_lifetime = std::chrono::hours(24 * 90);  // <= 90 days
  std::chrono::seconds token_lifetime = std::chrono::minutes(60);
  // Agents renew when less than this is left of their certificate (told to them on enrolment).
  std::chrono::seconds renew_window = std::chrono::hours(24 * 30);
  // The agent WebSocket URL given to enrolled agents; empty: wss://<Host of the enrol
  // request>:<agent port>/agent/v1.
  std::string agent_url;
  friend bool operator==(const EnrolmentSettings&, const EnrolmentSettings&) = default;
};

// Agency-check deadlines ([deadlines], DESIGN §4): how long each urgency gives an agency, in
// working time on the hub's calendar, and when the hub chases it.
struct DeadlineSettings {
  // The working week (Mon–Fri 09:00–17:00 Europe/London by default), with the bank holidays of
  // bank_holidays and bank_holidays_file together.
  common::WorkingHours hours;
  // Working time an agency has to answer, by urgency id ("red", "amber", "green"). By default the
  // vocabulary's deadline_hours.
  std::map<std::string, std::chrono::seconds, std::less<>> allowances = DefaultAllowances();
  // The fraction of its allowance after which an agency that has not answered is chased;
  // 0 < chase_at < 1.
  double chase_at = 0.75;

  // Every urgency of the built-in vocabulary with its deadline_hours.
  static std::map<std::string, std::chrono::seconds, std::less<>> DefaultAllowances();
  friend bool operator==(const DeadlineSettings&, const DeadlineSettings&) = default;
};

// The calendar of `d` (WorkingCalendar::Create's errors; none for settings LoadBrokerConfig
// accepted).
Result<common::WorkingCalendar> MakeCalendar(const DeadlineSettings& d);
// The working time `urgency` allows. An urgency with no allowance gets the shortest one (fail
// towards chasing early rather than late).
std::chrono::seconds Allowance(const DeadlineSettings& d, std::string_view urgency);
// The working time after which an agency is chased: chase_at of Allowance(), rounded down, at
// least one second.
std::chrono::seconds ChaseAfter(const DeadlineSettings& d, std::string_view urgency);

// Staff accounts in the broker database ([staff], broker/include/mash/broker/staff_directory.h).
struct StaffSettings {
  int lockout_attempts = 5;                                 // failed password checks in a row
  std::chrono::seconds lockout = std::chrono::minutes(15);  // how long the account is locked
  std::chrono::seconds session = std::chrono::hours(8);     // absolute session lifetime
  std::chrono::seconds session_idle = std::chrono::minutes(30);
  int token_days_max = 365;  // personal API tokens; the default is min(90, this)
  friend bool operator==(const StaffSettings&, const StaffSettings&) = default;
};

// The IG alert queue ([alerts], docs/workflow.md): which use of the hub raises an alert besides an
// override of consent (always raised).
struct AlertSettings {
  // A check raised, or a result viewed, outside the working hours of [deadlines] (never when
  // deadlines.always is set).
  bool out_of_hours = true;
  // One person raising more than volume_checks checks, or viewing more than volume_views results,
  // within volume_window: one alert per person and measure per window. 0 turns a measure off.
  int volume_checks = 20;
  int volume_views = 50;
  std::chrono::seconds volume_window = std::chrono::hours(24);
  friend bool operator==(const AlertSettings&, const AlertSettings&) = default;
};

// [console]: the web console (console.h, docs/console.md).
struct ConsoleOptions {
  bool enabled = false;
  // The built front-end assets (console/dist: CSS, JS, images), served at /assets/.
  std::filesystem::path assets;
  std::string service_name = "MASH Exchange";
  // Unsaved answers of a check being raised are dropped after this long without a page view.
  std::chrono::seconds draft_idle{std::chrono::minutes(30)};
  friend bool operator==(const ConsoleOptions&, const ConsoleOptions&) = default;
};

struct BrokerConfig {
  std::string hub_id = "hub";
  common::LogOptions log;

  std::string agent_address = "127.0.0.1";
  uint16_t agent_port = 8443;
  std::string api_address = "127.0.0.1";
  uint16_t api_port = 8444;
  // [ops] listen: the loopback /healthz, /readyz and /metrics listener (ops/server.h); unset:
  // none.
  std::optional<ops::Endpoint> ops_listen;
  int api_max_connections = 256;
  int api_max_pending = 64;
  std::chrono::seconds api_request_timeout{10};

  crypto::TlsOptions tls;  // the broker's certificate, key, CA and CRLs (both listeners)

  std::filesystem::path sign_key;
  std::filesystem::path enc_key;

  std::filesystem::path database;
  std::filesystem::path database_key;

  int max_connections = 256;
  int max_pending = 64;
  int max_pending_per_address = 16;
  int max_connections_per_agency = 2;
  size_t max_queue = 256;
  std::chrono::seconds handshake_timeout{10};
  std::chrono::seconds idle_timeout{60};
  std::chrono::seconds query_lifetime{120};
  int ping_interval_s = 20;

  AuditSettings audit;
  PolicySettings policy;

  std::vector<AgencyEntry> agencies;
  // Bootstrap and service accounts: bearer tokens whose SHA-256 is in broker.toml (e.g. the
  // first admin, who then adds staff accounts to the database).
  std::vector<ApiToken> api_tokens;
  // [retention] check_days: a closed check's contents are purged this long after it closed.
  std::chrono::seconds check_retention = std::chrono::hours(24 * 90);
  StaffSettings staff;
  std::optional<EnrolmentSettings> enrolment;  // unset: no enrolment endpoints
  DeadlineSettings deadlines;                  // [deadlines]; defaults when absent
  AlertSettings alerts;                        // [alerts]; defaults when absent
  ConsoleOptions console;                      // [console]: the web console (console.h)
  // [lifecycle] drain_timeout_s: on SIGTERM, how long queries already sent may take to be
  // answered (and their answers recorded) before the broker stops anyway.
  std::chrono::seconds drain_timeout{10};
};

// Loads and checks `path`. InvalidArgument lists every problem as "file:line:col: message".
Result<BrokerConfig> LoadBrokerConfig(const std::filesystem::path& path);

}  // namespace mash::broker
