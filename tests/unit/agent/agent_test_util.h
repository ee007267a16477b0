// Shared set-up for the agent tests: a temporary directory with the hub's and the police
// agency's real keys, the hub's audit checkpoint key, a SQLCipher database key, a fake clock and
// a deterministic random source; helpers that seal queries and receipts as the broker would,
// open answers as the broker would, and run a real audit log that signs as the hub.
#pragma once

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>

#include "mash/agent/config.h"
#include "mash/agent/responder.h"
#include "mash/audit/log.h"
#include "mash/common/clock.h"
#include "mash/common/encoding.h"
#include "mash/common/log.h"
#include "mash/crypto/envelope.h"
#include "mash/crypto/keys.h"
#include "mash/schemas/messages.h"
#include "mash/storage/database.h"
#include "support/temp_dir.h"

namespace mash::agent::testing {

inline const std::filesystem::path kSource = MASH_SOURCE_DIR;
inline std::filesystem::path ExamplePolicy(const std::string& name) {
  return kSource / "examples" / "policies" / name;
}
inline std::filesystem::path ExampleRecords(const std::string& agency) {
  return kSource / "examples" / "records" / (agency + ".json");
}
// 2026-11-22T10:00:00Z, the time the example policies' tests use.
inline constexpr int64_t kStart = 1795341600;

// The tables of a police agent.toml that the config tests do not vary: [agency], [broker],
// [tls], [keys] and [storage].
inline std::string AgentTomlHead() {
  return std::string(R"([agency]
id = "police"
name = "Northshire Police"
type = "police"

[broker]
url = "wss://localhost:8443/agent/v1"
sign_public_key = "keys/hub.sign.pub"
enc_public_key = "keys/hub.enc.pub"

[tls]
ca = "root.pem"
crls = ["root.crl"]
cert = "police.pem"
key = "police.key"
ca_pin = "sha256:)") +
         std::string(64, 'a') + R"("

[keys]
sign = "keys/police.sign.key"
enc = "keys/police.enc.key"

[storage]
database = "police.db"
key = "keys/police.db.key"
)";
}

// The broker's view of an answer: accepts every id (replay is the agent's concern here).
class AcceptAll final : public crypto::ReplayGuard {
 public:
  Status CheckAndRecord(const std::string&, const std::string&, uint64_t, int64_t) override {
    return Status::Ok();
  }
};

struct OpenedAnswer {
  crypto::SealedEnvelope envelope;
  crypto::EnvelopeHeader header;
  schemas::AnswerBody body;
  std::string hash_hex;
};

// What the header of a query says about why it is asked.
struct Why {
  std::string purpose = "child-protection-s47";
  std::string lawful_basis = "uk-gdpr-6-1-e";
  std::string consent = "given";
  std::string urgency = "amber";
};

class AgentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    common::InitCrypto();
    keys_ = dir_ / "keys";
    std::filesystem::create_directories(keys_);
    ASSERT_TRUE(crypto::GenerateKeyPairFiles(keys_, "hub").ok());
    ASSERT_TRUE(crypto::GenerateKeyPairFiles(keys_, "police").ok());
    for (const char* name : {"police.db.key", "audit.db.key"}) {
      ASSERT_TRUE(crypto::WriteKeyFile(keys_ / name, crypto::KeyKind::kDatabaseKey,
                                       crypto::GenerateSymmetricKey().span())
                      .ok());
    }
    audit_key_ = std::make_shared<crypto::SigningKey>(crypto::SigningKey::Generate());
    ASSERT_TRUE(crypto::WriteKeyFile(keys_ / "hub.audit.pub", crypto::KeyKind::kSigningPublic,
                                     audit_key_->Public().bytes)
                    .ok());
    auto sign = crypto::LoadSigningKey(keys_ / "hub.sign.key");
    auto enc = crypto::LoadEncryptionKey(keys_ / "hub.enc.key");
    ASSERT_TRUE(sign.ok() && enc.ok());
    hub_sign_.emplace(std::move(sign).value());
    hub_enc_.emplace(std::move(enc).value());
    police_sign_pub_ = *crypto::LoadSigningPublicKey(keys_ / "police.sign.pub");
    police_enc_pub_ = *crypto::LoadEncryptionPublicKey(keys_ / "police.enc.pub");
  }

  AgentConfig Config() const {
    AgentConfig c;
    c.agency_id = "police";
    c.agency_name = "Northshire Police";
    c.agency_type = "police";
    c.hub_id = "hub";
    c.broker_sign_public_key = keys_ / "hub.sign.pub";
    c.broker_enc_public_key = keys_ / "hub.enc.pub";
    c.sign_key = keys_ / "police.sign.key";
    c.enc_key = keys_ / "police.enc.key";
    c.database = dir_ / "police.db";
    c.database_key = keys_ / "police.db.key";
    c.records_fixture = ExampleRecords("police");
    c.policy.file = ExamplePolicy("police-disclosure.toml");
    c.audit_log_public_key = keys_ / "hub.audit.pub";
    return c;
  }

  std::unique_ptr<Responder> MakeResponder(const AgentConfig& c) {
    auto r = Responder::Create(c, *clock_, random_);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? std::move(r).value() : nullptr;
  }
  std::unique_ptr<Responder> MakeResponder() { return MakeResponder(Config()); }

  crypto::EnvelopeHeader HubHeader(const std::string& type, const std::string& check_ref) {
    crypto::EnvelopeHeader h;
    h.type = type;
    h.id = random_.Hex(16);
    h.sender = "hub";
    h.sender_key = hub_sign_->Public().Fingerprint();
    h.recipient = "police";
    h.recipient_key = police_enc_pub_.Fingerprint();
    h.issued_at = clock_->NowUnix();
    h.expires_at = h.issued_at + 120;
    h.sequence = ++hub_sequence_;
    h.check_ref = check_ref;
    return h;
  }

  crypto::SealedEnvelope Query(int level, const Why& why = {},
                               std::vector<std::string> categories = {},
                               std::string nhs_number = "9434765919") {
    schemas::QueryBody q;
    q.query_id = random_.Hex(16);
    q.level = level;
    q.subject.identifiers["nhs_number"] = nhs_number;
    q.categories = std::move(categories);
    crypto::EnvelopeHeader h = HubHeader("query", random_.Hex(16));
    h.purpose = why.purpose;
    h.lawful_basis = why.lawful_basis;
    h.consent = why.consent;
    h.urgency = why.urgency;
    const std::string body = q.ToJson().dump();
    auto sealed = crypto::Seal(h, common::AsBytes(body), *hub_sign_, police_enc_pub_, random_);
    EXPECT_TRUE(sealed.ok());
    return *sealed;
  }

  // Opens an answer frame as the broker would.
  OpenedAnswer OpenAnswer(const std::string& frame_text) {
    auto frame = schemas::ParseFrame(frame_text);
    EXPECT_TRUE(frame.ok()) << frame.status().ToString();
    EXPECT_EQ(frame->type, schemas::MessageType::kAnswer);
    OpenedAnswer out;
    out.envelope = *crypto::SealedEnvelope::FromJson(frame->doc.at("envelope"));
    AcceptAll replay;
    crypto::OpenExpectations expect{"police", &police_sign_pub_, "hub", &*hub_enc_,
                                    clock_->NowUnix()};
    auto opened = crypto::Open(out.envelope, expect, replay);
    EXPECT_TRUE(opened.ok()) << opened.status().ToString();
    out.header = opened->header;
    auto body = schemas::AnswerBody::Parse(common::AsString(opened->plaintext.span()));
    EXPECT_TRUE(body.ok()) << body.status().ToString();
    out.body = *body;
    out.hash_hex = common::HexEncode(out.envelope.Hash());
    return out;
  }

  OpenedAnswer Ask(Responder& r, int level, const Why& why = {},
                   std::vector<std::string> categories = {}) {
    auto frame = r.Answer(Query(level, why, std::move(categories)));
    EXPECT_TRUE(frame.ok()) << frame.status().ToString();
    return frame.ok() ? OpenAnswer(*frame) : OpenedAnswer{};
  }

  // A real audit log signing checkpoints as the hub (origin "hub") in its own database.
  std::unique_ptr<audit::AuditLog> OpenLog(const std::string& name) {
    storage::DatabaseOptions o;
    o.file = dir_ / (name + ".db");
    o.key_file = keys_ / "audit.db.key";
    auto db = storage::Database::Open(o);
    EXPECT_TRUE(db.ok()) << db.status().ToString();
    audit::AuditLogOptions options;
    options.origin = "hub";
    options.checkpoint_every_events = 4;
    auto log = audit::AuditLog::Open(std::move(*db), audit_key_, clock_, options);
    EXPECT_TRUE(log.ok()) << log.status().ToString();
    return log.ok() ? std::move(log).value() : nullptr;
  }

  static audit::AuditEvent Filler(const std::string& tag) {
    audit::AuditEvent e;
    e.type = audit::EventType::kQuerySent;
    e.person = "hub";
    e.role = "agent";
    e.organisation = "hub";
    e.agency = "health";
    e.check_ref = "filler-" + tag;
    e.purpose = "child-protection-s47";
    return e;
  }
  void AppendFillers(audit::AuditLog& log, int n, const std::string& tag = "a") {
    for (int i = 0; i < n; ++i) {
      ASSERT_TRUE(log.AppendAndWait(Filler(tag + std::to_string(i))).ok());
    }
  }

  // The welcome the broker sends, showing `log`'s newest seal with a consistency proof from
  // `held_size` (0: none).
  schemas::Welcome Welcome(audit::AuditLog* log, uint64_t held_size = 0) {
    schemas::Welcome w;
    w.hub = "hub";
    w.sign_key = hub_sign_->Public().Fingerprint();
    w.enc_key = hub_enc_->Public().Fingerprint();
    if (log != nullptr) {
      schemas::WelcomeAudit a;
      a.checkpoint = log->LatestSeal()->text;
      if (held_size > 0 && held_size < log->Size()) {
        a.consistency_from = static_cast<int64_t>(held_size);
        auto proof = log->ConsistencyProof(held_size, log->Size());
        EXPECT_TRUE(proof.ok());
        for (const auto& h : *proof) a.consistency_proof.push_back(common::Base64Encode(h));
      }
      w.audit = a;
    }
    return w;
  }

  // The answer_received event the broker logs for `answer`, committed to `log`; returns the
  // committed event (with its sequence number and time) for the receipt.
  audit::AuditEvent LogAnswer(audit::AuditLog& log, const OpenedAnswer& answer) {
    audit::AuditEvent e;
    e.type = audit::EventType::kAnswerReceived;
    e.person = "police";
    e.role = "agent";
    e.organisation = "police";
    e.agency = "police";
    e.check_ref = answer.header.check_ref;
    e.purpose = answer.header.purpose;
    e.policy_version = answer.body.policy_version;
    e.envelope_hashes = {*common::HexDecode(answer.hash_hex)};
    auto seq = log.AppendAndWait(e);
    EXPECT_TRUE(seq.ok()) << seq.status().ToString();
    e.seq = *seq;
    e.time_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(clock_->Now().time_since_epoch())
            .count();
    return e;
  }

  schemas::ReceiptBody ReceiptFor(audit::AuditLog& log, const OpenedAnswer& answer,
                                  const audit::AuditEvent& event, uint64_t held_size) {
    auto receipt = log.MakeReceipt(event.seq, held_size);
    EXPECT_TRUE(receipt.ok()) << receipt.status().ToString();
    auto encoded = audit::EncodeEvent(event);
    EXPECT_TRUE(encoded.ok());
    // The event as reconstructed here is the one the log committed.
    EXPECT_EQ(audit::HashLeaf(*encoded), receipt->leaf_hash);
    schemas::ReceiptBody body;
    body.answer_id = answer.header.id;
    body.answer_hash = answer.hash_hex;
    body.event = common::Base64Encode(*encoded);
    body.receipt = receipt->ToJson();
    return body;
  }

  crypto::SealedEnvelope SealReceipt(const schemas::ReceiptBody& body,
                                     const std::string& check_ref) {
    crypto::EnvelopeHeader h = HubHeader("receipt", check_ref);
    const std::string text = body.ToJson().dump();
    auto sealed = crypto::Seal(h, common::AsBytes(text), *hub_sign_, police_enc_pub_, random_);
    EXPECT_TRUE(sealed.ok());
    return *sealed;
  }

  static void WriteFile(const std::filesystem::path& p, const std::string& text) {
    std::ofstream out(p, std::ios::binary);
    out << text;
  }
  static std::string ReadFile(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }

  mash::testing::TempDir dir_{"mash-agent-test"};
  std::filesystem::path keys_;
  std::shared_ptr<common::FakeClock> clock_ =
      std::make_shared<common::FakeClock>(common::FromUnix(kStart));
  common::DeterministicRandom random_{42};
  uint64_t hub_sequence_ = 0;
  std::shared_ptr<crypto::SigningKey> audit_key_;
  std::optional<crypto::SigningKey> hub_sign_;
  std::optional<crypto::EncryptionKey> hub_enc_;
  crypto::SigningPublicKey police_sign_pub_;
  crypto::EncryptionPublicKey police_enc_pub_;
};

// Captures every log line while alive; the logger drops the sink when it goes (declare it
// first, so that it outlives whatever logs).
class LogCapture {
 public:
  LogCapture() {
    common::InitLogging({"test", common::LogLevel::kDebug, false, std::nullopt});
    common::AddLogSink(std::make_shared<spdlog::sinks::ostream_sink_mt>(stream_));
  }
  ~LogCapture() { common::InitLogging({"test", common::LogLevel::kInfo, false, std::nullopt}); }
  std::string Text() {
    spdlog::default_logger()->flush();
    return stream_.str();
  }

 private:
  std::ostringstream stream_;
};

inline const schemas::CategoryAnswer* Find(const schemas::AnswerBody& a, const std::string& name) {
  for (const auto& c : a.categories) {
    if (c.category == name) return &c;
  }
  return nullptr;
}

}  // namespace mash::agent::testing
