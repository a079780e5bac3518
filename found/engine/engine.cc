/* engine.cc — versions, the group-commit pipeline, watches and the open-store registry.
 *
 * Versions advance with the wall clock (one million per second, like FDB) and never go
 * backwards. A read version never reaches into a batch still being made durable, so a
 * transaction cannot see a commit that was not yet acknowledged, and every read version
 * handed out after an acknowledgement sees it.
 *
 * The pipeline runs on the network thread: take every queued commit, take the commit
 * lock, follow what other processes appended, resolve each commit in order (conflicts
 * against the ConflictMap, which includes other processes' and earlier commits of the
 * same batch), append all their records to the log with one write, apply them to the
 * store and list the batch as unsynced; release the lock, sync, take it again to mark
 * every listed batch up to this one's end durable, then complete their futures.
 *
 * Versions live in the shared state (shared_state.h): a read version is the clock (raised
 * into max_version, so later commits get higher versions) unless batches are unsynced,
 * then just below the oldest of them; a commit version is above max_version. */
#include "engine.h"

#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <malloc.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sched.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <thread>

#include "atomic.h"
#include "errors.h"
#include "network.h"
#include "live_objects.h"
#include "snapshot.h"

namespace found {

namespace {

std::mutex g_registry_mutex;
uint64_t g_next_engine_id = 0;
std::map<std::string, Engine*>& registry() {
    static auto* engines = new std::map<std::string, Engine*>();
    return *engines;
}

/* Microseconds since 2024-01-01 UTC: versions that grow like FDB's and agree across
 * processes sharing a directory. */
const int64_t kEpochMicros = 1704067200LL * 1000000LL;

std::string big_endian_stamp(Version version, uint16_t order) {
    std::string stamp(10, '\0');
    for (int i = 0; i < 8; i++) stamp[i] = (char)((uint64_t)version >> (56 - 8 * i));
    stamp[8] = (char)(order >> 8);
    stamp[9] = (char)(order & 0xff);
    return stamp;
}

int64_t env_int(const char* name, int64_t fallback) {
    const char* text = getenv(name);
    if (!text || !*text) return fallback;
    return strtoll(text, nullptr, 10);
}

Knobs load_knobs() {
    Knobs k;
    k.mvcc_window_versions = env_int("FOUND_MVCC_WINDOW_VERSIONS", k.mvcc_window_versions);
    k.future_version_wait_ms = env_int("FOUND_FUTURE_VERSION_WAIT_MS", k.future_version_wait_ms);
    k.sync = env_int("FOUND_SYNC", 1) != 0;
    k.checkpoint_bytes = env_int("FOUND_CHECKPOINT_BYTES", k.checkpoint_bytes);
    k.relaxed_sync_ms = env_int("FOUND_RELAXED_SYNC_MS", k.relaxed_sync_ms);
    if (const char* p = getenv("FOUND_FAULT_PROBABILITY")) k.fault_probability = strtod(p, nullptr);
    k.fault_seed = (uint64_t)env_int("FOUND_FAULT_SEED", 0);
    return k;
}

}  // namespace

Knobs& knobs() {
    static Knobs* instance = new Knobs(load_knobs());
    return *instance;
}

/* ------------------------------------------------------------------------------------
 * Opening and closing
 * ---------------------------------------------------------------------------------- */

int Engine::open(const std::string& location, Engine** out, std::string* message) {
    std::lock_guard<std::mutex> lock(g_registry_mutex);
    const bool fresh_memory = location == "memory" || location == "unavailable";
    if (!fresh_memory) {
        auto it = registry().find(location);
        if (it != registry().end()) {
            it->second->retain();
            *out = it->second;
            return 0;
        }
    }
    Engine* engine = new Engine();
    engine->id_ = ++g_next_engine_id;
    engine->location_ = location;
    engine->memory_ = location.compare(0, 6, "memory") == 0 || location == "unavailable";
    engine->unavailable_ = location == "unavailable";
    engine->directory_ = engine->memory_ ? std::string() : location;
    engine->fault_random_.seed(knobs().fault_seed);
    int rc = engine->load(message);
    if (rc) {
        delete engine;
        return rc;
    }
    if (!fresh_memory) registry()[location] = engine;
    if (!engine->memory_) {
        /* A log already past the threshold is checkpointed right away, off the caller. */
        engine->retain();
        Network::instance().post([engine] {
            {
                std::lock_guard<std::mutex> pipeline(engine->pipeline_mutex_);
                engine->maybe_checkpoint();
            }
            engine->release();
        });
        engine->schedule_poll();
    }
    *out = engine;
    return 0;
}

/* Joins the directory: the first process recovers the files and initialises the shared
 * state; later ones load the latest checkpoint and the published log. */
int Engine::load(std::string* message) {
    if (memory_) {
        shared_.open_private();
        LoggedCommit seed;
        seed.version = clock_version();
        seed.mutations.push_back({LoggedMutation::kSet, "\xff/coordinators",
                                  "found:" + location_ + "@127.0.0.1:4500"});
        apply(seed, seed.version);
        shared_.layout().max_version.store(seed.version);
        applied_version_ = seed.version;
        return 0;
    }
    /* A directory that already holds other files and no database is somebody else's:
     * refuse it rather than scatter a database among them. */
    if (DIR* listing = opendir(directory_.c_str())) {
        bool has_log = false;
        std::string stranger;
        while (struct dirent* entry = readdir(listing)) {
            const std::string name = entry->d_name;
            if (name == "." || name == "..") continue;
            if (name == "wal.log") has_log = true;
            else if (name != "LOCK" && name != "wal.tmp" && name != "wal.next" && name != "snapshot.dat" &&
                     name != "snapshot.tmp" && name != "shared" && name != "checkpoint.lock" &&
                     stranger.empty())
                stranger = name;
        }
        closedir(listing);
        if (!has_log && !stranger.empty()) {
            *message = directory_ + " is not a found data directory: it holds other files (e.g. " +
                       stranger + ") and no wal.log";
            return kFileCorrupt;
        }
    }
    if (int rc = shared_.open(directory_, message)) return rc;
    /* Openers take the commit lock, so exactly one of them finds itself alone. */
    if (!shared_.lock_commit(message)) return kIoError;
    const std::string lock_path = directory_ + "/LOCK";
    lock_fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (lock_fd_ < 0) {
        *message = "cannot create " + lock_path + ": " + strerror(errno);
        shared_.unlock_commit();
        return kFileNotWritable;
    }
    int rc = 0;
    if (flock(lock_fd_, LOCK_EX | LOCK_NB) == 0) {
        rc = recover_alone(message);
        if (rc == 0) flock(lock_fd_, LOCK_SH); /* others may join from now on */
        shared_.unlock_commit();
    } else if (errno == EWOULDBLOCK) {
        if (flock(lock_fd_, LOCK_SH | LOCK_NB) != 0) {
            /* Engines hold it shared; exclusively only while holding the commit lock. */
            *message = "data directory " + directory_ + " is locked by a process that is not a "
                       "found engine (" + lock_path + " is held exclusively)";
            shared_.unlock_commit();
            return kDatabaseLocked;
        }
        if (shared_.valid_for_this_boot()) finish_dead_rotation(); /* before loading the log */
        shared_.unlock_commit();
        if (!shared_.valid_for_this_boot()) {
            *message = "data directory " + directory_ +
                       " is open in processes whose shared state this process cannot see "
                       "(another kernel or boot?); all processes must run on one machine";
            return kIoError;
        }
        std::lock_guard<std::mutex> follow_lock(follow_mutex_);
        rc = reload(message);
    } else {
        *message = "cannot lock " + lock_path + " (processes sharing a data directory need advisory "
                   "locks, which this filesystem does not support): " + strerror(errno);
        shared_.unlock_commit();
        return kIoError;
    }
    if (rc) return rc;
    const std::string checkpoint_path = directory_ + "/checkpoint.lock";
    checkpoint_fd_ = ::open(checkpoint_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (checkpoint_fd_ < 0) {
        *message = "cannot create " + checkpoint_path + ": " + strerror(errno);
        return kFileNotWritable;
    }
    return 0;
}

int Engine::recover_alone(std::string* message) {
    unlink((directory_ + "/snapshot.tmp").c_str()); /* an interrupted checkpoint */
    int rc = load_snapshot(
        directory_,
        [this](std::string&& key, std::string&& value) {
            store_.load_sorted(std::move(key), std::move(value));
        },
        &snapshot_version_, &snapshot_bytes_, message);
    if (rc) return rc;
    if (snapshot_version_) {
        /* Rows were loaded at version 1; they are the state as of the snapshot. */
        last_version_ = snapshot_version_;
        struct stat st;
        if (stat((directory_ + "/snapshot.dat").c_str(), &st) == 0)
            last_checkpoint_unix_ = (int64_t)st.st_mtime;
    }
    /* Whole records a committer wrote but did not publish before dying are replayed: no
     * process read at or above their versions (read versions stay below a batch in
     * flight until the next committer cuts the batch off), so either outcome is one of
     * the histories an unknown commit result allows. */
    store_.defer_order(); /* keys new to the store are put in order once, at the end */
    rc = wal_.open(directory_, [this](LoggedCommit&& commit) {
        if (commit.version <= snapshot_version_) return; /* already in the snapshot */
        apply_to(store_, commit, commit.version, Taking::kKeysAndValues);
        if (commit.version > last_version_) last_version_ = commit.version;
    }, message);
    store_.settle_order(last_version_);
    if (rc) return rc;
    if (store_.get("\xff/coordinators", INT64_MAX) == nullptr) {
        LoggedCommit seed;
        seed.version = std::max<Version>(clock_version(), last_version_ + 1);
        seed.mutations.push_back({LoggedMutation::kSet, "\xff/coordinators",
                                  "found:" + location_ + "@127.0.0.1:4500"});
        std::string record;
        Wal::encode(seed, &record);
        if (wal_.append(record) != 0 || wal_.sync() != 0) {
            *message = "cannot write the log in " + directory_;
            return kFileNotWritable;
        }
        apply(seed, seed.version);
        last_version_ = seed.version;
    }
    applied_version_ = last_version_;
    const int64_t position = make_position(wal_.generation(), wal_.size());
    shared_.initialise(position, last_version_);
    local_position_.store(position);
    return 0;
}

int Engine::reload(std::string* message) {
    for (int attempt = 0; attempt < 1000; attempt++) {
        const int64_t position = shared_.layout().log_position.load();
        if (int rc = wal_.attach(directory_, message)) return rc;
        if (wal_.generation() != position_generation(position)) {
            /* Rotated between reading the position and opening the log: look again. */
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
            continue;
        }
        /* The snapshot is opened after the log: it is the one this log's rotation was
         * based on, or a newer one (records it covers are skipped). */
        Store fresh;
        Version snapshot_version = 0;
        int64_t snapshot_bytes = 0;
        int rc = load_snapshot(
            directory_,
            [&fresh](std::string&& key, std::string&& value) {
                fresh.load_sorted(std::move(key), std::move(value));
            },
            &snapshot_version, &snapshot_bytes, message);
        if (rc) return rc;
        std::vector<LoggedCommit> commits;
        rc = wal_.read(Wal::kHeaderSize, position_offset(position), &commits, message);
        if (rc) return rc;
        /* Keep the versions a reader may still need: the log reaches into batches not yet
         * durable, and read versions stay below those. */
        const Version oldest = current_version() - knobs().mvcc_window_versions;
        Version last = snapshot_version;
        fresh.defer_order();
        for (LoggedCommit& commit : commits) {
            if (commit.version <= last) continue;
            apply_to(fresh, commit, std::min(commit.version, oldest), Taking::kKeysAndValues);
            last = commit.version;
        }
        fresh.settle_order(std::min(last, oldest));
        {
            std::unique_lock<std::shared_mutex> data(data_mutex_);
            store_ = std::move(fresh);
        }
        wal_.set_size(position_offset(position));
        snapshot_version_ = snapshot_version;
        snapshot_bytes_ = snapshot_bytes;
        /* Versions before the snapshot are gone from the store, and the conflict history
         * of what was skipped is unknown: older reads fail 1007, older commits 1020. */
        if (applied_version_ > 0 && last < applied_version_) last = applied_version_;
        reload_floor_.store(snapshot_version);
        conflict_floor_ = last;
        applied_version_ = last;
        local_position_.store(position);
        return 0;
    }
    *message = "the log of " + directory_ + " kept rotating while it was being loaded";
    return kIoError;
}

void Engine::retain() { refs_.fetch_add(1, std::memory_order_relaxed); }

void Engine::release() {
    {
        std::lock_guard<std::mutex> lock(g_registry_mutex);
        if (refs_.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
        auto it = registry().find(location_);
        if (it != registry().end() && it->second == this) registry().erase(it);
    }
    std::vector<Future*> orphans;
    {
        std::lock_guard<std::mutex> lock(watch_mutex_);
        for (auto& [key, watch] : watches_) orphans.push_back(watch.second);
        watches_.clear();
    }
    for (Future* f : orphans) {
        f->fail(kOperationCancelled);
        f->release();
    }
    if (!memory_ && lock_fd_ >= 0 && wal_.is_open() && shared_.lock_commit(nullptr)) {
        /* The last process to close the log trims the zeros written ahead of its end.
         * (Giving up the shared lock to test this is fine: this process is leaving.) */
        if (flock(lock_fd_, LOCK_EX | LOCK_NB) == 0) {
            std::lock_guard<std::mutex> follow_lock(follow_mutex_);
            std::vector<Future*> none;
            if (recover_dead_holder(&none) == 0 && sync_and_publish_all() == 0) wal_.trim();
        }
        shared_.unlock_commit();
    }
    delete this;
}

Engine::~Engine() {
    /* Closing drops the flocks, also after a failed load. */
    if (lock_fd_ >= 0) close(lock_fd_);
    if (checkpoint_fd_ >= 0) close(checkpoint_fd_);
    /* Free the store now and give its memory back: otherwise its millions of small freed
     * blocks wait in the allocator and the next large allocation on that thread (say, a
     * commit's log record) pays to merge them all — a pause of up to a second. */
    const bool large = store_.live_keys() > 10000;
    store_ = Store();
    if (large) malloc_trim(0);
}

/* ------------------------------------------------------------------------------------
 * Versions
 * ---------------------------------------------------------------------------------- */

Version Engine::clock_version() const {
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    return (int64_t)now.tv_sec * 1000000 + now.tv_nsec / 1000 - kEpochMicros;
}

Version Engine::read_version(ReaderPin* pin) {
    SharedLayout& shared = shared_.layout();
    Version version;
    int64_t committing = shared.committing.load();
    if (committing) {
        version = committing - 1; /* everything below the batch in flight is published */
    } else {
        const Version now = fetch_max(shared.max_version, clock_version());
        /* A batch announced meanwhile may have taken a version <= now: stay below it. */
        committing = shared.committing.load();
        version = committing ? std::min(now, committing - 1) : now;
    }
    if (pin) pin->hold(this, version);
    catch_up();
    return version;
}

Version Engine::oldest_readable() {
    return std::min(current_version() - knobs().mvcc_window_versions, checkpoint_pin_.load());
}

Version Engine::current_version() {
    return std::max(shared_.layout().max_version.load(), clock_version());
}

int Engine::check_read_version(Version version) {
    SharedLayout& shared = shared_.layout();
    const Version now = current_version();
    if (version < now - knobs().mvcc_window_versions || version < reload_floor_.load())
        return kTransactionTooOld;
    int64_t committing = shared.committing.load();
    if ((committing && version >= committing) || version > now) return -1;
    /* Reads at `version` are now possible: later commits must get a higher version. */
    fetch_max(shared.max_version, version);
    committing = shared.committing.load();
    if (committing && version >= committing) return -1;
    if (catch_up() != 0) return kIoError;
    return 0;
}

Version Engine::visible_version() {
    const int64_t committing = shared_.layout().committing.load();
    return committing ? committing - 1 : INT64_MAX;
}

void Engine::push_unsynced(int64_t end_position, Version version) {
    SharedLayout& shared = shared_.layout();
    const int64_t count = shared.unsynced_count.load();
    const int64_t slot = (shared.unsynced_first.load() + count) % kUnsyncedBatches;
    shared.unsynced_end[slot].store(end_position);
    shared.unsynced_version[slot].store(version);
    shared.unsynced_count.store(count + 1);
}

void Engine::publish_unsynced(int64_t up_to) {
    SharedLayout& shared = shared_.layout();
    int64_t first = shared.unsynced_first.load(), count = shared.unsynced_count.load();
    while (count > 0) {
        const int64_t end = shared.unsynced_end[first].load();
        /* Positions compare within a generation; after a rotation the list was emptied. */
        if (position_generation(end) != position_generation(up_to) || end > up_to) break;
        first = (first + 1) % kUnsyncedBatches;
        count--;
    }
    shared.unsynced_first.store(first);
    shared.unsynced_count.store(count);
    shared.committing.store(count ? shared.unsynced_version[first].load() : 0);
}

void Engine::clear_unsynced() {
    SharedLayout& shared = shared_.layout();
    shared.unsynced_count.store(0);
    shared.committing.store(0);
}

int Engine::sync_and_publish_all() {
    /* Under the commit lock and follow_mutex_ (wal_ is at the appended end). */
    if (shared_.layout().unsynced_count.load() == 0) return 0;
    if (int rc = wal_.sync()) return rc;
    publish_unsynced(local_position_.load());
    return 0;
}

Version Engine::next_commit_version(bool first_of_batch) {
    SharedLayout& shared = shared_.layout();
    int64_t max = shared.max_version.load();
    for (;;) {
        const Version version = std::max(max + 1, clock_version());
        if (first_of_batch) shared.committing.store(max + 1);
        if (shared.max_version.compare_exchange_weak(max, version)) return version;
    }
}

/* ------------------------------------------------------------------------------------
 * Following other processes
 * ---------------------------------------------------------------------------------- */

int Engine::catch_up() {
    if (memory_) return 0;
    if (shared_.layout().log_position.load() == local_position_.load()) return 0;
    std::vector<Future*> fired;
    int rc;
    {
        std::lock_guard<std::mutex> follow_lock(follow_mutex_);
        rc = follow(&fired);
    }
    complete_watches(std::move(fired));
    return rc;
}

int Engine::follow(std::vector<Future*>* fired) {
    SharedLayout& shared = shared_.layout();
    for (int attempt = 0; attempt < 100; attempt++) {
        const int64_t position = shared.log_position.load();
        const int64_t local = local_position_.load();
        if (position == local) return 0;
        const int64_t generation = position_generation(position);
        const int64_t local_offset = position_offset(local);
        if (generation == position_generation(local)) {
            if (position_offset(position) < local_offset) break; /* cannot happen: reload */
            std::vector<LoggedCommit> commits;
            if (int rc = wal_.read(local_offset, position_offset(position), &commits, &follow_error_))
                return rc;
            apply_followed(commits, fired);
            wal_.set_size(position_offset(position));
            local_position_.store(position);
            return 0;
        }
        if (generation != position_generation(local) + 1) break; /* fell behind: reload */
        /* One rotation behind: finish the previous log up to where the new one begins
         * (this process still holds the previous file open), then continue in the new. */
        const int64_t rotation = shared.rotation.load();
        if (position_generation(rotation) != generation) continue; /* rotating right now */
        const int64_t cut = position_offset(rotation);
        if (local_offset < cut) {
            std::vector<LoggedCommit> commits;
            if (int rc = wal_.read(local_offset, cut, &commits, &follow_error_)) return rc;
            apply_followed(commits, fired);
        }
        if (int rc = wal_.attach(directory_, &follow_error_)) return rc;
        if (wal_.generation() != generation) break; /* rotated again meanwhile: reload */
        const int64_t offset = Wal::kHeaderSize + std::max<int64_t>(0, local_offset - cut);
        wal_.set_size(offset);
        local_position_.store(make_position(generation, offset));
    }
    std::string message;
    const int rc = reload(&message);
    if (rc) follow_error_ = message;
    collect_changed_watches(fired); /* on keys the skipped commits changed */
    return rc;
}

void Engine::apply_followed(std::vector<LoggedCommit>& commits, std::vector<Future*>* fired) {
    const Version oldest = oldest_readable();
    {
        std::unique_lock<std::shared_mutex> data = lock_store_for_apply();
        for (LoggedCommit& commit : commits) {
            if (commit.version <= applied_version_) continue; /* covered by a newer snapshot */
            apply(commit, oldest);
            /* Another process's commit becomes a run, as this process's own do. */
            conflicts_.record_writes(std::move(commit.write_ranges), commit.write_points, commit.version);
            applied_version_ = commit.version;
        }
    }
    forget_old_conflicts();
    std::vector<Future*> now_fired = fire_watches(commits);
    fired->insert(fired->end(), now_fired.begin(), now_fired.end());
}

void Engine::forget_old_conflicts() {
    /* Every commit leaves a run: past half the runs the map would take, those every live
     * transaction has moved past go (cheap). The map is walked only when it has doubled
     * since it was last walked, and past 256 boundaries: every commit's reads search it,
     * and the doubling rule keeps forgetting proportional to what was recorded. */
    const bool many_runs = conflicts_.runs() >= ConflictMap::kMaxRuns / 2;
    const bool big_map = conflicts_.map_size() > 256 && conflicts_.map_size() > 2 * conflicts_size_after_forget_;
    if (!many_runs && !big_map) return;
    /* Keep what a live transaction may still conflict with: writes after its read
     * version. A transaction holding no pin (a read version set by hand, or taken just
     * before the pin) that reads below the floor fails 1020 — never a missed conflict. */
    const SharedLayout& shared = shared_.layout();
    const int64_t committing = shared.committing.load();
    Version floor = committing ? committing - 1 : shared.max_version.load();
    {
        std::lock_guard<std::mutex> lock(readers_mutex_);
        if (!readers_.empty()) floor = std::min(floor, *readers_.begin());
    }
    floor = std::max(floor, current_version() - knobs().mvcc_window_versions);
    floor = std::min(floor, applied_version_);
    if (floor <= conflict_floor_) floor = conflict_floor_;
    if (big_map) {
        conflicts_.forget_before(floor);
        conflicts_size_after_forget_ = conflicts_.map_size();
    } else {
        conflicts_.forget_runs_before(floor);
    }
    conflict_floor_ = floor;
}

std::multiset<Version>::iterator Engine::pin_reader(Version version) {
    std::lock_guard<std::mutex> lock(readers_mutex_);
    return readers_.insert(version);
}

void Engine::unpin_reader(std::multiset<Version>::iterator at) {
    std::lock_guard<std::mutex> lock(readers_mutex_);
    readers_.erase(at);
}

void ReaderPin::hold(Engine* engine, Version version) {
    reset();
    engine_ = engine;
    at_ = engine->pin_reader(version);
}

void ReaderPin::reset() {
    if (engine_) engine_->unpin_reader(at_);
    engine_ = nullptr;
}

ReaderPin& ReaderPin::operator=(ReaderPin&& other) noexcept {
    if (this != &other) {
        reset();
        engine_ = other.engine_;
        at_ = other.at_;
        other.engine_ = nullptr;
    }
    return *this;
}

int Engine::recover_dead_holder(std::vector<Future*>* fired) {
    int rc = follow(fired);
    if (rc == 0 && shared_.layout().rotating.load() != 0) {
        finish_dead_rotation();
        rc = follow(fired); /* into the new log, if the rotation was finished */
    }
    return rc == 0 ? repair_dead_append() : rc;
}

void Engine::finish_dead_rotation() {
    SharedLayout& shared = shared_.layout();
    const int64_t rotating = shared.rotating.load();
    if (rotating == 0) return;
    if (Wal::generation_on_disk(directory_) == position_generation(rotating)) {
        /* Renamed into place, not yet published: the new log holds exactly what the old
         * one held from the cut on (nobody appended while the rotator held the lock). */
        Wal::sync_directory(directory_);
        shared.log_position.store(rotating);
    } else {
        unlink(Wal::next_path(directory_).c_str()); /* died before the rename */
    }
    shared.rotating.store(0);
}

int Engine::repair_dead_append() {
    SharedLayout& shared = shared_.layout();
    if (!memory_ && shared.appending.load() != 0) {
        /* Died mid-write: its torn bytes lie past the appended end (where wal_ is now). */
        if (int rc = wal_.truncate(wal_.size())) return rc;
        shared.appending.store(0);
    }
    /* Died between announcing a batch and listing it: read versions may move on. */
    const int64_t count = shared.unsynced_count.load();
    shared.committing.store(count ? shared.unsynced_version[shared.unsynced_first.load()].load() : 0);
    return 0;
}

void Engine::poll() {
    /* What a process that died may have left: a rotation or a write in progress, or a
     * batch announced but not listed, all with the commit lock free; or an unsynced
     * batch nobody publishes (the oldest listed one unchanged for 100 ms: far longer than
     * a sync normally takes; helping early would only cost a sync under the lock).
     * Read versions stay below such a batch, so whoever notices first recovers: cuts
     * the torn write, finishes the rotation, or syncs and publishes what is listed. */
    const SharedLayout& shared = shared_.layout();
    if (!memory_) {
        const int64_t count = shared.unsynced_count.load();
        const int64_t oldest = count ? shared.unsynced_end[shared.unsynced_first.load()].load() : 0;
        const auto now = std::chrono::steady_clock::now();
        if (oldest != last_unsynced_seen_) {
            last_unsynced_seen_ = oldest;
            last_unsynced_since_ = now;
        }
        const bool stuck = count && now - last_unsynced_since_ >= std::chrono::milliseconds(100);
        const bool marks = shared.rotating.load() != 0 || shared.appending.load() != 0 ||
                           (shared.committing.load() != 0 && count == 0);
        if (stuck || marks) {
            std::unique_lock<std::mutex> pipeline(pipeline_mutex_, std::try_to_lock);
            /* (When this process holds the pipeline it is committing: it recovers itself.) */
            if (pipeline.owns_lock() && shared_.try_lock_commit()) {
                std::vector<Future*> fired;
                {
                    std::lock_guard<std::mutex> follow_lock(follow_mutex_);
                    if (recover_dead_holder(&fired) == 0 && stuck) sync_and_publish_all();
                }
                shared_.unlock_commit();
                complete_watches(std::move(fired));
            }
        }
    }
    catch_up();
    recheck_watches();
}

void Engine::recheck_watches() {
    /* Writes applied before they were durable (another process's batch, followed while it
     * synced) fire their watches once published. */
    const int64_t committing = shared_.layout().committing.load();
    if (committing == last_committing_seen_ && committing == 0) return;
    last_committing_seen_ = committing;
    std::vector<Future*> fired;
    collect_changed_watches(&fired);
    complete_watches(std::move(fired));
}

void Engine::collect_changed_watches(std::vector<Future*>* fired) {
    std::lock_guard<std::mutex> lock(watch_mutex_);
    std::shared_lock<std::shared_mutex> data(data_mutex_);
    const Version visible = visible_version();
    for (auto it = watches_.begin(); it != watches_.end();) {
        if (watch_unchanged(it->first, it->second.first, visible)) {
            ++it;
        } else {
            fired->push_back(it->second.second);
            it = watches_.erase(it);
        }
    }
}

bool Engine::watch_unchanged(const std::string& key, const std::optional<std::string>& initial,
                             Version visible) const {
    const std::string* current = store_.get(key, visible);
    return current ? (initial.has_value() && *initial == *current) : !initial.has_value();
}

void Engine::complete_watches(std::vector<Future*> fired) {
    if (fired.empty()) return;
    /* Always from the network thread, and never inside the caller's locks. */
    retain();
    Network::instance().post([this, fired] {
        for (Future* f : fired) {
            f->succeed();
            f->release();
        }
        release();
    });
}

void Engine::schedule_poll() {
    bool watching;
    {
        std::lock_guard<std::mutex> lock(watch_mutex_);
        watching = !watches_.empty();
    }
    const std::string location = location_;
    const uint64_t id = id_;
    Network::instance().post_at(
        Network::Clock::now() + std::chrono::milliseconds(watching ? 5 : 50), [location, id] {
            Engine* engine = nullptr;
            {
                std::lock_guard<std::mutex> lock(g_registry_mutex);
                auto it = registry().find(location);
                if (it == registry().end() || it->second->id_ != id) return; /* closed */
                engine = it->second;
                engine->retain();
            }
            engine->poll();
            engine->schedule_poll();
            engine->release();
        });
}

/* ------------------------------------------------------------------------------------
 * Commits
 * ---------------------------------------------------------------------------------- */

void Engine::submit(std::unique_ptr<CommitRequest> request) {
    /* A commit that waits for no sync (in memory, durability_risky, or syncing off) is
     * resolved, logged and applied right here when the pipeline is free: its future is
     * ready when commit returns, with no thread hop either way. */
    const bool needs_no_sync = memory_ || !knobs().sync || request->durability_risky;
    if (needs_no_sync && !unavailable_) {
        std::unique_lock<std::mutex> pipeline(pipeline_mutex_, std::try_to_lock);
        /* ...and no other process is committing: a client's thread never waits for
         * another process's commit (the lock taken here is taken again below: it counts). */
        if (pipeline.owns_lock() && !shared_.try_lock_commit()) {
            pipeline.unlock();
        } else if (pipeline.owns_lock() && shared_.layout().unsynced_count.load() > 0) {
            /* Behind an unsynced batch it would wait for a sync: not on a client's thread. */
            shared_.unlock_commit();
            pipeline.unlock();
        }
        if (pipeline.owns_lock()) {
            std::vector<std::unique_ptr<CommitRequest>> batch;
            batch.push_back(std::move(request));
            std::vector<std::function<void()>> completions =
                process_commits(std::move(batch));
            shared_.unlock_commit(); /* the try_lock_commit above */
            pipeline.unlock();
            for (auto& complete : completions) complete();
            return;
        }
    }
    bool schedule = false;
    {
        std::lock_guard<std::mutex> lock(queue_mutex_);
        queue_.push_back(std::move(request));
        if (!processing_scheduled_) processing_scheduled_ = schedule = true;
    }
    if (schedule) {
        retain();
        Network::instance().post([this] {
            std::vector<std::unique_ptr<CommitRequest>> batch;
            {
                std::lock_guard<std::mutex> lock(queue_mutex_);
                batch.swap(queue_);
                processing_scheduled_ = false;
            }
            std::unique_lock<std::mutex> pipeline(pipeline_mutex_);
            std::vector<std::function<void()>> completions =
                process_commits(std::move(batch));
            pipeline.unlock();
            release(); /* each transaction still holds its own reference */
            for (auto& complete : completions) complete();
        });
    }
}

int Engine::injected_fault() {
    const double p = knobs().fault_probability;
    if (p <= 0) return 0;
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    if (unit(fault_random_) >= p) return 0;
    static const int kFaults[] = {kNotCommitted, kCommitUnknownResult, kTransactionTooOld};
    return kFaults[fault_random_() % 3];
}

std::vector<std::function<void()>> Engine::process_commits(
    std::vector<std::unique_ptr<CommitRequest>> batch) {
    std::vector<std::function<void()>> completions;
    if (batch.empty()) return completions;

    std::vector<Outcome> outcomes(batch.size());
    auto fail_all = [&](int error) {
        for (auto& request : batch) {
            auto shared_request = std::make_shared<std::unique_ptr<CommitRequest>>(std::move(request));
            completions.push_back([shared_request, error] {
                CommitRequest::finish(std::move(*shared_request), error, 0, std::string());
            });
        }
        return completions;
    };
    if (!shared_.lock_commit(nullptr)) return fail_all(kIoError);
    SharedLayout& shared = shared_.layout();
    std::vector<Future*> fired_by_others;
    std::unique_lock<std::mutex> follow_lock(follow_mutex_);
    int follow_error = memory_ ? 0 : recover_dead_holder(&fired_by_others);
    /* No room to list another unsynced batch: sync and publish those listed first. */
    if (!follow_error && !memory_ && shared.unsynced_count.load() >= kUnsyncedBatches)
        follow_error = sync_and_publish_all();
    if (follow_error) {
        follow_lock.unlock();
        shared_.unlock_commit();
        complete_watches(std::move(fired_by_others));
        return fail_all(kIoError);
    }
    std::vector<LoggedCommit> accepted;
    /* The log records of the batch, in a buffer kept from batch to batch: grown afresh for
     * every bulk commit, its reallocations made glibc consolidate its free lists (~10% of
     * a bulk load). Swapped out, so a nested call finds it empty rather than shared. */
    std::string records;
    records.swap(wal_buffer_);
    records.clear();
    /* The latest value of keys written earlier in this batch (atomic ops read them). */
    std::map<std::string, std::optional<std::string>> overlay;
    std::vector<KeyRange> batch_clears;
    auto latest = [&](const std::string& key) -> std::optional<std::string> {
        auto it = overlay.find(key);
        if (it != overlay.end()) return it->second;
        for (const KeyRange& r : batch_clears)
            if (key >= r.begin && key < r.end) return std::nullopt;
        const std::string* v = store_.get(key, INT64_MAX); /* only this thread writes */
        return v ? std::optional<std::string>(*v) : std::nullopt;
    };
    const int64_t window = knobs().mvcc_window_versions;
    /* Only atomic ops read the latest value: without them the overlay is not needed. */
    bool batch_has_atomic_ops = false;
    for (const auto& request : batch)
        for (const Mutation& m : request->mutations)
            if (m.kind == Mutation::kAtomic && m.op != kOpSetVersionstampedKey &&
                m.op != kOpSetVersionstampedValue)
                batch_has_atomic_ops = true;

    for (size_t i = 0; i < batch.size(); i++) {
        CommitRequest& request = *batch[i];
        int error = injected_fault();
        bool commit_anyway = false;
        if (error == kCommitUnknownResult) {
            commit_anyway = (fault_random_() & 1) != 0; /* it may or may not have committed */
            if (commit_anyway) error = 0;
        }
        if (!error && (!request.read_ranges.empty() || !request.read_points.empty())) {
            if (request.read_version < current_version() - window) error = kTransactionTooOld;
            else if (request.read_version < conflict_floor_) error = kNotCommitted;
            for (const KeyRange& r : request.read_ranges) {
                if (error) break;
                if (conflicts_.written_after(r.begin, r.end, request.read_version)) error = kNotCommitted;
            }
            for (size_t p = 0; p < request.read_points.size() && !error; p++)
                if (conflicts_.point_written_after(request.read_points[p], request.read_version))
                    error = kNotCommitted;
        }
        if (error) {
            outcomes[i].error = error;
            continue;
        }
        /* Announce the batch (read versions stay below it) unless an older unsynced
         * batch already holds them lower. */
        const Version version =
            next_commit_version(accepted.empty() && shared.unsynced_count.load() == 0);
        const std::string stamp = big_endian_stamp(version, 0);
        LoggedCommit logged;
        logged.version = version;
        logged.mutations.reserve(request.mutations.size());
        for (Mutation& m : request.mutations) {
            switch (m.kind) {
                case Mutation::kSet:
                    if (batch_has_atomic_ops) overlay[m.key] = m.param;
                    logged.mutations.push_back({LoggedMutation::kSet, std::move(m.key), std::move(m.param)});
                    break;
                case Mutation::kClear:
                    if (batch_has_atomic_ops) overlay[m.key] = std::nullopt;
                    logged.mutations.push_back({LoggedMutation::kClear, std::move(m.key), std::string()});
                    break;
                case Mutation::kClearRange:
                    if (batch_has_atomic_ops) {
                        overlay.erase(overlay.lower_bound(m.key), overlay.lower_bound(m.param));
                        batch_clears.push_back({m.key, m.param});
                    }
                    logged.mutations.push_back({LoggedMutation::kClearRange, std::move(m.key), std::move(m.param)});
                    break;
                case Mutation::kAtomic: {
                    if (m.op == kOpSetVersionstampedKey) {
                        uint32_t offset;
                        memcpy(&offset, m.key.data() + m.key.size() - 4, 4);
                        std::string key = m.key.substr(0, m.key.size() - 4);
                        memcpy(&key[offset], stamp.data(), 10);
                        if (batch_has_atomic_ops) overlay[key] = m.param;
                        logged.mutations.push_back({LoggedMutation::kSet, key, m.param});
                    } else if (m.op == kOpSetVersionstampedValue) {
                        uint32_t offset;
                        memcpy(&offset, m.param.data() + m.param.size() - 4, 4);
                        std::string value = m.param.substr(0, m.param.size() - 4);
                        memcpy(&value[offset], stamp.data(), 10);
                        if (batch_has_atomic_ops) overlay[m.key] = value;
                        logged.mutations.push_back({LoggedMutation::kSet, m.key, value});
                    } else {
                        std::optional<std::string> value =
                            apply_atomic(m.op, latest(m.key), m.param, request.api_version);
                        overlay[m.key] = value; /* batch_has_atomic_ops is true here */
                        if (value) logged.mutations.push_back({LoggedMutation::kSet, m.key, *value});
                        else logged.mutations.push_back({LoggedMutation::kClear, m.key, std::string()});
                    }
                    break;
                }
            }
        }
        /* The ranges move into a vector made here: the conflict map frees it on this
         * thread, and the client's goes back to its transaction with the request. */
        std::vector<KeyRange> written(std::make_move_iterator(request.write_ranges.begin()),
                                      std::make_move_iterator(request.write_ranges.end()));
        request.write_ranges.clear();
        if (!memory_) {
            /* For other processes; the points are lent to the record and taken back. */
            logged.write_ranges = std::move(written);
            std::swap(logged.write_points, request.write_points);
            Wal::encode(logged, &records);
            written = std::move(logged.write_ranges); /* not needed past the log */
            std::swap(logged.write_points, request.write_points);
        }
        /* The points are copied (sorted) into the conflict map: the request's buffers go
         * back to the client's thread with it. */
        conflicts_.record_writes(std::move(written), request.write_points, version);
        outcomes[i].version = version;
        outcomes[i].versionstamp = stamp;
        if (commit_anyway) outcomes[i].error = kCommitUnknownResult;
        accepted.push_back(std::move(logged));
    }

    /* Append and apply under the lock; sync without it (other processes append meanwhile,
     * and one fdatasync covers every record before its end); then publish. */
    bool wait_for_sync = false;
    int dup_fd = -1;
    int64_t batch_end = 0;
    int io_error = 0;
    if (!accepted.empty()) {
        bool relaxed = !knobs().sync;
        if (!relaxed) {
            relaxed = true;
            for (const auto& request : batch) relaxed = relaxed && request->durability_risky;
        }
        if (!memory_) {
            const int64_t start = wal_.size();
            shared.appending.store(1);
            io_error = wal_.append(records);
            if (io_error) wal_.truncate(start); /* best effort: never published */
            shared.appending.store(0);
        }
        if (records.capacity() <= (4u << 20)) wal_buffer_.swap(records); /* a huge one goes */
        if (io_error) {
            for (Outcome& o : outcomes)
                if (!o.error && o.version) o.error = kCommitUnknownResult;
        } else {
            const Version oldest = oldest_readable();
            /* Readers wait while the batch is applied: first bring what it will touch into
             * the cache with a shared lock, so that the exclusive one is held briefly.
             * (A commit run inline on its client's thread has no reader to keep waiting.) */
            if (Network::instance().on_network_thread()) {
                std::shared_lock<std::shared_mutex> data(data_mutex_);
                for (const LoggedCommit& commit : accepted)
                    for (const LoggedMutation& m : commit.mutations)
                        if (m.type != LoggedMutation::kClearRange) store_.warm(m.key);
            }
            {
                std::unique_lock<std::shared_mutex> data = lock_store_for_apply();
                for (LoggedCommit& commit : accepted) apply(commit, oldest);
                applied_version_ = accepted.back().version;
            }
            if (!memory_) {
                batch_end = make_position(wal_.generation(), wal_.size());
                local_position_.store(batch_end);
                shared.log_position.store(batch_end);
            }
        }
        if (!io_error && !memory_ && (!relaxed || shared.unsynced_count.load() > 0)) {
            /* Durable, or relaxed behind an unsynced batch (it may become visible only
             * with that batch): listed until a sync covers it. */
            push_unsynced(batch_end, accepted.front().version);
            dup_fd = wal_.duplicate_fd();
            wait_for_sync = true;
        } else if (shared.unsynced_count.load() == 0) {
            shared.committing.store(0); /* published as it is (in memory, relaxed or failed) */
        }
        if (!io_error && relaxed && !wait_for_sync && !memory_ && knobs().sync) {
            relaxed_unsynced_ = true;
            schedule_relaxed_sync();
        }
        forget_old_conflicts();
    }
    follow_lock.unlock();
    shared_.unlock_commit();
    maybe_checkpoint();

    /* The rest — sync, publish, complete — needs no pipeline lock, and runs right here:
     * commits that arrive meanwhile queue up and make the next batch. (Handing the sync to
     * a thread of its own, to append the next batch during it, made more and smaller
     * batches: each sync costs CPU, and this machine has two cores. With it, 16 one-write
     * committers ran at ~31k commits/s; without it, 44-60k.) */
    std::vector<std::function<void()>> finished =
        finish_commits(wait_for_sync, dup_fd, batch_end, std::move(outcomes), std::move(batch),
                       std::move(accepted), std::move(fired_by_others));
    if (completions.empty()) return finished;
    completions.insert(completions.end(), std::make_move_iterator(finished.begin()),
                       std::make_move_iterator(finished.end()));
    return completions;
}

std::vector<std::function<void()>> Engine::finish_commits(
    bool wait_for_sync, int dup_fd, int64_t batch_end, std::vector<Outcome> outcomes,
    std::vector<std::unique_ptr<CommitRequest>> batch, std::vector<LoggedCommit> accepted,
    std::vector<Future*> fired_by_others) {
    std::vector<std::function<void()>> completions;
    int io_error = 0;
    if (wait_for_sync) {
        io_error = dup_fd >= 0 && fdatasync(dup_fd) == 0 ? 0 : kIoError;
        if (dup_fd >= 0) close(dup_fd);
        if (io_error) {
            /* Appended and followed by others, not known durable: a later sync may still
             * make it so. */
            for (Outcome& o : outcomes)
                if (!o.error && o.version) o.error = kCommitUnknownResult;
        } else if (shared_.lock_commit(nullptr)) {
            publish_unsynced(batch_end);
            shared_.unlock_commit();
        } else {
            for (Outcome& o : outcomes)
                if (!o.error && o.version) o.error = kCommitUnknownResult;
        }
    }
    complete_watches(std::move(fired_by_others));
    if (!accepted.empty()) {
        /* Watches fire on the network thread, even when this commit ran inline on a
         * client's thread: their callbacks must never run inside someone's commit call. */
        std::vector<Future*> fired = fire_watches(accepted);
        if (!fired.empty()) {
            auto complete = [fired] {
                for (Future* f : fired) {
                    f->succeed();
                    f->release();
                }
            };
            if (Network::instance().on_network_thread()) {
                completions.push_back(complete);
            } else {
                retain(); /* the watches' settle hooks reach back into this engine */
                Network::instance().post([this, complete] {
                    complete();
                    release();
                });
            }
        }
    }
    for (size_t i = 0; i < batch.size(); i++) {
        auto request = std::make_shared<std::unique_ptr<CommitRequest>>(std::move(batch[i]));
        Outcome outcome = outcomes[i];
        completions.push_back([request, outcome] {
            CommitRequest::finish(std::move(*request), outcome.error, outcome.version, outcome.versionstamp);
        });
    }
    return completions;
}

/* ------------------------------------------------------------------------------------
 * Relaxed durability and checkpoints
 * ---------------------------------------------------------------------------------- */

void Engine::schedule_relaxed_sync() {
    if (relaxed_sync_scheduled_) return;
    relaxed_sync_scheduled_ = true;
    retain();
    Network::instance().post_at(
        Network::Clock::now() + std::chrono::milliseconds(knobs().relaxed_sync_ms), [this] {
            {
                std::lock_guard<std::mutex> pipeline(pipeline_mutex_);
                std::lock_guard<std::mutex> follow_lock(follow_mutex_); /* wal_'s file may change */
                relaxed_sync_scheduled_ = false;
                if (relaxed_unsynced_ && wal_.sync() == 0) relaxed_unsynced_ = false;
            }
            release();
        });
}

/* Under pipeline_mutex_: starts a checkpoint when the log has grown past the threshold
 * and no other process is writing one. The snapshot is written by its own thread, reading
 * the store at `version` (pinned so the MVCC pruning keeps it), so commits go on. */
void Engine::maybe_checkpoint() {
    if (memory_ || checkpoint_running_.load()) return;
    if (wal_.size() <= 16 || wal_.size() < knobs().checkpoint_bytes) return;
    if (flock(checkpoint_fd_, LOCK_EX | LOCK_NB) != 0) return; /* another process is */
    catch_up(); /* another process may just have rotated the log */
    Version version;
    int64_t position;
    int log_fd;
    {
        std::lock_guard<std::mutex> follow_lock(follow_mutex_);
        version = applied_version_;
        position = local_position_.load(); /* every record before it is <= version */
        log_fd = position_offset(position) < knobs().checkpoint_bytes ? -2 : wal_.duplicate_fd();
    }
    if (log_fd < 0) {
        /* -1: out of descriptors; the next commit tries again. */
        if (log_fd == -1) last_checkpoint_error_ = std::string("cannot start a checkpoint: ") + strerror(errno);
        flock(checkpoint_fd_, LOCK_UN);
        return;
    }
    checkpoint_running_ = true;
    checkpoint_pin_ = version;
    retain();
    std::thread([this, version, position, log_fd] { write_checkpoint(version, position, log_fd); }).detach();
}

/* Makes the calling thread (a checkpoint's) give way to every other thread of the process:
 * on a machine with few CPUs, a checkpoint that competes at equal weight with the commit
 * path delays commits by whole scheduler slices. Nice 19 and SCHED_BATCH (no wake-up
 * preemption) still leave it an idle CPU or a small share of a busy one, so it never
 * starves and the log stays bounded. On the development VM (2 CPUs, 1M keys, checkpoints
 * back to back) the commit p99 went from 1.2-1.8 ms to 0.9-1.1 ms. */
void Engine::yield_to_commits() {
#if defined(__linux__)
    pthread_setname_np(pthread_self(), "found-ckpt"); /* as top -H and /proc show it */
    struct sched_param param = {};
    (void)sched_setscheduler(0, SCHED_BATCH, &param); /* 0: this thread; advisory */
    (void)setpriority(PRIO_PROCESS, 0, 19);           /* per thread on Linux */
#endif
}

void Engine::write_checkpoint(Version version, int64_t log_position, int log_fd) {
    yield_to_commits();
    SnapshotWriter writer;
    std::string message;
    int rc = writer.begin(directory_, version, &message);
    std::string position;
    bool first = true;
    std::vector<std::pair<std::string, std::string>> rows;
    while (rc == 0) {
        rows.clear();
        {
            std::shared_lock<std::shared_mutex> data(data_mutex_);
            auto it = store_.next_present(position, first, version);
            /* Small chunks: the shared lock is held only while copying them, and a
             * commit's apply waits for it (4096 rows held it ~2 ms); an apply waiting
             * ends the chunk at once. */
            while (it != store_.end() && rows.size() < 256 &&
                   (rows.empty() || appliers_waiting_.load(std::memory_order_relaxed) == 0)) {
                rows.emplace_back(it->key, *Store::value_at(it, version));
                it = store_.next_present_after(it, version); /* the tree holds still */
            }
        }
        first = false;
        if (rows.empty()) break;
        position = rows.back().first;
        rc = writer.write(rows);
    }
    if (rc == 0) rc = writer.finish(&message);
    else writer.abandon();
    const int64_t bytes = writer.bytes();
    /* The log's records after the snapshot, as far as they are published now, go to the
     * next log here, while commits go on; the rotation copies only the rest. The log
     * cannot rotate meanwhile: only the holder of the checkpoint lock rotates it. */
    Wal::RotationCopy copy;
    if (rc == 0) {
        const int64_t published = shared_.layout().log_position.load();
        const int64_t generation = position_generation(log_position);
        int64_t end = position_offset(log_position);
        if (position_generation(published) == generation) end = std::max(end, position_offset(published));
        rc = Wal::copy_for_rotation(directory_, log_fd, position_offset(log_position), end, generation + 1,
                                    &copy, &message);
    }
    close(log_fd);
    Network::instance().post([this, rc, version, log_position, bytes, message, copy] {
        {
            std::lock_guard<std::mutex> pipeline(pipeline_mutex_);
            finish_checkpoint(rc, version, log_position, bytes, message, copy);
        }
        release();
    });
}

/* Under pipeline_mutex_: replaces the log by its part the snapshot does not cover. Under
 * the commit lock, so no process appends meanwhile; the others follow the rotation. */
void Engine::finish_checkpoint(int error, Version version, int64_t log_position, int64_t bytes,
                               const std::string& message, Wal::RotationCopy copy) {
    std::string rotate_message;
    std::vector<Future*> fired;
    if (!error && !shared_.lock_commit(&rotate_message)) error = kIoError;
    if (!error) {
        {
            std::lock_guard<std::mutex> follow_lock(follow_mutex_);
            error = recover_dead_holder(&fired);
            if (error) rotate_message = follow_error_;
            const int64_t generation = position_generation(log_position);
            if (!error && position_generation(local_position_.load()) != generation) {
                error = kIoError; /* only the checkpoint lock's holder rotates: cannot happen */
                rotate_message = "the log rotated under a running checkpoint";
            }
            int64_t new_size = 0;
            if (!error) error = wal_.prepare_rotation(std::move(copy), &new_size, &rotate_message);
            if (!error) {
                /* Announce the rotation before the rename: if this process dies in between,
                 * the next holder of the commit lock finishes it (see finish_dead_rotation). */
                SharedLayout& shared = shared_.layout();
                const int64_t position = make_position(generation + 1, new_size);
                shared.rotation.store(make_position(generation + 1, position_offset(log_position)));
                shared.rotating.store(position);
                error = wal_.finish_rotation(&rotate_message);
                if (!error) {
                    local_position_.store(position);
                    shared.log_position.store(position);
                    clear_unsynced(); /* the new log was synced whole */
                }
                shared.rotating.store(0);
                if (!error) Wal::sync_directory(directory_);
            }
        }
        shared_.unlock_commit();
    }
    if (copy.fd >= 0) { /* the rotation did not get as far as taking it */
        close(copy.fd);
        unlink(Wal::next_path(directory_).c_str());
    }
    complete_watches(std::move(fired));
    flock(checkpoint_fd_, LOCK_UN);
    if (error) {
        last_checkpoint_error_ = message.empty() ? rotate_message : message;
    } else {
        snapshot_version_ = version;
        snapshot_bytes_ = bytes;
        checkpoints_++;
        last_checkpoint_unix_ = (int64_t)time(nullptr);
        last_checkpoint_error_.clear();
    }
    checkpoint_pin_ = INT64_MAX;
    checkpoint_running_ = false;
}

std::string Engine::status_json() {
    size_t keys, bytes;
    {
        std::shared_lock<std::shared_mutex> data(data_mutex_);
        keys = store_.live_keys();
        bytes = store_.live_bytes();
    }
    /* The newest checkpoint, whichever process wrote it. */
    int64_t last_checkpoint_unix = last_checkpoint_unix_;
    int64_t snapshot_bytes = snapshot_bytes_;
    struct stat st;
    if (!memory_ && stat((directory_ + "/snapshot.dat").c_str(), &st) == 0) {
        last_checkpoint_unix = std::max(last_checkpoint_unix, (int64_t)st.st_mtime);
        snapshot_bytes = (int64_t)st.st_size;
    }
    std::string escaped;
    for (char c : location_) {
        if (c == '"' || c == '\\') escaped.push_back('\\');
        escaped.push_back(c);
    }
    return std::string("{\"client\":{\"database_status\":{\"available\":true,\"healthy\":true},"
                       "\"coordinators\":{\"quorum_reachable\":true}},\"found\":{\"engine\":\"embedded\","
                       "\"location\":\"") +
           escaped + "\",\"keys\":" + std::to_string(keys) + ",\"bytes\":" + std::to_string(bytes) +
           ",\"log_bytes\":" + std::to_string(wal_.size()) +
           ",\"log_generation\":" + std::to_string(wal_.generation()) +
           ",\"unsynced_batches\":" + std::to_string(shared_.layout().unsynced_count.load()) +
           ",\"committing\":" + std::to_string(shared_.layout().committing.load()) +
           ",\"applied_version\":" + std::to_string(applied_version_) +
           ",\"snapshot_version\":" + std::to_string(snapshot_version_) +
           ",\"snapshot_bytes\":" + std::to_string(snapshot_bytes) +
           ",\"checkpoint_bytes\":" + std::to_string(knobs().checkpoint_bytes) +
           ",\"checkpoints\":" + std::to_string(checkpoints_) +
           ",\"last_checkpoint_unix\":" + std::to_string(last_checkpoint_unix) +
           ",\"checkpoint_running\":" + (checkpoint_running_.load() ? "true" : "false") +
           ",\"checkpoint_error\":\"" + last_checkpoint_error_ + "\"" +
           ",\"in_memory\":" + (memory_ ? "true" : "false") +
           ",\"live_objects\":{\"futures\":" + std::to_string(live_objects().futures.load()) +
           ",\"transactions\":" + std::to_string(live_objects().transactions.load()) +
           ",\"databases\":" + std::to_string(live_objects().databases.load()) + "}}}";
}

namespace {
/* How many mutations ahead of the one applied the store is told of the next key. */
constexpr size_t kPrefetchDistance = 4;
}  // namespace

void Engine::apply_to(Store& store, LoggedCommit& commit, Version oldest, Taking taking) {
    const size_t count = commit.mutations.size();
    for (size_t i = 0; i < count; i++) {
        if (i + kPrefetchDistance < count) store.prefetch(commit.mutations[i + kPrefetchDistance].key);
        LoggedMutation& m = commit.mutations[i];
        std::string* value = m.type == LoggedMutation::kSet ? &m.param : nullptr;
        switch (m.type) {
            case LoggedMutation::kSet:
            case LoggedMutation::kClear:
                if (taking == Taking::kKeysAndValues) store.put_taking(std::move(m.key), value, commit.version, oldest);
                else store.put_value_taking(m.key, value, commit.version, oldest);
                break;
            case LoggedMutation::kClearRange:
                store.clear_range(m.key, m.param, commit.version, oldest);
                break;
        }
    }
}

/* ------------------------------------------------------------------------------------
 * Watches
 * ---------------------------------------------------------------------------------- */

void Engine::add_watch(const std::string& key, std::optional<std::string> initial, Future* future) {
    bool fire_now = false;
    {
        std::lock_guard<std::mutex> lock(watch_mutex_);
        std::shared_lock<std::shared_mutex> data(data_mutex_);
        if (!watch_unchanged(key, initial, visible_version())) {
            fire_now = true;
        } else {
            watches_.emplace(key, std::make_pair(std::move(initial), future));
        }
    }
    if (!fire_now) {
        /* Cancelled or destroyed while registered: leave the registry at once. */
        future->add_settle_hook([this, key, future] { forget_watch(key, future); });
    }
    if (fire_now) {
        future->succeed();
        future->release();
    }
}

void Engine::forget_watch(const std::string& key, Future* future) {
    bool found_it = false;
    {
        std::lock_guard<std::mutex> lock(watch_mutex_);
        auto range = watches_.equal_range(key);
        for (auto it = range.first; it != range.second; ++it) {
            if (it->second.second == future) {
                watches_.erase(it);
                found_it = true;
                break;
            }
        }
    }
    if (found_it) future->release();
}

std::vector<Future*> Engine::fire_watches(const std::vector<LoggedCommit>& commits) {
    std::vector<Future*> fired;
    {
        std::lock_guard<std::mutex> lock(watch_mutex_);
        if (watches_.empty()) return fired;
        /* (Shared: the store may be read on other threads meanwhile.) */
        std::shared_lock<std::shared_mutex> data(data_mutex_);
        const Version visible = visible_version();
        auto check = [&](std::multimap<std::string, std::pair<std::optional<std::string>, Future*>>::iterator it) {
            if (watch_unchanged(it->first, it->second.first, visible) && !it->second.second->is_ready())
                return std::next(it);
            fired.push_back(it->second.second);
            return watches_.erase(it);
        };
        for (const LoggedCommit& commit : commits) {
            for (const LoggedMutation& m : commit.mutations) {
                if (m.type == LoggedMutation::kClearRange) {
                    for (auto it = watches_.lower_bound(m.key); it != watches_.end() && it->first < m.param;)
                        it = check(it);
                } else {
                    auto range = watches_.equal_range(m.key);
                    for (auto it = range.first; it != range.second;) it = check(it);
                }
            }
        }
    }
    return fired;
}

}  // namespace found
