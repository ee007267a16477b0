#include "mash/agent/record_source.h"

#include "mash/agent/command_connector.h"
#include "mash/agent/config.h"
#include "mash/agent/record_store.h"
#include "mash/agent/records.h"

namespace mash::agent {

Result<std::unique_ptr<RecordSource>> OpenRecordSource(const AgentConfig& config) {
  if (!config.records_command.empty()) {
    CommandOptions options;
    options.argv = config.records_command;
    options.timeout = config.records_command_timeout;
    options.max_output_bytes = config.records_command_max_output_bytes;
    MASH_ASSIGN_OR_RETURN(std::unique_ptr<CommandConnector> connector,
                          CommandConnector::Create(std::move(options)));
    return std::unique_ptr<RecordSource>(std::move(connector));
  }
  if (!config.records_store.empty()) {
    RecordStoreOptions options;
    options.file = config.records_store;
    options.key_file = config.records_store_key;
    options.source = config.records_source.empty() ? config.agency_name + " record store"
                                                   : config.records_source;
    MASH_ASSIGN_OR_RETURN(std::unique_ptr<RecordStore> store, RecordStore::Open(options));
    return std::unique_ptr<RecordSource>(std::move(store));
  }
  MASH_ASSIGN_OR_RETURN(FixtureRecords records, FixtureRecords::Load(config.records_fixture));
  return std::unique_ptr<RecordSource>(std::make_unique<FixtureRecords>(std::move(records)));
}

}  // namespace mash::agent
