/* network.cc — a task queue plus a timer heap, drained by fdb_run_network. Tasks run
 * without the queue lock held, so they may post more tasks or call back into the API. */
#include "network.h"

#include <stdlib.h>

#include "errors.h"

namespace found {

namespace {
/* How long the network thread stays awake after its last task (see run);
 * FOUND_NETWORK_SPIN_US overrides it (0 turns the spin off). */
int spin_micros() {
    static const int micros = [] {
        const char* text = getenv("FOUND_NETWORK_SPIN_US");
        return text && *text ? atoi(text) : 200;
    }();
    return micros;
}
}  // namespace

Network& Network::instance() {
    static Network* network = new Network(); /* never destroyed: callbacks may outlive exit */
    return *network;
}

int Network::setup() {
    bool expected = false;
    if (!setup_.compare_exchange_strong(expected, true)) return kNetworkAlreadySetup;
    return 0;
}

bool Network::on_network_thread() const {
    return thread_id_.load(std::memory_order_relaxed) == std::this_thread::get_id();
}

int Network::run() {
    if (!setup_.load()) return kNetworkNotSetup;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (ran_) return kNetworkCannotBeRestarted;
        ran_ = true;
    }
    thread_id_.store(std::this_thread::get_id());
    Clock::time_point window_start = Clock::now();
    Clock::duration busy_in_window{0};
    /* A housekeeping tick keeps busyness > 0 and gives timers a regular heartbeat. */
    post_at(Clock::now() + std::chrono::milliseconds(100), [this] {});
    for (;;) {
        Task task;
        {
            std::unique_lock<std::mutex> lock(mutex_);
            for (;;) {
                if (stop_requested_) break;
                if (!tasks_.empty()) break;
                if (!timers_.empty() && timers_.begin()->first <= Clock::now()) break;
                /* Spin briefly before sleeping: a commit that follows the last one closely
                 * (one writer awaiting each commit) then finds this thread awake instead of
                 * paying for a wake-up, which costs more than the spin on an idle CPU. */
                const uint64_t seen = posted_.load(std::memory_order_acquire);
                lock.unlock();
                const Clock::time_point spin_until = Clock::now() + std::chrono::microseconds(spin_micros());
                while (posted_.load(std::memory_order_acquire) == seen && Clock::now() < spin_until) {
#if defined(__x86_64__)
                    __builtin_ia32_pause();
#endif
                }
                lock.lock();
                if (!tasks_.empty() || stop_requested_) continue;
                if (timers_.empty()) wake_.wait(lock);
                else wake_.wait_until(lock, timers_.begin()->first);
            }
            if (stop_requested_) break;
            if (!tasks_.empty()) {
                task = std::move(tasks_.front());
                tasks_.pop_front();
            } else {
                task = std::move(timers_.begin()->second);
                timers_.erase(timers_.begin());
            }
        }
        Clock::time_point started = Clock::now();
        task();
        Clock::time_point finished = Clock::now();
        busy_in_window += finished - started;
        if (finished - window_start >= std::chrono::seconds(1)) {
            double fraction = std::chrono::duration<double>(busy_in_window).count() /
                              std::chrono::duration<double>(finished - window_start).count();
            busyness_.store(fraction > 1.0 ? 1.0 : (fraction <= 0.0 ? 1e-6 : fraction));
            window_start = finished;
            busy_in_window = Clock::duration{0};
            post_at(finished + std::chrono::milliseconds(100), [] {});
        }
    }
    std::vector<std::pair<void (*)(void*), void*>> hooks;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        hooks.swap(completion_hooks_);
    }
    for (auto& [hook, parameter] : hooks) hook(parameter);
    thread_id_.store(std::thread::id());
    return 0;
}

int Network::stop() {
    if (!setup_.load()) return kNetworkNotSetup;
    std::lock_guard<std::mutex> lock(mutex_);
    stop_requested_ = true;
    wake_.notify_all();
    return 0;
}

void Network::post(Task task) {
    std::lock_guard<std::mutex> lock(mutex_);
    tasks_.push_back(std::move(task));
    posted_.fetch_add(1, std::memory_order_release);
    wake_.notify_one();
}

void Network::post_at(Clock::time_point when, Task task) {
    std::lock_guard<std::mutex> lock(mutex_);
    timers_.emplace(when, std::move(task));
    wake_.notify_one();
}

void Network::add_completion_hook(void (*hook)(void*), void* parameter) {
    std::lock_guard<std::mutex> lock(mutex_);
    completion_hooks_.emplace_back(hook, parameter);
}

double Network::busyness() const { return busyness_.load(); }

}  // namespace found
