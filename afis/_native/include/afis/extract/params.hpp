// Every tuned constant of the extraction pipeline, named by stage. Lengths are in pixels of
// the 500 ppi processing grid. Only what a caller should change is an option (see Options).
#pragma once

namespace afis::params {

// Processing resolution (pixels per inch) every image is resampled to.
constexpr double PROCESSING_PPI = 500.0;
// Accepted image size after resampling.
constexpr int MIN_IMAGE_SIDE = 32;
constexpr int MAX_IMAGE_SIDE = 8192;

// Block lattice shared by segmentation, orientation and quality.
constexpr int BLOCK = 8;

// --- segmentation -------------------------------------------------------------------------
// A block is foreground when its contrast (standard deviation of grey level) exceeds this share of the 90th percentile block contrast of the image...
constexpr float MASK_RELATIVE_CONTRAST = 0.30f;
// ...and this absolute floor (grey levels), so a blank image yields an empty mask.
constexpr float MASK_MIN_CONTRAST = 6.0f;
// Blocks whose gradient coherence is at least this are foreground even at lower contrast
// (ridges of a dry finger are faint but well oriented).
constexpr float MASK_COHERENT_CONTRAST = 0.6f;  // share of the contrast threshold
constexpr float MASK_COHERENCE = 0.55f;
// Majority vote radius (blocks) and passes used to smooth the block mask.
constexpr int MASK_VOTE_RADIUS = 2;
constexpr int MASK_VOTE_PASSES = 2;
// Connected foreground regions smaller than this many blocks are dropped.
constexpr int MASK_MIN_REGION_BLOCKS = 24;

// --- orientation ----------------------------------------------------------------------------
// Gaussian smoothing (in blocks) of the doubled-angle gradient tensor.
constexpr float ORIENTATION_SMOOTHING_SIGMA = 2.0f;
// Stronger smoothing used for singular point detection.
constexpr float SINGULAR_SMOOTHING_SIGMA = 2.4f;

// --- frequency ------------------------------------------------------------------------------
// Oriented window used to read the ridge profile: length across ridges, width along them.
constexpr int FREQUENCY_WINDOW_LENGTH = 32;
constexpr int FREQUENCY_WINDOW_WIDTH = 16;
// Ridge periods outside this range (pixels) are rejected as implausible at 500 ppi.
constexpr float MIN_RIDGE_PERIOD = 5.0f;
constexpr float MAX_RIDGE_PERIOD = 15.0f;
constexpr float DEFAULT_RIDGE_PERIOD = 9.0f;
// Step between candidate periods when scanning the profile spectrum.
constexpr float RIDGE_PERIOD_STEP = 0.25f;
// A profile's spectral peak must hold this share of its energy to count.
constexpr float FREQUENCY_MIN_PEAK_SHARE = 0.25f;
constexpr float FREQUENCY_SMOOTHING_SIGMA = 1.5f;  // blocks
// Lattice on which the period is measured (pixels).
constexpr int FREQUENCY_BLOCK = 16;

// --- enhancement (oriented, separable Gabor-like filter) -----------------------------------
constexpr int ENHANCE_ORIENTATION_BINS = 32;
constexpr int ENHANCE_PERIOD_BINS = 12;
// Smoothing along ridges: Gaussian sigma and half-length (pixels).
constexpr float ENHANCE_ALONG_SIGMA = 4.0f;
constexpr int ENHANCE_ALONG_RADIUS = 8;
// The along-ridge smoothing follows one curved path per square of this many pixels.
constexpr int ENHANCE_PATH_BLOCK = 8;
// Band-pass across ridges: Gaussian envelope sigma as a share of the ridge period; the
// half-length of the kernel in envelope sigmas.
constexpr float ENHANCE_ACROSS_SIGMA_PERIODS = 0.55f;
constexpr float ENHANCE_ACROSS_RADIUS_SIGMAS = 2.5f;
// Local normalisation of the input: block statistics are smoothed with this sigma (blocks).
constexpr float NORMALIZE_SMOOTHING_SIGMA = 1.0f;
// Padding around every buffer, so oriented kernels never test bounds.
constexpr int PAD = 20;
static_assert(PAD >= ENHANCE_ALONG_RADIUS + ENHANCE_PATH_BLOCK, "the along-ridge paths must stay inside the padding");

// --- binarization and skeleton ---------------------------------------------------------------
// Connected ridge or valley specks smaller than this (pixels) are flipped.
constexpr int MIN_BLOB_PIXELS = 12;

// --- minutiae -------------------------------------------------------------------------------
// Distance (pixels) along a ridge used to measure a minutia's direction.
constexpr int DIRECTION_TRACE_LENGTH = 10;
// Direction refinement (minutia_direction.cpp): a direction within this angle (radians) of the
// smoothed orientation field's axis at the minutia moves to the axis by this share. Measured
// 2026-11-24 (benchmarks/EXPERIMENTS.md, seventh round): 30 degrees and 0.85.
constexpr float DIRECTION_FIELD_MAX_DEVIATION = 30.0f * 3.14159265f / 180.0f;
constexpr float DIRECTION_FIELD_WEIGHT = 0.85f;
// Filters on the ridge graph, in pixels of ridge length.
constexpr int MIN_TAIL_LENGTH = 11;        // ending to bifurcation spurs
constexpr int MIN_FRAGMENT_LENGTH = 16;    // ridges with two free ends
constexpr int MAX_BRIDGE_LENGTH = 9;       // short ridge joining two bifurcations
constexpr int MAX_HOLE_LENGTH = 30;        // loops (pores, lakes) closing on one ridge
constexpr float MAX_GAP_DISTANCE = 10.0f;  // endings facing each other across a break
constexpr float MAX_GAP_ANGLE = 0.5f;      // radians of misalignment allowed for a gap
// Minutiae closer than this to the foreground border are dropped.
constexpr float BORDER_DISTANCE = 6.0f;
// A minutia with more than CLUSTER_MAX_NEIGHBOURS others within CLUSTER_RADIUS is noise.
constexpr float CLUSTER_RADIUS = 12.0f;
constexpr int CLUSTER_MAX_NEIGHBOURS = 2;

// --- singular points -----------------------------------------------------------------------
// Blocks closer than this (in blocks) to the mask border are not searched.
constexpr int SINGULAR_BORDER_BLOCKS = 2;
// Detections closer than this (pixels) are merged.
constexpr float SINGULAR_MERGE_DISTANCE = 24.0f;

}  // namespace afis::params
