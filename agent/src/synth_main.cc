// mash-synth: writes synthetic agency records and their truth file (see synthetic.h).
//
//   mash-synth --families 1000 --seed 7 --out DIR
//       DIR/<agency>.json for each of the six agency types, in the format of
//       examples/records/*.json (plus "id" and "person" per record), and DIR/truth.json:
//       {"seed": 7, "families": 1000, "records": {"<record id>": "<person id>", ...}}
//   mash-synth --families 10
//       the same as one JSON document on stdout: {"agencies": {"<agency>": {...}}, "truth": {...}}
//
// Exit codes: 0 written, 2 usage, 1 a file could not be written.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>

#include "mash/agent/synthetic.h"

int main(int argc, char** argv) {
  CLI::App app{"Synthetic MASH agency records with a truth file"};
  mash::agent::SyntheticOptions options;
  std::string out_dir;
  app.add_option("--families", options.families, "number of families")->capture_default_str();
  app.add_option("--seed", options.seed, "random seed")->capture_default_str();
  app.add_option("--out", out_dir, "directory for <agency>.json and truth.json (else stdout)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
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
