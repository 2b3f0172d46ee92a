// ChangeFeed: several listeners in subscription order, one node-id encoding
// per change however many listeners ask, unsubscribing from a callback,
// flushes, and the Keyspace publishing through it.

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "storage/actor_table.h"
#include "storage/change_feed.h"
#include "storage/dot_counter.h"
#include "storage/keyspace.h"
#include "storage/object.h"
#include "storage/store.h"

namespace shoal::storage {
namespace {

constexpr int64_t kNow = 1'700'000'000'000;

// Records what it is told into a log shared by all listeners of a test, so
// the order across listeners shows.
struct Recorder : ChangeListener {
  Recorder(std::string name, std::vector<std::string>* log) : name(std::move(name)), log(log) {}
  void OnChange(const Change& change) override {
    log->push_back(name + ":" + std::string(change.key()));
    if (wants_bytes) bytes.push_back(&change.NodeIdBytes());
  }
  void OnFlush() override { log->push_back(name + ":flush"); }

  std::string name;
  std::vector<std::string>* log;
  bool wants_bytes = false;
  std::vector<const std::string*> bytes;
};

struct Fixture {
  ActorTable actors;
  ActorId self = actors.Intern(std::string(40, 'a')).value();
  ChangeFeed feed{actors};
  std::vector<std::string> log;

  Object OneValue(std::string v) const {
    Object o;
    o.Put(Version::Bytes(std::move(v), kNow), self);
    return o;
  }
};

TEST_CASE("listeners are called in subscription order, for changes and flushes") {
  Fixture f;
  Recorder a("a", &f.log), b("b", &f.log), c("c", &f.log);
  f.feed.Subscribe(&b);
  f.feed.Subscribe(&a);
  f.feed.Subscribe(&c);
  f.feed.Subscribe(&a);  // already there: still called once
  CHECK(f.feed.listener_count() == 3);
  f.feed.Publish("k", f.OneValue("v"));
  f.feed.PublishFlush();
  CHECK(f.log == std::vector<std::string>{"b:k", "a:k", "c:k", "b:flush", "a:flush", "c:flush"});
  CHECK(f.feed.stats().changes == 1);
  CHECK(f.feed.stats().flushes == 1);
}

TEST_CASE("the node-id encoding is computed once per change, and only on demand") {
  Fixture f;
  Recorder a("a", &f.log), b("b", &f.log), c("c", &f.log);
  for (Recorder* r : {&a, &b, &c}) f.feed.Subscribe(r);

  f.feed.Publish("k", f.OneValue("v"));
  CHECK(f.feed.stats().encodings == 0);  // nobody asked

  a.wants_bytes = c.wants_bytes = true;
  const Object obj = f.OneValue("w");
  f.feed.Publish("k", obj);
  CHECK(f.feed.stats().encodings == 1);
  REQUIRE(a.bytes.size() == 1);
  REQUIRE(c.bytes.size() == 1);
  CHECK(a.bytes[0] == c.bytes[0]);  // the same cached string

  // And it is the object's node-id encoding.
  std::string expected;
  obj.EncodeWithNodeIds(f.actors, &expected);
  struct Check final : ChangeListener {
    std::string seen;
    void OnChange(const Change& change) override {
      seen = change.NodeIdBytes();
      CHECK(&change.NodeIdBytes() == &change.NodeIdBytes());
    }
    void OnFlush() override {}
  } check;
  f.feed.Subscribe(&check);
  f.feed.Publish("k", obj);
  CHECK(check.seen == expected);
  CHECK(f.feed.stats().encodings == 2);  // one more change, one more encoding
}

// Unsubscribes a listener (itself by default) when told about a change.
struct Leaver final : ChangeListener {
  Leaver(ChangeFeed& feed, std::vector<std::string>* log) : feed(feed), log(log) {}
  void OnChange(const Change& change) override {
    log->push_back("leaver:" + std::string(change.key()));
    feed.Unsubscribe(target == nullptr ? this : target);
  }
  void OnFlush() override {}
  ChangeFeed& feed;
  std::vector<std::string>* log;
  ChangeListener* target = nullptr;
};

TEST_CASE("a listener may unsubscribe itself during a notification") {
  Fixture f;
  Recorder a("a", &f.log), b("b", &f.log);
  Leaver leaver(f.feed, &f.log);
  f.feed.Subscribe(&a);
  f.feed.Subscribe(&leaver);
  f.feed.Subscribe(&b);
  f.feed.Publish("k1", f.OneValue("v"));
  CHECK(f.feed.listener_count() == 2);
  f.feed.Publish("k2", f.OneValue("v"));
  CHECK(f.log == std::vector<std::string>{"a:k1", "leaver:k1", "b:k1", "a:k2", "b:k2"});
}

TEST_CASE("a listener unsubscribed during a notification is not called for the rest of it") {
  Fixture f;
  Recorder a("a", &f.log), b("b", &f.log);
  Leaver leaver(f.feed, &f.log);
  leaver.target = &b;
  f.feed.Subscribe(&a);
  f.feed.Subscribe(&leaver);
  f.feed.Subscribe(&b);
  f.feed.Publish("k1", f.OneValue("v"));
  CHECK(f.log == std::vector<std::string>{"a:k1", "leaver:k1"});
  // Subscribing again puts it last.
  f.feed.Subscribe(&b);
  f.feed.Unsubscribe(&leaver);
  f.log.clear();
  f.feed.Publish("k2", f.OneValue("v"));
  CHECK(f.log == std::vector<std::string>{"a:k2", "b:k2"});
}

TEST_CASE("a listener subscribed during a notification starts with the next one") {
  Fixture f;
  Recorder late("late", &f.log);
  struct Inviter final : ChangeListener {
    ChangeFeed* feed;
    ChangeListener* guest;
    void OnChange(const Change&) override { feed->Subscribe(guest); }
    void OnFlush() override {}
  } inviter;
  inviter.feed = &f.feed;
  inviter.guest = &late;
  f.feed.Subscribe(&inviter);
  f.feed.Publish("k1", f.OneValue("v"));
  CHECK(f.log.empty());
  f.feed.Publish("k2", f.OneValue("v"));
  CHECK(f.log == std::vector<std::string>{"late:k2"});
}

TEST_CASE("the keyspace publishes writes, deletes, merges and flushes") {
  Store store;
  ActorTable actors;
  DotCounter dots;
  ActorId self = actors.Intern(std::string(40, 'a')).value();
  Keyspace ks(store, actors, self, dots);
  std::vector<std::string> log;
  Recorder a("a", &log), b("b", &log);
  a.wants_bytes = b.wants_bytes = true;
  ks.changes().Subscribe(&a);
  ks.changes().Subscribe(&b);

  REQUIRE(ks.Put("k", Version::Bytes("v", kNow), kNow).ok());
  REQUIRE(ks.IncrBy("n", 2, kNow).ok());
  REQUIRE(ks.Delete("k", kNow).ok());
  ks.FlushAll();
  CHECK(log ==
        std::vector<std::string>{"a:k", "b:k", "a:n", "b:n", "a:k", "b:k", "a:flush", "b:flush"});
  CHECK(ks.changes().stats().encodings == 3);  // one per change, shared by a and b

  // A listener that leaves from its callback while the keyspace writes.
  Leaver leaver(ks.changes(), &log);
  ks.changes().Subscribe(&leaver);
  log.clear();
  REQUIRE(ks.Put("x", Version::Bytes("1", kNow), kNow).ok());
  REQUIRE(ks.Put("y", Version::Bytes("2", kNow), kNow).ok());
  CHECK(log == std::vector<std::string>{"a:x", "b:x", "leaver:x", "a:y", "b:y"});
}

}  // namespace
}  // namespace shoal::storage
