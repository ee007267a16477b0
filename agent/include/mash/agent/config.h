// mash-agent configuration (agent.toml). See docs/configuration.md for every key.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "mash/agent/record_import.h"
#include "mash/common/log.h"
#include "mash/common/status.h"
#include "mash/crypto/tls.h"
#include "mash/ops/endpoint.h"
#include "mash/policy/loader.h"

namespace mash::agent {

struct BrokerUrl {
  std::string host;
  uint16_t port = 443;
  std::string path = "/agent/v1";
};

// Accepts only wss://host[:port][/path]. InvalidArgument otherwise.
Result<BrokerUrl> ParseBrokerUrl(std::string_view url);

// An HTTP proxy the agent tunnels through with CONNECT ([broker] proxy, docs/agent.md).
struct ProxyUrl {
  std::string host;
  uint16_t port = 3128;
};

// Accepts only http://host[:port][/]: no user or password in the URL (they belong in a 0600
// file, [broker] proxy_credentials), no path, no https. InvalidArgument otherwise.
Result<ProxyUrl> ParseProxyUrl(std::string_view url);

// Where the agency's disclosure policy comes from ([policy] in agent.toml). Exactly one of `file`
// (a signed bundle NAME.bundle.json or, only without trusted keys, a TOML policy) and `store` (a
// policy store folder made by `mashctl policy publish`: its enforced and, when present, shadow
// versions) is set.
using PolicySource = policy::PolicySource;

struct AgentConfig {
  std::string agency_id;
  std::string agency_name;
  std::string agency_type;
  common::LogOptions log;
  // [ops] listen: the loopback /healthz, /readyz and /metrics listener (ops/server.h); unset:
  // none.
  std::optional<ops::Endpoint> ops_listen;

  BrokerUrl broker;
  std::string hub_id = "hub";
  std::filesystem::path broker_sign_public_key;
  std::filesystem::path broker_enc_public_key;
  // [broker] proxy and proxy_credentials: an HTTP proxy to tunnel through, and a 0600 file
  // holding "user:password" for it (Basic authentication). Both optional; credentials need a proxy.
  std::optional<ProxyUrl> proxy;
  std::filesystem::path proxy_credentials;

  // The agency's client certificate and key, the hub CA, its CRLs, and the pin of the hub CA's
  // public key (sha256:<hex>).
  crypto::TlsOptions tls;

  std::filesystem::path sign_key;
  std::filesystem::path enc_key;
  std::filesystem::path database;
  std::filesystem::path database_key;

  // Where records come from ([records]): exactly one of `fixture` (records.h), `command` (the
  // command connector, command_connector.h: argv, the program an absolute path) and `store` (the
  // built-in SQLCipher record store, record_store.h, with its key file `store_key`) is set.
  std::filesystem::path records_fixture;
  std::filesystem::path records_store;
  std::filesystem::path records_store_key;
  std::string records_source;  // [records] source: how answers name the store; "" for a default
  // [records.import]: how `mash-agent import` maps an export's columns (record_import.h).
  ImportMapping records_import;
  std::vector<std::string> records_command;
  std::chrono::milliseconds records_command_timeout{5000};
  size_t records_command_max_output_bytes = 4 * 1024 * 1024;

  PolicySource policy;
  // The hub's audit checkpoint public key ([audit] log_public_key): the agent witnesses the
  // hub's audit log with it (DESIGN §8). Required.
  std::filesystem::path audit_log_public_key;

  // [enrolment], written by `mash-agent enrol` (enrol.h): the broker's HTTPS API to renew the
  // certificate at, and how long before expiry to renew (0: when a third of the lifetime is
  // left). An empty url turns automatic renewal off.
  std::string enrolment_url;
  std::chrono::seconds renew_window{0};

  std::chrono::seconds handshake_timeout{10};
  std::chrono::seconds ping_interval{20};
  std::chrono::milliseconds backoff_initial{500};
  std::chrono::milliseconds backoff_max{60000};
  std::chrono::seconds answer_lifetime{120};
  // [lifecycle] drain_timeout_s: on SIGTERM, how long answers being computed may take to be
  // sent before the agent closes its channel anyway.
  std::chrono::seconds drain_timeout{10};
};

// InvalidArgument lists every problem as "file:line:col: message". `partial`, when given, gets
// what could be read even when there were problems (check-config goes on to check the files it
// names); it is left untouched when the file cannot be read or parsed at all.
Result<AgentConfig> LoadAgentConfig(const std::filesystem::path& path,
                                    AgentConfig* partial = nullptr);

}  // namespace mash::agent
