// OpenSSL's per-thread error queue as Status messages, for the crypto library's own use.
// Thread safety: reads and drains the calling thread's queue only.
#pragma once

#include <string>

#include "mash/common/status.h"

namespace mash::crypto::internal {

// Drains OpenSSL's error queue of this thread into one line ("no OpenSSL error" when empty).
std::string OpenSslErrors();

// Internal("<what>: <OpenSslErrors()>").
Status OpenSslInternal(const std::string& what);

}  // namespace mash::crypto::internal
