#include "mash/policy/test_runner.h"

#include <toml++/toml.h>

#include <algorithm>
#include <set>
#include <tuple>

#include "mash/policy/time_text.h"

namespace mash::policy {
namespace {

class CaseParser {
 public:
  explicit CaseParser(std::string_view name) : file_(name) {}

  SourcePosition Pos(const toml::source_region& r) const {
    return {file_, static_cast<int>(r.begin.line), static_cast<int>(r.begin.column)};
  }
  void Error(const SourcePosition& p, std::string m) {
    diags.push_back({Diagnostic::Severity::kError, p, std::move(m)});
  }

  std::optional<int64_t> Time(const toml::node& n, std::string_view key) {
    if (const auto* dt = n.as_date_time()) {
      const toml::date_time v = dt->get();
      if (v.offset) {
        return DaysFromCivil(v.date.year, v.date.month, v.date.day) * 86400 + v.time.hour * 3600 +
               v.time.minute * 60 + v.time.second - int64_t{v.offset->minutes} * 60;
      }
    } else if (const auto* d = n.as_date()) {
      return DaysFromCivil(d->get().year, d->get().month, d->get().day) * 86400;
    } else if (const auto* s = n.as_string()) {
      if (auto t = ParseTime(s->get())) return t;
    }
    Error(Pos(n.source()), "'" + std::string(key) + "' must be a date-time with offset");
    return std::nullopt;
  }

  // Applies the keys of `t` to `r`.
  void ApplyRequest(const toml::table& t, Request* r) {
    for (auto&& [k, v] : t) {
      const std::string key(k.str());
      std::string* field = nullptr;
      if (key == "role") field = &r->role;
      if (key == "purpose") field = &r->purpose;
      if (key == "lawful_basis") field = &r->lawful_basis;
      if (key == "consent" || key == "consent_state") field = &r->consent_state;
      if (key == "override_ground") field = &r->override_ground;
      if (key == "urgency") field = &r->urgency;
      if (key == "agency") field = &r->agency;
      if (key == "category") field = &r->category;
      if (field) {
        if (!v.is_string()) {
          Error(Pos(v.source()), "'" + key + "' must be a string");
        } else {
          *field = v.as_string()->get();
        }
      } else if (key == "level") {
        if (!v.is_integer()) {
          Error(Pos(v.source()), "'level' must be an integer");
        } else {
          r->level = static_cast<int>(std::clamp<int64_t>(v.as_integer()->get(), -1, 99));
        }
      } else if (key != "at") {
        Error(Pos(k.source()), "unknown request key '" + key + "'");
      }
    }
  }

  void ParseExpect(const toml::table& t, Expectation* e) {
    for (auto&& [k, v] : t) {
      const std::string key(k.str());
      if (key == "effect") {
        const auto* s = v.as_string();
        if (s && s->get() == "permit") {
          e->effect = Effect::kPermit;
        } else if (s && s->get() == "deny") {
          e->effect = Effect::kDeny;
        } else {
          Error(Pos(v.source()), "'effect' must be \"permit\" or \"deny\"");
        }
      } else if (key == "level") {
        if (!v.is_integer()) {
          Error(Pos(v.source()), "'level' must be an integer");
        } else {
          e->level = static_cast<int>(std::clamp<int64_t>(v.as_integer()->get(), -1, 99));
        }
      } else if (key == "rule") {
        if (!v.is_string()) {
          Error(Pos(v.source()), "'rule' must be a string");
        } else {
          e->rule = v.as_string()->get();
        }
      } else if (key == "obligations") {
        const auto* a = v.as_array();
        std::vector<std::string> list;
        bool ok = a != nullptr;
        if (a) {
          for (const auto& x : *a) {
            if (!x.is_string()) {
              ok = false;
              break;
            }
            list.push_back(x.as_string()->get());
          }
        }
        if (!ok) {
          Error(Pos(v.source()), "'obligations' must be a list of strings");
        } else {
          e->obligations = std::move(list);
        }
      } else {
        Error(Pos(k.source()), "unknown key '" + key + "' in expect");
      }
    }
  }

  std::string file_;
  std::vector<Diagnostic> diags;
};

}  // namespace

bool TestFileOutcome::ok() const {
  return std::none_of(diagnostics.begin(), diagnostics.end(), [](const Diagnostic& d) {
    return d.severity == Diagnostic::Severity::kError;
  });
}

TestFileOutcome ParseTestFile(std::string_view text, std::string_view name, int64_t default_time) {
  TestFileOutcome out;
  CaseParser cp(name);
  toml::table root;
  try {
    root = toml::parse(text, std::string(name));
  } catch (const toml::parse_error& e) {
    out.diagnostics.push_back(
        {Diagnostic::Severity::kError, cp.Pos(e.source()), std::string(e.description())});
    return out;
  }
  int64_t file_time = default_time;
  Request defaults;
  for (auto&& [k, v] : root) {
    const std::string key(k.str());
    if (key == "at") {
      if (auto t = cp.Time(v, "at")) file_time = *t;
    } else if (key == "defaults") {
      if (const auto* t = v.as_table()) {
        cp.ApplyRequest(*t, &defaults);
      } else {
        cp.Error(cp.Pos(v.source()), "'defaults' must be a table");
      }
    } else if (key != "case") {
      cp.Error(cp.Pos(k.source()), "unknown key '" + key + "'");
    }
  }
  const toml::node* cases = root.get("case");
  const toml::array* a = cases ? cases->as_array() : nullptr;
  if (!a || !a->is_array_of_tables()) {
    cp.Error(cases ? cp.Pos(cases->source()) : SourcePosition{std::string(name), 1, 1},
             "a test file needs [[case]] tables");
  } else {
    for (const auto& e : *a) {
      const toml::table& t = *e.as_table();
      TestCase tc;
      tc.position = cp.Pos(t.source());
      tc.request = defaults;
      tc.time_unix = file_time;
      for (auto&& [k, v] : t) {
        const std::string key(k.str());
        if (key == "name") {
          if (v.is_string()) tc.name = v.as_string()->get();
        } else if (key == "at") {
          if (auto time = cp.Time(v, "at")) tc.time_unix = *time;
        } else if (key == "request") {
          if (const auto* rt = v.as_table()) {
            cp.ApplyRequest(*rt, &tc.request);
          } else {
            cp.Error(cp.Pos(v.source()), "'request' must be a table");
          }
        } else if (key == "expect") {
          if (const auto* et = v.as_table()) {
            cp.ParseExpect(*et, &tc.expect);
          } else {
            cp.Error(cp.Pos(v.source()), "'expect' must be a table");
          }
        } else {
          cp.Error(cp.Pos(k.source()), "unknown key '" + key + "' in [[case]]");
        }
      }
      if (tc.name.empty()) tc.name = "case at line " + std::to_string(tc.position.line);
      if (!t.at_path("expect.effect"))
        cp.Error(tc.position, "case '" + tc.name + "' has no expect.effect");
      out.cases.push_back(std::move(tc));
    }
  }
  std::stable_sort(cp.diags.begin(), cp.diags.end(), [](const Diagnostic& x, const Diagnostic& y) {
    return std::tie(x.position.line, x.position.column) <
           std::tie(y.position.line, y.position.column);
  });
  out.diagnostics = std::move(cp.diags);
  return out;
}

Result<std::pair<Request, std::optional<int64_t>>> ParseRequestToml(std::string_view text,
                                                                    std::string_view name) {
  CaseParser cp(name);
  toml::table root;
  try {
    root = toml::parse(text, std::string(name));
  } catch (const toml::parse_error& e) {
    return InvalidArgument(cp.Pos(e.source()).ToString() + ": " + std::string(e.description()));
  }
  Request r;
  cp.ApplyRequest(root, &r);
  std::optional<int64_t> at;
  if (const toml::node* n = root.get("at")) at = cp.Time(*n, "at");
  if (!cp.diags.empty()) {
    std::string msg;
    for (const auto& d : cp.diags) msg += (msg.empty() ? "" : "\n") + d.ToString();
    return InvalidArgument(msg);
  }
  return std::make_pair(std::move(r), at);
}

TestReport RunTests(const Policy& policy, const std::vector<TestCase>& cases) {
  TestReport report;
  std::set<std::string> covered;
  for (const auto& tc : cases) {
    CaseResult res;
    res.test = &tc;
    res.decision = Evaluate(policy, tc.request, tc.time_unix);
    const Decision& d = res.decision;
    const Expectation& e = tc.expect;
    for (const auto& id : d.matching_rules) covered.insert(id);
    if (e.effect && *e.effect != d.effect) {
      res.failures.push_back("expected " + std::string(EffectName(*e.effect)) + ", got " +
                             std::string(EffectName(d.effect)));
    }
    if (e.level && *e.level != d.level) {
      res.failures.push_back("expected level " + std::to_string(*e.level) + ", got " +
                             std::to_string(d.level));
    }
    if (e.rule && *e.rule != d.deciding_rule) {
      res.failures.push_back("expected deciding rule '" + *e.rule + "', got '" + d.deciding_rule +
                             "'");
    }
    if (e.obligations) {
      std::vector<std::string> want = *e.obligations;
      SortObligations(want);
      if (want != d.obligations) {
        std::string w, g;
        for (const auto& o : want) w += (w.empty() ? "" : ", ") + o;
        for (const auto& o : d.obligations) g += (g.empty() ? "" : ", ") + o;
        res.failures.push_back("expected obligations [" + w + "], got [" + g + "]");
      }
    }
    res.passed = res.failures.empty();
    (res.passed ? report.passed : report.failed)++;
    report.results.push_back(std::move(res));
  }
  for (const auto& r : policy.rules) {
    if (!covered.count(r.id)) report.uncovered_rules.push_back(r.id);
  }
  return report;
}

}  // namespace mash::policy
