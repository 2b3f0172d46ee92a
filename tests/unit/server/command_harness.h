#pragma once
// CommandHarness: runs commands of the string and key families against a
// private Store, the way the dispatcher would (case-insensitive lookup, the
// arity check, the handler), and returns the raw RESP bytes of the reply.
// Time is a plain value the test advances; nothing here reads a clock.

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "server/command.h"
#include "server/errors.h"
#include "server/reply_builder.h"
#include "storage/store.h"

namespace shoal::server::testing {

class CommandHarness {
 public:
  CommandHarness() {
    RegisterStringCommands(table_);
    RegisterKeyCommands(table_);
  }

  // Runs one command; args[0] is the command name in any case.
  std::string Run(std::vector<std::string> args) {
    std::string out;
    ReplyBuilder reply(&out);
    const CommandSpec* spec = args.empty() ? nullptr : table_.Find(args[0]);
    if (spec == nullptr) {
      reply.Error(errors::UnknownCommand(args.empty() ? "" : args[0],
                                         args.empty() ? nullptr : args.data() + 1,
                                         args.empty() ? 0 : args.size() - 1));
      return out;
    }
    if (!ArityOk(spec->arity, args.size())) {
      reply.Error(errors::WrongArity(spec->name));
      return out;
    }
    CommandContext ctx{args, reply, store_, now_ms, client_, nullptr, random, proto_max_bulk_len};
    spec->handler(ctx);
    return out;
  }
  std::string Run(std::initializer_list<std::string_view> args) {
    return Run(std::vector<std::string>(args.begin(), args.end()));
  }

  void AdvanceMs(int64_t ms) { now_ms += ms; }

  storage::Store& store() { return store_; }
  const CommandTable& table() const { return table_; }

  // Inputs of the next command; tests set them directly.
  int64_t now_ms = 1'700'000'000'000;  // 2023-11-14T22:13:20Z
  uint64_t random = 12345;
  int64_t proto_max_bulk_len = 512ll * 1024 * 1024;

 private:
  CommandTable table_;
  storage::Store store_;
  ClientState client_;
};

// Expected replies, spelled as RESP bytes.
inline std::string Ok() { return "+OK\r\n"; }
inline std::string Nil() { return "$-1\r\n"; }
inline std::string Simple(std::string_view s) { return "+" + std::string(s) + "\r\n"; }
inline std::string Int(int64_t v) { return ":" + std::to_string(v) + "\r\n"; }
inline std::string Bulk(std::string_view s) {
  return "$" + std::to_string(s.size()) + "\r\n" + std::string(s) + "\r\n";
}
inline std::string Err(std::string_view msg) { return "-" + std::string(msg) + "\r\n"; }
inline std::string Arr(std::initializer_list<std::string> items) {
  std::string s = "*" + std::to_string(items.size()) + "\r\n";
  for (const std::string& i : items) s += i;
  return s;
}

}  // namespace shoal::server::testing
