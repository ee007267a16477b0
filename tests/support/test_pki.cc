#include "support/test_pki.h"

#include <spawn.h>
#include <sys/wait.h>
#include <time.h>

#include <cerrno>
#include <cstdio>
#include <fstream>
#include <stdexcept>
#include <system_error>

extern char** environ;

namespace mash::testing {
namespace {

constexpr char kScript[] = MASH_SOURCE_DIR "/certs/make-dev-pki.sh";
constexpr char kBash[] = "/bin/bash";

}  // namespace

std::unique_ptr<TestPki> TestPki::Create(std::vector<std::string> agencies,
                                         std::string broker_name) {
  std::unique_ptr<TestPki> pki(new TestPki(broker_name));
  std::vector<std::string> args = {"init", pki->dir().string(), "--broker-name", broker_name};
  args.insert(args.end(), agencies.begin(), agencies.end());
  if (!pki->Run(args)) throw std::runtime_error("make-dev-pki.sh init failed");
  std::ifstream pin(pki->dir() / "ca-pin.txt");
  if (!std::getline(pin, pki->ca_pin_) || pki->ca_pin_.empty()) {
    throw std::runtime_error("make-dev-pki.sh wrote no ca-pin.txt");
  }
  return pki;
}

std::vector<std::filesystem::path> TestPki::crls() const {
  return {dir() / "root.crl.pem", dir() / "issuing.crl.pem"};
}

bool TestPki::Issue(const std::string& name, const std::string& profile, const std::string& agency,
                    const std::string& dns, const std::string& start, const std::string& end) {
  std::vector<std::string> args = {"issue", dir().string(), "--name", name, "--profile", profile};
  if (!agency.empty()) args.insert(args.end(), {"--agency", agency});
  if (!dns.empty()) args.insert(args.end(), {"--dns", dns});
  if (!start.empty()) args.insert(args.end(), {"--start", start});
  if (!end.empty()) args.insert(args.end(), {"--end", end});
  return Run(args);
}

bool TestPki::Revoke(const std::string& name) { return Run({"revoke", dir().string(), name}); }

bool TestPki::RegenerateCrl(const std::string& last_update, const std::string& next_update) {
  std::vector<std::string> args = {"crl", dir().string()};
  if (!last_update.empty()) args.insert(args.end(), {"--last-update", last_update});
  if (!next_update.empty()) args.insert(args.end(), {"--next-update", next_update});
  return Run(args);
}

bool TestPki::Rogue(const std::string& name, const std::string& agency) {
  std::vector<std::string> args = {"rogue", dir().string(), "--name", name};
  if (!agency.empty()) args.insert(args.end(), {"--agency", agency});
  return Run(args);
}

crypto::TlsOptions TestPki::ServerOptions() const {
  crypto::TlsOptions o;
  o.role = crypto::TlsRole::kServer;
  o.ca_file = root_ca();
  o.crl_files = crls();
  o.cert_chain_file = broker_chain();
  o.key_file = broker_key();
  o.require_client_cert = true;
  return o;
}

crypto::TlsOptions TestPki::ClientOptions(const std::string& agency_id) const {
  crypto::TlsOptions o;
  o.role = crypto::TlsRole::kClient;
  o.ca_file = root_ca();
  o.crl_files = crls();
  o.cert_chain_file = agency_chain(agency_id);
  o.key_file = agency_key(agency_id);
  o.ca_pin = ca_pin_;
  return o;
}

std::string TestPki::UtcTime(std::chrono::system_clock::time_point t) {
  const time_t secs = std::chrono::system_clock::to_time_t(t);
  struct tm tm {};
  gmtime_r(&secs, &tm);
  char buf[32];
  const size_t n = strftime(buf, sizeof(buf), "%Y%m%d%H%M%SZ", &tm);
  return std::string(buf, n);
}

// The script runs without a shell in between (no quoting), under bash so that the executable
// bit of the checkout does not matter.
bool TestPki::Run(const std::vector<std::string>& args) {
  std::vector<std::string> argv_storage = {"bash", kScript};
  argv_storage.insert(argv_storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_storage) argv.push_back(a.data());
  argv.push_back(nullptr);

  pid_t pid = 0;
  const int rc = posix_spawn(&pid, kBash, nullptr, nullptr, argv.data(), environ);
  if (rc != 0) {
    std::fprintf(stderr, "TestPki: cannot run %s: %s\n", kScript,
                 std::generic_category().message(rc).c_str());
    return false;
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return false;
  }
  TightenKeyModes();
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::fprintf(stderr, "TestPki: %s %s failed (status %d)\n", kScript, args[0].c_str(), status);
    return false;
  }
  return true;
}

// The script writes with umask 077 already; this makes sure, since key loading refuses
// anything looser than 0600.
void TestPki::TightenKeyModes() const {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir(), ec)) {
    if (entry.path().extension() == ".key") {
      std::filesystem::permissions(
          entry.path(), std::filesystem::perms::owner_read | std::filesystem::perms::owner_write,
          std::filesystem::perm_options::replace, ec);
    }
  }
}

}  // namespace mash::testing
