// Eight float (or int) lanes for kernels written once and compiled for two instruction sets:
// `F8`/`I8`, GCC vector types of 32 bytes, for code compiled with target("avx2"), and
// `F4x2`/`I4x2`, pairs of 16-byte vectors, for the base instruction set (SSE2 on x86-64, NEON
// elsewhere), where GCC would otherwise lower 32-byte vectors through memory. Both have the
// same operators (lane-wise, IEEE: the same results bit for bit) and the same helpers below;
// masks hold 0 or -1 per lane. Knows nothing of Python.
#pragma once

#include <cstring>

#include "afis/common/x86.hpp"

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpsabi"  // 32-byte vectors passed by value, always inlined

namespace afis::vec8 {

#define AFIS_VEC_INLINE inline __attribute__((always_inline))

typedef float F8 __attribute__((vector_size(32)));
typedef int I8 __attribute__((vector_size(32)));
typedef float F4 __attribute__((vector_size(16)));
typedef int I4 __attribute__((vector_size(16)));

struct F4x2 {
    F4 lo, hi;
};
struct I4x2 {
    I4 lo, hi;
};

#define AFIS_VEC_BINARY(T, S, op)                                                                 \
    AFIS_VEC_INLINE T operator op(T a, T b) { return {a.lo op b.lo, a.hi op b.hi}; }             \
    AFIS_VEC_INLINE T operator op(T a, S b) { return {a.lo op b, a.hi op b}; }                   \
    AFIS_VEC_INLINE T operator op(S a, T b) { return {a op b.lo, a op b.hi}; }
#define AFIS_VEC_COMPARE(T, S, op)                                                                \
    AFIS_VEC_INLINE I4x2 operator op(T a, T b) { return {a.lo op b.lo, a.hi op b.hi}; }          \
    AFIS_VEC_INLINE I4x2 operator op(T a, S b) { return {a.lo op b, a.hi op b}; }
AFIS_VEC_BINARY(F4x2, float, +)
AFIS_VEC_BINARY(F4x2, float, -)
AFIS_VEC_BINARY(F4x2, float, *)
AFIS_VEC_BINARY(F4x2, float, /)
AFIS_VEC_COMPARE(F4x2, float, <)
AFIS_VEC_COMPARE(F4x2, float, <=)
AFIS_VEC_COMPARE(F4x2, float, >)
AFIS_VEC_COMPARE(F4x2, float, >=)
AFIS_VEC_BINARY(I4x2, int, +)
AFIS_VEC_BINARY(I4x2, int, -)
AFIS_VEC_BINARY(I4x2, int, &)
AFIS_VEC_BINARY(I4x2, int, |)
AFIS_VEC_COMPARE(I4x2, int, <)
AFIS_VEC_COMPARE(I4x2, int, <=)
AFIS_VEC_COMPARE(I4x2, int, >)
AFIS_VEC_COMPARE(I4x2, int, >=)
AFIS_VEC_COMPARE(I4x2, int, !=)
#undef AFIS_VEC_BINARY
#undef AFIS_VEC_COMPARE
AFIS_VEC_INLINE I4x2 operator~(I4x2 a) { return {~a.lo, ~a.hi}; }
AFIS_VEC_INLINE F4x2 operator-(F4x2 a) { return {-a.lo, -a.hi}; }
AFIS_VEC_INLINE I4x2 operator<<(I4x2 a, int b) { return {a.lo << b, a.hi << b}; }
AFIS_VEC_INLINE I4x2& operator&=(I4x2& a, I4x2 b) { return a = a & b; }
AFIS_VEC_INLINE I4x2& operator|=(I4x2& a, I4x2 b) { return a = a | b; }

// The vector of each lane type and its helpers, by overload: splat<F>(v), iota<I>(), load<F>(p),
// store(p, v) (unaligned), select(mask, a, b), maximum(a, b), minimum(a, b), to_int
// (truncation), to_float, as_float (the bits of an int vector), ceil_int and floor_int, lane(v,
// l) and lane_bits(mask) (bit l: lane l).
template <class V>
AFIS_VEC_INLINE V splat(float v);
template <>
AFIS_VEC_INLINE F8 splat<F8>(float v) { return F8{} + v; }
template <>
AFIS_VEC_INLINE F4x2 splat<F4x2>(float v) { return {F4{} + v, F4{} + v}; }

template <class V>
AFIS_VEC_INLINE V iota();
template <>
AFIS_VEC_INLINE I8 iota<I8>() { return I8{0, 1, 2, 3, 4, 5, 6, 7}; }
template <>
AFIS_VEC_INLINE I4x2 iota<I4x2>() { return {I4{0, 1, 2, 3}, I4{4, 5, 6, 7}}; }

template <class V>
AFIS_VEC_INLINE V load(const float* p);
template <>
AFIS_VEC_INLINE F8 load<F8>(const float* p) {
    F8 v;
    std::memcpy(&v, p, sizeof v);
    return v;
}
template <>
AFIS_VEC_INLINE F4x2 load<F4x2>(const float* p) {
    F4x2 v;
    std::memcpy(&v.lo, p, sizeof v.lo);
    std::memcpy(&v.hi, p + 4, sizeof v.hi);
    return v;
}
AFIS_VEC_INLINE void store(float* p, F8 v) { std::memcpy(p, &v, sizeof v); }
AFIS_VEC_INLINE void store(int* p, I8 v) { std::memcpy(p, &v, sizeof v); }
AFIS_VEC_INLINE void store(int* p, I4x2 v) {
    std::memcpy(p, &v.lo, sizeof v.lo);
    std::memcpy(p + 4, &v.hi, sizeof v.hi);
}
AFIS_VEC_INLINE void store(float* p, F4x2 v) {
    std::memcpy(p, &v.lo, sizeof v.lo);
    std::memcpy(p + 4, &v.hi, sizeof v.hi);
}

AFIS_VEC_INLINE F8 select(I8 mask, F8 a, F8 b) { return mask ? a : b; }
AFIS_VEC_INLINE F4 select(I4 mask, F4 a, F4 b) {  // no blend instruction before SSE4.1
    return (F4)(((I4)a & mask) | ((I4)b & ~mask));
}
AFIS_VEC_INLINE F4x2 select(I4x2 mask, F4x2 a, F4x2 b) {
    return {select(mask.lo, a.lo, b.lo), select(mask.hi, a.hi, b.hi)};
}
AFIS_VEC_INLINE I8 select(I8 mask, I8 a, I8 b) { return mask ? a : b; }
AFIS_VEC_INLINE I4x2 select(I4x2 mask, I4x2 a, I4x2 b) { return (a & mask) | (b & ~mask); }
template <class V>
AFIS_VEC_INLINE V maximum(V a, V b) {
    return select(a > b, a, b);
}
template <class V>
AFIS_VEC_INLINE V minimum(V a, V b) {
    return select(a < b, a, b);
}

AFIS_VEC_INLINE I8 to_int(F8 v) { return __builtin_convertvector(v, I8); }
AFIS_VEC_INLINE I4x2 to_int(F4x2 v) { return {__builtin_convertvector(v.lo, I4), __builtin_convertvector(v.hi, I4)}; }
AFIS_VEC_INLINE F8 to_float(I8 v) { return __builtin_convertvector(v, F8); }
AFIS_VEC_INLINE F4x2 to_float(I4x2 v) { return {__builtin_convertvector(v.lo, F4), __builtin_convertvector(v.hi, F4)}; }
AFIS_VEC_INLINE F8 as_float(I8 v) { return (F8)v; }
AFIS_VEC_INLINE F4x2 as_float(I4x2 v) { return {(F4)v.lo, (F4)v.hi}; }

// ceil and floor of floats of magnitude below 2^31, as ints, exactly.
template <class F>
AFIS_VEC_INLINE auto ceil_int(F v) {
    const auto t = to_int(v);
    return t - (to_float(t) < v);  // a true comparison is -1
}
template <class F>
AFIS_VEC_INLINE auto floor_int(F v) {
    const auto t = to_int(v);
    return t + (to_float(t) > v);
}

AFIS_VEC_INLINE float lane(F8 v, int l) { return v[l]; }
AFIS_VEC_INLINE float lane(F4x2 v, int l) { return l < 4 ? v.lo[l] : v.hi[l - 4]; }

#ifdef AFIS_X86
AFIS_VEC_INLINE unsigned lane_bits(I8 mask) {  // two SSE halves: no AVX instruction outside AVX code
    __m128i half[2];
    std::memcpy(half, &mask, sizeof half);
    return static_cast<unsigned>(_mm_movemask_ps(_mm_castsi128_ps(half[0])) |
                                 (_mm_movemask_ps(_mm_castsi128_ps(half[1])) << 4));
}
AFIS_VEC_INLINE unsigned lane_bits(I4x2 mask) {
    return static_cast<unsigned>(_mm_movemask_ps(_mm_castsi128_ps((__m128i)mask.lo)) |
                                 (_mm_movemask_ps(_mm_castsi128_ps((__m128i)mask.hi)) << 4));
}
#else
AFIS_VEC_INLINE unsigned lane_bits(I4x2 mask) {
    unsigned r = 0;
    for (int l = 0; l < 4; ++l) r |= static_cast<unsigned>(mask.lo[l] & 1) << l | static_cast<unsigned>(mask.hi[l] & 1) << (l + 4);
    return r;
}
#endif

#undef AFIS_VEC_INLINE

}  // namespace afis::vec8

#pragma GCC diagnostic pop
