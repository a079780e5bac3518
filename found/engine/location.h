/* location.h — where fdb_create_database's argument says the data lives (spec §2.4). */
#ifndef FOUND_LOCATION_H
#define FOUND_LOCATION_H

#include <string>

namespace found {

/* Resolves a cluster-file argument (NULL/"" allowed) to an Engine location: a canonical
 * data directory, "memory", "memory:NAME" or "unavailable". Returns 0 or an FDB error
 * (1515 nothing found, 1514 cannot create the directory) with a reason in `message`. */
int resolve_location(const char* argument, std::string* location, std::string* message);

}  // namespace found

#endif
