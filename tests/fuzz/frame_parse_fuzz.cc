// Fuzzes the first thing a peer's bytes reach: frame parsing and validation, and the decrypted
// query, answer, review_pending and chase bodies.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "mash/schemas/messages.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto frame = mash::schemas::ParseFrame(text);
  if (frame.ok()) {
    // Typed decoding must accept everything the schema accepted.
    switch (frame->type) {
      case mash::schemas::MessageType::kHello:
        (void)mash::schemas::Hello::FromJson(frame->doc);
        break;
      case mash::schemas::MessageType::kWelcome:
        (void)mash::schemas::Welcome::FromJson(frame->doc);
        break;
      case mash::schemas::MessageType::kPing:
        (void)mash::schemas::Ping::FromJson(frame->doc);
        break;
      case mash::schemas::MessageType::kError:
        (void)mash::schemas::ErrorMessage::FromJson(frame->doc);
        break;
      default:
        break;
    }
  }
  (void)mash::schemas::QueryBody::Parse(text);
  (void)mash::schemas::AnswerBody::Parse(text);
  (void)mash::schemas::ReviewPendingBody::Parse(text);
  (void)mash::schemas::ChaseBody::Parse(text);
  return 0;
}
