#include "storage/node_id.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include <xxhash.h>

namespace shoal::storage {
namespace {

Status Errno(const std::string& what) {
  return Status::IOError(what + ": " + std::strerror(errno));
}

Status WriteAll(int fd, const std::string& data, const std::string& path) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Errno("write " + path);
    }
    off += static_cast<size_t>(n);
  }
  return Status::Ok();
}

}  // namespace

bool IsValidNodeId(const std::string& id) {
  if (id.size() != 40) return false;
  for (char c : id) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

Result<std::string> LoadOrCreateNodeId(const std::string& dir, const std::string& random_bytes) {
  const std::string path = dir + "/" + kNodeIdFile;
  std::ifstream in(path);
  if (in) {
    std::string id;
    std::getline(in, id);
    if (!IsValidNodeId(id)) {
      return Status::Corruption(path + ": not a valid node id (expected 40 hex characters)");
    }
    return id;
  }
  if (random_bytes.size() < 20) return Status::Invalid("node id needs 20 random bytes");
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id;
  for (size_t i = 0; i < 20; ++i) {
    unsigned char b = static_cast<unsigned char>(random_bytes[i]);
    id.push_back(kHex[b >> 4]);
    id.push_back(kHex[b & 15]);
  }

  const std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Errno("open " + tmp);
  Status st = WriteAll(fd, id + "\n", tmp);
  if (st.ok() && ::fsync(fd) != 0) st = Errno("fsync " + tmp);
  if (::close(fd) != 0 && st.ok()) st = Errno("close " + tmp);
  if (!st.ok()) return st;
  if (::rename(tmp.c_str(), path.c_str()) != 0) return Errno("rename " + tmp);
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return Errno("open " + dir);
  int rc = ::fsync(dfd);
  ::close(dfd);
  if (rc != 0) return Errno("fsync " + dir);
  return id;
}

std::string DerivedNodeId(std::string_view binary_id, uint64_t epoch) {
  std::string input = "shoal stand-in ";
  input.append(binary_id);
  for (int i = 0; i < 8; ++i) input.push_back(static_cast<char>((epoch >> (8 * i)) & 0xff));
  const XXH128_hash_t h = XXH3_128bits(input.data(), input.size());
  const uint64_t tail = XXH3_64bits_withSeed(input.data(), input.size(), 0x5ca1ab1e);
  std::string out;
  for (uint64_t word : {h.high64, h.low64}) {
    for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((word >> (8 * i)) & 0xff));
  }
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((tail >> (8 * i)) & 0xff));
  return out;
}

}  // namespace shoal::storage
