#include "mash/common/working_calendar.h"

#include <algorithm>
#include <utility>

namespace mash::common {
namespace {

using std::chrono::days;
using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;
using std::chrono::sys_days;

// Bad input is echoed in messages so that an operator can find it; config text, never personal
// data, but cut short so that a stray binary file cannot flood the log.
std::string Quote(std::string_view text) {
  constexpr size_t kMax = 40;
  if (text.size() > kMax) return "'" + std::string(text.substr(0, kMax)) + "...'";
  return "'" + std::string(text) + "'";
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

int Digits(std::string_view s) {
  int v = 0;
  for (char c : s) v = v * 10 + (c - '0');
  return v;
}

std::string_view Trim(std::string_view s) {
  const auto first = s.find_first_not_of(" \t\r");
  if (first == std::string_view::npos) return {};
  const auto last = s.find_last_not_of(" \t\r");
  return s.substr(first, last - first + 1);
}

// The UTC moments BST starts and ends in `y`: 01:00 UTC on the last Sundays of March and October.
std::pair<TimePoint, TimePoint> BritishSummerTime(std::chrono::year y) {
  using std::chrono::Sunday;
  const sys_days start{y / std::chrono::March / Sunday[std::chrono::last]};
  const sys_days end{y / std::chrono::October / Sunday[std::chrono::last]};
  return {TimePoint(start) + hours(1), TimePoint(end) + hours(1)};
}

// The UTC moment the wall clock of `zone` reads `local` (a local date and time written as if it
// were UTC). Spring-forward gaps take the offset from before the change (so the time is read one
// hour later); autumn repeats take the first occurrence.
TimePoint LocalToUtc(TimeZone zone, TimePoint local) {
  if (zone == TimeZone::kUtc) return local;
  const TimePoint as_gmt = local;
  const TimePoint as_bst = local - hours(1);
  // BST when that reading is consistent (also the first occurrence when both are); otherwise GMT,
  // which in the spring gap reads 01:30 local as 02:30 BST, i.e. 01:30 UTC.
  if (UtcOffset(zone, as_bst) == hours(1)) return as_bst;
  return as_gmt;
}

}  // namespace

std::string_view TimeZoneName(TimeZone zone) {
  switch (zone) {
    case TimeZone::kUtc:
      return "UTC";
    case TimeZone::kEuropeLondon:
      return "Europe/London";
  }
  return "UTC";
}

Result<TimeZone> ParseTimeZone(std::string_view name) {
  if (name == "UTC") return TimeZone::kUtc;
  if (name == "Europe/London") return TimeZone::kEuropeLondon;
  return InvalidArgument("unsupported time zone " + Quote(name) +
                         " (supported: UTC, Europe/London)");
}

std::chrono::seconds UtcOffset(TimeZone zone, TimePoint t) {
  if (zone == TimeZone::kUtc) return seconds(0);
  const std::chrono::year_month_day ymd{std::chrono::floor<days>(t)};
  const auto [start, end] = BritishSummerTime(ymd.year());
  return (t >= start && t < end) ? seconds(hours(1)) : seconds(0);
}

Result<std::chrono::minutes> ParseClock(std::string_view text) {
  const bool shape = text.size() == 5 && IsDigit(text[0]) && IsDigit(text[1]) && text[2] == ':' &&
                     IsDigit(text[3]) && IsDigit(text[4]);
  if (shape) {
    const int h = Digits(text.substr(0, 2));
    const int m = Digits(text.substr(3, 2));
    if ((h < 24 && m < 60) || (h == 24 && m == 0)) return minutes(h * 60 + m);
  }
  return InvalidArgument(Quote(text) + " is not a time of day HH:MM (00:00 to 24:00)");
}

Result<std::chrono::year_month_day> ParseCivilDate(std::string_view text) {
  bool shape = text.size() == 10 && text[4] == '-' && text[7] == '-';
  for (size_t i : {0u, 1u, 2u, 3u, 5u, 6u, 8u, 9u}) shape = shape && IsDigit(text[i]);
  if (shape) {
    const std::chrono::year_month_day ymd{
        std::chrono::year(Digits(text.substr(0, 4))),
        std::chrono::month(static_cast<unsigned>(Digits(text.substr(5, 2)))),
        std::chrono::day(static_cast<unsigned>(Digits(text.substr(8, 2))))};
    if (ymd.ok() && ymd.year() >= std::chrono::year(1970) &&
        ymd.year() <= std::chrono::year(2200)) {
      return ymd;
    }
  }
  return InvalidArgument(Quote(text) + " is not a date YYYY-MM-DD (1970 to 2200)");
}

Result<std::chrono::weekday> ParseDayName(std::string_view text) {
  static constexpr std::array<std::string_view, 7> kNames = {"mon", "tue", "wed", "thu",
                                                             "fri", "sat", "sun"};
  for (unsigned i = 0; i < kNames.size(); ++i) {
    if (text == kNames[i]) return std::chrono::weekday(i + 1);  // ISO: Monday is 1, Sunday 7
  }
  return InvalidArgument(Quote(text) + " is not a day name (mon, tue, wed, thu, fri, sat, sun)");
}

Result<std::vector<std::chrono::year_month_day>> ParseHolidayList(std::string_view text) {
  std::vector<std::chrono::year_month_day> out;
  size_t line_no = 0;
  while (!text.empty()) {
    ++line_no;
    const size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    line = Trim(line.substr(0, line.find('#')));
    if (line.empty()) continue;
    auto date = ParseCivilDate(line);
    if (!date.ok()) return date.status().WithContext("line " + std::to_string(line_no));
    out.push_back(*date);
  }
  return out;
}

Result<WorkingCalendar> WorkingCalendar::Create(WorkingHours hours) {
  if (hours.day_start < minutes(0) || hours.day_start >= std::chrono::hours(24)) {
    return InvalidArgument("day_start must be between 00:00 and 23:59");
  }
  if (hours.day_end <= hours.day_start || hours.day_end > std::chrono::hours(24)) {
    return InvalidArgument("day_end must be after day_start and at most 24:00");
  }
  if (!hours.always &&
      std::none_of(hours.days.begin(), hours.days.end(), [](bool b) { return b; })) {
    return InvalidArgument("at least one working day is needed (or always = true)");
  }
  std::vector<sys_days> holidays;
  holidays.reserve(hours.bank_holidays.size());
  for (const auto& d : hours.bank_holidays) {
    if (!d.ok()) return InvalidArgument("a bank holiday is not a valid date");
    holidays.emplace_back(d);
  }
  std::sort(holidays.begin(), holidays.end());
  holidays.erase(std::unique(holidays.begin(), holidays.end()), holidays.end());
  return WorkingCalendar(std::move(hours), std::move(holidays));
}

WorkingCalendar::WorkingCalendar(WorkingHours hours, std::vector<sys_days> holidays)
    : hours_(std::move(hours)), holidays_(std::move(holidays)) {}

sys_days WorkingCalendar::LocalDay(TimePoint t) const {
  return std::chrono::floor<days>(t + UtcOffset(hours_.zone, t));
}

std::pair<TimePoint, TimePoint> WorkingCalendar::Period(sys_days day) const {
  const bool working_day = hours_.days[WorkingHours::DayIndex(std::chrono::weekday(day))] &&
                           !std::binary_search(holidays_.begin(), holidays_.end(), day);
  if (!working_day) return {TimePoint(day), TimePoint(day)};
  const TimePoint begin = LocalToUtc(hours_.zone, TimePoint(day) + hours_.day_start);
  const TimePoint end = LocalToUtc(hours_.zone, TimePoint(day) + hours_.day_end);
  return {begin, std::max(begin, end)};
}

TimePoint WorkingCalendar::Add(TimePoint start, std::chrono::seconds working) const {
  working = std::max(working, seconds(0));
  if (hours_.always) return start + working;
  // Stepping whole days keeps 72 hours across a long holiday to a few dozen steps.
  TimePoint::duration remaining = working;
  TimePoint t = start;
  const sys_days first = LocalDay(start) - days(1);  // a period may begin before local midnight
  const sys_days horizon = first + days(366 * 50);
  for (sys_days day = first; day <= horizon; day += days(1)) {
    const auto [begin, end] = Period(day);
    if (begin == end || end <= t) continue;
    const TimePoint from = std::max(t, begin);
    const TimePoint::duration available = end - from;
    if (remaining <= available) return from + remaining;
    remaining -= available;
    t = end;
  }
  return TimePoint::max();
}

std::chrono::seconds WorkingCalendar::Between(TimePoint a, TimePoint b) const {
  if (b <= a) return seconds(0);
  if (hours_.always) return std::chrono::floor<seconds>(b - a);
  TimePoint::duration total{0};
  const sys_days last = LocalDay(b);
  for (sys_days day = LocalDay(a) - days(1); day <= last; day += days(1)) {
    const auto [begin, end] = Period(day);
    const TimePoint from = std::max(a, begin);
    const TimePoint to = std::min(b, end);
    if (to > from) total += to - from;
  }
  return std::chrono::floor<seconds>(total);
}

bool WorkingCalendar::IsWorking(TimePoint t) const {
  if (hours_.always) return true;
  const sys_days day = LocalDay(t);
  for (sys_days d : {day - days(1), day}) {
    const auto [begin, end] = Period(d);
    if (t >= begin && t < end) return true;
  }
  return false;
}

}  // namespace mash::common
