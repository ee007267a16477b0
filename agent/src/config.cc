#include "mash/agent/config.h"

#include <algorithm>
#include <charconv>
#include <regex>

#include "mash/common/config.h"
#include "mash/ops/config.h"

namespace mash::agent {

namespace {

// "host[:port]" of a URL: the port (when given) and the host, checked. `what` names the setting in
// errors ("broker url", "broker.proxy"); an absent port leaves `port` as it is.
Status SplitHostPort(std::string_view authority, std::string_view what, std::string* host,
                     uint16_t* port) {
  const auto colon = authority.rfind(':');
  if (colon != std::string_view::npos && authority.find(']') == std::string_view::npos) {
    const auto port_text = authority.substr(colon + 1);
    unsigned value = 0;
    const auto [p, ec] =
        std::from_chars(port_text.data(), port_text.data() + port_text.size(), value);
    if (ec != std::errc() || p != port_text.data() + port_text.size() || value == 0 ||
        value > 65535) {
      return InvalidArgument(std::string(what) + " has a bad port");
    }
    *port = static_cast<uint16_t>(value);
    authority = authority.substr(0, colon);
  }
  static const std::regex kHost("^[A-Za-z0-9.-]{1,253}$");
  *host = std::string(authority);
  if (!std::regex_match(*host, kHost))
    return InvalidArgument(std::string(what) + " has a bad host");
  return Status::Ok();
}

}  // namespace

Result<BrokerUrl> ParseBrokerUrl(std::string_view url) {
  constexpr std::string_view kScheme = "wss://";
  if (url.substr(0, kScheme.size()) != kScheme) {
    return InvalidArgument("broker url must start with wss://");
  }
  std::string_view rest = url.substr(kScheme.size());
  BrokerUrl out;
  const auto slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  if (slash != std::string_view::npos) out.path = std::string(rest.substr(slash));
  MASH_RETURN_IF_ERROR(SplitHostPort(authority, "broker url", &out.host, &out.port));
  return out;
}

Result<ProxyUrl> ParseProxyUrl(std::string_view url) {
  constexpr std::string_view kScheme = "http://";
  if (url.substr(0, kScheme.size()) != kScheme) {
    return InvalidArgument("broker.proxy must start with http:// (the tunnel itself is TLS)");
  }
  std::string_view authority = url.substr(kScheme.size());
  if (!authority.empty() && authority.back() == '/') authority.remove_suffix(1);
  if (authority.find('@') != std::string_view::npos) {
    return InvalidArgument("broker.proxy must not hold credentials: use broker.proxy_credentials");
  }
  if (authority.find('/') != std::string_view::npos) {
    return InvalidArgument("broker.proxy takes no path");
  }
  ProxyUrl out;
  MASH_RETURN_IF_ERROR(SplitHostPort(authority, "broker.proxy", &out.host, &out.port));
  return out;
}

namespace {

// [records.import], [records.import.people] and [records.import.records]: every key optional.
void ReadImportMapping(common::ConfigReader& r, ImportMapping* m) {
  const std::string format = r.String("records.import.format", "csv");
  if (auto f = ParseImportFormat(format)) {
    m->format = *f;
  } else {
    r.ErrorAt("records.import.format", "records.import.format must be csv or json");
  }
  const auto column = [&](const char* key, std::string* out) {
    const std::string full = std::string("records.import.") + key;
    if (r.Has(full)) *out = r.String(full);
  };
  const auto date = [&](const char* key, DateFormat* out) {
    const std::string full = std::string("records.import.") + key;
    if (!r.Has(full)) return;
    if (auto f = ParseDateFormat(r.String(full))) {
      *out = *f;
    } else {
      r.ErrorAt(full, full + " must be YYYY-MM-DD or DD/MM/YYYY");
    }
  };
  const auto values = [&](const char* key, std::map<std::string, std::string>* out,
                          const std::vector<std::string>* allowed) {
    const std::string full = std::string("records.import.") + key;
    if (!r.Has(full)) return;
    auto table = r.Table(full);
    if (!table) return;
    for (const auto& name : table->Keys()) {
      std::string v = table->String(name);
      if (allowed != nullptr && std::find(allowed->begin(), allowed->end(), v) == allowed->end()) {
        r.ErrorAt(full, full + " values must be female, male, other or unknown");
        continue;
      }
      std::string k = name;
      for (auto& ch : k) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      (*out)[allowed != nullptr ? k : name] = std::move(v);
    }
  };
  PeopleMapping& p = m->people;
  column("people.record_id", &p.record_id);
  column("people.given_names", &p.given_names);
  column("people.family_name", &p.family_name);
  column("people.aliases", &p.aliases);
  column("people.alias_separator", &p.alias_separator);
  column("people.dob", &p.dob);
  date("people.dob_format", &p.dob_format);
  column("people.sex", &p.sex);
  static const std::vector<std::string> kSexes = {"female", "male", "other", "unknown"};
  values("people.sex_values", &p.sex_values, &kSexes);
  column("people.postcodes", &p.postcodes);
  column("people.postcode_separator", &p.postcode_separator);
  column("people.nhs_number", &p.nhs_number);
  column("people.pnc_id", &p.pnc_id);
  column("people.upn", &p.upn);
  column("people.ni_number", &p.ni_number);
  if (p.alias_separator.empty() || p.postcode_separator.empty()) {
    r.ErrorAt("records.import.people", "list separators must not be empty");
  }
  CategoryMapping& c = m->records;
  column("records.record_id", &c.record_id);
  column("records.category", &c.category);
  values("records.category_values", &c.category_values, nullptr);
  column("records.date", &c.date);
  date("records.date_format", &c.date_format);
  column("records.summary", &c.summary);
  if (p.record_id.empty() || c.record_id.empty() || c.category.empty()) {
    r.ErrorAt("records.import", "record_id and category columns must be named");
  }
}

}  // namespace

Result<AgentConfig> LoadAgentConfig(const std::filesystem::path& path, AgentConfig* partial) {
  MASH_ASSIGN_OR_RETURN(common::ConfigFile file, common::ConfigFile::Load(path));
  common::ConfigReader r = file.Reader();
  AgentConfig c;
  c.agency_id = r.String("agency.id");
  static const std::regex kId("^[a-z][a-z0-9-]{1,31}$");
  if (!std::regex_match(c.agency_id, kId)) {
    r.ErrorAt("agency.id", "agency.id must match ^[a-z][a-z0-9-]{1,31}$");
  }
  c.agency_name = r.String("agency.name");
  c.agency_type = r.String("agency.type");
  c.log.service = "mash-agent";
  if (auto l = common::ParseLogLevel(r.String("log.level", "info"))) {
    c.log.level = *l;
  } else {
    r.ErrorAt("log.level", "log.level must be debug, info, warn or error");
  }
  if (r.Has("log.file")) c.log.file = r.Path("log.file");

  c.ops_listen = ops::ReadOpsListen(r);
  const std::string url = r.String("broker.url");
  if (auto parsed = ParseBrokerUrl(url); parsed.ok()) {
    c.broker = *parsed;
  } else if (!url.empty()) {
    r.ErrorAt("broker.url", parsed.status().message());
  }
  c.hub_id = r.String("broker.hub_id", "hub");
  c.broker_sign_public_key = r.Path("broker.sign_public_key");
  c.broker_enc_public_key = r.Path("broker.enc_public_key");
  if (r.Has("broker.proxy")) {
    if (auto proxy = ParseProxyUrl(r.String("broker.proxy")); proxy.ok()) {
      c.proxy = *proxy;
    } else {
      r.ErrorAt("broker.proxy", proxy.status().message());
    }
  }
  if (r.Has("broker.proxy_credentials")) {
    c.proxy_credentials = r.Path("broker.proxy_credentials");
    if (!r.Has("broker.proxy")) {
      r.ErrorAt("broker.proxy_credentials", "broker.proxy_credentials needs broker.proxy");
    }
  }

  c.tls = crypto::ReadTlsOptions(r, crypto::TlsRole::kClient);

  c.sign_key = r.Path("keys.sign");
  c.enc_key = r.Path("keys.enc");
  c.database = r.Path("storage.database");
  c.database_key = r.Path("storage.key");
  // Exactly one record source: the fixture, the command connector or the store.
  if (static_cast<int>(r.Has("records.fixture")) + static_cast<int>(r.Has("records.command")) +
          static_cast<int>(r.Has("records.store")) !=
      1) {
    r.ErrorAt("records", "[records] needs exactly one of fixture, command and store");
  }
  if (r.Has("records.fixture")) c.records_fixture = r.Path("records.fixture");
  if (r.Has("records.store")) {
    c.records_store = r.Path("records.store");
    c.records_store_key = r.Path("records.store_key");
  } else if (r.Has("records.store_key")) {
    r.ErrorAt("records.store_key", "records.store_key needs records.store");
  }
  c.records_source = r.String("records.source", "");
  if (c.records_source.size() > 80) {
    r.ErrorAt("records.source", "records.source must be at most 80 characters");
  }
  ReadImportMapping(r, &c.records_import);
  if (r.Has("records.command")) {
    c.records_command = r.StringArray("records.command");
    if (c.records_command.empty()) {
      r.ErrorAt("records.command", "records.command needs at least the program");
    } else if (!std::filesystem::path(c.records_command[0]).is_absolute()) {
      r.ErrorAt("records.command", "records.command[0] must be an absolute path");
    }
  } else {
    for (const char* key : {"records.command_timeout_ms", "records.command_max_output_bytes"}) {
      if (r.Has(key)) r.ErrorAt(key, std::string(key) + " needs records.command");
    }
  }
  c.records_command_timeout =
      std::chrono::milliseconds(r.Integer("records.command_timeout_ms", 5000, 100, 300000));
  c.records_command_max_output_bytes = static_cast<size_t>(
      r.Integer("records.command_max_output_bytes", 4 * 1024 * 1024, 1024, 64 * 1024 * 1024));

  // Exactly one source of the disclosure policy; the policy itself is loaded and checked
  // (signature, kind, agency type) by LoadDisclosurePolicies at start and by check-config.
  if (!r.Has("policy")) {
    r.ErrorAt("policy", "missing required table [policy]");
  } else if (r.Has("policy.file") == r.Has("policy.store")) {
    r.ErrorAt("policy", "[policy] needs exactly one of file and store");
  }
  if (r.Has("policy.file")) c.policy.file = r.Path("policy.file");
  if (r.Has("policy.store")) c.policy.store = r.Path("policy.store");
  c.policy.trusted_keys = r.PathArray("policy.trusted_keys", std::vector<std::filesystem::path>{});
  c.audit_log_public_key = r.Path("audit.log_public_key");

  if (r.Has("enrolment.broker")) {
    c.enrolment_url = r.String("enrolment.broker");
    static const std::regex kHttps("^https://[A-Za-z0-9.-]{1,253}(:[0-9]{1,5})?/?$");
    if (!std::regex_match(c.enrolment_url, kHttps)) {
      r.ErrorAt("enrolment.broker", "enrolment.broker must look like https://HOST:PORT");
    }
  }
  c.renew_window =
      std::chrono::seconds(r.Integer("enrolment.renew_window_s", 0, 0, 89 * 24 * 3600));

  c.handshake_timeout =
      std::chrono::seconds(r.Integer("connection.handshake_timeout_s", 10, 1, 300));
  c.ping_interval = std::chrono::seconds(r.Integer("connection.ping_interval_s", 20, 1, 3600));
  c.backoff_initial =
      std::chrono::milliseconds(r.Integer("connection.backoff_initial_ms", 500, 10, 60000));
  c.backoff_max =
      std::chrono::milliseconds(r.Integer("connection.backoff_max_ms", 60000, 100, 3600000));
  c.answer_lifetime = std::chrono::seconds(r.Integer("connection.answer_lifetime_s", 120, 10, 300));
  c.drain_timeout = std::chrono::seconds(r.Integer("lifecycle.drain_timeout_s", 10, 0, 600));
  if (partial != nullptr) *partial = c;
  MASH_RETURN_IF_ERROR(r.Finish());
  return c;
}

}  // namespace mash::agent
