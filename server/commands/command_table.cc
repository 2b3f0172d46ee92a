#include <algorithm>

#include "facade/args.h"
#include "server/commands/command.h"

namespace shoal::server {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) {
    return static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
  });
  return out;
}

}  // namespace

void CommandTable::Register(std::span<const CommandSpec> rows) {
  for (const CommandSpec& row : rows) {
    by_name_[std::string(row.name)] = &row;
    if (!(row.flags & kCmdInternal)) all_.push_back(&row);  // COMMAND lists clients' commands
  }
}

void CommandTable::RegisterUnsupported(std::span<const std::string_view> names,
                                       std::string_view reason) {
  for (std::string_view n : names) unsupported_[Lower(n)] = reason;
}

const CommandSpec* CommandTable::Find(std::string_view name, bool internal) const {
  // Command names are short; lower-casing into a stack buffer avoids an
  // allocation on every request.
  char buf[32];
  if (name.size() > sizeof(buf)) return nullptr;
  for (size_t i = 0; i < name.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(name[i]);
    buf[i] = static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
  }
  auto it = by_name_.find(std::string(buf, name.size()));
  if (it == by_name_.end() || (!internal && (it->second->flags & kCmdInternal))) return nullptr;
  return it->second;
}

bool CommandTable::IsUnsupported(std::string_view name) const {
  return unsupported_.count(Lower(name)) > 0;
}

std::string CommandTable::UnsupportedError(std::string_view name) const {
  auto it = unsupported_.find(Lower(name));
  return errors::Unsupported(
      name, it == unsupported_.end() ? std::string_view("not implemented") : it->second);
}

const CommandSpec* CommandTable::FindSub(const CommandSpec& parent, std::string_view name) {
  for (const CommandSpec& sub : parent.subcommands) {
    std::string_view short_name = sub.name.substr(sub.name.find('|') + 1);
    if (EqualsIgnoreCase(short_name, name)) return &sub;
  }
  return nullptr;
}

cluster::CommandRef CommandTable::Ref(const CommandSpec& cmd) {
  cluster::CommandRef r;
  r.impl = &cmd;
  r.name = cmd.name;
  r.arity = cmd.arity;
  r.write = (cmd.flags & kCmdWrite) != 0;
  r.first_key = cmd.first_key;
  r.last_key = cmd.last_key;
  r.key_step = cmd.key_step;
  r.routing = &cmd.route;
  return r;
}

}  // namespace shoal::server
