// Structural check of a WSQ file (FBI IAFIS-IC-0110, "WSQ Gray-scale Fingerprint Image
// Compression Specification") before it is handed to the NBIS decoder.
//
// The NBIS decoder allocates the whole frame the header claims and decodes the Huffman-coded
// subband data without checking that the data covers the frame: a file whose frame header was
// altered decodes (slowly, if the claimed frame is large) into uninitialised memory. The scan
// here walks the marker segments and decodes the Huffman categories only (no wavelet
// synthesis), so it costs a small fraction of a decode, and reports how many quantized
// coefficients the data holds against how many the frame needs.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace afis {

// Number of subbands of the WSQ decomposition (64; the last four are never coded).
inline constexpr int WSQ_SUBBANDS = 64;

struct WsqScan {
    int width = 0;
    int height = 0;
    // Coefficients the frame needs: every pixel of every subband whose quantizer bin is not
    // zero (a zero bin means the subband is not coded).
    std::int64_t coefficients_needed = 0;
    // Coefficients the Huffman-coded blocks hold (zero runs counted in full).
    std::int64_t coefficients_coded = 0;
    int blocks = 0;
};

// Width x height of each of the 64 subbands of a width x height image, in the specification's
// subband order. The subbands tile the image: their areas sum to width * height.
std::array<std::int64_t, WSQ_SUBBANDS> wsq_subband_areas(int width, int height);

// Walks the file and decodes the Huffman categories of every block. Throws
// std::invalid_argument naming the fault for anything malformed: a missing or misplaced marker,
// a segment running past the end, an undefined or invalid Huffman table, an invalid code, a
// block holding more coefficients than the frame. Fewer coefficients than the frame needs is
// reported in the result, not thrown (the caller decides).
WsqScan wsq_scan(const std::uint8_t* data, std::size_t size);

}  // namespace afis
