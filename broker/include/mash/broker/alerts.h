// The IG alert queue (DESIGN §2, docs/workflow.md): what an IG officer or DPO should look at in
// how the hub is used, each alert with a status they move along with a note.
//
// Kinds of alert (each concerns one member of staff, never a check's subject):
//   - override: a check raised without consent (an override ground). One per check.
//   - out_of_hours: a check raised, or a result viewed, outside the hub's working hours (the
//     calendar of [deadlines]; none when it is round the clock, or with [alerts] out_of_hours
//     off). One per check and action while an earlier one for the same person is not closed.
//   - unusual_volume: one person raised more than volume_checks checks, or viewed more than
//     volume_views results, within volume_window. One per person and measure per window, however
//     many more follow. The counts are kept in memory: at start the raising counts are rebuilt
//     from the checks held, the viewing counts start again from zero, and the window of each
//     person's last volume alert is taken from the stored alerts (so a restart does not repeat
//     one).
//
// Statuses: new -> under_review | escalated | closed; under_review -> escalated | closed;
// escalated -> under_review | closed; closed is final. Each change is made by an ig_officer or
// dpo, with a note (required to close or escalate: 10 to 2000 characters; optional, but 10 to
// 2000 when given, to take under review), and is recorded in the audit trail before it is
// answered (alert_status_changed; alert_acknowledged for a close). Raising an alert is recorded
// too (alert_raised, with the person it concerns).
//
// Alerts are kept in AlertStore (the broker's database) and loaded at start.
//
// Thread safety: used on the broker's io thread only, like CheckService (audit callbacks are
// posted back to it and hold only a weak reference).
#pragma once

#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "mash/audit/sink.h"
#include "mash/broker/alert_store.h"
#include "mash/broker/config.h"
#include "mash/broker/staff.h"
#include "mash/common/clock.h"

namespace mash::broker {

inline constexpr std::array<std::string_view, 3> kAlertKinds = {"override", "out_of_hours",
                                                                "unusual_volume"};
inline constexpr std::array<std::string_view, 4> kAlertStatuses = {"new", "under_review",
                                                                   "escalated", "closed"};

// What List shows: the statuses and kinds asked for; empty statuses means every status but
// closed, empty kinds every kind.
struct AlertFilter {
  std::set<std::string> statuses;
  std::set<std::string> kinds;
};

struct AlertQueueOptions {
  AlertSettings settings;
  // Whether `t` is in the hub's working hours; unset: always (no out-of-hours alerts).
  std::function<bool(common::TimePoint)> is_working;
  // Where alerts are kept; null keeps them in memory only (a broker always has one).
  AlertStore* store = nullptr;
};

class AlertQueue {
 public:
  using Post = std::function<void(std::function<void()>)>;
  // The alert as JSON, or the error (as CheckService::Done).
  using Done = std::function<void(Result<nlohmann::json>)>;
  // What the queue shows of an override's check (its ground, justification, authorisation and
  // state; never the subject), or nullopt when the check is no longer held (purged).
  using CheckDetails = std::function<std::optional<nlohmann::json>(const std::string& check_id)>;

  AlertQueue(const common::Clock& clock, common::RandomSource& random, audit::AuditSink& audit,
             Post post, AlertQueueOptions options);
  ~AlertQueue();
  AlertQueue(const AlertQueue&) = delete;
  AlertQueue& operator=(const AlertQueue&) = delete;

  // Loads the stored alerts (at start, before CheckService::Load). DataLoss when one does not
  // parse.
  Status Load();
  void SetCheckDetails(CheckDetails details) { check_details_ = std::move(details); }
  // The audit event context of a check (subjects' pseudonyms, purpose, lawful basis, consent or
  // override ground, policy version), which every event about an alert of that check carries
  // like the check's own events; nullopt when the check is not held.
  using CheckEvent = std::function<std::optional<audit::AuditEvent>(const std::string& check_id)>;
  void SetCheckEvent(CheckEvent event) { check_event_ = std::move(event); }

  // What the check service reports, once the event it is about has committed.
  // A check was raised by `staff` at `at` (override: without consent).
  void OnCheckRaised(const Staff& staff, const std::string& check_id, bool override,
                     const std::string& summary, common::TimePoint at);
  // `staff` was shown check `check_id` at `at`.
  void OnResultViewed(const Staff& staff, const std::string& check_id, common::TimePoint at);
  // At start, for each check held: counts its raising towards its person's volume (no alert is
  // raised for what happened before the start); an override check without an override alert
  // gets one (a database from before alerts were kept): new, or closed with the acknowledgement
  // the check recorded (`ack_by` not empty).
  void OnCheckLoaded(const Staff& raised_by, const std::string& check_id, bool override,
                     const std::string& summary, common::TimePoint raised_at,
                     const std::string& ack_by, const std::string& ack_note,
                     common::TimePoint ack_at);

  // The alerts `filter` asks for, newest first. PermissionDenied (recorded) for a role other
  // than ig_officer or dpo; InvalidArgument for an unknown status or kind.
  Result<nlohmann::json> List(const Staff& staff, const AlertFilter& filter);
  // One alert with its history. PermissionDenied (recorded) as List; NotFound.
  Result<nlohmann::json> Get(const Staff& staff, const std::string& id);
  // Moves alert `id` to `status` with `note`; `done` gets the alert once the change committed.
  // Errors: PermissionDenied (the refusal committed first) for a role other than ig_officer or
  // dpo; NotFound; InvalidArgument naming the field (/status, /note); FailedPrecondition when
  // the alert's status does not allow the change or another change is being recorded;
  // Unavailable when the log cannot record it (nothing changed).
  void ChangeStatus(const std::string& id, const Staff& staff, const std::string& status,
                    const std::string& note, Done done);
  // The old acknowledgement (POST /api/v1/alerts/{id}/acknowledgement): closes alert `id`, or
  // the override alert of check `id`, with `note`. Errors as ChangeStatus.
  void Acknowledge(const std::string& id, const Staff& staff, const std::string& note, Done done);

  // How many alerts are new (for the console's navigation).
  size_t CountNew() const;
  // How many alerts are open (not closed), by kind (for the ops metrics).
  std::map<std::string, size_t> CountOpenByKind() const;
  // The id of the override alert of `check_id`, if there is one.
  std::optional<std::string> OverrideAlertOf(const std::string& check_id) const;

 private:
  struct Change {
    common::TimePoint at{};
    std::string by;
    std::string role;
    std::string from;
    std::string to;
    std::string note;
  };
  struct Alert {
    std::string id;
    std::string kind;
    std::string status = "new";
    common::TimePoint created_at{};
    common::TimePoint updated_at{};
    std::string check_id;
    Staff person;
    std::string summary;
    nlohmann::json detail = nlohmann::json::object();
    std::vector<Change> history;
    bool changing = false;  // a status change is being recorded
  };
  // Per person: when they raised checks and viewed results within the window, and when each
  // measure last raised an alert.
  struct Volume {
    std::deque<common::TimePoint> raised;
    std::deque<common::TimePoint> viewed;
    common::TimePoint raised_alert_at{};
    common::TimePoint viewed_alert_at{};
  };

  // Makes, keeps and records (alert_raised, not waited for) a new alert.
  void Raise(Alert alert);
  // Whether `at` is outside the hub's working hours (and out-of-hours alerts are on).
  bool OutOfHours(common::TimePoint at) const;
  // An out_of_hours alert for `staff` having `action` ("raised" or "viewed") check `check_id`.
  void RaiseOutOfHours(const Staff& staff, const std::string& check_id, const std::string& action,
                       common::TimePoint at);
  void CountVolume(const Staff& staff, bool viewed, common::TimePoint at, bool may_alert);
  bool HasOpen(const std::string& kind, const std::string& user, const std::string& check_id,
               const std::string& action) const;
  Status Save(const Alert& alert);
  nlohmann::json ToJson(const Alert& alert) const;
  static StoredAlert ToRow(const Alert& alert);
  static Result<Alert> FromRow(const StoredAlert& row);
  static bool MayWork(const Staff& staff);
  void RecordRefusal(const Staff& staff, const std::string& check_id, std::string_view detail);
  // An event of `type` by `who` about `check_id` (with the check's context when it is held).
  audit::AuditEvent EventFor(audit::EventType type, const Staff& who,
                             const std::string& check_id) const;
  void AppendUnwaited(audit::AuditEvent event);

  const common::Clock& clock_;
  common::RandomSource& random_;
  audit::AuditSink& audit_;
  Post post_;
  AlertQueueOptions options_;
  CheckDetails check_details_;
  CheckEvent check_event_;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);
  std::map<std::string, Alert> alerts_;
  std::map<std::string, Volume> volume_;  // by user
};

}  // namespace mash::broker
