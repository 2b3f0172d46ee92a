// shoal-server: invoked like redis-server,
//   shoal-server [path/to/shoal.conf] [--directive value ...]

#include <signal.h>
#include <unistd.h>

#include <climits>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "server/config.h"
#include "server/server.h"

namespace {

std::string ExecutablePath(const char* argv0) {
  char buf[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0) return argv0;
  return std::string(buf, static_cast<size_t>(n));
}

void Usage() {
  std::fprintf(stderr,
               "Usage: shoal-server [/path/to/shoal.conf] [--directive value ...]\n"
               "       shoal-server --version\n"
               "       shoal-server --help\n\n"
               "Examples:\n"
               "       shoal-server                (one node on 127.0.0.1:6379)\n"
               "       shoal-server conf/shoal.conf\n"
               "       shoal-server --port 7001 --dir /var/lib/shoal\n");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 2 && (std::string(argv[1]) == "--version" || std::string(argv[1]) == "-v")) {
    std::printf("shoal-server v=%s (Redis protocol 7.0 compatible)\n", SHOAL_VERSION);
    return 0;
  }
  if (argc == 2 && (std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h")) {
    Usage();
    return 0;
  }
  // A client that goes away mid-reply must not kill the server.
  ::signal(SIGPIPE, SIG_IGN);

  shoal::server::Config config;
  shoal::storage::Status st = shoal::server::ApplyArgs(argc, argv, &config);
  if (st.ok()) st = shoal::server::Validate(config);
  if (!st.ok()) {
    std::fprintf(stderr, "\n*** FATAL CONFIG ERROR (shoal %s) ***\n%s\n", SHOAL_VERSION,
                 st.message().c_str());
    return 1;
  }

  shoal::server::ProcessInfo process;
  process.executable = ExecutablePath(argv[0]);
  if (argc >= 2 && std::string(argv[1]).rfind("--", 0) != 0) {
    char resolved[PATH_MAX];
    process.config_file = ::realpath(argv[1], resolved) != nullptr ? resolved : argv[1];
  }

  shoal::server::Server server(std::move(config), std::move(process));
  st = server.Start();
  if (!st.ok()) {
    std::fprintf(stderr, "shoal-server: %s\n", st.message().c_str());
    return 1;
  }
  return server.Run();
}
