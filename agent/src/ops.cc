// Operations commands: what `mash-agent status`, `test-connection`, `log`, `diagnostics` and
// `check-config` compute (ops.h). Only public data leaves here: see the header.
#include "mash/agent/ops.h"

#include <sodium.h>
#include <sys/stat.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/beast/http.hpp>
#include <boost/version.hpp>
#include <cstdio>
#include <fstream>
#include <regex>
#include <sstream>

#include "mash/agent/dial.h"
#include "mash/agent/disclosure.h"
#include "mash/agent/disclosure_log.h"
#include "mash/agent/record_source.h"
#include "mash/agent/status.h"
#include "mash/audit/checkpoint.h"
#include "mash/audit/witness.h"
#include "mash/common/clock.h"
#include "mash/common/config.h"
#include "mash/common/encoding.h"
#include "mash/crypto/cert_info.h"
#include "mash/crypto/keys.h"
#include "mash/crypto/tls.h"
#include "mash/schemas/messages.h"
#include "mash/storage/database.h"

namespace mash::agent {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using json = nlohmann::json;
using tcp = net::ip::tcp;

namespace {

constexpr int64_t kSecondsPerDay = 86400;
constexpr const char* kSoftwareVersion = "0.1.0";
constexpr size_t kMaxLogTailBytes = 1024 * 1024;
constexpr size_t kMaxScrubbedString = 200;

std::string TimeText(int64_t unix) { return common::FormatRfc3339(common::FromUnix(unix)); }
json TimeOrNull(int64_t unix) { return unix > 0 ? json(TimeText(unix)) : json(nullptr); }

std::string BrokerUrlText(const BrokerUrl& b) {
  return "wss://" + b.host + ":" + std::to_string(b.port) + b.path;
}
json ProxyText(const std::optional<ProxyUrl>& p) {
  if (!p) return nullptr;
  return "http://" + p->host + ":" + std::to_string(p->port);
}

Result<std::unique_ptr<storage::Database>> OpenAgentDatabase(const AgentConfig& config) {
  storage::DatabaseOptions options;
  options.file = config.database;
  options.key_file = config.database_key;
  options.create_if_missing = false;
  return storage::Database::Open(options);
}

Result<int64_t> CountRows(storage::Database* db, const std::string& table) {
  MASH_ASSIGN_OR_RETURN(storage::Statement s, db->Prepare("SELECT count(*) FROM " + table));
  MASH_ASSIGN_OR_RETURN(bool row, s.Step());
  return row ? s.ColumnInt(0) : 0;
}

Result<ReviewQueue::Awaiting> CountAwaitingReviewIn(storage::Database* db) {
  MASH_ASSIGN_OR_RETURN(std::unique_ptr<ReviewQueue> queue, ReviewQueue::Create(db));
  return queue->CountAwaiting();
}

json CertificateJson(const std::filesystem::path& file, int64_t now) {
  json j = {{"file", file.string()}};
  auto info = crypto::DescribeCertificate(file);
  if (!info.ok()) {
    j["error"] = info.status().message();
    return j;
  }
  j["subject"] = info->subject;
  j["issuer"] = info->issuer;
  j["serial"] = info->serial;
  j["sans"] = info->sans;
  j["agency_id"] = info->agency_id;
  j["not_before"] = TimeText(info->not_before);
  j["not_after"] = TimeText(info->not_after);
  const int64_t left = info->not_after - now;
  j["days_left"] =
      left >= 0 ? left / kSecondsPerDay : -((-left + kSecondsPerDay - 1) / kSecondsPerDay);
  j["expired"] = left < 0;
  j["spki_pin"] = info->spki_pin;
  return j;
}

}  // namespace

// ---- status ----------------------------------------------------------------------------------

Result<ReviewQueue::Awaiting> CountAwaitingReview(const AgentConfig& config) {
  MASH_ASSIGN_OR_RETURN(std::unique_ptr<storage::Database> db, OpenAgentDatabase(config));
  MASH_ASSIGN_OR_RETURN(std::unique_ptr<DisclosureLog> log, DisclosureLog::Create(db.get()));
  return CountAwaitingReviewIn(db.get());
}

nlohmann::json CollectStatus(const AgentConfig& config, int64_t now) {
  json out = {{"version", 1}, {"time", TimeText(now)}};
  out["agency"] = {
      {"id", config.agency_id}, {"name", config.agency_name}, {"type", config.agency_type}};
  json cert = CertificateJson(config.tls.cert_chain_file, now);
  if (!cert.contains("error")) cert["matches_agency"] = cert["agency_id"] == config.agency_id;
  out["certificate"] = cert;
  out["broker"] = {{"url", BrokerUrlText(config.broker)}, {"proxy", ProxyText(config.proxy)}};

  json policy = {{"in_force", nullptr}, {"shadow", nullptr}};
  if (auto configured = LoadDisclosurePolicies(config.policy, config.agency_type, now);
      configured.ok()) {
    policy["configured"] = (*configured)->enforced().version;
  } else {
    policy["configured"] = nullptr;
    policy["configured_error"] = configured.status().message();
  }

  auto db = OpenAgentDatabase(config);
  if (!db.ok()) {
    const json err = {{"error", "cannot open the agent database: " + db.status().message()}};
    out["agent"] = err;
    out["connection"] = err;
    out["queries"] = err;
    out["chases"] = err;
    out["review_queue"] = err;
    out["witness"] = err;
    out["policy"] = policy;
    return out;
  }
  auto log = DisclosureLog::Create(db->get());
  auto live = ReadLiveState(db->get());
  if (live.ok()) {
    out["agent"] = {{"running", live->running},
                    {"pid", live->running ? json(live->pid) : json(nullptr)},
                    {"started_at", TimeOrNull(live->started_at)},
                    {"stopped_at", TimeOrNull(live->stopped_at)},
                    {"software", live->software.empty() ? json(nullptr) : json(live->software)}};
    out["connection"] = {
        {"connected", live->connected},
        {"since", live->connected ? TimeOrNull(live->connected_since) : json(nullptr)},
        {"disconnected_at", TimeOrNull(live->disconnected_at)},
        {"connects_since_start", live->connects}};
    out["queries"] = {{"last_received_at", TimeOrNull(live->last_query_at)},
                      {"received_since_start", live->queries_received},
                      {"answers_sent_since_start", live->answers_sent}};
    out["chases"] = {{"last_received_at", TimeOrNull(live->last_chase_at)},
                     {"received_since_start", live->chases_received},
                     {"refused_since_start", live->chases_refused}};
    if (!live->policy_version.empty()) policy["in_force"] = live->policy_version;
    if (!live->shadow_version.empty()) policy["shadow"] = live->shadow_version;
  } else {
    const json err = {{"error", live.status().message()}};
    out["agent"] = err;
    out["connection"] = err;
    out["queries"] = err;
    out["chases"] = err;
  }
  out["policy"] = policy;
  if (!log.ok()) {
    out["review_queue"] = {{"error", log.status().message()}};
    out["witness"] = {{"error", log.status().message()}};
    return out;
  }
  if (out["queries"].is_object() && !out["queries"].contains("error")) {
    auto answers = CountRows(db->get(), "disclosures");
    auto receipts = CountRows(db->get(), "receipts");
    out["queries"]["answers_logged"] = answers.ok() ? json(*answers) : json(nullptr);
    out["queries"]["receipts_held"] = receipts.ok() ? json(*receipts) : json(nullptr);
  }
  if (auto review = CountAwaitingReviewIn(db->get()); review.ok()) {
    out["review_queue"] = {{"awaiting", review->categories}, {"items", review->items}};
  } else {
    out["review_queue"] = {{"error", review.status().message()}};
  }
  json witness = {{"alarm", false}};
  if (auto alarm = (*log)->ActiveAlarm(); !alarm.ok()) {
    witness = {{"error", alarm.status().message()}};
  } else if (*alarm) {
    witness = {{"alarm", true},
               {"raised_at", TimeText((*alarm)->raised_at)},
               {"reason", (*alarm)->reason}};
  }
  if (auto held = (*log)->LoadCheckpoint(); held.ok() && *held) {
    if (auto parsed = audit::ParseCheckpoint(**held); parsed.ok()) {
      witness["held_checkpoint_size"] = parsed->checkpoint.size;
    }
  }
  out["witness"] = witness;
  return out;
}

int StatusExitCode(const nlohmann::json& s) {
  const bool running = s.value("/agent/running"_json_pointer, false);
  const bool connected = s.value("/connection/connected"_json_pointer, false);
  const bool alarm = s.value("/witness/alarm"_json_pointer, true);
  return running && connected && !alarm ? kExitOk : kExitFailed;
}

std::string FormatStatus(const nlohmann::json& s) {
  std::ostringstream o;
  auto line = [&](const char* label, const std::string& text) {
    char pad[16];
    std::snprintf(pad, sizeof(pad), "%-13s", label);
    o << pad << text << "\n";
  };
  auto str = [](const json& j) { return j.is_string() ? j.get<std::string>() : j.dump(); };
  const json& a = s["agency"];
  line("agency", str(a["id"]) + " (" + str(a["name"]) + ", type " + str(a["type"]) + ")");
  const json& c = s["certificate"];
  if (c.contains("error")) {
    line("certificate", "UNREADABLE: " + str(c["error"]));
  } else {
    std::string sans;
    for (const auto& san : c["sans"]) sans += (sans.empty() ? "" : ", ") + str(san);
    line("enrolled as",
         str(c["agency_id"]).empty() ? "NO AGENCY in the certificate" : str(c["agency_id"]));
    line("certificate", str(c["subject"]) + " [" + sans + "]");
    line("expires", str(c["not_after"]) + " (" + (c["expired"].get<bool>() ? "EXPIRED " : "") +
                        std::to_string(c["days_left"].get<int64_t>()) + " days left)");
    if (!c["matches_agency"].get<bool>()) {
      line("", "WARNING: the certificate does not name agency.id " + str(a["id"]));
    }
  }
  line("broker", str(s["broker"]["url"]) +
                     (s["broker"]["proxy"].is_null() ? "" : " via " + str(s["broker"]["proxy"])));
  const json& ag = s["agent"];
  if (ag.contains("error")) {
    line("agent", "UNKNOWN: " + str(ag["error"]));
  } else if (ag["running"].get<bool>()) {
    line("agent", "running, pid " + str(ag["pid"]) + ", since " + str(ag["started_at"]));
  } else {
    line("agent", ag["stopped_at"].is_null() && ag["started_at"].is_null()
                      ? std::string("not running (no run recorded)")
                      : "NOT RUNNING" + (ag["stopped_at"].is_null()
                                             ? std::string(" (it did not stop cleanly)")
                                             : " (stopped " + str(ag["stopped_at"]) + ")"));
  }
  const json& cn = s["connection"];
  if (!cn.contains("error")) {
    if (cn["connected"].get<bool>()) {
      line("connection", "connected since " + str(cn["since"]));
    } else {
      line("connection",
           "NOT CONNECTED" + (cn["disconnected_at"].is_null()
                                  ? std::string()
                                  : " (last disconnected " + str(cn["disconnected_at"]) + ")"));
    }
  }
  const json& q = s["queries"];
  if (!q.contains("error")) {
    line("last query", q["last_received_at"].is_null() ? std::string("none since start")
                                                       : str(q["last_received_at"]));
    line("answers", std::to_string(q["answers_sent_since_start"].get<int64_t>()) +
                        " sent since start of " +
                        std::to_string(q["received_since_start"].get<int64_t>()) + " queries; " +
                        str(q.value("answers_logged", json(nullptr))) + " in the disclosure log, " +
                        str(q.value("receipts_held", json(nullptr))) + " with receipts");
  }
  if (const json& ch = s.value("chases", json::object()); ch.contains("received_since_start")) {
    std::string text = ch["received_since_start"].get<int64_t>() == 0
                           ? std::string("none since start")
                           : std::to_string(ch["received_since_start"].get<int64_t>()) +
                                 " since start, the latest " + str(ch["last_received_at"]);
    if (ch["refused_since_start"].get<int64_t>() > 0) {
      text += "; " + std::to_string(ch["refused_since_start"].get<int64_t>()) + " REFUSED";
    }
    line("hub chases", text);
  }
  const json& r = s["review_queue"];
  line("review queue", r.contains("error")
                           ? "UNKNOWN: " + str(r["error"])
                           : std::to_string(r["awaiting"].get<int64_t>()) + " categories of " +
                                 std::to_string(r["items"].get<int64_t>()) +
                                 " answers awaiting the custodian");
  const json& p = s["policy"];
  std::string policy = p["in_force"].is_null() ? std::string("not recorded by a running agent")
                                               : str(p["in_force"]) + " in force";
  if (!p["shadow"].is_null()) policy += ", shadow " + str(p["shadow"]);
  if (!p["configured"].is_null() && p["configured"] != p["in_force"]) {
    policy += "; configured now: " + str(p["configured"]) + " (restart or SIGHUP to apply)";
  }
  if (p.contains("configured_error"))
    policy += "; CONFIGURED POLICY FAILS: " + str(p["configured_error"]);
  line("policy", policy);
  const json& w = s["witness"];
  if (w.contains("error")) {
    line("witness", "UNKNOWN: " + str(w["error"]));
  } else if (w["alarm"].get<bool>()) {
    line("witness", "ALARM raised " + str(w["raised_at"]) + ": " + str(w["reason"]) +
                        " (no query is answered; see docs/agent.md)");
  } else {
    line("witness", "no alarm" + (w.contains("held_checkpoint_size")
                                      ? ", holding the hub's checkpoint of size " +
                                            str(w["held_checkpoint_size"])
                                      : std::string(", no checkpoint held yet")));
  }
  return o.str();
}

// ---- test-connection -------------------------------------------------------------------------

nlohmann::json ConnectionTest::ToJson() const {
  json list = json::array();
  for (const auto& s : steps) {
    json j = {{"step", s.name}, {"ok", s.ok}, {"detail", s.detail}};
    if (!s.ok) j["hint"] = s.hint;
    list.push_back(j);
  }
  return {{"ok", exit_code == kExitOk}, {"exit_code", exit_code}, {"steps", list}};
}

std::string ConnectionTest::Format() const {
  std::ostringstream o;
  for (const auto& s : steps) {
    char head[32];
    std::snprintf(head, sizeof(head), "%-4s %-8s", s.ok ? "ok" : "FAIL", s.name.c_str());
    o << head << s.detail;
    if (!s.ok && !s.hint.empty()) o << " (hint: " << s.hint << ")";
    o << "\n";
  }
  return o.str();
}

namespace {

std::string TestStepName(DialStep step) {
  switch (step) {
    case DialStep::kResolve:
      return "dns";
    case DialStep::kConnect:
      return "tcp";
    case DialStep::kProxy:
      return "proxy";
    case DialStep::kTls:
      return "tls";
    case DialStep::kWebSocket:
      return "mtls";
  }
  return "unknown";
}

std::string TlsHint(crypto::PeerVerifyProblem p) {
  using P = crypto::PeerVerifyProblem;
  switch (p) {
    case P::kPin:
      return "the broker's chain does not hold the pinned hub CA key: check tls.ca_pin against "
             "`mashctl pki pin root-ca.pem` from the hub";
    case P::kName:
      return "the broker's certificate does not name the host in broker.url";
    case P::kExpired:
      return "a certificate of the broker's chain has expired: tell the hub";
    case P::kNotYetValid:
      return "a certificate of the broker's chain is not valid yet: check this machine's clock";
    case P::kCrl:
      return "a CRL in tls.crls is missing or out of date: fetch the hub's current CRLs";
    case P::kRevoked:
      return "the broker's certificate is revoked: tell the hub";
    case P::kUntrusted:
      return "the broker's chain does not lead to tls.ca: is tls.ca the hub root CA?";
    case P::kOther:
    case P::kNone:
      break;
  }
  return "is something between this host and the broker intercepting TLS?";
}

// The steps after the configuration, on one io_context.
class Tester {
 public:
  Tester(ConnectionTest& result, const AgentConfig& config, DialOptions dial,
         std::shared_ptr<net::ssl::context> tls, schemas::Hello hello,
         crypto::SigningPublicKey broker_sign, crypto::EncryptionPublicKey broker_enc,
         crypto::SigningPublicKey audit_key, std::optional<std::string> held)
      : result_(result),
        config_(config),
        dial_(std::move(dial)),
        tls_(std::move(tls)),
        resolver_(io_),
        ws_(io_, *tls_),
        hello_(std::move(hello)),
        broker_sign_(broker_sign),
        broker_enc_(broker_enc),
        audit_key_(audit_key),
        held_(std::move(held)) {}

  void Run(std::chrono::milliseconds overall) {
    AsyncDial(
        ws_, resolver_, dial_, [this](DialStep step) { OnStep(step); },
        [this](std::optional<DialFailure> failure) {
          if (failure) return OnDialFailed(*failure);
          SendHello();
        });
    io_.run_for(overall);
    if (!finished_) {
      Add("welcome", false, "no answer within " + std::to_string(overall.count()) + " ms",
          "the broker accepted the connection but said nothing: is it overloaded?");
      Close();
    }
    // Let every handler that still refers to this object run out.
    resolver_.cancel();
    beast::error_code ec;
    beast::get_lowest_layer(ws_).socket().close(ec);
    io_.restart();
    io_.run_for(std::chrono::seconds(5));
  }

 private:
  void Add(std::string name, bool ok, std::string detail, std::string hint = {}) {
    result_.steps.push_back({std::move(name), ok, std::move(detail), std::move(hint)});
    if (!ok) {
      result_.exit_code = kExitConnection;
      finished_ = true;
    }
  }

  void OnStep(DialStep step) {
    const auto& b = config_.broker;
    switch (step) {
      case DialStep::kResolve:
        return Add("dns", true,
                   config_.proxy ? "proxy " + config_.proxy->host +
                                       " resolved (the proxy resolves " + b.host + ")"
                                 : b.host + " resolved");
      case DialStep::kConnect:
        return Add("tcp", true,
                   config_.proxy ? "connected to the proxy " + config_.proxy->host + ":" +
                                       std::to_string(config_.proxy->port)
                                 : "connected to " + b.host + ":" + std::to_string(b.port));
      case DialStep::kProxy:
        return Add("proxy", true, "CONNECT " + b.host + ":" + std::to_string(b.port) + " accepted");
      case DialStep::kTls:
        return Add("tls", true,
                   "TLS 1.3; broker certificate names " + b.host +
                       ", chains to tls.ca with current CRLs, CA pin matches");
      case DialStep::kWebSocket:
        return Add("mtls", true,
                   "the broker accepted the client certificate (upgrade to " + b.path + " done)");
    }
  }

  void OnDialFailed(const DialFailure& f) {
    std::string hint;
    std::string detail = f.detail;
    const std::string target =
        config_.proxy
            ? "the proxy " + config_.proxy->host + ":" + std::to_string(config_.proxy->port)
            : config_.broker.host + ":" + std::to_string(config_.broker.port);
    switch (f.step) {
      case DialStep::kResolve:
        detail = "cannot resolve " + target + ": " + f.detail;
        hint = "check the host name in " +
               std::string(config_.proxy ? "broker.proxy" : "broker.url") +
               " and this machine's DNS";
        break;
      case DialStep::kConnect:
        detail = "cannot connect to " + target + ": " + f.detail;
        hint = config_.proxy ? "is the proxy running, and may this host reach it?"
                             : "a firewall may block outbound connections to the broker's "
                               "port; set broker.proxy when the agency uses an HTTP proxy";
        break;
      case DialStep::kProxy:
        hint = f.proxy_status == 407 ? "put user:password in the 0600 file named by "
                                       "broker.proxy_credentials"
               : f.proxy_status != 0
                   ? "ask the proxy's administrators to allow CONNECT to " + config_.broker.host +
                         ":" + std::to_string(config_.broker.port)
                   : "the proxy did not answer CONNECT in time";
        break;
      case DialStep::kTls: {
        const auto v = crypto::PeerVerifyResultOf(ws_.next_layer().native_handle());
        if (!v.text.empty()) detail = "broker certificate refused: " + v.text;
        hint = TlsHint(v.problem);
        break;
      }
      case DialStep::kWebSocket:
        if (f.ec.category() == net::error::get_ssl_category() ||
            f.ec == net::ssl::error::stream_truncated || f.ec == net::error::eof ||
            f.ec == net::error::connection_reset) {
          detail = "the broker ended TLS after the handshake (" + f.detail + ")";
          hint =
              "the broker refused this client certificate: is tls.cert issued by the hub CA "
              "for this agency, unexpired and not revoked, and is the agency registered "
              "(mashctl agency list)?";
        } else {
          hint = "the broker did not accept the WebSocket upgrade: check the path in broker.url";
        }
        break;
    }
    Add(TestStepName(f.step), false, detail, hint);
  }

  void SendHello() {
    out_ = hello_.ToJson().dump();
    ws_.text(true);
    beast::get_lowest_layer(ws_).expires_after(dial_.handshake_timeout);
    ws_.async_write(net::buffer(out_), [this](beast::error_code ec, size_t) {
      if (ec) return Add("welcome", false, "cannot send hello: " + ec.message(), "");
      ws_.async_read(in_, [this](beast::error_code rec, size_t) { OnFirstFrame(rec); });
    });
  }

  void OnFirstFrame(beast::error_code ec) {
    beast::get_lowest_layer(ws_).expires_never();
    if (ec) {
      return Add("welcome", false, "no welcome: " + ec.message(),
                 "the broker closed the connection after the hello: see its log");
    }
    const std::string text = beast::buffers_to_string(in_.data());
    auto frame = schemas::ParseFrame(text);
    if (!frame.ok()) {
      return Add("welcome", false,
                 "the broker's first frame is not valid: " + frame.status().message(),
                 "is broker.url the hub's agent endpoint?");
    }
    if (frame->type == schemas::MessageType::kError) {
      const std::string code = schemas::ErrorMessage::FromJson(frame->doc).code;
      std::string hint = "see the broker's log";
      if (code == "unauthorised") {
        hint =
            "the hub does not have this agency's keys.sign / keys.enc public keys "
            "(mashctl agency add), or the certificate names another agency";
      } else if (code == "too_many") {
        hint =
            "the agency already has the most connections the hub allows: is the agent "
            "running twice?";
      } else if (code == "version") {
        hint = "the broker speaks another protocol version: upgrade mash-agent";
      }
      return Add("welcome", false, "the broker refused the hello: " + code, hint);
    }
    if (frame->type != schemas::MessageType::kWelcome) {
      return Add("welcome", false,
                 "expected welcome, got " + std::string(schemas::MessageTypeName(frame->type)),
                 "see the broker's log");
    }
    const auto welcome = schemas::Welcome::FromJson(frame->doc);
    if (welcome.hub != config_.hub_id) {
      return Add("welcome", false, "the welcome names hub '" + welcome.hub + "'",
                 "broker.hub_id must be the hub's id");
    }
    if (welcome.sign_key != broker_sign_.Fingerprint() ||
        welcome.enc_key != broker_enc_.Fingerprint()) {
      return Add("welcome", false, "the broker's keys are not the pinned ones",
                 "broker.sign_public_key / broker.enc_public_key must be the hub's current "
                 "public keys; if the hub changed them, confirm with the hub before replacing");
    }
    std::string detail = "hub '" + welcome.hub + "', signing and encryption keys match the pins";
    if (welcome.audit) {
      audit::Witness witness(audit_key_, config_.hub_id);
      if (held_ && !witness.Restore(*held_).ok()) held_.reset();
      std::vector<audit::Hash> proof;
      for (const auto& p : welcome.audit->consistency_proof) {
        const auto bytes = common::Base64Decode(p);
        const auto h = bytes ? audit::HashFromBytes(*bytes) : std::nullopt;
        if (h) proof.push_back(*h);
      }
      const Status seen = witness.Observe(welcome.audit->checkpoint, proof);
      if (seen.code() == StatusCode::kDataLoss) {
        return Add("welcome", false,
                   "the hub's audit log is INCONSISTENT with the checkpoint this agent holds: " +
                       seen.message(),
                   "the running agent raises its witness alarm; see docs/agent.md (Alarm)");
      }
      if (!seen.ok()) {
        return Add("welcome", false,
                   "the hub's audit checkpoint does not verify: " + seen.message(),
                   "audit.log_public_key must be the hub's audit checkpoint key");
      }
      detail += "; audit checkpoint of size " + std::to_string(witness.held_size()) +
                " signed by the hub" + (held_ ? " and consistent with the one held" : "");
    } else {
      detail += "; no audit checkpoint shown yet";
    }
    Add("welcome", true, detail);
    finished_ = true;
    Close();
  }

  void Close() {
    ws_.async_close(websocket::close_code::normal, [](beast::error_code) {});
  }

  ConnectionTest& result_;
  const AgentConfig& config_;
  DialOptions dial_;
  std::shared_ptr<net::ssl::context> tls_;
  net::io_context io_;
  tcp::resolver resolver_;
  WsStream ws_;
  schemas::Hello hello_;
  crypto::SigningPublicKey broker_sign_;
  crypto::EncryptionPublicKey broker_enc_;
  crypto::SigningPublicKey audit_key_;
  std::optional<std::string> held_;
  std::string out_;
  beast::flat_buffer in_;
  bool finished_ = false;
};

}  // namespace

ConnectionTest TestConnection(const std::filesystem::path& config_path,
                              std::chrono::milliseconds overall) {
  ConnectionTest t;
  auto config_failed = [&](const std::string& what, const Status& s) {
    std::string message = s.message();
    if (const auto nl = message.find('\n'); nl != std::string::npos) {
      message = message.substr(0, nl) + " (and more)";
    }
    t.steps.push_back({"config", false, what + message,
                       "run mash-agent check-config --config " + config_path.string()});
    t.exit_code = kExitConfig;
    return t;
  };
  auto config = LoadAgentConfig(config_path);
  if (!config.ok()) return config_failed("", config.status());
  auto tls = crypto::MakeTlsContext(config->tls);
  if (!tls.ok()) return config_failed("tls: ", tls.status());
  auto dial = DialOptionsFor(*config);
  if (!dial.ok()) return config_failed("", dial.status());
  auto sign = crypto::LoadSigningKey(config->sign_key);
  if (!sign.ok()) return config_failed("keys.sign: ", sign.status());
  auto enc = crypto::LoadEncryptionKey(config->enc_key);
  if (!enc.ok()) return config_failed("keys.enc: ", enc.status());
  auto broker_sign = crypto::LoadSigningPublicKey(config->broker_sign_public_key);
  if (!broker_sign.ok()) return config_failed("broker.sign_public_key: ", broker_sign.status());
  auto broker_enc = crypto::LoadEncryptionPublicKey(config->broker_enc_public_key);
  if (!broker_enc.ok()) return config_failed("broker.enc_public_key: ", broker_enc.status());
  auto audit_key = crypto::LoadSigningPublicKey(config->audit_log_public_key);
  if (!audit_key.ok()) return config_failed("audit.log_public_key: ", audit_key.status());

  // The checkpoint the agent holds, so that the broker's bookkeeping of it stays right.
  std::optional<std::string> held;
  if (auto db = OpenAgentDatabase(*config); db.ok()) {
    if (auto log = DisclosureLog::Create(db->get()); log.ok()) {
      if (auto cp = (*log)->LoadCheckpoint(); cp.ok()) held = *cp;
    }
  }
  schemas::Hello hello;
  hello.agency = config->agency_id;
  hello.sign_key = sign->Public().Fingerprint();
  hello.enc_key = enc->Public().Fingerprint();
  hello.software = std::string("mash-agent/") + kSoftwareVersion + " test-connection";
  if (held) {
    if (auto parsed = audit::ParseCheckpoint(*held); parsed.ok()) {
      hello.checkpoint = schemas::Checkpoint{static_cast<int64_t>(parsed->checkpoint.size),
                                             common::HexEncode(parsed->checkpoint.root)};
    } else {
      held.reset();
    }
  }
  t.steps.push_back(
      {"config", true, config_path.string() + " loads; TLS identity, keys and pins read", ""});
  Tester tester(t, *config, std::move(*dial), *tls, std::move(hello), *broker_sign, *broker_enc,
                *audit_key, std::move(held));
  tester.Run(overall);
  return t;
}

// ---- log -------------------------------------------------------------------------------------

Result<int64_t> ParseSince(std::string_view text) {
  static const std::regex kDate(R"(^(\d{4})-(\d{2})-(\d{2})(T(\d{2}):(\d{2}):(\d{2})Z)?$)");
  std::cmatch m;
  if (!std::regex_match(text.begin(), text.end(), m, kDate)) {
    return InvalidArgument("--since must be YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ");
  }
  struct tm tm {};
  tm.tm_year = std::stoi(m[1]) - 1900;
  tm.tm_mon = std::stoi(m[2]) - 1;
  tm.tm_mday = std::stoi(m[3]);
  if (m[4].matched) {
    tm.tm_hour = std::stoi(m[5]);
    tm.tm_min = std::stoi(m[6]);
    tm.tm_sec = std::stoi(m[7]);
  }
  const int mon = tm.tm_mon, mday = tm.tm_mday;
  if (mon > 11 || mday < 1 || mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60) {
    return InvalidArgument("--since is not a valid date");
  }
  const time_t t = timegm(&tm);
  if (tm.tm_mon != mon || tm.tm_mday != mday) return InvalidArgument("--since is not a valid date");
  return static_cast<int64_t>(t);
}

Result<nlohmann::json> ReadDisclosureLog(const AgentConfig& config, const LogQuery& query) {
  MASH_ASSIGN_OR_RETURN(std::unique_ptr<storage::Database> db, OpenAgentDatabase(config));
  MASH_ASSIGN_OR_RETURN(std::unique_ptr<DisclosureLog> log, DisclosureLog::Create(db.get()));
  MASH_ASSIGN_OR_RETURN(std::vector<DisclosureRecord> answers,
                        log->AnswersSince(query.since, query.check_ref, query.limit));
  json entries = json::array();
  for (const auto& r : answers) {
    json e = {{"time", TimeText(r.time)},
              {"check_ref", r.check_ref},
              {"answer_id", r.answer_id},
              {"answer_hash", r.answer_hash},
              {"purpose", r.purpose},
              {"lawful_basis", r.lawful_basis},
              {"consent", r.consent},
              {"level", r.level},
              {"held", r.held},
              {"policy_version", r.policy_version},
              {"shadow_version", r.shadow_version.empty() ? json(nullptr) : json(r.shadow_version)},
              {"categories", r.categories},
              {"shadow", r.shadow}};
    MASH_ASSIGN_OR_RETURN(std::optional<ReceiptRecord> receipt, log->FindReceipt(r.answer_id));
    if (receipt) {
      json rj = {{"time", TimeText(receipt->time)},
                 {"seq", receipt->seq},
                 {"leaf_hash", receipt->leaf_hash}};
      if (auto cp = audit::ParseCheckpoint(receipt->checkpoint); cp.ok()) {
        rj["checkpoint_size"] = cp->checkpoint.size;
      }
      e["receipt"] = rj;
    } else {
      e["receipt"] = nullptr;
    }
    entries.push_back(std::move(e));
  }
  // The custodian's decisions on categories the agency's policy held back (review queue):
  // who, when, what and why, oldest first, with the same filters.
  MASH_ASSIGN_OR_RETURN(std::unique_ptr<ReviewQueue> queue, ReviewQueue::Create(db.get()));
  MASH_ASSIGN_OR_RETURN(std::vector<json> rows,
                        queue->Decisions(query.limit, query.since, query.check_ref));
  json decisions = json::array();
  for (auto it = rows.rbegin(); it != rows.rend(); ++it) {
    json d = *it;
    d["time"] = TimeText(d["time"].get<int64_t>());
    decisions.push_back(std::move(d));
  }
  json out = {{"version", 1},
              {"agency", config.agency_id},
              {"since", TimeOrNull(query.since)},
              {"check_ref", query.check_ref.empty() ? json(nullptr) : json(query.check_ref)},
              {"count", entries.size()},
              {"entries", entries},
              {"decision_count", decisions.size()},
              {"decisions", decisions}};
  return out;
}

std::string FormatDisclosureLog(const nlohmann::json& log) {
  std::ostringstream o;
  auto str = [](const json& j) { return j.is_string() ? j.get<std::string>() : j.dump(); };
  const json decisions = log.value("decisions", json::array());
  auto format_decisions = [&] {
    if (decisions.empty()) return;
    o << "custodian decisions:\n";
    for (const auto& d : decisions) {
      o << str(d["time"]) << "  check " << str(d["check_ref"]) << "  review item " << str(d["item"])
        << "\n    " << str(d["category"]) << ": " << str(d["decision"]) << " by " << str(d["by"]);
      if (d["fields"].is_array() && !d["fields"].empty())
        o << ", also redacted " << d["fields"].dump();
      if (!str(d["reason"]).empty()) o << ": " << str(d["reason"]);
      o << "\n";
    }
    o << decisions.size() << " decision(s)\n";
  };
  if (log["entries"].empty()) {
    o << "no answers in the disclosure log"
      << (log["check_ref"].is_null() ? "" : " for check " + str(log["check_ref"]))
      << (log["since"].is_null() ? "" : " since " + str(log["since"])) << "\n";
    format_decisions();
    return o.str();
  }
  for (const auto& e : log["entries"]) {
    o << str(e["time"]) << "  check " << str(e["check_ref"]) << "  answer " << str(e["answer_id"])
      << "\n";
    o << "    purpose " << str(e["purpose"]) << ", lawful basis " << str(e["lawful_basis"])
      << ", consent " << str(e["consent"]) << ", level asked " << str(e["level"]) << "\n";
    o << "    policy " << str(e["policy_version"])
      << (e["shadow_version"].is_null() ? "" : " (shadow " + str(e["shadow_version"]) + ")")
      << "\n";
    if (!e["held"].get<bool>()) {
      o << "    not held: nothing released\n";
    } else if (!e["categories"].is_array() || e["categories"].empty()) {
      o << "    held; no category asked or disclosed (discovery)\n";
    }
    if (e["categories"].is_array()) {
      for (const auto& c : e["categories"]) {
        o << "    " << str(c.value("category", json(""))) << ": "
          << str(c.value("outcome", json("")));
        std::vector<std::string> parts;
        if (c.contains("level")) parts.push_back("level " + str(c["level"]));
        if (c.contains("rule")) parts.push_back("rule " + str(c["rule"]));
        if (c.contains("redacted")) parts.push_back("redacted " + c["redacted"].dump());
        if (!parts.empty()) {
          o << " (";
          for (size_t i = 0; i < parts.size(); ++i) o << (i ? ", " : "") << parts[i];
          o << ")";
        }
        if (c.contains("reason")) o << ": " << str(c["reason"]);
        o << "\n";
      }
    }
    if (e["shadow"].is_array()) {
      for (const auto& d : e["shadow"]) {
        o << "    shadow differs on " << str(d.value("category", json(""))) << ": enforced "
          << d.value("enforced", json::object()).value("effect", "") << ", shadow "
          << d.value("shadow", json::object()).value("effect", "") << "\n";
      }
    }
    if (e["receipt"].is_null()) {
      o << "    receipt: none held (yet)\n";
    } else {
      o << "    receipt: audit seq " << str(e["receipt"]["seq"]) << ", received "
        << str(e["receipt"]["time"]) << "\n";
    }
  }
  o << log["count"].get<size_t>() << " answer(s)\n";
  format_decisions();
  return o.str();
}

// ---- diagnostics -----------------------------------------------------------------------------

std::optional<nlohmann::json> ScrubLogLine(std::string_view line) {
  // Fields whose values are ids, codes, counts, versions or error texts of this software: never
  // names, dates of birth, identifiers or record contents (common/log.h forbids those anyway;
  // the allowlist keeps a bundle clean even if a line broke that rule).
  static const std::vector<std::string> kKeep = {"ts",
                                                 "level",
                                                 "service",
                                                 "event",
                                                 "step",
                                                 "error",
                                                 "code",
                                                 "reason",
                                                 "state",
                                                 "agency",
                                                 "check",
                                                 "category",
                                                 "connects",
                                                 "delay_ms",
                                                 "size",
                                                 "seq",
                                                 "held",
                                                 "categories",
                                                 "policy_version",
                                                 "enforced_version",
                                                 "shadow_version",
                                                 "signal",
                                                 "proxy_status",
                                                 "type",
                                                 "bytes",
                                                 "alarms_cleared",
                                                 "restored",
                                                 "raised_at",
                                                 "elapsed_ms",
                                                 "stdout_bytes",
                                                 "stderr_bytes",
                                                 "status",
                                                 "limit",
                                                 "queries",
                                                 "level_asked"};
  const json j = json::parse(line, nullptr, false);
  if (!j.is_object()) return std::nullopt;
  json out = json::object();
  for (const auto& [key, value] : j.items()) {
    if (std::find(kKeep.begin(), kKeep.end(), key) == kKeep.end()) continue;
    if (value.is_string()) {
      std::string s = value.get<std::string>();
      if (s.size() > kMaxScrubbedString) s = s.substr(0, kMaxScrubbedString) + "...";
      out[key] = s;
    } else if (value.is_number() || value.is_boolean() || value.is_null()) {
      out[key] = value;
    }
  }
  return out;
}

namespace {

std::string ModeText(mode_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof(buf), "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

// A file named by the configuration: where it is and who may read it, never its content.
json FileJson(const std::string& role, const std::filesystem::path& path, bool secret) {
  json j = {{"role", role}, {"path", path.string()}, {"secret", secret}};
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    j["exists"] = false;
    return j;
  }
  j["exists"] = true;
  j["symlink"] = S_ISLNK(st.st_mode);
  if (S_ISLNK(st.st_mode) && ::stat(path.c_str(), &st) != 0) return j;
  j["mode"] = ModeText(st.st_mode);
  j["owner_uid"] = st.st_uid;
  j["size"] = st.st_size;
  if (secret) j["permissions_ok"] = (st.st_mode & 077) == 0;
  return j;
}

json ConfigJson(const AgentConfig& c) {
  json crls = json::array();
  for (const auto& p : c.tls.crl_files) crls.push_back(p.string());
  json trusted = json::array();
  for (const auto& p : c.policy.trusted_keys) trusted.push_back(p.string());
  json records;
  if (!c.records_fixture.empty()) records["fixture"] = c.records_fixture.string();
  if (!c.records_command.empty()) {
    // Arguments may carry a connection string with a password: the program only, and a count.
    records["command_program"] = c.records_command[0];
    records["command_arguments"] = c.records_command.size() - 1;
    records["command_timeout_ms"] = c.records_command_timeout.count();
    records["command_max_output_bytes"] = c.records_command_max_output_bytes;
  }
  return {{"agency", {{"id", c.agency_id}, {"name", c.agency_name}, {"type", c.agency_type}}},
          {"log", {{"file", c.log.file ? json(c.log.file->string()) : json(nullptr)}}},
          {"broker",
           {{"url", BrokerUrlText(c.broker)},
            {"hub_id", c.hub_id},
            {"sign_public_key", c.broker_sign_public_key.string()},
            {"enc_public_key", c.broker_enc_public_key.string()},
            {"proxy", ProxyText(c.proxy)},
            {"proxy_credentials",
             c.proxy_credentials.empty() ? json(nullptr) : json(c.proxy_credentials.string())}}},
          {"tls",
           {{"ca", c.tls.ca_file.string()},
            {"crls", crls},
            {"cert", c.tls.cert_chain_file.string()},
            {"key", c.tls.key_file.string()},
            {"ca_pin", c.tls.ca_pin ? json(*c.tls.ca_pin) : json(nullptr)}}},
          {"keys", {{"sign", c.sign_key.string()}, {"enc", c.enc_key.string()}}},
          {"storage", {{"database", c.database.string()}, {"key", c.database_key.string()}}},
          {"records", records},
          {"policy",
           {{"file", c.policy.file.empty() ? json(nullptr) : json(c.policy.file.string())},
            {"store", c.policy.store.empty() ? json(nullptr) : json(c.policy.store.string())},
            {"trusted_keys", trusted}}},
          {"audit", {{"log_public_key", c.audit_log_public_key.string()}}},
          {"connection",
           {{"handshake_timeout_s", c.handshake_timeout.count()},
            {"ping_interval_s", c.ping_interval.count()},
            {"backoff_initial_ms", c.backoff_initial.count()},
            {"backoff_max_ms", c.backoff_max.count()},
            {"answer_lifetime_s", c.answer_lifetime.count()}}}};
}

json LogTail(const std::filesystem::path& file, size_t max_lines) {
  json out = {{"file", file.string()}};
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    out["error"] = "cannot read the log file";
    return out;
  }
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  const auto cap = static_cast<std::streamoff>(kMaxLogTailBytes);
  const std::streamoff start = size > cap ? size - cap : 0;
  in.seekg(start);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::string> lines;
  std::istringstream ls(text);
  for (std::string l; std::getline(ls, l);) lines.push_back(l);
  if (start > 0 && !lines.empty()) lines.erase(lines.begin());  // a cut first line
  if (lines.size() > max_lines) {
    lines.erase(lines.begin(),
                lines.begin() + static_cast<std::ptrdiff_t>(lines.size() - max_lines));
  }
  json kept = json::array();
  int64_t dropped = 0;
  for (const auto& l : lines) {
    if (auto s = ScrubLogLine(l)) {
      kept.push_back(*s);
    } else {
      ++dropped;
    }
  }
  out["lines"] = kept;
  out["dropped_lines"] = dropped;  // not JSON: left out whole
  return out;
}

}  // namespace

Result<nlohmann::json> BuildDiagnostics(const std::filesystem::path& config_path, int64_t now,
                                        size_t log_lines) {
  MASH_ASSIGN_OR_RETURN(AgentConfig c, LoadAgentConfig(config_path));
  json out = {{"format", "mash-agent-diagnostics/v1"}, {"generated_at", TimeText(now)}};
  json software = {{"mash_agent", kSoftwareVersion},
                   {"openssl", crypto::TlsLibraryVersion()},
                   {"libsodium", sodium_version_string()},
                   {"boost", BOOST_LIB_VERSION},
                   {"nlohmann_json", std::to_string(NLOHMANN_JSON_VERSION_MAJOR) + "." +
                                         std::to_string(NLOHMANN_JSON_VERSION_MINOR) + "." +
                                         std::to_string(NLOHMANN_JSON_VERSION_PATCH)}};
  if (auto db = OpenAgentDatabase(c); db.ok()) {
    for (const auto& [name, sql] : std::vector<std::pair<std::string, std::string>>{
             {"sqlcipher", "PRAGMA cipher_version"}, {"sqlite", "SELECT sqlite_version()"}}) {
      if (auto s = (*db)->Prepare(sql); s.ok()) {
        if (auto row = s->Step(); row.ok() && *row) software[name] = s->ColumnText(0);
      }
    }
  }
  out["software"] = software;
  out["config"] = {{"file", std::filesystem::absolute(config_path).string()},
                   {"values", ConfigJson(c)}};

  json files = json::array();
  auto add_key = [&](const std::string& role, const std::filesystem::path& p,
                     const std::string& fingerprint) {
    json f = FileJson(role, p, true);
    if (!fingerprint.empty()) f["public_fingerprint"] = fingerprint;
    files.push_back(f);
  };
  {
    auto sign = crypto::LoadSigningKey(c.sign_key);
    add_key("keys.sign", c.sign_key, sign.ok() ? sign->Public().Fingerprint() : "");
    if (!sign.ok()) files.back()["error"] = sign.status().message();
  }
  {
    auto enc = crypto::LoadEncryptionKey(c.enc_key);
    add_key("keys.enc", c.enc_key, enc.ok() ? enc->Public().Fingerprint() : "");
    if (!enc.ok()) files.back()["error"] = enc.status().message();
  }
  {
    // The TLS key's public half is the certificate's public key: its pin identifies it.
    auto cert = crypto::DescribeCertificate(c.tls.cert_chain_file);
    add_key("tls.key", c.tls.key_file, cert.ok() ? cert->spki_pin : "");
    auto ctx = crypto::MakeTlsContext(c.tls);
    files.back()["loads_with_certificate"] = ctx.ok();
    if (!ctx.ok()) files.back()["error"] = ctx.status().message();
  }
  add_key("storage.key", c.database_key, "");
  if (!c.proxy_credentials.empty()) add_key("broker.proxy_credentials", c.proxy_credentials, "");
  auto add_public = [&](const std::string& role, const std::filesystem::path& p,
                        const Result<std::string>& fingerprint) {
    json f = FileJson(role, p, false);
    if (fingerprint.ok()) {
      f["fingerprint"] = *fingerprint;
    } else {
      f["error"] = fingerprint.status().message();
    }
    files.push_back(f);
  };
  auto sign_fp = [](const std::filesystem::path& p) -> Result<std::string> {
    MASH_ASSIGN_OR_RETURN(crypto::SigningPublicKey k, crypto::LoadSigningPublicKey(p));
    return k.Fingerprint();
  };
  add_public("broker.sign_public_key", c.broker_sign_public_key, sign_fp(c.broker_sign_public_key));
  {
    auto k = crypto::LoadEncryptionPublicKey(c.broker_enc_public_key);
    add_public("broker.enc_public_key", c.broker_enc_public_key,
               k.ok() ? Result<std::string>(k->Fingerprint()) : Result<std::string>(k.status()));
  }
  add_public("audit.log_public_key", c.audit_log_public_key, sign_fp(c.audit_log_public_key));
  for (const auto& p : c.policy.trusted_keys) add_public("policy.trusted_keys", p, sign_fp(p));
  for (const auto& p : c.tls.crl_files) files.push_back(FileJson("tls.crls", p, false));
  files.push_back(FileJson("storage.database", c.database, false));
  out["files"] = files;

  json certs = json::array();
  json leaf = CertificateJson(c.tls.cert_chain_file, now);
  leaf["role"] = "tls.cert";
  certs.push_back(leaf);
  json ca = CertificateJson(c.tls.ca_file, now);
  ca["role"] = "tls.ca";
  certs.push_back(ca);
  out["certificates"] = certs;

  if (c.log.file) {
    out["log"] = LogTail(*c.log.file, log_lines);
  } else {
    out["log"] = {{"file", nullptr},
                  {"note",
                   "the agent logs to stdout (journald): add `journalctl -u mash-agent "
                   "-n 200` output yourself if support asks for it"}};
  }
  out["status"] = CollectStatus(c, now);
  out["test_connection"] = TestConnection(config_path, std::chrono::seconds(30)).ToJson();
  return out;
}

// ---- check-config ----------------------------------------------------------------------------

std::vector<std::string> CheckConfig(const std::filesystem::path& config_path, int64_t now) {
  std::vector<std::string> problems;
  AgentConfig c;
  bool read = false;  // whether the file parsed far enough to fill `c`
  {
    AgentConfig partial;
    partial.agency_id = "\n";  // a value LoadAgentConfig never leaves: tells whether it filled it
    auto config = LoadAgentConfig(config_path, &partial);
    if (!config.ok()) {
      std::istringstream lines(config.status().message());
      for (std::string l; std::getline(lines, l);) {
        if (!l.empty()) problems.push_back(l);
      }
    }
    read = partial.agency_id != "\n";
    if (read) c = std::move(partial);
  }
  auto file = common::ConfigFile::Load(config_path);
  if (!read || !file.ok()) return problems;
  common::ConfigReader reader = file->Reader();
  // Keys whose value is empty were missing or wrong: LoadAgentConfig has reported them.
  auto check = [&](std::string_view key, const Status& s) {
    if (s.ok()) return;
    problems.push_back(reader.PositionOf(key).ToString() + ": " + std::string(key) + ": " +
                       s.message());
  };
  auto status_of = [](const auto& result) { return result.ok() ? Status::Ok() : result.status(); };

  // TLS: the certificate first (its agency and dates), then the whole context (key permissions,
  // key matching the certificate, CA and CRL files).
  const bool tls_set = !c.tls.cert_chain_file.empty() && !c.tls.key_file.empty() &&
                       !c.tls.ca_file.empty() && !c.tls.crl_files.empty();
  if (c.tls.cert_chain_file.empty()) {
    // reported by LoadAgentConfig
  } else if (auto cert = crypto::DescribeCertificate(c.tls.cert_chain_file); !cert.ok()) {
    check("tls.cert", cert.status());
  } else {
    if (!c.agency_id.empty() && cert->agency_id != c.agency_id) {
      check("tls.cert", InvalidArgument("the certificate names agency '" + cert->agency_id +
                                        "', not agency.id '" + c.agency_id + "'"));
    }
    if (cert->not_after < now) {
      check("tls.cert",
            FailedPrecondition("the certificate expired on " + TimeText(cert->not_after)));
    }
  }
  if (tls_set) {
    if (auto ctx = crypto::MakeTlsContext(c.tls); !ctx.ok()) check("tls", ctx.status());
  }
  auto check_file = [&](std::string_view key, const std::filesystem::path& path, auto load) {
    if (!path.empty()) check(key, status_of(load(path)));
  };
  check_file("keys.sign", c.sign_key, crypto::LoadSigningKey);
  check_file("keys.enc", c.enc_key, crypto::LoadEncryptionKey);
  check_file("broker.sign_public_key", c.broker_sign_public_key, crypto::LoadSigningPublicKey);
  check_file("broker.enc_public_key", c.broker_enc_public_key, crypto::LoadEncryptionPublicKey);
  check_file("audit.log_public_key", c.audit_log_public_key, crypto::LoadSigningPublicKey);
  check_file("storage.key", c.database_key, [](const std::filesystem::path& path) {
    return crypto::ReadKeyFile(path, crypto::KeyKind::kDatabaseKey);
  });
  if (std::error_code ec;
      !c.database.empty() && !std::filesystem::is_directory(c.database.parent_path(), ec)) {
    check("storage.database",
          NotFound("the folder " + c.database.parent_path().string() + " does not exist"));
  }
  if (!c.proxy_credentials.empty()) {
    check("broker.proxy_credentials", status_of(LoadProxyAuthorization(c.proxy_credentials)));
  }
  for (size_t i = 0; i < c.policy.trusted_keys.size(); ++i) {
    check("policy.trusted_keys", status_of(crypto::LoadSigningPublicKey(c.policy.trusted_keys[i])));
  }
  if (c.policy.file.empty() != c.policy.store.empty()) {
    check(c.policy.file.empty() ? "policy.store" : "policy.file",
          status_of(LoadDisclosurePolicies(c.policy, c.agency_type, now)));
  }
  if (c.records_fixture.empty() != c.records_command.empty()) {
    check(c.records_fixture.empty() ? "records.command" : "records.fixture",
          status_of(OpenRecordSource(c)));
  }
  return problems;
}

}  // namespace mash::agent
