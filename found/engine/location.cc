/* location.cc — the data-directory conventions: found: URIs, plain directories, and
 * cluster files (whose first line is either a found: URI or a real connection string,
 * in which case the data lives beside the file in <file>.found/). */
#include "location.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <fstream>

#include "errors.h"

namespace found {

namespace {

bool is_directory(const std::string& path) {
    struct stat st;
    return stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

bool is_file(const std::string& path) {
    struct stat st;
    return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

/* mkdir -p */
bool make_directories(const std::string& path) {
    if (path.empty() || is_directory(path)) return true;
    size_t slash = path.find_last_of('/');
    if (slash != std::string::npos && slash > 0 && !make_directories(path.substr(0, slash))) return false;
    return mkdir(path.c_str(), 0755) == 0 || errno == EEXIST;
}

int data_directory(const std::string& path, std::string* location, std::string* message) {
    if (!make_directories(path)) {
        *message = "cannot create the data directory " + path + ": " + strerror(errno);
        return kFileNotWritable;
    }
    char resolved[PATH_MAX];
    if (!realpath(path.c_str(), resolved)) {
        *message = "cannot resolve " + path + ": " + strerror(errno);
        return kFileNotWritable;
    }
    *location = resolved;
    return 0;
}

std::string directory_of(const std::string& path) {
    size_t slash = path.find_last_of('/');
    return slash == std::string::npos ? std::string(".") : path.substr(0, slash == 0 ? 1 : slash);
}

int from_uri(const std::string& rest, const std::string& base, std::string* location,
             std::string* message) {
    if (rest == "memory" || rest == "unavailable" || rest.compare(0, 7, "memory:") == 0) {
        *location = rest;
        return 0;
    }
    if (rest.empty()) {
        *message = "found: URI without a directory";
        return kConnectionStringInvalid;
    }
    const std::string path = rest[0] == '/' ? rest : base + "/" + rest;
    return data_directory(path, location, message);
}

}  // namespace

int resolve_location(const char* argument, std::string* location, std::string* message) {
    std::string path = argument ? argument : "";
    if (path.empty()) {
        const char* from_env = getenv("FDB_CLUSTER_FILE");
        if (from_env && *from_env) path = from_env;
        else if (is_file("fdb.cluster")) path = "fdb.cluster";
        else if (is_file("/etc/foundationdb/fdb.cluster")) path = "/etc/foundationdb/fdb.cluster";
        else {
            *message = "no cluster file: pass a data directory, a found: URI or a cluster file";
            return kNoClusterFileFound;
        }
    }
    if (path.compare(0, 6, "found:") == 0) return from_uri(path.substr(6), ".", location, message);
    if (is_directory(path)) return data_directory(path, location, message);
    if (is_file(path)) {
        std::ifstream file(path);
        std::string line;
        while (std::getline(file, line)) {
            size_t start = line.find_first_not_of(" \t\r");
            if (start == std::string::npos || line[start] == '#') continue;
            line = line.substr(start);
            while (!line.empty() && (line.back() == ' ' || line.back() == '\r' || line.back() == '\t'))
                line.pop_back();
            if (line.compare(0, 6, "found:") == 0)
                return from_uri(line.substr(6), directory_of(path), location, message);
            return data_directory(path + ".found", location, message);
        }
        *message = "cluster file " + path + " is empty";
        return kConnectionStringInvalid;
    }
    *message = "no such data directory or cluster file: " + path;
    return kNoClusterFileFound;
}

}  // namespace found
