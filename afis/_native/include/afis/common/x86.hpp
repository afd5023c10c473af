// Whether the x86 SIMD paths of the matcher are compiled: AFIS_X86 is defined, with the
// intrinsics, on x86-64 unless AFIS_NO_SIMD asks for the build of other processors (the plain
// code paths, which give the same scores bit for bit).
#pragma once

#if defined(__x86_64__) && !defined(AFIS_NO_SIMD)
#include <immintrin.h>
#define AFIS_X86 1
#endif

// The plain (non-vector) kernels in two versions, with the popcnt instruction and without,
// chosen by the loader.
#ifdef AFIS_X86
#define AFIS_PLAIN __attribute__((target_clones("popcnt", "default")))
#else
#define AFIS_PLAIN
#endif
