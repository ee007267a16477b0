// `mashctl user …`: staff accounts at the hub (docs/mashctl.md §user, broker
// /api/v1/users, /api/v1/tokens). `add`, `disable`, `reset` and `list` need an admin's bearer
// token; `token` authenticates with the user's password instead and writes their personal token.
// Passwords are read only from private files (never argv, which other users can see in ps), and
// one-time passwords and tokens are written only to new 0600 files or, for one-time passwords
// without --out, printed once.
#include <CLI/CLI.hpp>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "command_group.h"
#include "connection.h"
#include "mash/common/clock.h"
#include "mash/common/private_file.h"
#include "mash/crypto/secure_memory.h"

namespace mash::cli {
namespace {

using nlohmann::json;

constexpr char kUsersPath[] = "/api/v1/users";
constexpr size_t kMaxPasswordFileBytes = 1024;

void Wipe(std::string& s) {
  crypto::Wipe({reinterpret_cast<uint8_t*>(s.data()), s.size()});
  s.clear();
}

// A password from a private file: one line; the line end is not part of it.
Result<std::string> ReadPasswordFile(const std::string& path) {
  auto text = common::ReadPrivateFile(path, kMaxPasswordFileBytes);
  if (!text.ok()) return text.status().WithContext("password file");
  std::string& p = *text;
  while (!p.empty() && (p.back() == '\n' || p.back() == '\r')) p.pop_back();
  if (p.empty() || p.find('\n') != std::string::npos) {
    Wipe(p);
    return InvalidArgument("password file " + path + " must hold one non-empty line");
  }
  return std::move(p);
}

bool Exists(const std::string& path) {
  std::error_code ec;
  return std::filesystem::exists(std::filesystem::symlink_status(path, ec));
}

std::string Text(const json& body, const char* name) {
  const auto it = body.find(name);
  return it != body.end() && it->is_string() ? it->get<std::string>() : "";
}

class UserCommands final : public CommandGroup {
 public:
  explicit UserCommands(const Environment& env) : env_(env) {}

  void Register(CLI::App& app) override {
    auto* user = app.add_subcommand("user", "staff accounts at the hub");
    user->require_subcommand(1);

    add_ = user->add_subcommand(
        "add",
        "(admin) add a staff account; the broker makes a one-time password (valid 72 h) that "
        "the user can only use to set their own password (mashctl user token)");
    add_->add_option("--user", user_, "user id, ^[a-z0-9][a-z0-9._-]{1,63}$")->required();
    add_->add_option("--name", name_, "display name")->required();
    add_->add_option("--role", role_, "role")
        ->required()
        ->check(CLI::IsMember(
            {"practitioner", "manager", "custodian", "ig_officer", "dpo", "agency_it", "admin"}));
    add_->add_option("--team", team_, "team, ^[a-z0-9][a-z0-9_.-]{0,63}$")->required();
    add_->add_option("--out", out_, "write the one-time password to this new file (0600)")
        ->type_name("FILE");
    AddConnectionOptions(add_, &conn_);

    disable_ = user->add_subcommand(
        "disable", "(admin) disable an account; its sessions and tokens stop working");
    disable_->add_option("--user", user_, "user id")->required();
    AddConnectionOptions(disable_, &conn_);

    reset_ = user->add_subcommand(
        "reset",
        "(admin) a new one-time password for an account: clears a lock and revokes its sessions "
        "and tokens");
    reset_->add_option("--user", user_, "user id")->required();
    reset_->add_option("--out", out_, "write the one-time password to this new file (0600)")
        ->type_name("FILE");
    AddConnectionOptions(reset_, &conn_);

    list_ = user->add_subcommand("list", "(admin) list the staff accounts");
    list_->add_flag("--json", json_, "print the broker's JSON");
    AddConnectionOptions(list_, &conn_);

    token_ = user->add_subcommand(
        "token",
        "get a personal API token with your password and write it to a new file (0600) for "
        "--token-file; with a one-time password, --new-password-file sets your password");
    token_->add_option("--user", user_, "your user id")->required();
    token_
        ->add_option("--password-file", password_file_,
                     "file (0600) holding your password or one-time password")
        ->required();
    token_->add_option("--new-password-file", new_password_file_,
                       "file (0600) holding the new password (12-256 characters)");
    token_->add_option("--out", out_, "the token file to write (new, 0600)")->required();
    token_->add_option("--days", days_, "token lifetime in days (default 90)")
        ->check(CLI::Range(1, 365));
    token_->add_option("--label", label_, "a note on what the token is for");
    token_->add_flag("--force", force_, "replace an existing token file");
    AddConnectionOptions(token_, &conn_, /*token_file=*/false);  // the password authenticates
  }

  std::optional<int> RunIfChosen(std::ostream& out, std::ostream& err) override {
    const Context ctx{out, err, env_};
    if (add_->parsed()) return Add(ctx);
    if (disable_->parsed()) return Disable(ctx);
    if (reset_->parsed()) return Reset(ctx);
    if (list_->parsed()) return List(ctx);
    if (token_->parsed()) return Token(ctx);
    return std::nullopt;
  }

 private:
  // Prints a one-time password from `body`, or writes it to --out.
  int DeliverOneTimePassword(const Context& ctx, json& body, const std::string& what) {
    std::string password = Text(body, "one_time_password");
    if (password.empty()) {
      return ctx.Fail(kExitConnection, "the broker's reply holds no one-time password");
    }
    const std::string expires = Text(body, "expires_at");
    if (!out_.empty()) {
      const Status s = common::WritePrivateFile(out_, password + "\n", /*overwrite=*/false);
      Wipe(password);
      if (!s.ok()) {
        return ctx.Fail(kExitUsage,
                        s.message() + " (the password is lost; run user reset for a new one)");
      }
      ctx.out << what << ": one-time password written to " << out_ << " (mode 0600); valid until "
              << expires << "\n";
    } else {
      ctx.out << what << ": one-time password " << password << " (valid until " << expires
              << "; it is shown once)\n";
      Wipe(password);
    }
    ctx.out << "The user runs: mashctl user token --user " << user_
            << " --password-file FILE --new-password-file NEWFILE --out TOKENFILE\n";
    return kExitOk;
  }

  int Add(const Context& ctx) {
    if (!out_.empty() && Exists(out_)) {
      return ctx.Fail(kExitUsage, out_ + " already exists; the password goes to a new file");
    }
    auto client = Connect(conn_, env_);
    if (!client.ok()) return ctx.Fail(kExitUsage, client.status());
    auto reply = (*client)->Post(
        kUsersPath, json{{"user", user_}, {"name", name_}, {"role", role_}, {"team", team_}});
    if (!reply.ok()) return ctx.Fail(kExitConnection, reply.status());
    if (!IsSuccess(*reply)) return ReportHttpError(ctx, *reply, "user add");
    return DeliverOneTimePassword(ctx, reply->body, "user " + user_ + " added");
  }

  int Reset(const Context& ctx) {
    if (!out_.empty() && Exists(out_)) {
      return ctx.Fail(kExitUsage, out_ + " already exists; the password goes to a new file");
    }
    auto client = Connect(conn_, env_);
    if (!client.ok()) return ctx.Fail(kExitUsage, client.status());
    auto reply = (*client)->Post(std::string(kUsersPath) + "/reset", json{{"user", user_}});
    if (!reply.ok()) return ctx.Fail(kExitConnection, reply.status());
    if (!IsSuccess(*reply)) return ReportHttpError(ctx, *reply, "user reset");
    return DeliverOneTimePassword(ctx, reply->body, "user " + user_ + " reset");
  }

  int Disable(const Context& ctx) {
    auto client = Connect(conn_, env_);
    if (!client.ok()) return ctx.Fail(kExitUsage, client.status());
    auto reply = (*client)->Post(std::string(kUsersPath) + "/disable", json{{"user", user_}});
    if (!reply.ok()) return ctx.Fail(kExitConnection, reply.status());
    if (!IsSuccess(*reply)) return ReportHttpError(ctx, *reply, "user disable");
    ctx.out << "user " << user_ << " disabled; their sessions and tokens no longer work\n";
    return kExitOk;
  }

  int List(const Context& ctx) {
    auto client = Connect(conn_, env_);
    if (!client.ok()) return ctx.Fail(kExitUsage, client.status());
    auto reply = (*client)->Get(kUsersPath);
    if (!reply.ok()) return ctx.Fail(kExitConnection, reply.status());
    if (!IsSuccess(*reply)) return ReportHttpError(ctx, *reply, "user list");
    const json& body = reply->body;
    if (json_) {
      PrintJson(ctx.out, body);
      return kExitOk;
    }
    if (!body.contains("users") || !body["users"].is_array()) {
      return ctx.Fail(kExitConnection, "the broker's reply holds no user list");
    }
    for (const auto& u : body["users"]) {
      std::string state = "active";
      if (u.value("disabled", false)) {
        state = "disabled";
      } else if (!Text(u, "locked_until").empty()) {
        state = "locked until " + Text(u, "locked_until");
      } else if (u.value("one_time_password", false)) {
        state = "one-time password not yet used";
      }
      ctx.out << Text(u, "user") << "  " << Text(u, "role") << "  "
              << (Text(u, "team").empty() ? "-" : Text(u, "team")) << "  " << state << "  "
              << Text(u, "name") << "\n";
    }
    return kExitOk;
  }

  int Token(const Context& ctx) {
    if (!force_ && Exists(out_)) {
      return ctx.Fail(kExitUsage, out_ + " already exists (use --force to replace it)");
    }
    auto password = ReadPasswordFile(password_file_);
    if (!password.ok()) return ctx.Fail(kExitUsage, password.status());
    json body = {{"user", user_}, {"password", *password}};
    Wipe(*password);
    if (!new_password_file_.empty()) {
      auto new_password = ReadPasswordFile(new_password_file_);
      if (!new_password.ok()) return ctx.Fail(kExitUsage, new_password.status());
      body["new_password"] = *new_password;
      Wipe(*new_password);
    }
    if (days_ > 0) body["days"] = days_;
    if (!label_.empty()) body["label"] = label_;
    auto client = Connect(conn_, env_, /*with_token=*/false);
    if (!client.ok()) return ctx.Fail(kExitUsage, client.status());
    auto reply = (*client)->Post("/api/v1/tokens", body);
    for (auto& [name, value] : body.items()) {
      if (value.is_string()) Wipe(value.get_ref<std::string&>());
    }
    if (!reply.ok()) return ctx.Fail(kExitConnection, reply.status());
    if (reply->status == 401) {
      return ctx.Fail(kExitUsage,
                      "user token: the broker refused the user id or password (a wrong or "
                      "expired password, or a locked or disabled account)");
    }
    if (!IsSuccess(*reply)) return ReportHttpError(ctx, *reply, "user token");
    std::string token = Text(reply->body, "token");
    if (token.empty()) return ctx.Fail(kExitConnection, "the broker's reply holds no token");
    const Status s = common::WritePrivateFile(out_, token + "\n", force_);
    Wipe(token);
    if (!s.ok()) return ctx.Fail(kExitUsage, s.message() + " (the token is lost; run again)");
    ctx.out << "personal token written to " << out_ << " (mode 0600); valid until "
            << Text(reply->body, "expires_at") << "; use it with --token-file " << out_ << "\n";
    return kExitOk;
  }

  const Environment& env_;
  CLI::App* add_ = nullptr;
  CLI::App* disable_ = nullptr;
  CLI::App* reset_ = nullptr;
  CLI::App* list_ = nullptr;
  CLI::App* token_ = nullptr;
  ConnectionFlags conn_;
  std::string user_;
  std::string name_;
  std::string role_;
  std::string team_;
  std::string out_;
  std::string password_file_;
  std::string new_password_file_;
  std::string label_;
  int days_ = 0;
  bool json_ = false;
  bool force_ = false;
};

}  // namespace

std::unique_ptr<CommandGroup> MakeUserCommands(const Environment& env) {
  return std::make_unique<UserCommands>(env);
}

}  // namespace mash::cli
