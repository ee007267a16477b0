#include "mash/schemas/messages.h"

#include <algorithm>

#include "mash/schemas/validator.h"

namespace mash::schemas {
namespace {

std::optional<MessageType> TypeFromName(std::string_view s) {
  if (s == "hello") return MessageType::kHello;
  if (s == "welcome") return MessageType::kWelcome;
  if (s == "query") return MessageType::kQuery;
  if (s == "answer") return MessageType::kAnswer;
  if (s == "receipt") return MessageType::kReceipt;
  if (s == "ping") return MessageType::kPing;
  if (s == "error") return MessageType::kError;
  if (s == "review_pending") return MessageType::kReviewPending;
  if (s == "chase") return MessageType::kChase;
  return std::nullopt;
}

std::vector<std::string> Strings(const nlohmann::json& j, const char* key) {
  std::vector<std::string> out;
  if (const auto it = j.find(key); it != j.end()) {
    for (const auto& s : *it) out.push_back(s.get<std::string>());
  }
  return out;
}

std::string StringOr(const nlohmann::json& j, const char* key) {
  const auto it = j.find(key);
  return it == j.end() ? std::string() : it->get<std::string>();
}

}  // namespace

std::string_view MessageTypeName(MessageType t) {
  switch (t) {
    case MessageType::kHello:
      return "hello";
    case MessageType::kWelcome:
      return "welcome";
    case MessageType::kQuery:
      return "query";
    case MessageType::kAnswer:
      return "answer";
    case MessageType::kReceipt:
      return "receipt";
    case MessageType::kPing:
      return "ping";
    case MessageType::kError:
      return "error";
    case MessageType::kReviewPending:
      return "review_pending";
    case MessageType::kChase:
      return "chase";
  }
  return "unknown";
}

Result<Frame> ParseFrame(std::string_view text) {
  MASH_ASSIGN_OR_RETURN(nlohmann::json doc, ParseJson(text, kMaxFrameBytes, kMaxJsonDepth));
  if (!doc.is_object()) return InvalidArgument("frame is not a JSON object");
  const auto type_it = doc.find("type");
  if (type_it == doc.end() || !type_it->is_string()) {
    return InvalidArgument("frame has no type");
  }
  const auto type = TypeFromName(type_it->get_ref<const std::string&>());
  if (!type) return InvalidArgument("frame has an unknown type");
  // Schemas are named with hyphens (review-pending), types with underscores (review_pending).
  std::string schema(MessageTypeName(*type));
  std::replace(schema.begin(), schema.end(), '_', '-');
  MASH_RETURN_IF_ERROR(Validate(schema, doc));
  return Frame{*type, std::move(doc)};
}

nlohmann::json Hello::ToJson() const {
  nlohmann::json j = {{"type", "hello"},      {"v", kProtocolVersion}, {"agency", agency},
                      {"versions", versions}, {"sign_key", sign_key},  {"enc_key", enc_key},
                      {"software", software}};
  if (checkpoint) j["checkpoint"] = {{"size", checkpoint->size}, {"root", checkpoint->root}};
  return j;
}

Hello Hello::FromJson(const nlohmann::json& j) {
  Hello h;
  h.agency = j.at("agency").get<std::string>();
  h.versions = j.at("versions").get<std::vector<int>>();
  h.sign_key = j.at("sign_key").get<std::string>();
  h.enc_key = j.at("enc_key").get<std::string>();
  h.software = j.at("software").get<std::string>();
  if (const auto it = j.find("checkpoint"); it != j.end()) {
    h.checkpoint = Checkpoint{it->at("size").get<int64_t>(), it->at("root").get<std::string>()};
  }
  return h;
}

nlohmann::json Welcome::ToJson() const {
  nlohmann::json j = {{"type", "welcome"},
                      {"v", kProtocolVersion},
                      {"version", version},
                      {"hub", hub},
                      {"sign_key", sign_key},
                      {"enc_key", enc_key},
                      {"ping_interval_s", ping_interval_s}};
  if (audit) {
    j["audit"] = {{"checkpoint", audit->checkpoint}};
    if (audit->consistency_from > 0) {
      j["audit"]["consistency"] = {{"from", audit->consistency_from},
                                   {"proof", audit->consistency_proof}};
    }
  }
  return j;
}

Welcome Welcome::FromJson(const nlohmann::json& j) {
  Welcome w;
  w.version = j.at("version").get<int>();
  w.hub = j.at("hub").get<std::string>();
  w.sign_key = j.at("sign_key").get<std::string>();
  w.enc_key = j.at("enc_key").get<std::string>();
  w.ping_interval_s = j.at("ping_interval_s").get<int>();
  if (const auto it = j.find("audit"); it != j.end()) {
    WelcomeAudit a;
    a.checkpoint = it->at("checkpoint").get<std::string>();
    if (const auto c = it->find("consistency"); c != it->end()) {
      a.consistency_from = c->at("from").get<int64_t>();
      a.consistency_proof = Strings(*c, "proof");
    }
    w.audit = std::move(a);
  }
  return w;
}

nlohmann::json Ping::ToJson() const {
  return {{"type", "ping"}, {"v", kProtocolVersion}, {"nonce", nonce}, {"reply", reply}};
}

Ping Ping::FromJson(const nlohmann::json& j) {
  return Ping{j.at("nonce").get<std::string>(), j.at("reply").get<bool>()};
}

nlohmann::json ErrorMessage::ToJson() const {
  nlohmann::json j = {
      {"type", "error"}, {"v", kProtocolVersion}, {"code", code}, {"message", message}};
  if (ref) j["ref"] = *ref;
  return j;
}

ErrorMessage ErrorMessage::FromJson(const nlohmann::json& j) {
  ErrorMessage e;
  e.code = j.at("code").get<std::string>();
  e.message = j.at("message").get<std::string>();
  if (const auto it = j.find("ref"); it != j.end()) e.ref = it->get<std::string>();
  return e;
}

nlohmann::json EnvelopeFrame(MessageType type, nlohmann::json envelope) {
  return {
      {"type", MessageTypeName(type)}, {"v", kProtocolVersion}, {"envelope", std::move(envelope)}};
}

nlohmann::json Person::ToJson() const {
  nlohmann::json j = nlohmann::json::object();
  if (!given_names.empty()) j["given_names"] = given_names;
  if (!family_name.empty()) j["family_name"] = family_name;
  if (!aliases.empty()) j["aliases"] = aliases;
  if (!dob.empty()) j["dob"] = dob;
  if (!sex.empty()) j["sex"] = sex;
  if (!postcodes.empty()) j["postcodes"] = postcodes;
  if (!identifiers.empty()) j["identifiers"] = identifiers;
  return j;
}

Person Person::FromJson(const nlohmann::json& j) {
  Person p;
  p.given_names = StringOr(j, "given_names");
  p.family_name = StringOr(j, "family_name");
  p.aliases = Strings(j, "aliases");
  p.dob = StringOr(j, "dob");
  p.sex = StringOr(j, "sex");
  p.postcodes = Strings(j, "postcodes");
  if (const auto it = j.find("identifiers"); it != j.end()) {
    p.identifiers = it->get<std::map<std::string, std::string>>();
  }
  return p;
}

nlohmann::json QueryBody::ToJson() const {
  nlohmann::json j = {{"query_id", query_id}, {"level", level}, {"subject", subject.ToJson()}};
  if (!household.empty()) {
    j["household"] = nlohmann::json::array();
    for (const auto& p : household) j["household"].push_back(p.ToJson());
  }
  if (!categories.empty()) j["categories"] = categories;
  return j;
}

Result<QueryBody> QueryBody::Parse(std::string_view plaintext) {
  MASH_ASSIGN_OR_RETURN(nlohmann::json j, ParseJson(plaintext, kMaxFrameBytes, kMaxJsonDepth));
  MASH_RETURN_IF_ERROR(Validate("query-body", j));
  QueryBody q;
  q.query_id = j.at("query_id").get<std::string>();
  q.level = j.at("level").get<int>();
  q.subject = Person::FromJson(j.at("subject"));
  if (const auto it = j.find("household"); it != j.end()) {
    for (const auto& p : *it) q.household.push_back(Person::FromJson(p));
  }
  q.categories = Strings(j, "categories");
  return q;
}

nlohmann::json CategoryAnswer::ToJson() const {
  nlohmann::json j = {{"category", category}, {"outcome", outcome}};
  if (!summary.empty()) j["summary"] = summary;
  if (!reason.empty()) j["reason"] = reason;
  if (!records.empty()) j["records"] = records;
  if (!latest.empty()) j["latest"] = latest;
  if (level >= 0) j["level"] = level;
  if (!rule.empty()) j["rule"] = rule;
  if (!redacted.empty()) j["redacted"] = redacted;
  return j;
}

nlohmann::json AnswerBody::ToJson() const {
  nlohmann::json cats = nlohmann::json::array();
  for (const auto& c : categories) cats.push_back(c.ToJson());
  nlohmann::json j = {{"query_id", query_id},
                      {"held", held},
                      {"match", match},
                      {"categories", cats},
                      {"policy_version", policy_version},
                      {"source", source}};
  if (!matched_on.empty()) j["matched_on"] = matched_on;
  if (!household.empty()) {
    nlohmann::json members = nlohmann::json::array();
    for (const auto& h : household) members.push_back(h.ToJson());
    j["household"] = std::move(members);
  }
  return j;
}

nlohmann::json HouseholdAnswer::ToJson() const {
  nlohmann::json j = {{"index", index}, {"held", held}, {"match", match}};
  if (!matched_on.empty()) j["matched_on"] = matched_on;
  return j;
}

Result<AnswerBody> AnswerBody::Parse(std::string_view plaintext) {
  MASH_ASSIGN_OR_RETURN(nlohmann::json j, ParseJson(plaintext, kMaxFrameBytes, kMaxJsonDepth));
  MASH_RETURN_IF_ERROR(Validate("answer-body", j));
  AnswerBody a;
  a.query_id = j.at("query_id").get<std::string>();
  a.held = j.at("held").get<bool>();
  a.match = j.at("match").get<std::string>();
  a.matched_on = Strings(j, "matched_on");
  for (const auto& c : j.at("categories")) {
    CategoryAnswer ca;
    ca.category = c.at("category").get<std::string>();
    ca.outcome = c.at("outcome").get<std::string>();
    ca.summary = StringOr(c, "summary");
    ca.reason = StringOr(c, "reason");
    if (const auto it = c.find("records"); it != c.end()) ca.records = *it;
    ca.latest = StringOr(c, "latest");
    ca.level = c.value("level", -1);
    ca.rule = StringOr(c, "rule");
    ca.redacted = Strings(c, "redacted");
    a.categories.push_back(std::move(ca));
  }
  a.policy_version = j.at("policy_version").get<std::string>();
  a.source = j.at("source").get<std::string>();
  if (const auto it = j.find("household"); it != j.end()) {
    for (const auto& h : *it) {
      HouseholdAnswer m;
      m.index = h.at("index").get<int>();
      m.held = h.at("held").get<bool>();
      m.match = h.at("match").get<std::string>();
      m.matched_on = Strings(h, "matched_on");
      a.household.push_back(std::move(m));
    }
  }
  return a;
}

nlohmann::json ReceiptBody::ToJson() const {
  return {{"answer_id", answer_id},
          {"answer_hash", answer_hash},
          {"event", event},
          {"receipt", receipt}};
}

Result<ReceiptBody> ReceiptBody::Parse(std::string_view plaintext) {
  MASH_ASSIGN_OR_RETURN(nlohmann::json j, ParseJson(plaintext, kMaxFrameBytes, kMaxJsonDepth));
  MASH_RETURN_IF_ERROR(Validate("receipt-body", j));
  ReceiptBody r;
  r.answer_id = j.at("answer_id").get<std::string>();
  r.answer_hash = j.at("answer_hash").get<std::string>();
  r.event = j.at("event").get<std::string>();
  r.receipt = j.at("receipt");
  return r;
}

nlohmann::json ReviewPendingBody::ToJson() const {
  nlohmann::json cats = nlohmann::json::array();
  for (const auto& c : categories) {
    nlohmann::json j = {{"category", c.category}, {"why", c.why}};
    if (!c.rule.empty()) j["rule"] = c.rule;
    cats.push_back(std::move(j));
  }
  return {{"query_id", query_id}, {"categories", cats}, {"policy_version", policy_version}};
}

Result<ReviewPendingBody> ReviewPendingBody::Parse(std::string_view plaintext) {
  MASH_ASSIGN_OR_RETURN(nlohmann::json j, ParseJson(plaintext, kMaxFrameBytes, kMaxJsonDepth));
  MASH_RETURN_IF_ERROR(Validate("review-pending-body", j));
  ReviewPendingBody r;
  r.query_id = j.at("query_id").get<std::string>();
  for (const auto& c : j.at("categories")) {
    r.categories.push_back(
        {c.at("category").get<std::string>(), c.at("why").get<std::string>(), StringOr(c, "rule")});
  }
  r.policy_version = j.at("policy_version").get<std::string>();
  return r;
}

nlohmann::json ChaseBody::ToJson() const {
  return {{"query_id", query_id}, {"deadline", deadline}, {"urgency", urgency}, {"state", state}};
}

Result<ChaseBody> ChaseBody::Parse(std::string_view plaintext) {
  MASH_ASSIGN_OR_RETURN(nlohmann::json j, ParseJson(plaintext, kMaxFrameBytes, kMaxJsonDepth));
  MASH_RETURN_IF_ERROR(Validate("chase-body", j));
  ChaseBody c;
  c.query_id = j.at("query_id").get<std::string>();
  c.deadline = j.at("deadline").get<std::string>();
  c.urgency = j.at("urgency").get<std::string>();
  c.state = j.at("state").get<std::string>();
  return c;
}

}  // namespace mash::schemas
