// A member of the hub's staff as the API authenticated them: who they are, their role (from the
// controlled vocabulary) and their team. Checks belong to the team of the person who raised them:
// practitioners and managers see their own team's checks and nobody else's.
// Thread safety: a plain value.
#pragma once

#include <string>

namespace mash::broker {

struct Staff {
  std::string user;
  std::string role;  // practitioner | manager | custodian | ig_officer | dpo | agency_it | admin
  std::string organisation = "hub";
  std::string team = "";  // empty: no team (an account that raises and reads no checks)
};

}  // namespace mash::broker
