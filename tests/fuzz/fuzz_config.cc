// libFuzzer target: the conf parser (server/config.h LoadString, the conf
// file) and the command line (ApplyArgs, `--directive value...`).
//
// Input: byte 0 is a mode (bit 0: command line, else conf text). The rest
// is the conf text, or the arguments separated by NUL bytes (the first must
// start with "--": a first argument that does not names a conf file to read,
// which a fuzzer must not do).
//
// Invariant checked, whenever the input loads: writing every directive back
// as CONFIG GET prints it (as a conf file, and as a command line) and loading
// that into a fresh Config gives the same CONFIG GET output. Validate runs on
// the result too (it must not crash, whatever the values).

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "server/config.h"
#include "server/config_table.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

using shoal::fuzz::Check;
using namespace shoal::server;

using Pairs = std::vector<std::pair<std::string, std::string>>;

// A double-quoted argument with every byte as \xHH.
std::string Quote(std::string_view s) {
  static const char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  for (unsigned char c : s) {
    out += "\\x";
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
  return out + "\"";
}

// A directive's value as the words of its conf line (lists split on spaces).
std::vector<std::string> Words(std::string_view name, std::string_view value) {
  const Directive* d = FindDirective(name);
  Check(d != nullptr, "CONFIG GET printed an unknown directive");
  if (!d->is_list) return {std::string(value)};
  std::vector<std::string> words;
  size_t pos = 0;
  while (pos < value.size()) {
    size_t sp = value.find(' ', pos);
    if (sp == std::string_view::npos) sp = value.size();
    if (sp > pos) words.emplace_back(value.substr(pos, sp - pos));
    pos = sp + 1;
  }
  return words;
}

// Prints the directives whose values differ, then fails.
void CheckSame(const Pairs& got, const Pairs& want, const char* what) {
  if (got == want) return;
  for (size_t i = 0; i < got.size() && i < want.size(); ++i) {
    if (got[i] != want[i]) {
      std::fprintf(stderr, "%s: '%s' '%s' -> '%s' '%s'\n", what, want[i].first.c_str(),
                   want[i].second.c_str(), got[i].first.c_str(), got[i].second.c_str());
    }
  }
  Check(false, what);
}

// CONFIG GET shows the secrets and the command renames as "(redacted)" (or
// "" when unset): by design they do not round trip, and are left out.
Pairs RoundTripped(Pairs pairs) {
  std::erase_if(pairs, [](const auto& p) {
    return p.first == "requirepass" || p.first == "cluster-secret" || p.first == "rename-command";
  });
  return pairs;
}

void CheckRoundTrip(const Config& cfg) {
  const Pairs all = RoundTripped(ConfigGet(cfg, "*"));
  std::string text;
  std::vector<std::string> args{"shoal-server"};
  bool dashed_value = false;  // a value word that starts with "--"
  for (const auto& [name, value] : all) {
    text += name;
    args.push_back("--" + name);
    for (const std::string& w : Words(name, value)) {
      text += " " + Quote(w);
      args.push_back(w);
      if (w.rfind("--", 0) == 0) dashed_value = true;
    }
    text += "\n";
  }
  Config from_text;
  auto s = LoadString(text, "roundtrip", &from_text);
  if (!s.ok()) std::fprintf(stderr, "%s\n", s.message().c_str());
  Check(s.ok(), "CONFIG GET's output does not load as a conf file");
  CheckSame(RoundTripped(ConfigGet(from_text, "*")), all, "conf file round trip changed a value");

  // A command line cannot carry a NUL byte (a conf file can: "\x00"), nor
  // a value word that starts with "--": the argument parser takes it
  // for the next directive (a conf file quotes it).
  if (dashed_value) return;
  for (const std::string& a : args) {
    if (a.find('\0') != std::string::npos) return;
  }
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  Config from_args;
  s = ApplyArgs(static_cast<int>(argv.size()), argv.data(), &from_args);
  Check(s.ok(), "CONFIG GET's output does not load as a command line");
  CheckSame(RoundTripped(ConfigGet(from_args, "*")), all,
            "command line round trip changed a value");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  Config cfg;
  if ((data[0] & 1) == 0) {
    if (!LoadString(rest, "fuzz.conf", &cfg).ok()) return 0;
  } else {
    std::vector<std::string> args{"shoal-server"};
    size_t pos = 0;
    while (pos <= rest.size()) {
      size_t nul = rest.find('\0', pos);
      if (nul == std::string_view::npos) nul = rest.size();
      args.emplace_back(rest.substr(pos, nul - pos));
      pos = nul + 1;
    }
    if (args.size() < 2 || args[1].rfind("--", 0) != 0) return 0;
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    if (!ApplyArgs(static_cast<int>(argv.size()), argv.data(), &cfg).ok()) return 0;
  }
  (void)Validate(cfg);
  CheckRoundTrip(cfg);
  return 0;
}
