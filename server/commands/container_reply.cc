#include "server/commands/container_reply.h"

#include <limits>

#include "server/commands/versioned_reply.h"

namespace shoal::server {

void ReplyContainerStatus(CommandContext& ctx, const storage::Status& st) {
  switch (st.code()) {
    case storage::Code::kNotInteger:
    case storage::Code::kNotFloat:
    case storage::Code::kOverflow:
    case storage::Code::kInvalid:
      return ctx.reply.Error(st.message());
    default:
      return ReplyStatus(ctx, st);
  }
}

storage::Result<int64_t> ParseRandomCount(const std::string& arg) {
  int64_t v;
  if (!ParseInt64(arg, &v)) return storage::Status::Invalid(std::string(errors::kNotInteger));
  if (v == std::numeric_limits<int64_t>::min()) {
    return storage::Status::Invalid(std::string(errors::kRandomCountRange));
  }
  return v;
}

void ReplyEmptyScan(ReplyBuilder& reply) {
  reply.ArrayHeader(2);
  reply.Bulk("0");
  reply.ArrayHeader(0);
}

}  // namespace shoal::server
