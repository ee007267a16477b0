#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "mash/policy/test_runner.h"

namespace mash::policy {

PolicyDiff DiffPolicies(const Policy& before, const Policy& after,
                        const std::vector<TestCase>& requests) {
  using nlohmann::json;
  PolicyDiff diff;
  const json a = json::parse(before.canonical, nullptr, false);
  const json b = json::parse(after.canonical, nullptr, false);
  if (a.is_object() && b.is_object()) {
    std::set<std::string> keys;
    for (auto it = a.begin(); it != a.end(); ++it) keys.insert(it.key());
    for (auto it = b.begin(); it != b.end(); ++it) keys.insert(it.key());
    for (const auto& k : keys) {
      if (k == "rules") continue;
      if (!a.contains(k) || !b.contains(k) || a[k] != b[k]) diff.header_changes.push_back(k);
    }
    std::map<std::string, const json*> old_rules, new_rules;
    for (const auto& r : a["rules"]) old_rules[r["id"].get<std::string>()] = &r;
    for (const auto& r : b["rules"]) new_rules[r["id"].get<std::string>()] = &r;
    for (const auto& r : before.rules) {
      auto it = new_rules.find(r.id);
      if (it == new_rules.end()) {
        diff.rules.push_back({RuleChange::Kind::kRemoved, r.id});
      } else if (*it->second != *old_rules[r.id]) {
        diff.rules.push_back({RuleChange::Kind::kChanged, r.id});
      }
    }
    for (const auto& r : after.rules) {
      if (!old_rules.count(r.id)) diff.rules.push_back({RuleChange::Kind::kAdded, r.id});
    }
  }
  for (const auto& tc : requests) {
    Decision x = Evaluate(before, tc.request, tc.time_unix);
    Decision y = Evaluate(after, tc.request, tc.time_unix);
    if (DecisionsDiffer(x, y) || x.deciding_rule != y.deciding_rule) {
      diff.decisions.push_back({tc.name, std::move(x), std::move(y)});
    }
  }
  return diff;
}

}  // namespace mash::policy
