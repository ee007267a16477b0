// Agency checks at the hub: raise a check, send a sealed query to each agency, correlate the
// signed answers, and report each agency's part with its state and timing.
//
// This is the thin first cut of the workflow (DESIGN §4): checks live in memory; staff
// accounts, authorisation of overrides, deadlines by urgency, decisions and retention come with
// the workflow issue. Queries to an agency that is offline wait and go out when it connects,
// as long as the check has not expired.
//
// Thread safety: used on the broker's io thread only.
#pragma once

#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "mash/broker/agent_hub.h"
#include "mash/broker/courier.h"
#include "mash/common/clock.h"
#include "mash/schemas/messages.h"

namespace mash::broker {

struct RaiseRequest {
  schemas::Person subject;
  std::vector<schemas::Person> household;
  std::string purpose;
  std::string lawful_basis;
  std::string consent_state;  // given | refused | not_sought | withdrawn
  std::string evidence_ref;
  std::string override_ground;
  std::string justification;
  std::string urgency;  // red | amber | green
  int level = 1;
  std::vector<std::string> agencies;
  std::vector<std::string> categories;

  // Validates against schemas/api/check-request.schema.json plus the rules a schema cannot say
  // (consent given needs an evidence reference; no consent needs an override ground and a
  // justification). InvalidArgument naming the field.
  static Result<RaiseRequest> FromJson(const nlohmann::json& body);
  // The consent field of the envelope header: the state, or "override:<ground>".
  std::string ConsentTag() const;
};

class CheckService final : public AgentEvents {
 public:
  // Checks kept in memory (until the workflow issue stores them): the oldest finished ones are
  // dropped first, and raising is refused when every slot holds an open check.
  static constexpr size_t kMaxChecks = 10000;
  static constexpr std::chrono::hours kKeepFinished{24};

  // `max_in_flight`: queries handed to one agency's connection and not yet written; the rest wait
  // in order, so that a backlog never overflows the connection's queue (keep it below the
  // hub's max_queue).
  CheckService(Courier& courier, const common::Clock& clock, common::RandomSource& random,
               std::chrono::seconds query_lifetime, int max_in_flight);

  void AttachHub(std::shared_ptr<AgentHub> hub) { hub_ = std::move(hub); }

  // Returns the new check id (32 hex). Errors: InvalidArgument for an agency that is not
  // registered; Unavailable when sealing fails (nothing is sent for this check then).
  Result<std::string> Raise(const RaiseRequest& request, const std::string& raised_by);
  // The check as JSON for the API. NotFound for an unknown id.
  Result<nlohmann::json> Show(const std::string& id) const;
  // Registered agencies and whether each is online.
  nlohmann::json Agencies() const;
  // Marks parts whose query expired without an answer. Called periodically.
  void Sweep();

  // AgentEvents
  void OnAgentOnline(const std::string& agency) override;
  void OnAgentOffline(const std::string& agency) override;
  void OnSessionClosed(const std::string& agency, uint64_t session) override;
  Status OnAnswer(const std::string& agency, const crypto::SealedEnvelope& envelope) override;

 private:
  // kSending: handed to the connection, not yet written; kSent: written to the socket.
  enum class PartState { kQueued, kSending, kSent, kAnswered, kExpired, kFailed };
  struct Part {
    std::string agency;
    PartState state = PartState::kQueued;
    std::string query_id;
    uint64_t session = 0;         // the connection it was last sent over
    common::TimePoint sent_at{};  // when the query was handed to the connection
    common::TimePoint answered_at{};
    std::optional<schemas::AnswerBody> answer;
  };
  struct Check {
    std::string id;
    RaiseRequest request;
    std::string raised_by;
    common::TimePoint raised_at{};
    common::TimePoint expires_at{};
    std::map<std::string, Part> parts;
  };

  // Sends waiting queries to `agency` while it is online and under its in-flight cap.
  void DispatchWaiting(const std::string& agency);
  // Seals and hands one query to the hub; false when it could not be handed over.
  bool Dispatch(Check& check, Part& part);
  void OnDelivered(const std::string& check_id, const std::string& agency, bool written);
  void DropOldChecks();
  static std::string_view StateName(PartState s);
  static std::string OverallState(const Check& check);

  Courier& courier_;
  const common::Clock& clock_;
  common::RandomSource& random_;
  std::chrono::seconds query_lifetime_;
  int max_in_flight_;
  std::shared_ptr<AgentHub> hub_;
  std::map<std::string, Check> checks_;
  std::map<std::string, std::deque<std::string>> waiting_;  // agency -> check ids, oldest first
  std::map<std::string, int> in_flight_;                    // agency -> parts kSending
};

}  // namespace mash::broker
