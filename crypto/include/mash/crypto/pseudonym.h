// Keyed subject pseudonyms (DESIGN §8): HMAC-SHA-256 of a normalised identifier under the hub's
// pseudonym key, so IG officers can search the audit trail by subject without plain identities.
//
//   Pseudonym = "ps1:" + hex(HMAC-SHA-256(key, kind || 0x00 || normalised value))
//
// Thread safety: const members are safe from any thread.
#pragma once

#include <string>
#include <string_view>

#include "mash/common/status.h"
#include "mash/crypto/secure_memory.h"

namespace mash::crypto {

// Upper-cases, drops spaces, hyphens and other separators; for names also folds runs of
// whitespace to one space. kind is e.g. "nhs_number", "pnc_id", "upn", "ni_number", "name_dob".
std::string NormaliseIdentifier(std::string_view kind, std::string_view value);

class Pseudonymiser {
 public:
  // InvalidArgument unless the key is 32 bytes.
  static Result<Pseudonymiser> Create(SecureBuffer key);
  std::string Pseudonym(std::string_view kind, std::string_view value) const;

 private:
  explicit Pseudonymiser(SecureBuffer key) : key_(std::move(key)) {}
  SecureBuffer key_;
};

}  // namespace mash::crypto
