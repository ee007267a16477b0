// `mashctl`, the command line of MASH Exchange (DESIGN §11), as a library so that tests can run
// it without a process. docs/mashctl.md is the user's reference.
//
//   mashctl check raise ...   raise an agency check (POST /api/v1/checks)
//   mashctl check show ID     show a check and each agency's answer
//   mashctl agency list       registered agencies and whether each is online
//   mashctl agency add        (admin) a one-time enrolment token for a new agency
//   mashctl user add|disable|reset|list   (admin) staff accounts
//   mashctl user token        a personal token file, authenticated with the user's password
//   mashctl pki keygen|secret|token|pin
//
// Exit codes: 0 ok; 1 the check failed (the broker refused the request or does not know the
// check, --wait timed out, or an agency's part ended without an answer); 2 usage or
// configuration (bad flags, a request refused locally, missing or loose files, token refused by
// the broker); 3 connection (cannot connect, TLS failure, deadline, broker 5xx or malformed
// reply).
//
// Thread safety: RunMashctl may run on several threads at once with separate streams.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "mash/cli/api_client.h"
#include "mash/common/status.h"

namespace mash::cli {

enum ExitCode : int {
  kExitOk = 0,
  kExitCheckFailed = 1,
  kExitUsage = 2,
  kExitConnection = 3,
};

// What mashctl takes from its surroundings; tests replace parts of it.
struct Environment {
  // Looks up an environment variable (MASH_BROKER, MASH_CA, MASH_CRLS, MASH_TOKEN_FILE).
  std::function<std::optional<std::string>(const std::string&)> getenv;
  // Makes the API client once the connection options are known.
  std::function<Result<std::unique_ptr<ApiClient>>(ClientOptions)> make_client;
  // Waits between polls of --wait.
  std::function<void(std::chrono::milliseconds)> sleep;
  std::chrono::milliseconds poll_interval{1000};
};

// The process environment, MakeHttpsClient and std::this_thread::sleep_for.
Environment DefaultEnvironment();

// Runs mashctl with `args` (without the program name). Machine output (--json, ids, hashes,
// pins) goes to `out`; errors go to `err`, one short line each, without secrets. Returns the exit
// code. Never throws.
int RunMashctl(const std::vector<std::string>& args, std::ostream& out, std::ostream& err,
               const Environment& env = DefaultEnvironment());

}  // namespace mash::cli
