#include "storage/clock.h"

#include <chrono>

namespace shoal::storage {

int64_t SystemClock::NowMs() const {
  return NowUs() / 1000;
}

int64_t SystemClock::NowUs() const {
  using std::chrono::duration_cast;
  using std::chrono::microseconds;
  using std::chrono::system_clock;
  return duration_cast<microseconds>(system_clock::now().time_since_epoch()).count();
}

}  // namespace shoal::storage
