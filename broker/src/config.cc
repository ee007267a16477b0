#include "mash/broker/config.h"

#include <regex>
#include <set>

#include "mash/common/config.h"

namespace mash::broker {
namespace {

bool ValidId(const std::string& s) {
  static const std::regex kId("^[a-z][a-z0-9-]{1,31}$");
  return std::regex_match(s, kId);
}

}  // namespace

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

  c.tls = crypto::ReadTlsOptions(r, crypto::TlsRole::kServer);

  c.sign_key = r.Path("keys.sign");
  c.enc_key = r.Path("keys.enc");
  c.database = r.Path("storage.database");
  c.database_key = r.Path("storage.key");

  std::set<std::string> seen;
  for (auto& a : r.TableArray("agency")) {
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
    tok.sha256 = t.String("sha256");
    static const std::regex kHex("^[0-9a-f]{64}$");
    if (!std::regex_match(tok.sha256, kHex)) {
      t.ErrorAt("sha256", "sha256 must be 64 lower-case hex digits (mashctl pki token)");
    }
    c.api_tokens.push_back(std::move(tok));
  }
  MASH_RETURN_IF_ERROR(r.Finish());
  return c;
}

}  // namespace mash::broker
