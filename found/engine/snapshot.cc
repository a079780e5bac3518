/* snapshot.cc — snapshot file format (version 1), all integers little-endian:
 *   header  : "FOUNDSNP" | u32 format | u32 reserved | u64 version           (24 bytes)
 *   block   : u32 payload length | u32 CRC-32C(payload) | payload
 *   payload : u32 count | count × (u32 key length | key | u32 value length | value)
 *   trailer : u32 0xFFFFFFFF | u32 CRC-32C of everything before | u64 key count | "FOUNDEND"
 * A snapshot is written to snapshot.tmp, synced, then renamed: snapshot.dat is always
 * whole. The trailer still guards against a file damaged later. */
#include "snapshot.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crc32c.h"
#include "errors.h"
#include "writeback.h"

namespace found {

namespace {

const char kMagic[8] = {'F', 'O', 'U', 'N', 'D', 'S', 'N', 'P'};
const char kEnd[8] = {'F', 'O', 'U', 'N', 'D', 'E', 'N', 'D'};
const uint32_t kFormat = 1;
const size_t kHeaderSize = 24;
const uint32_t kTrailerMark = 0xFFFFFFFFu;

void put_u32(std::string* out, uint32_t v) { out->append(reinterpret_cast<const char*>(&v), 4); }
void put_u64(std::string* out, uint64_t v) { out->append(reinterpret_cast<const char*>(&v), 8); }
uint32_t get_u32(const char* p) {
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}
uint64_t get_u64(const char* p) {
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

int sync_directory(const std::string& dir) {
    int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return kIoError;
    int rc = fsync(fd);
    close(fd);
    return rc == 0 ? 0 : kIoError;
}

}  // namespace

int SnapshotWriter::append(const std::string& data) {
    size_t done = 0;
    while (done < data.size()) {
        ssize_t n = ::write(fd_, data.data() + done, data.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return kIoError;
        done += (size_t)n;
    }
    running_crc_ = crc32c(running_crc_, data.data(), data.size());
    bytes_ += (int64_t)data.size();
    writeback_.wrote(fd_, bytes_);
    return 0;
}

int SnapshotWriter::begin(const std::string& dir, int64_t version, std::string* message) {
    dir_ = dir;
    const std::string path = dir + "/snapshot.tmp";
    fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd_ < 0) {
        *message = "cannot create " + path + ": " + strerror(errno);
        return kFileNotWritable;
    }
    std::string header(kMagic, 8);
    put_u32(&header, kFormat);
    put_u32(&header, 0);
    put_u64(&header, (uint64_t)version);
    return append(header);
}

int SnapshotWriter::write(const std::vector<std::pair<std::string, std::string>>& rows) {
    if (rows.empty()) return 0;
    std::string payload;
    put_u32(&payload, (uint32_t)rows.size());
    for (const auto& [key, value] : rows) {
        put_u32(&payload, (uint32_t)key.size());
        payload.append(key);
        put_u32(&payload, (uint32_t)value.size());
        payload.append(value);
    }
    std::string block;
    put_u32(&block, (uint32_t)payload.size());
    put_u32(&block, crc32c(0, payload.data(), payload.size()));
    block.append(payload);
    keys_ += rows.size();
    return append(block);
}

int SnapshotWriter::finish(std::string* message) {
    std::string trailer;
    put_u32(&trailer, kTrailerMark);
    put_u32(&trailer, running_crc_);
    put_u64(&trailer, keys_);
    trailer.append(kEnd, 8);
    if (append(trailer) != 0 || fdatasync(fd_) != 0) {
        *message = "cannot write " + dir_ + "/snapshot.tmp";
        abandon();
        return kIoError;
    }
    close(fd_);
    fd_ = -1;
    const std::string from = dir_ + "/snapshot.tmp", to = dir_ + "/snapshot.dat";
    if (rename(from.c_str(), to.c_str()) != 0 || sync_directory(dir_) != 0) {
        *message = "cannot install " + to + ": " + strerror(errno);
        return kIoError;
    }
    return 0;
}

void SnapshotWriter::abandon() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
    unlink((dir_ + "/snapshot.tmp").c_str());
}

int load_snapshot(const std::string& dir,
                  const std::function<void(std::string&&, std::string&&)>& row, int64_t* version,
                  int64_t* bytes, std::string* message) {
    *version = 0;
    *bytes = 0;
    const std::string path = dir + "/snapshot.dat";
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) return 0;
        *message = "cannot open " + path + ": " + strerror(errno);
        return kIoError;
    }
    struct stat st;
    std::string data;
    if (fstat(fd, &st) == 0) {
        data.resize((size_t)st.st_size);
        size_t done = 0;
        while (done < data.size()) {
            ssize_t n = pread(fd, &data[done], data.size() - done, (off_t)done);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) break;
            done += (size_t)n;
        }
        data.resize(done);
    }
    close(fd);
    auto corrupt = [&](size_t offset, const std::string& why) {
        *message = path + ": " + why + " at byte offset " + std::to_string(offset) +
                   " (the snapshot is corrupt)";
        return kFileCorrupt;
    };
    if (data.size() < kHeaderSize || memcmp(data.data(), kMagic, 8) != 0)
        return corrupt(0, "not a found snapshot (bad header)");
    if (get_u32(data.data() + 8) != kFormat) {
        *message = path + " has snapshot format " + std::to_string(get_u32(data.data() + 8)) +
                   ", this engine reads format " + std::to_string(kFormat);
        return kFileCorrupt;
    }
    const int64_t snapshot_version = (int64_t)get_u64(data.data() + 16);
    size_t at = kHeaderSize;
    uint64_t keys = 0;
    for (;;) {
        if (at + 8 > data.size()) return corrupt(at, "truncated (no trailer)");
        const uint32_t length = get_u32(data.data() + at);
        if (length == kTrailerMark) {
            if (at + 24 != data.size()) return corrupt(at, "bad trailer");
            const uint32_t whole = crc32c(0, data.data(), at);
            if (get_u32(data.data() + at + 4) != whole) return corrupt(at, "checksum mismatch");
            if (get_u64(data.data() + at + 8) != keys) return corrupt(at, "key count mismatch");
            if (memcmp(data.data() + at + 16, kEnd, 8) != 0) return corrupt(at, "bad trailer");
            break;
        }
        if (length > data.size() - at - 8) return corrupt(at, "block runs past the end");
        const char* p = data.data() + at + 8;
        if (crc32c(0, p, length) != get_u32(data.data() + at + 4))
            return corrupt(at, "checksum mismatch");
        if (length < 4) return corrupt(at, "bad block");
        const uint32_t count = get_u32(p);
        size_t pos = 4;
        for (uint32_t i = 0; i < count; i++) {
            if (pos + 4 > length) return corrupt(at, "bad block");
            uint32_t key_length = get_u32(p + pos);
            pos += 4;
            if (key_length > length - pos) return corrupt(at, "bad block");
            std::string key(p + pos, key_length);
            pos += key_length;
            if (pos + 4 > length) return corrupt(at, "bad block");
            uint32_t value_length = get_u32(p + pos);
            pos += 4;
            if (value_length > length - pos) return corrupt(at, "bad block");
            std::string value(p + pos, value_length);
            pos += value_length;
            row(std::move(key), std::move(value));
        }
        if (pos != length) return corrupt(at, "bad block");
        keys += count;
        at += 8 + length;
    }
    *version = snapshot_version;
    *bytes = (int64_t)data.size();
    return 0;
}

}  // namespace found
