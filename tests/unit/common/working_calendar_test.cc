// Working-hours deadlines: weekends, bank holidays, GMT/BST, 24/7 teams, and the parsers.
#include "mash/common/working_calendar.h"

#include <gtest/gtest.h>

#include <cstring>

namespace mash::common {
namespace {

using std::chrono::days;
using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;

// A UTC moment.
TimePoint Utc(int y, unsigned mo, unsigned d, int h = 0, int mi = 0, int s = 0) {
  const std::chrono::sys_days day{std::chrono::year(y) / std::chrono::month(mo) /
                                  std::chrono::day(d)};
  return TimePoint(day) + hours(h) + minutes(mi) + seconds(s);
}

std::chrono::year_month_day Date(int y, unsigned mo, unsigned d) {
  return std::chrono::year(y) / std::chrono::month(mo) / std::chrono::day(d);
}

// England and Wales, 2026 and 2027 (examples/bank-holidays-england-and-wales.txt).
std::vector<std::chrono::year_month_day> EnglandAndWales() {
  std::vector<std::chrono::year_month_day> out;
  for (const char* s :
       {"2026-01-01", "2026-04-03", "2026-04-06", "2026-05-04", "2026-05-25", "2026-08-31",
        "2026-12-25", "2026-12-28", "2027-01-01", "2027-03-26", "2027-03-29", "2027-05-03",
        "2027-05-31", "2027-08-30", "2027-12-27", "2027-12-28"}) {
    out.push_back(ParseCivilDate(s).value());
  }
  return out;
}

WorkingCalendar Make(WorkingHours h) {
  auto c = WorkingCalendar::Create(std::move(h));
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  return std::move(c).value();
}

// Mon–Fri 09:00–17:00, London, with the England and Wales bank holidays.
WorkingCalendar Office() {
  WorkingHours h;
  h.bank_holidays = EnglandAndWales();
  return Make(h);
}

TEST(WorkingCalendarTest, RedRaisedFridayAfternoonIsDueMondayMorning) {
  const auto cal = Office();
  // 20 Nov 2026 is in GMT: two hours on Friday, two on Monday.
  EXPECT_EQ(cal.Add(Utc(2026, 11, 20, 15), hours(4)), Utc(2026, 11, 23, 11));
}

TEST(WorkingCalendarTest, RedRaisedBeforeABankHolidayMondayIsDueTuesday) {
  const auto cal = Office();
  // Fri 28 Aug 2026 15:00 BST (14:00 UTC); Mon 31 Aug is the summer bank holiday.
  EXPECT_EQ(cal.Add(Utc(2026, 8, 28, 14), hours(4)), Utc(2026, 9, 1, 10));  // Tue 11:00 BST
  WorkingHours no_holidays;
  EXPECT_EQ(Make(no_holidays).Add(Utc(2026, 8, 28, 14), hours(4)), Utc(2026, 8, 31, 10));
}

TEST(WorkingCalendarTest, AmberAcrossChristmasWeekendAndBankHolidays) {
  const auto cal = Office();
  // Thu 24 Dec 14:00: 3 h that day; Fri 25 holiday, weekend, Mon 28 holiday; Tue 29 8 h,
  // Wed 30 8 h, then the last 5 h on Thu 31 from 09:00.
  EXPECT_EQ(cal.Add(Utc(2026, 12, 24, 14), hours(24)), Utc(2026, 12, 31, 14));
}

TEST(WorkingCalendarTest, GreenSpanningChristmasAndNewYear) {
  const auto cal = Office();
  // Mon 21 Dec 10:00: 7 + 8 + 8 + 8 (to Thu 24) = 31; Tue 29 to Thu 31: 24 more = 55;
  // Fri 1 Jan holiday; Mon 4 and Tue 5 Jan: 16 more = 71; the last hour Wed 6 Jan 09:00–10:00.
  EXPECT_EQ(cal.Add(Utc(2026, 12, 21, 10), hours(72)), Utc(2027, 1, 6, 10));
  EXPECT_EQ(cal.Between(Utc(2026, 12, 21, 10), Utc(2027, 1, 6, 10)), hours(72));
}

TEST(WorkingCalendarTest, StartsOutsideWorkingTimeCountFromTheNextWorkingMoment) {
  const auto cal = Office();
  // Tue 24 Nov 2026 (GMT).
  EXPECT_EQ(cal.Add(Utc(2026, 11, 24, 7, 30), hours(4)), Utc(2026, 11, 24, 13));  // before 09:00
  EXPECT_EQ(cal.Add(Utc(2026, 11, 24, 18), hours(4)), Utc(2026, 11, 25, 13));     // after 17:00
  EXPECT_EQ(cal.Add(Utc(2026, 11, 24, 17), hours(4)), Utc(2026, 11, 25, 13));     // at 17:00
  EXPECT_EQ(cal.Add(Utc(2026, 11, 21, 12), hours(4)), Utc(2026, 11, 23, 13));     // Saturday
  EXPECT_EQ(cal.Add(Utc(2026, 11, 22, 23), hours(4)), Utc(2026, 11, 23, 13));     // Sunday night
  // Christmas Day, and Monday 28 Dec is a holiday too.
  EXPECT_EQ(cal.Add(Utc(2026, 12, 25, 10), hours(4)), Utc(2026, 12, 29, 13));
  // Zero working time: the start itself when working, else the next working moment.
  EXPECT_EQ(cal.Add(Utc(2026, 11, 24, 10), seconds(0)), Utc(2026, 11, 24, 10));
  EXPECT_EQ(cal.Add(Utc(2026, 11, 24, 17), seconds(0)), Utc(2026, 11, 25, 9));
  EXPECT_EQ(cal.Add(Utc(2026, 11, 24, 10), seconds(-50)), Utc(2026, 11, 24, 10));
}

TEST(WorkingCalendarTest, ADeadlineAtTheEndOfTheDayIsThatEnd) {
  const auto cal = Office();
  EXPECT_EQ(cal.Add(Utc(2026, 11, 24, 13), hours(4)), Utc(2026, 11, 24, 17));
  EXPECT_EQ(cal.Add(Utc(2026, 11, 24, 13), hours(4) + seconds(1)), Utc(2026, 11, 25, 9, 0, 1));
}

TEST(WorkingCalendarTest, BetweenCountsOnlyWorkingTime) {
  const auto cal = Office();
  EXPECT_EQ(cal.Between(Utc(2026, 11, 20, 15), Utc(2026, 11, 23, 11)), hours(4));
  EXPECT_EQ(cal.Between(Utc(2026, 11, 21, 0), Utc(2026, 11, 23, 0)), seconds(0));    // weekend
  EXPECT_EQ(cal.Between(Utc(2026, 11, 23, 11), Utc(2026, 11, 20, 15)), seconds(0));  // b < a
  EXPECT_EQ(cal.Between(Utc(2026, 11, 23, 11), Utc(2026, 11, 23, 11)), seconds(0));
  // A whole ordinary week, and Christmas week (two bank holidays).
  EXPECT_EQ(cal.Between(Utc(2026, 11, 23), Utc(2026, 11, 30)), hours(40));
  EXPECT_EQ(cal.Between(Utc(2026, 12, 21), Utc(2026, 12, 28)), hours(32));
  EXPECT_EQ(cal.Between(Utc(2026, 12, 28), Utc(2027, 1, 4)), hours(24));
  // Partial seconds round down.
  EXPECT_EQ(
      cal.Between(Utc(2026, 11, 23, 10), Utc(2026, 11, 23, 10) + std::chrono::milliseconds(1999)),
      seconds(1));
}

TEST(WorkingCalendarTest, IsWorking) {
  const auto cal = Office();
  EXPECT_TRUE(cal.IsWorking(Utc(2026, 11, 23, 9)));
  EXPECT_TRUE(cal.IsWorking(Utc(2026, 11, 23, 16, 59, 59)));
  EXPECT_FALSE(cal.IsWorking(Utc(2026, 11, 23, 17)));
  EXPECT_FALSE(cal.IsWorking(Utc(2026, 11, 23, 8, 59, 59)));
  EXPECT_FALSE(cal.IsWorking(Utc(2026, 11, 21, 12)));  // Saturday
  EXPECT_FALSE(cal.IsWorking(Utc(2026, 12, 25, 12)));  // Christmas Day
  EXPECT_TRUE(cal.IsWorking(Utc(2026, 7, 1, 8)));      // 09:00 BST
  EXPECT_FALSE(cal.IsWorking(Utc(2026, 7, 1, 16)));    // 17:00 BST
}

TEST(WorkingCalendarTest, NineLocalIsEightUtcInSummerAndNineInWinter) {
  const auto cal = Office();
  EXPECT_EQ(cal.Add(Utc(2026, 7, 1), seconds(0)), Utc(2026, 7, 1, 8));  // Wed, BST
  EXPECT_EQ(cal.Add(Utc(2026, 1, 7), seconds(0)), Utc(2026, 1, 7, 9));  // Wed, GMT
  WorkingHours utc;
  utc.zone = TimeZone::kUtc;
  EXPECT_EQ(Make(utc).Add(Utc(2026, 7, 1), seconds(0)), Utc(2026, 7, 1, 9));
}

TEST(WorkingCalendarTest, BritishSummerTimeChangesAtOneUtcOnTheLastSundays) {
  EXPECT_EQ(UtcOffset(TimeZone::kEuropeLondon, Utc(2026, 3, 29, 0, 59, 59)), seconds(0));
  EXPECT_EQ(UtcOffset(TimeZone::kEuropeLondon, Utc(2026, 3, 29, 1)), hours(1));
  EXPECT_EQ(UtcOffset(TimeZone::kEuropeLondon, Utc(2026, 10, 25, 0, 59, 59)), hours(1));
  EXPECT_EQ(UtcOffset(TimeZone::kEuropeLondon, Utc(2026, 10, 25, 1)), seconds(0));
  EXPECT_EQ(UtcOffset(TimeZone::kEuropeLondon, Utc(2026, 3, 22, 12)), seconds(0));  // a Sunday
  EXPECT_EQ(UtcOffset(TimeZone::kEuropeLondon, Utc(2027, 3, 28, 1)), hours(1));     // 2027
  EXPECT_EQ(UtcOffset(TimeZone::kEuropeLondon, Utc(2027, 3, 28, 0, 59)), seconds(0));
  EXPECT_EQ(UtcOffset(TimeZone::kEuropeLondon, Utc(2027, 10, 31, 1)), seconds(0));
  EXPECT_EQ(UtcOffset(TimeZone::kUtc, Utc(2026, 7, 1)), seconds(0));
}

TEST(WorkingCalendarTest, DeadlinesAcrossTheClockChangesKeepLocalHours) {
  const auto cal = Office();
  // Fri 27 Mar 16:00 GMT: 1 h, then Mon 30 Mar 09:00 BST (08:00 UTC) + 3 h.
  EXPECT_EQ(cal.Add(Utc(2026, 3, 27, 16), hours(4)), Utc(2026, 3, 30, 11));
  // Fri 23 Oct 16:00 BST (15:00 UTC): 1 h, then Mon 26 Oct 09:00 GMT + 3 h.
  EXPECT_EQ(cal.Add(Utc(2026, 10, 23, 15), hours(4)), Utc(2026, 10, 26, 12));
  EXPECT_EQ(cal.Between(Utc(2026, 10, 23, 15), Utc(2026, 10, 26, 12)), hours(4));
}

TEST(WorkingCalendarTest, ClockChangeSundaysAreShortAndLongForRoundTheClockDays) {
  WorkingHours h;
  h.days = {true, true, true, true, true, true, true};
  h.day_start = minutes(0);
  h.day_end = hours(24);
  const auto cal = Make(h);
  // Local midnight to local midnight.
  EXPECT_EQ(cal.Between(Utc(2026, 3, 29), Utc(2026, 3, 29, 23)), hours(23));
  EXPECT_EQ(cal.Between(Utc(2026, 10, 24, 23), Utc(2026, 10, 26)), hours(25));
  // Every moment is working time, so this is plain addition even across the changes.
  for (TimePoint t : {Utc(2026, 3, 29, 0, 30), Utc(2026, 10, 25, 0, 30), Utc(2026, 10, 24, 23)}) {
    EXPECT_EQ(cal.Add(t, hours(1)), t + hours(1));
    EXPECT_EQ(cal.Add(t, hours(30)), t + hours(30));
    EXPECT_TRUE(cal.IsWorking(t));
  }
}

TEST(WorkingCalendarTest, HoursInsideTheSkippedAndRepeatedHour) {
  WorkingHours h;
  h.days = {false, false, false, false, false, false, true};  // Sundays only
  h.day_start = hours(1);
  h.day_end = hours(3);
  const auto cal = Make(h);
  // 29 Mar: 01:00 local does not exist and reads as 02:00 BST (01:00 UTC); 03:00 BST is 02:00 UTC.
  EXPECT_EQ(cal.Add(Utc(2026, 3, 29), seconds(0)), Utc(2026, 3, 29, 1));
  EXPECT_EQ(cal.Between(Utc(2026, 3, 28), Utc(2026, 3, 30)), hours(1));
  // 25 Oct: 01:00 local is first 01:00 BST (00:00 UTC); 03:00 GMT is 03:00 UTC.
  EXPECT_EQ(cal.Add(Utc(2026, 10, 24, 12), seconds(0)), Utc(2026, 10, 25, 0));
  EXPECT_EQ(cal.Between(Utc(2026, 10, 24), Utc(2026, 10, 26)), hours(3));
}

TEST(WorkingCalendarTest, AlwaysIsPlainAddition) {
  WorkingHours h;
  h.always = true;
  h.days = {false, false, false, false, false, false, false};
  h.bank_holidays = EnglandAndWales();
  const auto cal = Make(h);
  const TimePoint fri = Utc(2026, 12, 24, 20, 17, 3);
  EXPECT_EQ(cal.Add(fri, hours(4)), fri + hours(4));
  EXPECT_EQ(cal.Add(fri, hours(72)), fri + hours(72));
  EXPECT_EQ(cal.Between(fri, fri + hours(72)), hours(72));
  EXPECT_EQ(cal.Between(fri + hours(1), fri), seconds(0));
  EXPECT_TRUE(cal.IsWorking(Utc(2026, 12, 25, 3)));
  EXPECT_TRUE(cal.IsWorking(Utc(2026, 3, 29, 1, 30)));
}

TEST(WorkingCalendarTest, LongHolidaysAreSteppedByDays) {
  WorkingHours h;
  // Every day from 1 Jan to 31 Mar 2027 is a holiday.
  for (auto d = std::chrono::sys_days(Date(2027, 1, 1));
       d <= std::chrono::sys_days(Date(2027, 3, 31)); d += days(1)) {
    h.bank_holidays.emplace_back(d);
  }
  const auto cal = Make(h);
  // Thu 31 Dec 2026 17:00 is the end of a day; the next is Thu 1 Apr 2027, 09:00 BST.
  EXPECT_EQ(cal.Add(Utc(2026, 12, 31, 17), hours(4)), Utc(2027, 4, 1, 12));
  // 72 h = 9 days: Apr 1, 2, 5–9, 12, 13 -> Tue 13 Apr 17:00 BST.
  EXPECT_EQ(cal.Add(Utc(2026, 12, 31, 17), hours(72)), Utc(2027, 4, 13, 16));
}

TEST(WorkingCalendarTest, BetweenInvertsAddOverRandomStarts) {
  const auto cal = Office();
  DeterministicRandom rng(20261225);
  const TimePoint base = Utc(2026, 1, 1);
  for (int i = 0; i < 2000; ++i) {
    const TimePoint start = base + seconds(rng.Uniform(2 * 366 * 86400));
    const seconds w(rng.Uniform(80 * 3600));
    const TimePoint due = cal.Add(start, w);
    ASSERT_EQ(cal.Between(start, due), w) << "start " << FormatRfc3339(start) << " w " << w.count();
    ASSERT_TRUE(w == seconds(0) || cal.IsWorking(due - seconds(1))) << "due " << FormatRfc3339(due);
    // One second less is never later.
    if (w > seconds(0)) {
      ASSERT_LT(cal.Add(start, w - seconds(1)), due);
    }
    // Between is additive around any middle point.
    const TimePoint end = due + days(3);
    const auto span = std::chrono::floor<seconds>(end - start).count();
    const TimePoint mid = start + seconds(rng.Uniform(static_cast<uint32_t>(span) + 1));
    ASSERT_EQ(cal.Between(start, mid) + cal.Between(mid, end), cal.Between(start, end));
  }
}

TEST(WorkingCalendarTest, BetweenAgreesWithCountingMinutes) {
  const auto cal = Office();
  DeterministicRandom rng(42);
  const TimePoint base = Utc(2026, 3, 20);
  for (int i = 0; i < 30; ++i) {
    const TimePoint a = base + minutes(rng.Uniform(400 * 24 * 60));
    const int span = static_cast<int>(rng.Uniform(4 * 24 * 60));
    int counted = 0;
    for (int m = 0; m < span; ++m) counted += cal.IsWorking(a + minutes(m)) ? 1 : 0;
    ASSERT_EQ(cal.Between(a, a + minutes(span)), minutes(counted)) << FormatRfc3339(a);
  }
}

TEST(WorkingCalendarTest, AddAndBetweenAgreeAroundTheClockChanges) {
  WorkingHours nights;  // every night 00:30–02:30 local: crosses both changes
  nights.days = {true, true, true, true, true, true, true};
  nights.day_start = minutes(30);
  nights.day_end = minutes(150);
  WorkingHours utc_nights = nights;
  utc_nights.zone = TimeZone::kUtc;
  WorkingHours early;  // 00:00–09:00 local, every day
  early.days = nights.days;
  early.day_start = minutes(0);
  early.day_end = hours(9);
  for (const WorkingHours& h : {nights, utc_nights, early, WorkingHours{}}) {
    const auto cal = Make(h);
    for (TimePoint from : {Utc(2026, 3, 28), Utc(2026, 10, 24)}) {
      for (TimePoint t = from; t < from + days(2); t += minutes(25)) {
        for (seconds w : {seconds(0), seconds(1800), seconds(5400), seconds(5 * 3600)}) {
          ASSERT_EQ(cal.Between(t, cal.Add(t, w)), w) << FormatRfc3339(t);
        }
        int counted = 0;
        for (int m = 0; m < 6 * 60; ++m) counted += cal.IsWorking(t + minutes(m)) ? 1 : 0;
        ASSERT_EQ(cal.Between(t, t + hours(6)), minutes(counted)) << FormatRfc3339(t);
      }
    }
  }
  // In London the nights of the changes are one hour (spring: 02:00–02:30 BST is all there is
  // after 00:30–01:00 GMT) and three hours (autumn: 00:30 BST to 02:30 GMT).
  const auto cal = Make(nights);
  EXPECT_EQ(cal.Between(Utc(2026, 3, 28, 12), Utc(2026, 3, 29, 12)), hours(1));
  EXPECT_EQ(cal.Between(Utc(2026, 10, 24, 12), Utc(2026, 10, 25, 12)), hours(3));
  EXPECT_EQ(cal.Between(Utc(2026, 10, 25, 12), Utc(2026, 10, 26, 12)), hours(2));
}

TEST(WorkingCalendarTest, CreateRefusesBadHours) {
  WorkingHours h;
  h.day_end = h.day_start;
  EXPECT_EQ(WorkingCalendar::Create(h).status().code(), StatusCode::kInvalidArgument);
  h.day_end = hours(8);
  EXPECT_FALSE(WorkingCalendar::Create(h).ok());
  h = WorkingHours{};
  h.day_end = hours(25);
  EXPECT_FALSE(WorkingCalendar::Create(h).ok());
  h = WorkingHours{};
  h.day_start = minutes(-1);
  EXPECT_FALSE(WorkingCalendar::Create(h).ok());
  h = WorkingHours{};
  h.days = {};
  auto none = WorkingCalendar::Create(h);
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.status().message().find("working day"), std::string::npos);
  h.always = true;
  EXPECT_TRUE(WorkingCalendar::Create(h).ok());
  h = WorkingHours{};
  h.bank_holidays = {Date(2026, 2, 30)};
  EXPECT_FALSE(WorkingCalendar::Create(h).ok());
}

TEST(WorkingCalendarTest, ParsesClockTimes) {
  EXPECT_EQ(ParseClock("09:00").value(), hours(9));
  EXPECT_EQ(ParseClock("00:00").value(), minutes(0));
  EXPECT_EQ(ParseClock("17:30").value(), minutes(17 * 60 + 30));
  EXPECT_EQ(ParseClock("24:00").value(), hours(24));
  for (const char* bad : {"9:00", "24:01", "12:60", "ab:cd", "0900", "09:00 ", "", "25:00"}) {
    auto r = ParseClock(bad);
    EXPECT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.status().message().find("HH:MM"), std::string::npos);
  }
}

TEST(WorkingCalendarTest, ParsesCivilDates) {
  EXPECT_EQ(ParseCivilDate("2026-12-25").value(), Date(2026, 12, 25));
  EXPECT_EQ(ParseCivilDate("2028-02-29").value(), Date(2028, 2, 29));  // leap year
  for (const char* bad : {"2026-02-29", "2026-13-01", "2026-00-10", "2026-1-01", "26-12-25",
                          "2026/12/25", "1969-12-31", "2201-01-01", "2026-12-25x"}) {
    auto r = ParseCivilDate(bad);
    EXPECT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.status().message().find("YYYY-MM-DD"), std::string::npos);
  }
}

TEST(WorkingCalendarTest, ParsesDayNamesAndZones) {
  EXPECT_EQ(ParseDayName("mon").value(), std::chrono::Monday);
  EXPECT_EQ(ParseDayName("sun").value(), std::chrono::Sunday);
  EXPECT_EQ(WorkingHours::DayIndex(ParseDayName("sun").value()), 6u);
  EXPECT_EQ(WorkingHours::DayIndex(ParseDayName("mon").value()), 0u);
  for (const char* bad : {"Mon", "monday", "", "xyz"}) EXPECT_FALSE(ParseDayName(bad).ok()) << bad;
  EXPECT_EQ(ParseTimeZone("UTC").value(), TimeZone::kUtc);
  EXPECT_EQ(ParseTimeZone("Europe/London").value(), TimeZone::kEuropeLondon);
  auto paris = ParseTimeZone("Europe/Paris");
  ASSERT_FALSE(paris.ok());
  EXPECT_NE(paris.status().message().find("supported: UTC, Europe/London"), std::string::npos);
  EXPECT_EQ(TimeZoneName(TimeZone::kEuropeLondon), "Europe/London");
}

TEST(WorkingCalendarTest, ParsesHolidayLists) {
  auto list = ParseHolidayList(
      "# England and Wales\r\n2026-12-25\r\n\n  2026-12-28   # Boxing Day (substitute)\n");
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[1], Date(2026, 12, 28));
  EXPECT_TRUE(ParseHolidayList("").value().empty());
  auto bad = ParseHolidayList("2026-12-25\n# fine\n2026-12-32\n");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("line 3"), std::string::npos) << bad.status().message();
}

}  // namespace
}  // namespace mash::common
