#pragma once
// The directive table behind server/config.h: one row per directive with its
// kind, default (the Config field's initializer), whether CONFIG SET may change
// it, and how to parse and print it. Parsing, CONFIG GET, CONFIG SET and the
// conf-file test all read this one table (Redis's `standardConfig configs[]`).

#include <functional>
#include <span>
#include <string>
#include <string_view>

#include "server/config.h"

namespace shoal::server {

struct Directive {
  std::string_view name;
  // CONFIG SET may change it while the server runs.
  bool is_mutable = false;
  // Takes any number of arguments (including none); CONFIG SET splits its
  // value on spaces. Every other directive takes exactly one argument.
  bool is_list = false;
  std::string_view doc;
  // Parses `args` into `cfg`. Returns "" on success, else the reason in
  // Redis's words ("argument must be 'yes' or 'no'"); `cfg` is then unchanged.
  std::function<std::string(Config* cfg, std::span<const std::string> args)> set;
  // The value as CONFIG GET prints it.
  std::function<std::string(const Config& cfg)> get;
  // For a directive shoal accepts and ignores (kept in Config::ignored): its
  // default as CONFIG GET prints it. StartupWarnings names those set to
  // anything else. Empty for directives shoal acts on.
  std::string ignored_default = {};
  bool ignored = false;
  // A secret (requirepass, cluster-secret, rename-command's names): CONFIG
  // GET shows ConfigRedacted() instead when it is set, and CONFIG SET's value
  // is redacted in SLOWLOG.
  bool secret = false;
};

// What CONFIG GET shows for a secret that is set.
inline constexpr std::string_view kConfigRedacted = "(redacted)";

// True if `name` is a secret directive (any case).
bool IsSecretDirective(std::string_view name);

// Every directive, in the order CONFIG GET lists them.
std::span<const Directive> Directives();

// The directive called `name` (case-insensitive), or nullptr.
const Directive* FindDirective(std::string_view name);

}  // namespace shoal::server
