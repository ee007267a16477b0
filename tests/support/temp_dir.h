// A temporary directory (mode 0700) removed with its contents when the object goes away.
#pragma once

#include <filesystem>
#include <string>

namespace mash::testing {

class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "mash-test");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

}  // namespace mash::testing
