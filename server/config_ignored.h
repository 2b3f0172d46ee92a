#pragma once
// The Redis 7.0 directives shoal accepts and ignores, so that conf files and
// command lines written for Redis start: each is validated as Redis does,
// reported by CONFIG GET (its value kept in Config::ignored) and otherwise
// ignored; a value other than the default is named in a start-up warning
// with the reason (StartupWarnings).

#include <cstdint>
#include <string_view>
#include <vector>

#include "server/config_table.h"
#include "server/config_values.h"

namespace shoal::server {

// What an ignored directive accepts.
struct Accepts {
  enum Kind { kYesNo, kInt, kEnum, kString, kSavePoints } kind;
  int64_t min = 0, max = 0;                  // kInt
  std::vector<std::string_view> names = {};  // kEnum, in Redis's order
};

// One such directive: `def` is its default as CONFIG GET prints it, `why`
// the reason shoal ignores it.
Directive Ignored(std::string_view name, Accepts accepts, std::string_view def, Mut mut,
                  std::string_view why);

// The table of them, in the order CONFIG GET lists them (after
// config_table.cc's own).
std::vector<Directive> MakeIgnoredTable();

}  // namespace shoal::server
