/* shared_state.cc — mapping the shared file and taking the commit lock. */
#include "shared_state.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <new>

#include "errors.h"

namespace found {

namespace {

const char kMagic[8] = {'F', 'O', 'U', 'N', 'D', 'S', 'H', 'M'};
const uint32_t kFormat = 2;
const size_t kFileSize = 4096;
static_assert(sizeof(SharedLayout) <= kFileSize, "the shared state fits its file");

}  // namespace

int64_t fetch_max(std::atomic<int64_t>& target, int64_t value) {
    int64_t current = target.load();
    while (current < value) {
        if (target.compare_exchange_weak(current, value)) return value;
    }
    return current;
}

std::string boot_id() {
    int fd = ::open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return std::string();
    char text[64] = {0};
    ssize_t n = read(fd, text, sizeof(text) - 1);
    close(fd);
    std::string id = n > 0 ? std::string(text, (size_t)n) : std::string();
    while (!id.empty() && (id.back() == '\n' || id.back() == ' ')) id.pop_back();
    return id;
}

SharedState::~SharedState() {
    if (fd_ >= 0) {
        munmap(layout_, kFileSize);
        close(fd_); /* drops a commit lock still held */
    } else {
        delete layout_;
    }
}

void SharedState::open_private() {
    layout_ = new SharedLayout();
    initialise(0, 0);
}

int SharedState::open(const std::string& dir, std::string* message) {
    const std::string path = dir + "/shared";
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) {
        *message = "cannot open " + path + ": " + strerror(errno);
        return errno == EACCES || errno == EROFS ? kFileNotWritable : kIoError;
    }
    struct stat st;
    if (fstat(fd_, &st) != 0 || ((size_t)st.st_size < kFileSize && ftruncate(fd_, kFileSize) != 0)) {
        *message = "cannot size " + path + ": " + strerror(errno);
        return kFileNotWritable;
    }
    void* mapped = mmap(nullptr, kFileSize, PROT_READ | PROT_WRITE, MAP_SHARED, fd_, 0);
    if (mapped == MAP_FAILED) {
        *message = "cannot map " + path + ": " + strerror(errno);
        return kIoError;
    }
    layout_ = static_cast<SharedLayout*>(mapped);
    return 0;
}

bool SharedState::valid_for_this_boot() const {
    if (memcmp(layout_->magic, kMagic, 8) != 0 || layout_->format != kFormat) return false;
    const std::string id = boot_id();
    return !id.empty() && strncmp(layout_->boot_id, id.c_str(), sizeof(layout_->boot_id)) == 0;
}

void SharedState::initialise(int64_t log_position, int64_t max_version) {
    memset(layout_->magic, 0, sizeof(layout_->magic)); /* invalid while half-written */
    layout_->format = kFormat;
    layout_->reserved = 0;
    const std::string id = boot_id();
    memset(layout_->boot_id, 0, sizeof(layout_->boot_id));
    memcpy(layout_->boot_id, id.data(), std::min(id.size(), sizeof(layout_->boot_id) - 1));
    new (&layout_->log_position) std::atomic<int64_t>(log_position);
    new (&layout_->max_version) std::atomic<int64_t>(max_version);
    new (&layout_->committing) std::atomic<int64_t>(0);
    new (&layout_->rotation) std::atomic<int64_t>(0);
    new (&layout_->rotating) std::atomic<int64_t>(0);
    new (&layout_->appending) std::atomic<int64_t>(0);
    new (&layout_->unsynced_first) std::atomic<int64_t>(0);
    new (&layout_->unsynced_count) std::atomic<int64_t>(0);
    for (int i = 0; i < kUnsyncedBatches; i++) {
        new (&layout_->unsynced_end[i]) std::atomic<int64_t>(0);
        new (&layout_->unsynced_version[i]) std::atomic<int64_t>(0);
    }
    std::atomic_thread_fence(std::memory_order_seq_cst);
    memcpy(layout_->magic, kMagic, 8);
}

bool SharedState::lock_commit(std::string* message) {
    thread_lock_.lock();
    if (fd_ < 0 || depth_++ > 0) return true;
    while (flock(fd_, LOCK_EX) != 0) {
        if (errno == EINTR) continue;
        if (message)
            *message = std::string("cannot take the commit lock (this filesystem does not support "
                                   "advisory locks, which processes sharing a data directory need): ") +
                       strerror(errno);
        depth_--;
        thread_lock_.unlock();
        return false;
    }
    return true;
}

bool SharedState::try_lock_commit() {
    if (!thread_lock_.try_lock()) return false;
    if (fd_ < 0 || depth_ > 0 || flock(fd_, LOCK_EX | LOCK_NB) == 0) {
        if (fd_ >= 0) depth_++;
        return true;
    }
    thread_lock_.unlock();
    return false;
}

void SharedState::unlock_commit() {
    if (fd_ >= 0 && --depth_ == 0) flock(fd_, LOCK_UN);
    thread_lock_.unlock();
}

}  // namespace found
