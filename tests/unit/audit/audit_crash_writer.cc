// Helper for CrashTest: appends audit events as fast as it can and prints each sequence number
// to stdout, flushed, only from the commit callback (i.e. once acknowledged). The test kills it
// with SIGKILL at a random moment.
//
//   audit_crash_writer DB DB_KEY_FILE SIGNING_KEY_FILE
#include <condition_variable>
#include <cstdio>
#include <iostream>
#include <mutex>

#include "audit_test_util.h"

int main(int argc, char** argv) {
  using namespace mash;
  if (argc != 4) {
    std::cerr << "usage: audit_crash_writer DB DB_KEY_FILE SIGNING_KEY_FILE\n";
    return 2;
  }
  common::InitCrypto();
  storage::DatabaseOptions o;
  o.file = argv[1];
  o.key_file = argv[2];
  auto db = storage::Database::Open(o);
  if (!db.ok()) {
    std::cerr << db.status().ToString() << "\n";
    return 1;
  }
  auto key = crypto::LoadSigningKey(argv[3]);
  if (!key.ok()) return 1;
  audit::AuditLogOptions options;
  options.origin = "mash-broker.test";
  options.checkpoint_every_events = 64;
  auto log = audit::AuditLog::Open(std::move(db).value(),
                                   std::make_shared<crypto::SigningKey>(std::move(key).value()),
                                   std::make_shared<common::SystemClock>(), options);
  if (!log.ok()) {
    std::cerr << log.status().ToString() << "\n";
    return 1;
  }
  std::mutex mu;
  std::condition_variable cv;
  int in_flight = 0;
  for (int i = 0;; ++i) {
    {
      std::unique_lock lock(mu);
      cv.wait(lock, [&] { return in_flight < 256; });
      ++in_flight;
    }
    (*log)->Append(audit::testing::MakeEvent(i), [&](mash::Result<uint64_t> r) {
      if (r.ok()) {
        std::printf("%llu\n", static_cast<unsigned long long>(*r));
        std::fflush(stdout);
      }
      std::lock_guard lock(mu);
      --in_flight;
      cv.notify_one();
    });
  }
}
