// Where the agent's records come from (DESIGN §4 step 4, issue 5 item 2): one interface behind
// which sit the JSON fixture (FixtureRecords, records.h), the command connector
// (command_connector.h) and the built-in SQLCipher store (record_store.h). The Responder asks it
// for the records that match a query's subject and decides, per category, what leaves under the
// agency's policy.
//
// Thread safety: implementations say. The agent calls Find and FindHousehold from its one lookup
// worker thread (lookup_worker.h), never from the io thread.
#pragma once

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "mash/common/status.h"
#include "mash/schemas/messages.h"

namespace mash::agent {

struct AgentConfig;

// What one record holds about one data category.
struct CategoryRecords {
  std::string summary;
  std::string latest;  // date of the latest record, YYYY-MM-DD, or ""
  nlohmann::json records = nlohmann::json::array();
};

struct Record {
  std::map<std::string, std::string> identifiers;  // normalised
  std::map<std::string, CategoryRecords> categories;
};

// Whether a household member of the query (QueryBody::household) matched a record: the band,
// never content.
struct HouseholdMatch {
  size_t index = 0;                     // the member's position in QueryBody::household
  std::string match = "none";           // confirmed | possible | none
  std::vector<std::string> matched_on;  // fields that agreed
};

// One record that matches the query's subject.
struct SourceMatch {
  Record record;
  std::vector<std::string> matched_on;  // identifier kinds (or fields) that agreed
  std::string match = "confirmed";      // confirmed | possible
};

// Why a query is asked, from its verified envelope header (the body does not carry it).
struct QueryContext {
  std::string check_ref;
  std::string purpose;
};

class RecordSource {
 public:
  virtual ~RecordSource() = default;

  // The records that match `query.subject`: empty when nothing matches. An error means the
  // source could not answer (the Responder then answers `unavailable`, never a partial answer);
  // its message is for the log and holds no personal data.
  virtual Result<std::vector<SourceMatch>> Find(const schemas::QueryBody& query,
                                                const QueryContext& context) = 0;
  // One entry per household member of `query`, in order, with its band. The default (fixture,
  // command connector) does not look household members up: it returns nullopt and the answer
  // carries no household array. An error is handled as Find's.
  virtual Result<std::optional<std::vector<HouseholdMatch>>> FindHousehold(
      const schemas::QueryBody& query, const QueryContext& context) {
    (void)query;
    (void)context;
    return std::optional<std::vector<HouseholdMatch>>();
  }
  // The source system as answers name it (at most 80 characters).
  virtual std::string source() const = 0;
};

// The record source [records] in the config names: the fixture, the command connector or the
// built-in store. Errors: those of FixtureRecords::Load, CommandConnector::Create and
// RecordStore::Open.
Result<std::unique_ptr<RecordSource>> OpenRecordSource(const AgentConfig& config);

}  // namespace mash::agent
