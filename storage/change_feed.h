#pragma once
// ChangeFeed: how the keyspace tells the layers above about its changes (the
// append-only log, the replication of a coordinated write, later the
// anti-entropy trees), without depending on any of them.
//
// The Keyspace publishes one Change per key it writes, after the write is
// applied, with the key's whole new object (it may hold only tombstones: the
// key is deleted), and one flush when it is emptied. Any number of listeners
// subscribe; a listener that only cares for a while (the capture of one
// coordinated write) subscribes for that while.
//
// Order: listeners are called in the order they subscribed. A listener
// subscribed during a notification is first called for the next one; a
// listener unsubscribed during a notification (itself or another) is not
// called again, not even for the rest of the current one. A listener may
// write to the keyspace from its callback; the nested change is delivered
// to every listener before the outer notification goes on.
//
// Node-id bytes: listeners that log or ship an object want it in the node-id
// encoding (Object::EncodeWithNodeIds), which is the costly part of a
// change. Change::NodeIdBytes() encodes on first use and caches, so that a
// change costs one encoding however many listeners ask, and none if none do.
//
// Not thread safe: everything runs on the keyspace's thread.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "storage/actor_table.h"
#include "storage/object.h"

namespace shoal::storage {

// One change, valid only during the notification: keep copies, not
// references.
class Change {
 public:
  // `object` and `actors` must outlive the Change. `encodings`, if not null,
  // is incremented each time the node-id encoding is computed.
  // `moved_value`: the object's one bytes value when the keyspace moved it
  // into the store (Object::EncodeMovingValue) rather than copy it; the
  // object then holds it empty, and this views it in the store.
  // `delta`: the write's ContainerDelta in its encoding
  // (storage/container_delta.h), or empty.
  Change(std::string_view key, const Object& object, const ActorTable& actors,
         uint64_t* encodings = nullptr, std::string_view moved_value = {},
         std::string_view delta = {})
      : key_(key),
        object_(object),
        actors_(actors),
        encodings_(encodings),
        moved_value_(moved_value),
        delta_(delta) {}
  Change(const Change&) = delete;
  Change& operator=(const Change&) = delete;

  std::string_view key() const { return key_; }
  // The key's new state, in the local (ActorId) form. A big bytes value may
  // have been moved out of it (see moved_value in the constructor): read
  // values through NodeIdBytes() or NodeIdParts(), not from here.
  const Object& object() const { return object_; }
  // The object encoded with node ids, as the log and the peer channel carry
  // it. Computed on the first call; later calls return the same string.
  // With a moved value this copies it: prefer NodeIdParts() where it will do.
  const std::string& NodeIdBytes() const;
  // The same bytes in two parts, *head then *value, without copying a moved
  // value (*value is empty when there is none). Valid as the Change.
  void NodeIdParts(std::string_view* head, std::string_view* value) const;
  // A container write's delta (storage/container_delta.h: node-id form),
  // empty when there is none. ApplyDelta() of it on the object the key held
  // just before this change gives object(): a listener that logs or ships
  // the change to a copy that held that object may send this instead of the
  // whole object (it is much smaller: the keyspace publishes a delta only
  // when it is at most about half the object's size). Empty for every
  // change but a container write whose base was one container version of
  // its type without TTL (Keyspace::ModifyHash and friends).
  std::string_view delta() const { return delta_; }

 private:
  std::string_view key_;
  const Object& object_;
  const ActorTable& actors_;
  uint64_t* encodings_;
  std::string_view moved_value_;
  std::string_view delta_;
  mutable bool encoded_ = false;
  mutable bool joined_ = false;  // moved_value_ appended to node_id_bytes_
  mutable std::string node_id_bytes_;
};

class ChangeListener {
 public:
  virtual ~ChangeListener() = default;
  // A key changed (see Change for what may be kept).
  virtual void OnChange(const Change& change) = 0;
  // Every key was removed.
  virtual void OnFlush() = 0;
  // Whether this listener may use Change::delta() now. The keyspace
  // computes a write's delta (which costs a record of the names the write
  // touched) only if one listener does. Asked on every container write.
  virtual bool WantsDeltas() const { return true; }
};

struct ChangeFeedStats {
  uint64_t changes = 0;    // changes published
  uint64_t flushes = 0;    // flushes published
  uint64_t encodings = 0;  // node-id encodings computed for listeners
};

class ChangeFeed {
 public:
  // `actors` (to encode node ids) must outlive the feed.
  explicit ChangeFeed(const ActorTable& actors) : actors_(actors) {}
  ChangeFeed(const ChangeFeed&) = delete;
  ChangeFeed& operator=(const ChangeFeed&) = delete;

  // Adds a listener after those already subscribed; it must stay alive until
  // unsubscribed. Subscribing a listener that is subscribed does nothing.
  void Subscribe(ChangeListener* listener);
  // Removes a listener (nothing if it is not subscribed). Safe from inside a
  // callback, for the listener being called or any other.
  void Unsubscribe(ChangeListener* listener);
  size_t listener_count() const;
  // True if some listener WantsDeltas().
  bool AnyWantsDeltas() const;

  // Tells every listener that `key` now holds `object` (and, if not empty,
  // `moved_value` and `delta`: see Change).
  void Publish(std::string_view key, const Object& object, std::string_view moved_value = {},
               std::string_view delta = {});
  // Tells every listener that every key was removed.
  void PublishFlush();

  const ChangeFeedStats& stats() const { return stats_; }

 private:
  template <typename Call>
  void Notify(const Call& call);

  const ActorTable& actors_;
  // Unsubscribing during a notification leaves a null slot, removed once
  // the outermost notification ends, so that indexes stay valid meanwhile.
  std::vector<ChangeListener*> listeners_;
  int notifying_ = 0;  // depth of nested notifications
  bool has_holes_ = false;
  ChangeFeedStats stats_;
};

}  // namespace shoal::storage
