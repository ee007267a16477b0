// A development PKI in a temporary directory, made by certs/make-dev-pki.sh (see certs/README.md),
// for tests that need certificates: the broker's server chain, one client chain per agency, both
// CRLs and the CA pin, plus helpers to issue odd certificates, revoke, age the CRLs and make a
// rogue CA with the same names.
//
// Test code: Create() throws std::runtime_error when the script fails; the other operations
// return false (the script's messages go to stderr). Not thread-safe; one PKI per test is cheap
// (a few hundred milliseconds).
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "mash/crypto/tls.h"
#include "support/temp_dir.h"

namespace mash::testing {

class TestPki {
 public:
  // Runs `make-dev-pki.sh init` for `agencies` into a fresh temporary directory, removed with the
  // object. The broker certificate names `broker_name` and 127.0.0.1.
  static std::unique_ptr<TestPki> Create(
      std::vector<std::string> agencies = {"police", "social-care", "health", "education",
                                           "probation", "housing"},
      std::string broker_name = "localhost");

  TestPki(const TestPki&) = delete;
  TestPki& operator=(const TestPki&) = delete;

  const std::filesystem::path& dir() const { return dir_.path(); }
  std::filesystem::path root_ca() const { return dir() / "root-ca.pem"; }
  std::filesystem::path issuing_ca() const { return dir() / "issuing-ca.pem"; }
  // The root's CRL and the issuing CA's CRL, in that order.
  std::vector<std::filesystem::path> crls() const;
  std::filesystem::path broker_chain() const { return chain("broker"); }
  std::filesystem::path broker_key() const { return key("broker"); }
  std::filesystem::path agency_chain(const std::string& id) const { return chain("agency-" + id); }
  std::filesystem::path agency_key(const std::string& id) const { return key("agency-" + id); }
  // "sha256:<hex>" of the root CA's SubjectPublicKeyInfo (ca-pin.txt).
  const std::string& ca_pin() const { return ca_pin_; }
  const std::string& broker_name() const { return broker_name_; }

  // Files of any leaf by name (made by init, Issue or Rogue): NAME.pem (leaf then CA), NAME.key.
  std::filesystem::path chain(const std::string& name) const { return dir() / (name + ".pem"); }
  std::filesystem::path key(const std::string& name) const { return dir() / (name + ".key"); }
  // Files of a rogue PKI made by Rogue(name): its root CA and its CRLs (both in one file).
  std::filesystem::path rogue_ca(const std::string& name) const {
    return dir() / (name + "-ca.pem");
  }
  std::filesystem::path rogue_crl(const std::string& name) const {
    return dir() / (name + ".crl.pem");
  }

  // Issues a leaf from the issuing CA. profile: "client" or "server". Empty strings mean "not
  // given"; start/end are "YYYYMMDDHHMMSSZ" (see UtcTime). NAME must be new.
  bool Issue(const std::string& name, const std::string& profile, const std::string& agency = "",
             const std::string& dns = "", const std::string& start = "",
             const std::string& end = "");
  // Revokes a leaf (e.g. "agency-police") and rewrites both CRLs.
  bool Revoke(const std::string& name);
  // Rewrites both CRLs; empty means the default (now, now + 7 days).
  bool RegenerateCrl(const std::string& last_update = "", const std::string& next_update = "");
  // A separate root + issuing CA with the same subject names, and a leaf from it: a client leaf
  // for `agency` when given, else a server leaf for the broker name.
  bool Rogue(const std::string& name, const std::string& agency = "");

  // Options for the broker's agent hub: broker chain, client certificates required.
  crypto::TlsOptions ServerOptions() const;
  // Options for agency `agency_id`'s agent: its chain, the CA pin.
  crypto::TlsOptions ClientOptions(const std::string& agency_id) const;

  // "YYYYMMDDHHMMSSZ" (UTC) for `t`.
  static std::string UtcTime(std::chrono::system_clock::time_point t);

 private:
  explicit TestPki(std::string broker_name) : broker_name_(std::move(broker_name)) {}
  bool Run(const std::vector<std::string>& args);
  void TightenKeyModes() const;

  TempDir dir_{"mash-pki"};
  std::string broker_name_;
  std::string ca_pin_;
};

}  // namespace mash::testing
