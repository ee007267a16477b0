#include "mash/broker/enrolment.h"

#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "mash/common/encoding.h"
#include "mash/common/log.h"
#include "mash/crypto/keys.h"
#include "mash/crypto/secure_memory.h"
#include "mash/crypto/tls.h"

namespace mash::broker {
namespace {

constexpr size_t kTokenBytes = 32;  // 256 bits
constexpr size_t kMaxTokenChars = 256;
constexpr size_t kMaxNameChars = 200;
constexpr size_t kMaxCaFileBytes = 256 * 1024;

constexpr char kSchema[] = R"sql(
CREATE TABLE IF NOT EXISTS enrolment_token(
  token_sha256 TEXT PRIMARY KEY,
  agency TEXT NOT NULL,
  name TEXT NOT NULL,
  type TEXT NOT NULL,
  created_by TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  used_at INTEGER);
CREATE TABLE IF NOT EXISTS enrolled_agency(
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  type TEXT NOT NULL,
  sign_public_key TEXT NOT NULL,
  enc_public_key TEXT NOT NULL,
  cert_serial TEXT NOT NULL,
  cert_fingerprint TEXT NOT NULL,
  cert_not_after INTEGER NOT NULL,
  enrolled_at INTEGER NOT NULL,
  renewed_at INTEGER NOT NULL DEFAULT 0);
)sql";

bool ValidId(const std::string& s) {
  static const std::regex kId("^[a-z][a-z0-9-]{1,31}$");
  return std::regex_match(s, kId);
}

bool ValidType(const std::string& t) {
  static const std::set<std::string> kTypes = {"police",    "social-care", "health",
                                               "education", "probation",   "housing"};
  return kTypes.count(t) > 0;
}

bool PrintableName(const std::string& s) {
  if (s.empty() || s.size() > kMaxNameChars) return false;
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) return false;
  }
  return true;
}

// A string member of exactly the expected object, or nullptr.
const nlohmann::json* StringField(const nlohmann::json& body, const char* name, size_t max) {
  const auto it = body.find(name);
  if (it == body.end() || !it->is_string() || it->get_ref<const std::string&>().size() > max) {
    return nullptr;
  }
  return &*it;
}

template <typename Key>
std::optional<Key> DecodeKey(const nlohmann::json* field) {
  if (field == nullptr) return std::nullopt;
  auto bytes = common::Base64Decode(field->get<std::string>());
  if (!bytes || bytes->size() != crypto::kPublicKeySize) return std::nullopt;
  Key key;
  std::copy(bytes->begin(), bytes->end(), key.bytes.begin());
  return key;
}

Result<std::string> ReadText(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Unavailable("cannot read " + path.string());
  std::string text(kMaxCaFileBytes + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<size_t>(in.gcount()));
  if (text.size() > kMaxCaFileBytes) return InvalidArgument(path.string() + " is too large");
  return text;
}

std::string TokenDigest(std::string_view token) {
  return common::HexEncode(crypto::Sha256(common::AsBytes(token)));
}

}  // namespace

EnrolmentAuthority::~EnrolmentAuthority() = default;

Result<std::unique_ptr<EnrolmentAuthority>> EnrolmentAuthority::Create(
    const BrokerConfig& config, Courier* courier, audit::AuditLog* audit,
    const crypto::SigningPublicKey& audit_key, const common::Clock& clock,
    common::RandomSource& random) {
  std::unique_ptr<EnrolmentAuthority> a(
      new EnrolmentAuthority(config, courier, audit, clock, random));
  MASH_ASSIGN_OR_RETURN(a->db_, storage::Database::Open({config.database, config.database_key}));
  MASH_RETURN_IF_ERROR(a->db_->Exec(kSchema));
  MASH_RETURN_IF_ERROR(a->LoadEnrolled());
  a->audit_key_b64_ = common::Base64Encode(audit_key.bytes);
  a->sign_key_b64_ = common::Base64Encode(courier->SignPublic().bytes);
  a->enc_key_b64_ = common::Base64Encode(courier->EncPublic().bytes);
  if (config.enrolment) {
    MASH_ASSIGN_OR_RETURN(a->ca_, crypto::IssuingCa::Load(config.enrolment->issuing_ca_cert,
                                                          config.enrolment->issuing_ca_key));
    MASH_ASSIGN_OR_RETURN(a->ca_pin_, crypto::SpkiPinOfPemFile(config.tls.ca_file));
  }
  return a;
}

Status EnrolmentAuthority::LoadEnrolled() {
  MASH_ASSIGN_OR_RETURN(
      auto stmt,
      db_->Prepare("SELECT id, name, type, sign_public_key, enc_public_key FROM enrolled_agency "
                   "ORDER BY id"));
  while (true) {
    MASH_ASSIGN_OR_RETURN(const bool row, stmt.Step());
    if (!row) break;
    RegisteredAgency reg{stmt.ColumnText(0), stmt.ColumnText(1), stmt.ColumnText(2), {}, {}};
    const nlohmann::json sign = stmt.ColumnText(3);
    const nlohmann::json enc = stmt.ColumnText(4);
    auto sign_key = DecodeKey<crypto::SigningPublicKey>(&sign);
    auto enc_key = DecodeKey<crypto::EncryptionPublicKey>(&enc);
    if (!sign_key || !enc_key) return DataLoss("enrolled agency '" + reg.id + "' has bad keys");
    reg.sign = *sign_key;
    reg.enc = *enc_key;
    const std::string id = reg.id;
    if (Status s = courier_->AddAgency(std::move(reg)); !s.ok()) {
      return InvalidArgument("agency '" + id +
                             "' is both an [[agency]] of broker.toml and enrolled in the broker "
                             "database; remove one of them");
    }
    ++enrolled_;
  }
  return Status::Ok();
}

void EnrolmentAuthority::Refuse(const std::string& what, const std::string& why,
                                const std::string& agency) {
  common::LogWarn("enrolment.refused", {{"request", what}, {"reason", why}, {"agency", agency}});
  if (audit_ == nullptr) return;
  // These endpoints answer peers that have not authenticated: one audit row per second at most,
  // naming how many refusals it stands for, so that nobody can fill the audit store by sending
  // bad tokens (each refusal is still in the log).
  const auto earlier = refusals_.Admit(clock_.NowUnix());
  if (!earlier) return;
  audit::AuditEvent e;
  e.type = audit::EventType::kRequestRefused;
  e.outcome = audit::Outcome::kRefused;
  e.person = agency.empty() ? "" : "agent:" + agency;
  e.role = "agent";
  e.organisation = agency;
  e.agency = agency;
  e.detail = what + " refused: " + why;
  if (*earlier > 0) {
    e.detail += "; and " + std::to_string(*earlier) +
                " earlier enrolment or renewal refusal(s) not recorded one by one (see the log)";
  }
  audit_->Append(std::move(e), [](Result<uint64_t> r) {
    if (!r.ok()) common::LogError("audit.append_failed", {{"error", r.status().ToString()}});
  });
}

void EnrolmentAuthority::Record(const std::string& agency, const std::string& person,
                                const std::string& detail) {
  if (audit_ == nullptr) return;
  audit::AuditEvent e;
  e.type = audit::EventType::kKeyChanged;
  e.person = person;
  e.role = person.starts_with("agent:") ? "agent" : "admin";
  e.organisation = person.starts_with("agent:") ? agency : config_.hub_id;
  e.agency = agency;
  e.detail = detail;  // ids, serials and public fingerprints only
  audit_->Append(std::move(e), [](Result<uint64_t> r) {
    if (!r.ok()) common::LogError("audit.append_failed", {{"error", r.status().ToString()}});
  });
}

Result<nlohmann::json> EnrolmentAuthority::AddAgency(const nlohmann::json& body,
                                                     const std::string& admin) {
  if (!enabled()) return FailedPrecondition("enrolment is not configured");
  if (!body.is_object() || body.size() != 3) {
    return InvalidArgument("send {\"id\": ..., \"name\": ..., \"type\": ...}");
  }
  const auto* id_field = StringField(body, "id", 64);
  const auto* name_field = StringField(body, "name", kMaxNameChars);
  const auto* type_field = StringField(body, "type", 32);
  if (id_field == nullptr || name_field == nullptr || type_field == nullptr) {
    return InvalidArgument("send {\"id\": ..., \"name\": ..., \"type\": ...}");
  }
  const std::string id = *id_field;
  const std::string name = *name_field;
  const std::string type = *type_field;
  if (!ValidId(id)) return InvalidArgument("/id must match ^[a-z][a-z0-9-]{1,31}$");
  if (!PrintableName(name)) return InvalidArgument("/name must be 1-200 printable characters");
  if (!ValidType(type)) {
    return InvalidArgument(
        "/type must be police, social-care, health, education, probation or housing");
  }
  if (courier_->FindAgency(id) != nullptr) {
    return AlreadyExists("agency '" + id + "' is already registered");
  }
  const int64_t now = clock_.NowUnix();
  std::string token = random_.Hex(kTokenBytes);
  const int64_t expires = now + config_.enrolment->token_lifetime.count();
  const Status inserted = db_->InTransaction([&]() -> Status {
    // A new token for the same id replaces one not yet used (e.g. one whose file was lost).
    MASH_ASSIGN_OR_RETURN(auto drop, db_->Prepare("DELETE FROM enrolment_token WHERE agency = ? "
                                                  "AND used_at IS NULL"));
    drop.Bind(1, id);
    MASH_RETURN_IF_ERROR(drop.Run());
    MASH_ASSIGN_OR_RETURN(
        auto put, db_->Prepare("INSERT INTO enrolment_token(token_sha256, agency, name, type, "
                               "created_by, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)"));
    put.Bind(1, TokenDigest(token)).Bind(2, id).Bind(3, name).Bind(4, type).Bind(5, admin);
    put.Bind(6, now).Bind(7, expires);
    return put.Run();
  });
  if (!inserted.ok()) {
    crypto::Wipe({reinterpret_cast<uint8_t*>(token.data()), token.size()});
    return inserted;
  }
  common::LogInfo("enrolment.token_issued",
                  {{"agency", id}, {"by", admin}, {"expires_at", expires}});
  Record(id, admin, "enrolment token issued for agency " + id + " (type " + type + ")");
  nlohmann::json out = {{"agency", id},
                        {"token", token},
                        {"expires_at", common::FormatRfc3339(common::FromUnix(expires))},
                        {"ca_pin", ca_pin_}};
  crypto::Wipe({reinterpret_cast<uint8_t*>(token.data()), token.size()});
  return out;
}

Result<nlohmann::json> EnrolmentAuthority::TrustMaterial() const {
  nlohmann::json out;
  MASH_ASSIGN_OR_RETURN(std::string ca, ReadText(config_.tls.ca_file));
  out["ca_certificate"] = ca;
  out["crls"] = nlohmann::json::array();
  for (const auto& crl : config_.tls.crl_files) {
    MASH_ASSIGN_OR_RETURN(std::string text, ReadText(crl));
    out["crls"].push_back(text);
  }
  return out;
}

std::string EnrolmentAuthority::AgentUrl(const std::string& host) const {
  if (!config_.enrolment->agent_url.empty()) return config_.enrolment->agent_url;
  // The Host the agent reached the API at, without its port, is the name its TLS check of the
  // broker will use for the agent hub too.
  std::string name = host;
  if (const auto colon = name.rfind(':'); colon != std::string::npos) name.resize(colon);
  static const std::regex kHost("^[A-Za-z0-9.-]{1,253}$");
  if (!std::regex_match(name, kHost)) return "";
  return "wss://" + name + ":" + std::to_string(agent_port_) + "/agent/v1";
}

Result<nlohmann::json> EnrolmentAuthority::Enrol(const nlohmann::json& body,
                                                 const std::string& host) {
  if (!enabled()) return FailedPrecondition("enrolment is not configured");
  const Status generic = Unauthenticated("enrolment refused");
  if (!body.is_object() || body.size() != 4) return InvalidArgument("malformed enrolment request");
  const auto* token_field = StringField(body, "token", kMaxTokenChars);
  const auto* csr_field = StringField(body, "csr", kMaxRequestPemBytes);
  const auto sign = DecodeKey<crypto::SigningPublicKey>(StringField(body, "sign_public_key", 64));
  const auto enc = DecodeKey<crypto::EncryptionPublicKey>(StringField(body, "enc_public_key", 64));
  if (token_field == nullptr || csr_field == nullptr || !sign || !enc) {
    return InvalidArgument("malformed enrolment request");
  }
  const std::string agent_url = AgentUrl(host);
  if (agent_url.empty()) return InvalidArgument("malformed Host header");

  // Every stored hash is compared, in constant time, whatever matches: timing says nothing
  // about which token (if any) the request holds.
  const std::string digest = TokenDigest(token_field->get_ref<const std::string&>());
  std::optional<std::string> matched;
  {
    MASH_ASSIGN_OR_RETURN(auto all, db_->Prepare("SELECT token_sha256 FROM enrolment_token"));
    while (true) {
      MASH_ASSIGN_OR_RETURN(const bool row, all.Step());
      if (!row) break;
      const std::string stored = all.ColumnText(0);
      if (crypto::ConstantTimeEqual(common::AsBytes(stored), common::AsBytes(digest))) {
        matched = stored;
      }
    }
  }
  if (!matched) {
    Refuse("enrol", "unknown token", "");
    return generic;
  }

  const int64_t now = clock_.NowUnix();
  std::string agency;
  std::string name;
  std::string type;
  std::string refusal;
  crypto::IssuedCertificate issued;
  const Status done = db_->InTransaction([&]() -> Status {
    MASH_ASSIGN_OR_RETURN(auto get, db_->Prepare("SELECT agency, name, type, expires_at, used_at "
                                                 "FROM enrolment_token WHERE token_sha256 = ?"));
    get.Bind(1, *matched);
    MASH_ASSIGN_OR_RETURN(const bool row, get.Step());
    if (!row) {
      refusal = "unknown token";
      return generic;
    }
    agency = get.ColumnText(0);
    name = get.ColumnText(1);
    type = get.ColumnText(2);
    if (!get.ColumnIsNull(4)) {
      refusal = "token already used";
      return generic;
    }
    if (get.ColumnInt(3) <= now) {
      refusal = "token expired";
      return generic;
    }
    if (courier_->FindAgency(agency) != nullptr) {
      refusal = "agency already registered";
      return generic;
    }
    auto cert = ca_->IssueAgencyCertificate(*csr_field, agency, now,
                                            config_.enrolment->certificate_lifetime);
    if (!cert.ok()) {
      refusal = cert.status().message();
      return cert.status().code() == StatusCode::kInvalidArgument
                 ? InvalidArgument("the certificate request is not acceptable")
                 : cert.status();
    }
    issued = std::move(*cert);
    MASH_ASSIGN_OR_RETURN(
        auto put,
        db_->Prepare("INSERT INTO enrolled_agency(id, name, type, sign_public_key, "
                     "enc_public_key, cert_serial, cert_fingerprint, cert_not_after, enrolled_at) "
                     "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"));
    put.Bind(1, agency).Bind(2, name).Bind(3, type);
    put.Bind(4, common::Base64Encode(sign->bytes)).Bind(5, common::Base64Encode(enc->bytes));
    put.Bind(6, issued.serial_hex).Bind(7, issued.fingerprint).Bind(8, issued.not_after);
    put.Bind(9, now);
    MASH_RETURN_IF_ERROR(put.Run());
    MASH_ASSIGN_OR_RETURN(auto use, db_->Prepare("UPDATE enrolment_token SET used_at = ? WHERE "
                                                 "token_sha256 = ? AND used_at IS NULL"));
    use.Bind(1, now).Bind(2, *matched);
    MASH_RETURN_IF_ERROR(use.Run());
    if (db_->Changes() != 1) {
      refusal = "token already used";
      return generic;
    }
    return Status::Ok();
  });
  if (!done.ok()) {
    if (!refusal.empty()) Refuse("enrol", refusal, agency);
    return done;
  }
  MASH_RETURN_IF_ERROR(courier_->AddAgency({agency, name, type, *sign, *enc}));
  ++enrolled_;
  common::LogInfo(
      "enrolment.enrolled",
      {{"agency", agency}, {"serial", issued.serial_hex}, {"not_after", issued.not_after}});
  Record(agency, "agent:" + agency,
         "enrolled; certificate serial " + issued.serial_hex + " " + issued.fingerprint +
             "; keys " + sign->Fingerprint() + " " + enc->Fingerprint());

  MASH_ASSIGN_OR_RETURN(nlohmann::json out, TrustMaterial());
  out["agency"] = {{"id", agency}, {"name", name}, {"type", type}};
  out["certificate_chain"] = issued.chain_pem;
  out["not_after"] = common::FormatRfc3339(common::FromUnix(issued.not_after));
  out["hub_id"] = config_.hub_id;
  out["agent_url"] = agent_url;
  out["broker_sign_public_key"] = sign_key_b64_;
  out["broker_enc_public_key"] = enc_key_b64_;
  out["audit_public_key"] = audit_key_b64_;
  out["renew_window_s"] = config_.enrolment->renew_window.count();
  return out;
}

Result<nlohmann::json> EnrolmentAuthority::Renew(const nlohmann::json& body) {
  if (!enabled()) return FailedPrecondition("enrolment is not configured");
  const Status generic = Unauthenticated("renewal refused");
  if (!body.is_object() || body.size() != 4) return InvalidArgument("malformed renewal request");
  const auto* agency_field = StringField(body, "agency", 64);
  const auto* csr_field = StringField(body, "csr", kMaxRequestPemBytes);
  const auto* sig_field = StringField(body, "signature", 128);
  const auto ts_it = body.find("timestamp");
  if (agency_field == nullptr || csr_field == nullptr || sig_field == nullptr ||
      ts_it == body.end() || !ts_it->is_number_integer()) {
    return InvalidArgument("malformed renewal request");
  }
  const std::string agency = *agency_field;
  const std::string csr = *csr_field;
  const int64_t timestamp = ts_it->get<int64_t>();
  const auto signature = common::Base64Decode(sig_field->get<std::string>());
  if (!ValidId(agency) || !signature || signature->size() != crypto::kSignatureSize) {
    return InvalidArgument("malformed renewal request");
  }
  const int64_t now = clock_.NowUnix();
  const RegisteredAgency* reg = courier_->FindAgency(agency);
  if (reg == nullptr) {
    Refuse("renew", "unknown agency", agency);
    return generic;
  }
  if (!crypto::VerifySignature(
           reg->sign, common::AsBytes(crypto::RenewalMessage(agency, timestamp, csr)), *signature)
           .ok()) {
    Refuse("renew", "signature does not verify", agency);
    return generic;
  }
  if (timestamp < now - kRenewMaxSkewSeconds || timestamp > now + kRenewMaxSkewSeconds) {
    Refuse("renew", "timestamp outside the allowed skew", agency);
    return generic;
  }
  std::string refusal;
  crypto::IssuedCertificate issued;
  const Status done = db_->InTransaction([&]() -> Status {
    MASH_ASSIGN_OR_RETURN(auto get,
                          db_->Prepare("SELECT renewed_at FROM enrolled_agency WHERE id = ?"));
    get.Bind(1, agency);
    MASH_ASSIGN_OR_RETURN(const bool row, get.Step());
    if (!row) {
      refusal = "agency is not enrolled (broker.toml agencies renew through the PKI operator)";
      return generic;
    }
    // Each renewal must be signed later than the last one: a captured request cannot be
    // replayed to undo a renewal or to mint a second certificate for an old key.
    if (timestamp <= get.ColumnInt(0)) {
      refusal = "timestamp not newer than the last renewal";
      return generic;
    }
    auto cert =
        ca_->IssueAgencyCertificate(csr, agency, now, config_.enrolment->certificate_lifetime);
    if (!cert.ok()) {
      refusal = cert.status().message();
      return cert.status().code() == StatusCode::kInvalidArgument
                 ? InvalidArgument("the certificate request is not acceptable")
                 : cert.status();
    }
    issued = std::move(*cert);
    MASH_ASSIGN_OR_RETURN(auto put,
                          db_->Prepare("UPDATE enrolled_agency SET cert_serial = ?, "
                                       "cert_fingerprint = ?, cert_not_after = ?, renewed_at = ? "
                                       "WHERE id = ?"));
    put.Bind(1, issued.serial_hex).Bind(2, issued.fingerprint).Bind(3, issued.not_after);
    put.Bind(4, timestamp).Bind(5, agency);
    return put.Run();
  });
  if (!done.ok()) {
    if (!refusal.empty()) Refuse("renew", refusal, agency);
    return done;
  }
  common::LogInfo(
      "enrolment.renewed",
      {{"agency", agency}, {"serial", issued.serial_hex}, {"not_after", issued.not_after}});
  Record(agency, "agent:" + agency,
         "certificate renewed; serial " + issued.serial_hex + " " + issued.fingerprint);
  MASH_ASSIGN_OR_RETURN(nlohmann::json out, TrustMaterial());
  out["agency"] = agency;
  out["certificate_chain"] = issued.chain_pem;
  out["not_after"] = common::FormatRfc3339(common::FromUnix(issued.not_after));
  out["renew_window_s"] = config_.enrolment->renew_window.count();
  return out;
}

}  // namespace mash::broker
