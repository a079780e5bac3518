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

#include <algorithm>

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

namespace {

/* Reads a file front to back through one buffer of a few MiB, refilled as it is consumed:
 * a snapshot is parsed block by block as it streams in. Reading it whole first meant a
 * string the size of the file (124 MiB for 1M keys) to zero, fault in, fill and free. */
class StreamReader {
public:
    explicit StreamReader(int fd) : fd_(fd) {}

    /* Makes the next `n` bytes readable at data(); false when the file ends first or a
     * read fails (error() then says why). */
    bool want(size_t n) {
        if (end_ - at_ >= n) return true;
        if (at_ > 0) { /* keep the unread part (at most one block) at the front */
            memmove(&buffer_[0], buffer_.data() + at_, end_ - at_);
            end_ -= at_;
            offset_ += at_;
            at_ = 0;
        }
        if (buffer_.size() < std::max(n, kChunk)) buffer_.resize(std::max(n, kChunk));
        while (end_ < n) {
            const ssize_t got = pread(fd_, &buffer_[end_], buffer_.size() - end_, (off_t)(offset_ + end_));
            if (got < 0 && errno == EINTR) continue;
            if (got < 0) error_ = errno;
            if (got <= 0) return false;
            end_ += (size_t)got;
        }
        return true;
    }
    const char* data() const { return buffer_.data() + at_; }
    void consume(size_t n) { at_ += n; }
    /* The file offset of data(). */
    uint64_t position() const { return offset_ + at_; }
    int error() const { return error_; }

private:
    static constexpr size_t kChunk = 4 << 20;
    int fd_;
    std::string buffer_;
    uint64_t offset_ = 0; /* file offset of buffer_[0] */
    size_t at_ = 0, end_ = 0;
    int error_ = 0;
};

}  // namespace

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
    if (fstat(fd, &st) != 0) {
        *message = "cannot stat " + path + ": " + strerror(errno);
        close(fd);
        return kIoError;
    }
    const uint64_t size = (uint64_t)st.st_size;
    StreamReader in(fd);
    const int rc = [&]() -> int {
        auto corrupt = [&](uint64_t offset, const std::string& why) {
            if (in.error()) {
                *message = "cannot read " + path + ": " + strerror(in.error());
                return kIoError;
            }
            *message = path + ": " + why + " at byte offset " + std::to_string(offset) +
                       " (the snapshot is corrupt)";
            return kFileCorrupt;
        };
        if (!in.want(kHeaderSize) || memcmp(in.data(), kMagic, 8) != 0)
            return corrupt(0, "not a found snapshot (bad header)");
        if (get_u32(in.data() + 8) != kFormat) {
            *message = path + " has snapshot format " + std::to_string(get_u32(in.data() + 8)) +
                       ", this engine reads format " + std::to_string(kFormat);
            return kFileCorrupt;
        }
        const int64_t snapshot_version = (int64_t)get_u64(in.data() + 16);
        uint32_t whole = crc32c(0, in.data(), kHeaderSize); /* of everything before the trailer */
        in.consume(kHeaderSize);
        uint64_t keys = 0;
        for (;;) {
            const uint64_t at = in.position();
            if (!in.want(8)) return corrupt(at, "truncated (no trailer)");
            const uint32_t length = get_u32(in.data());
            if (length == kTrailerMark) {
                if (at + 24 != size || !in.want(24)) return corrupt(at, "bad trailer");
                if (get_u32(in.data() + 4) != whole) return corrupt(at, "checksum mismatch");
                if (get_u64(in.data() + 8) != keys) return corrupt(at, "key count mismatch");
                if (memcmp(in.data() + 16, kEnd, 8) != 0) return corrupt(at, "bad trailer");
                *version = snapshot_version;
                return 0;
            }
            if (length > size - at - 8 || !in.want(8 + (size_t)length))
                return corrupt(at, "block runs past the end");
            const char* p = in.data() + 8;
            if (crc32c(0, p, length) != get_u32(in.data() + 4)) return corrupt(at, "checksum mismatch");
            whole = crc32c(whole, in.data(), 8 + (size_t)length);
            if (length < 4) return corrupt(at, "bad block");
            const uint32_t count = get_u32(p);
            size_t pos = 4;
            /* One length-prefixed field of the row at pos; false when it runs past the block. */
            auto field = [&](std::string* out) {
                if (pos + 4 > length) return false;
                const uint32_t field_length = get_u32(p + pos);
                pos += 4;
                if (field_length > length - pos) return false;
                out->assign(p + pos, field_length);
                pos += field_length;
                return true;
            };
            for (uint32_t i = 0; i < count; i++) {
                std::string key, value;
                if (!field(&key) || !field(&value)) return corrupt(at, "bad block");
                row(std::move(key), std::move(value));
            }
            if (pos != length) return corrupt(at, "bad block");
            keys += count;
            in.consume(8 + (size_t)length);
        }
    }();
    close(fd);
    if (rc == 0) *bytes = (int64_t)size;
    return rc;
}

}  // namespace found
