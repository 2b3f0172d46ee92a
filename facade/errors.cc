#include "facade/errors.h"

#include <algorithm>

namespace shoal::facade::errors {

std::string WrongArity(std::string_view name) {
  std::string s = "ERR wrong number of arguments for '";
  s.append(name);
  s.append("' command");
  return s;
}

std::string UnknownCommand(std::string_view name, const std::string* args, size_t nargs) {
  // Redis truncates the name to 128 bytes and the argument list to about 128
  // bytes in total (server.c, processCommand).
  std::string s = "ERR unknown command '";
  s.append(name.substr(0, 128));
  s.append("', with args beginning with: ");
  std::string list;
  for (size_t i = 0; i < nargs && list.size() < 128; ++i) {
    size_t room = 128 - list.size();
    list.push_back('\'');
    list.append(std::string_view(args[i]).substr(0, room));
    list.append("' ");
  }
  s.append(list);
  return s;
}

std::string UnknownSubcommand(std::string_view sub, std::string_view container) {
  std::string s = "ERR unknown subcommand '";
  s.append(sub.substr(0, 128));
  s.append("'. Try ");
  std::string upper(container);
  std::transform(upper.begin(), upper.end(), upper.begin(), [](unsigned char c) {
    return static_cast<char>(c >= 'a' && c <= 'z' ? c - 32 : c);
  });
  s.append(upper);
  s.append(" HELP.");
  return s;
}

std::string ProtoExpectedDollar(char got) {
  std::string s = "ERR Protocol error: expected '$', got '";
  s.push_back(got);
  s.append("'");
  return s;
}

std::string InvalidExpire(std::string_view command) {
  std::string s = "ERR invalid expire time in '";
  s.append(command);
  s.append("' command");
  return s;
}

std::string UnsupportedOption(std::string_view option) {
  std::string s = "ERR Unsupported option ";
  s.append(option);
  return s;
}

std::string Unsupported(std::string_view name, std::string_view reason) {
  std::string s = "ERR unsupported command '";
  s.append(name.substr(0, 128));
  s.append("': ");
  s.append(reason);
  return s;
}

std::string NoQuorum(size_t got, size_t required) {
  return "NOQUORUM got " + std::to_string(got) + " of " + std::to_string(required) +
         " required replies";
}

std::string PartitionUnavailable(uint32_t partition, size_t replicas) {
  return "NOQUORUM partition " + std::to_string(partition) + " has no reachable replica (" +
         std::to_string(replicas) + " replicas)";
}

std::string NotInClusterTransaction(std::string_view name) {
  return "ERR '" + std::string(name) + "' cannot run inside a transaction in a cluster";
}

std::string BadPeerFrame(std::string_view name) {
  return "ERR bad " + std::string(name) + " frame";
}

std::string UnknownPeerCommand(std::string_view name) {
  return "ERR unknown peer command '" + std::string(name.substr(0, 64)) + "'";
}

}  // namespace shoal::facade::errors
