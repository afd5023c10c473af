// The instruction set of the SIMD kernels (the matcher's and the candidate index's scan), chosen
// at run time in simd.cpp. Knows nothing of Python.
#pragma once

namespace afis {

// Every level gives the same scores bit for bit; the cap exists so tests can check that.
enum class SimdLevel : int { SCALAR = 0, AVX2 = 1, AVX512 = 2 };
SimdLevel simd_supported();                // the best level this processor runs
SimdLevel simd_level();                    // the level in use: supported, capped
SimdLevel set_simd_limit(SimdLevel cap);   // returns the previous cap

}  // namespace afis
