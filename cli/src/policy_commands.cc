// `mashctl policy …`: the DPO's tools for sharing policies (docs/mashctl.md, docs/policy.md).
//
//   validate  check policy files (structure, vocabulary, rules that can never match)
//   test      run the policy's test cases (NAME.tests.toml), optionally with rule coverage
//   explain   evaluate one request and print the decision with its reasons
//   diff      compare two versions: rules changed, decisions that change
//   sign      make or extend a signed bundle with a DPO key
//   verify    check a bundle's version and signatures
//   publish   keep a signed bundle in a policy store, as shadow or enforced
//   history   list the store's publications
//
// Exit codes: 0 ok; 1 the check failed (invalid policy in validate, failing test, bad signature
// in verify); 2 usage or configuration (bad flags, unreadable or invalid files, refused bundle).
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <optional>

#include "command_group.h"
#include "mash/cli/mashctl.h"
#include "mash/common/clock.h"
#include "mash/crypto/keys.h"
#include "mash/policy/bundle.h"
#include "mash/policy/evaluator.h"
#include "mash/policy/store.h"
#include "mash/policy/test_runner.h"
#include "mash/policy/time_text.h"

namespace mash::cli {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using policy::Decision;
using policy::Diagnostic;

constexpr size_t kMaxRequestsBytes = 16 * 1024 * 1024;

struct Io {
  std::ostream& out;
  std::ostream& err;
  int Fail(int code, const std::string& message) const {
    err << "mashctl: " << message << "\n";
    return code;
  }
};

int64_t NowUnix() { return common::SystemClock().NowUnix(); }

Result<int64_t> TimeFlag(const std::string& text) {
  if (text.empty()) return NowUnix();
  auto t = policy::ParseTime(text);
  if (!t) return InvalidArgument("--at/--now: not a time: " + text + " (use 2026-11-22T10:00:00Z)");
  return *t;
}

Result<std::vector<crypto::SigningPublicKey>> LoadKeys(const std::vector<std::string>& files) {
  std::vector<crypto::SigningPublicKey> keys;
  for (const auto& f : files) {
    auto k = crypto::LoadSigningPublicKey(f);
    if (!k.ok()) return k.status().WithContext(f);
    keys.push_back(*k);
  }
  return keys;
}

json DecisionJson(const Decision& d) {
  return {{"effect", policy::EffectName(d.effect)}, {"level", d.level},
          {"deciding_rule", d.deciding_rule},       {"matching_rules", d.matching_rules},
          {"obligations", d.obligations},           {"reasons", d.reasons},
          {"policy_version", d.policy_version}};
}

void PrintDecision(std::ostream& out, const Decision& d) { out << policy::FormatDecision(d); }

void PrintDiagnostics(std::ostream& err, const std::vector<Diagnostic>& diags) {
  for (const auto& d : diags) err << d.ToString() << "\n";
}

json DiagnosticsJson(const std::vector<Diagnostic>& diags) {
  json a = json::array();
  for (const auto& d : diags) {
    a.push_back({{"file", d.position.file},
                 {"line", d.position.line},
                 {"column", d.position.column},
                 {"severity", d.severity == Diagnostic::Severity::kError ? "error" : "warning"},
                 {"message", d.message}});
  }
  return a;
}

// A policy from a file: TOML source or bundle JSON (verified when keys are given).
Result<policy::LoadedPolicy> LoadAny(const std::string& path,
                                     const std::vector<crypto::SigningPublicKey>& keys) {
  return policy::LoadPolicy(path, keys);
}

// ---- validate ----
struct ValidateCmd {
  CLI::App* app = nullptr;
  std::vector<std::string> files;
  std::string now;
  bool strict = false;
  bool json = false;
};

int RunValidate(const Io& io, const ValidateCmd& c) {
  auto now = TimeFlag(c.now);
  if (!now.ok()) return io.Fail(kExitUsage, now.status().message());
  policy::ParseOptions options;
  options.now = *now;
  int rc = kExitOk;
  json results = json::array();
  for (const auto& f : c.files) {
    auto text = policy::ReadSmallFile(f, policy::kMaxPolicyBytes);
    if (!text.ok()) return io.Fail(kExitUsage, text.status().message());
    const policy::ParseOutcome out = policy::ParsePolicy(*text, f, options);
    const bool warned = !out.diagnostics.empty();
    const bool ok = out.ok() && !(c.strict && warned);
    if (!ok) rc = kExitCheckFailed;
    if (c.json) {
      json r = {{"file", f}, {"valid", ok}, {"diagnostics", DiagnosticsJson(out.diagnostics)}};
      if (out.ok()) {
        r["version"] = out.policy->version;
        r["id"] = out.policy->id;
        r["rules"] = out.policy->rules.size();
      }
      results.push_back(r);
    } else {
      PrintDiagnostics(io.err, out.diagnostics);
      if (out.ok()) {
        io.out << f << ": " << (ok ? "valid" : "warnings (--strict)") << ", "
               << policy::PolicyKindName(out.policy->kind) << " '" << out.policy->id << "', "
               << out.policy->rules.size() << " rules, version " << out.policy->version << "\n";
      } else {
        io.out << f << ": invalid\n";
      }
    }
  }
  if (c.json) io.out << results.dump(2) << "\n";
  return rc;
}

// ---- test ----
struct TestCmd {
  CLI::App* app = nullptr;
  std::string file;
  std::vector<std::string> tests;
  bool coverage = false;
  bool json = false;
};

fs::path DefaultTestsFile(const fs::path& policy_file) {
  fs::path p = policy_file;
  p.replace_extension(".tests.toml");
  return p;
}

Result<std::vector<policy::TestCase>> LoadCases(const std::vector<std::string>& files,
                                                int64_t default_time) {
  std::vector<policy::TestCase> cases;
  for (const auto& f : files) {
    MASH_ASSIGN_OR_RETURN(std::string text, policy::ReadSmallFile(f, kMaxRequestsBytes));
    if (fs::path(f).extension() == ".jsonl") {
      int n = 0;
      size_t start = 0;
      while (start < text.size()) {
        size_t end = text.find('\n', start);
        if (end == std::string::npos) end = text.size();
        const std::string line = text.substr(start, end - start);
        start = end + 1;
        ++n;
        if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
        const json j = json::parse(line, nullptr, false);
        if (!j.is_object()) return InvalidArgument(f + ":" + std::to_string(n) + ": not JSON");
        policy::TestCase tc;
        tc.name = f + ":" + std::to_string(n);
        auto s = [&](const char* k) {
          return j.contains(k) && j[k].is_string() ? j[k].get<std::string>() : "";
        };
        tc.request.role = s("role");
        tc.request.purpose = s("purpose");
        tc.request.lawful_basis = s("lawful_basis");
        tc.request.consent_state = j.contains("consent") ? s("consent") : s("consent_state");
        tc.request.override_ground = s("override_ground");
        tc.request.urgency = s("urgency");
        tc.request.agency = s("agency");
        tc.request.category = s("category");
        tc.request.level =
            j.contains("level") && j["level"].is_number_integer() ? j["level"].get<int>() : 1;
        tc.time_unix = default_time;
        if (!s("at").empty()) {
          auto t = policy::ParseTime(s("at"));
          if (!t) return InvalidArgument(f + ":" + std::to_string(n) + ": bad 'at'");
          tc.time_unix = *t;
        }
        cases.push_back(std::move(tc));
      }
      continue;
    }
    policy::TestFileOutcome parsed = policy::ParseTestFile(text, f, default_time);
    if (!parsed.ok()) {
      std::string msg;
      for (const auto& d : parsed.diagnostics) msg += (msg.empty() ? "" : "\n") + d.ToString();
      return InvalidArgument(msg);
    }
    for (auto& tc : parsed.cases) cases.push_back(std::move(tc));
  }
  return cases;
}

int RunTest(const Io& io, const TestCmd& c) {
  auto loaded = LoadAny(c.file, {});
  if (!loaded.ok()) return io.Fail(kExitUsage, loaded.status().message());
  std::vector<std::string> files = c.tests;
  if (files.empty()) files.push_back(DefaultTestsFile(c.file).string());
  auto cases = LoadCases(files, NowUnix());
  if (!cases.ok()) return io.Fail(kExitUsage, cases.status().message());
  const policy::Policy& p = loaded->policy;
  const policy::TestReport report = policy::RunTests(p, *cases);
  if (c.json) {
    json results = json::array();
    for (const auto& r : report.results) {
      results.push_back({{"name", r.test->name},
                         {"position", r.test->position.ToString()},
                         {"passed", r.passed},
                         {"failures", r.failures},
                         {"decision", DecisionJson(r.decision)}});
    }
    json j = {{"policy", p.id},
              {"version", p.version},
              {"passed", report.passed},
              {"failed", report.failed},
              {"cases", results}};
    if (c.coverage) {
      j["uncovered_rules"] = report.uncovered_rules;
      j["rules"] = p.rules.size();
    }
    io.out << j.dump(2) << "\n";
  } else {
    for (const auto& r : report.results) {
      if (r.passed) continue;
      io.out << "FAIL " << r.test->position.ToString() << ": " << r.test->name << "\n";
      for (const auto& f : r.failures) io.out << "     " << f << "\n";
      for (const auto& reason : r.decision.reasons) io.out << "     reason: " << reason << "\n";
    }
    io.out << p.id << ": " << report.passed << " passed, " << report.failed << " failed\n";
    if (c.coverage) {
      const size_t covered = p.rules.size() - report.uncovered_rules.size();
      io.out << "coverage: " << covered << "/" << p.rules.size() << " rules exercised\n";
      for (const auto& id : report.uncovered_rules) {
        io.out << "  not exercised: rule '" << id << "'\n";
      }
    }
  }
  return report.failed == 0 ? kExitOk : kExitCheckFailed;
}

// ---- explain ----
struct ExplainCmd {
  CLI::App* app = nullptr;
  std::string file;
  std::string store;
  std::string request_file;
  std::string at;
  std::vector<std::string> keys;
  policy::Request request;
  CLI::Option* level_opt = nullptr;
  int level = 1;
  bool json = false;
};

int RunExplain(const Io& io, ExplainCmd& c) {
  auto at = TimeFlag(c.at);
  if (!at.ok()) return io.Fail(kExitUsage, at.status().message());
  auto keys = LoadKeys(c.keys);
  if (!keys.ok()) return io.Fail(kExitUsage, keys.status().message());
  if (c.file.empty() == c.store.empty()) {
    return io.Fail(kExitUsage, "give a policy file or --store DIR (one of them)");
  }
  std::optional<policy::LoadedPolicy> loaded;
  if (!c.store.empty()) {
    auto store = policy::PolicyStore::Open(c.store, false);
    if (!store.ok()) return io.Fail(kExitUsage, store.status().message());
    auto version = store->VersionAt(*at);
    if (!version.ok()) {
      return io.Fail(kExitUsage, version.status().message() + " (" + policy::FormatTime(*at) + ")");
    }
    auto l = store->Load(*version, *keys);
    if (!l.ok()) return io.Fail(kExitUsage, l.status().message());
    loaded = std::move(*l);
  } else {
    auto l = LoadAny(c.file, *keys);
    if (!l.ok()) return io.Fail(kExitUsage, l.status().message());
    loaded = std::move(*l);
  }
  policy::Request request = c.request;
  if (!c.request_file.empty()) {
    auto text = policy::ReadSmallFile(c.request_file, 64 * 1024);
    if (!text.ok()) return io.Fail(kExitUsage, text.status().message());
    auto parsed = policy::ParseRequestToml(*text, c.request_file);
    if (!parsed.ok()) return io.Fail(kExitUsage, parsed.status().message());
    request = parsed->first;
    if (parsed->second && c.at.empty()) *at = *parsed->second;
  }
  if (c.level_opt->count() > 0) request.level = c.level;
  const Decision d = policy::Evaluate(loaded->policy, request, *at, policy::EvaluateOptions{true});
  if (c.json) {
    json j = DecisionJson(d);
    j["at"] = policy::FormatTime(*at);
    j["policy"] = loaded->policy.id;
    io.out << j.dump(2) << "\n";
  } else {
    io.out << "policy " << loaded->policy.id << " at " << policy::FormatTime(*at) << "\n";
    PrintDecision(io.out, d);
  }
  return kExitOk;
}

// ---- diff ----
struct DiffCmd {
  CLI::App* app = nullptr;
  std::string before;
  std::string after;
  std::string store;
  std::vector<std::string> requests;
  std::vector<std::string> keys;
  bool json = false;
};

Result<policy::LoadedPolicy> LoadVersionOrFile(const std::string& what, const std::string& store,
                                               const std::vector<crypto::SigningPublicKey>& keys) {
  if (what.rfind("sha256:", 0) == 0) {
    if (store.empty()) return InvalidArgument("a version id needs --store DIR");
    MASH_ASSIGN_OR_RETURN(policy::PolicyStore s, policy::PolicyStore::Open(store, false));
    return s.Load(what, keys);
  }
  return LoadAny(what, keys);
}

int RunDiff(const Io& io, const DiffCmd& c) {
  auto keys = LoadKeys(c.keys);
  if (!keys.ok()) return io.Fail(kExitUsage, keys.status().message());
  auto a = LoadVersionOrFile(c.before, c.store, *keys);
  if (!a.ok()) return io.Fail(kExitUsage, a.status().message());
  auto b = LoadVersionOrFile(c.after, c.store, *keys);
  if (!b.ok()) return io.Fail(kExitUsage, b.status().message());
  auto cases = LoadCases(c.requests, NowUnix());
  if (!cases.ok()) return io.Fail(kExitUsage, cases.status().message());
  const policy::PolicyDiff diff = policy::DiffPolicies(a->policy, b->policy, *cases);
  auto kind = [](policy::RuleChange::Kind k) {
    return k == policy::RuleChange::Kind::kAdded     ? "added"
           : k == policy::RuleChange::Kind::kRemoved ? "removed"
                                                     : "changed";
  };
  if (c.json) {
    json rules = json::array();
    for (const auto& r : diff.rules)
      rules.push_back({{"rule", r.rule_id}, {"change", kind(r.kind)}});
    json decisions = json::array();
    for (const auto& d : diff.decisions) {
      decisions.push_back(
          {{"name", d.name}, {"before", DecisionJson(d.before)}, {"after", DecisionJson(d.after)}});
    }
    io.out << json{{"before", a->policy.version},
                   {"after", b->policy.version},
                   {"header_changes", diff.header_changes},
                   {"rules", rules},
                   {"requests", cases->size()},
                   {"decisions", decisions}}
                  .dump(2)
           << "\n";
    return kExitOk;
  }
  io.out << "before: " << a->policy.version << "\nafter:  " << b->policy.version << "\n";
  for (const auto& h : diff.header_changes) io.out << "changed: " << h << "\n";
  for (const auto& r : diff.rules) io.out << kind(r.kind) << ": rule '" << r.rule_id << "'\n";
  if (diff.header_changes.empty() && diff.rules.empty()) io.out << "no rule changes\n";
  if (!c.requests.empty()) {
    io.out << diff.decisions.size() << " of " << cases->size()
           << " recorded requests decide differently\n";
    for (const auto& d : diff.decisions) {
      auto brief = [](const Decision& x) {
        std::string s(policy::EffectName(x.effect));
        if (x.effect == policy::Effect::kPermit) s += " level " + std::to_string(x.level);
        s += " by " + (x.deciding_rule.empty() ? std::string("default") : x.deciding_rule);
        return s;
      };
      io.out << "  " << d.name << ": " << brief(d.before) << " -> " << brief(d.after) << "\n";
    }
  }
  return kExitOk;
}

// ---- sign / verify ----
struct SignCmd {
  CLI::App* app = nullptr;
  std::string file;
  std::string key;
  std::string out;
};

int RunSign(const Io& io, const SignCmd& c) {
  auto key = crypto::LoadSigningKey(c.key);
  if (!key.ok()) return io.Fail(kExitUsage, key.status().message());
  auto text = policy::ReadSmallFile(c.file, 4 * policy::kMaxPolicyBytes);
  if (!text.ok()) return io.Fail(kExitUsage, text.status().message());
  policy::Bundle bundle;
  fs::path out = c.out;
  if (fs::path(c.file).extension() == ".json") {
    auto b = policy::Bundle::FromJson(*text);
    if (!b.ok()) return io.Fail(kExitUsage, b.status().message());
    // The signer vouches for what the source means: check it before signing.
    auto checked = policy::VerifyBundle(*b, {});
    if (!checked.ok()) return io.Fail(kExitUsage, checked.status().message());
    bundle = std::move(*b);
    if (out.empty()) out = c.file;
  } else {
    auto b = policy::MakeBundle(*text, fs::path(c.file).filename().string());
    if (!b.ok()) return io.Fail(kExitUsage, b.status().message());
    bundle = std::move(*b);
    if (out.empty()) {
      out = c.file;
      out.replace_extension(".bundle.json");
    }
  }
  policy::SignBundle(bundle, *key);
  if (Status s = policy::WriteFileAtomically(out, bundle.ToJson()); !s.ok()) {
    return io.Fail(kExitUsage, s.message());
  }
  io.out << out.string() << "\n" << bundle.version << "\n";
  return kExitOk;
}

struct VerifyCmd {
  CLI::App* app = nullptr;
  std::string file;
  std::vector<std::string> keys;
  bool json = false;
};

int RunVerify(const Io& io, const VerifyCmd& c) {
  auto keys = LoadKeys(c.keys);
  if (!keys.ok()) return io.Fail(kExitUsage, keys.status().message());
  if (keys->empty()) return io.Fail(kExitUsage, "give at least one --trusted-key");
  auto loaded = LoadAny(c.file, *keys);
  if (!loaded.ok()) {
    if (loaded.status().code() == StatusCode::kNotFound) {
      return io.Fail(kExitUsage, loaded.status().message());
    }
    if (c.json) {
      io.out << json{{"file", c.file}, {"verified", false}, {"error", loaded.status().message()}}
                    .dump(2)
             << "\n";
    }
    return io.Fail(kExitCheckFailed, loaded.status().message());
  }
  if (c.json) {
    io.out << json{{"file", c.file},
                   {"verified", true},
                   {"version", loaded->policy.version},
                   {"signers", loaded->signers}}
                  .dump(2)
           << "\n";
  } else {
    io.out << c.file << ": verified, version " << loaded->policy.version << ", signed by";
    for (const auto& s : loaded->signers) io.out << " " << s;
    io.out << "\n";
  }
  return kExitOk;
}

// ---- publish / history ----
struct PublishCmd {
  CLI::App* app = nullptr;
  std::string file;
  std::string store;
  std::string mode;
  std::string at;
  std::vector<std::string> keys;
  bool allow_unsigned = false;
  bool json = false;
};

int RunPublish(const Io& io, const PublishCmd& c) {
  auto keys = LoadKeys(c.keys);
  if (!keys.ok()) return io.Fail(kExitUsage, keys.status().message());
  if (keys->empty() && !c.allow_unsigned) {
    return io.Fail(kExitUsage,
                   "give the DPO keys that may sign (--trusted-key FILE), or --allow-unsigned "
                   "for a test store");
  }
  auto at = TimeFlag(c.at);
  if (!at.ok()) return io.Fail(kExitUsage, at.status().message());
  auto text = policy::ReadSmallFile(c.file, 4 * policy::kMaxPolicyBytes);
  if (!text.ok()) return io.Fail(kExitUsage, text.status().message());
  policy::Bundle bundle;
  if (fs::path(c.file).extension() == ".json") {
    auto b = policy::Bundle::FromJson(*text);
    if (!b.ok()) return io.Fail(kExitUsage, b.status().message());
    bundle = std::move(*b);
  } else {
    if (!keys->empty()) {
      return io.Fail(kExitUsage, c.file +
                                     " is an unsigned policy source, and signing keys are "
                                     "configured: sign it first (mashctl policy sign)");
    }
    auto b = policy::MakeBundle(*text, fs::path(c.file).filename().string());
    if (!b.ok()) return io.Fail(kExitUsage, b.status().message());
    bundle = std::move(*b);
  }
  auto store = policy::PolicyStore::Open(c.store, true);
  if (!store.ok()) return io.Fail(kExitUsage, store.status().message());
  const auto mode =
      c.mode == "shadow" ? policy::PublishMode::kShadow : policy::PublishMode::kEnforce;
  auto entry = store->Publish(bundle, mode, *at, *keys);
  if (!entry.ok()) return io.Fail(kExitUsage, entry.status().message());
  if (c.json) {
    io.out << json{{"seq", entry->seq},
                   {"time", policy::FormatTime(entry->time_unix)},
                   {"mode", policy::PublishModeName(entry->mode)},
                   {"version", entry->version},
                   {"policy_id", entry->policy_id},
                   {"signers", entry->signers}}
                  .dump(2)
           << "\n";
  } else {
    io.out << "published " << entry->version << " as " << policy::PublishModeName(entry->mode)
           << " (entry " << entry->seq << ")\n";
  }
  return kExitOk;
}

struct HistoryCmd {
  CLI::App* app = nullptr;
  std::string store;
  bool json = false;
};

int RunHistory(const Io& io, const HistoryCmd& c) {
  auto store = policy::PolicyStore::Open(c.store, false);
  if (!store.ok()) return io.Fail(kExitUsage, store.status().message());
  auto history = store->History();
  if (!history.ok()) return io.Fail(kExitUsage, history.status().message());
  const auto enforced = store->Enforced();
  const auto shadow = store->Shadow();
  if (c.json) {
    json entries = json::array();
    for (const auto& e : *history) {
      entries.push_back({{"seq", e.seq},
                         {"time", policy::FormatTime(e.time_unix)},
                         {"mode", policy::PublishModeName(e.mode)},
                         {"version", e.version},
                         {"policy_id", e.policy_id},
                         {"signers", e.signers}});
    }
    io.out << json{{"enforced", enforced.value_or("")},
                   {"shadow", shadow.value_or("")},
                   {"entries", entries}}
                  .dump(2)
           << "\n";
    return kExitOk;
  }
  for (const auto& e : *history) {
    io.out << e.seq << "  " << policy::FormatTime(e.time_unix) << "  "
           << policy::PublishModeName(e.mode) << "  " << e.version << "  " << e.policy_id;
    for (const auto& s : e.signers) io.out << "  signed " << s.substr(0, 19) << "…";
    io.out << "\n";
  }
  io.out << "enforced: " << enforced.value_or("-") << "\nshadow:   " << shadow.value_or("-")
         << "\n";
  return kExitOk;
}

void AddRequestFlags(CLI::App* app, ExplainCmd& c) {
  policy::Request& r = c.request;
  app->add_option("--role", r.role, "who asks (sharing agreements), e.g. practitioner");
  app->add_option("--purpose", r.purpose, "purpose, e.g. child-protection-s47");
  app->add_option("--lawful-basis", r.lawful_basis, "lawful basis, e.g. uk-gdpr-6-1-e");
  app->add_option("--consent", r.consent_state,
                  "consent state: given, refused, not_sought, withdrawn");
  app->add_option("--override-ground", r.override_ground, "override ground, if any");
  app->add_option("--urgency", r.urgency, "red, amber or green");
  app->add_option("--agency", r.agency, "agency asked (sharing agreements)");
  app->add_option("--category", r.category, "data category (disclosure policies)");
  c.level_opt = app->add_option("--level", c.level, "level requested, 0..3 (default 1)");
}

class PolicyCommands final : public CommandGroup {
 public:
  void Register(CLI::App& app) override {
    auto* group = app.add_subcommand(
        "policy", "write, check, explain, sign and publish sharing policies (for DPOs)");
    group->require_subcommand(1);

    validate_.app = group->add_subcommand(
        "validate",
        "check policy files: structure, vocabulary, rules that can never match, "
        "review date (errors as file:line:col)");
    validate_.app->add_option("files", validate_.files, "policy files (TOML)")->required();
    validate_.app->add_option("--now", validate_.now, "judge review dates at this time")
        ->type_name("TIME");
    validate_.app->add_flag("--strict", validate_.strict, "treat warnings as failures");
    validate_.app->add_flag("--json", validate_.json, "print the results as JSON");

    test_.app = group->add_subcommand(
        "test", "run a policy's test cases (default: NAME.tests.toml beside NAME.toml)");
    test_.app->add_option("policy", test_.file, "policy file (TOML or bundle)")->required();
    test_.app->add_option("--tests", test_.tests, "test file (repeatable)")->type_name("FILE");
    test_.app->add_flag("--coverage", test_.coverage, "list rules that no test case exercises");
    test_.app->add_flag("--json", test_.json, "print the results as JSON");

    explain_.app = group->add_subcommand(
        "explain", "evaluate a request and print the decision, its rules, obligations and reasons");
    explain_.app->add_option("policy", explain_.file, "policy file (TOML or bundle)");
    explain_.app
        ->add_option("--store", explain_.store,
                     "explain with the version enforced at --at in this store")
        ->type_name("DIR");
    explain_.app
        ->add_option("--request", explain_.request_file,
                     "request file (TOML: role, purpose, lawful_basis, consent, ...)")
        ->type_name("FILE");
    explain_.app->add_option("--at", explain_.at, "evaluate at this time (default now)")
        ->type_name("TIME");
    explain_.app->add_option("--trusted-key", explain_.keys, "DPO public key that must have signed")
        ->type_name("FILE");
    AddRequestFlags(explain_.app, explain_);
    explain_.app->add_flag("--json", explain_.json, "print the decision as JSON");

    diff_.app = group->add_subcommand(
        "diff",
        "compare two versions: rules changed, and decisions that change over recorded "
        "requests");
    diff_.app->add_option("before", diff_.before, "file or version id (sha256:...)")->required();
    diff_.app->add_option("after", diff_.after, "file or version id (sha256:...)")->required();
    diff_.app->add_option("--store", diff_.store, "store holding version ids")->type_name("DIR");
    diff_.app
        ->add_option("--requests", diff_.requests,
                     "recorded requests: a test file (TOML) or JSON lines (repeatable)")
        ->type_name("FILE");
    diff_.app->add_option("--trusted-key", diff_.keys, "DPO public key")->type_name("FILE");
    diff_.app->add_flag("--json", diff_.json, "print the differences as JSON");

    sign_.app = group->add_subcommand(
        "sign",
        "sign a policy with a DPO key: NAME.toml gives NAME.bundle.json; a bundle gains "
        "a signature");
    sign_.app->add_option("policy", sign_.file, "policy file (TOML) or bundle (JSON)")->required();
    sign_.app->add_option("--key", sign_.key, "DPO signing key (mashctl pki keygen: NAME.sign.key)")
        ->required();
    sign_.app->add_option("--out", sign_.out, "bundle to write")->type_name("FILE");

    verify_.app = group->add_subcommand("verify", "check a bundle's version and signatures");
    verify_.app->add_option("bundle", verify_.file, "bundle (JSON)")->required();
    verify_.app->add_option("--trusted-key", verify_.keys, "DPO public key (repeatable)")
        ->type_name("FILE");
    verify_.app->add_flag("--json", verify_.json, "print the result as JSON");

    publish_.app = group->add_subcommand(
        "publish",
        "keep a signed bundle in a policy store and make it the shadow or enforced "
        "version");
    publish_.app->add_option("bundle", publish_.file, "signed bundle (JSON)")->required();
    publish_.app->add_option("--store", publish_.store, "policy store folder")->required();
    publish_.app->add_option("--mode", publish_.mode, "shadow or enforce")
        ->required()
        ->check(CLI::IsMember({"shadow", "enforce"}));
    publish_.app->add_option("--trusted-key", publish_.keys, "DPO public key (repeatable)")
        ->type_name("FILE");
    publish_.app->add_flag("--allow-unsigned", publish_.allow_unsigned,
                           "accept an unsigned policy (test stores only)");
    publish_.app->add_option("--at", publish_.at, "time of publication (default now)")
        ->type_name("TIME");
    publish_.app->add_flag("--json", publish_.json, "print the history entry as JSON");

    history_.app = group->add_subcommand("history", "list a store's publications");
    history_.app->add_option("--store", history_.store, "policy store folder")->required();
    history_.app->add_flag("--json", history_.json, "print the history as JSON");
  }

  std::optional<int> RunIfChosen(std::ostream& out, std::ostream& err) override {
    const Io io{out, err};
    if (validate_.app->parsed()) return RunValidate(io, validate_);
    if (test_.app->parsed()) return RunTest(io, test_);
    if (explain_.app->parsed()) return RunExplain(io, explain_);
    if (diff_.app->parsed()) return RunDiff(io, diff_);
    if (sign_.app->parsed()) return RunSign(io, sign_);
    if (verify_.app->parsed()) return RunVerify(io, verify_);
    if (publish_.app->parsed()) return RunPublish(io, publish_);
    if (history_.app->parsed()) return RunHistory(io, history_);
    return std::nullopt;
  }

 private:
  ValidateCmd validate_;
  TestCmd test_;
  ExplainCmd explain_;
  DiffCmd diff_;
  SignCmd sign_;
  VerifyCmd verify_;
  PublishCmd publish_;
  HistoryCmd history_;
};

}  // namespace

std::unique_ptr<CommandGroup> MakePolicyCommands() { return std::make_unique<PolicyCommands>(); }

}  // namespace mash::cli
