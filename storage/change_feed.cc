#include "storage/change_feed.h"

#include <algorithm>

namespace shoal::storage {

void Change::NodeIdParts(std::string_view* head, std::string_view* value) const {
  if (!encoded_) {
    // With a moved value the object holds it empty: this is the head.
    object_.EncodeWithNodeIds(actors_, &node_id_bytes_);
    encoded_ = true;
    if (encodings_ != nullptr) ++*encodings_;
  }
  if (joined_) {
    *head = node_id_bytes_;
    *value = {};
    return;
  }
  *head = node_id_bytes_;
  *value = moved_value_;
}

const std::string& Change::NodeIdBytes() const {
  std::string_view head, value;
  NodeIdParts(&head, &value);
  if (!value.empty()) {
    node_id_bytes_.append(value);
    joined_ = true;
  }
  return node_id_bytes_;
}

void ChangeFeed::Subscribe(ChangeListener* listener) {
  if (listener == nullptr) return;
  if (std::find(listeners_.begin(), listeners_.end(), listener) != listeners_.end()) return;
  listeners_.push_back(listener);
}

void ChangeFeed::Unsubscribe(ChangeListener* listener) {
  auto it = std::find(listeners_.begin(), listeners_.end(), listener);
  if (it == listeners_.end() || listener == nullptr) return;
  if (notifying_ > 0) {
    *it = nullptr;
    has_holes_ = true;
  } else {
    listeners_.erase(it);
  }
}

size_t ChangeFeed::listener_count() const {
  return static_cast<size_t>(
      std::count_if(listeners_.begin(), listeners_.end(), [](auto* l) { return l != nullptr; }));
}

bool ChangeFeed::AnyWantsDeltas() const {
  return std::any_of(listeners_.begin(), listeners_.end(),
                     [](auto* l) { return l != nullptr && l->WantsDeltas(); });
}

template <typename Call>
void ChangeFeed::Notify(const Call& call) {
  // Listeners subscribed from a callback land past `end`: they start with
  // the next notification. Indexes, not iterators: the vector may grow.
  const size_t end = listeners_.size();
  ++notifying_;
  for (size_t i = 0; i < end; ++i) {
    if (ChangeListener* l = listeners_[i]) call(*l);
  }
  if (--notifying_ == 0 && has_holes_) {
    std::erase(listeners_, nullptr);
    has_holes_ = false;
  }
}

void ChangeFeed::Publish(std::string_view key, const Object& object, std::string_view moved_value,
                         std::string_view delta) {
  ++stats_.changes;
  if (listeners_.empty()) return;
  const Change change(key, object, actors_, &stats_.encodings, moved_value, delta);
  Notify([&change](ChangeListener& l) { l.OnChange(change); });
}

void ChangeFeed::PublishFlush() {
  ++stats_.flushes;
  Notify([](ChangeListener& l) { l.OnFlush(); });
}

}  // namespace shoal::storage
