// Connection: CLIENT REPLY's suppression (immediate and deferred replies)
// and held requests (Hold, HoldUntilReplied, Resume), over a real loopback
// socket and a libuv loop driven by the test.

#include "facade/connection.h"

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "facade/listener.h"
#include "facade/reply_builder.h"
#include "storage/clock.h"

namespace shoal::facade {
namespace {

// A handler whose commands poke the connection directly:
//   ECHO x     replies x               OFF / ON / SKIP   CLIENT REPLY's modes
//   DEFER      defers; the test completes it later (tickets_)
//   WAIT       held until the test resumes it (once)
//   SYNC       held until no reply is outstanding, then replies +SYNCED
class FakeHandler final : public ConnectionHandler {
 public:
  void OnRequest(Connection& conn, std::vector<std::string>& argv) override {
    ReplyBuilder r(conn.ReplyTarget());
    const std::string& cmd = argv[0];
    ran.push_back(cmd);
    if (cmd == "ECHO") {
      r.Bulk(argv[1]);
    } else if (cmd == "OFF") {
      conn.state().reply_mode = ReplyMode::kOff;
    } else if (cmd == "ON") {
      conn.state().reply_mode = ReplyMode::kOn;
      r.Ok();
    } else if (cmd == "SKIP") {
      if (conn.state().reply_mode != ReplyMode::kOff)
        conn.state().reply_mode = ReplyMode::kSkipNext;
    } else if (cmd == "DEFER") {
      tickets.push_back(conn.DeferReply());
    } else if (cmd == "WAIT" && !waited) {
      waited = true;
      ran.pop_back();
      conn.Hold();
    } else if (cmd == "WAIT") {
      r.Simple("WAITED");
    } else if (cmd == "SYNC" && conn.outstanding_replies() > 0) {
      ran.pop_back();
      conn.HoldUntilReplied();
    } else if (cmd == "SYNC") {
      r.Simple("SYNCED");
    }
    conn.ScheduleFlush();
  }
  void OnProtocolError(Connection&, std::string_view) override {}
  void OnQueryBufferOverflow(Connection&) override {}
  void OnClosed(Connection&) override { closed = true; }
  void OnHoldReleased(Connection&) override { ++released; }

  std::vector<std::string> ran;
  std::vector<uint64_t> tickets;
  bool waited = false;
  bool closed = false;
  int released = 0;
};

std::string Encode(std::initializer_list<std::string> args) {
  std::string out = "*" + std::to_string(args.size()) + "\r\n";
  for (const std::string& a : args) out += "$" + std::to_string(a.size()) + "\r\n" + a + "\r\n";
  return out;
}

class Fixture {
 public:
  Fixture() {
    REQUIRE(uv_loop_init(&loop_) == 0);
    env_.clock = &clock_;
    env_.output = &output_;
    env_.io = &io_;
    // A port the kernel just handed out; another process may take it
    // before Listen, so a few are tried.
    sockaddr_in addr{};
    bool listening = false;
    for (int attempt = 0; attempt < 20 && !listening; ++attempt) {
      int probe = socket(AF_INET, SOCK_STREAM, 0);
      addr = {};
      addr.sin_family = AF_INET;
      addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      socklen_t len = sizeof(addr);
      REQUIRE(bind(probe, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
      REQUIRE(getsockname(probe, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
      close(probe);
      listening =
          listener_.Listen(&loop_, "127.0.0.1", ntohs(addr.sin_port), 16, [this](int) { Accept(); })
              .ok();
    }
    REQUIRE(listening);
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
    fcntl(fd_, F_SETFL, O_NONBLOCK);
    RunUntil([&] { return conn_ != nullptr; });
  }
  ~Fixture() {
    close(fd_);
    if (conn_) conn_->Close();
    listener_.Close();
    RunUntil([&] { return conn_ == nullptr || handler.closed; });
    uv_walk(
        &loop_,
        [](uv_handle_t* h, void*) {
          if (!uv_is_closing(h)) uv_close(h, nullptr);
        },
        nullptr);
    uv_run(&loop_, UV_RUN_DEFAULT);
    conn_.reset();
    (void)uv_loop_close(&loop_);
  }

  void Send(const std::string& bytes) {
    REQUIRE(write(fd_, bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size()));
  }

  // Runs the loop (flushing output as the server does) until `cond` or 2 s.
  bool RunUntil(const std::function<bool()>& cond) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    while (!cond()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      uv_run(&loop_, UV_RUN_NOWAIT);
      output_.FlushAll();
      char buf[4096];
      ssize_t n = read(fd_, buf, sizeof(buf));
      if (n > 0) received.append(buf, static_cast<size_t>(n));
    }
    return true;
  }
  // Waits until `want` arrived; returns what arrived.
  std::string Expect(const std::string& want) {
    RunUntil([&] { return received.size() >= want.size(); });
    // A little longer, so that extra bytes would show up too.
    auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(30);
    RunUntil([&] { return std::chrono::steady_clock::now() > until; });
    return received;
  }

  Connection& conn() { return *conn_; }
  FakeHandler handler;
  std::string received;

 private:
  void Accept() {
    conn_ = std::make_unique<Connection>(1, handler, env_);
    REQUIRE(uv_tcp_init(&loop_, conn_->handle()) == 0);
    REQUIRE(listener_.Accept(conn_->handle()) == 0);
    conn_->Start();
  }

  uv_loop_t loop_;
  storage::ManualClock clock_;
  OutputBatch output_;
  IoStats io_;
  ConnectionEnv env_;
  Listener listener_;
  std::unique_ptr<Connection> conn_;
  int fd_ = -1;
};

TEST_CASE("CLIENT REPLY: OFF drops until ON, SKIP drops the next reply") {
  Fixture f;
  f.Send(Encode({"SKIP"}) + Encode({"ECHO", "a"}) + Encode({"ECHO", "b"}) + Encode({"OFF"}) +
         Encode({"ECHO", "c"}) + Encode({"SKIP"}) + Encode({"ON"}) + Encode({"SKIP"}) +
         Encode({"ON"}) + Encode({"ECHO", "d"}));
  CHECK(f.Expect("$1\r\nb\r\n+OK\r\n+OK\r\n$1\r\nd\r\n") == "$1\r\nb\r\n+OK\r\n+OK\r\n$1\r\nd\r\n");
}

TEST_CASE("CLIENT REPLY: a deferred reply of a skipped command is dropped when it completes") {
  Fixture f;
  f.Send(Encode({"SKIP"}) + Encode({"DEFER"}) + Encode({"DEFER"}) + Encode({"ECHO", "x"}));
  REQUIRE(f.RunUntil([&] { return f.handler.tickets.size() == 2; }));
  f.conn().CompleteReply(f.handler.tickets[1], "+SECOND\r\n");
  f.conn().CompleteReply(f.handler.tickets[0], "+FIRST\r\n");
  CHECK(f.Expect("+SECOND\r\n$1\r\nx\r\n") == "+SECOND\r\n$1\r\nx\r\n");
  CHECK(f.conn().outstanding_replies() == 0);
}

TEST_CASE("a held request runs on Resume, and nothing behind it runs before") {
  Fixture f;
  f.Send(Encode({"ECHO", "a"}) + Encode({"WAIT"}) + Encode({"ECHO", "b"}));
  REQUIRE(f.RunUntil([&] { return f.handler.waited; }));
  CHECK(f.Expect("$1\r\na\r\n") == "$1\r\na\r\n");
  CHECK(f.conn().held());
  CHECK(f.handler.ran == std::vector<std::string>{"ECHO"});
  f.Send(Encode({"ECHO", "c"}));  // read while held, not run
  f.Expect("$1\r\na\r\n");
  CHECK(f.handler.ran == std::vector<std::string>{"ECHO"});
  f.conn().Resume();
  CHECK(f.Expect("$1\r\na\r\n+WAITED\r\n$1\r\nb\r\n$1\r\nc\r\n") ==
        "$1\r\na\r\n+WAITED\r\n$1\r\nb\r\n$1\r\nc\r\n");
  CHECK_FALSE(f.conn().held());
}

TEST_CASE("HoldUntilReplied: released once the earlier deferred replies complete") {
  Fixture f;
  f.Send(Encode({"DEFER"}) + Encode({"SYNC"}) + Encode({"ECHO", "after"}));
  REQUIRE(f.RunUntil([&] { return f.conn().held(); }));
  CHECK(f.handler.released == 0);
  CHECK(f.handler.ran == std::vector<std::string>{"DEFER"});
  f.conn().CompleteReply(f.handler.tickets[0], "+DONE\r\n");
  CHECK(f.handler.released == 1);
  f.conn().Resume();  // the owner does this from its loop
  CHECK(f.Expect("+DONE\r\n+SYNCED\r\n$5\r\nafter\r\n") == "+DONE\r\n+SYNCED\r\n$5\r\nafter\r\n");
}

}  // namespace
}  // namespace shoal::facade
