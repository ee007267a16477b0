// Working-time arithmetic for agency-check deadlines (DESIGN §4: red 4 working hours, amber 24,
// green 72).
//
// A WorkingCalendar answers "when is the deadline of N working hours raised at T?" and "how much
// working time passed between A and B?" for a working week (days and hours in local time), a list
// of bank holidays and a time zone. It is pure: it never reads a clock or a file; the caller
// gives every time and the holiday list (ParseHolidayList parses a file's text).
//
// Time zones: C++20's tzdb is missing from GCC 12, so the rules are built in. "UTC", and
// "Europe/London" (GMT; BST, one hour ahead, from 01:00 UTC on the last Sunday of March to 01:00
// UTC on the last Sunday of October, the rule in force since 1996). Others are refused.
//
// A working day is [day_start, day_end) in local time on a working weekday that is not a bank
// holiday; on the days the clocks change it is as long as the wall clock says (a 00:00–24:00 day
// is 23 hours in March and 25 in October). A local time the spring change skips is taken one hour
// later; one the autumn change repeats is taken at its first occurrence.
//
// Thread safety: WorkingCalendar is immutable after Create(); safe to share between threads.
#pragma once

#include <array>
#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "mash/common/clock.h"
#include "mash/common/status.h"

namespace mash::common {

enum class TimeZone {
  kUtc,
  kEuropeLondon,
};

// "UTC" or "Europe/London".
std::string_view TimeZoneName(TimeZone zone);
// Parses "UTC" or "Europe/London" (exact spelling). InvalidArgument naming the supported zones.
Result<TimeZone> ParseTimeZone(std::string_view name);

// The offset of local time from UTC at `t` (0 or 1 hour).
std::chrono::seconds UtcOffset(TimeZone zone, TimePoint t);

// "09:00" -> 9 h. Exactly HH:MM, 00:00 to 23:59, or "24:00" (the end of the day).
// InvalidArgument otherwise.
Result<std::chrono::minutes> ParseClock(std::string_view text);
// "2026-12-25". Exactly YYYY-MM-DD, a real calendar date, years 1970 to 2200. InvalidArgument
// otherwise.
Result<std::chrono::year_month_day> ParseCivilDate(std::string_view text);
// "mon", "tue", "wed", "thu", "fri", "sat", "sun" (lower case). InvalidArgument otherwise.
Result<std::chrono::weekday> ParseDayName(std::string_view text);
// A holiday file's text: one YYYY-MM-DD per line; blank lines and '#' comments (whole-line or
// after the date) are ignored. InvalidArgument "line N: ..." naming the first bad line.
Result<std::vector<std::chrono::year_month_day>> ParseHolidayList(std::string_view text);

struct WorkingHours {
  // Working weekdays, indexed Monday = 0 .. Sunday = 6 (ISO order; see DayIndex()).
  std::array<bool, 7> days = {true, true, true, true, true, false, false};
  // Minutes after local midnight; 0 <= day_start < day_end <= 24 h.
  std::chrono::minutes day_start = std::chrono::hours(9);
  std::chrono::minutes day_end = std::chrono::hours(17);
  // 24/7 (out-of-hours teams): every moment is working time; days, hours, bank holidays and the
  // time zone are ignored.
  bool always = false;
  // Local dates that are not working days; order and duplicates do not matter.
  std::vector<std::chrono::year_month_day> bank_holidays;
  TimeZone zone = TimeZone::kEuropeLondon;

  // The index of `d` in `days`.
  static size_t DayIndex(std::chrono::weekday d) { return d.iso_encoding() - 1; }
  friend bool operator==(const WorkingHours&, const WorkingHours&) = default;
};

class WorkingCalendar {
 public:
  // Checks `hours`. InvalidArgument when day_start/day_end are out of range or day_end <=
  // day_start, when no weekday is a working day (unless always), or when a bank holiday is not
  // a valid date.
  static Result<WorkingCalendar> Create(WorkingHours hours);

  // The moment `working` of working time has passed after `start`. A start outside working time
  // counts from the next working moment, so Add(t, 0) is t when t is working time and otherwise
  // the start of the next working period. A deadline that falls exactly at the end of a working
  // day is that end (13:00 + 4 h on a 09:00–17:00 day is 17:00 the same day). Negative
  // `working` counts as zero. Cost: one step per calendar day spanned. Returns TimePoint::max()
  // when the result would lie more than 50 years after `start` (absurd inputs only).
  TimePoint Add(TimePoint start, std::chrono::seconds working) const;

  // Working time in [a, b), whole seconds rounded down; zero when b <= a. For whole-second
  // starts and w >= 0, Between(t, Add(t, w)) == w.
  std::chrono::seconds Between(TimePoint a, TimePoint b) const;

  // True when `t` is working time.
  bool IsWorking(TimePoint t) const;

  const WorkingHours& hours() const { return hours_; }

 private:
  explicit WorkingCalendar(WorkingHours hours, std::vector<std::chrono::sys_days> holidays);
  // The working period of local date `day` as UTC [begin, end); begin == end when `day` is not a
  // working day.
  std::pair<TimePoint, TimePoint> Period(std::chrono::sys_days day) const;
  // The local date of `t`.
  std::chrono::sys_days LocalDay(TimePoint t) const;

  WorkingHours hours_;
  std::vector<std::chrono::sys_days> holidays_;  // sorted, unique
};

}  // namespace mash::common
