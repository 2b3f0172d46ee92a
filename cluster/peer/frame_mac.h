// Binds every peer frame to the handshake that opened its connection
// (cluster/peer/auth.h), so that a connection relayed or spliced by a third
// party is useless to it: the handshake only proves that both ends know the
// cluster-secret, the MACs prove that every later frame and reply comes from
// those two ends, in order.
//
// Session keys, one per direction, from the handshake's nonces and ids:
//   K_req = HMAC-SHA256(secret, "shoal-peer-v3|KC|" + c_nonce + "|" + s_nonce +
//                                "|" + c_id + "|" + s_id)   connector -> acceptor
//   K_rep = the same with "KS"                               acceptor -> connector
// (hex, used as HMAC keys). Neither is ever sent; a relay that watched the
// handshake knows the nonces but not the secret.
//
// Requests (connector -> acceptor) travel in sealed batches: the frames
// run unchanged, and after the last frame of a batch the connector sends
// the frame
//   SHOAL.SEAL <mac>
// whose argument is the 32 raw bytes of
//   HMAC-SHA256(K_req, "B" || seq || for each frame: argc || for each
//                                      argument: len || bytes)
// with seq, argc and len as 8-byte big-endian integers and seq counting the
// connection's batches from 0. The acceptor holds a batch's frames until
// its seal verifies and only then runs them, in order; SHOAL.SEAL itself
// has no reply. seq is implicit, so a replayed, reordered, dropped or
// injected frame or batch fails. The connector seals whatever it hands to
// the socket at once (every write), and also after kMaxBatchFrames frames
// or kMaxBatchBytes bytes of arguments; the acceptor refuses a batch that
// goes past either (it would otherwise hold frames without bound). So a
// lone frame costs one MAC and a pipelined stream one per socket write.
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
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace shoal::cluster {

// Raw length of a batch's or chunk's MAC.
inline constexpr size_t kFrameMacBytes = 32;
// The frame that closes a batch of requests.
inline constexpr std::string_view kSealCommand = "SHOAL.SEAL";
// The most frames, and bytes of arguments, of one batch.
inline constexpr size_t kMaxBatchFrames = 64;
inline constexpr size_t kMaxBatchBytes = 1u << 20;

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

  // MAC of a reply chunk.
  std::string ChunkMac(uint64_t seq, std::string_view bytes);

  // A batch's MAC, computed as its frames come: Begin(seq), a Frame per
  // frame, Finish. Starting anything else ends an unfinished batch.
  void Begin(uint64_t seq);
  void Frame(std::span<const std::string> args);
  std::string Finish();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// A batch of request frames being sealed or checked. The connector keeps
// one per connection: it Adds each frame as it writes it, and writes the
// frame {kSealCommand, Seal()} when it hands output to the socket with
// frames() > 0, or once full().
class RequestBatch {
 public:
  explicit RequestBatch(std::string_view key) : key_(key) {}
  // Adds a frame to the open batch.
  void Add(std::span<const std::string> args);
  size_t frames() const { return frames_; }
  size_t bytes() const { return bytes_; }
  // The open batch is at a bound: it must be sealed before another frame.
  bool full() const { return frames_ >= kMaxBatchFrames || bytes_ >= kMaxBatchBytes; }
  // The MAC of the open batch; the next batch starts.
  std::string Seal();

 private:
  MacKey key_;
  uint64_t seq_ = 0;
  size_t frames_ = 0;
  size_t bytes_ = 0;
  bool open_ = false;
};

// Acceptor side: holds the frames of the open batch until its seal.
class FrameVerifier {
 public:
  explicit FrameVerifier(std::string_view key) : batch_(key) {}
  // A frame of the open batch, held. False if the batch was already full
  // (a protocol violation: the caller closes the connection).
  bool Hold(std::vector<std::string>&& argv);
  // Checks the open batch against the MAC of its seal and returns its
  // frames, in order, to run; nullopt if the MAC does not match (the caller
  // closes the connection: the sequence is lost for good).
  std::optional<std::vector<std::vector<std::string>>> Open(std::string_view mac);
  size_t held() const { return held_.size(); }

 private:
  RequestBatch batch_;
  std::vector<std::vector<std::string>> held_;
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
