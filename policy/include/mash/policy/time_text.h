// Times as policies and the command line write them. Pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mash::policy {

// Days since 1970-01-01 of a proleptic Gregorian date (no validation).
int64_t DaysFromCivil(int64_t year, unsigned month, unsigned day);

// "YYYY-MM-DD" (midnight UTC) or RFC 3339 "YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM)" to Unix
// seconds (fraction dropped). nullopt on anything else, including impossible dates.
std::optional<int64_t> ParseTime(std::string_view text);

// "YYYY-MM-DDTHH:MM:SSZ".
std::string FormatTime(int64_t unix_seconds);

}  // namespace mash::policy
