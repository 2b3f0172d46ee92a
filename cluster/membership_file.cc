#include "cluster/membership_file.h"

#include <xxhash.h>

#include <charconv>
#include <cstdio>

#include "storage/atomic_file.h"

namespace shoal::cluster {
namespace {

constexpr std::string_view kMagic = "shoal-nodes 1\n";
// A ring of kMaxPartitions owners with the members is well under this.
constexpr uint64_t kMaxFileBytes = 64ull << 20;

std::string Checksum(std::string_view state) {
  char hex[17];
  std::snprintf(hex, sizeof(hex), "%016llx",
                static_cast<unsigned long long>(XXH3_64bits(state.data(), state.size())));
  return std::string(hex, 16);
}

}  // namespace

storage::Status SaveMembership(storage::Env* env, const std::string& dir,
                               const Membership& membership) {
  const std::string state = membership.Encode();
  std::string contents(kMagic);
  contents += Checksum(state);
  contents += '\n';
  contents += state;
  return storage::WriteFileAtomically(env, dir, kMembershipFileName, contents);
}

storage::Result<std::optional<Membership>> LoadMembership(storage::Env* env,
                                                          const std::string& dir) {
  const std::string path = dir + "/" + kMembershipFileName;
  auto read = storage::ReadSmallFile(env, path, kMaxFileBytes);
  if (!read.ok()) return read.status();
  if (!read.value().has_value()) return std::optional<Membership>();
  std::string_view text = *read.value();
  auto bad = [&](const std::string& why) {
    return storage::Status::Corruption(path + ": " + why +
                                       " (move the file away to start as a new node)");
  };
  if (text.substr(0, kMagic.size()) != kMagic) return bad("not a shoal membership file");
  text.remove_prefix(kMagic.size());
  if (text.size() < 17 || text[16] != '\n') return bad("no checksum line");
  const std::string_view sum = text.substr(0, 16);
  const std::string_view state = text.substr(17);
  if (sum != Checksum(state)) return bad("checksum mismatch");
  auto m = Membership::Decode(state);
  if (!m.ok()) return bad(m.status().message());
  return std::optional<Membership>(std::move(m).value());
}

}  // namespace shoal::cluster
