#include "cluster/peer/frame_mac.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "cluster/peer/auth.h"

namespace shoal::cluster {
namespace {

// The label of the session keys; tied to the handshake's version.
constexpr std::string_view kKeyLabel = "shoal-peer-v3";

void BigEndian(uint64_t v, unsigned char out[8]) {
  for (int i = 7; i >= 0; --i) {
    out[i] = static_cast<unsigned char>(v & 0xff);
    v >>= 8;
  }
}

std::string KeyMessage(std::string_view role, std::string_view a, std::string_view b,
                       std::string_view c, std::string_view d) {
  std::string msg;
  msg.append(kKeyLabel).append("|").append(role).append("|");
  msg.append(a).append("|").append(b).append("|").append(c).append("|").append(d);
  return msg;
}

bool Equal(std::string_view a, std::string_view b) {
  return a.size() == kFrameMacBytes && b.size() == kFrameMacBytes &&
         CRYPTO_memcmp(a.data(), b.data(), kFrameMacBytes) == 0;
}

}  // namespace

SessionKeys DeriveSessionKeys(std::string_view secret, std::string_view client_nonce,
                              std::string_view server_nonce, std::string_view client_id,
                              std::string_view server_id) {
  SessionKeys keys;
  keys.requests =
      HmacSha256Hex(secret, KeyMessage("KC", client_nonce, server_nonce, client_id, server_id));
  keys.replies =
      HmacSha256Hex(secret, KeyMessage("KS", client_nonce, server_nonce, client_id, server_id));
  return keys;
}

struct MacKey::Impl {
  EVP_MAC* mac = nullptr;
  EVP_MAC_CTX* ctx = nullptr;  // keyed; re-initialised for each MAC
  bool ok = false;             // the MAC being computed has seen no failure
};

MacKey::MacKey(std::string_view key) : impl_(std::make_unique<Impl>()) {
  static const unsigned char kEmpty[1] = {0};
  impl_->mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  if (impl_->mac == nullptr) return;
  impl_->ctx = EVP_MAC_CTX_new(impl_->mac);
  if (impl_->ctx == nullptr) return;
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                         OSSL_PARAM_construct_end()};
  const auto* bytes = key.empty() ? kEmpty : reinterpret_cast<const unsigned char*>(key.data());
  if (EVP_MAC_init(impl_->ctx, bytes, key.size(), params) != 1) {
    EVP_MAC_CTX_free(impl_->ctx);
    impl_->ctx = nullptr;
  }
}

MacKey::~MacKey() {
  EVP_MAC_CTX_free(impl_->ctx);
  EVP_MAC_free(impl_->mac);
}

namespace {

bool Update(EVP_MAC_CTX* ctx, const void* data, size_t n) {
  return n == 0 || EVP_MAC_update(ctx, static_cast<const unsigned char*>(data), n) == 1;
}

// A tag byte and an 8-byte big-endian integer.
bool UpdateHead(EVP_MAC_CTX* ctx, char tag, uint64_t n) {
  unsigned char head[9];
  head[0] = static_cast<unsigned char>(tag);
  BigEndian(n, head + 1);
  return Update(ctx, head, sizeof(head));
}

}  // namespace

// Re-initialising reuses the keyed context: duplicating it for every MAC (an
// allocation and a provider lookup each) cost about 15% of a 3-node
// cluster's pipelined write rate.
void MacKey::Begin(uint64_t seq) {
  impl_->ok = impl_->ctx != nullptr && EVP_MAC_init(impl_->ctx, nullptr, 0, nullptr) == 1 &&
              UpdateHead(impl_->ctx, 'B', seq);
}

void MacKey::Frame(std::span<const std::string> args) {
  if (!impl_->ok) return;
  unsigned char len[8];
  BigEndian(args.size(), len);
  impl_->ok = Update(impl_->ctx, len, sizeof(len));
  for (const std::string& a : args) {
    if (!impl_->ok) return;
    BigEndian(a.size(), len);
    impl_->ok = Update(impl_->ctx, len, sizeof(len)) && Update(impl_->ctx, a.data(), a.size());
  }
}

std::string MacKey::Finish() {
  std::string out(kFrameMacBytes, '\0');
  size_t len = 0;
  const bool ok = impl_->ok &&
                  EVP_MAC_final(impl_->ctx, reinterpret_cast<unsigned char*>(out.data()), &len,
                                out.size()) == 1 &&
                  len == kFrameMacBytes;
  impl_->ok = false;
  return ok ? out : std::string();
}

std::string MacKey::ChunkMac(uint64_t seq, std::string_view bytes) {
  impl_->ok = impl_->ctx != nullptr && EVP_MAC_init(impl_->ctx, nullptr, 0, nullptr) == 1 &&
              UpdateHead(impl_->ctx, 'R', seq) && Update(impl_->ctx, bytes.data(), bytes.size());
  return Finish();
}

void RequestBatch::Add(std::span<const std::string> args) {
  if (!open_) {
    key_.Begin(seq_);
    open_ = true;
  }
  key_.Frame(args);
  ++frames_;
  for (const std::string& a : args) bytes_ += a.size();
}

std::string RequestBatch::Seal() {
  if (!open_) key_.Begin(seq_);
  ++seq_;
  open_ = false;
  frames_ = 0;
  bytes_ = 0;
  return key_.Finish();
}

bool FrameVerifier::Hold(std::vector<std::string>&& argv) {
  if (batch_.full()) return false;
  batch_.Add(argv);
  held_.push_back(std::move(argv));
  return true;
}

std::optional<std::vector<std::vector<std::string>>> FrameVerifier::Open(std::string_view mac) {
  if (!Equal(batch_.Seal(), mac)) return std::nullopt;
  std::vector<std::vector<std::string>> frames;
  frames.swap(held_);
  return frames;
}

void ReplySealer::Seal(std::string& bytes) {
  const std::string mac = key_.ChunkMac(seq_++, bytes);
  std::string head = "*2\r\n$" + std::to_string(mac.size()) + "\r\n";
  head += mac;
  head += "\r\n$" + std::to_string(bytes.size()) + "\r\n";
  bytes.insert(0, head);
  bytes += "\r\n";
}

bool ReplyOpener::Open(std::string_view mac, std::string_view bytes) {
  if (!Equal(key_.ChunkMac(seq_, bytes), mac)) return false;
  ++seq_;
  return true;
}

}  // namespace shoal::cluster
