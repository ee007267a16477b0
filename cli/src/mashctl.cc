#include "mash/cli/mashctl.h"

#include <sys/stat.h>

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <set>
#include <sstream>
#include <thread>

#include "command_group.h"
#include "connection.h"
#include "mash/cli/check_request.h"
#include "mash/cli/secrets.h"
#include "mash/common/clock.h"
#include "mash/common/private_file.h"
#include "mash/crypto/keys.h"
#include "mash/crypto/tls.h"
#include "mash/schemas/validator.h"

namespace mash::cli {
namespace {

using nlohmann::json;

constexpr size_t kMaxRequestFileBytes = 64 * 1024;  // the broker's body limit
constexpr int kMaxRequestDepth = 16;
constexpr int kMaxWaitSeconds = 7 * 24 * 3600;
constexpr char kChecksPath[] = "/api/v1/checks";
constexpr char kAgenciesPath[] = "/api/v1/agencies";
constexpr char kAlertsPath[] = "/api/v1/alerts";
constexpr size_t kMinReason = 10;  // an authorisation's reason, as the broker asks
constexpr size_t kMinNote = 10;    // an alert status change's note, as the broker checks it
constexpr size_t kMaxNote = 2000;

constexpr char kFooter[] =
    "Environment:\n"
    "  MASH_BROKER      broker URL (https://HOST:PORT), when --broker is not given\n"
    "  MASH_CA          hub root CA (PEM), when --ca is not given\n"
    "  MASH_CRLS        CRL files separated by ':', when no --crl is given\n"
    "  MASH_TOKEN_FILE  bearer token file (mode 0600), when --token-file is not given\n"
    "Exit codes:\n"
    "  0 ok; 1 check failed (refused by the broker, unknown check, --wait timed out, an agency\n"
    "  gave no answer); 2 usage or configuration; 3 connection (connect, TLS, deadline, 5xx)";

}  // namespace

void AddConnectionOptions(CLI::App* app, ConnectionFlags* c, bool token_file) {
  app->add_option("--broker", c->broker, "broker URL (env MASH_BROKER)")
      ->type_name("https://HOST:PORT");
  app->add_option("--ca", c->ca, "hub root CA certificate, PEM (env MASH_CA)")->type_name("FILE");
  app->add_option("--crl", c->crls,
                  "CRL file, PEM; repeat for each CA of the broker's chain (env MASH_CRLS, "
                  "':'-separated)")
      ->allow_extra_args(false)
      ->type_name("FILE");
  if (!token_file) return;
  app->add_option("--token-file", c->token_file,
                  "file holding your bearer token, mode 0600 (env MASH_TOKEN_FILE)")
      ->type_name("FILE");
}

std::optional<std::string> FromEnv(const Environment& env, const std::string& name) {
  if (!env.getenv) return std::nullopt;
  auto v = env.getenv(name);
  if (v && v->empty()) return std::nullopt;
  return v;
}

// Resolves the connection settings (flags first, then the environment) and builds the client.
// Every failure here is a usage or configuration problem: exit 2.
Result<std::unique_ptr<ApiClient>> Connect(const ConnectionFlags& flags, const Environment& env,
                                           bool with_token) {
  std::string broker = flags.broker;
  if (broker.empty()) broker = FromEnv(env, "MASH_BROKER").value_or("");
  if (broker.empty()) return InvalidArgument("no broker: give --broker or set MASH_BROKER");
  MASH_ASSIGN_OR_RETURN(BrokerAddress address, ParseBrokerUrl(broker));

  std::string ca = flags.ca;
  if (ca.empty()) ca = FromEnv(env, "MASH_CA").value_or("");
  if (ca.empty()) return InvalidArgument("no hub CA: give --ca or set MASH_CA");

  std::vector<std::filesystem::path> crls(flags.crls.begin(), flags.crls.end());
  if (crls.empty()) {
    std::stringstream list(FromEnv(env, "MASH_CRLS").value_or(""));
    for (std::string item; std::getline(list, item, ':');) {
      if (!item.empty()) crls.emplace_back(item);
    }
  }
  if (crls.empty()) return InvalidArgument("no CRL files: give --crl or set MASH_CRLS");

  std::string token;
  if (with_token) {
    std::string token_file = flags.token_file;
    if (token_file.empty()) token_file = FromEnv(env, "MASH_TOKEN_FILE").value_or("");
    if (token_file.empty()) {
      return InvalidArgument("no token file: give --token-file or set MASH_TOKEN_FILE");
    }
    MASH_ASSIGN_OR_RETURN(token, ReadTokenFile(token_file));
  }

  if (!env.make_client) return Internal("no client factory");
  ClientOptions options;
  options.broker = std::move(address);
  options.ca_file = ca;
  options.crl_files = std::move(crls);
  options.token = std::move(token);
  return env.make_client(std::move(options));
}

// Turns a reply that is not a success into an exit code and one line on stderr.
int ReportHttpError(const Context& ctx, const HttpReply& reply, const std::string& what) {
  std::string code;
  std::string message;
  if (reply.body.is_object()) {
    const auto it = reply.body.find("error");
    if (it != reply.body.end() && it->is_object()) {
      if (it->contains("code") && (*it)["code"].is_string()) code = (*it)["code"];
      if (it->contains("message") && (*it)["message"].is_string()) message = (*it)["message"];
    }
  }
  message = SafeForTerminal(message);
  std::string line = what + ": broker answered " + std::to_string(reply.status);
  if (!code.empty()) line += " " + code.substr(0, 40);
  if (!message.empty()) line += ": " + message.substr(0, 500);
  if (reply.status == 401) {
    return ctx.Fail(kExitUsage, line + " (is the token in --token-file registered?)");
  }
  if (reply.status >= 400 && reply.status < 500) return ctx.Fail(kExitCheckFailed, line);
  return ctx.Fail(kExitConnection, line);
}

bool IsSuccess(const HttpReply& reply) { return reply.status >= 200 && reply.status < 300; }

void PrintJson(std::ostream& out, const json& j) {
  out << j.dump(2, ' ', false, json::error_handler_t::replace) << "\n";
}

namespace {

// Prints `check` and, with --wait, polls until it settles or `wait_seconds` pass.
int FollowCheck(const Context& ctx, ApiClient& client, const std::string& id, json check,
                std::optional<int> wait_seconds, bool as_json) {
  if (wait_seconds) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(*wait_seconds);
    const std::string target = std::string(kChecksPath) + "/" + id;
    // Answers usually arrive within milliseconds: poll quickly at first, then back off to the
    // configured interval so a long wait does not hammer the broker.
    auto interval = std::min(ctx.env.poll_interval, std::chrono::milliseconds(50));
    while (!IsSettled(check) && std::chrono::steady_clock::now() < deadline) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (ctx.env.sleep) ctx.env.sleep(std::min(interval, left));
      interval = std::min(interval * 2, ctx.env.poll_interval);
      auto reply = client.Get(target);
      if (!reply.ok()) return ctx.Fail(kExitConnection, reply.status());
      if (!IsSuccess(*reply)) return ReportHttpError(ctx, *reply, "check show");
      check = std::move(reply->body);
    }
  }
  if (as_json) {
    PrintJson(ctx.out, check);
  } else {
    PrintCheck(check, ctx.out);
  }
  if (!wait_seconds) return kExitOk;
  if (!IsSettled(check)) {
    return ctx.Fail(kExitCheckFailed, "gave up waiting after " + std::to_string(*wait_seconds) +
                                          " s: some agencies have not answered yet");
  }
  if (const int n = UnansweredParts(check); n > 0) {
    return ctx.Fail(kExitCheckFailed,
                    std::to_string(n) + " agency part(s) ended without an answer");
  }
  return kExitOk;
}

Result<json> ReadRequestFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound("cannot open " + path);
  std::string text;
  text.resize(kMaxRequestFileBytes + 1);
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<size_t>(in.gcount()));
  if (text.size() > kMaxRequestFileBytes) {
    return InvalidArgument(path + ": larger than the broker accepts (64 KiB)");
  }
  auto doc = schemas::ParseJson(text, kMaxRequestFileBytes, kMaxRequestDepth);
  if (!doc.ok()) return doc.status().WithContext(path);
  return doc;
}

struct RaiseCommand {
  RaiseFlags flags;
  int level = 0;
  std::string from_file;
  int wait = 0;
  bool json = false;
  ConnectionFlags conn;
  CLI::App* app = nullptr;
  CLI::Option* level_opt = nullptr;
  CLI::Option* wait_opt = nullptr;
  std::vector<CLI::Option*> request_opts;
};

int RunRaise(const Context& ctx, RaiseCommand& cmd) {
  json body;
  if (!cmd.from_file.empty()) {
    for (const auto* opt : cmd.request_opts) {
      if (opt->count() > 0) {
        return ctx.Fail(kExitUsage, "--from-file cannot be combined with " + opt->get_name());
      }
    }
    auto doc = ReadRequestFile(cmd.from_file);
    if (!doc.ok()) return ctx.Fail(kExitUsage, doc.status());
    if (Status s = CheckRaiseRequest(*doc); !s.ok()) {
      return ctx.Fail(kExitUsage, "request refused locally: " + s.message());
    }
    body = std::move(*doc);
  } else {
    const std::pair<const char*, bool> required[] = {
        {"--purpose", cmd.flags.purpose.empty()},
        {"--lawful-basis", cmd.flags.lawful_basis.empty()},
        {"--consent", cmd.flags.consent.empty()},
        {"--urgency", cmd.flags.urgency.empty()},
        {"--agency", cmd.flags.agencies.empty()}};
    for (const auto& [name, missing] : required) {
      if (missing) return ctx.Fail(kExitUsage, std::string(name) + " is required (or --from-file)");
    }
    if (cmd.level_opt->count() > 0) cmd.flags.level = cmd.level;
    auto built = BuildRaiseRequest(cmd.flags);
    if (!built.ok())
      return ctx.Fail(kExitUsage, "request refused locally: " + built.status().message());
    body = std::move(*built);
  }

  auto client = Connect(cmd.conn, ctx.env);
  if (!client.ok()) return ctx.Fail(kExitUsage, client.status());
  auto reply = (*client)->Post(kChecksPath, body);
  if (!reply.ok()) return ctx.Fail(kExitConnection, reply.status());
  if (!IsSuccess(*reply)) return ReportHttpError(ctx, *reply, "check raise");
  const json& created = reply->body;
  const std::string id = created.is_object() && created.contains("id") && created["id"].is_string()
                             ? created["id"].get<std::string>()
                             : "";
  if (!IsCheckId(id)) return ctx.Fail(kExitConnection, "the broker's reply names no check id");

  if (cmd.wait_opt->count() > 0) {
    return FollowCheck(ctx, **client, id, created, cmd.wait, cmd.json);
  }
  if (cmd.json) {
    PrintJson(ctx.out, created);
  } else {
    ctx.out << id << "\n";
  }
  return kExitOk;
}

struct ShowCommand {
  std::string id;
  int wait = 0;
  bool json = false;
  ConnectionFlags conn;
  CLI::App* app = nullptr;
  CLI::Option* wait_opt = nullptr;
};

int RunShow(const Context& ctx, const ShowCommand& cmd) {
  if (!IsCheckId(cmd.id)) return ctx.Fail(kExitUsage, "a check id is 32 lower-case hex digits");
  auto client = Connect(cmd.conn, ctx.env);
  if (!client.ok()) return ctx.Fail(kExitUsage, client.status());
  auto reply = (*client)->Get(std::string(kChecksPath) + "/" + cmd.id);
  if (!reply.ok()) return ctx.Fail(kExitConnection, reply.status());
  if (!IsSuccess(*reply)) return ReportHttpError(ctx, *reply, "check show");
  std::optional<int> wait;
  if (cmd.wait_opt->count() > 0) wait = cmd.wait;
  return FollowCheck(ctx, **client, cmd.id, std::move(reply->body), wait, cmd.json);
}

int PrintCheckReply(const Context& ctx, const json& check, bool as_json) {
  if (as_json) {
    PrintJson(ctx.out, check);
  } else {
    PrintCheck(check, ctx.out);
  }
  return kExitOk;
}

// `check authorise` and its clearer spelling for a refusal, `check reject` (verb "reject",
// decision fixed to "reject").
struct AuthoriseCommand {
  std::string verb = "authorise";
  std::string id;
  std::string decision;
  std::string reason;
  bool json = false;
  ConnectionFlags conn;
  CLI::App* app = nullptr;
};

int RunAuthorise(const Context& ctx, const AuthoriseCommand& cmd) {
  if (!IsCheckId(cmd.id)) return ctx.Fail(kExitUsage, "a check id is 32 lower-case hex digits");
  if (cmd.reason.size() < kMinReason) {
    return ctx.Fail(kExitUsage, "--reason must say why, in at least 10 characters");
  }
  auto client = Connect(cmd.conn, ctx.env);
  if (!client.ok()) return ctx.Fail(kExitUsage, client.status());
  auto reply = (*client)->Post(std::string(kChecksPath) + "/" + cmd.id + "/authorisation",
                               json{{"decision", cmd.decision}, {"reason", cmd.reason}});
  if (!reply.ok()) return ctx.Fail(kExitConnection, reply.status());
  if (!IsSuccess(*reply)) return ReportHttpError(ctx, *reply, "check " + cmd.verb);
  return PrintCheckReply(ctx, reply->body, cmd.json);
}

struct ListCommand {
  std::string state;
  bool json = false;
  ConnectionFlags conn;
  CLI::App* app = nullptr;
};

int RunList(const Context& ctx, const ListCommand& cmd) {
  auto client = Connect(cmd.conn, ctx.env);
  if (!client.ok()) return ctx.Fail(kExitUsage, client.status());
  std::string target = kChecksPath;
  // CLI11 has limited the state to four fixed words: nothing to escape.
  if (!cmd.state.empty()) target += "?state=" + cmd.state;
  auto reply = (*client)->Get(target);
  if (!reply.ok()) return ctx.Fail(kExitConnection, reply.status());
  if (!IsSuccess(*reply)) return ReportHttpError(ctx, *reply, "check list");
  if (cmd.json) {
    PrintJson(ctx.out, reply->body);
  } else {
    PrintCheckList(reply->body, ctx.out);
  }
  return kExitOk;
}

struct DecideCommand {
  std::string id;
  std::string outcome;
  std::string rationale;
  std::string rationale_file;
  bool json = false;
  ConnectionFlags conn;
  CLI::App* app = nullptr;
};

// The rationale from a file: at most a little more than the broker accepts is read, and the
// final line break an editor adds is not part of it.
Result<std::string> ReadRationaleFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound("cannot open " + path);
  std::string text;
  text.resize(kMaxRationale + 3);
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<size_t>(in.gcount()));
  if (text.ends_with("\r\n")) {
    text.resize(text.size() - 2);
  } else if (text.ends_with("\n")) {
    text.pop_back();
  }
  return text;
}

int RunDecide(const Context& ctx, const DecideCommand& cmd) {
  if (!IsCheckId(cmd.id)) return ctx.Fail(kExitUsage, "a check id is 32 lower-case hex digits");
  std::string rationale = cmd.rationale;
  if (!cmd.rationale_file.empty()) {
    auto text = ReadRationaleFile(cmd.rationale_file);
    if (!text.ok()) return ctx.Fail(kExitUsage, text.status());
    rationale = std::move(*text);
  } else if (cmd.rationale.empty()) {
    return ctx.Fail(kExitUsage, "give the rationale with --rationale or --rationale-file");
  }
  auto body = BuildDecisionRequest(cmd.outcome, rationale);
  if (!body.ok()) return ctx.Fail(kExitUsage, body.status());
  auto client = Connect(cmd.conn, ctx.env);
  if (!client.ok()) return ctx.Fail(kExitUsage, client.status());
  auto reply = (*client)->Post(std::string(kChecksPath) + "/" + cmd.id + "/decision", *body);
  if (!reply.ok()) return ctx.Fail(kExitConnection, reply.status());
  if (!IsSuccess(*reply)) return ReportHttpError(ctx, *reply, "check decide");
  return PrintCheckReply(ctx, reply->body, cmd.json);
}

struct AlertsCommand {
  bool all = false;
  std::vector<std::string> statuses;
  std::vector<std::string> kinds;
  bool json = false;
  ConnectionFlags conn;
  CLI::App* app = nullptr;
};

int RunAlerts(const Context& ctx, const AlertsCommand& cmd) {
  static const std::set<std::string> kStatuses = {"new", "under_review", "escalated", "closed"};
  static const std::set<std::string> kKinds = {"override", "out_of_hours", "unusual_volume"};
  std::string query;
  for (const auto& s : cmd.statuses) {
    if (kStatuses.count(s) == 0) {
      return ctx.Fail(kExitUsage, "--status: one of new, under_review, escalated, closed");
    }
    query += (query.empty() ? "?" : "&") + std::string("status=") + s;
  }
  for (const auto& k : cmd.kinds) {
    if (kKinds.count(k) == 0) {
      return ctx.Fail(kExitUsage, "--kind: one of override, out_of_hours, unusual_volume");
    }
    query += (query.empty() ? "?" : "&") + std::string("kind=") + k;
  }
  if (cmd.all && !cmd.statuses.empty()) {
    return ctx.Fail(kExitUsage, "--all and --status do not go together");
  }
  if (cmd.all) query += (query.empty() ? "?" : "&") + std::string("all=true");
  auto client = Connect(cmd.conn, ctx.env);
  if (!client.ok()) return ctx.Fail(kExitUsage, client.status());
  auto reply = (*client)->Get(std::string(kAlertsPath) + query);
  if (!reply.ok()) return ctx.Fail(kExitConnection, reply.status());
  if (!IsSuccess(*reply)) return ReportHttpError(ctx, *reply, "audit alerts");
  if (cmd.json) {
    PrintJson(ctx.out, reply->body);
  } else {
    PrintAlerts(reply->body, ctx.out);
  }
  return kExitOk;
}

// `audit alert ID`, `audit alert-status ID --status S [--note N]` and `audit acknowledge ID
// --note N` (closes it; ID may be the check's, as before alerts had their own ids).
struct AlertCommand {
  std::string id;
  std::string status;  // alert-status
  std::string note;
  bool json = false;
  ConnectionFlags conn;
  CLI::App* app = nullptr;
};

int PrintAlertReply(const Context& ctx, const AlertCommand& cmd, const json& body) {
  if (cmd.json) {
    PrintJson(ctx.out, body);
  } else {
    PrintAlert(body, ctx.out);
  }
  return kExitOk;
}

int RunAlertShow(const Context& ctx, const AlertCommand& cmd) {
  if (!IsCheckId(cmd.id)) return ctx.Fail(kExitUsage, "an alert id is 32 lower-case hex digits");
  auto client = Connect(cmd.conn, ctx.env);
  if (!client.ok()) return ctx.Fail(kExitUsage, client.status());
  auto reply = (*client)->Get(std::string(kAlertsPath) + "/" + cmd.id);
  if (!reply.ok()) return ctx.Fail(kExitConnection, reply.status());
  if (!IsSuccess(*reply)) return ReportHttpError(ctx, *reply, "audit alert");
  return PrintAlertReply(ctx, cmd, reply->body);
}

int RunAlertStatus(const Context& ctx, const AlertCommand& cmd) {
  if (!IsCheckId(cmd.id)) return ctx.Fail(kExitUsage, "an alert id is 32 lower-case hex digits");
  if (cmd.status != "under_review" && cmd.status != "escalated" && cmd.status != "closed") {
    return ctx.Fail(kExitUsage, "--status: one of under_review, escalated, closed");
  }
  const bool needed = cmd.status != "under_review";
  if ((needed || !cmd.note.empty()) && (cmd.note.size() < kMinNote || cmd.note.size() > kMaxNote)) {
    return ctx.Fail(kExitUsage, needed ? "--note: to close or escalate, give a note, 10 to 2000 "
                                         "characters"
                                       : "--note: 10 to 2000 characters");
  }
  json body = {{"status", cmd.status}};
  if (!cmd.note.empty()) body["note"] = cmd.note;
  auto client = Connect(cmd.conn, ctx.env);
  if (!client.ok()) return ctx.Fail(kExitUsage, client.status());
  auto reply = (*client)->Post(std::string(kAlertsPath) + "/" + cmd.id + "/status", body);
  if (!reply.ok()) return ctx.Fail(kExitConnection, reply.status());
  if (!IsSuccess(*reply)) return ReportHttpError(ctx, *reply, "audit alert-status");
  return PrintAlertReply(ctx, cmd, reply->body);
}

int RunAcknowledge(const Context& ctx, const AlertCommand& cmd) {
  if (!IsCheckId(cmd.id)) return ctx.Fail(kExitUsage, "an alert id is 32 lower-case hex digits");
  if (cmd.note.size() < kMinNote || cmd.note.size() > kMaxNote) {
    return ctx.Fail(kExitUsage, "--note: give a note, 10 to 2000 characters");
  }
  auto client = Connect(cmd.conn, ctx.env);
  if (!client.ok()) return ctx.Fail(kExitUsage, client.status());
  auto reply = (*client)->Post(std::string(kAlertsPath) + "/" + cmd.id + "/acknowledgement",
                               json{{"note", cmd.note}});
  if (!reply.ok()) return ctx.Fail(kExitConnection, reply.status());
  if (!IsSuccess(*reply)) return ReportHttpError(ctx, *reply, "audit acknowledge");
  return PrintAlertReply(ctx, cmd, reply->body);
}

struct AgencyListCommand {
  bool json = false;
  ConnectionFlags conn;
  CLI::App* app = nullptr;
};

int RunAgencyList(const Context& ctx, const AgencyListCommand& cmd) {
  auto client = Connect(cmd.conn, ctx.env);
  if (!client.ok()) return ctx.Fail(kExitUsage, client.status());
  auto reply = (*client)->Get(kAgenciesPath);
  if (!reply.ok()) return ctx.Fail(kExitConnection, reply.status());
  if (!IsSuccess(*reply)) return ReportHttpError(ctx, *reply, "agency list");
  if (cmd.json) {
    PrintJson(ctx.out, reply->body);
  } else {
    PrintAgencies(reply->body, ctx.out);
  }
  return kExitOk;
}

struct AgencyAddCommand {
  std::string id;
  std::string name;
  std::string type;
  std::string out;  // where the one-time enrolment token goes
  std::string agent_dir = "/var/lib/mash-agent";
  bool json = false;
  ConnectionFlags conn;
  CLI::App* app = nullptr;
};

int RunAgencyAdd(const Context& ctx, const AgencyAddCommand& cmd) {
  // Refuse before the broker makes a token that could then not be written.
  std::error_code ec;
  if (std::filesystem::exists(std::filesystem::symlink_status(cmd.out, ec))) {
    return ctx.Fail(kExitUsage, cmd.out + " already exists; the token goes to a new file");
  }
  std::string broker = cmd.conn.broker;
  if (broker.empty()) broker = FromEnv(ctx.env, "MASH_BROKER").value_or("");
  auto client = Connect(cmd.conn, ctx.env);
  if (!client.ok()) return ctx.Fail(kExitUsage, client.status());
  auto reply =
      (*client)->Post(kAgenciesPath, json{{"id", cmd.id}, {"name", cmd.name}, {"type", cmd.type}});
  if (!reply.ok()) return ctx.Fail(kExitConnection, reply.status());
  if (!IsSuccess(*reply)) return ReportHttpError(ctx, *reply, "agency add");
  json& body = reply->body;
  const std::string token =
      body.contains("token") && body["token"].is_string() ? body["token"].get<std::string>() : "";
  const std::string pin = body.contains("ca_pin") && body["ca_pin"].is_string()
                              ? body["ca_pin"].get<std::string>()
                              : "";
  if (token.empty() || pin.empty()) {
    return ctx.Fail(kExitConnection, "the broker's reply holds no token or CA pin");
  }
  body.erase("token");  // printed nowhere; only the file holds it
  if (Status s = common::WritePrivateFile(cmd.out, token + "\n", /*overwrite=*/false); !s.ok()) {
    return ctx.Fail(kExitUsage,
                    s.message() + " (the token is lost; run agency add again for a new one)");
  }
  const std::string expires = body.value("expires_at", "");
  const std::string command = "mash-agent enrol --broker " + broker + " --token-file " + cmd.out +
                              " --ca-pin " + pin + " --dir " + cmd.agent_dir + " --agency-id " +
                              cmd.id;
  if (cmd.json) {
    body["token_file"] = cmd.out;
    body["enrol_command"] = command;
    PrintJson(ctx.out, body);
    return kExitOk;
  }
  ctx.out << "agency " << cmd.id << ": one-time enrolment token written to " << cmd.out
          << " (mode 0600); it works once, until " << expires << "\n"
          << "CA pin: " << pin << "\n"
          << "Copy the token file to the agency's server by a secure route, then run there:\n"
          << "  " << command << "\n";
  return kExitOk;
}

// Local file problems (exists, missing, unwritable) are configuration problems: exit 2.
int FailFile(const Context& ctx, const Status& s) {
  if (s.code() == StatusCode::kAlreadyExists) {
    return ctx.Fail(kExitUsage, s.message() + " (use --force to replace it)");
  }
  return ctx.Fail(kExitUsage, s);
}

struct PkiCommands {
  CLI::App* keygen = nullptr;
  CLI::App* secret = nullptr;
  CLI::App* token = nullptr;
  CLI::App* pin = nullptr;
  std::string dir;
  std::string name;
  std::string kind;
  std::string out;
  std::string cert;
  bool force = false;
};

int RunKeygen(const Context& ctx, const PkiCommands& cmd) {
  std::error_code ec;
  if (!std::filesystem::exists(cmd.dir, ec)) {
    if (!std::filesystem::create_directories(cmd.dir, ec)) {
      return ctx.Fail(kExitUsage, "cannot create " + cmd.dir + ": " + ec.message());
    }
    ::chmod(cmd.dir.c_str(), 0700);
  }
  if (Status s = crypto::GenerateKeyPairFiles(cmd.dir, cmd.name, cmd.force); !s.ok()) {
    return FailFile(ctx, s);
  }
  const std::filesystem::path dir(cmd.dir);
  for (const char* suffix : {".sign.key", ".sign.pub", ".enc.key", ".enc.pub"}) {
    ctx.out << (dir / (cmd.name + suffix)).string() << "\n";
  }
  return kExitOk;
}

int RunSecret(const Context& ctx, const PkiCommands& cmd) {
  const crypto::KeyKind kind =
      cmd.kind == "database" ? crypto::KeyKind::kDatabaseKey : crypto::KeyKind::kPseudonymKey;
  const crypto::SecureBuffer key = crypto::GenerateSymmetricKey();
  if (Status s = crypto::WriteKeyFile(cmd.out, kind, key.span(), cmd.force); !s.ok()) {
    return FailFile(ctx, s);
  }
  ctx.out << cmd.out << "\n";
  return kExitOk;
}

int RunToken(const Context& ctx, const PkiCommands& cmd) {
  auto digest = WriteNewTokenFile(cmd.out, cmd.force);
  if (!digest.ok()) return FailFile(ctx, digest.status());
  ctx.out << *digest << "\n";
  return kExitOk;
}

int RunPin(const Context& ctx, const PkiCommands& cmd) {
  auto pin = crypto::SpkiPinOfPemFile(cmd.cert);
  if (!pin.ok()) return ctx.Fail(kExitUsage, pin.status());
  ctx.out << *pin << "\n";
  return kExitOk;
}

int Run(const std::vector<std::string>& args, const Context& ctx) {
  CLI::App app{
      "mashctl: the command line of MASH Exchange. Raise agency checks, follow their answers and "
      "record the MASH decision, work the IG alert queue, list agencies, and make keys, secrets "
      "and tokens.",
      "mashctl"};
  app.footer(kFooter);
  app.require_subcommand(1);

  // ---- check ----
  auto* check = app.add_subcommand(
      "check", "raise agency checks, read their answers, authorise overrides, record decisions");
  check->require_subcommand(1);

  RaiseCommand raise;
  raise.app = check->add_subcommand(
      "raise",
      "raise an agency check (POST /api/v1/checks) and print its id. The request is checked "
      "locally against check-request.schema.json and the consent rules before it is sent.");
  CLI::App* r = raise.app;
  RaiseFlags& f = raise.flags;
  auto add = [&](const char* name, std::string& into, const char* help) {
    auto* opt = r->add_option(name, into, help);
    raise.request_opts.push_back(opt);
    return opt;
  };
  auto add_list = [&](const char* name, std::vector<std::string>& into, const char* help) {
    auto* opt = r->add_option(name, into, help)->allow_extra_args(false);
    raise.request_opts.push_back(opt);
    return opt;
  };
  add("--nhs-number", f.nhs_number, "subject's NHS number");
  add("--pnc-id", f.pnc_id, "subject's Police National Computer id");
  add("--upn", f.upn, "subject's Unique Pupil Number");
  add("--ni-number", f.ni_number, "subject's National Insurance number");
  add("--given-names", f.given_names, "subject's given names");
  add("--family-name", f.family_name, "subject's family name");
  add("--dob", f.dob, "subject's date of birth")->type_name("YYYY-MM-DD");
  add("--sex", f.sex, "subject's sex")
      ->check(CLI::IsMember({"female", "male", "other", "unknown"}));
  add_list("--postcode", f.postcodes, "a postcode of the subject's addresses (repeatable)");
  add("--purpose", f.purpose, "purpose of the check, e.g. child_protection_s47 (required)");
  add("--lawful-basis", f.lawful_basis, "lawful basis, e.g. uk_gdpr_6_1_e (required)");
  add("--consent", f.consent, "consent state (required)")
      ->check(CLI::IsMember({"given", "refused", "not_sought", "withdrawn"}));
  add("--evidence-ref", f.evidence_ref, "where the consent is recorded (needed for 'given')");
  add("--override-ground", f.override_ground,
      "why information is shared without consent (needed unless consent is 'given')")
      ->check(CLI::IsMember(
          {"child_significant_harm", "adult_serious_harm", "serious_crime", "unjustified_delay"}));
  add("--justification", f.justification,
      "the recorded justification of an override (at least 10 characters)");
  add("--urgency", f.urgency, "urgency (required)")
      ->check(CLI::IsMember({"red", "amber", "green"}));
  raise.level_opt =
      r->add_option("--level", raise.level,
                    "disclosure level: 0 discovery, 1 involvement, 2 relevant summary, "
                    "3 specified records (broker default 1)")
          ->check(CLI::Range(0, 3));
  raise.request_opts.push_back(raise.level_opt);
  add_list("--agency", f.agencies, "an agency to ask (repeatable or comma-separated; required)")
      ->delimiter(',');
  add_list("--category", f.categories, "a data category to ask about (repeatable)")->delimiter(',');
  r->add_option("--from-file", raise.from_file,
                "read the whole request body (check-request.schema.json) from this JSON file "
                "instead of the flags above");
  raise.wait_opt = r->add_option("--wait", raise.wait,
                                 "then wait up to SECONDS for every agency to answer and print "
                                 "the check as `check show` does")
                       ->type_name("SECONDS")
                       ->check(CLI::Range(0, kMaxWaitSeconds));
  r->add_flag("--json", raise.json, "print the broker's JSON reply instead of the id");
  AddConnectionOptions(r, &raise.conn);

  ShowCommand show;
  show.app = check->add_subcommand(
      "show", "show a check: its state and, per agency, the state, timing, match and answers");
  show.app->add_option("id", show.id, "the check id (32 hex digits)")->required();
  show.wait_opt =
      show.app
          ->add_option("--wait", show.wait, "wait up to SECONDS until no agency is still to answer")
          ->type_name("SECONDS")
          ->check(CLI::Range(0, kMaxWaitSeconds));
  show.app->add_flag("--json", show.json, "print the check as JSON");
  AddConnectionOptions(show.app, &show.conn);

  AuthoriseCommand authorise;
  authorise.app = check->add_subcommand(
      "authorise",
      "as a MASH manager, authorise or reject a check that shares without consent (an "
      "override): its queries go out only once a second person has authorised it");
  authorise.app->add_option("id", authorise.id, "the check id (32 hex digits)")->required();
  authorise.app->add_option("--decision", authorise.decision, "authorise or reject")
      ->required()
      ->check(CLI::IsMember({"authorise", "reject"}));
  authorise.app->add_option("--reason", authorise.reason, "why (recorded with the check)")
      ->required();
  authorise.app->add_flag("--json", authorise.json, "print the check as JSON");
  AddConnectionOptions(authorise.app, &authorise.conn);

  AuthoriseCommand reject;
  reject.verb = "reject";
  reject.decision = "reject";
  reject.app = check->add_subcommand(
      "reject",
      "as a MASH manager, reject a check that shares without consent (an override): nothing is "
      "sent to any agency; the same as `check authorise ID --decision reject`");
  reject.app->add_option("id", reject.id, "the check id (32 hex digits)")->required();
  reject.app->add_option("--reason", reject.reason, "why (at least 10 characters; recorded)")
      ->required();
  reject.app->add_flag("--json", reject.json, "print the check as JSON");
  AddConnectionOptions(reject.app, &reject.conn);

  ListCommand list_checks;
  list_checks.app = check->add_subcommand(
      "list",
      "list your team's checks, newest first: state, urgency, deadline (OVERDUE past it), "
      "breached agency deadlines, purpose, who raised it and the MASH decision");
  list_checks.app
      ->add_option("--state", list_checks.state,
                   "only open (neither decided nor rejected), overdue, awaiting_authorisation or "
                   "closed (decided or rejected) checks")
      ->check(CLI::IsMember({"open", "overdue", "awaiting_authorisation", "closed"}));
  list_checks.app->add_flag("--json", list_checks.json, "print the broker's JSON list");
  AddConnectionOptions(list_checks.app, &list_checks.conn);

  DecideCommand decide;
  decide.app = check->add_subcommand(
      "decide",
      "record the MASH decision on an answered (or partially answered, or expired) check and "
      "its rationale; this closes the check");
  decide.app->add_option("id", decide.id, "the check id (32 hex digits)")->required();
  decide.app
      ->add_option("--outcome", decide.outcome,
                   "information_and_advice, early_help, child_and_family_assessment, "
                   "strategy_discussion or no_further_action")
      ->required();
  auto* rationale_opt = decide.app->add_option(
      "--rationale", decide.rationale, "why this outcome (10 to 4000 characters; recorded)");
  decide.app
      ->add_option("--rationale-file", decide.rationale_file,
                   "read the rationale from this file instead (a final line break is dropped)")
      ->type_name("FILE")
      ->excludes(rationale_opt);
  decide.app->add_flag("--json", decide.json, "print the closed check as JSON");
  AddConnectionOptions(decide.app, &decide.conn);

  // ---- agency ----
  auto* agency = app.add_subcommand("agency", "the agencies registered at the hub");
  agency->require_subcommand(1);
  AgencyListCommand list;
  list.app = agency->add_subcommand("list", "list registered agencies and whether each is online");
  list.app->add_flag("--json", list.json, "print the list as JSON");
  AddConnectionOptions(list.app, &list.conn);
  AgencyAddCommand add_agency;
  add_agency.app = agency->add_subcommand(
      "add",
      "as a hub admin, register a new agency for enrolment: the broker makes a one-time token "
      "(written to --out, mode 0600); prints the CA pin and the mash-agent enrol command");
  add_agency.app->add_option("--id", add_agency.id, "agency id, ^[a-z][a-z0-9-]{1,31}$")
      ->required();
  add_agency.app->add_option("--name", add_agency.name, "name shown to practitioners")->required();
  add_agency.app->add_option("--type", add_agency.type, "agency type")
      ->required()
      ->check(
          CLI::IsMember({"police", "social-care", "health", "education", "probation", "housing"}));
  add_agency.app->add_option("--out", add_agency.out, "new file for the one-time enrolment token")
      ->required()
      ->type_name("FILE");
  add_agency.app->add_option("--agent-dir", add_agency.agent_dir,
                             "the folder the printed enrol command names (default "
                             "/var/lib/mash-agent)");
  add_agency.app->add_flag("--json", add_agency.json,
                           "print the reply as JSON (without the token)");
  AddConnectionOptions(add_agency.app, &add_agency.conn);

  // ---- pki ----
  PkiCommands pki;
  auto* pki_app = app.add_subcommand("pki", "make keys, secrets and tokens; print CA pins");
  pki_app->require_subcommand(1);
  pki.keygen = pki_app->add_subcommand(
      "keygen",
      "make an Ed25519 signing and an X25519 encryption key pair: DIR/NAME.sign.key (0600), "
      "NAME.sign.pub, NAME.enc.key (0600), NAME.enc.pub");
  pki.keygen->add_option("--dir", pki.dir, "folder for the key files (made 0700 if missing)")
      ->required();
  pki.keygen->add_option("--name", pki.name, "base name of the key files")->required();
  pki.keygen->add_flag("--force", pki.force, "replace existing files");
  pki.secret = pki_app->add_subcommand(
      "secret", "make a random 256-bit key file (0600): a database or subject-pseudonym key");
  pki.secret->add_option("--kind", pki.kind, "which key")
      ->required()
      ->check(CLI::IsMember({"database", "pseudonym"}));
  pki.secret->add_option("--out", pki.out, "the key file to write")->required();
  pki.secret->add_flag("--force", pki.force, "replace an existing file");
  pki.token = pki_app->add_subcommand(
      "token",
      "make a random API bearer token, write it to FILE (0600) and print only its SHA-256 hex, "
      "for broker.toml [[api_token]] sha256");
  pki.token->add_option("--out", pki.out, "the token file to write")->required();
  pki.token->add_flag("--force", pki.force, "replace an existing file");
  pki.pin = pki_app->add_subcommand(
      "pin", "print the sha256:... pin of the public key of the first certificate in a PEM file");
  pki.pin->add_option("cert", pki.cert, "certificate file, PEM")->required();

  auto groups = MakeCommandGroups(ctx.env);
  for (auto& g : groups) g->Register(app);

  // The audit group (audit_commands.cc) works offline on the database; the alert queue is the
  // broker's, so these two are registered here where the connection helpers are.
  CLI::App* audit = app.get_subcommand("audit");
  AlertsCommand alerts;
  alerts.app = audit->add_subcommand(
      "alerts",
      "as an IG officer or DPO, list the IG alert queue (overrides, out-of-hours use, unusual "
      "volumes; GET /api/v1/alerts), newest first; by default every alert not closed");
  alerts.app->add_option("--status", alerts.statuses,
                         "only these statuses: new, under_review, escalated, closed (repeatable)");
  alerts.app->add_option("--kind", alerts.kinds,
                         "only these kinds: override, out_of_hours, unusual_volume (repeatable)");
  alerts.app->add_flag("--all", alerts.all, "every status, closed ones too");
  alerts.app->add_flag("--json", alerts.json, "print the broker's JSON list");
  AddConnectionOptions(alerts.app, &alerts.conn);
  AlertCommand alert_show;
  alert_show.app =
      audit->add_subcommand("alert", "as an IG officer or DPO, show one alert with its history");
  alert_show.app->add_option("id", alert_show.id, "the alert's id (32 hex digits)")->required();
  alert_show.app->add_flag("--json", alert_show.json, "print the alert as JSON");
  AddConnectionOptions(alert_show.app, &alert_show.conn);
  AlertCommand alert_status;
  alert_status.app = audit->add_subcommand(
      "alert-status",
      "as an IG officer or DPO, move an alert on: under_review, escalated or closed (recorded)");
  alert_status.app->add_option("id", alert_status.id, "the alert's id (32 hex digits)")->required();
  alert_status.app->add_option("--status", alert_status.status, "under_review, escalated or closed")
      ->required();
  alert_status.app->add_option(
      "--note", alert_status.note,
      "what was reviewed or why (10 to 2000 characters; required to close or escalate)");
  alert_status.app->add_flag("--json", alert_status.json, "print the alert as JSON");
  AddConnectionOptions(alert_status.app, &alert_status.conn);
  AlertCommand acknowledge;
  acknowledge.app = audit->add_subcommand(
      "acknowledge",
      "as an IG officer or DPO, close an alert with a note (recorded); the same as alert-status "
      "--status closed");
  acknowledge.app
      ->add_option("id", acknowledge.id,
                   "the alert's id, or the id of the check whose override raised it")
      ->required();
  acknowledge.app
      ->add_option("--note", acknowledge.note, "what was reviewed (10 to 2000 characters)")
      ->required();
  acknowledge.app->add_flag("--json", acknowledge.json, "print the alert as JSON");
  AddConnectionOptions(acknowledge.app, &acknowledge.conn);

  // CLI11 wants argv; it skips argv[0].
  std::vector<const char*> argv;
  argv.push_back("mashctl");
  for (const auto& a : args) argv.push_back(a.c_str());
  try {
    app.parse(static_cast<int>(argv.size()), argv.data());
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e, ctx.out, ctx.err);
    return rc == 0 ? kExitOk : kExitUsage;
  }

  if (raise.app->parsed()) return RunRaise(ctx, raise);
  if (show.app->parsed()) return RunShow(ctx, show);
  if (authorise.app->parsed()) return RunAuthorise(ctx, authorise);
  if (reject.app->parsed()) return RunAuthorise(ctx, reject);
  if (list_checks.app->parsed()) return RunList(ctx, list_checks);
  if (decide.app->parsed()) return RunDecide(ctx, decide);
  if (alerts.app->parsed()) return RunAlerts(ctx, alerts);
  if (alert_show.app->parsed()) return RunAlertShow(ctx, alert_show);
  if (alert_status.app->parsed()) return RunAlertStatus(ctx, alert_status);
  if (acknowledge.app->parsed()) return RunAcknowledge(ctx, acknowledge);
  if (list.app->parsed()) return RunAgencyList(ctx, list);
  if (add_agency.app->parsed()) return RunAgencyAdd(ctx, add_agency);
  if (pki.keygen->parsed()) return RunKeygen(ctx, pki);
  if (pki.secret->parsed()) return RunSecret(ctx, pki);
  if (pki.token->parsed()) return RunToken(ctx, pki);
  if (pki.pin->parsed()) return RunPin(ctx, pki);
  for (auto& g : groups) {
    if (auto rc = g->RunIfChosen(ctx.out, ctx.err)) return *rc;
  }
  return ctx.Fail(kExitUsage, "no command given (see mashctl --help)");
}

}  // namespace

Environment DefaultEnvironment() {
  Environment env;
  env.getenv = [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (v == nullptr) return std::nullopt;
    return std::string(v);
  };
  env.make_client = [](ClientOptions options) { return MakeHttpsClient(std::move(options)); };
  env.sleep = [](std::chrono::milliseconds d) { std::this_thread::sleep_for(d); };
  return env;
}

int RunMashctl(const std::vector<std::string>& args, std::ostream& out, std::ostream& err,
               const Environment& env) {
  common::InitCrypto();
  const Context ctx{out, err, env};
  try {
    return Run(args, ctx);
  } catch (const std::exception&) {
    // Library code does not throw; this is CLI11 or JSON misuse of ours. No detail: it could
    // quote input.
    return ctx.Fail(kExitUsage, "internal error");
  }
}

}  // namespace mash::cli
