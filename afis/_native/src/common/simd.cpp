// Which instruction set the matcher's kernels use: the best the processor offers, found once
// at run time (builds stay portable, no -march), optionally capped so that tests can check
// every kernel against the plain one on the same machine.
#include <atomic>

#include "afis/common/simd.hpp"

namespace afis {

namespace {

SimdLevel detect() {
#if defined(__x86_64__) && !defined(AFIS_NO_SIMD)  // AFIS_NO_SIMD: build as for other processors
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vpopcntdq") &&
        __builtin_cpu_supports("avx2") && __builtin_cpu_supports("popcnt"))
        return SimdLevel::AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("popcnt")) return SimdLevel::AVX2;
#endif
    return SimdLevel::SCALAR;
}

std::atomic<int> limit{static_cast<int>(SimdLevel::AVX512)};

}  // namespace

SimdLevel simd_supported() {
    static const SimdLevel level = detect();
    return level;
}

SimdLevel simd_level() {
    const int cap = limit.load(std::memory_order_relaxed);
    const int best = static_cast<int>(simd_supported());
    return static_cast<SimdLevel>(cap < best ? cap : best);
}

SimdLevel set_simd_limit(SimdLevel cap) {
    return static_cast<SimdLevel>(limit.exchange(static_cast<int>(cap)));
}

}  // namespace afis
