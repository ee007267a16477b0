#include "mash/audit/event.h"

#include <array>
#include <cstring>
#include <utility>

namespace mash::audit {
namespace {

struct TypeName {
  EventType type;
  std::string_view name;
};
constexpr std::array<TypeName, 23> kTypeNames = {{
    {EventType::kCheckRaised, "check_raised"},
    {EventType::kCheckAuthorised, "check_authorised"},
    {EventType::kCheckRejected, "check_rejected"},
    {EventType::kQuerySent, "query_sent"},
    {EventType::kAnswerReceived, "answer_received"},
    {EventType::kCategoryDisclosed, "category_disclosed"},
    {EventType::kCategoryWithheld, "category_withheld"},
    {EventType::kCustodianDecision, "custodian_decision"},
    {EventType::kResultViewed, "result_viewed"},
    {EventType::kExported, "exported"},
    {EventType::kMashDecisionRecorded, "mash_decision_recorded"},
    {EventType::kPolicyPublished, "policy_published"},
    {EventType::kUserChanged, "user_changed"},
    {EventType::kKeyChanged, "key_changed"},
    {EventType::kRequestRefused, "request_refused"},
    {EventType::kRequestFailed, "request_failed"},
    {EventType::kRetentionPurge, "retention_purge"},
    {EventType::kReviewPending, "review_pending"},
    {EventType::kAgencyChased, "agency_chased"},
    {EventType::kDeadlineBreached, "deadline_breached"},
    {EventType::kAlertAcknowledged, "alert_acknowledged"},
    {EventType::kAlertRaised, "alert_raised"},
    {EventType::kAlertStatusChanged, "alert_status_changed"},
}};

struct OutcomeNameEntry {
  Outcome outcome;
  std::string_view name;
};
constexpr std::array<OutcomeNameEntry, 6> kOutcomeNames = {{
    {Outcome::kOk, "ok"},
    {Outcome::kRefused, "refused"},
    {Outcome::kFailed, "failed"},
    {Outcome::kRejected, "rejected"},
    {Outcome::kWithheld, "withheld"},
    {Outcome::kPartial, "partial"},
}};

class Writer {
 public:
  void U8(uint8_t v) { out_.push_back(v); }
  void U32(uint32_t v) {
    for (int i = 3; i >= 0; --i) out_.push_back(static_cast<uint8_t>(v >> (8 * i)));
  }
  void U64(uint64_t v) {
    for (int i = 7; i >= 0; --i) out_.push_back(static_cast<uint8_t>(v >> (8 * i)));
  }
  void Str(std::string_view s) {
    U32(static_cast<uint32_t>(s.size()));
    out_.insert(out_.end(), s.begin(), s.end());
  }
  void Blob(std::span<const uint8_t> b) {
    U32(static_cast<uint32_t>(b.size()));
    out_.insert(out_.end(), b.begin(), b.end());
  }
  Bytes Take() { return std::move(out_); }

 private:
  Bytes out_;
};

class Reader {
 public:
  explicit Reader(std::span<const uint8_t> in) : in_(in) {}
  bool U8(uint8_t* v) {
    if (pos_ + 1 > in_.size()) return false;
    *v = in_[pos_++];
    return true;
  }
  bool U32(uint32_t* v) {
    if (in_.size() - pos_ < 4) return false;
    *v = 0;
    for (int i = 0; i < 4; ++i) *v = (*v << 8) | in_[pos_++];
    return true;
  }
  bool U64(uint64_t* v) {
    if (in_.size() - pos_ < 8) return false;
    *v = 0;
    for (int i = 0; i < 8; ++i) *v = (*v << 8) | in_[pos_++];
    return true;
  }
  bool Str(std::string* s) {
    uint32_t n = 0;
    if (!U32(&n) || n > kMaxFieldBytes || in_.size() - pos_ < n) return false;
    s->assign(reinterpret_cast<const char*>(in_.data() + pos_), n);
    pos_ += n;
    return true;
  }
  bool Blob(Bytes* b) {
    uint32_t n = 0;
    if (!U32(&n) || n > kMaxFieldBytes || in_.size() - pos_ < n) return false;
    b->assign(in_.begin() + static_cast<std::ptrdiff_t>(pos_),
              in_.begin() + static_cast<std::ptrdiff_t>(pos_ + n));
    pos_ += n;
    return true;
  }
  bool Count(uint32_t* n) { return U32(n) && *n <= kMaxListItems; }
  bool AtEnd() const { return pos_ == in_.size(); }

 private:
  std::span<const uint8_t> in_;
  size_t pos_ = 0;
};

// Printable ASCII or UTF-8 without control characters: the fields are codes and references,
// and keeping control characters out keeps CSV and terminal output safe.
bool ValidText(std::string_view s) {
  if (s.size() > kMaxFieldBytes) return false;
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) return false;
  }
  return true;
}

Status Field(bool ok, std::string_view name) {
  if (ok) return Status::Ok();
  return InvalidArgument("audit event field '" + std::string(name) + "' is invalid");
}

}  // namespace

std::string_view EventTypeName(EventType t) {
  for (const auto& e : kTypeNames) {
    if (e.type == t) return e.name;
  }
  return "unknown";
}

std::optional<EventType> ParseEventType(std::string_view name) {
  for (const auto& e : kTypeNames) {
    if (e.name == name) return e.type;
  }
  return std::nullopt;
}

const std::vector<EventType>& AllEventTypes() {
  static const std::vector<EventType> all = [] {
    std::vector<EventType> v;
    for (const auto& e : kTypeNames) v.push_back(e.type);
    return v;
  }();
  return all;
}

std::string_view OutcomeName(Outcome o) {
  for (const auto& e : kOutcomeNames) {
    if (e.outcome == o) return e.name;
  }
  return "unknown";
}

std::optional<Outcome> ParseOutcome(std::string_view name) {
  for (const auto& e : kOutcomeNames) {
    if (e.name == name) return e.outcome;
  }
  return std::nullopt;
}

Status ValidateEvent(const AuditEvent& e) {
  MASH_RETURN_IF_ERROR(Field(ParseEventType(EventTypeName(e.type)).has_value(), "type"));
  MASH_RETURN_IF_ERROR(Field(ParseOutcome(OutcomeName(e.outcome)).has_value(), "outcome"));
  const std::pair<std::string_view, const std::string*> texts[] = {
      {"person", &e.person},
      {"role", &e.role},
      {"organisation", &e.organisation},
      {"agency", &e.agency},
      {"check_ref", &e.check_ref},
      {"purpose", &e.purpose},
      {"lawful_basis", &e.lawful_basis},
      {"consent", &e.consent},
      {"override_ground", &e.override_ground},
      {"justification_ref", &e.justification_ref},
      {"rule", &e.rule},
      {"policy_version", &e.policy_version},
      {"detail", &e.detail},
  };
  for (const auto& [name, value] : texts) MASH_RETURN_IF_ERROR(Field(ValidText(*value), name));
  MASH_RETURN_IF_ERROR(Field(e.subjects.size() <= kMaxListItems, "subjects"));
  for (const auto& s : e.subjects)
    MASH_RETURN_IF_ERROR(Field(ValidText(s) && !s.empty(), "subjects"));
  MASH_RETURN_IF_ERROR(Field(e.categories.size() <= kMaxListItems, "categories"));
  for (const auto& c : e.categories) {
    MASH_RETURN_IF_ERROR(Field(
        ValidText(c.category) && ValidText(c.disposition) && ValidText(c.reason), "categories"));
  }
  MASH_RETURN_IF_ERROR(Field(e.envelope_hashes.size() <= kMaxListItems, "envelope_hashes"));
  for (const auto& h : e.envelope_hashes) {
    MASH_RETURN_IF_ERROR(Field(h.size() == 32, "envelope_hashes"));
  }
  MASH_RETURN_IF_ERROR(Field(e.level >= -1 && e.level <= 255, "level"));
  return Status::Ok();
}

Result<Bytes> EncodeEvent(const AuditEvent& e) {
  MASH_RETURN_IF_ERROR(ValidateEvent(e));
  return EncodeValidatedEvent(e);
}

Result<Bytes> EncodeValidatedEvent(const AuditEvent& e) {
  Writer w;
  w.U8(kEventEncodingVersion);
  w.U64(e.seq);
  w.U64(static_cast<uint64_t>(e.time_ms));
  w.Str(EventTypeName(e.type));
  w.Str(OutcomeName(e.outcome));
  w.Str(e.person);
  w.Str(e.role);
  w.Str(e.organisation);
  w.Str(e.agency);
  w.U32(static_cast<uint32_t>(e.subjects.size()));
  for (const auto& s : e.subjects) w.Str(s);
  w.Str(e.check_ref);
  w.Str(e.purpose);
  w.Str(e.lawful_basis);
  w.Str(e.consent);
  w.Str(e.override_ground);
  w.Str(e.justification_ref);
  w.U32(static_cast<uint32_t>(e.level));
  w.U32(static_cast<uint32_t>(e.categories.size()));
  for (const auto& c : e.categories) {
    w.Str(c.category);
    w.Str(c.disposition);
    w.Str(c.reason);
  }
  w.Str(e.rule);
  w.Str(e.policy_version);
  w.U32(static_cast<uint32_t>(e.envelope_hashes.size()));
  for (const auto& h : e.envelope_hashes) w.Blob(h);
  w.Str(e.detail);
  Bytes out = w.Take();
  if (out.size() > kMaxEventBytes) return InvalidArgument("audit event too large");
  return out;
}

Result<AuditEvent> DecodeEvent(std::span<const uint8_t> encoded) {
  const Status bad = DataLoss("malformed audit event encoding");
  if (encoded.size() > kMaxEventBytes) return bad;
  Reader r(encoded);
  AuditEvent e;
  uint8_t version = 0;
  if (!r.U8(&version) || version != kEventEncodingVersion) {
    return DataLoss("unknown audit event encoding version");
  }
  uint64_t time = 0;
  std::string type, outcome;
  if (!r.U64(&e.seq) || !r.U64(&time) || !r.Str(&type) || !r.Str(&outcome)) return bad;
  e.time_ms = static_cast<int64_t>(time);
  auto t = ParseEventType(type);
  auto o = ParseOutcome(outcome);
  if (!t || !o) return bad;
  e.type = *t;
  e.outcome = *o;
  if (!r.Str(&e.person) || !r.Str(&e.role) || !r.Str(&e.organisation) || !r.Str(&e.agency)) {
    return bad;
  }
  uint32_t n = 0;
  if (!r.Count(&n)) return bad;
  e.subjects.resize(n);
  for (auto& s : e.subjects) {
    if (!r.Str(&s)) return bad;
  }
  if (!r.Str(&e.check_ref) || !r.Str(&e.purpose) || !r.Str(&e.lawful_basis) || !r.Str(&e.consent) ||
      !r.Str(&e.override_ground) || !r.Str(&e.justification_ref)) {
    return bad;
  }
  uint32_t level = 0;
  if (!r.U32(&level)) return bad;
  e.level = static_cast<int32_t>(level);
  if (!r.Count(&n)) return bad;
  e.categories.resize(n);
  for (auto& c : e.categories) {
    if (!r.Str(&c.category) || !r.Str(&c.disposition) || !r.Str(&c.reason)) return bad;
  }
  if (!r.Str(&e.rule) || !r.Str(&e.policy_version)) return bad;
  if (!r.Count(&n)) return bad;
  e.envelope_hashes.resize(n);
  for (auto& h : e.envelope_hashes) {
    if (!r.Blob(&h)) return bad;
  }
  if (!r.Str(&e.detail) || !r.AtEnd()) return bad;
  // Canonical: only what Encode would produce is accepted.
  if (!ValidateEvent(e).ok()) return bad;
  return e;
}

nlohmann::json EventToJson(const AuditEvent& e) {
  nlohmann::json j;
  j["seq"] = e.seq;
  j["time_ms"] = e.time_ms;
  j["type"] = std::string(EventTypeName(e.type));
  j["outcome"] = std::string(OutcomeName(e.outcome));
  j["person"] = e.person;
  j["role"] = e.role;
  j["organisation"] = e.organisation;
  j["agency"] = e.agency;
  j["subjects"] = e.subjects;
  j["check_ref"] = e.check_ref;
  j["purpose"] = e.purpose;
  j["lawful_basis"] = e.lawful_basis;
  j["consent"] = e.consent;
  j["override_ground"] = e.override_ground;
  j["justification_ref"] = e.justification_ref;
  j["level"] = e.level;
  j["categories"] = nlohmann::json::array();
  for (const auto& c : e.categories) {
    j["categories"].push_back(
        {{"category", c.category}, {"disposition", c.disposition}, {"reason", c.reason}});
  }
  j["rule"] = e.rule;
  j["policy_version"] = e.policy_version;
  j["envelope_hashes"] = nlohmann::json::array();
  for (const auto& h : e.envelope_hashes) j["envelope_hashes"].push_back(common::HexEncode(h));
  j["detail"] = e.detail;
  return j;
}

}  // namespace mash::audit
