// The `command` record connector (issue 5 item 2, docs/agent.md "Command connector"): for each
// query the agent runs a local program chosen by agency IT, writes the query to its stdin as one
// JSON object and reads the matching records from its stdout as one JSON document, so that any
// record system can be wired in with a small script.
//
// The program is started with posix_spawn (an argv array, no shell, no PATH lookup) in its own
// process group, with only PATH and LANG in its environment, stdin/stdout/stderr as its only
// open descriptors and default signal dispositions. The agent then, with non-blocking I/O and
// poll, writes the input, reads stdout up to `max_output_bytes`, and drains stderr (counted,
// never kept or logged: it could hold personal data). Whatever happens, the call ends within
// `timeout` (plus the time to kill and reap), and returns only after the program has been
// reaped and its process group killed: no zombie and no straggler is left.
//
// Blocking: Find blocks its caller for up to `timeout`. Thread safety: one Find at a time per
// connector; separate connectors are independent.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "mash/agent/record_source.h"
#include "mash/common/status.h"

namespace mash::agent {

struct CommandOptions {
  std::vector<std::string> argv;  // argv[0]: an absolute path to the program
  std::chrono::milliseconds timeout{5000};
  size_t max_output_bytes = 4 * 1024 * 1024;
};

// Limits of the output document (docs/agent.md); they follow the answer-body schema.
inline constexpr size_t kMaxCommandMatches = 64;
inline constexpr int kMaxCommandOutputDepth = 16;

// The JSON object written to the program's stdin: version, check_ref, purpose, level,
// categories, subject and household (schemas::Person JSON). No keys, no envelope.
nlohmann::json CommandInput(const schemas::QueryBody& query, const QueryContext& context);

// Parses and strictly validates the program's stdout (docs/agent.md): {"matches": [...]}.
// `subject` is the query's subject: a match without a "match" band is confirmed only when one of
// its identifiers equals the subject's (matched_on: those kinds), otherwise possible.
// InvalidArgument naming the failing place (e.g. "matches/0/categories/x/summary"), never a value.
Result<std::vector<SourceMatch>> ParseCommandOutput(std::string_view text,
                                                    const schemas::Person& subject);

class CommandConnector final : public RecordSource {
 public:
  // InvalidArgument: empty argv, argv[0] not absolute, a zero timeout or output limit.
  // NotFound: argv[0] is not an executable file (checked now; the program may still vanish).
  static Result<std::unique_ptr<CommandConnector>> Create(CommandOptions options);

  // Runs the program once for `query`. Errors (each logged as `records.command_failed` with the
  // check reference, the reason, the byte counts of stdout and stderr and the elapsed time):
  //   Unavailable        the program cannot be started, or exits non-zero or by a signal;
  //   DeadlineExceeded   it did not finish within the timeout (its process group is killed);
  //   ResourceExhausted  it wrote more than max_output_bytes to stdout (killed at once);
  //   InvalidArgument    its output is not one valid document (ParseCommandOutput);
  //   Internal           pipes or poll failed.
  Result<std::vector<SourceMatch>> Find(const schemas::QueryBody& query,
                                        const QueryContext& context) override;
  // The program's file name (argv[0] without its folder), at most 80 characters.
  std::string source() const override;

  // The process id of the last program started (0 if none); it has been reaped. For tests.
  pid_t last_pid() const { return last_pid_; }

 private:
  explicit CommandConnector(CommandOptions options) : options_(std::move(options)) {}

  CommandOptions options_;
  pid_t last_pid_ = 0;
};

}  // namespace mash::agent
