// Practitioners' and managers' pages: checks raised, followed, authorised and decided.
#include "console/page.h"

namespace mash::broker::console {

void AddCheckPages(Router& router, Context& context) {
  (void)router;
  (void)context;
}

}  // namespace mash::broker::console
