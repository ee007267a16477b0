// TOML configuration with errors that name file:line:col.
//
// ConfigReader walks a parsed file and collects every problem instead of stopping at the first, so
// that `check-config` can report them all. Keys that were never read are reported as unknown
// (a misspelt key is an error, not a silently ignored setting).
//
//   MASH_ASSIGN_OR_RETURN(auto file, ConfigFile::Load(path));
//   ConfigReader r = file.Reader();
//   std::string id = r.String("agency.id");
//   int64_t port = r.Integer("listen.port", 8443, 1, 65535);
//   MASH_RETURN_IF_ERROR(r.Finish());   // InvalidArgument, one "file:line:col: message" per line
//
// Thread safety: none; a reader belongs to one thread.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mash/common/status.h"

namespace mash::common {

struct ConfigPosition {
  std::string file;
  int line = 0;
  int column = 0;
  std::string ToString() const;  // "file:line:col"
};

class ConfigFile {
 public:
  // Reads and parses `path`. Errors: NotFound (cannot open), InvalidArgument with
  // "file:line:col: message" for syntax errors.
  static Result<ConfigFile> Load(const std::filesystem::path& path);
  // Parses `text`; `name` stands for the file name in messages and `base_dir` resolves paths.
  static Result<ConfigFile> Parse(std::string_view text, std::string name,
                                  std::filesystem::path base_dir = ".");

  class ConfigReader Reader() const;

  ConfigFile(ConfigFile&&) noexcept;
  ConfigFile& operator=(ConfigFile&&) noexcept;
  ~ConfigFile();

 private:
  friend class ConfigReader;
  struct Impl;
  explicit ConfigFile(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

class ConfigReader {
 public:
  // Each getter records an error (and returns the default or an empty value) when the key is
  // missing without a default, has the wrong type, or is out of range. Keys are dotted paths
  // relative to this reader's table.
  std::string String(std::string_view key, std::optional<std::string> def = std::nullopt);
  int64_t Integer(std::string_view key, std::optional<int64_t> def, int64_t min, int64_t max);
  bool Bool(std::string_view key, std::optional<bool> def = std::nullopt);
  // A TOML float (or integer) in [min, max].
  double Double(std::string_view key, std::optional<double> def, double min, double max);
  std::vector<std::string> StringArray(std::string_view key,
                                       std::optional<std::vector<std::string>> def = std::nullopt);
  // A string naming a file; relative paths are resolved against the config file's folder.
  std::filesystem::path Path(std::string_view key,
                             std::optional<std::filesystem::path> def = std::nullopt);
  // An array of strings naming files, each resolved like Path().
  std::vector<std::filesystem::path> PathArray(
      std::string_view key, std::optional<std::vector<std::filesystem::path>> def = std::nullopt);
  bool Has(std::string_view key) const;
  // The keys of this table, sorted (a value map such as sex_values reads them; keys that
  // hold a '.' cannot be read back with the getters).
  std::vector<std::string> Keys() const;
  // A sub-table (error if missing and not optional), or an array of tables.
  std::optional<ConfigReader> Table(std::string_view key, bool optional = false);
  std::vector<ConfigReader> TableArray(std::string_view key, bool optional = false);

  // The position of `key` (or of this table when key is empty or absent).
  ConfigPosition PositionOf(std::string_view key = {}) const;
  // Records an error at the position of `key`.
  void ErrorAt(std::string_view key, std::string_view message);

  // Reports unknown keys below this reader (when it is the root, below the whole file) and returns
  // every recorded error as one InvalidArgument, or OK.
  Status Finish();
  bool HasErrors() const;

 private:
  friend class ConfigFile;
  struct State;
  ConfigReader(std::shared_ptr<State> state, const void* table, std::string prefix);
  const void* Find(std::string_view key) const;

  std::shared_ptr<State> state_;
  const void* table_;  // const toml::table*
  std::string prefix_;
};

}  // namespace mash::common
