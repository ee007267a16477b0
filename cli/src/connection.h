// What the mashctl commands that talk to the broker share (defined in mashctl.cc): the
// connection flags and environment, the client they make, and how a broker reply that is not a
// success becomes an exit code.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "mash/cli/api_client.h"
#include "mash/cli/mashctl.h"

namespace mash::cli {

struct ConnectionFlags {
  std::string broker;
  std::string ca;
  std::vector<std::string> crls;
  std::string token_file;
};

struct Context {
  std::ostream& out;
  std::ostream& err;
  const Environment& env;

  int Fail(int code, const std::string& message) const {
    err << "mashctl: " << message << "\n";
    return code;
  }
  int Fail(int code, const Status& status) const { return Fail(code, status.message()); }
};

// --broker, --ca, --crl and (with `token_file`) --token-file.
void AddConnectionOptions(CLI::App* app, ConnectionFlags* c, bool token_file = true);
// An environment variable, nullopt when unset or empty.
std::optional<std::string> FromEnv(const Environment& env, const std::string& name);
// Resolves the connection settings (flags first, then the environment) and builds the client;
// without `with_token` no token file is read and no bearer token is sent. Errors are usage or
// configuration problems (exit 2).
Result<std::unique_ptr<ApiClient>> Connect(const ConnectionFlags& flags, const Environment& env,
                                           bool with_token = true);
// One line on stderr and the exit code for a reply that is not a success.
int ReportHttpError(const Context& ctx, const HttpReply& reply, const std::string& what);
bool IsSuccess(const HttpReply& reply);
void PrintJson(std::ostream& out, const nlohmann::json& j);

}  // namespace mash::cli
