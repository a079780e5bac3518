/* wal.cc — log file format (version 2):
 *   header  : "FOUNDWAL" | u32 format version | u32 generation          (16 bytes)
 *   record  : u32 payload length | u32 CRC-32C(payload) | payload
 *   payload : u64 commit version | u32 count | count × (u8 type | u32 key length | key |
 *             u32 param length | param) | [ranges]
 *   ranges  : u32 count | count × (u8 0 | u32 mutation index)          a single-key range
 *                               or (u8 1 | u32 length | begin | u32 length | end)
 * All integers little-endian. Version 1 is the same without the ranges and with a zero
 * generation; opening a version-1 log upgrades its header (version-2 readers read both).
 * The generation counts rotations, so processes sharing the log can tell one file from
 * the next.
 *
 * Small appends go into space already written with zeros ahead of the end (1 MiB at a
 * time): overwriting written blocks lets fdatasync skip the file-size metadata, about
 * halving its cost on ext4. A zero tail reads as a torn tail and is kept at open; the
 * last process to close the log trims it. Replay stops at the first record that is incomplete or
 * fails its checksum when nothing valid follows it (a torn tail); anything else bad is
 * corruption, reported and never skipped. */
#include "wal.h"

#include <algorithm>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crc32c.h"
#include "writeback.h"
#include "errors.h"

namespace found {

namespace {

const char kMagic[8] = {'F', 'O', 'U', 'N', 'D', 'W', 'A', 'L'};
const uint32_t kFormatVersion = 2;
const size_t kHeaderSize = 16;

std::string header_bytes(int64_t generation) {
    std::string header(kMagic, 8);
    uint32_t values[2] = {kFormatVersion, (uint32_t)generation};
    header.append(reinterpret_cast<const char*>(values), 8);
    return header;
}

bool is_point(const KeyRange& r) {
    return r.end.size() == r.begin.size() + 1 && r.end.back() == '\0' &&
           r.end.compare(0, r.begin.size(), r.begin) == 0;
}
const size_t kRecordHeaderSize = 8;
const int64_t kPreallocateChunk = 1 << 20;
const size_t kPreallocateBelow = 64 * 1024; /* larger appends just extend the file */

void put_u32(std::string* out, uint32_t v) {
    char b[4];
    memcpy(b, &v, 4);
    out->append(b, 4);
}

void put_u64(std::string* out, uint64_t v) {
    char b[8];
    memcpy(b, &v, 8);
    out->append(b, 8);
}

uint32_t get_u32(const char* p) {
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* Whether a whole, checksummed, decodable record starts anywhere after `from`: then a bad
 * record before it is damage in the middle of the log, not a torn tail. */
bool valid_record_after(const std::string& contents, size_t from) {
    for (size_t at = from; at + kRecordHeaderSize + 12 <= contents.size(); at++) {
        const uint32_t length = get_u32(contents.data() + at);
        if (length < 12 || length > contents.size() - at - kRecordHeaderSize) continue;
        const char* payload = contents.data() + at + kRecordHeaderSize;
        if (crc32c(0, payload, length) != get_u32(contents.data() + at + 4)) continue;
        LoggedCommit unused;
        if (Wal::decode(payload, length, &unused)) return true;
    }
    return false;
}

/* Reads exactly `size` bytes at `at` (false on an error or a file that ends first). */
bool pread_all(int fd, char* data, size_t size, int64_t at) {
    for (size_t done = 0; done < size;) {
        ssize_t n = pread(fd, data + done, size - done, (off_t)(at + (int64_t)done));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        done += (size_t)n;
    }
    return true;
}

/* Writes exactly `size` bytes at `at`. */
bool pwrite_all(int fd, const char* data, size_t size, int64_t at) {
    for (size_t done = 0; done < size;) {
        ssize_t n = pwrite(fd, data + done, size - done, (off_t)(at + (int64_t)done));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        done += (size_t)n;
    }
    return true;
}

bool read_all(int fd, std::string* out) {
    struct stat st;
    if (fstat(fd, &st) != 0) return false;
    out->resize((size_t)st.st_size);
    return pread_all(fd, out->data(), out->size(), 0);
}

}  // namespace

Wal::~Wal() {
    if (fd_ >= 0) close(fd_);
    if (pending_fd_ >= 0) close(pending_fd_);
}

int Wal::sync_directory(const std::string& dir) {
    int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return kIoError;
    int rc = fsync(fd);
    close(fd);
    return rc == 0 ? 0 : kIoError;
}

int64_t Wal::generation_on_disk(const std::string& dir) {
    int fd = ::open((dir + "/wal.log").c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    char header[kHeaderSize];
    const ssize_t n = pread(fd, header, kHeaderSize, 0);
    close(fd);
    if (n != (ssize_t)kHeaderSize || memcmp(header, kMagic, 8) != 0) return -1;
    return get_u32(header + 12);
}

void Wal::encode(const LoggedCommit& commit, std::string* out) {
    size_t start = out->size();
    out->append(kRecordHeaderSize, '\0');
    put_u64(out, (uint64_t)commit.version);
    put_u32(out, (uint32_t)commit.mutations.size());
    for (const LoggedMutation& m : commit.mutations) {
        out->push_back((char)m.type);
        put_u32(out, (uint32_t)m.key.size());
        out->append(m.key);
        put_u32(out, (uint32_t)m.param.size());
        out->append(m.param);
    }
    put_u32(out, (uint32_t)(commit.write_ranges.size() + commit.write_points.size()));
    /* A single-key range usually names the key of a nearby mutation: refer to it. */
    size_t cursor = 0;
    auto refer = [&](std::string_view key) {
        for (size_t j = cursor; j < commit.mutations.size() && j < cursor + 4; j++) {
            if (commit.mutations[j].type != LoggedMutation::kClearRange &&
                commit.mutations[j].key == key) {
                out->push_back('\0');
                put_u32(out, (uint32_t)j);
                cursor = j + 1;
                return true;
            }
        }
        return false;
    };
    for (const KeyRange& r : commit.write_ranges) {
        if (is_point(r) && refer(r.begin)) continue;
        out->push_back('\1');
        put_u32(out, (uint32_t)r.begin.size());
        out->append(r.begin);
        put_u32(out, (uint32_t)r.end.size());
        out->append(r.end);
    }
    cursor = 0;
    for (size_t i = 0; i < commit.write_points.size(); i++) {
        const std::string_view key = commit.write_points[i];
        if (refer(key)) continue;
        out->push_back('\1');
        put_u32(out, (uint32_t)key.size());
        out->append(key);
        put_u32(out, (uint32_t)key.size() + 1);
        out->append(key);
        out->push_back('\0');
    }
    const size_t payload_length = out->size() - start - kRecordHeaderSize;
    const uint32_t crc = crc32c(0, out->data() + start + kRecordHeaderSize, payload_length);
    uint32_t length32 = (uint32_t)payload_length;
    memcpy(&(*out)[start], &length32, 4);
    memcpy(&(*out)[start + 4], &crc, 4);
}

bool Wal::decode(const char* p, size_t n, LoggedCommit* commit) {
    if (n < 12) return false;
    uint64_t version;
    memcpy(&version, p, 8);
    commit->version = (int64_t)version;
    uint32_t count = get_u32(p + 8);
    size_t at = 12;
    commit->mutations.clear();
    commit->mutations.reserve(count);
    for (uint32_t i = 0; i < count; i++) {
        if (at + 5 > n) return false;
        uint8_t type = (uint8_t)p[at];
        if (type > LoggedMutation::kClearRange) return false;
        uint32_t key_length = get_u32(p + at + 1);
        at += 5;
        if (key_length > n - at) return false;
        std::string key(p + at, key_length);
        at += key_length;
        if (at + 4 > n) return false;
        uint32_t param_length = get_u32(p + at);
        at += 4;
        if (param_length > n - at) return false;
        std::string param(p + at, param_length);
        at += param_length;
        commit->mutations.push_back({(LoggedMutation::Type)type, std::move(key), std::move(param)});
    }
    commit->write_ranges.clear();
    commit->write_points.clear();
    if (at == n) return true; /* no ranges (format 1) */
    if (at + 4 > n) return false;
    uint32_t ranges = get_u32(p + at);
    at += 4;
    commit->write_ranges.reserve(ranges);
    for (uint32_t i = 0; i < ranges; i++) {
        if (at + 5 > n) return false;
        const uint8_t kind = (uint8_t)p[at];
        const uint32_t first = get_u32(p + at + 1);
        at += 5;
        if (kind == 0) {
            if (first >= commit->mutations.size()) return false;
            commit->write_points.add(commit->mutations[first].key);
        } else if (kind == 1) {
            if (first > n - at) return false;
            std::string begin(p + at, first);
            at += first;
            if (at + 4 > n) return false;
            const uint32_t end_length = get_u32(p + at);
            at += 4;
            if (end_length > n - at) return false;
            commit->write_ranges.push_back({std::move(begin), std::string(p + at, end_length)});
            at += end_length;
        } else {
            return false;
        }
    }
    return at == n;
}

int Wal::read_header(int fd, const std::string& path, std::string* message) {
    char header[kHeaderSize];
    ssize_t n = pread(fd, header, kHeaderSize, 0);
    if (n != (ssize_t)kHeaderSize || memcmp(header, kMagic, 8) != 0) {
        *message = path + " is not a found database log (bad header)";
        return kFileCorrupt;
    }
    format_ = get_u32(header + 8);
    if (format_ != 1 && format_ != kFormatVersion) {
        *message = path + " has format version " + std::to_string(format_) +
                   ", this engine reads versions 1 and " + std::to_string(kFormatVersion);
        return kFileCorrupt;
    }
    generation_ = get_u32(header + 12);
    return 0;
}

int Wal::open(const std::string& dir, const std::function<void(LoggedCommit&&)>& replay,
              std::string* message) {
    dir_ = dir;
    const std::string path = dir + "/wal.log";
    unlink(next_path(dir).c_str()); /* an interrupted rotation; wal.log is still whole */
    unlink((dir + "/wal.tmp").c_str());  /* the name earlier engines gave it */
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        *message = "cannot open " + path + ": " + strerror(errno);
        return errno == EACCES || errno == EROFS ? kFileNotWritable : kIoError;
    }
    std::string contents;
    if (!read_all(fd, &contents)) {
        close(fd);
        *message = "cannot read " + path;
        return kIoError;
    }
    if (contents.empty()) {
        const std::string header = header_bytes(1);
        if (pwrite(fd, header.data(), header.size(), 0) != (ssize_t)header.size() ||
            fdatasync(fd) != 0 || sync_directory(dir) != 0) {
            close(fd);
            *message = "cannot write " + path;
            return kFileNotWritable;
        }
        contents = header;
    }
    if (int rc = read_header(fd, path, message)) {
        close(fd);
        return rc;
    }
    if (format_ == 1) {
        /* Version-2 readers read version-1 records: upgrading is rewriting the header. */
        const std::string header = header_bytes(generation_);
        if (pwrite(fd, header.data(), header.size(), 0) != (ssize_t)header.size() || fdatasync(fd) != 0) {
            close(fd);
            *message = "cannot upgrade the header of " + path;
            return kFileNotWritable;
        }
        format_ = kFormatVersion;
    }
    const size_t limit = contents.size();
    size_t at = kHeaderSize;
    while (at < limit) {
        const size_t remaining = limit - at;
        bool whole = remaining >= kRecordHeaderSize;
        uint32_t length = whole ? get_u32(contents.data() + at) : 0;
        whole = whole && length >= 12 && length <= remaining - kRecordHeaderSize;
        LoggedCommit commit;
        if (whole) {
            const char* payload = contents.data() + at + kRecordHeaderSize;
            whole = crc32c(0, payload, length) == get_u32(contents.data() + at + 4) &&
                    Wal::decode(payload, length, &commit);
        }
        if (!whole) {
            /* A torn tail only if nothing valid follows (a crash tears the last write only;
             * a zero-filled tail is torn too). Otherwise refuse: never drop good records. */
            if (!valid_record_after(contents, at + 1)) break;
            close(fd);
            *message = path + ": damaged record at byte offset " + std::to_string(at) +
                       " with valid records after it (checksum mismatch; the log is corrupt and "
                       "is left untouched)";
            return kFileCorrupt;
        }
        replay(std::move(commit));
        at += kRecordHeaderSize + length;
    }
    bool zero_tail = true;
    for (size_t i = at; i < contents.size() && zero_tail; i++) zero_tail = contents[i] == '\0';
    allocated_ = (int64_t)contents.size();
    if (at < contents.size() && !zero_tail) {
        /* Drop the torn tail so new records follow the last whole one. */
        allocated_ = (int64_t)at;
        if (ftruncate(fd, (off_t)at) != 0 || fdatasync(fd) != 0) {
            close(fd);
            *message = "cannot truncate the torn tail of " + path;
            return kIoError;
        }
    }
    if (fd_ >= 0) close(fd_);
    fd_ = fd;
    size_ = (int64_t)at;
    return 0;
}

int Wal::attach(const std::string& dir, std::string* message) {
    dir_ = dir;
    const std::string path = dir + "/wal.log";
    int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        *message = "cannot open " + path + ": " + strerror(errno);
        return kIoError;
    }
    if (int rc = read_header(fd, path, message)) {
        close(fd);
        return rc;
    }
    if (fd_ >= 0) close(fd_);
    fd_ = fd;
    size_ = kHeaderSize;
    struct stat st;
    allocated_ = fstat(fd, &st) == 0 ? (int64_t)st.st_size : kHeaderSize;
    return 0;
}

int Wal::read(int64_t from, int64_t to, std::vector<LoggedCommit>* out, std::string* message) const {
    if (to <= from) return 0;
    std::string contents((size_t)(to - from), '\0');
    if (!pread_all(fd_, contents.data(), contents.size(), from)) {
        *message = dir_ + "/wal.log is shorter than its published end (" + std::to_string(to) + ")";
        return kFileCorrupt;
    }
    size_t at = 0;
    while (at < contents.size()) {
        const size_t remaining = contents.size() - at;
        uint32_t length = remaining >= kRecordHeaderSize ? get_u32(contents.data() + at) : 0;
        LoggedCommit commit;
        const char* payload = contents.data() + at + kRecordHeaderSize;
        if (length < 12 || length > remaining - kRecordHeaderSize ||
            crc32c(0, payload, length) != get_u32(contents.data() + at + 4) ||
            !Wal::decode(payload, length, &commit)) {
            *message = dir_ + "/wal.log: damaged record at byte offset " +
                       std::to_string(from + (int64_t)at) + " before the published end of the log";
            return kFileCorrupt;
        }
        out->push_back(std::move(commit));
        at += kRecordHeaderSize + length;
    }
    return 0;
}

int Wal::preallocate(int64_t end) {
    struct stat st;
    if (fstat(fd_, &st) == 0 && st.st_size > allocated_) allocated_ = st.st_size; /* by others */
    if (end <= allocated_) return 0;
    static const std::string zeros(64 * 1024, '\0');
    const int64_t target = (end / kPreallocateChunk + 1) * kPreallocateChunk;
    for (int64_t at = allocated_; at < target;) {
        const size_t n = (size_t)std::min<int64_t>((int64_t)zeros.size(), target - at);
        ssize_t written = pwrite(fd_, zeros.data(), n, (off_t)at);
        if (written < 0 && errno == EINTR) continue;
        if (written <= 0) return kIoError;
        at += written;
        allocated_ = at;
    }
    return 0;
}

int Wal::trim() {
    if (allocated_ <= size_) return 0;
    if (ftruncate(fd_, (off_t)size_) != 0) return kIoError;
    allocated_ = size_;
    return 0;
}

int Wal::append(const std::string& records) {
    if (records.size() < kPreallocateBelow && size_ + (int64_t)records.size() > allocated_) {
        if (int rc = preallocate(size_ + (int64_t)records.size())) return rc;
    }
    if (!pwrite_all(fd_, records.data(), records.size(), size_)) return kIoError;
    size_ += (int64_t)records.size();
    allocated_ = std::max(allocated_, size_);
    return 0;
}

int Wal::sync() { return fdatasync(fd_) == 0 ? 0 : kIoError; }

int Wal::truncate(int64_t size) {
    if (ftruncate(fd_, (off_t)size) != 0) return kIoError;
    size_ = size;
    allocated_ = size;
    return 0;
}

namespace {
/* Copies bytes [from, to) of `source` to `target` at `at` on, in writeback steps. */
int copy_range(int source, int64_t from, int64_t to, int target, int64_t at, PacedWriteback* paced) {
    std::string chunk;
    while (from < to) {
        chunk.resize((size_t)std::min<int64_t>(kWritebackStep, to - from));
        if (!pread_all(source, chunk.data(), chunk.size(), from) ||
            !pwrite_all(target, chunk.data(), chunk.size(), at))
            return kIoError;
        from += (int64_t)chunk.size();
        at += (int64_t)chunk.size();
        if (paced) paced->wrote(target, at);
    }
    return 0;
}
}  // namespace

int Wal::copy_for_rotation(const std::string& dir, int source, int64_t offset, int64_t end,
                           int64_t generation, RotationCopy* copy, std::string* message) {
    const std::string path = next_path(dir);
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        *message = "cannot create " + path + ": " + strerror(errno);
        return kIoError;
    }
    const std::string header = header_bytes(generation);
    PacedWriteback paced;
    bool ok = pwrite_all(fd, header.data(), header.size(), 0) &&
              copy_range(source, offset, end, fd, kHeaderSize, &paced) == 0 && fdatasync(fd) == 0;
    if (!ok) {
        close(fd);
        unlink(path.c_str());
        *message = "cannot write " + path;
        return kIoError;
    }
    *copy = RotationCopy{fd, offset, end, generation};
    return 0;
}

int Wal::prepare_rotation(RotationCopy&& copy, int64_t* new_size, std::string* message) {
    const int fd = copy.fd;
    copy.fd = -1;
    /* The records appended since the copy: only those are written under the lock. */
    const int64_t at = kHeaderSize + (copy.end - copy.offset);
    if (fd < 0 || copy.end > size_ || copy_range(fd_, copy.end, size_, fd, at, nullptr) != 0 ||
        fdatasync(fd) != 0) {
        if (fd >= 0) close(fd);
        unlink(next_path(dir_).c_str());
        *message = "cannot write " + next_path(dir_);
        return kIoError;
    }
    pending_fd_ = fd;
    pending_generation_ = copy.generation;
    *new_size = at + size_ - copy.end;
    return 0;
}

int Wal::finish_rotation(std::string* message) {
    const std::string temporary = next_path(dir_), path = dir_ + "/wal.log";
    if (rename(temporary.c_str(), path.c_str()) != 0) {
        abandon_rotation();
        *message = "cannot rotate " + path + ": " + strerror(errno);
        return kIoError;
    }
    struct stat st;
    close(fd_);
    fd_ = pending_fd_;
    pending_fd_ = -1;
    size_ = fstat(fd_, &st) == 0 ? (int64_t)st.st_size : kHeaderSize;
    allocated_ = size_;
    generation_ = pending_generation_;
    format_ = kFormatVersion;
    return 0;
}

void Wal::abandon_rotation() {
    if (pending_fd_ >= 0) close(pending_fd_);
    pending_fd_ = -1;
    unlink(next_path(dir_).c_str());
}

}  // namespace found
