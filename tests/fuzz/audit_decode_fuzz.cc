// libFuzzer target: the audit parsers that take bytes from disk or a peer (event decoding,
// checkpoint text, receipt JSON). None may crash; an accepted event must re-encode to the same
// bytes, and an accepted checkpoint must re-render to the same text.
#include <cstdint>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <span>
#include <string_view>

#include "mash/audit/checkpoint.h"
#include "mash/audit/event.h"
#include "mash/audit/receipt.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace mash::audit;
  std::span<const uint8_t> in(data, size);
  auto e = DecodeEvent(in);
  if (e.ok()) {
    auto again = EncodeEvent(*e);
    if (!again.ok() || *again != Bytes(in.begin(), in.end())) std::abort();
  }
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto c = ParseCheckpoint(text);
  if (c.ok() && c->text != text) std::abort();
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_discarded()) {
    auto r = Receipt::FromJson(j);
    if (r.ok()) {
      auto back = Receipt::FromJson(r->ToJson());
      if (!back.ok() || !(*back == *r)) std::abort();
    }
  }
  return 0;
}
