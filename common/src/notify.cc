#include "mash/common/notify.h"

#include <systemd/sd-daemon.h>
#include <time.h>

#include <string>

#include "mash/common/log.h"

namespace mash::common {
namespace {

// STATUS lines are single lines: a newline would start another assignment.
std::string StatusLine(std::string_view status) {
  std::string line = "STATUS=";
  for (char c : status) line += (c == '\n' || c == '\r') ? ' ' : c;
  return line;
}

}  // namespace

bool NotifyServiceManager(std::string_view state) {
  const std::string text(state);
  // unset_environment = 0: the state is sent again at reload and stop, so the variable stays.
  const int r = sd_notify(0, text.c_str());
  if (r < 0) {
    LogDebug("notify.failed", {{"errno", -r}});
    return false;
  }
  return r > 0;
}

bool NotifyReady(std::string_view status) {
  return NotifyServiceManager("READY=1\n" + StatusLine(status));
}

bool NotifyReloading(std::string_view status) {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  const uint64_t usec =
      static_cast<uint64_t>(ts.tv_sec) * 1000000u + static_cast<uint64_t>(ts.tv_nsec) / 1000u;
  return NotifyServiceManager("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(usec) + "\n" +
                              StatusLine(status));
}

bool NotifyStopping(std::string_view status) {
  return NotifyServiceManager("STOPPING=1\n" + StatusLine(status));
}

bool NotifyStatus(std::string_view status) { return NotifyServiceManager(StatusLine(status)); }

std::optional<std::chrono::microseconds> WatchdogPingInterval() {
  uint64_t usec = 0;
  if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0) return std::nullopt;
  return std::chrono::microseconds(usec / 2);
}

}  // namespace mash::common
