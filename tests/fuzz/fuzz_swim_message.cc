// libFuzzer target: the failure detector's messages (cluster/swim_message.h
// DecodeSwimMessage), a hostile peer's bytes.
//
// Invariants checked: a message DecodeSwimMessage accepts encodes back to
// exactly the input (varints are shortest-form only, so each message has one
// encoding) and decodes again to an equal message with at most kMaxUpdates
// updates.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "cluster/swim_message.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using shoal::fuzz::Check;
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto m = shoal::cluster::DecodeSwimMessage(bytes);
  if (!m.ok()) return 0;
  Check(m.value().updates.size() <= shoal::cluster::kMaxUpdates, "too many updates accepted");
  const std::string encoded = shoal::cluster::EncodeSwimMessage(m.value());
  Check(encoded == bytes, "encode(decode(x)) != x");
  auto again = shoal::cluster::DecodeSwimMessage(encoded);
  Check(again.ok() && again.value() == m.value(), "decode(encode(m)) != m");
  return 0;
}
