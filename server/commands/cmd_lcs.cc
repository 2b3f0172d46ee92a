// LCS key1 key2 [LEN] [IDX] [MINMATCHLEN len] [WITHMATCHLEN] (Redis 7.0's
// t_string.c, lcsCommand). Both values are read as strings (absent: empty;
// siblings: CONFLICT); the algorithm is lcs.h. In a cluster both keys must
// share a replica set (hash tags), else CROSSSLOT.

#include <optional>
#include <string>

#include "facade/args.h"
#include "facade/errors.h"
#include "server/commands/command.h"
#include "server/commands/lcs.h"
#include "server/commands/versioned_reply.h"

namespace shoal::server {
namespace {

void LcsCommand(CommandContext& ctx) {
  // Redis looks the keys up before it parses the options.
  std::optional<std::string> a, b;
  if (!ReadSingle(ctx, ctx.args[1], &a) || !ReadSingle(ctx, ctx.args[2], &b)) return;
  bool get_len = false, get_idx = false, with_match_len = false;
  int64_t min_match_len = 0;
  for (size_t j = 3; j < ctx.args.size(); ++j) {
    const std::string& opt = ctx.args[j];
    const bool more = j + 1 < ctx.args.size();
    if (EqualsIgnoreCase(opt, "idx")) {
      get_idx = true;
    } else if (EqualsIgnoreCase(opt, "len")) {
      get_len = true;
    } else if (EqualsIgnoreCase(opt, "withmatchlen")) {
      with_match_len = true;
    } else if (EqualsIgnoreCase(opt, "minmatchlen") && more) {
      if (!ParseInt64(ctx.args[j + 1], &min_match_len)) {
        return ctx.reply.Error(errors::kNotInteger);
      }
      if (min_match_len < 0) min_match_len = 0;
      ++j;
    } else {
      return ctx.reply.Error(errors::kSyntax);
    }
  }
  if (get_len && get_idx) return ctx.reply.Error(errors::kLcsLenAndIdx);

  LcsOptions options;
  options.want_string = !get_len && !get_idx;
  options.want_matches = get_idx;
  options.min_match_len = min_match_len;
  options.max_table_bytes = static_cast<uint64_t>(ctx.proto_max_bulk_len);
  auto r = ComputeLcs(a ? *a : std::string_view(), b ? *b : std::string_view(), options);
  if (!r.ok()) return ctx.reply.Error(r.status().message());
  const LcsResult& lcs = r.value();
  if (get_len) return ctx.reply.Integer(lcs.len);
  if (!get_idx) return ctx.reply.Bulk(lcs.subsequence);
  // A map of two entries (a flat array of four in RESP2).
  ctx.reply.MapHeader(2);
  ctx.reply.Bulk("matches");
  ctx.reply.ArrayHeader(lcs.matches.size());
  for (const LcsMatch& m : lcs.matches) {
    ctx.reply.ArrayHeader(with_match_len ? 3 : 2);
    ctx.reply.ArrayHeader(2);
    ctx.reply.Integer(m.a_start);
    ctx.reply.Integer(m.a_end);
    ctx.reply.ArrayHeader(2);
    ctx.reply.Integer(m.b_start);
    ctx.reply.Integer(m.b_end);
    if (with_match_len) ctx.reply.Integer(m.len);
  }
  ctx.reply.Bulk("len");
  ctx.reply.Integer(lcs.len);
}

const CommandSpec kLcsCommands[] = {
    {"lcs",
     -3,
     kCmdReadonly,
     LcsCommand,
     1,
     2,
     1,
     "string",
     "Find longest common substring",
     "7.0.0",
     {},
     {.split = cluster::Split::kSameReplicas}},
};

}  // namespace

void RegisterLcsCommand(CommandTable& table) {
  table.Register(kLcsCommands);
}

}  // namespace shoal::server
