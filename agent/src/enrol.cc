#include "mash/agent/enrol.h"

#include <openssl/ssl.h>
#include <sys/stat.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>

#include "mash/common/encoding.h"
#include "mash/common/log.h"
#include "mash/common/private_file.h"
#include "mash/crypto/certificates.h"
#include "mash/crypto/keys.h"
#include "mash/crypto/secure_memory.h"
#include "mash/crypto/tls.h"
#include "mash/schemas/validator.h"

namespace mash::agent {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using nlohmann::json;

constexpr size_t kMaxReplyBytes = 1024 * 1024;
constexpr int kMaxReplyDepth = 8;
constexpr size_t kMaxTokenBytes = 256;
constexpr size_t kMaxPemFileBytes = 256 * 1024;
constexpr char kUserAgent[] = "mash-agent/0.1.0";

// File names inside the enrolment folder.
constexpr char kTlsKey[] = "agency-tls.key";
constexpr char kChain[] = "agency.pem";
constexpr char kKeyBase[] = "agency";  // agency.sign.key, agency.enc.key, .pub
constexpr char kDbKey[] = "agent.db.key";
constexpr char kHubCa[] = "hub-ca.pem";
constexpr char kHubSign[] = "hub.sign.pub";
constexpr char kHubEnc[] = "hub.enc.pub";
constexpr char kHubAudit[] = "hub.audit.pub";

struct HttpsUrl {
  std::string host;
  std::string port;
  std::string text;  // https://host:port, as given
};

Result<HttpsUrl> ParseHttpsUrl(const std::string& url) {
  static const std::regex kUrl("^https://([A-Za-z0-9.-]{1,253})(:([0-9]{1,5}))?/?$");
  std::smatch m;
  if (!std::regex_match(url, m, kUrl)) {
    return InvalidArgument("the broker URL must look like https://HOST:PORT");
  }
  HttpsUrl out{m[1].str(), m[3].matched ? m[3].str() : "443", url};
  if (!out.text.empty() && out.text.back() == '/') out.text.pop_back();
  const int port = std::stoi(out.port);
  if (port < 1 || port > 65535) return InvalidArgument("the broker URL has a bad port");
  return out;
}

struct Reply {
  int status = 0;
  json body;
};

// One HTTPS request on its own connection; every step has `timeout`. With `verify_name`, the
// broker's certificate must name the URL's host (and the context verifies the chain).
Result<Reply> Exchange(net::ssl::context& ctx, const HttpsUrl& url, http::verb verb,
                       const std::string& target, const json* body, std::chrono::seconds timeout,
                       bool verify_name) {
  net::io_context io;
  beast::ssl_stream<beast::tcp_stream> stream(io, ctx);
  if (verify_name) {
    MASH_RETURN_IF_ERROR(crypto::SetExpectedPeerName(stream.native_handle(), url.host));
  } else if (SSL_set_tlsext_host_name(stream.native_handle(), url.host.c_str()) != 1) {
    return InvalidArgument("cannot set SNI");
  }
  beast::error_code ec;
  const std::string where = url.host + ":" + url.port;
  auto run = [&io] {
    io.restart();
    io.run();
  };
  tcp::resolver resolver(io);
  tcp::resolver::results_type endpoints;
  bool resolved = false;
  resolver.async_resolve(url.host, url.port,
                         [&](beast::error_code e, tcp::resolver::results_type r) {
                           ec = e;
                           endpoints = std::move(r);
                           resolved = true;
                         });
  io.run_for(timeout);
  if (!resolved) {
    resolver.cancel();
    run();
    return DeadlineExceeded("cannot resolve " + where + ": timed out");
  }
  if (ec) return Unavailable("cannot resolve " + where + ": " + ec.message());
  auto& lowest = beast::get_lowest_layer(stream);
  lowest.expires_after(timeout);
  lowest.async_connect(endpoints, [&](beast::error_code e, const tcp::endpoint&) { ec = e; });
  run();
  if (ec) return Unavailable("cannot connect to " + where + ": " + ec.message());
  lowest.expires_after(timeout);
  stream.async_handshake(net::ssl::stream_base::client, [&](beast::error_code e) { ec = e; });
  run();
  if (ec) {
    std::string detail = ec.message();
    const long verify = SSL_get_verify_result(stream.native_handle());
    if (verify_name && verify != X509_V_OK) {
      detail += " (" + std::string(X509_verify_cert_error_string(verify)) + ")";
    }
    return Unavailable("TLS handshake with " + where + " failed: " + detail);
  }
  http::request<http::string_body> req{verb, target, 11};
  req.set(http::field::host, where);
  req.set(http::field::user_agent, kUserAgent);
  req.set(http::field::accept, "application/json");
  req.keep_alive(false);
  if (body != nullptr) {
    req.set(http::field::content_type, "application/json");
    req.body() = body->dump();
  }
  req.prepare_payload();
  lowest.expires_after(timeout);
  http::async_write(stream, req, [&](beast::error_code e, size_t) { ec = e; });
  run();
  // Wipe the request text: it may hold the token.
  crypto::Wipe({reinterpret_cast<uint8_t*>(req.body().data()), req.body().size()});
  if (ec) return Unavailable("cannot send the request to " + where + ": " + ec.message());
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(kMaxReplyBytes);
  lowest.expires_after(timeout);
  http::async_read(stream, buffer, parser, [&](beast::error_code e, size_t) { ec = e; });
  run();
  if (ec) return Unavailable("cannot read the reply from " + where + ": " + ec.message());
  lowest.expires_after(std::chrono::seconds(2));
  stream.async_shutdown([](beast::error_code) {});
  run();
  Reply reply;
  reply.status = static_cast<int>(parser.get().result_int());
  // Bounded in depth as well as size: the first reply comes from a broker not yet verified.
  if (auto parsed = schemas::ParseJson(parser.get().body(), kMaxReplyBytes, kMaxReplyDepth);
      parsed.ok()) {
    reply.body = std::move(*parsed);
  }
  if (reply.status >= 200 && reply.status < 300 && !reply.body.is_object()) {
    return Unavailable("the broker at " + where + " sent a reply that is not a JSON object");
  }
  return reply;
}

Status ReplyError(const Reply& r, const std::string& what) {
  std::string message;
  if (r.body.is_object() && r.body.contains("error") && r.body["error"].is_object() &&
      r.body["error"].contains("message") && r.body["error"]["message"].is_string()) {
    message = r.body["error"]["message"].get<std::string>().substr(0, 200);
  }
  const std::string line = what + ": the broker answered " + std::to_string(r.status) +
                           (message.empty() ? "" : ": " + message);
  if (r.status == 401 || r.status == 403) return Unauthenticated(line);
  if (r.status >= 400 && r.status < 500) return InvalidArgument(line);
  return Unavailable(line);
}

// A TLS 1.3 client context that verifies nothing: used only to fetch the hub CA, which is then
// checked against the pin before anything else happens.
Result<std::shared_ptr<net::ssl::context>> BootstrapContext() {
  auto ctx = std::make_shared<net::ssl::context>(net::ssl::context::tls_client);
  SSL_CTX* raw = ctx->native_handle();
  if (SSL_CTX_set_min_proto_version(raw, TLS1_3_VERSION) != 1) {
    return Internal("cannot restrict to TLS 1.3");
  }
  SSL_CTX_set_options(raw, SSL_OP_NO_TICKET | SSL_OP_NO_COMPRESSION);
  SSL_CTX_set_verify(raw, SSL_VERIFY_NONE, nullptr);
  return ctx;
}

std::string JsonString(const json& j, const char* name) {
  const auto it = j.find(name);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// The broker's renew window in seconds, within what agent.toml accepts; 0 (a third of the
// lifetime) when absent or odd.
int64_t RenewWindow(const json& reply) {
  const auto it = reply.find("renew_window_s");
  if (it == reply.end() || !it->is_number_integer()) return 0;
  const int64_t v = it->get<int64_t>();
  return v > 0 && v <= 89 * 24 * 3600 ? v : 0;
}

// A TOML basic string.
std::string Quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\u%04x", static_cast<unsigned>(c));
      out += buf;
      continue;
    }
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string Quote(const std::filesystem::path& p) { return Quote(p.string()); }

Status WritePublicKey(const std::filesystem::path& path, crypto::KeyKind kind,
                      const std::string& b64) {
  auto bytes = common::Base64Decode(b64);
  if (!bytes || bytes->size() != crypto::kPublicKeySize) {
    return Unavailable("the broker's reply holds a malformed public key");
  }
  return crypto::WriteKeyFile(path, kind, *bytes, /*overwrite=*/true);
}

// The PEM texts of the CA and CRLs in a reply, written to `ca_file` and `crl_files` (the CRL
// list is named after the count the reply holds when `crl_files` is empty).
Status WriteTrust(const json& reply, const std::filesystem::path& ca_file,
                  std::vector<std::filesystem::path>* crl_files, const std::filesystem::path& dir) {
  const std::string ca = JsonString(reply, "ca_certificate");
  const auto crls = reply.find("crls");
  if (ca.empty() || crls == reply.end() || !crls->is_array() || crls->empty()) {
    return Unavailable("the broker's reply holds no CA certificate or CRLs");
  }
  if (!ca_file.empty()) {
    MASH_RETURN_IF_ERROR(
        common::WritePrivateFile(ca_file, ca, true, common::FileAccess::kWorldReadable));
  }
  if (crl_files->empty()) {
    for (size_t i = 0; i < crls->size(); ++i) {
      crl_files->push_back(dir / ("hub-crl-" + std::to_string(i) + ".pem"));
    }
  } else if (crl_files->size() != crls->size()) {
    // The operator has arranged CRLs differently; leave them to the operator.
    return Status::Ok();
  }
  for (size_t i = 0; i < crls->size(); ++i) {
    if (!(*crls)[i].is_string()) return Unavailable("the broker's reply holds a malformed CRL");
    MASH_RETURN_IF_ERROR(common::WritePrivateFile((*crl_files)[i], (*crls)[i].get<std::string>(),
                                                  true, common::FileAccess::kWorldReadable));
  }
  return Status::Ok();
}

std::string AgentToml(const EnrolOptions& o, const HttpsUrl& url, const json& reply,
                      const std::filesystem::path& dir,
                      const std::vector<std::filesystem::path>& crls, const std::string& now) {
  const json& agency = reply.at("agency");  // checked by Enrol
  std::ostringstream t;
  t << "# Written by `mash-agent enrol` at " << now << ".\n"
    << "# Fill in [records] and [policy] below, then run\n"
    << "#   mash-agent check-config --config " << (dir / "agent.toml").string() << "\n\n"
    << "[agency]\nid = " << Quote(JsonString(agency, "id"))
    << "\nname = " << Quote(JsonString(agency, "name"))
    << "\ntype = " << Quote(JsonString(agency, "type")) << "\n\n"
    << "[broker]\nurl = " << Quote(JsonString(reply, "agent_url"))
    << "\nhub_id = " << Quote(JsonString(reply, "hub_id"))
    << "\nsign_public_key = " << Quote(dir / kHubSign)
    << "\nenc_public_key = " << Quote(dir / kHubEnc) << "\n\n"
    << "[tls]\nca = " << Quote(dir / kHubCa) << "\ncrls = [";
  for (size_t i = 0; i < crls.size(); ++i) t << (i ? ", " : "") << Quote(crls[i]);
  t << "]\ncert = " << Quote(dir / kChain) << "\nkey = " << Quote(dir / kTlsKey)
    << "\nca_pin = " << Quote(o.ca_pin) << "\n\n"
    << "[keys]\nsign = " << Quote(dir / (std::string(kKeyBase) + ".sign.key"))
    << "\nenc = " << Quote(dir / (std::string(kKeyBase) + ".enc.key")) << "\n\n"
    << "[storage]\ndatabase = " << Quote(dir / "agent.db") << "\nkey = " << Quote(dir / kDbKey)
    << "\n\n"
    << "[audit]\nlog_public_key = " << Quote(dir / kHubAudit) << "\n\n"
    << "[enrolment]\nbroker = " << Quote(url.text) << "\nrenew_window_s = " << RenewWindow(reply)
    << "\n\n"
    // The examples follow the packaged layout (docs/packages.md): everything in DIR.
    << "# [records]\n"
    << "# store = " << Quote(dir / "records.db") << "   # filled by mash-agent import\n"
    << "# store_key = " << Quote(dir / "records.key") << "   # mashctl pki secret --kind database\n"
    << "# command = [\"/opt/rms/mash-lookup\"]   # or a connector instead\n\n"
    << "# [policy]\n"
    << "# store = " << Quote(dir / "policy" / (JsonString(agency, "id") + "-disclosure"))
    << "   # mashctl policy publish\n"
    << "# trusted_keys = [" << Quote(dir / "policy" / "dpo.sign.pub") << "]\n";
  return t.str();
}

bool ValidPin(const std::string& pin) {
  static const std::regex kPin("^sha256:[0-9a-f]{64}$");
  return std::regex_match(pin, kPin);
}

// Removes the files an enrolment attempt made when it fails.
class Cleanup {
 public:
  void Add(std::filesystem::path p) { files_.push_back(std::move(p)); }
  void Keep() { files_.clear(); }
  ~Cleanup() {
    for (const auto& f : files_) {
      std::error_code ec;
      std::filesystem::remove(f, ec);
    }
  }

 private:
  std::vector<std::filesystem::path> files_;
};

}  // namespace

Result<EnrolResult> Enrol(const EnrolOptions& o, const common::Clock& clock) {
  MASH_ASSIGN_OR_RETURN(const HttpsUrl url, ParseHttpsUrl(o.broker));
  if (!ValidPin(o.ca_pin)) return InvalidArgument("--ca-pin must be sha256:<64 lower-case hex>");
  static const std::regex kId("^[a-z][a-z0-9-]{1,31}$");
  if (!o.agency_id.empty() && !std::regex_match(o.agency_id, kId)) {
    return InvalidArgument("--agency-id must match ^[a-z][a-z0-9-]{1,31}$");
  }
  // The token is read (and its file's mode checked) before anything else.
  auto token_text = common::ReadPrivateFile(o.token_file, kMaxTokenBytes);
  if (!token_text.ok()) return token_text.status().WithContext("token file");
  std::string token = *token_text;
  crypto::Wipe({reinterpret_cast<uint8_t*>(token_text->data()), token_text->size()});
  while (!token.empty() && std::isspace(static_cast<unsigned char>(token.back()))) token.pop_back();
  if (token.empty()) return InvalidArgument("the token file is empty");
  struct WipeToken {
    std::string& t;
    ~WipeToken() { crypto::Wipe({reinterpret_cast<uint8_t*>(t.data()), t.size()}); }
  } wipe_token{token};

  std::error_code ec;
  std::filesystem::create_directories(o.dir, ec);
  if (ec) return Unavailable("cannot create " + o.dir.string() + ": " + ec.message());
  ::chmod(o.dir.c_str(), 0700);
  const std::filesystem::path dir = std::filesystem::absolute(o.dir);
  for (const char* f : {kTlsKey, kChain, "agency.sign.key", "agency.sign.pub", "agency.enc.key",
                        "agency.enc.pub", kDbKey}) {
    if (std::filesystem::exists(dir / f, ec)) {
      return AlreadyExists(dir.string() + " already holds an enrolment (" + f +
                           "); use an empty folder");
    }
  }

  // 1. The hub CA, checked against the pin before anything is trusted or sent.
  MASH_ASSIGN_OR_RETURN(auto bootstrap, BootstrapContext());
  MASH_ASSIGN_OR_RETURN(Reply trust, Exchange(*bootstrap, url, http::verb::get, "/api/v1/enrol/ca",
                                              nullptr, o.timeout, /*verify_name=*/false));
  if (trust.status != 200) return ReplyError(trust, "fetching the hub CA");
  auto pin = crypto::SpkiPinOfPem(JsonString(trust.body, "ca_certificate"));
  if (!pin.ok()) return Unavailable("the broker sent no usable hub CA certificate");
  if (!crypto::ConstantTimeEqual(common::AsBytes(*pin), common::AsBytes(o.ca_pin))) {
    common::LogError("enrol.ca_pin_mismatch", {{"broker", url.text}});
    return PermissionDenied(
        "the hub CA the broker presents does not match --ca-pin; nothing was "
        "sent (check the pin and the broker URL)");
  }
  Cleanup cleanup;
  std::vector<std::filesystem::path> crls;
  MASH_RETURN_IF_ERROR(WriteTrust(trust.body, dir / kHubCa, &crls, dir));

  // 2. A verifying context: chain to the pinned root, CRLs, host name.
  crypto::TlsOptions tls;
  tls.role = crypto::TlsRole::kClient;
  tls.ca_file = dir / kHubCa;
  tls.crl_files = crls;
  tls.ca_pin = o.ca_pin;
  MASH_ASSIGN_OR_RETURN(auto verified, crypto::MakeTlsContext(tls));

  // 3. Keys, made here and never sent.
  const std::string cn = o.agency_id.empty() ? "mash-agent" : o.agency_id;
  MASH_ASSIGN_OR_RETURN(crypto::KeyAndRequest tls_key, crypto::MakeKeyAndRequest(cn));
  for (const std::string& f :
       {std::string(kTlsKey), std::string("agency.sign.key"), std::string("agency.sign.pub"),
        std::string("agency.enc.key"), std::string("agency.enc.pub"), std::string(kDbKey)}) {
    cleanup.Add(dir / f);
  }
  MASH_RETURN_IF_ERROR(
      common::WritePrivateFile(dir / kTlsKey, common::AsString(tls_key.key_pem.span()), false));
  MASH_RETURN_IF_ERROR(crypto::GenerateKeyPairFiles(dir, kKeyBase));
  const crypto::SecureBuffer db_key = crypto::GenerateSymmetricKey();
  MASH_RETURN_IF_ERROR(
      crypto::WriteKeyFile(dir / kDbKey, crypto::KeyKind::kDatabaseKey, db_key.span()));
  MASH_ASSIGN_OR_RETURN(auto sign_pub, crypto::LoadSigningPublicKey(dir / "agency.sign.pub"));
  MASH_ASSIGN_OR_RETURN(auto enc_pub, crypto::LoadEncryptionPublicKey(dir / "agency.enc.pub"));

  // 4. The enrolment.
  json request = {{"token", token},
                  {"csr", tls_key.request_pem},
                  {"sign_public_key", common::Base64Encode(sign_pub.bytes)},
                  {"enc_public_key", common::Base64Encode(enc_pub.bytes)}};
  auto reply = Exchange(*verified, url, http::verb::post, "/api/v1/enrol", &request, o.timeout,
                        /*verify_name=*/true);
  request["token"] = "";
  if (!reply.ok()) return reply.status();
  if (reply->status != 200) return ReplyError(*reply, "enrolment");
  const json& r = reply->body;
  const auto agency = r.find("agency");
  if (agency == r.end() || !agency->is_object() || JsonString(*agency, "name").empty() ||
      JsonString(*agency, "type").empty() || !std::regex_match(JsonString(*agency, "id"), kId)) {
    return Unavailable("the broker's enrolment reply names no agency");
  }
  const std::string id = JsonString(*agency, "id");
  if (!o.agency_id.empty() && id != o.agency_id) {
    return PermissionDenied("the token was issued for agency '" + id + "', not '" + o.agency_id +
                            "'");
  }
  static const std::regex kWss("^wss://[A-Za-z0-9.-]{1,253}(:[0-9]{1,5})?/[A-Za-z0-9/._-]*$");
  if (!std::regex_match(JsonString(r, "agent_url"), kWss) ||
      !std::regex_match(JsonString(r, "hub_id"), kId)) {
    return Unavailable("the broker's enrolment reply has a malformed agent URL or hub id");
  }

  // 5. Store what the agent needs.
  const std::string chain = JsonString(r, "certificate_chain");
  MASH_ASSIGN_OR_RETURN(crypto::Validity validity, crypto::CertificateValidity(chain));
  cleanup.Add(dir / kChain);
  MASH_RETURN_IF_ERROR(
      common::WritePrivateFile(dir / kChain, chain, false, common::FileAccess::kWorldReadable));
  MASH_RETURN_IF_ERROR(WriteTrust(r, dir / kHubCa, &crls, dir));
  MASH_RETURN_IF_ERROR(WritePublicKey(dir / kHubSign, crypto::KeyKind::kSigningPublic,
                                      JsonString(r, "broker_sign_public_key")));
  MASH_RETURN_IF_ERROR(WritePublicKey(dir / kHubEnc, crypto::KeyKind::kEncryptionPublic,
                                      JsonString(r, "broker_enc_public_key")));
  MASH_RETURN_IF_ERROR(WritePublicKey(dir / kHubAudit, crypto::KeyKind::kSigningPublic,
                                      JsonString(r, "audit_public_key")));
  // The certificate and the key must make a pair that verifies against the hub CA.
  crypto::TlsOptions own = tls;
  own.cert_chain_file = dir / kChain;
  own.key_file = dir / kTlsKey;
  if (auto check = crypto::MakeTlsContext(own); !check.ok()) {
    return check.status().WithContext("the issued certificate");
  }
  std::filesystem::path config = dir / "agent.toml";
  if (std::filesystem::exists(config, ec)) config = dir / "agent.toml.enrolled";
  MASH_RETURN_IF_ERROR(common::WritePrivateFile(
      config, AgentToml(o, url, r, dir, crls, common::FormatRfc3339(clock.Now())), true,
      common::FileAccess::kWorldReadable));
  cleanup.Keep();

  // 6. The token is spent; remove it.
  if (!std::filesystem::remove(o.token_file, ec) || ec) {
    common::LogWarn("enrol.token_not_removed", {{"error", ec.message()}});
  }
  common::LogInfo("enrol.done", {{"agency", id}, {"not_after", validity.not_after}});
  return EnrolResult{id, config, validity.not_after};
}

Result<RenewResult> RenewCertificate(const AgentConfig& config, const common::Clock& clock,
                                     bool force, std::chrono::seconds timeout) {
  auto chain_text = common::ReadPrivateFile(config.tls.cert_chain_file, kMaxPemFileBytes,
                                            common::FileAccess::kWorldReadable);
  if (!chain_text.ok()) return chain_text.status().WithContext("tls.cert");
  MASH_ASSIGN_OR_RETURN(crypto::Validity current, crypto::CertificateValidity(*chain_text));
  const int64_t now = clock.NowUnix();
  const int64_t window = config.renew_window.count() > 0
                             ? config.renew_window.count()
                             : (current.not_after - current.not_before) / 3;
  if (!force && current.not_after - now > window) return RenewResult{false, current.not_after};
  if (config.enrolment_url.empty()) {
    return FailedPrecondition("agent.toml has no [enrolment] broker to renew the certificate at");
  }
  MASH_ASSIGN_OR_RETURN(const HttpsUrl url, ParseHttpsUrl(config.enrolment_url));
  MASH_ASSIGN_OR_RETURN(crypto::SigningKey sign, crypto::LoadSigningKey(config.sign_key));
  MASH_ASSIGN_OR_RETURN(crypto::KeyAndRequest fresh, crypto::MakeKeyAndRequest(config.agency_id));
  const std::string message = crypto::RenewalMessage(config.agency_id, now, fresh.request_pem);
  const auto signature = sign.Sign(common::AsBytes(message));
  const json request = {{"agency", config.agency_id},
                        {"csr", fresh.request_pem},
                        {"timestamp", now},
                        {"signature", common::Base64Encode(signature)}};
  crypto::TlsOptions tls;
  tls.role = crypto::TlsRole::kClient;
  tls.ca_file = config.tls.ca_file;
  tls.crl_files = config.tls.crl_files;
  tls.ca_pin = config.tls.ca_pin;
  MASH_ASSIGN_OR_RETURN(auto ctx, crypto::MakeTlsContext(tls));
  MASH_ASSIGN_OR_RETURN(Reply reply, Exchange(*ctx, url, http::verb::post, "/api/v1/renew",
                                              &request, timeout, /*verify_name=*/true));
  if (reply.status != 200) return ReplyError(reply, "renewal");
  const std::string chain = JsonString(reply.body, "certificate_chain");
  MASH_ASSIGN_OR_RETURN(crypto::Validity validity, crypto::CertificateValidity(chain));

  // Both new files first, checked as a pair against the hub CA; then renamed over the old ones,
  // the key first. A connection made between the two renames fails once and is retried.
  const std::filesystem::path key_new = config.tls.key_file.string() + ".new";
  const std::filesystem::path chain_new = config.tls.cert_chain_file.string() + ".new";
  Cleanup cleanup;
  cleanup.Add(key_new);
  cleanup.Add(chain_new);
  MASH_RETURN_IF_ERROR(
      common::WritePrivateFile(key_new, common::AsString(fresh.key_pem.span()), true));
  MASH_RETURN_IF_ERROR(
      common::WritePrivateFile(chain_new, chain, true, common::FileAccess::kWorldReadable));
  crypto::TlsOptions check = config.tls;
  check.cert_chain_file = chain_new;
  check.key_file = key_new;
  if (auto ok = crypto::MakeTlsContext(check); !ok.ok()) {
    return ok.status().WithContext("the renewed certificate");
  }
  std::error_code ec;
  std::filesystem::rename(key_new, config.tls.key_file, ec);
  if (!ec) std::filesystem::rename(chain_new, config.tls.cert_chain_file, ec);
  if (ec) return Unavailable("cannot put the renewed certificate in place: " + ec.message());
  cleanup.Keep();
  std::vector<std::filesystem::path> crls = config.tls.crl_files;
  if (Status s = WriteTrust(reply.body, {}, &crls, {}); !s.ok()) {
    common::LogWarn("renew.crls_not_updated", {{"error", s.message()}});
  }
  common::LogInfo("renew.done", {{"agency", config.agency_id}, {"not_after", validity.not_after}});
  return RenewResult{true, validity.not_after};
}

CertificateRenewer::CertificateRenewer(boost::asio::io_context& io, AgentConfig config,
                                       const common::Clock& clock, std::function<void()> renewed,
                                       std::chrono::milliseconds interval)
    : timer_(io),
      config_(std::move(config)),
      clock_(clock),
      renewed_(std::move(renewed)),
      interval_(interval) {}

void CertificateRenewer::Start() {
  if (config_.enrolment_url.empty()) return;
  Schedule(std::chrono::milliseconds(0));
}

void CertificateRenewer::Stop() {
  stopped_ = true;
  timer_.cancel();
}

void CertificateRenewer::Schedule(std::chrono::milliseconds after) {
  if (stopped_) return;  // Stop() may have come from the `renewed` callback
  timer_.expires_after(after);
  timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
    if (ec || self->stopped_) return;
    self->Check();
  });
}

void CertificateRenewer::Check() {
  auto r = RenewCertificate(config_, clock_, /*force=*/false);
  if (!r.ok()) {
    common::LogError("renew.failed", {{"error", r.status().ToString()}});
    // Try again within the hour rather than a day later: the window is finite.
    return Schedule(std::min<std::chrono::milliseconds>(interval_, std::chrono::hours(1)));
  }
  if (r->renewed && renewed_) renewed_();
  Schedule(interval_);
}

}  // namespace mash::agent
