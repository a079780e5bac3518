/* live_objects.h — counts of live native objects (futures, transactions, databases), so
 * tests can prove that heavy use leaks nothing. Reported in \xff\xff/status/json. */
#ifndef FOUND_LIVE_OBJECTS_H
#define FOUND_LIVE_OBJECTS_H

#include <atomic>
#include <stdint.h>

namespace found {

struct LiveObjects {
    std::atomic<int64_t> futures{0};
    std::atomic<int64_t> transactions{0};
    std::atomic<int64_t> databases{0};
};

inline LiveObjects& live_objects() {
    static LiveObjects* counts = new LiveObjects();
    return *counts;
}

}  // namespace found

#endif
