"""Per-stage tests of the extraction pipeline on images whose answer is known.

Whole-pipeline stages are observed through :func:`afis.trace`; thinning, ridge-graph minutiae
and resampling are called directly through the native functions. Block fields are in image
coordinates (x right, y down, orientation in [0, pi)); template directions are
counter-clockwise from +x with y up, in [0, 2 pi).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import ndimage

import afis
from afis import MinutiaType, SingularType
from afis._native import _core

EIGHT = np.ones((3, 3), dtype=bool)  # 8-connectivity structure for ndimage.label


def interior(field: np.ndarray, margin: int) -> np.ndarray:
    return field[margin:-margin, margin:-margin]


def orientation_error(a: np.ndarray, b: float) -> np.ndarray:
    """Absolute difference of orientations (modulo pi)."""
    d = np.mod(a - b, np.pi)
    return np.minimum(d, np.pi - d)


def direction_error(a: float, b: float) -> float:
    d = (a - b) % (2 * math.pi)
    return min(d, 2 * math.pi - d)


def minutiae_list(result: dict) -> list[tuple[int, int, float, int]]:
    return [
        (int(x), int(y), float(d), int(t))
        for x, y, d, t in zip(
            result["x"], result["y"], result["direction"], result["type"], strict=True
        )
    ]


def find(minutiae, x: int, y: int, kind: MinutiaType, tolerance: float = 3.0):
    """The minutiae of ``kind`` within ``tolerance`` pixels of (x, y)."""
    return [m for m in minutiae if m[3] == kind and math.hypot(m[0] - x, m[1] - y) <= tolerance]


WAVE_ANGLES = [0.0, 0.3, math.pi / 4, 1.2, math.pi / 2, 2.0, 2.7]


# ------------------------------------------------------------------------------- orientation


@pytest.mark.parametrize("period", [8, 10, 12])
@pytest.mark.parametrize("phi", WAVE_ANGLES)
def test_orientation_follows_the_ridges_of_a_plane_wave(synthetic, phi, period):
    steps = afis.trace(synthetic.ridges(phi, period))
    assert steps.orientation.shape == (32, 32) and steps.orientation_block == 8
    inner = interior(steps.orientation, 4)
    assert np.all((inner >= 0) & (inner < np.pi))
    truth = (phi + np.pi / 2) % np.pi  # ridges run perpendicular to the wave vector
    assert np.degrees(orientation_error(inner, truth).max()) < 5.0
    assert interior(steps.coherence, 4).min() > 0.8


# --------------------------------------------------------------------------------- frequency


@pytest.mark.parametrize("phi", [0.0, 0.5, 1.0, 2.0])
@pytest.mark.parametrize("period", [7, 9, 11, 13])
def test_ridge_period_equals_the_wavelength(synthetic, phi, period):
    steps = afis.trace(synthetic.ridges(phi, period))
    assert steps.period_block == 16
    inner = interior(steps.period, 2)
    assert np.abs(inner - period).max() < 0.75
    assert interior(steps.period_strength, 2).min() > 0.5


# ------------------------------------------------------------------------------ segmentation


def test_segmentation_keeps_a_disc_of_ridges_and_drops_the_white_around_it(synthetic):
    yy, xx = synthetic.grid(256, 256)
    r = np.hypot(xx - 128, yy - 128)
    image = np.where(r < 90, synthetic.ridges(0.7, 10), 255).astype(np.uint8)
    mask = afis.trace(image).mask
    assert mask.dtype == bool and mask.shape == image.shape
    assert mask[r < 70].all()
    assert not mask[r > 110].any()


def test_segmentation_keeps_the_left_half_of_ridges_and_drops_the_white_right_half(synthetic):
    image = synthetic.ridges(1.1, 9).copy()
    image[:, 128:] = 255
    mask = afis.trace(image).mask
    assert mask[16:-16, 16:108].all()
    assert not mask[:, 148:].any()


def test_segmentation_of_a_blank_image_is_empty():
    steps = afis.trace(np.full((200, 240), 255, np.uint8))
    assert not steps.mask.any()
    assert not steps.skeleton.any()


# --------------------------------------------------------------- enhancement, binarization


@pytest.mark.parametrize("period", [8, 10, 12])
@pytest.mark.parametrize("phi", [0.0, 0.5, 1.0, 2.0])
def test_binary_image_marks_the_dark_half_periods(synthetic, phi, period):
    # the phase offset keeps pixels off the exact zero crossings (grey 127, undecidable)
    wave = synthetic.wave(phi, period, phase=0.37)
    steps = afis.trace(synthetic.grey(127 + 100 * wave))
    assert steps.binary.dtype == bool and steps.binary.shape == wave.shape
    binary, dark = interior(steps.binary, 24), interior(wave < 0, 24)
    assert 0.4 <= binary.mean() <= 0.6
    assert (binary == dark).mean() > 0.9
    # away from the zero crossings (where the grey level is mid-way) agreement is near total
    clear = np.abs(interior(wave, 24)) > 0.3
    assert (binary[clear] == dark[clear]).mean() > 0.98
    # the band-pass response is negative on ridges
    enhanced = interior(steps.enhanced, 24)
    assert (enhanced[clear & dark] < 0).mean() > 0.98
    assert (enhanced[clear & ~dark] > 0).mean() > 0.98


def test_skeleton_runs_inside_the_ridges(synthetic):
    wave = synthetic.wave(0.6, 10)
    steps = afis.trace(synthetic.grey(127 + 100 * wave))
    assert steps.skeleton.any()
    assert not (steps.skeleton & ~steps.binary).any()
    assert (wave[steps.skeleton] < 0).mean() > 0.99


# ---------------------------------------------------------------------------------- thinning


def has_2x2_block(skeleton: np.ndarray) -> bool:
    s = skeleton.astype(bool)
    return bool((s[:-1, :-1] & s[1:, :-1] & s[:-1, 1:] & s[1:, 1:]).any())


def test_thinning_a_thick_bar_leaves_a_one_pixel_line():
    bar = np.zeros((40, 120), np.uint8)
    bar[17:24, 10:110] = 1  # 7 pixels thick, 100 long
    skeleton = _core.thin(bar).astype(bool)
    assert skeleton.shape == bar.shape
    columns = np.nonzero(skeleton.any(axis=0))[0]
    assert columns[-1] - columns[0] + 1 >= 100 - 8  # length kept within a few pixels
    per_column = skeleton[:, columns[0] : columns[-1] + 1].sum(axis=0)
    assert np.all(per_column == 1)
    rows = np.nonzero(skeleton)[0]
    assert set(rows.tolist()) <= {19, 20, 21}  # near the middle of the bar
    assert ndimage.label(skeleton, EIGHT)[1] == 1


def test_thinning_a_thick_ring_keeps_one_closed_loop():
    yy, xx = np.mgrid[0:100, 0:100]
    r = np.hypot(xx - 50, yy - 50)
    ring = ((r >= 20) & (r <= 28)).astype(np.uint8)
    skeleton = _core.thin(ring).astype(bool)
    assert ndimage.label(skeleton, EIGHT)[1] == 1
    # the hole survives: background is the outside plus the inside (4-connected)
    assert ndimage.label(~skeleton)[1] == 2
    assert not has_2x2_block(skeleton)
    assert r[skeleton].min() > 20 and r[skeleton].max() < 28


def test_thinning_output_is_one_pixel_wide_and_inside_the_input(synthetic):
    image, _ = synthetic.fingerprint(5)
    binary = afis.trace(image).binary.astype(np.uint8)
    skeleton = _core.thin(binary)
    assert skeleton.dtype == np.uint8 and set(np.unique(skeleton)) <= {0, 1}
    assert not has_2x2_block(skeleton)
    assert not (skeleton.astype(bool) & ~binary.astype(bool)).any()
    # every 8-connected ridge piece keeps at least one skeleton pixel
    labels, count = ndimage.label(binary, EIGHT)
    assert set(np.unique(labels[skeleton.astype(bool)])) >= set(range(1, count + 1))
    # thinning a skeleton changes nothing
    assert np.array_equal(_core.thin(skeleton), skeleton)


def test_thinning_treats_any_nonzero_value_as_ridge():
    bar = np.zeros((30, 60), np.uint8)
    bar[12:18, 5:55] = 1
    assert np.array_equal(_core.thin(bar * 255), _core.thin(bar))


# (dx, dy) of the neighbours N, NE, E, SE, S, SW, W, NW
NEIGHBOURS = ((0, -1), (1, -1), (1, 0), (1, 1), (0, 1), (-1, 1), (-1, 0), (-1, -1))


def reference_thin(binary: np.ndarray) -> np.ndarray:
    """Guo-Hall thinning and staircase removal pixel by pixel, as the native stage defines them
    (the native code decides 64 pixels at a time with word logic)."""
    img = np.pad(binary != 0, 1)
    h, w = binary.shape
    changed = True
    while changed:
        changed = False
        for sub in (0, 1):
            p2, p3, p4, p5, p6, p7, p8, p9 = (
                img[1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w] for dx, dy in NEIGHBOURS
            )
            terms = (~p2 & (p3 | p4), ~p4 & (p5 | p6), ~p6 & (p7 | p8), ~p8 & (p9 | p2))
            c = sum(t.astype(int) for t in terms)
            n1 = sum(t.astype(int) for t in (p9 | p2, p3 | p4, p5 | p6, p7 | p8))
            n2 = sum(t.astype(int) for t in (p2 | p3, p4 | p5, p6 | p7, p8 | p9))
            n = np.minimum(n1, n2)
            m = (p6 | p7 | ~p9) & p8 if sub == 0 else (p2 | p3 | ~p5) & p4
            doomed = img[1:-1, 1:-1] & (c == 1) & (n >= 2) & (n <= 3) & ~m
            if doomed.any():
                img[1:-1, 1:-1][doomed] = False
                changed = True
    # Staircases, one pixel after another in raster order: a pixel whose (two or more) set
    # neighbours form one 8-connected group is removed.
    live = [tuple(p) for p in np.argwhere(img)]
    for _ in range(4):
        removed = False
        for y, x in live:
            if not img[y, x]:
                continue
            on = [(dx, dy) for dx, dy in NEIGHBOURS if img[y + dy, x + dx]]
            groups, seen = 0, set()
            for start in on:
                if start in seen:
                    continue
                groups += 1
                stack = [start]
                seen.add(start)
                while stack:
                    a = stack.pop()
                    for b in on:
                        if b not in seen and abs(a[0] - b[0]) <= 1 and abs(a[1] - b[1]) <= 1:
                            seen.add(b)
                            stack.append(b)
            if len(on) >= 2 and groups == 1:
                img[y, x] = False
                removed = True
        if not removed:
            break
    return img[1:-1, 1:-1].astype(np.uint8)


@pytest.mark.parametrize("shape", [(40, 63), (37, 64), (50, 65), (33, 130), (70, 129)])
def test_thinning_matches_the_per_pixel_definition(shape):
    rng = np.random.default_rng(shape[0] * 1000 + shape[1])
    noise = rng.random(shape) < 0.55
    blobs = ndimage.uniform_filter(rng.random(shape), 5) > 0.5  # thick ridges and holes
    for binary in (noise, blobs, noise | blobs):
        binary = binary.astype(np.uint8)
        assert np.array_equal(_core.thin(binary), reference_thin(binary))


# --------------------------------------------------------------- minutiae on skeletons


def test_a_horizontal_line_has_two_endings_pointing_outwards():
    skeleton = np.zeros((60, 120), np.uint8)
    skeleton[30, 20:100] = 1
    found = minutiae_list(_core.skeleton_minutiae(skeleton, filter=False))
    assert len(found) == 2
    (left,) = find(found, 20, 30, MinutiaType.ENDING)
    (right,) = find(found, 99, 30, MinutiaType.ENDING)
    assert direction_error(left[2], math.pi) < math.radians(3)
    assert direction_error(right[2], 0.0) < math.radians(3)


def test_a_vertical_line_has_its_top_ending_pointing_up():
    skeleton = np.zeros((120, 60), np.uint8)
    skeleton[20:100, 30] = 1
    found = minutiae_list(_core.skeleton_minutiae(skeleton))
    (top,) = find(found, 30, 20, MinutiaType.ENDING)
    (bottom,) = find(found, 30, 99, MinutiaType.ENDING)
    assert direction_error(top[2], math.pi / 2) < math.radians(3)  # y up: the top is +pi/2
    assert direction_error(bottom[2], 3 * math.pi / 2) < math.radians(3)


def test_a_diagonal_line_has_endings_along_it(synthetic):
    skeleton = synthetic.canvas(100, 100)
    synthetic.line(skeleton, 20, 80, 80, 20)  # from lower left to upper right
    found = minutiae_list(_core.skeleton_minutiae(skeleton))
    (upper,) = find(found, 80, 20, MinutiaType.ENDING)
    (lower,) = find(found, 20, 80, MinutiaType.ENDING)
    assert direction_error(upper[2], math.pi / 4) < math.radians(3)
    assert direction_error(lower[2], 5 * math.pi / 4) < math.radians(3)


@pytest.mark.parametrize("filtered", [False, True])
@pytest.mark.parametrize("stem_degrees", [0, 45, 90, 135, 180, 225, 270, 315, 10, 100])
def test_a_fork_has_one_bifurcation_pointing_along_its_stem(synthetic, stem_degrees, filtered):
    stem = math.radians(stem_degrees)
    found = minutiae_list(_core.skeleton_minutiae(synthetic.fork(stem), filter=filtered))
    forks = [m for m in found if m[3] == MinutiaType.BIFURCATION]
    assert len(forks) == 1
    x, y, direction, _ = forks[0]
    assert math.hypot(x - 60, y - 60) <= 2
    assert direction_error(direction, stem) < math.radians(5)
    assert len([m for m in found if m[3] == MinutiaType.ENDING]) == 3


def test_a_fork_with_its_stem_going_down_the_image_points_at_three_halves_pi(synthetic):
    found = minutiae_list(_core.skeleton_minutiae(synthetic.fork(3 * math.pi / 2)))
    (fork,) = [m for m in found if m[3] == MinutiaType.BIFURCATION]
    assert direction_error(fork[2], 3 * math.pi / 2) < math.radians(5)


def test_directions_lie_in_zero_to_two_pi(synthetic):
    for degrees in range(0, 360, 15):
        found = _core.skeleton_minutiae(synthetic.fork(math.radians(degrees)))
        assert np.all((found["direction"] >= 0) & (found["direction"] < 2 * math.pi))


def long_line() -> np.ndarray:
    skeleton = np.zeros((60, 140), np.uint8)
    skeleton[30, 10:130] = 1
    return skeleton


def assert_only_the_long_line_ends(found) -> None:
    assert len(found) == 2
    assert find(found, 10, 30, MinutiaType.ENDING)
    assert find(found, 129, 30, MinutiaType.ENDING)


def test_filter_removes_a_short_spur():
    skeleton = long_line()
    skeleton[24:30, 70] = 1  # spur of length 6 above the line
    raw = minutiae_list(_core.skeleton_minutiae(skeleton, filter=False))
    assert find(raw, 70, 30, MinutiaType.BIFURCATION) and find(raw, 70, 24, MinutiaType.ENDING)
    assert_only_the_long_line_ends(minutiae_list(_core.skeleton_minutiae(skeleton, filter=True)))


def test_filter_removes_a_short_isolated_fragment():
    skeleton = long_line()
    skeleton[10, 60:68] = 1  # fragment of length 8
    assert len(_core.skeleton_minutiae(skeleton, filter=False)["x"]) == 4
    assert_only_the_long_line_ends(minutiae_list(_core.skeleton_minutiae(skeleton, filter=True)))


def test_filter_joins_collinear_lines_across_a_small_gap():
    skeleton = long_line()
    skeleton[30, 65:70] = 0  # 5-pixel break
    raw = minutiae_list(_core.skeleton_minutiae(skeleton, filter=False))
    assert find(raw, 64, 30, MinutiaType.ENDING) and find(raw, 70, 30, MinutiaType.ENDING)
    assert_only_the_long_line_ends(minutiae_list(_core.skeleton_minutiae(skeleton, filter=True)))


def test_filter_removes_a_pore_on_a_ridge():
    skeleton = long_line()
    skeleton[30, 67:73] = 0
    yy, xx = np.mgrid[0:60, 0:140]
    r = np.hypot(xx - 70, yy - 30)
    skeleton[(r > 2.5) & (r < 3.5)] = 1  # a loop of diameter ~6 closing on the ridge
    skeleton = _core.thin(skeleton)
    raw = minutiae_list(_core.skeleton_minutiae(skeleton, filter=False))
    assert len([m for m in raw if m[3] == MinutiaType.BIFURCATION]) == 2
    assert_only_the_long_line_ends(minutiae_list(_core.skeleton_minutiae(skeleton, filter=True)))


def test_filter_keeps_real_structure():
    # a long branch off a long line keeps its bifurcation
    skeleton = np.zeros((100, 160), np.uint8)
    skeleton[30, 10:150] = 1
    skeleton[31:80, 80] = 1
    found = minutiae_list(_core.skeleton_minutiae(skeleton, filter=True))
    assert len(find(found, 80, 30, MinutiaType.BIFURCATION, tolerance=2)) == 1
    assert len(found) == 4
    # parallel ridges 9 px apart are not joined, nor collinear ridges 30 px apart
    for rows, gap in (((20, 29), None), ((30,), (60, 90))):
        skeleton = np.zeros((60, 160), np.uint8)
        for row in rows:
            skeleton[row, 10:150] = 1
        if gap:
            skeleton[30, gap[0] : gap[1]] = 0
        assert len(_core.skeleton_minutiae(skeleton, filter=True)["x"]) == 4


# ------------------------------------------------------------- minutiae through the pipeline


@pytest.mark.parametrize("offset", [0.0, math.pi / 2, math.pi, 3 * math.pi / 2])
@pytest.mark.parametrize("winding", [1, -1])
@pytest.mark.parametrize("degrees", [0, 30, 90, 135, 200, 290])
def test_a_single_ridge_dislocation_gives_one_minutia_with_the_right_direction(
    synthetic, degrees, winding, offset
):
    image, truth = synthetic.dislocation(math.radians(degrees), winding, offset)
    template = afis.extract(image)
    assert len(template) == 1
    assert math.hypot(int(template.x[0]) - 128, int(template.y[0]) - 128) < 8
    assert template.type[0] in (MinutiaType.ENDING, MinutiaType.BIFURCATION)
    assert direction_error(float(template.direction[0]), truth) < math.radians(12)


@pytest.mark.parametrize("degrees", [0, 90, 200])
def test_inverting_the_image_swaps_ending_and_bifurcation_but_keeps_the_direction(
    synthetic, degrees
):
    image, _ = synthetic.dislocation(math.radians(degrees), 1, 0.4)
    a, b = afis.extract(image), afis.extract(255 - image)
    assert len(a) == len(b) == 1
    assert {int(a.type[0]), int(b.type[0])} == {MinutiaType.ENDING, MinutiaType.BIFURCATION}
    assert math.hypot(int(a.x[0]) - int(b.x[0]), int(a.y[0]) - int(b.y[0])) < 8
    assert direction_error(float(a.direction[0]), float(b.direction[0])) < math.radians(15)


@pytest.mark.parametrize("seed", [3, 5, 8])
def test_minutiae_of_a_synthetic_print_are_found_where_they_were_made(synthetic, seed):
    image, truth = synthetic.fingerprint(seed)
    template = afis.extract(image)
    found = np.c_[template.x, template.y].astype(float)
    distance = np.hypot(
        truth[:, None, 0] - found[None, :, 0], truth[:, None, 1] - found[None, :, 1]
    )
    recall = (distance.min(axis=1) <= 8).mean()
    precision = (distance.min(axis=0) <= 8).mean()
    assert recall >= 0.7, f"recall {recall:.2f}"
    assert precision >= 0.8, f"precision {precision:.2f}"


def field_axis(trace, x: int, y: int) -> float | None:
    """The orientation field's ridge axis at a pixel, image coordinates in [0, pi): the
    coherence-weighted doubled-angle mean of the four nearest block centres, bilinear (as
    the extractor's direction refinement reads it); None where they hold no orientation."""
    block = trace.orientation_block
    rows, cols = trace.orientation.shape
    fx, fy = (x + 0.5) / block - 0.5, (y + 0.5) / block - 0.5
    x0, y0 = math.floor(fx), math.floor(fy)
    vx = vy = 0.0
    for dy in (0, 1):
        for dx in (0, 1):
            bx, by = min(max(x0 + dx, 0), cols - 1), min(max(y0 + dy, 0), rows - 1)
            w = (fx - x0 if dx else 1 - (fx - x0)) * (fy - y0 if dy else 1 - (fy - y0))
            w *= float(trace.coherence[by, bx])
            vx += w * math.cos(2 * float(trace.orientation[by, bx]))
            vy += w * math.sin(2 * float(trace.orientation[by, bx]))
    return None if math.hypot(vx, vy) <= 1e-6 else (0.5 * math.atan2(vy, vx)) % math.pi


def axis_deviations(trace, minutiae) -> np.ndarray:
    """Degrees between each minutia's direction and the nearer sense of the field's axis."""
    out = []
    for x, y, direction in zip(minutiae["x"], minutiae["y"], minutiae["direction"], strict=True):
        axis = field_axis(trace, int(x), int(y))
        assert axis is not None
        along = -axis  # the axis in the template convention (counter-clockwise, y up)
        d = float(direction)
        out.append(min(direction_error(d, along), direction_error(d, along + math.pi)))
    return np.degrees(out)


@pytest.mark.parametrize("seed", [3, 5, 8])
def test_minutia_directions_lean_on_the_field_where_they_nearly_agree(synthetic, seed):
    # A skeleton direction within 30 degrees of the field's axis is moved 85 % of the way to
    # it; one farther off (near cores, deltas) is kept. So no minutia is left between 4.5 and
    # 30 degrees from the axis, where the plain skeleton directions spread.
    image, _ = synthetic.fingerprint(seed)
    trace = afis.trace(image)
    deviations = axis_deviations(trace, trace.template.minutiae)
    assert len(deviations) >= 20
    leaning = deviations <= 0.15 * 30 + 0.1
    assert np.all(leaning | (deviations > 30 - 0.1)), np.sort(deviations)
    assert leaning.mean() >= 0.8
    # the raw skeleton directions (before the ridge-graph filters and the refinement) spread
    raw = axis_deviations(trace, trace.raw_minutiae)
    assert np.mean((raw > 4.6) & (raw <= 29.9)) > 0.2


# ---------------------------------------------------------------------------- singular points


def singular(template) -> list[tuple[int, int, int]]:
    return [
        (int(x), int(y), int(t))
        for x, y, t in zip(
            template.singular_x, template.singular_y, template.singular_type, strict=True
        )
    ]


def near(points, x: float, y: float, kind: SingularType, radius: float):
    return [p for p in points if p[2] == kind and math.hypot(p[0] - x, p[1] - y) <= radius]


def test_concentric_circles_give_a_core_at_the_centre(synthetic):
    points = singular(afis.extract(synthetic.concentric()))
    assert near(points, 150, 150, SingularType.CORE, 20)
    assert not near(points, 150, 150, SingularType.DELTA, 40)


@pytest.mark.parametrize("rotation", [0.0, 1.0, 2.5, -2.0])
@pytest.mark.parametrize("centre", [(150, 150), (130, 170)])
def test_a_loop_gives_one_core_near_its_apex(synthetic, centre, rotation):
    points = singular(afis.extract(synthetic.loop(*centre, rotation)))
    assert len(near(points, *centre, SingularType.CORE, 20)) == 1
    assert not [p for p in points if p[2] == SingularType.DELTA]


@pytest.mark.parametrize("rotation", [0.0, 1.0, 2.5, -2.0])
@pytest.mark.parametrize("centre", [(150, 150), (130, 170)])
def test_a_delta_gives_one_delta_where_three_ridge_systems_meet(synthetic, centre, rotation):
    points = singular(afis.extract(synthetic.delta(*centre, rotation)))
    assert len(near(points, *centre, SingularType.DELTA, 12)) == 1
    assert not [p for p in points if p[2] == SingularType.CORE]


def test_parallel_ridges_have_no_singular_points(synthetic):
    assert singular(afis.extract(synthetic.ridges(0.8, 10, size=300))) == []


# ---------------------------------------------------------------------------------- resample


def test_resampling_569_ppi_to_500_gives_the_rounded_size():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (560, 296), dtype=np.uint8)
    scale = 500 / 569
    out = _core.resample(image, scale)
    assert out.dtype == np.uint8
    assert out.shape == (round(560 * scale), round(296 * scale)) == (492, 260)
    # area averaging keeps the mean grey level
    assert abs(float(out.mean()) - float(image.mean())) < 1.0


@pytest.mark.parametrize("scale", [0.3, 0.5, 500 / 569, 1.7, 2.0])
def test_resampling_a_constant_image_keeps_it_constant(scale):
    out = _core.resample(np.full((100, 80), 77, np.uint8), scale)
    assert out.shape == (round(100 * scale), round(80 * scale))
    assert np.all(out == 77)


def test_resampling_by_one_returns_the_same_pixels():
    image = np.random.default_rng(1).integers(0, 256, (70, 90), dtype=np.uint8)
    assert np.array_equal(_core.resample(image, 1.0), image)


def test_resampling_keeps_the_ridge_period_in_physical_units(synthetic):
    # ridges of period 11.38 px at 569 ppi are 10 px at 500 ppi
    image = synthetic.ridges(0.4, 10 * 569 / 500, size=340)
    steps = afis.trace(image, dpi=569)
    assert steps.image.shape == (round(340 * 500 / 569),) * 2
    assert np.abs(interior(steps.period, 3) - 10).max() < 0.75


# ----------------------------------------------------------------------------------- quality


def test_a_blank_image_has_quality_zero_and_no_minutiae():
    steps = afis.trace(np.full((300, 300), 255, np.uint8))
    assert steps.template is not None
    assert steps.template.image_quality == 0 and len(steps.template) == 0
    assert steps.quality["score"] == 0 and steps.quality["minutiae"] == 0


@pytest.mark.parametrize("seed", [0, 1])
def test_noise_lowers_image_quality(synthetic, seed):
    image, _ = synthetic.fingerprint(11)
    noisy = synthetic.grey(image + np.random.default_rng(seed).normal(0, 60, image.shape))
    clean_steps, noisy_steps = afis.trace(image), afis.trace(noisy)
    assert clean_steps.template.image_quality > 80
    assert noisy_steps.template.image_quality < clean_steps.template.image_quality - 20
    for measure in ("orientation_certainty", "ridge_clarity"):
        assert noisy_steps.quality[measure] < clean_steps.quality[measure]


def test_minutia_quality_is_between_0_and_100_and_lower_near_the_border(synthetic):
    image, _ = synthetic.fingerprint(8)
    steps = afis.trace(image)
    template = steps.template
    quality = np.asarray(template.quality)
    assert len(template) > 10 and quality.min() >= 0 and quality.max() <= 100
    distance = ndimage.distance_transform_edt(steps.mask)[template.y, template.x]
    deep, shallow = quality[distance > 48], quality[distance < 24]
    assert deep.size and shallow.size
    assert deep.mean() > shallow.mean()
