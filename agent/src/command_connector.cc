#include "mash/agent/command_connector.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <filesystem>
#include <optional>
#include <thread>
#include <utility>

#include "mash/common/log.h"
#include "mash/crypto/pseudonym.h"
#include "mash/schemas/validator.h"

namespace mash::agent {
namespace {

using SteadyClock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// The program's whole environment: nothing of the agent's (no proxy settings, no paths to keys).
constexpr const char* kEnvPath = "PATH=/usr/local/bin:/usr/bin:/bin";
constexpr const char* kEnvLang = "LANG=C.UTF-8";
constexpr size_t kReadChunk = 64 * 1024;
constexpr size_t kMaxSourceName = 80;

// Limits of the output document; those that reach the answer follow answer-body.schema.json.
constexpr size_t kMaxIdentifiers = 16;
constexpr size_t kMaxNameLength = 32;
constexpr size_t kMaxIdentifierValue = 64;
constexpr size_t kMaxMatchedOn = 16;
constexpr size_t kMaxCategories = 64;
constexpr size_t kMaxSummary = 4000;
constexpr size_t kMaxRecords = 200;
constexpr size_t kMaxRecordFields = 32;
constexpr size_t kMaxFieldName = 64;
constexpr size_t kMaxFieldValue = 4000;

// Owns one file descriptor.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { Close(); }
  int get() const { return fd_; }
  bool open() const { return fd_ >= 0; }
  void Close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  // Moves the descriptor above 2, so that dup2 onto 0, 1 and 2 in the child cannot clobber
  // another of its descriptors (the agent may run with a standard descriptor closed).
  bool LiftAboveStandard() {
    if (fd_ > 2) return true;
    const int lifted = ::fcntl(fd_, F_DUPFD_CLOEXEC, 3);
    if (lifted < 0) return false;
    Close();
    fd_ = lifted;
    return true;
  }

 private:
  int fd_ = -1;
};

bool SetNonBlocking(int fd) {
  const int flags = ::fcntl(fd, F_GETFL);
  return flags >= 0 && ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0;
}

// A started program, leader of its own process group. Whatever path leaves Find, the destructor
// kills the group and reaps the leader: no zombie, no straggler.
class Child {
 public:
  explicit Child(pid_t pid) : pid_(pid) {}
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  ~Child() {
    if (pid_ > 0) {
      KillGroup();
      (void)Reap();
    }
  }

  // Kills every process of the group. The leader is not reaped before this (it is at worst a
  // zombie), so the group id is still the program's and cannot name anyone else's processes.
  void KillGroup() const { ::kill(-pid_, SIGKILL); }

  // Waits until the leader has exited (without reaping it) or `deadline` passes.
  bool WaitExit(SteadyClock::time_point deadline) const {
    milliseconds pause{1};
    for (;;) {
      siginfo_t info{};
      const int rc = ::waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG | WNOWAIT);
      if (rc == 0 && info.si_pid == pid_) return true;
      if (rc < 0 && errno != EINTR) return true;  // not ours to wait for: Reap reports it
      const auto now = SteadyClock::now();
      if (now >= deadline) return false;
      std::this_thread::sleep_for(std::min<SteadyClock::duration>(pause, deadline - now));
      pause = std::min(pause * 2, milliseconds{20});
    }
  }

  // Reaps the leader: its wait status, or nullopt when it could not be had (ECHILD: SIGCHLD
  // ignored by the process, which reaps children itself).
  std::optional<int> Reap() {
    int status = 0;
    pid_t rc;
    do {
      rc = ::waitpid(pid_, &status, 0);
    } while (rc < 0 && errno == EINTR);
    pid_ = -1;
    if (rc < 0) return std::nullopt;
    return status;
  }

 private:
  pid_t pid_;
};

std::string DescribeExit(const std::optional<int>& status) {
  if (!status) return "exit status lost";
  if (WIFEXITED(*status)) return "exited with status " + std::to_string(WEXITSTATUS(*status));
  if (WIFSIGNALED(*status)) return "killed by signal " + std::to_string(WTERMSIG(*status));
  return "ended abnormally";
}

// ^[a-z][a-z0-9_]*$ with a length in [min, max].
bool IsName(const std::string& s, size_t min, size_t max) {
  if (s.size() < min || s.size() > max || s[0] < 'a' || s[0] > 'z') return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

bool IsDate(const std::string& s) {
  if (s.size() != 10) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    const bool dash = i == 4 || i == 7;
    if (dash ? s[i] != '-' : (s[i] < '0' || s[i] > '9')) return false;
  }
  return true;
}

Status Bad(const std::string& where, const std::string& what) {
  // Places are built from indexes only: nothing the program printed reaches the log.
  return InvalidArgument("command output " + where + ": " + what);
}

bool IsString(const nlohmann::json& v, size_t max) {
  return v.is_string() && v.get_ref<const std::string&>().size() <= max;
}

Result<CategoryRecords> ParseCategory(const nlohmann::json& body, const std::string& where) {
  if (!body.is_object()) return Bad(where, "must be an object");
  CategoryRecords c;
  for (const auto& [key, value] : body.items()) {
    if (key == "summary") {
      if (!IsString(value, kMaxSummary)) return Bad(where + "/summary", "bad summary");
      c.summary = value.get<std::string>();
    } else if (key == "latest") {
      if (!value.is_string()) return Bad(where + "/latest", "must be a string");
      c.latest = value.get<std::string>();
      if (!c.latest.empty() && !IsDate(c.latest)) return Bad(where + "/latest", "not YYYY-MM-DD");
    } else if (key == "records") {
      if (!value.is_array() || value.size() > kMaxRecords) {
        return Bad(where + "/records", "must be an array of at most 200 objects");
      }
      for (size_t i = 0; i < value.size(); ++i) {
        const std::string at = where + "/records/" + std::to_string(i);
        const auto& rec = value[i];
        if (!rec.is_object() || rec.size() > kMaxRecordFields) {
          return Bad(at, "must be an object of at most 32 fields");
        }
        for (const auto& [field, v] : rec.items()) {
          if (field.empty() || field.size() > kMaxFieldName) return Bad(at, "bad field name");
          const bool scalar =
              v.is_null() || v.is_boolean() || v.is_number() || IsString(v, kMaxFieldValue);
          if (!scalar) return Bad(at, "field values must be short strings, numbers, booleans");
        }
      }
      c.records = value;
    } else {
      return Bad(where, "unknown member");
    }
  }
  return c;
}

Result<SourceMatch> ParseMatch(const nlohmann::json& m, const std::string& where,
                               const schemas::Person& subject) {
  if (!m.is_object()) return Bad(where, "must be an object");
  SourceMatch out;
  bool has_band = false;
  bool has_matched_on = false;
  for (const auto& [key, value] : m.items()) {
    if (key == "identifiers") {
      if (!value.is_object() || value.size() > kMaxIdentifiers) {
        return Bad(where + "/identifiers", "must be an object of at most 16 strings");
      }
      for (const auto& [kind, id] : value.items()) {
        if (!IsName(kind, 1, kMaxNameLength) || !IsString(id, kMaxIdentifierValue)) {
          return Bad(where + "/identifiers", "bad identifier");
        }
        out.record.identifiers[kind] = crypto::NormaliseIdentifier(kind, id.get<std::string>());
      }
    } else if (key == "matched_on") {
      if (!value.is_array() || value.size() > kMaxMatchedOn) {
        return Bad(where + "/matched_on", "must be an array of at most 16 names");
      }
      for (const auto& name : value) {
        if (!name.is_string() || !IsName(name.get<std::string>(), 1, kMaxNameLength)) {
          return Bad(where + "/matched_on", "bad name");
        }
        out.matched_on.push_back(name.get<std::string>());
      }
      has_matched_on = true;
    } else if (key == "match") {
      if (value != "confirmed" && value != "possible") {
        return Bad(where + "/match", "must be confirmed or possible");
      }
      out.match = value.get<std::string>();
      has_band = true;
    } else if (key == "categories") {
      if (!value.is_object() || value.size() > kMaxCategories) {
        return Bad(where + "/categories", "must be an object of at most 64 categories");
      }
      size_t i = 0;
      for (const auto& [name, body] : value.items()) {
        const std::string at = where + "/categories/" + std::to_string(i++);
        if (!IsName(name, 2, 48)) return Bad(at, "bad category name");
        MASH_ASSIGN_OR_RETURN(CategoryRecords c, ParseCategory(body, at));
        out.record.categories.emplace(name, std::move(c));
      }
    } else {
      return Bad(where, "unknown member");
    }
  }
  if (!has_matched_on || !has_band) {
    // The identifiers that agree with the subject's, compared normalised as the fixture does.
    std::vector<std::string> agreed;
    for (const auto& [kind, value] : subject.identifiers) {
      const auto it = out.record.identifiers.find(kind);
      if (it != out.record.identifiers.end() && !it->second.empty() &&
          it->second == crypto::NormaliseIdentifier(kind, value)) {
        agreed.push_back(kind);
      }
    }
    // A program that does not say how sure it is gets "confirmed" only on an agreeing
    // identifier: anything else waits for the custodian.
    if (!has_band) out.match = agreed.empty() ? "possible" : "confirmed";
    if (!has_matched_on) out.matched_on = std::move(agreed);
  }
  return out;
}

}  // namespace

nlohmann::json CommandInput(const schemas::QueryBody& query, const QueryContext& context) {
  nlohmann::json household = nlohmann::json::array();
  for (const auto& p : query.household) household.push_back(p.ToJson());
  return {{"version", 1},
          {"check_ref", context.check_ref},
          {"purpose", context.purpose},
          {"level", query.level},
          {"categories", query.categories},
          {"subject", query.subject.ToJson()},
          {"household", std::move(household)}};
}

Result<std::vector<SourceMatch>> ParseCommandOutput(std::string_view text,
                                                    const schemas::Person& subject) {
  // Depth is checked before parsing; the parser itself never throws (allow_exceptions=false).
  auto doc = schemas::ParseJson(text, text.size(), kMaxCommandOutputDepth);
  if (!doc.ok()) return Bad("/", "not one well-formed JSON document");
  if (!doc->is_object()) return Bad("/", "must be an object");
  const nlohmann::json* matches = nullptr;
  for (const auto& [key, value] : doc->items()) {
    if (key != "matches") return Bad("/", "unknown member");
    matches = &value;
  }
  if (matches == nullptr) return Bad("/", "needs \"matches\"");
  // The published schema (schemas/connector/command-output.schema.json) as well as the checks
  // below, so that what integrators validate against is what the agent enforces.
  if (Status s = schemas::Validate("command-output", *doc); !s.ok()) {
    return InvalidArgument("command output: " + s.message());
  }
  if (!matches->is_array() || matches->size() > kMaxCommandMatches) {
    return Bad("/matches", "must be an array of at most 64 matches");
  }
  std::vector<SourceMatch> out;
  for (size_t i = 0; i < matches->size(); ++i) {
    MASH_ASSIGN_OR_RETURN(SourceMatch m,
                          ParseMatch((*matches)[i], "/matches/" + std::to_string(i), subject));
    out.push_back(std::move(m));
  }
  return out;
}

Result<std::unique_ptr<CommandConnector>> CommandConnector::Create(CommandOptions options) {
  if (options.argv.empty()) return InvalidArgument("records.command needs a program");
  for (const auto& arg : options.argv) {
    if (arg.find('\0') != std::string::npos) {
      return InvalidArgument("records.command arguments cannot hold NUL");
    }
  }
  const std::filesystem::path program(options.argv[0]);
  if (!program.is_absolute()) return InvalidArgument("records.command[0] must be absolute");
  if (options.timeout.count() <= 0) return InvalidArgument("command timeout must be positive");
  if (options.max_output_bytes == 0) return InvalidArgument("command output limit must be > 0");
  struct stat st {};
  if (::stat(program.c_str(), &st) != 0 || !S_ISREG(st.st_mode) ||
      ::access(program.c_str(), X_OK) != 0) {
    return NotFound("records.command[0] is not an executable file: " + program.string());
  }
  return std::unique_ptr<CommandConnector>(new CommandConnector(std::move(options)));
}

std::string CommandConnector::source() const {
  return std::filesystem::path(options_.argv[0]).filename().string().substr(0, kMaxSourceName);
}

Result<std::vector<SourceMatch>> CommandConnector::Find(const schemas::QueryBody& query,
                                                        const QueryContext& context) {
  const auto start = SteadyClock::now();
  const auto deadline = start + options_.timeout;
  size_t out_bytes = 0;
  size_t err_bytes = 0;
  const auto fail = [&](const Status& s) {
    const auto elapsed =
        std::chrono::duration_cast<milliseconds>(SteadyClock::now() - start).count();
    common::LogError("records.command_failed", {{"check", context.check_ref},
                                                {"reason", s.message()},
                                                {"stdout_bytes", out_bytes},
                                                {"stderr_bytes", err_bytes},
                                                {"elapsed_ms", elapsed}});
    return s;
  };

  // What the program reads follows the published schema (schemas/connector/).
  const nlohmann::json input_doc = CommandInput(query, context);
  if (Status s = schemas::Validate("command-input", input_doc); !s.ok()) return fail(s);
  const std::string input = input_doc.dump() + "\n";

  // stdin is a socket so that writing to a program that stopped reading fails with EPIPE
  // (MSG_NOSIGNAL) instead of raising SIGPIPE in the agent.
  int in_pair[2];
  int out_pipe[2];
  int err_pipe[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in_pair) != 0) {
    return fail(Internal("socketpair failed"));
  }
  Fd in_parent(in_pair[0]), in_child(in_pair[1]);
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) return fail(Internal("pipe failed"));
  Fd out_parent(out_pipe[0]), out_child(out_pipe[1]);
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) return fail(Internal("pipe failed"));
  Fd err_parent(err_pipe[0]), err_child(err_pipe[1]);
  if (!in_child.LiftAboveStandard() || !out_child.LiftAboveStandard() ||
      !err_child.LiftAboveStandard() || !SetNonBlocking(in_parent.get()) ||
      !SetNonBlocking(out_parent.get()) || !SetNonBlocking(err_parent.get())) {
    return fail(Internal("cannot set up the program's descriptors"));
  }

  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  if (posix_spawn_file_actions_init(&actions) != 0) return fail(Internal("spawn setup failed"));
  if (posix_spawnattr_init(&attr) != 0) {
    posix_spawn_file_actions_destroy(&actions);
    return fail(Internal("spawn setup failed"));
  }
  sigset_t no_signals;
  sigset_t default_signals;
  sigemptyset(&no_signals);
  sigfillset(&default_signals);
  sigdelset(&default_signals, SIGKILL);
  sigdelset(&default_signals, SIGSTOP);
  int setup = 0;
  setup |= posix_spawn_file_actions_adddup2(&actions, in_child.get(), STDIN_FILENO);
  setup |= posix_spawn_file_actions_adddup2(&actions, out_child.get(), STDOUT_FILENO);
  setup |= posix_spawn_file_actions_adddup2(&actions, err_child.get(), STDERR_FILENO);
  // Every other descriptor, CLOEXEC or not (a socket opened by a library without it).
  setup |= posix_spawn_file_actions_addclosefrom_np(&actions, 3);
  // Its own process group, so that a timeout kills whatever it started; no inherited mask or
  // ignored signals (an ignored SIGPIPE would let `yes | head` run forever).
  setup |= posix_spawnattr_setflags(
      &attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  setup |= posix_spawnattr_setpgroup(&attr, 0);
  setup |= posix_spawnattr_setsigmask(&attr, &no_signals);
  setup |= posix_spawnattr_setsigdefault(&attr, &default_signals);

  std::vector<char*> argv;
  for (const auto& arg : options_.argv) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  char* envp[] = {const_cast<char*>(kEnvPath), const_cast<char*>(kEnvLang), nullptr};
  pid_t pid = 0;
  const int spawned =
      setup != 0 ? EINVAL : posix_spawn(&pid, argv[0], &actions, &attr, argv.data(), envp);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (spawned != 0) {
    return fail(
        Unavailable("cannot start the records program (errno " + std::to_string(spawned) + ")"));
  }
  last_pid_ = pid;
  Child child(pid);
  // The child's ends: the program's EOF on stdout must not wait for the agent's copy.
  in_child.Close();
  out_child.Close();
  err_child.Close();

  size_t written = 0;
  std::string out;
  std::vector<char> buf(kReadChunk);
  const size_t max_out = options_.max_output_bytes;

  while (out_parent.open() || err_parent.open()) {
    const auto now = SteadyClock::now();
    if (now >= deadline) {
      return fail(DeadlineExceeded("records program timed out"));  // ~Child kills and reaps
    }
    pollfd fds[3];
    nfds_t n = 0;
    int in_i = -1, out_i = -1, err_i = -1;
    if (in_parent.open()) {
      in_i = static_cast<int>(n);
      fds[n++] = {in_parent.get(), POLLOUT, 0};
    }
    if (out_parent.open()) {
      out_i = static_cast<int>(n);
      fds[n++] = {out_parent.get(), POLLIN, 0};
    }
    if (err_parent.open()) {
      err_i = static_cast<int>(n);
      fds[n++] = {err_parent.get(), POLLIN, 0};
    }
    const auto wait = std::chrono::ceil<milliseconds>(deadline - now).count();
    const int ready = ::poll(fds, n, static_cast<int>(std::min<int64_t>(wait, INT_MAX)));
    if (ready < 0) {
      if (errno == EINTR) continue;
      return fail(Internal("poll failed"));
    }
    if (in_i >= 0 && fds[in_i].revents != 0) {
      const ssize_t w = ::send(in_parent.get(), input.data() + written, input.size() - written,
                               MSG_NOSIGNAL | MSG_DONTWAIT);
      if (w > 0) {
        written += static_cast<size_t>(w);
        if (written == input.size()) in_parent.Close();  // EOF: the query is complete
      } else if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        // The program closed its stdin: it need not read the query; its output decides.
        in_parent.Close();
      }
    }
    if (out_i >= 0 && fds[out_i].revents != 0) {
      // Never read more than one byte past the limit: that byte proves the limit was crossed.
      const size_t want = std::min(buf.size(), max_out - out.size() + 1);
      const ssize_t r = ::read(out_parent.get(), buf.data(), want);
      if (r > 0) {
        out_bytes += static_cast<size_t>(r);
        if (out.size() + static_cast<size_t>(r) > max_out) {
          return fail(ResourceExhausted("records program output exceeds " +
                                        std::to_string(max_out) + " bytes"));
        }
        out.append(buf.data(), static_cast<size_t>(r));
      } else if (r == 0) {
        out_parent.Close();
      } else if (errno != EAGAIN && errno != EINTR) {
        return fail(Internal("reading the program's stdout failed"));
      }
    }
    if (err_i >= 0 && fds[err_i].revents != 0) {
      // Drained and counted only: it may hold personal data.
      const ssize_t r = ::read(err_parent.get(), buf.data(), buf.size());
      if (r > 0) {
        err_bytes += static_cast<size_t>(r);
      } else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
        err_parent.Close();
      }
    }
  }
  in_parent.Close();

  // stdout and stderr are closed; the program must now exit, within the same deadline.
  if (!child.WaitExit(deadline)) return fail(DeadlineExceeded("records program timed out"));
  child.KillGroup();  // anything it left running in its group
  const std::optional<int> status = child.Reap();
  if (!status || !WIFEXITED(*status) || WEXITSTATUS(*status) != 0) {
    return fail(Unavailable("records program " + DescribeExit(status)));
  }
  auto matches = ParseCommandOutput(out, query.subject);
  if (!matches.ok()) return fail(matches.status());
  const auto elapsed = std::chrono::duration_cast<milliseconds>(SteadyClock::now() - start).count();
  common::LogDebug("records.command_done", {{"check", context.check_ref},
                                            {"matches", matches->size()},
                                            {"stdout_bytes", out_bytes},
                                            {"stderr_bytes", err_bytes},
                                            {"elapsed_ms", elapsed}});
  if (err_bytes > 0) {
    common::LogInfo("records.command_stderr",
                    {{"check", context.check_ref}, {"stderr_bytes", err_bytes}});
  }
  return matches;
}

}  // namespace mash::agent
