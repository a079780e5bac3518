/* engine.cc — versions, the group-commit pipeline, watches and the open-store registry.
 *
 * Versions advance with the wall clock (one million per second, like FDB) and never go
 * backwards. A read version never reaches into a batch still being made durable, so a
 * transaction cannot see a commit that was not yet acknowledged, and every read version
 * handed out after an acknowledgement sees it.
 *
 * The pipeline runs on the network thread: take every queued commit, resolve each one in
 * order (conflicts against the ConflictMap, which includes earlier commits of the same
 * batch), append all their records to the log with one write and one sync, apply them to
 * the store, then complete their futures. */
#include "engine.h"

#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <malloc.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
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
    }
    *out = engine;
    return 0;
}

/* Takes the directory lock, replays the log, and seeds a new store. */
int Engine::load(std::string* message) {
    if (!memory_) {
        /* A directory that already holds other files and no database is somebody else's:
         * refuse it rather than scatter a database among them. */
        if (DIR* listing = opendir(directory_.c_str())) {
            bool has_log = false;
            std::string stranger;
            while (struct dirent* entry = readdir(listing)) {
                const std::string name = entry->d_name;
                if (name == "." || name == "..") continue;
                if (name == "wal.log") has_log = true;
                else if (name != "LOCK" && name != "wal.tmp" && name != "snapshot.dat" &&
                         name != "snapshot.tmp" && stranger.empty())
                    stranger = name;
            }
            closedir(listing);
            if (!has_log && !stranger.empty()) {
                *message = directory_ + " is not a found data directory: it holds other files (e.g. " +
                           stranger + ") and no wal.log";
                return kFileCorrupt;
            }
        }
        const std::string lock_path = directory_ + "/LOCK";
        lock_fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (lock_fd_ < 0) {
            *message = "cannot create " + lock_path + ": " + strerror(errno);
            return kFileNotWritable;
        }
        if (flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
            char holder[64] = {0};
            ssize_t n = pread(lock_fd_, holder, sizeof(holder) - 1, 0);
            std::string who = n > 0 ? std::string(holder, (size_t)n) : std::string("another process");
            while (!who.empty() && (who.back() == '\n' || who.back() == ' ')) who.pop_back();
            *message = "data directory " + directory_ + " is in use by " + who +
                       " (one process per data directory in this version)";
            close(lock_fd_);
            lock_fd_ = -1;
            return kDatabaseLocked;
        }
        std::string holder = "process " + std::to_string(getpid()) + "\n";
        if (ftruncate(lock_fd_, 0) != 0 ||
            pwrite(lock_fd_, holder.data(), holder.size(), 0) != (ssize_t)holder.size()) {
            *message = "cannot write " + lock_path;
            return kFileNotWritable;
        }
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
        rc = wal_.open(directory_, [this](LoggedCommit&& commit) {
            if (commit.version <= snapshot_version_) return; /* already in the snapshot */
            apply(commit, commit.version);
            if (commit.version > last_version_) last_version_ = commit.version;
        }, message);
        if (rc) return rc;
    }
    if (store_.get("\xff/coordinators", INT64_MAX) == nullptr) {
        LoggedCommit seed;
        seed.version = std::max<Version>(clock_version(), last_version_ + 1);
        seed.mutations.push_back({LoggedMutation::kSet, "\xff/coordinators",
                                  "found:" + location_ + "@127.0.0.1:4500"});
        if (!memory_) {
            std::string record;
            Wal::encode(seed, &record);
            if (wal_.append(record) != 0 || wal_.sync() != 0) {
                *message = "cannot write the log in " + directory_;
                return kFileNotWritable;
            }
        }
        apply(seed, seed.version);
        last_version_ = seed.version;
    }
    applied_version_ = last_version_;
    return 0;
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
    delete this;
}

Engine::~Engine() {
    if (lock_fd_ >= 0) close(lock_fd_); /* closing drops the flock, also after a failed load */
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

Version Engine::read_version() {
    std::lock_guard<std::mutex> lock(version_mutex_);
    if (in_flight_from_) return in_flight_from_ - 1;
    last_version_ = std::max(last_version_, clock_version());
    return last_version_;
}

Version Engine::oldest_readable() {
    return std::min(current_version() - knobs().mvcc_window_versions, checkpoint_pin_.load());
}

Version Engine::current_version() {
    std::lock_guard<std::mutex> lock(version_mutex_);
    return std::max(last_version_, clock_version());
}

int Engine::check_read_version(Version version) {
    std::lock_guard<std::mutex> lock(version_mutex_);
    const Version now = std::max(last_version_, clock_version());
    if (version < now - knobs().mvcc_window_versions) return kTransactionTooOld;
    if (in_flight_from_ && version >= in_flight_from_) return -1;
    if (version > now) return -1;
    /* Reads at `version` are now possible: later commits must get a higher version. */
    if (version > last_version_) last_version_ = version;
    return 0;
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
        if (pipeline.owns_lock()) {
            std::vector<std::unique_ptr<CommitRequest>> batch;
            batch.push_back(std::move(request));
            std::vector<std::function<void()>> completions = process_commits(std::move(batch));
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
            std::vector<std::function<void()>> completions = process_commits(std::move(batch));
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

    struct Outcome {
        int error = 0;
        Version version = 0;
        std::string versionstamp;
    };
    std::vector<Outcome> outcomes(batch.size());
    std::vector<LoggedCommit> accepted;
    std::string records;
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
        if (!error && !request.read_ranges.empty()) {
            if (request.read_version < current_version() - window) error = kTransactionTooOld;
            for (const KeyRange& r : request.read_ranges) {
                if (error) break;
                if (conflicts_.last_write(r.begin, r.end) > request.read_version) error = kNotCommitted;
            }
        }
        if (error) {
            outcomes[i].error = error;
            continue;
        }
        Version version;
        {
            std::lock_guard<std::mutex> lock(version_mutex_);
            version = std::max(last_version_ + 1, clock_version());
            last_version_ = version;
            if (!in_flight_from_) in_flight_from_ = version;
        }
        const std::string stamp = big_endian_stamp(version, 0);
        LoggedCommit logged;
        logged.version = version;
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
        for (const KeyRange& r : request.write_ranges) conflicts_.record_write(r.begin, r.end, version);
        if (!memory_) Wal::encode(logged, &records);
        outcomes[i].version = version;
        outcomes[i].versionstamp = stamp;
        if (commit_anyway) outcomes[i].error = kCommitUnknownResult;
        accepted.push_back(std::move(logged));
    }

    if (!accepted.empty()) {
        int io_error = 0;
        if (!memory_) {
            bool needs_sync = false;
            for (const auto& request : batch) needs_sync = needs_sync || !request->durability_risky;
            io_error = wal_.append(records);
            if (!io_error && knobs().sync && needs_sync) {
                io_error = wal_.sync();
                unsynced_ = false;
            } else if (!io_error && knobs().sync) {
                unsynced_ = true;
                schedule_relaxed_sync();
            }
        }
        if (io_error) {
            for (Outcome& o : outcomes)
                if (!o.error && o.version) o.error = kCommitUnknownResult;
        } else {
            const Version oldest = oldest_readable();
            std::unique_lock<std::shared_mutex> data(data_mutex_);
            for (const LoggedCommit& commit : accepted) apply(commit, oldest);
            applied_version_ = accepted.back().version;
        }
        {
            std::lock_guard<std::mutex> lock(version_mutex_);
            in_flight_from_ = 0;
        }
        if (conflicts_.size() > 4096 && conflicts_.size() > 2 * conflicts_size_after_forget_) {
            conflicts_.forget_before(current_version() - window);
            conflicts_size_after_forget_ = conflicts_.size();
        }
    }
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
    maybe_checkpoint();
    for (size_t i = 0; i < batch.size(); i++) {
        auto request = std::make_shared<std::unique_ptr<CommitRequest>>(std::move(batch[i]));
        Outcome outcome = outcomes[i];
        completions.push_back([request, outcome] {
            (*request)->done(outcome.error, outcome.version, outcome.versionstamp);
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
                relaxed_sync_scheduled_ = false;
                if (unsynced_ && wal_.sync() == 0) unsynced_ = false;
            }
            release();
        });
}

/* Network thread: starts a checkpoint when the log has grown past the threshold. The
 * snapshot is written by its own thread, reading the store at `version` (pinned so the
 * MVCC pruning keeps it), so commits go on meanwhile. */
void Engine::maybe_checkpoint() {
    if (memory_ || checkpoint_running_.load()) return;
    if (wal_.size() <= 16 || wal_.size() < knobs().checkpoint_bytes) return;
    const Version version = applied_version_;
    const int64_t log_offset = wal_.size(); /* every record before it is <= version */
    checkpoint_running_ = true;
    checkpoint_pin_ = version;
    retain();
    std::thread([this, version, log_offset] { write_checkpoint(version, log_offset); }).detach();
}

void Engine::write_checkpoint(Version version, int64_t log_offset) {
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
             * commit's apply waits for it (4096 rows held it ~2 ms). */
            for (; it != store_.end() && rows.size() < 256;
                 it = store_.next_present(it->first, false, version))
                rows.emplace_back(it->first, *Store::value_at(it, version));
        }
        first = false;
        if (rows.empty()) break;
        position = rows.back().first;
        rc = writer.write(rows);
    }
    if (rc == 0) rc = writer.finish(&message);
    else writer.abandon();
    const int64_t bytes = writer.bytes();
    Network::instance().post([this, rc, version, log_offset, bytes, message] {
        {
            std::lock_guard<std::mutex> pipeline(pipeline_mutex_);
            finish_checkpoint(rc, version, log_offset, bytes, message);
        }
        release();
    });
}

void Engine::finish_checkpoint(int error, Version version, int64_t log_offset, int64_t bytes,
                               const std::string& message) {
    std::string rotate_message;
    if (!error) error = wal_.rotate(log_offset, &rotate_message);
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
           ",\"snapshot_version\":" + std::to_string(snapshot_version_) +
           ",\"snapshot_bytes\":" + std::to_string(snapshot_bytes_) +
           ",\"checkpoints\":" + std::to_string(checkpoints_) +
           ",\"last_checkpoint_unix\":" + std::to_string(last_checkpoint_unix_) +
           ",\"checkpoint_running\":" + (checkpoint_running_.load() ? "true" : "false") +
           ",\"checkpoint_error\":\"" + last_checkpoint_error_ + "\"" +
           ",\"in_memory\":" + (memory_ ? "true" : "false") +
           ",\"live_objects\":{\"futures\":" + std::to_string(live_objects().futures.load()) +
           ",\"transactions\":" + std::to_string(live_objects().transactions.load()) +
           ",\"databases\":" + std::to_string(live_objects().databases.load()) + "}}}";
}

void Engine::apply(const LoggedCommit& commit, Version oldest) {
    for (const LoggedMutation& m : commit.mutations) {
        switch (m.type) {
            case LoggedMutation::kSet: store_.put(m.key, &m.param, commit.version, oldest); break;
            case LoggedMutation::kClear: store_.put(m.key, nullptr, commit.version, oldest); break;
            case LoggedMutation::kClearRange:
                store_.clear_range(m.key, m.param, commit.version, oldest);
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
        const std::string* current = store_.get(key, INT64_MAX);
        const bool same = current ? (initial.has_value() && *initial == *current) : !initial.has_value();
        if (!same) {
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
        auto check = [&](std::multimap<std::string, std::pair<std::optional<std::string>, Future*>>::iterator it) {
            const std::string* current = store_.get(it->first, INT64_MAX);
            const std::optional<std::string>& initial = it->second.first;
            const bool same = current ? (initial.has_value() && *initial == *current) : !initial.has_value();
            if (same && !it->second.second->is_ready()) return std::next(it);
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
