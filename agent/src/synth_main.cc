// mash-synth: writes synthetic agency records and their truth file (see synthetic.h).
//
//   mash-synth --families 1000 --seed 7 --out DIR
//       DIR/<agency>.json for each of the six agency types, in the format of
//       examples/records/*.json (plus "id" and "person" per record), and DIR/truth.json:
//       {"seed": 7, "families": 1000, "records": {"<record id>": "<person id>", ...}}
//   mash-synth --families 10
//       the same as one JSON document on stdout: {"agencies": {"<agency>": {...}}, "truth": {...}}
//   mash-synth --families 1000 --seed 7 --out DIR --import csv|json
//       files for `mash-agent import`, in the column names of its default mapping: for each
//       agency type DIR/<agency>/people.<csv|json> (record_id, given_names, family_name,
//       aliases, dob, sex, postcodes, nhs_number, pnc_id, upn, ni_number; lists joined with ';'
//       in CSV) and DIR/<agency>/records.<csv|json> (record_id, category, date, summary), JSON
//       as one array of objects; and DIR/truth.json as above. Streamed: any size fits in memory.
//
// Exit codes: 0 written, 2 usage, 1 a file could not be written.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>

#include "mash/agent/record_import.h"
#include "mash/agent/synthetic.h"

namespace {

using mash::agent::SyntheticRecord;

std::string Join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : ";") + i;
  return out;
}

// The generator's byte-level typos can split a multi-byte character; the importer refuses text
// that is not UTF-8, so names are written without the broken bytes.
mash::schemas::Person Clean(mash::schemas::Person p) {
  p.given_names = mash::agent::DropInvalidUtf8(p.given_names);
  p.family_name = mash::agent::DropInvalidUtf8(p.family_name);
  for (auto& a : p.aliases) a = mash::agent::DropInvalidUtf8(a);
  return p;
}

std::string Id(const SyntheticRecord& r, const char* kind) {
  const auto it = r.person.identifiers.find(kind);
  return it == r.person.identifiers.end() ? std::string() : it->second;
}

// One agency's people and category records files, written as records stream in.
class ImportFiles {
 public:
  ImportFiles(const std::filesystem::path& dir, bool csv) : csv_(csv) {
    const std::string ext = csv ? ".csv" : ".json";
    people_.open(dir / ("people" + ext), std::ios::trunc | std::ios::binary);
    records_.open(dir / ("records" + ext), std::ios::trunc | std::ios::binary);
    if (csv) {
      people_ << mash::agent::CsvRow({"record_id", "given_names", "family_name", "aliases", "dob",
                                      "sex", "postcodes", "nhs_number", "pnc_id", "upn",
                                      "ni_number"});
      records_ << mash::agent::CsvRow({"record_id", "category", "date", "summary"});
    } else {
      people_ << "[";
      records_ << "[";
    }
  }

  void Add(const SyntheticRecord& r) {
    const mash::schemas::Person p = Clean(r.person);
    if (csv_) {
      people_ << mash::agent::CsvRow({r.record_id, p.given_names, p.family_name, Join(p.aliases),
                                      p.dob, p.sex, Join(p.postcodes), Id(r, "nhs_number"),
                                      Id(r, "pnc_id"), Id(r, "upn"), Id(r, "ni_number")});
    } else {
      nlohmann::json j = p.ToJson();
      j.erase("identifiers");
      j["record_id"] = r.record_id;
      for (const auto& [kind, value] : p.identifiers) j[kind] = value;
      people_ << (people_rows_ == 0 ? "\n" : ",\n") << j.dump();
    }
    ++people_rows_;
    for (const auto& [category, c] : r.categories.items()) {
      const std::string date = c.value("latest", "");
      const std::string summary = c.value("summary", "");
      if (csv_) {
        records_ << mash::agent::CsvRow({r.record_id, category, date, summary});
      } else {
        nlohmann::json j = {{"record_id", r.record_id},
                            {"category", category},
                            {"date", date},
                            {"summary", summary}};
        records_ << (record_rows_ == 0 ? "\n" : ",\n") << j.dump();
      }
      ++record_rows_;
    }
  }

  bool Close() {
    if (!csv_) {
      people_ << "\n]\n";
      records_ << "\n]\n";
    }
    people_.close();
    records_.close();
    return static_cast<bool>(people_) && static_cast<bool>(records_);
  }

 private:
  bool csv_;
  std::ofstream people_;
  std::ofstream records_;
  size_t people_rows_ = 0;
  size_t record_rows_ = 0;
};

// --import: DIR/<agency>/{people,records}.<ext> and DIR/truth.json.
int WriteImportFiles(const mash::agent::SyntheticOptions& options, const std::string& out_dir,
                     bool csv) {
  std::map<std::string, std::unique_ptr<ImportFiles>> files;
  for (std::string_view a : mash::agent::kAgencyTypes) {
    const auto dir = std::filesystem::path(out_dir) / a;
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) {
      std::fprintf(stderr, "mash-synth: cannot create %s: %s\n", dir.c_str(), ec.message().c_str());
      return 1;
    }
    files[std::string(a)] = std::make_unique<ImportFiles>(dir, csv);
  }
  std::ofstream truth(std::filesystem::path(out_dir) / "truth.json", std::ios::trunc);
  truth << "{\"seed\": " << options.seed << ", \"families\": " << options.families
        << ", \"records\": {";
  size_t n = 0;
  mash::agent::GenerateSynthetic(options, [&](SyntheticRecord&& r) {
    files[r.agency]->Add(r);
    truth << (n++ == 0 ? "\n" : ",\n") << nlohmann::json(r.record_id).dump() << ": "
          << nlohmann::json(r.person_id).dump();
  });
  truth << "\n}}\n";
  truth.close();
  bool ok = static_cast<bool>(truth);
  for (auto& [agency, f] : files) ok = f->Close() && ok;
  if (!ok) {
    std::fprintf(stderr, "mash-synth: cannot write the files in %s\n", out_dir.c_str());
    return 1;
  }
  std::fprintf(stderr, "mash-synth: %zu records for %zu families in %s (import format %s)\n", n,
               options.families, out_dir.c_str(), csv ? "csv" : "json");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Synthetic MASH agency records with a truth file"};
  mash::agent::SyntheticOptions options;
  std::string out_dir;
  app.add_option("--families", options.families, "number of families")->capture_default_str();
  app.add_option("--seed", options.seed, "random seed")->capture_default_str();
  app.add_option("--out", out_dir, "directory for <agency>.json and truth.json (else stdout)");
  std::string import_format;
  app.add_option("--import", import_format,
                 "write <agency>/people.* and <agency>/records.* for mash-agent import instead")
      ->check(CLI::IsMember({"csv", "json"}));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }

  if (!import_format.empty()) {
    if (out_dir.empty()) {
      std::fprintf(stderr, "mash-synth: --import needs --out\n");
      return 2;
    }
    return WriteImportFiles(options, out_dir, import_format == "csv");
  }

  std::map<std::string, nlohmann::json> agencies;
  for (std::string_view a : mash::agent::kAgencyTypes) {
    agencies[std::string(a)] = {{"source", mash::agent::SyntheticSource(a)},
                                {"records", nlohmann::json::array()}};
  }
  nlohmann::json truth = nlohmann::json::object();
  mash::agent::GenerateSynthetic(options, [&](mash::agent::SyntheticRecord&& r) {
    truth[r.record_id] = r.person_id;
    agencies[r.agency]["records"].push_back(mash::agent::SyntheticRecordJson(r));
  });
  const nlohmann::json truth_doc = {
      {"seed", options.seed}, {"families", options.families}, {"records", truth}};

  if (out_dir.empty()) {
    std::cout << nlohmann::json{{"agencies", agencies}, {"truth", truth_doc}}.dump() << "\n";
    return 0;
  }
  std::error_code ec;
  std::filesystem::create_directories(out_dir, ec);
  if (ec) {
    std::fprintf(stderr, "mash-synth: cannot create %s: %s\n", out_dir.c_str(),
                 ec.message().c_str());
    return 1;
  }
  auto write = [&](const std::string& name, const nlohmann::json& doc) {
    const auto path = std::filesystem::path(out_dir) / name;
    std::ofstream f(path, std::ios::trunc);
    f << doc.dump(1) << "\n";
    f.close();
    if (!f) {
      std::fprintf(stderr, "mash-synth: cannot write %s\n", path.c_str());
      return false;
    }
    return true;
  };
  for (const auto& [agency, doc] : agencies) {
    if (!write(agency + ".json", doc)) return 1;
  }
  if (!write("truth.json", truth_doc)) return 1;
  std::fprintf(stderr, "mash-synth: %zu records for %zu families in %s\n", truth.size(),
               options.families, out_dir.c_str());
  return 0;
}
