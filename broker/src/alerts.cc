#include "mash/broker/alerts.h"

#include <algorithm>
#include <regex>

#include "mash/common/log.h"

namespace mash::broker {
namespace {

constexpr size_t kMinNote = 10;
constexpr size_t kMaxNote = 2000;

int64_t Millis(common::TimePoint t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

common::TimePoint FromMillis(int64_t ms) {
  return common::TimePoint(std::chrono::milliseconds(ms));
}

bool Known(std::string_view value, const auto& vocabulary) {
  return std::find(vocabulary.begin(), vocabulary.end(), value) != vocabulary.end();
}

// The changes the workflow allows (docs/workflow.md): closed is final.
bool Allowed(std::string_view from, std::string_view to) {
  if (from == "new") return to == "under_review" || to == "escalated" || to == "closed";
  if (from == "under_review") return to == "escalated" || to == "closed";
  if (from == "escalated") return to == "under_review" || to == "closed";
  return false;
}

bool IsAlertId(const std::string& id) {
  static const std::regex kId("^[0-9a-f]{32}$");
  return std::regex_match(id, kId);
}

}  // namespace

AlertQueue::AlertQueue(const common::Clock& clock, common::RandomSource& random,
                       audit::AuditSink& audit, Post post, AlertQueueOptions options)
    : clock_(clock),
      random_(random),
      audit_(audit),
      post_(std::move(post)),
      options_(std::move(options)) {}

AlertQueue::~AlertQueue() = default;

bool AlertQueue::MayWork(const Staff& staff) {
  return staff.role == "ig_officer" || staff.role == "dpo";
}

Status AlertQueue::Load() {
  if (options_.store == nullptr) return Status::Ok();
  MASH_ASSIGN_OR_RETURN(auto rows, options_.store->LoadAll());
  for (const auto& row : rows) {
    auto alert = FromRow(row);
    if (!alert.ok()) return DataLoss("stored alert " + row.id + ": " + alert.status().message());
    // A restart does not repeat a volume alert within the window of the last one.
    if (alert->kind == "unusual_volume") {
      Volume& v = volume_[alert->person.user];
      auto& last =
          alert->detail.value("measure", "") == "views" ? v.viewed_alert_at : v.raised_alert_at;
      last = std::max(last, alert->created_at);
    }
    alerts_.emplace(alert->id, std::move(*alert));
  }
  common::LogInfo("alerts.loaded", {{"alerts", alerts_.size()}});
  return Status::Ok();
}

void AlertQueue::OnCheckRaised(const Staff& staff, const std::string& check_id, bool override,
                               const std::string& summary, common::TimePoint at) {
  if (override) {
    Alert a;
    a.kind = "override";
    a.check_id = check_id;
    a.person = staff;
    a.summary = summary;
    a.created_at = at;
    Raise(std::move(a));
  }
  if (OutOfHours(at)) RaiseOutOfHours(staff, check_id, "raised", at);
  CountVolume(staff, /*viewed=*/false, at, /*may_alert=*/true);
}

bool AlertQueue::OutOfHours(common::TimePoint at) const {
  return options_.settings.out_of_hours && options_.is_working && !options_.is_working(at);
}

void AlertQueue::RaiseOutOfHours(const Staff& staff, const std::string& check_id,
                                 const std::string& action, common::TimePoint at) {
  Alert a;
  a.kind = "out_of_hours";
  a.check_id = check_id;
  a.person = staff;
  a.summary = action == "raised" ? "Check raised outside working hours"
                                 : "Check result viewed outside working hours";
  a.detail = {{"action", action}};
  a.created_at = at;
  Raise(std::move(a));
}

void AlertQueue::OnResultViewed(const Staff& staff, const std::string& check_id,
                                common::TimePoint at) {
  if (OutOfHours(at) && !HasOpen("out_of_hours", staff.user, check_id, "viewed")) {
    RaiseOutOfHours(staff, check_id, "viewed", at);
  }
  CountVolume(staff, /*viewed=*/true, at, /*may_alert=*/true);
}

void AlertQueue::OnCheckLoaded(const Staff& raised_by, const std::string& check_id, bool override,
                               const std::string& summary, common::TimePoint raised_at,
                               const std::string& ack_by, const std::string& ack_note,
                               common::TimePoint ack_at) {
  CountVolume(raised_by, /*viewed=*/false, raised_at, /*may_alert=*/false);
  if (!override || OverrideAlertOf(check_id)) return;
  Alert a;
  a.kind = "override";
  a.check_id = check_id;
  a.person = raised_by;
  a.summary = summary;
  a.created_at = raised_at;
  a.detail = {{"migrated", true}};
  if (!ack_by.empty()) {
    // Acknowledged before alerts had statuses: closed with the officer's note. Their role was
    // not kept.
    a.status = "closed";
    a.updated_at = ack_at;
    a.history.push_back(Change{ack_at, ack_by, "", "new", "closed", ack_note});
  }
  Raise(std::move(a));
}

void AlertQueue::Raise(Alert alert) {
  alert.id = random_.Hex(16);
  if (alert.updated_at == common::TimePoint{}) alert.updated_at = alert.created_at;
  audit::AuditEvent e = EventFor(audit::EventType::kAlertRaised, alert.person, alert.check_id);
  e.detail = "alert:" + alert.id + " " + alert.kind;
  if (alert.kind == "unusual_volume") e.detail += " " + alert.detail.value("measure", "");
  if (alert.kind == "out_of_hours") e.detail += " " + alert.detail.value("action", "");
  if (alert.detail.value("migrated", false)) e.detail += " migrated";
  // The alert is kept whether or not the log takes its record: an alert must not be lost
  // because the audit store is failing (that failure is logged, and alerts on its own).
  (void)Save(alert);
  nlohmann::json fields = {{"alert", alert.id}, {"kind", alert.kind}};
  if (!alert.check_id.empty()) fields["check"] = alert.check_id;
  common::LogInfo("alert.raised", fields);
  const std::string id = alert.id;
  alerts_.emplace(id, std::move(alert));
  AppendUnwaited(std::move(e));
}

void AlertQueue::CountVolume(const Staff& staff, bool viewed, common::TimePoint at,
                             bool may_alert) {
  const int limit = viewed ? options_.settings.volume_views : options_.settings.volume_checks;
  if (limit <= 0 || staff.user.empty()) return;
  const auto window = options_.settings.volume_window;
  Volume& v = volume_[staff.user];
  auto& times = viewed ? v.viewed : v.raised;
  auto& last_alert = viewed ? v.viewed_alert_at : v.raised_alert_at;
  times.push_back(at);
  while (!times.empty() && times.front() <= at - window) times.pop_front();
  // Never more than the threshold and one kept: the count only needs to pass it.
  while (times.size() > static_cast<size_t>(limit) + 1) times.pop_front();
  if (!may_alert || times.size() <= static_cast<size_t>(limit)) return;
  if (last_alert != common::TimePoint{} && at - last_alert < window) return;
  last_alert = at;
  const auto hours = std::chrono::duration_cast<std::chrono::hours>(window).count();
  Alert a;
  a.kind = "unusual_volume";
  a.person = staff;
  a.created_at = at;
  a.detail = {
      {"measure", viewed ? "views" : "checks"}, {"threshold", limit}, {"window_hours", hours}};
  a.summary = std::string(viewed ? "More than " + std::to_string(limit) + " results viewed"
                                 : "More than " + std::to_string(limit) + " checks raised") +
              " within " + std::to_string(hours) + " hours";
  Raise(std::move(a));
}

bool AlertQueue::HasOpen(const std::string& kind, const std::string& user,
                         const std::string& check_id, const std::string& action) const {
  return std::any_of(alerts_.begin(), alerts_.end(), [&](const auto& entry) {
    const Alert& a = entry.second;
    return a.kind == kind && a.person.user == user && a.check_id == check_id &&
           a.status != "closed" && a.detail.value("action", "") == action;
  });
}

std::optional<std::string> AlertQueue::OverrideAlertOf(const std::string& check_id) const {
  for (const auto& [id, a] : alerts_) {
    if (a.kind == "override" && a.check_id == check_id) return id;
  }
  return std::nullopt;
}

size_t AlertQueue::CountNew() const {
  return static_cast<size_t>(std::count_if(alerts_.begin(), alerts_.end(),
                                           [](const auto& e) { return e.second.status == "new"; }));
}

std::map<std::string, size_t> AlertQueue::CountOpenByKind() const {
  std::map<std::string, size_t> out;
  for (const auto& [_, a] : alerts_) {
    if (a.status != "closed") ++out[a.kind];
  }
  return out;
}

Result<nlohmann::json> AlertQueue::List(const Staff& staff, const AlertFilter& filter) {
  if (!MayWork(staff)) {
    RecordRefusal(staff, "", "alerts: role");
    return PermissionDenied("the alert queue is for IG officers and DPOs");
  }
  for (const auto& s : filter.statuses) {
    if (!Known(s, kAlertStatuses)) {
      return InvalidArgument("status: one of new, under_review, escalated, closed");
    }
  }
  for (const auto& k : filter.kinds) {
    if (!Known(k, kAlertKinds)) {
      return InvalidArgument("kind: one of override, out_of_hours, unusual_volume");
    }
  }
  std::vector<const Alert*> shown;
  for (const auto& [_, a] : alerts_) {
    const bool status_ok =
        filter.statuses.empty() ? a.status != "closed" : filter.statuses.count(a.status) > 0;
    if (!status_ok) continue;
    if (!filter.kinds.empty() && filter.kinds.count(a.kind) == 0) continue;
    shown.push_back(&a);
  }
  std::sort(shown.begin(), shown.end(), [](const Alert* a, const Alert* b) {
    return a->created_at != b->created_at ? a->created_at > b->created_at : a->id < b->id;
  });
  nlohmann::json out = nlohmann::json::array();
  for (const Alert* a : shown) out.push_back(ToJson(*a));
  return nlohmann::json{{"alerts", std::move(out)}};
}

Result<nlohmann::json> AlertQueue::Get(const Staff& staff, const std::string& id) {
  if (!MayWork(staff)) {
    RecordRefusal(staff, "", "alert: role");
    return PermissionDenied("the alert queue is for IG officers and DPOs");
  }
  const auto it = alerts_.find(id);
  if (it == alerts_.end()) return NotFound("no such alert");
  return ToJson(it->second);
}

void AlertQueue::Acknowledge(const std::string& id, const Staff& staff, const std::string& note,
                             Done done) {
  std::string alert_id = id;
  if (alerts_.count(id) == 0) {
    // Older clients name the alert by the id of the check whose override raised it.
    if (auto of_check = OverrideAlertOf(id)) alert_id = *of_check;
  }
  ChangeStatus(alert_id, staff, "closed", note, std::move(done));
}

void AlertQueue::ChangeStatus(const std::string& id, const Staff& staff, const std::string& status,
                              const std::string& note, Done done) {
  const auto it = alerts_.find(id);
  if (!MayWork(staff)) {
    // The refusal is on the record before it is answered.
    audit::AuditEvent e = EventFor(audit::EventType::kRequestRefused, staff,
                                   it != alerts_.end() ? it->second.check_id : std::string());
    e.outcome = audit::Outcome::kRefused;
    e.detail = "alert: role";
    std::weak_ptr<int> alive = alive_;
    Post post = post_;
    audit_.Append(std::move(e), [alive, post, done](Result<uint64_t> r) {
      post([alive, done, ok = r.ok()] {
        if (alive.expired()) return;
        if (!ok) return done(Unavailable("cannot record the request now"));
        done(PermissionDenied("the alert queue is for IG officers and DPOs"));
      });
    });
    return;
  }
  if (it == alerts_.end() || !IsAlertId(id)) {
    RecordRefusal(staff, "", "alert: no such alert");
    return done(NotFound("no such alert"));
  }
  Alert& alert = it->second;
  if (!Known(status, kAlertStatuses)) {
    RecordRefusal(staff, alert.check_id, "alert: invalid_request");
    return done(InvalidArgument("/status: one of under_review, escalated, closed"));
  }
  const bool note_required = status == "closed" || status == "escalated";
  if ((note_required || !note.empty()) && (note.size() < kMinNote || note.size() > kMaxNote)) {
    RecordRefusal(staff, alert.check_id, "alert: invalid_request");
    return done(InvalidArgument(note_required && note.empty()
                                    ? "/note: give a note to " +
                                          std::string(status == "closed" ? "close" : "escalate") +
                                          " an alert, 10 to 2000 characters"
                                    : "/note: 10 to 2000 characters"));
  }
  if (alert.changing || !Allowed(alert.status, status)) {
    RecordRefusal(staff, alert.check_id, "alert: state");
    return done(FailedPrecondition(alert.changing ? "the alert is being changed"
                                                  : "an alert that is " + alert.status +
                                                        " cannot be moved to " + status));
  }
  alert.changing = true;
  const std::string from = alert.status;
  audit::AuditEvent e = EventFor(status == "closed" ? audit::EventType::kAlertAcknowledged
                                                    : audit::EventType::kAlertStatusChanged,
                                 staff, alert.check_id);
  e.detail = "alert:" + id + " " + alert.kind + " " + from + "->" + status;
  std::weak_ptr<int> alive = alive_;
  Post post = post_;
  audit_.Append(
      std::move(e), [this, alive, post, id, staff, from, status, note, done](Result<uint64_t> r) {
        post([this, alive, id, staff, from, status, note, done, ok = r.ok()] {
          if (alive.expired()) return;
          const auto found = alerts_.find(id);
          if (found == alerts_.end()) return done(NotFound("no such alert"));
          Alert& a = found->second;
          a.changing = false;
          if (!ok) return done(Unavailable("cannot record the change now"));
          const auto now = clock_.Now();
          a.history.push_back(Change{now, staff.user, staff.role, from, status, note});
          a.status = status;
          a.updated_at = now;
          (void)Save(a);
          common::LogInfo("alert.status_changed",
                          {{"alert", id}, {"kind", a.kind}, {"from", from}, {"to", status}});
          done(ToJson(a));
        });
      });
}

Status AlertQueue::Save(const Alert& alert) {
  if (options_.store == nullptr) return Status::Ok();
  Status s = options_.store->Put(ToRow(alert));
  if (!s.ok()) {
    common::LogError("alert.store_failed", {{"alert", alert.id}, {"error", s.ToString()}});
    audit::AuditEvent e;
    e.type = audit::EventType::kRequestFailed;
    e.outcome = audit::Outcome::kFailed;
    e.person = "mash-broker";
    e.role = "system";
    e.organisation = alert.person.organisation;
    e.check_ref = alert.check_id;
    e.detail = "alert_store_failed";
    AppendUnwaited(std::move(e));
  }
  return s;
}

nlohmann::json AlertQueue::ToJson(const Alert& alert) const {
  nlohmann::json history = nlohmann::json::array();
  for (const Change& c : alert.history) {
    nlohmann::json h = {
        {"at", common::FormatRfc3339(c.at)}, {"by", c.by}, {"from", c.from}, {"to", c.to}};
    if (!c.role.empty()) h["role"] = c.role;
    if (!c.note.empty()) h["note"] = c.note;
    history.push_back(std::move(h));
  }
  nlohmann::json j = {{"id", alert.id},
                      {"kind", alert.kind},
                      {"status", alert.status},
                      {"created_at", common::FormatRfc3339(alert.created_at)},
                      {"updated_at", common::FormatRfc3339(alert.updated_at)},
                      {"person", alert.person.user},
                      {"role", alert.person.role},
                      {"team", alert.person.team},
                      {"summary", alert.summary},
                      {"detail", alert.detail},
                      {"history", std::move(history)}};
  if (!alert.check_id.empty()) j["check"] = alert.check_id;
  if (alert.kind == "override" && check_details_) {
    if (auto details = check_details_(alert.check_id)) j["override"] = std::move(*details);
  }
  return j;
}

StoredAlert AlertQueue::ToRow(const Alert& alert) {
  StoredAlert row;
  row.id = alert.id;
  row.kind = alert.kind;
  row.status = alert.status;
  row.created_at_ms = Millis(alert.created_at);
  row.updated_at_ms = Millis(alert.updated_at);
  row.check_id = alert.check_id;
  row.person = alert.person.user;
  row.role = alert.person.role;
  row.team = alert.person.team;
  row.summary = alert.summary;
  const auto dump = [](const nlohmann::json& j) {
    return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  };
  row.detail = dump(alert.detail);
  nlohmann::json history = nlohmann::json::array();
  for (const Change& c : alert.history) {
    history.push_back({{"at", Millis(c.at)},
                       {"by", c.by},
                       {"role", c.role},
                       {"from", c.from},
                       {"to", c.to},
                       {"note", c.note}});
  }
  row.history = dump(history);
  return row;
}

Result<AlertQueue::Alert> AlertQueue::FromRow(const StoredAlert& row) {
  Alert a;
  a.id = row.id;
  a.kind = row.kind;
  a.status = row.status;
  if (!IsAlertId(a.id) || !Known(a.kind, kAlertKinds) || !Known(a.status, kAlertStatuses)) {
    return DataLoss("bad id, kind or status");
  }
  a.created_at = FromMillis(row.created_at_ms);
  a.updated_at = FromMillis(row.updated_at_ms);
  a.check_id = row.check_id;
  a.person = Staff{row.person, row.role, "hub", row.team};
  a.summary = row.summary;
  a.detail = nlohmann::json::parse(row.detail, nullptr, false);
  const auto history = nlohmann::json::parse(row.history, nullptr, false);
  if (!a.detail.is_object() || !history.is_array()) return DataLoss("does not parse");
  try {
    for (const auto& h : history) {
      a.history.push_back(Change{FromMillis(h.at("at").get<int64_t>()), h.at("by"), h.at("role"),
                                 h.at("from"), h.at("to"), h.at("note")});
    }
  } catch (const nlohmann::json::exception&) {
    return DataLoss("history does not parse");
  }
  return a;
}

audit::AuditEvent AlertQueue::EventFor(audit::EventType type, const Staff& who,
                                       const std::string& check_id) const {
  audit::AuditEvent e;
  if (!check_id.empty() && check_event_) {
    if (auto context = check_event_(check_id)) e = std::move(*context);
  }
  e.type = type;
  e.person = who.user;
  e.role = who.role;
  e.organisation = who.organisation;
  e.check_ref = check_id;
  return e;
}

void AlertQueue::RecordRefusal(const Staff& staff, const std::string& check_id,
                               std::string_view detail) {
  audit::AuditEvent e = EventFor(audit::EventType::kRequestRefused, staff, check_id);
  e.outcome = audit::Outcome::kRefused;
  e.detail = std::string(detail);
  AppendUnwaited(std::move(e));
}

void AlertQueue::AppendUnwaited(audit::AuditEvent event) {
  audit_.Append(std::move(event), [](Result<uint64_t> r) {
    if (!r.ok()) common::LogError("audit.append_failed", {{"error", r.status().ToString()}});
  });
}

}  // namespace mash::broker
