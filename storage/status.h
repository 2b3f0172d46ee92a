#pragma once
// Status and Result<T>: how fallible calls report failure. Nothing in shoal
// throws across the event loop; a function that can fail returns one of these
// (LevelDB's Status, Dragonfly's OpResult). std::expected is C++23, so we keep
// a small one.

#include <cassert>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace shoal::storage {

enum class Code {
  kOk,
  kNotFound,     // no such key / file
  kInvalid,      // bad argument or input; message is the client-facing text
  kWrongType,    // operation on a value of the wrong kind
  kNotInteger,   // value is not an integer or out of range
  kNotFloat,     // value is not a valid float
  kOverflow,     // increment or decrement would overflow
  kOutOfMemory,  // maxmemory reached
  kConflict,     // key has siblings; caller must resolve
  kIOError,      // a system call failed; message names it
  kCorruption,   // persistent data is damaged
  kUnavailable,  // too few replicas answered (a quorum was missed); may have landed
  kStale,        // a change computed from another base than the one here (a delta)
};

// A code plus an optional human-readable message. Cheap to return when ok.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return {}; }
  static Status Invalid(std::string msg) { return {Code::kInvalid, std::move(msg)}; }
  static Status NotFound(std::string msg = {}) { return {Code::kNotFound, std::move(msg)}; }
  static Status IOError(std::string msg) { return {Code::kIOError, std::move(msg)}; }
  static Status Corruption(std::string msg) { return {Code::kCorruption, std::move(msg)}; }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }

 private:
  Code code_ = Code::kOk;
  std::string message_;
};

// Either a value or a non-ok Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}        // NOLINT(google-explicit-constructor)
  Result(Status status) : v_(std::move(status)) {  // NOLINT(google-explicit-constructor)
    assert(!std::get<Status>(v_).ok());
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T& value() & { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  // The failure; only valid when !ok().
  const Status& status() const { return std::get<Status>(v_); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace shoal::storage
