/* key_range.h — a range of keys [begin, end): what a transaction read or wrote. */
#ifndef FOUND_KEY_RANGE_H
#define FOUND_KEY_RANGE_H

#include <string>

namespace found {

struct KeyRange {
    std::string begin;
    std::string end;
};

}  // namespace found

#endif
