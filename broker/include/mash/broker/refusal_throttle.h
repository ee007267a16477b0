// Refusals of peers that have not authenticated (bad enrolment tokens, bad passwords) are each
// logged, but recorded in the audit trail at most once a second, the row naming how many it
// stands for, so that nobody can fill the audit store by sending bad credentials.
// Thread safety: one thread (the broker's io thread).
#pragma once

#include <cstdint>
#include <optional>

namespace mash::broker {

class RefusalThrottle {
 public:
  // nullopt when a row was already recorded in second `now_unix` (the refusal is counted);
  // otherwise the number of earlier refusals the row to record now stands for as well.
  std::optional<uint64_t> Admit(int64_t now_unix) {
    if (now_unix == last_recorded_) {
      ++not_recorded_;
      return std::nullopt;
    }
    last_recorded_ = now_unix;
    const uint64_t earlier = not_recorded_;
    not_recorded_ = 0;
    return earlier;
  }

 private:
  int64_t last_recorded_ = 0;  // the second of the last recorded row
  uint64_t not_recorded_ = 0;
};

}  // namespace mash::broker
