// Binds every peer frame to the handshake that opened its connection
// (cluster/peer/auth.h), so that a connection relayed or spliced by a third
// party is useless to it: the handshake only proves that both ends know the
// cluster-secret, the MACs prove that every later frame and reply comes from
// those two ends, in order.
//
// Session keys, one per direction, from the handshake's nonces and ids:
//   K_req = HMAC-SHA256(secret, "shoal-peer-v2|KC|" + c_nonce + "|" + s_nonce +
//                                "|" + c_id + "|" + s_id)   connector -> acceptor
//   K_rep = the same with "KS"                               acceptor -> connector
// (hex, used as HMAC keys). Neither is ever sent; a relay that watched the
// handshake knows the nonces but not the secret.
//
// Requests (connector -> acceptor): each frame after the handshake carries
// one more, last argument: the 32 raw bytes of
//   HMAC-SHA256(K_req, "F" || seq || for each argument: len || bytes)
// with seq and len as 8-byte big-endian integers and seq counting the
// connection's frames from 0. The acceptor checks and strips it before the
// frame runs. seq is implicit, so a replayed, reordered, dropped or injected
// frame fails.
//
// Replies (acceptor -> connector): the acceptor writes whatever replies it
// has ready at each flush as one sealed chunk, the RESP array
//   [ HMAC-SHA256(K_rep, "R" || seq || bytes) , bytes ]
// (two bulk strings; seq counts the connection's chunks from 0); the
// connector checks it and parses `bytes` as the replies. Sealing whole
// flushes rather than single replies keeps deferred replies (completed out of
// order, released in order by the connection's reply queue) out of the
// picture, and costs one MAC per flush.
//
// A frame or chunk whose MAC does not match ends the connection.
// With an empty cluster-secret the MACs still run with keys anyone can
// compute: they then protect against nothing, as the handshake itself.
//
// Pure (libcrypto) and thread-compatible: one object per connection.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace shoal::cluster {

// Raw length of a frame's or chunk's MAC.
inline constexpr size_t kFrameMacBytes = 32;

struct SessionKeys {
  std::string requests;  // K_req: connector -> acceptor
  std::string replies;   // K_rep: acceptor -> connector
};

SessionKeys DeriveSessionKeys(std::string_view secret, std::string_view client_nonce,
                              std::string_view server_nonce, std::string_view client_id,
                              std::string_view server_id);

// HMAC-SHA256 under one key, computed many times (the key schedule is done
// once). Empty on a libcrypto failure, which no check accepts.
class MacKey {
 public:
  explicit MacKey(std::string_view key);
  ~MacKey();
  MacKey(const MacKey&) = delete;
  MacKey& operator=(const MacKey&) = delete;

  // MAC of a request frame's arguments (the MAC argument excluded).
  std::string FrameMac(uint64_t seq, std::span<const std::string> args) const;
  // MAC of a reply chunk.
  std::string ChunkMac(uint64_t seq, std::string_view bytes) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Connector side: the MAC argument to append to each frame, in send order.
class FrameSigner {
 public:
  explicit FrameSigner(std::string_view key) : key_(key) {}
  std::string Next(std::span<const std::string> args) { return key_.FrameMac(seq_++, args); }

 private:
  MacKey key_;
  uint64_t seq_ = 0;
};

// Acceptor side: checks the next frame's MAC (its last argument) and strips
// it. False if the frame has no MAC or a wrong one: the caller closes the
// connection (the sequence is lost for good).
class FrameVerifier {
 public:
  explicit FrameVerifier(std::string_view key) : key_(key) {}
  bool VerifyAndStrip(std::vector<std::string>& argv);

 private:
  MacKey key_;
  uint64_t seq_ = 0;
};

// Acceptor side: turns the bytes of a flush into one sealed chunk, in place.
class ReplySealer {
 public:
  explicit ReplySealer(std::string_view key) : key_(key) {}
  void Seal(std::string& bytes);

 private:
  MacKey key_;
  uint64_t seq_ = 0;
};

// Connector side: checks the next chunk. False if the MAC does not match.
class ReplyOpener {
 public:
  explicit ReplyOpener(std::string_view key) : key_(key) {}
  bool Open(std::string_view mac, std::string_view bytes);

 private:
  MacKey key_;
  uint64_t seq_ = 0;
};

}  // namespace shoal::cluster
