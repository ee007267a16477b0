// The service manager's readiness protocol (sd_notify(3)), for daemons run as systemd
// Type=notify units: READY=1 once the daemon serves, RELOADING=1 and READY=1 around a SIGHUP
// reload, STOPPING=1 when it begins to stop, STATUS= short human lines, and WATCHDOG=1 pings
// when the unit sets WatchdogSec.
//
// Every function is a no-op (returning false) when NOTIFY_SOCKET is unset, so daemons call them
// unconditionally. Nothing sent here may hold keys, tokens or personal data: STATUS lines are
// fixed phrases with counts.
//
// Thread safety: safe from any thread (each call sends one datagram).
#pragma once

#include <chrono>
#include <optional>
#include <string_view>

namespace mash::common {

// Sends `state` ("READY=1", "RELOADING=1\nSTATUS=reloading", ...) to $NOTIFY_SOCKET. true when it
// was sent; false when there is no socket or sending failed (logged at debug level: the daemon
// runs on without a service manager).
bool NotifyServiceManager(std::string_view state);

// READY=1 with a STATUS line.
bool NotifyReady(std::string_view status);
// RELOADING=1 (with MONOTONIC_USEC, which systemd 253+ wants and 252 ignores) and a STATUS line.
bool NotifyReloading(std::string_view status);
// STOPPING=1 with a STATUS line.
bool NotifyStopping(std::string_view status);
// STATUS=... alone.
bool NotifyStatus(std::string_view status);

// The interval at which WATCHDOG=1 should be sent (half of WatchdogSec, as sd_watchdog_enabled(3)
// recommends), or nullopt when the service manager does not expect pings for this process.
std::optional<std::chrono::microseconds> WatchdogPingInterval();

}  // namespace mash::common
