// The native core's one parallel loop. Knows nothing of Python (callers release the GIL).
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <exception>
#include <mutex>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

namespace afis {

// Calls body(i, worker) for every i in 0..n on `workers` threads, the calling thread one of
// them (worker 0; fewer than 2 workers: all on the calling thread, i in order). Threads take
// chunks of `chunk` consecutive indices from a shared counter, so uneven work balances itself;
// `worker` (0..workers-1) identifies the thread, for per-thread scratch. The first exception a
// body throws stops the handing out of chunks and is rethrown on the calling thread once every
// thread has joined. Should a thread fail to start, the ones started do all the work.
template <class F>
void parallel_for(std::ptrdiff_t n, int workers, std::ptrdiff_t chunk, F&& body) {
    if (n <= 0) return;
    chunk = std::max<std::ptrdiff_t>(chunk, 1);
    std::atomic<std::ptrdiff_t> next{0};
    std::atomic<bool> failed{false};
    std::exception_ptr error;
    std::mutex error_lock;
    auto work = [&](int worker) {
        try {
            for (std::ptrdiff_t start; !failed.load(std::memory_order_relaxed) && (start = next.fetch_add(chunk)) < n;) {
                const std::ptrdiff_t end = std::min(n, start + chunk);
                for (std::ptrdiff_t i = start; i < end; ++i) body(i, worker);
            }
        } catch (...) {
            const std::lock_guard<std::mutex> hold(error_lock);
            if (!error) error = std::current_exception();
            failed.store(true, std::memory_order_relaxed);
        }
    };
    std::vector<std::thread> pool;
    if (workers > 1) pool.reserve(static_cast<std::size_t>(workers - 1));
    for (int t = 1; t < workers; ++t) {
        try {
            pool.emplace_back(work, t);
        } catch (const std::system_error&) {
            break;  // no more threads to be had: the ones running (and this one) share the work
        }
    }
    work(0);
    for (auto& t : pool) t.join();
    if (error) std::rethrow_exception(error);
}

}  // namespace afis
