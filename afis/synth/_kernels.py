"""numba kernels of :mod:`afis.synth`: counter-based random numbers, masters, impressions.

Every finger and every impression draws from its own SplitMix64 stream keyed by (population
key, stream tag, finger id[, impression index]), so the output of one finger never depends
on which other fingers are generated with it, nor in which order or chunks.

Coordinates: the master frame has its origin at the centre of the finger ellipse, x to the
right and y DOWN (image-like). Directions follow the template convention: radians,
counter-clockwise from +x with y up.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

# ------------------------------------------------------------------ parameter vector layout
# The options travel to the kernels as one float64 vector; these are its indices.
P_CUM_ARCH = 0  # cumulative pattern proportions (5 values: 0..4)
P_PERSON_CORR = 5
P_AXIS_X = 6
P_AXIS_Y = 7
P_DENSITY = 8
P_DENSITY_SPREAD = 9
P_MIN_DISTANCE = 10
P_ENDING = 11
P_ORIENT_NOISE = 12
P_CONTACT_LO = 13
P_CONTACT_HI = 14
P_CONTACT_SHIFT = 15
P_ROT_SD = 16
P_ROT_MAX = 17
P_TRANS_SD = 18
P_DIST_ROT_SD = 19
P_DIST_TRANS_SD = 20
P_DIST_INNER = 21
P_DROP = 22
P_SPURIOUS = 23
P_PAIR = 24
P_POS_NOISE = 25
P_DIR_NOISE = 26
P_SWAP = 27
P_QUAL_NOISE = 28
P_BORDER = 29
P_WIDTH = 30
P_HEIGHT = 31
P_CONDITION = 32
P_CONVERGE = 33
P_FLOW_DENSITY = 34
P_SIZE = 35

#: Pattern class codes (index into the proportions).
ARCH, TENTED_ARCH, LEFT_LOOP, RIGHT_LOOP, WHORL = 0, 1, 2, 3, 4
#: Most minutiae of one master (the dart throwing stops there).
MAX_MASTER_MINUTIAE = 320
#: Most spurious minutiae added to one impression.
MAX_SPURIOUS = 96
#: Most singular points of one master (a whorl: two cores, two deltas).
MAX_SINGULAR = 4
#: Per-finger field description: class, rotation, a, b, arch amplitude, arch width, arch y,
#: two perturbation waves (kx, ky, phase, amplitude each), singular count.
F_CLASS, F_ROT, F_A, F_B, F_ARCH_AMP, F_ARCH_W, F_ARCH_Y = 0, 1, 2, 3, 4, 5, 6
F_WAVE = 7  # 8 values
F_NSING = 15
F_SIZE = 16

# Stream tags keep the person, master and impression streams apart.
_S_PERSON = np.uint64(0x5045_5253_4F4E_0001)
_S_MASTER = np.uint64(0x4D41_5354_4552_0002)
_S_IMPRESSION = np.uint64(0x494D_5052_4553_0003)

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_SH30 = np.uint64(30)
_SH27 = np.uint64(27)
_SH31 = np.uint64(31)
_SH11 = np.uint64(11)
_INV53 = 1.0 / 9007199254740992.0
_TWO_PI = 2.0 * math.pi

_JIT = {"nogil": True, "cache": True, "fastmath": False, "error_model": "numpy"}


@nb.njit(**_JIT)
def _fmix(z: np.uint64) -> np.uint64:
    z = (z ^ (z >> _SH30)) * _M1
    z = (z ^ (z >> _SH27)) * _M2
    return z ^ (z >> _SH31)


@nb.njit(**_JIT)
def stream(key: np.uint64, tag: np.uint64, a: np.int64, b: np.int64) -> np.ndarray:
    """A fresh generator state for (key, tag, a, b)."""
    z = _fmix(key ^ tag)
    z = _fmix(z + np.uint64(a) * _GOLDEN + np.uint64(1))
    z = _fmix(z ^ (np.uint64(b) + _GOLDEN))
    s = np.empty(1, np.uint64)
    s[0] = z
    return s


@nb.njit(**_JIT)
def _next(s: np.ndarray) -> np.uint64:
    s[0] += _GOLDEN
    return _fmix(s[0])


@nb.njit(**_JIT)
def uniform(s: np.ndarray) -> float:
    """Uniform on [0, 1)."""
    return float(_next(s) >> _SH11) * _INV53


@nb.njit(**_JIT)
def normal(s: np.ndarray) -> float:
    """Standard normal (Box-Muller, one of the pair)."""
    u = 1.0 - uniform(s)
    v = uniform(s)
    return math.sqrt(-2.0 * math.log(u)) * math.cos(_TWO_PI * v)


@nb.njit(**_JIT)
def poisson(s: np.ndarray, lam: float) -> int:
    """Poisson deviate (multiplication method below 30, rounded normal above)."""
    if lam <= 0.0:
        return 0
    if lam > 30.0:
        k = round(lam + math.sqrt(lam) * normal(s))
        return k if k > 0 else 0
    limit = math.exp(-lam)
    k = 0
    p = uniform(s)
    while p > limit:
        k += 1
        p *= uniform(s)
    return k


@nb.njit(**_JIT)
def _draw_class(s: np.ndarray, p: np.ndarray) -> int:
    u = uniform(s)
    for c in range(4):
        if u < p[P_CUM_ARCH + c]:
            return c
    return WHORL


@nb.njit(**_JIT)
def _wrap(angle: float) -> float:
    a = angle - _TWO_PI * math.floor(angle / _TWO_PI)
    if a < 0.0:
        a += _TWO_PI
    if a >= _TWO_PI:
        a -= _TWO_PI
    return a


@nb.njit(**_JIT)
def orientation(
    field: np.ndarray, sx: np.ndarray, sy: np.ndarray, st: np.ndarray, x: float, y: float
) -> float:
    """Ridge orientation (mod pi, template convention) at master point (x, y).

    Zero-pole model (Sherlock & Monro 1993): half the sum of the arguments towards the cores
    minus half the sum towards the deltas; arches use a bump-shaped ridge family instead.
    Two long low-amplitude waves perturb both.
    """
    rot = field[F_ROT]
    cls = int(field[F_CLASS])
    if cls == ARCH:
        # ridges y_up = A * exp(-u^2 / 2w^2), u along the rotated x axis
        c, sn = math.cos(rot), math.sin(rot)
        u = x * c - y * sn
        v = -(x * sn + y * c) - field[F_ARCH_Y]
        w = field[F_ARCH_W]
        decay = math.exp(-max(v, 0.0) / (2.0 * field[F_B]))
        slope = -field[F_ARCH_AMP] * u / w * math.exp(-0.5 * (u / w) ** 2) * decay
        theta = math.atan(slope) + rot
    else:
        theta = rot
        for i in range(int(field[F_NSING])):
            arg = math.atan2(sy[i] - y, x - sx[i])
            if st[i] == 1:
                theta += 0.5 * arg
            else:
                theta -= 0.5 * arg
    for k in range(2):
        o = F_WAVE + 4 * k
        theta += field[o + 3] * math.sin(field[o] * x + field[o + 1] * y + field[o + 2])
    return theta


@nb.njit(**_JIT)
def _finger_field(
    s: np.ndarray,
    cls: int,
    position: int,
    p: np.ndarray,
    field: np.ndarray,
    sx: np.ndarray,
    sy: np.ndarray,
    st: np.ndarray,
) -> None:
    """Draw the finger's shape, singular points and field perturbation."""
    scale = 1.0
    if position == 0 or position == 5:  # thumbs
        scale = 1.12
    elif position == 4 or position == 9:  # little fingers
        scale = 0.86
    a = p[P_AXIS_X] * scale * math.exp(0.06 * normal(s))
    b = p[P_AXIS_Y] * scale * math.exp(0.06 * normal(s))
    rot = 0.12 * normal(s)
    field[F_CLASS] = cls
    field[F_ROT] = rot
    field[F_A] = a
    field[F_B] = b
    field[F_ARCH_AMP] = 0.0
    field[F_ARCH_W] = 1.0
    field[F_ARCH_Y] = 0.0
    for k in range(2):
        o = F_WAVE + 4 * k
        wavelength = 180.0 + 220.0 * uniform(s)
        heading = _TWO_PI * uniform(s)
        field[o] = _TWO_PI / wavelength * math.cos(heading)
        field[o + 1] = _TWO_PI / wavelength * math.sin(heading)
        field[o + 2] = _TWO_PI * uniform(s)
        field[o + 3] = 0.06 * uniform(s)
    n = 0
    if cls == ARCH:
        field[F_ARCH_AMP] = 0.7 + 0.8 * uniform(s)
        field[F_ARCH_W] = a * (0.35 + 0.3 * uniform(s))
        field[F_ARCH_Y] = b * 0.1 * normal(s)
    else:
        cx = a * 0.1 * normal(s)
        cy = -0.05 * b + b * 0.1 * normal(s)
        if cls == WHORL:
            d = 10.0 + 50.0 * uniform(s)
            h = _TWO_PI * uniform(s)
            sx[0], sy[0], st[0] = cx + 0.5 * d * math.cos(h), cy + 0.5 * d * math.sin(h), 1
            sx[1], sy[1], st[1] = cx - 0.5 * d * math.cos(h), cy - 0.5 * d * math.sin(h), 1
            for side in range(2):
                sgn = 1.0 if side == 0 else -1.0
                sx[2 + side] = cx + sgn * a * (0.5 + 0.35 * uniform(s))
                sy[2 + side] = cy + b * (0.4 + 0.3 * uniform(s))
                st[2 + side] = 2
            n = 4
        else:
            sx[0], sy[0], st[0] = cx, cy, 1
            if cls == TENTED_ARCH:
                sx[1] = cx + a * 0.06 * normal(s)
                sy[1] = cy + b * (0.3 + 0.25 * uniform(s))
            else:
                side = 1.0 if cls == LEFT_LOOP else -1.0
                sx[1] = cx + side * a * (0.45 + 0.35 * uniform(s))
                sy[1] = cy + b * (0.35 + 0.3 * uniform(s))
            st[1] = 2
            n = 2
        # rotate the layout with the pattern
        c, sn = math.cos(rot), math.sin(rot)
        for i in range(n):
            ux, uy = sx[i], sy[i]
            sx[i] = ux * c + uy * sn
            sy[i] = -ux * sn + uy * c
    field[F_NSING] = n


#: Step across the ridges (pixels) of the finite difference in :func:`_divergence`.
_DIVERGENCE_STEP = 12.0
#: Divergence (radians per pixel) at and above which ``flow_density`` accepts every dart.
_DIVERGENCE_SCALE = 0.01


@nb.njit(**_JIT)
def _divergence(
    field: np.ndarray,
    sx: np.ndarray,
    sy: np.ndarray,
    st: np.ndarray,
    x: float,
    y: float,
    theta: float,
) -> float:
    """Divergence of the ridge flow at master point (x, y) along direction ``theta``: the
    change of the orientation across the ridges, d theta / d n with n = theta + 90 degrees
    (template convention, y up); positive where the flow along ``theta`` spreads."""
    h = _DIVERGENCE_STEP
    nx = -math.sin(theta)
    ny = math.cos(theta)  # y up; the master frame's y runs down
    t1 = orientation(field, sx, sy, st, x + h * nx, y - h * ny)
    t2 = orientation(field, sx, sy, st, x - h * nx, y + h * ny)
    d = t1 - t2
    d -= math.pi * math.floor(d / math.pi + 0.5)  # orientations are modulo pi
    return d / (2.0 * h)


@nb.njit(**_JIT)
def masters_kernel(
    key: np.uint64,
    fingers: np.ndarray,
    p: np.ndarray,
    counts: np.ndarray,
    mx: np.ndarray,
    my: np.ndarray,
    md: np.ndarray,
    mt: np.ndarray,
    mq: np.ndarray,
    fields: np.ndarray,
    sx: np.ndarray,
    sy: np.ndarray,
    st: np.ndarray,
) -> None:
    """Generate the masters of ``fingers`` into rows of the output arrays."""
    dmin2 = p[P_MIN_DISTANCE] ** 2
    for i in range(fingers.shape[0]):
        f = fingers[i]
        person = stream(key, _S_PERSON, f // 10, 0)
        person_class = _draw_class(person, p)
        s = stream(key, _S_MASTER, f, 0)
        cls = person_class if uniform(s) < p[P_PERSON_CORR] else _draw_class(s, p)
        field = fields[i]
        _finger_field(s, cls, int(f % 10), p, field, sx[i], sy[i], st[i])
        a, b = field[F_A], field[F_B]
        target = p[P_DENSITY] * math.pi * a * b * math.exp(p[P_DENSITY_SPREAD] * normal(s))
        n_target = min(round(target), MAX_MASTER_MINUTIAE)
        n = 0
        attempts = 0
        while n < n_target and attempts < 40 * n_target:
            attempts += 1
            r = math.sqrt(uniform(s))
            h = _TWO_PI * uniform(s)
            x = a * r * math.cos(h)
            y = b * r * math.sin(h)
            ok = True
            for j in range(n):
                dx = mx[i, j] - x
                dy = my[i, j] - y
                if dx * dx + dy * dy < dmin2:
                    ok = False
                    break
            if not ok:
                continue
            theta = orientation(field, sx[i], sy[i], st[i], x, y)
            div = _divergence(field, sx[i], sy[i], st[i], x, y, theta)
            if p[P_FLOW_DENSITY] > 0.0:  # more minutiae where the flow spreads or narrows
                keep = 1.0 + p[P_FLOW_DENSITY] * min(abs(div) / _DIVERGENCE_SCALE, 1.0)
                if uniform(s) * (1.0 + p[P_FLOW_DENSITY]) > keep:
                    continue
            # Sense: real minutiae mostly point where the ridges converge (a ridge ends, or
            # two merge, where the flow narrows): against the divergence across the ridges,
            # d theta / d n, with probability P_CONVERGE, along it otherwise.
            if (div > 0.0) == (uniform(s) < p[P_CONVERGE]):
                theta += math.pi
            theta += p[P_ORIENT_NOISE] * normal(s)
            mx[i, n] = x
            my[i, n] = y
            md[i, n] = _wrap(theta)
            mt[i, n] = 1 if uniform(s) < p[P_ENDING] else 2
            # quality: roughly uniform with a share at the top, like the extractor's
            q = 115.0 * uniform(s)
            mq[i, n] = 100.0 if q > 100.0 else q
            n += 1
        counts[i] = n


@nb.njit(**_JIT)
def _smoothstep(t: float) -> float:
    if t <= 0.0:
        return 0.0
    if t >= 1.0:
        return 1.0
    return t * t * (3.0 - 2.0 * t)


@nb.njit(**_JIT)
def _place(
    s: np.ndarray, t: np.ndarray, p: np.ndarray, x: float, y: float, theta: float
) -> tuple[float, float, float, bool]:
    """Master point -> impression pixel: distortion, rigid placement, noise, window test.

    ``t`` holds the impression's transform: contact centre and axes, distortion, placement
    (see :func:`impressions_kernel`).
    """
    c0x, c0y, ca, cb, dcos, dsin, dtx, dty, dphi, pc, ps, px0, py0, phi = (
        t[0],
        t[1],
        t[2],
        t[3],
        t[4],
        t[5],
        t[6],
        t[7],
        t[8],
        t[9],
        t[10],
        t[11],
        t[12],
        t[13],
    )
    inner = p[P_DIST_INNER]
    vx = x - c0x
    vy = y - c0y
    rho = math.sqrt((vx / ca) ** 2 + (vy / cb) ** 2)
    w = _smoothstep((rho - inner) / (1.0 - inner))
    # the outer skin turns by dphi (counter-clockwise as seen) and slides by (dtx, dty)
    rx = vx * dcos + vy * dsin + dtx
    ry = -vx * dsin + vy * dcos + dty
    vx = vx + w * (rx - vx)
    vy = vy + w * (ry - vy)
    theta += w * dphi
    qx = vx * pc + vy * ps + px0 + p[P_POS_NOISE] * normal(s)
    qy = -vx * ps + vy * pc + py0 + p[P_POS_NOISE] * normal(s)
    theta = _wrap(theta + phi + p[P_DIR_NOISE] * normal(s))
    border = p[P_BORDER]
    ok = border <= qx <= p[P_WIDTH] - 1 - border and border <= qy <= p[P_HEIGHT] - 1 - border
    return qx, qy, theta, ok


#: Most minutiae of one impression.
MAX_IMPRESSION_MINUTIAE = MAX_MASTER_MINUTIAE + 2 * MAX_SPURIOUS


@nb.njit(**_JIT)
def impressions_kernel(
    key: np.uint64,
    fingers: np.ndarray,
    impressions: np.ndarray,
    rows: np.ndarray,
    p: np.ndarray,
    counts: np.ndarray,
    mx: np.ndarray,
    my: np.ndarray,
    md: np.ndarray,
    mt: np.ndarray,
    mq: np.ndarray,
    fields: np.ndarray,
    sx: np.ndarray,
    sy: np.ndarray,
    st: np.ndarray,
    offsets: np.ndarray,
    ox: np.ndarray,
    oy: np.ndarray,
    od: np.ndarray,
    ot: np.ndarray,
    oq: np.ndarray,
    image_quality: np.ndarray,
) -> None:
    """Impression ``impressions[i]`` of finger ``fingers[i]`` whose master is row ``rows[i]``.

    Writes minutiae at ``offsets[i]:offsets[i+1]`` of the flat outputs (``offsets[0]`` must
    be set by the caller; the rest is filled here).
    """
    width = p[P_WIDTH]
    height = p[P_HEIGHT]
    border = p[P_BORDER]
    bx = np.empty(MAX_IMPRESSION_MINUTIAE)
    by = np.empty(MAX_IMPRESSION_MINUTIAE)
    bd = np.empty(MAX_IMPRESSION_MINUTIAE)
    bt = np.empty(MAX_IMPRESSION_MINUTIAE, np.uint8)
    bq = np.empty(MAX_IMPRESSION_MINUTIAE)
    t = np.empty(14)
    for i in range(fingers.shape[0]):
        r = rows[i]
        field = fields[r]
        s = stream(key, _S_IMPRESSION, fingers[i], impressions[i])
        a, b = field[F_A], field[F_B]
        # contact ellipse (master frame); minutiae closer than `border` to its edge are lost
        lo, hi = p[P_CONTACT_LO], p[P_CONTACT_HI]
        ca = a * (lo + (hi - lo) * uniform(s))
        cb = b * (lo + (hi - lo) * uniform(s))
        t[0] = a * p[P_CONTACT_SHIFT] * normal(s)
        t[1] = b * p[P_CONTACT_SHIFT] * normal(s)
        t[2], t[3] = ca, cb
        ia = max(ca - border, 1.0)
        ib = max(cb - border, 1.0)
        dphi = p[P_DIST_ROT_SD] * normal(s)
        t[4], t[5] = math.cos(dphi), math.sin(dphi)
        t[6] = p[P_DIST_TRANS_SD] * normal(s)
        t[7] = p[P_DIST_TRANS_SD] * normal(s)
        t[8] = dphi
        phi = min(max(p[P_ROT_SD] * normal(s), -p[P_ROT_MAX]), p[P_ROT_MAX])
        t[9], t[10] = math.cos(phi), math.sin(phi)
        t[11] = 0.5 * width + p[P_TRANS_SD] * normal(s)
        t[12] = 0.5 * height + p[P_TRANS_SD] * normal(s)
        t[13] = phi
        # capture condition (dry/wet skin, pressure): scales misses and spurious minutiae
        sigma = p[P_CONDITION]
        condition = math.exp(sigma * normal(s) - 0.5 * sigma * sigma)
        drop_rate = p[P_DROP] * condition
        n = 0
        for j in range(int(counts[r])):
            x = mx[r, j]
            y = my[r, j]
            u = (x - t[0]) / ia
            v = (y - t[1]) / ib
            if u * u + v * v > 1.0:
                continue
            q = mq[r, j]
            if uniform(s) < min(drop_rate * (1.5 - q / 100.0), 0.95):
                continue
            mtype = mt[r, j]
            if uniform(s) < p[P_SWAP]:
                mtype = 3 - mtype
            q = q + p[P_QUAL_NOISE] * normal(s)
            qx, qy, theta, ok = _place(s, t, p, x, y, md[r, j])
            if not ok:
                continue
            bx[n], by[n], bd[n], bt[n], bq[n] = qx, qy, theta, mtype, min(max(q, 0.0), 100.0)
            n += 1
        # spurious minutiae, about spurious_rate per kept true one: lone ones and broken
        # ridges (two facing endings a few pixels apart along the ridge)
        pair = p[P_PAIR]
        events = min(poisson(s, p[P_SPURIOUS] * condition * n / (1.0 + pair)), MAX_SPURIOUS)
        for _ in range(events):
            rr = math.sqrt(uniform(s))
            h = _TWO_PI * uniform(s)
            x = t[0] + ia * rr * math.cos(h)
            y = t[1] + ib * rr * math.sin(h)
            theta = orientation(field, sx[r], sy[r], st[r], x, y) + 0.3 * normal(s)
            if uniform(s) < 0.5:
                theta += math.pi
            mtype = 1 if uniform(s) < 0.5 else 2
            q = 60.0 * uniform(s)
            is_pair = uniform(s) < pair
            gap = 6.0 + 8.0 * uniform(s)
            if (x / a) ** 2 + (y / b) ** 2 > 1.0:
                continue
            qx, qy, theta, ok = _place(s, t, p, x, y, theta)
            if not ok:
                continue
            bx[n], by[n], bd[n], bt[n], bq[n] = qx, qy, theta, mtype, q
            n += 1
            if is_pair:
                gx = qx + gap * math.cos(theta)
                gy = qy - gap * math.sin(theta)
                if border <= gx <= width - 1 - border and border <= gy <= height - 1 - border:
                    bx[n], by[n], bd[n], bt[n], bq[n] = gx, gy, _wrap(theta + math.pi), 1, q
                    bt[n - 1] = 1
                    n += 1
        # shuffle (Fisher-Yates) so that order says nothing about true or spurious
        for k in range(n - 1, 0, -1):
            m = int(uniform(s) * (k + 1))
            bx[k], bx[m] = bx[m], bx[k]
            by[k], by[m] = by[m], by[k]
            bd[k], bd[m] = bd[m], bd[k]
            bt[k], bt[m] = bt[m], bt[k]
            bq[k], bq[m] = bq[m], bq[k]
        o = offsets[i]
        qsum = 0.0
        for k in range(n):
            ox[o + k] = min(max(round(bx[k]), 0), int(width) - 1)
            oy[o + k] = min(max(round(by[k]), 0), int(height) - 1)
            od[o + k] = bd[k]
            ot[o + k] = bt[k]
            oq[o + k] = round(bq[k])
            qsum += bq[k]
        offsets[i + 1] = o + n
        image_quality[i] = round(qsum / n) if n > 0 else 0
