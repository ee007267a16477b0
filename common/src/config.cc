#include "mash/common/config.h"

#include <toml++/toml.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>
#include <tuple>

namespace mash::common {
namespace {

ConfigPosition PositionFrom(const std::string& file, const toml::source_region& region) {
  return {file, static_cast<int>(region.begin.line), static_cast<int>(region.begin.column)};
}

std::string JoinKey(const std::string& prefix, std::string_view key) {
  if (prefix.empty()) return std::string(key);
  if (key.empty()) return prefix;
  return prefix + "." + std::string(key);
}

}  // namespace

std::string ConfigPosition::ToString() const {
  return file + ":" + std::to_string(line) + ":" + std::to_string(column);
}

struct ConfigFile::Impl {
  std::string name;
  std::filesystem::path base_dir;
  toml::table root;
};

struct ConfigReader::State {
  const ConfigFile::Impl* file = nullptr;
  std::vector<std::pair<ConfigPosition, std::string>> errors;
  std::set<std::string> used;  // full dotted keys that were read
};

ConfigFile::ConfigFile(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ConfigFile::ConfigFile(ConfigFile&&) noexcept = default;
ConfigFile& ConfigFile::operator=(ConfigFile&&) noexcept = default;
ConfigFile::~ConfigFile() = default;

Result<ConfigFile> ConfigFile::Load(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound("cannot open config file " + path.string());
  std::ostringstream text;
  text << in.rdbuf();
  return Parse(text.str(), path.string(), path.parent_path().empty() ? "." : path.parent_path());
}

Result<ConfigFile> ConfigFile::Parse(std::string_view text, std::string name,
                                     std::filesystem::path base_dir) {
  auto impl = std::make_unique<Impl>();
  impl->name = std::move(name);
  impl->base_dir = std::move(base_dir);
  try {
    impl->root = toml::parse(text, impl->name);
  } catch (const toml::parse_error& e) {
    return InvalidArgument(PositionFrom(impl->name, e.source()).ToString() + ": " +
                           std::string(e.description()));
  }
  return ConfigFile(std::move(impl));
}

ConfigReader ConfigFile::Reader() const {
  auto state = std::make_shared<ConfigReader::State>();
  state->file = impl_.get();
  return ConfigReader(std::move(state), &impl_->root, "");
}

ConfigReader::ConfigReader(std::shared_ptr<State> state, const void* table, std::string prefix)
    : state_(std::move(state)), table_(table), prefix_(std::move(prefix)) {}

const void* ConfigReader::Find(std::string_view key) const {
  const auto* table = static_cast<const toml::table*>(table_);
  return table->at_path(key).node();
}

bool ConfigReader::Has(std::string_view key) const { return Find(key) != nullptr; }

std::vector<std::string> ConfigReader::Keys() const {
  std::vector<std::string> out;
  for (const auto& [k, v] : *static_cast<const toml::table*>(table_)) {
    (void)v;
    out.emplace_back(k.str());
  }
  return out;
}

ConfigPosition ConfigReader::PositionOf(std::string_view key) const {
  const toml::node* node = nullptr;
  // A missing key is reported where it belongs: at its nearest table that does exist.
  for (std::string_view k = key; !k.empty() && node == nullptr;) {
    node = static_cast<const toml::node*>(Find(k));
    const auto dot = k.rfind('.');
    k = dot == std::string_view::npos ? std::string_view() : k.substr(0, dot);
  }
  if (node == nullptr) node = static_cast<const toml::table*>(table_);
  ConfigPosition pos = PositionFrom(state_->file->name, node->source());
  if (pos.line == 0) pos.line = pos.column = 1;  // the implicit root table has no position
  return pos;
}

void ConfigReader::ErrorAt(std::string_view key, std::string_view message) {
  state_->errors.emplace_back(PositionOf(key), std::string(message));
}

bool ConfigReader::HasErrors() const { return !state_->errors.empty(); }

std::string ConfigReader::String(std::string_view key, std::optional<std::string> def) {
  const std::string full = JoinKey(prefix_, key);
  state_->used.insert(full);
  const auto* node = static_cast<const toml::node*>(Find(key));
  if (node == nullptr) {
    if (def) return *def;
    ErrorAt(key, "missing required key '" + full + "'");
    return {};
  }
  if (!node->is_string()) {
    ErrorAt(key, "'" + full + "' must be a string");
    return def.value_or("");
  }
  return std::string(node->as_string()->get());
}

int64_t ConfigReader::Integer(std::string_view key, std::optional<int64_t> def, int64_t min,
                              int64_t max) {
  const std::string full = JoinKey(prefix_, key);
  state_->used.insert(full);
  const auto* node = static_cast<const toml::node*>(Find(key));
  if (node == nullptr) {
    if (def) return *def;
    ErrorAt(key, "missing required key '" + full + "'");
    return min;
  }
  if (!node->is_integer()) {
    ErrorAt(key, "'" + full + "' must be an integer");
    return def.value_or(min);
  }
  const int64_t v = node->as_integer()->get();
  if (v < min || v > max) {
    ErrorAt(key, "'" + full + "' must be between " + std::to_string(min) + " and " +
                     std::to_string(max));
    return def.value_or(min);
  }
  return v;
}

bool ConfigReader::Bool(std::string_view key, std::optional<bool> def) {
  const std::string full = JoinKey(prefix_, key);
  state_->used.insert(full);
  const auto* node = static_cast<const toml::node*>(Find(key));
  if (node == nullptr) {
    if (def) return *def;
    ErrorAt(key, "missing required key '" + full + "'");
    return false;
  }
  if (!node->is_boolean()) {
    ErrorAt(key, "'" + full + "' must be true or false");
    return def.value_or(false);
  }
  return node->as_boolean()->get();
}

double ConfigReader::Double(std::string_view key, std::optional<double> def, double min,
                            double max) {
  const std::string full = JoinKey(prefix_, key);
  state_->used.insert(full);
  const auto* node = static_cast<const toml::node*>(Find(key));
  if (node == nullptr) {
    if (def) return *def;
    ErrorAt(key, "missing required key '" + full + "'");
    return min;
  }
  double v = 0;
  if (node->is_floating_point()) {
    v = node->as_floating_point()->get();
  } else if (node->is_integer()) {
    v = static_cast<double>(node->as_integer()->get());
  } else {
    ErrorAt(key, "'" + full + "' must be a number");
    return def.value_or(min);
  }
  // NaN fails both comparisons, so it is caught by the negated form.
  if (!(v >= min && v <= max)) {
    std::ostringstream range;
    range << "'" << full << "' must be between " << min << " and " << max;
    ErrorAt(key, range.str());
    return def.value_or(min);
  }
  return v;
}

std::vector<std::string> ConfigReader::StringArray(std::string_view key,
                                                   std::optional<std::vector<std::string>> def) {
  const std::string full = JoinKey(prefix_, key);
  state_->used.insert(full);
  const auto* node = static_cast<const toml::node*>(Find(key));
  if (node == nullptr) {
    if (def) return *def;
    ErrorAt(key, "missing required key '" + full + "'");
    return {};
  }
  const auto* arr = node->as_array();
  if (arr == nullptr) {
    ErrorAt(key, "'" + full + "' must be an array of strings");
    return def.value_or(std::vector<std::string>{});
  }
  std::vector<std::string> out;
  for (const auto& item : *arr) {
    if (!item.is_string()) {
      state_->errors.emplace_back(PositionFrom(state_->file->name, item.source()),
                                  "'" + full + "' must hold only strings");
      continue;
    }
    out.emplace_back(item.as_string()->get());
  }
  return out;
}

std::filesystem::path ConfigReader::Path(std::string_view key,
                                         std::optional<std::filesystem::path> def) {
  std::optional<std::string> d;
  if (def) d = def->string();
  std::string s = String(key, d);
  if (s.empty()) return {};
  std::filesystem::path p(s);
  if (p.is_relative()) p = state_->file->base_dir / p;
  return p.lexically_normal();
}

std::vector<std::filesystem::path> ConfigReader::PathArray(
    std::string_view key, std::optional<std::vector<std::filesystem::path>> def) {
  std::optional<std::vector<std::string>> d;
  if (def) d = std::vector<std::string>(def->begin(), def->end());
  std::vector<std::filesystem::path> out;
  for (const auto& s : StringArray(key, d)) {
    std::filesystem::path p(s);
    if (p.is_relative()) p = state_->file->base_dir / p;
    out.push_back(p.lexically_normal());
  }
  return out;
}

std::optional<ConfigReader> ConfigReader::Table(std::string_view key, bool optional) {
  const std::string full = JoinKey(prefix_, key);
  const auto* node = static_cast<const toml::node*>(Find(key));
  if (node == nullptr) {
    if (!optional) ErrorAt(key, "missing required table [" + full + "]");
    return std::nullopt;
  }
  if (!node->is_table()) {
    state_->used.insert(full);
    ErrorAt(key, "'" + full + "' must be a table");
    return std::nullopt;
  }
  return ConfigReader(state_, node->as_table(), full);
}

std::vector<ConfigReader> ConfigReader::TableArray(std::string_view key, bool optional) {
  const std::string full = JoinKey(prefix_, key);
  const auto* node = static_cast<const toml::node*>(Find(key));
  std::vector<ConfigReader> out;
  if (node == nullptr) {
    if (!optional) ErrorAt(key, "missing required array of tables [[" + full + "]]");
    return out;
  }
  const auto* arr = node->as_array();
  if (arr == nullptr || !arr->is_array_of_tables()) {
    state_->used.insert(full);
    ErrorAt(key, "'" + full + "' must be an array of tables [[" + full + "]]");
    return out;
  }
  for (size_t i = 0; i < arr->size(); ++i) {
    out.push_back(
        ConfigReader(state_, arr->get(i)->as_table(), full + "[" + std::to_string(i) + "]"));
  }
  return out;
}

Status ConfigReader::Finish() {
  // Unknown keys: every leaf under this table that no getter asked for.
  struct Walker {
    State* state;
    void Walk(const toml::table& t, const std::string& prefix) {
      for (const auto& [k, v] : t) {
        const std::string full = JoinKey(prefix, k.str());
        if (state->used.count(full) != 0) continue;
        if (const auto* sub = v.as_table()) {
          Walk(*sub, full);
        } else if (const auto* arr = v.as_array(); arr != nullptr && arr->is_array_of_tables()) {
          for (size_t i = 0; i < arr->size(); ++i) {
            Walk(*arr->get(i)->as_table(), full + "[" + std::to_string(i) + "]");
          }
        } else {
          state->errors.emplace_back(PositionFrom(state->file->name, k.source()),
                                     "unknown key '" + full + "'");
        }
      }
    }
  };
  Walker{state_.get()}.Walk(*static_cast<const toml::table*>(table_), prefix_);
  if (state_->errors.empty()) return Status::Ok();
  std::stable_sort(state_->errors.begin(), state_->errors.end(), [](const auto& a, const auto& b) {
    return std::tie(a.first.line, a.first.column) < std::tie(b.first.line, b.first.column);
  });
  std::string msg;
  for (const auto& [pos, text] : state_->errors) {
    if (!msg.empty()) msg += "\n";
    msg += pos.ToString() + ": " + text;
  }
  return InvalidArgument(msg);
}

}  // namespace mash::common
