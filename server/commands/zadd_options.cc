#include "server/commands/zadd_options.h"

#include "facade/args.h"
#include "facade/errors.h"
#include "server/commands/zset_score.h"

namespace shoal::server {

storage::Result<ZaddOptions> ParseZaddOptions(std::span<const std::string> args, bool incr) {
  using storage::Status;
  ZaddOptions o;
  o.incr = incr;
  size_t i = 2;
  for (; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (facade::EqualsIgnoreCase(a, "nx")) {
      o.nx = true;
    } else if (facade::EqualsIgnoreCase(a, "xx")) {
      o.xx = true;
    } else if (facade::EqualsIgnoreCase(a, "ch")) {
      o.ch = true;
    } else if (facade::EqualsIgnoreCase(a, "incr")) {
      o.incr = true;
    } else if (facade::EqualsIgnoreCase(a, "gt")) {
      o.gt = true;
    } else if (facade::EqualsIgnoreCase(a, "lt")) {
      o.lt = true;
    } else {
      break;
    }
  }
  const size_t rest = args.size() - i;
  if (rest == 0 || rest % 2 != 0) return Status::Invalid(std::string(facade::errors::kSyntax));
  if (o.nx && o.xx) return Status::Invalid(std::string(kZaddXxAndNx));
  if ((o.gt && o.nx) || (o.lt && o.nx) || (o.gt && o.lt)) {
    return Status::Invalid(std::string(kZaddGtLtNx));
  }
  if (o.incr && rest > 2) return Status::Invalid(std::string(kZaddIncrOnePair));
  o.pairs.reserve(rest / 2);
  for (; i < args.size(); i += 2) {
    auto score = ParseZsetScore(args[i]);
    if (!score) return Status::Invalid(std::string(facade::errors::kNotFloat));
    o.pairs.push_back({*score, args[i + 1]});
  }
  return o;
}

}  // namespace shoal::server
