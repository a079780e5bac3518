/* network.h — the network thread: the one thread (inside fdb_run_network) that completes
 * everything that waits — group commits, on_error back-off, timeouts, future-version
 * reads, watches — and runs the callbacks of futures that become ready asynchronously. */
#ifndef FOUND_NETWORK_H
#define FOUND_NETWORK_H

#include <stdint.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

namespace found {

class Network {
public:
    using Clock = std::chrono::steady_clock;
    using Task = std::function<void()>;

    static Network& instance();

    int setup();       /* 0, or 2009 when already set up */
    int run();         /* runs tasks until stop; 2008 before setup, 2025 on a second run */
    int stop();        /* 0, or 2008 before setup */
    bool is_setup() const { return setup_.load(); }
    bool on_network_thread() const;

    /* Queues `task` to run on the network thread (soon / at `when`). Thread-safe. */
    void post(Task task);
    void post_at(Clock::time_point when, Task task);

    void add_completion_hook(void (*hook)(void*), void* parameter);

    /* Fraction of the last second the network thread spent running tasks, in [0, 1]. */
    double busyness() const;

private:
    std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<Task> tasks_;
    std::multimap<Clock::time_point, Task> timers_;
    std::vector<std::pair<void (*)(void*), void*>> completion_hooks_;
    std::atomic<bool> setup_{false};
    bool stop_requested_ = false;
    bool ran_ = false;
    std::atomic<std::thread::id> thread_id_{};
    std::atomic<double> busyness_{0.0};
    /* Tasks posted, read without the lock by the spin before sleeping. */
    std::atomic<uint64_t> posted_{0};
};

}  // namespace found

#endif
