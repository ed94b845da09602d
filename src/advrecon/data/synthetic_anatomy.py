"""Procedural sagittal knee anatomy and fastMRI+-style lesions (magnitude images, numpy).

This is the drawing half of :mod:`advrecon.data.synthetic`: it renders the real-valued tissue
magnitude of a proton-density (``CORPD_FBK``-like) sagittal knee for every slice of a volume,
plus the pathology masks and their boxes. The physics half (phase, coils, noise, k-space, files)
lives in :mod:`advrecon.data.synthetic`.

Frames. Shapes are drawn in the *anatomical* frame: femur at the top, tibia at the bottom,
anterior (patella) on the left. fastMRI+ boxes are published in exactly this frame (its CSV
``y`` is measured in the up/down flipped image), while the arrays that fastMRI stores
(``reconstruction_rss``) are upside down. :func:`render_volume` therefore returns images and
boxes in the *reconstruction frame* (flipped), so that the CSV written by the generator has
the same ``y`` statistics as the real fastMRI+ knee CSV (femur/effusion boxes near small CSV
``y``, the joint line near 57-60 % of the height).

Coordinates are normalised by the image height ``h``: ``y`` in ``[0, 1]`` from top to bottom,
``x`` in ``[0, w / h]`` from left to right. Every shape is a signed distance field (negative
inside), turned into an anti-aliased coverage ``clip(0.5 - d / pixel, 0, 1)``, and all shapes
are evaluated for every slice at once (arrays ``(S, h, w)``, per-slice parameters ``(S, 1, 1)``),
so that geometry changes smoothly with the slice index ``t`` in ``[-0.5, 0.5]``
(medial-lateral position).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "LESION_LABELS",
    "LesionInstance",
    "RenderedVolume",
    "render_volume",
    "smooth_noise",
]

# fastMRI+ knee labels used by the generator, with relative frequencies close to the real CSV.
LESION_LABELS: dict[str, float] = {
    "Meniscus Tear": 0.28,
    "Cartilage - Partial Thickness loss/defect": 0.16,
    "Joint Effusion": 0.10,
    "Bone- Subchondral edema": 0.11,
    "Bone-Fracture/Contusion/dislocation": 0.07,
    "Periarticular cysts": 0.08,
    "Ligament - ACL High Grade Sprain": 0.07,
    "Ligament - ACL Low Grade sprain": 0.06,
    "Cartilage - Full Thickness loss/defect": 0.07,
}

# Proton-density (non fat-saturated) tissue magnitudes, fat = 1.
FAT, MARROW, MUSCLE, CARTILAGE, FLUID = 0.95, 0.74, 0.33, 0.62, 1.12
DARK = 0.05  # cortex, menisci, tendons (short T2)
LIGAMENT = 0.11


@dataclass(frozen=True)
class LesionInstance:
    """One pathology of a volume, in the reconstruction frame.

    Attributes:
        label: fastMRI+ label.
        slices: Slice indices that carry the lesion (consecutive).
        boxes: One ``(x, y, width, height)`` box per entry of ``slices`` (reconstruction frame,
            pixels of the ``(h, w)`` image).
        mask: Lesion coverage ``(S, h, w)`` float32 in ``[0, 1]`` (reconstruction frame), zero
            on slices without the lesion.
    """

    label: str
    slices: tuple[int, ...]
    boxes: tuple[tuple[int, int, int, int], ...]
    mask: np.ndarray


@dataclass(frozen=True)
class RenderedVolume:
    """Magnitude images of one synthetic knee volume (reconstruction frame).

    Attributes:
        image: Tissue magnitude ``(S, h, w)`` float32 (fat about 1, air 0).
        object_mask: Boolean ``(S, h, w)``, True inside the limb.
        lesions: The pathologies drawn into ``image``.
    """

    image: np.ndarray
    object_mask: np.ndarray
    lesions: tuple[LesionInstance, ...]


# ---------------------------------------------------------------------------------------------
# random fields and signed distance helpers


def smooth_noise(
    rng: np.random.Generator,
    shape: tuple[int, int, int],
    sigma: tuple[float, float, float],
) -> np.ndarray:
    """Gaussian-filtered white noise with unit standard deviation.

    Args:
        rng: Random generator.
        shape: ``(S, h, w)``.
        sigma: Gaussian width in voxels along ``(S, h, w)`` (0 = no smoothing).

    Returns:
        float32 ``(S, h, w)``, zero mean and unit std (periodic boundary).
    """
    white = rng.standard_normal(shape)
    spec = np.fft.rfftn(white)
    freqs = [np.fft.fftfreq(n) for n in shape[:-1]] + [np.fft.rfftfreq(shape[-1])]
    grids = np.meshgrid(*freqs, indexing="ij", sparse=True)
    filt = np.ones(spec.shape)
    for g, s in zip(grids, sigma, strict=True):
        filt = filt * np.exp(-2.0 * (np.pi * s * g) ** 2)
    out = np.fft.irfftn(spec * filt, s=shape, axes=tuple(range(len(shape))))
    out -= out.mean()
    std = out.std()
    return (out / (std if std > 0 else 1.0)).astype(np.float32)


def _ellipse_sdf(x, y, cx, cy, rx, ry, angle=0.0):
    """Approximate signed distance to a rotated ellipse (exact to first order at the boundary)."""
    c, s = np.cos(angle), np.sin(angle)
    dx, dy = x - cx, y - cy
    u, v = c * dx + s * dy, -s * dx + c * dy
    q = (u / rx) ** 2 + (v / ry) ** 2
    grad = 2.0 * np.sqrt((u / rx**2) ** 2 + (v / ry**2) ** 2) + 1e-9
    return (q - 1.0) / grad


def _box_sdf(x, y, cx, cy, hx, hy, radius=0.0):
    """Signed distance to an axis-aligned rounded box (centre, half sizes, corner radius)."""
    qx = np.abs(x - cx) - (hx - radius)
    qy = np.abs(y - cy) - (hy - radius)
    outside = np.sqrt(np.maximum(qx, 0) ** 2 + np.maximum(qy, 0) ** 2)
    return outside + np.minimum(np.maximum(qx, qy), 0) - radius


def _segment_dist(x, y, ax, ay, bx, by):
    """Distance to the segment from ``a`` to ``b`` (all broadcastable)."""
    px, py = x - ax, y - ay
    ex, ey = bx - ax, by - ay
    t = np.clip((px * ex + py * ey) / (ex**2 + ey**2 + 1e-12), 0.0, 1.0)
    return np.sqrt((px - t * ex) ** 2 + (py - t * ey) ** 2)


def _bezier_dist(x, y, p0, p1, p2, n=14):
    """Distance to a quadratic Bezier curve approximated by ``n`` segments."""
    ts = np.linspace(0.0, 1.0, n + 1)
    pts = [
        tuple(
            (1 - t) ** 2 * a + 2 * (1 - t) * t * b + t**2 * c
            for a, b, c in zip(p0, p1, p2, strict=True)
        )
        for t in ts
    ]
    d = None
    for (ax, ay), (bx, by) in zip(pts[:-1], pts[1:], strict=True):
        di = _segment_dist(x, y, ax, ay, bx, by)
        d = di if d is None else np.minimum(d, di)
    return d


def _triangle_sdf(x, y, p0, p1, p2):
    """Signed distance (exact inside, lower bound outside) to a triangle with any orientation."""
    (x0, y0), (x1, y1), (x2, y2) = p0, p1, p2
    area = (x1 - x0) * (y2 - y0) - (x2 - x0) * (y1 - y0)
    sign = np.sign(area + 1e-12)
    d = None
    for (ax, ay), (bx, by) in (((x0, y0), (x1, y1)), ((x1, y1), (x2, y2)), ((x2, y2), (x0, y0))):
        ex, ey = bx - ax, by - ay
        norm = np.sqrt(ex**2 + ey**2) + 1e-12
        # signed distance to the edge's line, positive on the outer side
        cross = ex * (y - ay) - ey * (x - ax)
        di = -sign * cross / norm
        d = di if d is None else np.maximum(d, di)
    return d


def _smin(a, b, k):
    """Polynomial smooth minimum (union of two SDFs with a fillet of size ``k``)."""
    h = np.maximum(k - np.abs(a - b), 0.0) / k
    return np.minimum(a, b) - h * h * k * 0.25


def _smoothstep(x, e0, e1):
    t = np.clip((x - e0) / (e1 - e0), 0.0, 1.0)
    return t * t * (3 - 2 * t)


# ---------------------------------------------------------------------------------------------
# anatomy


def _volume_geometry(rng: np.random.Generator, t: np.ndarray, aspect: float) -> dict:
    """Per-slice anatomical parameters, arrays ``(S, 1, 1)`` varying smoothly with ``t``.

    ``t`` is the medial-lateral slice position in ``[-0.5, 0.5]``; ``aspect`` = ``w / h``.
    """
    u = rng.uniform
    sc = u(0.92, 1.06)
    xmid = 0.5 * aspect + u(-0.03, 0.03)
    drift = u(-0.02, 0.02, size=2)  # slow per-volume drift of positions across slices
    tt = t[:, None, None]
    # bones are widest in the middle of each compartment and shrink towards the edges
    width = np.sqrt(np.clip(1.0 - (tt / 0.62) ** 2, 0.05, 1.0))
    notch = np.exp(-(((tt - u(-0.03, 0.03)) / 0.09) ** 2))  # intercondylar notch in the centre
    y_joint = 0.585 + u(-0.03, 0.03) + drift[0] * tt + 0.012 * np.cos(np.pi * tt)
    g = {
        "sc": sc,
        "t": tt,
        "width": width,
        "notch": notch,
        "y_joint": y_joint,
        "x_cond": xmid + 0.05 + drift[1] * tt + 0.02 * tt,
        "rx_cond": 0.19 * sc * width,
        "ry_cond": 0.125 * sc * (1.0 - 0.33 * notch) * (0.75 + 0.25 * width),
        "shaft_x": xmid + 0.085 + u(-0.02, 0.02),
        "shaft_hw": 0.105 * sc * (0.85 + 0.15 * width),
        "x_tib": xmid + 0.035 + u(-0.02, 0.02) + 0.02 * tt,
        "rx_tib": 0.205 * sc * width,
        "tib_slope": np.deg2rad(u(4.0, 10.0)),
        "tib_shaft_hw": 0.1 * sc * (0.8 + 0.2 * width),
        "pat_vis": np.clip(1.0 - (tt / 0.33) ** 2, 0.0, 1.0),
        "pat_dy": u(-0.03, 0.03),
        "pat_angle": np.deg2rad(u(-22.0, -8.0)),
        "cart": (0.019 + u(-0.003, 0.003)) * (0.8 + 0.2 * width),
        "men_vis": _smoothstep(np.abs(tt), 0.07, 0.15),
        "men_h": 0.05 * sc * (0.8 + 0.2 * width),
        "men_post": u(0.085, 0.12) * sc,
        "men_ant": u(0.06, 0.085) * sc,
        "acl_t": u(0.0, 0.08),
        "pcl_t": u(-0.08, 0.0),
        "fibula_t": u(0.27, 0.33) * (1 if u() < 0.5 else -1),
        "fat_ant": u(0.025, 0.05),
        "fat_post": u(0.03, 0.06),
        "limb_ant": u(-0.02, 0.02),
        "limb_post": u(-0.02, 0.015),
    }
    g["y_cond"] = g["y_joint"] - g["cart"] - g["ry_cond"] * (1.0 - 0.15 * notch)
    g["y_tib"] = g["y_joint"] + g["cart"]
    g["x_pat"] = g["x_cond"] - g["rx_cond"] * 0.82 - 0.085 * sc
    g["y_pat"] = g["y_cond"] - 0.07 * sc + g["pat_dy"]
    return g


def _limb_edges(g: dict, y: np.ndarray, aspect: float) -> tuple[np.ndarray, np.ndarray]:
    """Anterior and posterior skin lines ``x_a(y), x_p(y)`` (arrays ``(S, h, 1)``)."""
    sc, yj = g["sc"], g["y_joint"]
    shrink = 0.04 * (1.0 - g["width"])
    x_pat_front = g["x_pat"] - 0.06 * sc - 0.03
    # thigh anterior line, prepatellar bulge, then the shin
    x_thigh = g["x_cond"] - 0.36 * sc + 0.03 * (y - 0.2)
    x_shin = g["x_tib"] - 0.30 * sc + 0.12 * (y - yj)
    bump = np.exp(-(((y - g["y_pat"]) / 0.13) ** 2))
    blend = _smoothstep(y, yj - 0.08, yj + 0.08)
    x_a = x_thigh * (1 - blend) + x_shin * blend
    x_a = np.minimum(x_a, x_pat_front) * bump + x_a * (1 - bump)
    x_a = x_a + g["limb_ant"] + shrink
    x_p = aspect - 0.045 + g["limb_post"] - 0.03 * np.exp(-(((y - yj - 0.02) / 0.12) ** 2))
    x_p = x_p - shrink - 0.03 * np.clip(y - 0.8, 0, None)
    x_a = np.maximum(x_a, 0.035)
    return x_a, np.minimum(x_p, aspect - 0.03)


def _paint(img: np.ndarray, cover: np.ndarray, value) -> np.ndarray:
    """Composite ``value`` over ``img`` with coverage ``cover`` in ``[0, 1]``."""
    return img * (1.0 - cover) + value * cover


class _Canvas:
    """Per-volume drawing state: grid, geometry, textures, tissue masks."""

    def __init__(self, rng: np.random.Generator, num_slices: int, h: int, w: int) -> None:
        self.rng = rng
        self.S, self.h, self.w = num_slices, h, w
        self.aspect = w / h
        self.px = 1.0 / h
        self.y = ((np.arange(h) + 0.5) / h)[None, :, None]
        self.x = ((np.arange(w) + 0.5) / h)[None, None, :]
        t = np.linspace(-0.42, 0.42, num_slices) if num_slices > 1 else np.zeros(1)
        self.g = _volume_geometry(rng, t, self.aspect)
        self.masks: dict[str, np.ndarray] = {}
        self.sdf: dict[str, np.ndarray] = {}

    def cover(self, d: np.ndarray) -> np.ndarray:
        return np.clip(0.5 - d / self.px, 0.0, 1.0)

    def noise(self, sigma_px: tuple[float, float], sigma_s: float = 0.7) -> np.ndarray:
        return smooth_noise(self.rng, (self.S, self.h, self.w), (sigma_s, *sigma_px))


def _draw_anatomy(cv: _Canvas) -> np.ndarray:
    g, x, y = cv.g, cv.x, cv.y
    sc = g["sc"]
    shape = (cv.S, cv.h, cv.w)

    # -- limb outline, subcutaneous fat and skin
    x_a, x_p = _limb_edges(g, y, cv.aspect)
    wobble = 0.006 * cv.noise((6.0, 6.0), 2.0)
    d_limb = np.maximum(x_a - x, x - x_p) + wobble
    limb = cv.cover(d_limb)
    depth = -d_limb  # distance inside the skin
    fat_th = np.where(x < 0.5 * (x_a + x_p), g["fat_ant"], g["fat_post"]) * (
        1 + 0.25 * cv.noise((10.0, 10.0), 2.0)
    )
    muscle_tex = 1.0 + 0.10 * cv.noise((4.0, 0.7)) + 0.05 * cv.noise((1.0, 1.0))
    img = MUSCLE * muscle_tex * limb
    # intermuscular fat septa: thresholded anisotropic noise
    septa = cv.cover(0.02 * (1.9 - cv.noise((7.0, 1.2))))
    img = _paint(img, septa * limb * 0.8, FAT * 0.9)
    fat = cv.cover(depth - fat_th) * limb
    img = _paint(img, fat * cv.cover(-depth + 0.5 * cv.px), FAT)
    skin = cv.cover(-depth + 0.5 * cv.px) * (1.0 - cv.cover(-depth + 1.6 * cv.px))
    img = _paint(img, skin, 0.55)
    cv.masks["limb"] = limb

    # -- bone signed distances
    x_c, y_c, rx, ry = g["x_cond"], g["y_cond"], g["rx_cond"], g["ry_cond"]
    d_cond = _ellipse_sdf(x, y, x_c, y_c, rx, ry)
    d_shaft = _box_sdf(x, y, g["shaft_x"], y_c - 0.6, g["shaft_hw"], 0.6)
    d_fem = _smin(d_cond, d_shaft, 0.12 * sc)
    # tibia: rotated for the posterior slope of the plateau
    ca, sa = np.cos(g["tib_slope"]), np.sin(g["tib_slope"])
    xt, yt = g["x_tib"], g["y_tib"]
    xr = xt + ca * (x - xt) + sa * (y - yt)
    yr = yt - sa * (x - xt) + ca * (y - yt)
    d_epi = _box_sdf(xr, yr, xt, yt + 0.085, g["rx_tib"], 0.085, 0.035 * sc)
    d_tshaft = _box_sdf(xr, yr, xt + 0.03, yt + 0.7, g["tib_shaft_hw"], 0.6)
    d_tub = _ellipse_sdf(xr, yr, xt - g["rx_tib"] * 0.72, yt + 0.13, 0.05, 0.05)
    d_tib = _smin(_smin(d_epi, d_tshaft, 0.1 * sc), d_tub, 0.05)
    d_pat = _ellipse_sdf(
        x,
        y,
        g["x_pat"],
        g["y_pat"],
        0.062 * sc,
        0.115 * sc * (0.4 + 0.6 * g["pat_vis"]),
        g["pat_angle"],
    )
    d_pat = np.where(g["pat_vis"] > 0.02, d_pat, 1.0)
    fib_vis = np.exp(-(((g["t"] - g["fibula_t"]) / 0.09) ** 2))
    d_fib = _ellipse_sdf(x, y, xt + g["rx_tib"] * 0.7, yt + 0.14, 0.05 * sc, 0.07)
    d_fib = np.where(fib_vis > 0.3, d_fib + 0.03 * (1 - fib_vis), 1.0)
    cv.sdf.update(femur=d_fem, tibia=d_tib, patella=d_pat, fibula=d_fib)

    # -- fat pads: Hoffa (infrapatellar), suprapatellar, popliteal
    hoffa = cv.cover(
        _ellipse_sdf(x, y, g["x_pat"] + 0.07, 0.5 * (g["y_pat"] + yt) + 0.05, 0.11, 0.13)
    )
    supra = cv.cover(_ellipse_sdf(x, y, g["x_pat"] + 0.05, g["y_pat"] - 0.17, 0.045, 0.09))
    pop = cv.cover(
        _ellipse_sdf(x, y, x_c + rx + 0.03, g["y_joint"] - 0.05, 0.07, 0.16)
        + 0.015 * cv.noise((5.0, 5.0))
    )
    pads = np.maximum(np.maximum(hoffa, supra), pop) * cv.cover(depth * -1 + 0.01)
    img = _paint(img, pads * limb, FAT * (1 + 0.04 * cv.noise((2.0, 2.0))))
    # popliteal vessels (flow voids)
    vx = x_c + rx + 0.035 + 0.01 * g["t"]
    vessels = cv.cover(_ellipse_sdf(x, y, vx, g["y_joint"] - 0.12, 0.014, 0.05))
    vessels = np.maximum(vessels, cv.cover(_ellipse_sdf(x, y, vx + 0.03, g["y_joint"], 0.01, 0.04)))
    img = _paint(img, vessels * (np.abs(g["t"]) < 0.2), 0.08)

    # -- tendons: quadriceps and patellar
    tvis = np.clip(g["pat_vis"] * 1.4, 0, 1)
    quad = _segment_dist(
        x, y, g["x_pat"] - 0.01, g["y_pat"] - 0.06, g["x_pat"] + 0.02, g["y_pat"] - 0.45
    )
    pat_t = _segment_dist(
        x, y, g["x_pat"] + 0.015, g["y_pat"] + 0.07, xt - g["rx_tib"] * 0.75, yt + 0.14
    )
    tend = cv.cover(np.minimum(quad - 0.016, pat_t - 0.013) * 1.0) * tvis
    img = _paint(img, tend, DARK + 0.04)

    # -- bones: marrow texture with a dark cortex, physeal scars
    trab = 1.0 + 0.09 * cv.noise((0.7, 0.7), 0.3) + 0.07 * cv.noise((3.0, 3.0))
    for name in ("femur", "tibia", "patella", "fibula"):
        d = cv.sdf[name]
        inside = cv.cover(d)
        # cortex thicker along the shafts (far from the joint)
        far = np.clip(np.abs(y - g["y_joint"]) / 0.3, 0.0, 1.0)
        cort = (0.9 + 2.2 * far**2) * cv.px
        marrow = cv.cover(d + cort)
        img = _paint(img, inside, DARK)
        img = _paint(img, marrow, MARROW * trab)
        cv.masks[name] = marrow
    scar_f = np.abs(y - (y_c - 0.11 * sc - 0.02 * np.cos(6 * (x - x_c)))) - 0.6 * cv.px
    scar_t = np.abs(yr - (yt + 0.075)) - 0.6 * cv.px
    img = _paint(img, cv.cover(scar_f) * cv.masks["femur"] * 0.5, 0.35)
    img = _paint(img, cv.cover(scar_t) * cv.masks["tibia"] * 0.5, 0.35)

    # -- articular cartilage bands
    th = g["cart"]
    band = lambda d, thick: cv.cover(-d) * cv.cover(d - thick)  # noqa: E731
    fem_art = _smoothstep(y, y_c - 0.02, y_c + 0.02) + _smoothstep(
        -(x - (x_c - 0.45 * rx)), 0.0, 0.02
    ) * _smoothstep(y, g["y_pat"] - 0.08, g["y_pat"] - 0.03)
    cart_f = band(d_fem, th) * np.clip(fem_art, 0, 1)
    cart_t = band(d_tib, th * 0.9) * _smoothstep(-(yr - yt - 0.01), 0.0, 0.01)
    cart_t *= _smoothstep(g["rx_tib"] * 0.98 - np.abs(xr - xt), 0.0, 0.02)
    cart_p = band(d_pat, th * 1.3) * _smoothstep(x - g["x_pat"], 0.0, 0.015)
    cart_tex = CARTILAGE * (1.0 + 0.05 * cv.noise((1.0, 3.0)))
    for name, m in (("cart_fem", cart_f), ("cart_tib", cart_t), ("cart_pat", cart_p)):
        img = _paint(img, m, cart_tex)
        cv.masks[name] = m
    cv.sdf["d_fem_band"] = d_fem
    cv.sdf["d_tib_band"] = d_tib

    # -- menisci: dark triangles on the plateau periphery (absent in the notch)
    mv, mh = g["men_vis"], g["men_h"]
    top = yt - 0.004
    pa = xt - g["rx_tib"] * 0.98
    pp = xt + g["rx_tib"] * 0.98
    ant = (
        (pa, top + 0.004 * 0),
        (pa + 0.004, top - mh * mv),
        (pa + g["men_ant"] * (0.3 + 0.7 * mv), top),
    )
    post = (
        (pp, top),
        (pp - 0.004, top - mh * 1.1 * mv),
        (pp - g["men_post"] * (0.3 + 0.7 * mv), top),
    )

    # rotate the triangles with the tibial slope so they sit on the plateau
    def _rot(p):
        px_, py_ = p
        return (xt + ca * (px_ - xt) - sa * (py_ - yt), yt + sa * (px_ - xt) + ca * (py_ - yt))

    d_ma = _triangle_sdf(x, y, *[_rot(p) for p in ant])
    d_mp = _triangle_sdf(x, y, *[_rot(p) for p in post])
    men_a = cv.cover(d_ma) * (mv > 0.05)
    men_p = cv.cover(d_mp) * (mv > 0.05)
    img = _paint(img, np.maximum(men_a, men_p), DARK)
    cv.masks["men_ant"], cv.masks["men_post"] = men_a, men_p
    cv.sdf["men_post"], cv.sdf["men_ant"] = d_mp, d_ma

    # -- cruciate ligaments in the notch
    acl_a = (x_c + 0.55 * rx, y_c + 0.35 * ry)
    acl_b = (xt - 0.3 * g["rx_tib"], yt + 0.005)
    d_acl = _segment_dist(x, y, *acl_a, *acl_b) - 0.017 * sc
    acl_vis = np.exp(-(((g["t"] - g["acl_t"]) / 0.08) ** 2))
    pcl_p0 = (x_c - 0.1 * rx, y_c + 0.55 * ry)
    pcl_p1 = (x_c + 0.55 * rx, y_c + 1.25 * ry)
    pcl_p2 = (xt + 0.8 * g["rx_tib"], yt + 0.05)
    d_pcl = _bezier_dist(x, y, pcl_p0, pcl_p1, pcl_p2) - 0.022 * sc
    pcl_vis = np.exp(-(((g["t"] - g["pcl_t"]) / 0.08) ** 2))
    lig_tex = LIGAMENT * (1 + 0.25 * cv.noise((0.8, 0.8)))
    img = _paint(img, cv.cover(d_acl) * (acl_vis > 0.35), lig_tex)
    img = _paint(img, cv.cover(d_pcl) * (pcl_vis > 0.35), DARK)
    cv.masks["acl_vis"] = np.broadcast_to(acl_vis > 0.35, (cv.S, 1, 1))
    cv.geom_extra = {"acl": (acl_a, acl_b), "tib_rot": (ca, sa)}

    img = img * limb
    cv.masks["object"] = limb > 0.5
    return np.ascontiguousarray(np.broadcast_to(img, shape), dtype=np.float32)


# ---------------------------------------------------------------------------------------------
# lesions: each returns (new image, coverage (S, h, w)) for the given slices


def _span(cv: _Canvas, rng: np.random.Generator, allowed: np.ndarray, lo: int, hi: int):
    """Pick ``lo..hi`` consecutive slices whose centre is allowed; weights (S,1,1) per slice."""
    S = cv.S
    n = int(min(rng.integers(lo, hi + 1), S))
    cand = np.flatnonzero(allowed)
    if cand.size == 0:
        return None
    centre = int(rng.choice(cand))
    start = int(np.clip(centre - n // 2, 0, S - n))
    idx = np.arange(start, start + n)
    weight = np.zeros((S, 1, 1))
    prof = np.sin(np.pi * (np.arange(n) + 1) / (n + 1)) ** 0.5
    weight[idx, 0, 0] = prof / prof.max()
    return weight


def _blob(cv, rng, cx, cy, rx, ry, weight, rough=0.25):
    scale = np.sqrt(np.maximum(weight, 1e-3))
    d = _ellipse_sdf(cv.x, cv.y, cx, cy, rx * scale, ry * scale, rng.uniform(-0.5, 0.5))
    d = d + rough * min(rx, ry) * cv.noise((2.5, 2.5), 1.0)
    return cv.cover(d) * (weight > 0)


def _lesion(cv: _Canvas, img: np.ndarray, label: str, rng: np.random.Generator):
    g, x, y = cv.g, cv.x, cv.y
    t_abs = np.abs(g["t"][:, 0, 0])
    sc = g["sc"]
    if label in ("Bone- Subchondral edema", "Bone-Fracture/Contusion/dislocation"):
        big = label.startswith("Bone-Fracture")
        w = _span(cv, rng, t_abs > 0.1, 2, 4 if big else 3)
        if w is None:
            return img, None
        r = (0.055 if big else 0.04) * rng.uniform(0.8, 1.25)
        if rng.uniform() < 0.6:  # femoral condyle, just above the articular surface
            ang = rng.uniform(0.25, 0.75) * np.pi
            cx = g["x_cond"] + 0.8 * g["rx_cond"] * np.cos(ang) * -1
            cy = g["y_cond"] + (g["ry_cond"] - r * 0.9) * np.sin(ang)
            bone = cv.masks["femur"]
        else:  # tibial plateau
            cx = g["x_tib"] + rng.uniform(-0.6, 0.6) * g["rx_tib"]
            cy = g["y_tib"] + r * 1.0
            bone = cv.masks["tibia"]
        m = _blob(cv, rng, cx, cy, r * 1.3, r, w, 0.35) * bone
        val = FLUID * (0.95 + 0.08 * cv.noise((1.5, 1.5)))
        img = _paint(img, m * (0.7 if not big else 0.8), val)
        if big:  # fracture line: a dark thin line through the contusion
            ang = rng.uniform(-0.6, 0.6)
            d = (
                _segment_dist(
                    x,
                    y,
                    cx - r * np.cos(ang),
                    cy - r * np.sin(ang),
                    cx + r * np.cos(ang),
                    cy + r * np.sin(ang),
                )
                - 0.5 * cv.px
            )
            img = _paint(img, cv.cover(d) * m, 0.15)
        return img, m
    if label.startswith("Cartilage"):
        full = "Full" in label
        w = _span(cv, rng, t_abs > 0.1, 2, 3)
        if w is None:
            return img, None
        half = rng.uniform(0.035, 0.06) * (1.3 if full else 1.0)
        if rng.uniform() < 0.65:
            cart, d, ref = cv.masks["cart_fem"], cv.sdf["d_fem_band"], g["x_cond"]
            cx = ref + rng.uniform(-0.5, 0.5) * g["rx_cond"]
        else:
            cart, d, ref = cv.masks["cart_tib"], cv.sdf["d_tib_band"], g["x_tib"]
            cx = ref + rng.uniform(-0.5, 0.5) * g["rx_tib"]
        win = _smoothstep(half * np.sqrt(np.maximum(w, 1e-3)) - np.abs(x - cx), 0.0, 0.008)
        depth = 1.0 if full else 0.5
        # partial: the outer part of the band is replaced by fluid; full: down to the bone
        outer = cv.cover(-(d - g["cart"] * (1 - depth)))
        m = cart * win * outer * (w > 0)
        img = _paint(img, m, FLUID * 0.95)
        if full:  # reactive subchondral signal under a full-thickness defect
            img = _paint(img, cv.cover(d + 0.02) * cv.cover(-d - 0.035) * win * 0.4, FLUID)
        return img, m
    if label == "Meniscus Tear":
        w = _span(cv, rng, t_abs > 0.17, 2, 4)
        if w is None:
            return img, None
        post = rng.uniform() < 0.75
        men = cv.masks["men_post" if post else "men_ant"]
        # oblique/horizontal bright cleft through the horn
        xt, yt, rxt = g["x_tib"], g["y_tib"], g["rx_tib"]
        sgn = 1 if post else -1
        edge = xt + sgn * rxt * 0.98
        length = g["men_post" if post else "men_ant"]
        ax, ay = edge - sgn * length * 0.9, yt - 0.006
        bx, by = (
            edge - sgn * length * rng.uniform(0.05, 0.3),
            yt - g["men_h"] * rng.uniform(0.2, 0.7),
        )
        d = _segment_dist(x, y, ax, ay, bx, by) - 0.55 * cv.px
        m = cv.cover(d) * cv.cover(-(cv.sdf["men_post" if post else "men_ant"]) + 0.3 * cv.px)
        m = m * (w > 0)
        img = _paint(img, m * 0.85, FLUID * 0.8)
        # annotators box the torn horn: return the horn coverage as the box support
        return img, (m, men * (w > 0))
    if label.startswith("Ligament - ACL"):
        high = "High" in label
        w = _span(cv, rng, cv.masks["acl_vis"][:, 0, 0], 2, 3)
        if w is None:
            return img, None
        (ax, ay), (bx, by) = cv.geom_extra["acl"]
        thick = 0.017 * sc * (1.8 if high else 1.4)
        d = _segment_dist(x, y, ax, ay, bx, by) - thick
        m = cv.cover(d + 0.01 * cv.noise((2.0, 2.0), 1.0)) * (w > 0) * cv.masks["limb"]
        base = (0.5 if high else 0.3) * (1 + 0.25 * cv.noise((1.0, 1.0)))
        img = _paint(img, m, base)
        if high:  # fluid-filled discontinuity in the mid substance
            mx, my = 0.5 * (ax + bx), 0.5 * (ay + by)
            gap = cv.cover(_ellipse_sdf(x, y, mx, my, 0.02, 0.03)) * m
            img = _paint(img, gap, FLUID * 0.85)
        return img, m
    if label == "Joint Effusion":
        w = _span(cv, rng, cv.g["pat_vis"][:, 0, 0] > 0.6, 3, 6)
        if w is None:
            return img, None
        cx = g["x_pat"] + 0.07 + 0.02 * rng.uniform(-1, 1)
        cy = g["y_pat"] - 0.2 * rng.uniform(0.9, 1.2)
        m = _blob(cv, rng, cx, cy, 0.04 * rng.uniform(0.8, 1.2), 0.17, w, 0.2)
        m = m * (1 - cv.masks["femur"]) * (1 - cv.masks["patella"]) * cv.masks["limb"]
        img = _paint(img, m, FLUID * (1 + 0.03 * cv.noise((1.5, 1.5))))
        return img, m
    if label == "Periarticular cysts":
        side = -1 if rng.uniform() < 0.75 else 1  # Baker's cyst: medial side
        allowed = (side * g["t"][:, 0, 0] > 0.05) & (t_abs < 0.4)
        w = _span(cv, rng, allowed, 2, 4)
        if w is None:
            return img, None
        cx = g["x_cond"] + g["rx_cond"] + 0.07
        cy = g["y_joint"] - rng.uniform(0.0, 0.08)
        m = _blob(cv, rng, cx, cy, 0.05 * rng.uniform(0.8, 1.3), 0.08 * rng.uniform(0.8, 1.3), w)
        m = m * cv.masks["limb"] * (1 - cv.masks["femur"])
        img = _paint(img, m, FLUID * (1 + 0.03 * cv.noise((1.0, 1.0))))
        return img, m
    raise ValueError(f"unknown lesion label {label!r}")


def _bbox(cover: np.ndarray, margin: int, shape: tuple[int, int]):
    rows = np.flatnonzero(cover.max(axis=1) > 0.5)
    cols = np.flatnonzero(cover.max(axis=0) > 0.5)
    if rows.size == 0 or cols.size == 0:
        return None
    h, w = shape
    y0, y1 = max(rows[0] - margin, 0), min(rows[-1] + 1 + margin, h)
    x0, x1 = max(cols[0] - margin, 0), min(cols[-1] + 1 + margin, w)
    return int(x0), int(y0), int(x1 - x0), int(y1 - y0)


def render_volume(
    rng: np.random.Generator,
    num_slices: int,
    size: tuple[int, int],
    labels: list[str],
    box_margin: int | None = None,
) -> RenderedVolume:
    """Draw one knee volume with the requested lesions.

    Args:
        rng: Random generator (all randomness of the volume comes from it).
        num_slices: Number of sagittal slices ``S``.
        size: Image size ``(h, w)`` (the reconstruction size).
        labels: fastMRI+ labels of :data:`LESION_LABELS` to draw; a lesion whose anatomy is
            absent from every slice (e.g. an ACL sprain in a 1-slice volume) is skipped.
        box_margin: Pixels added around the lesion's extent (annotators draw loose boxes);
            default ``max(1, round(h / 64))``.

    Returns:
        :class:`RenderedVolume` in the reconstruction frame (upside-down anatomy, like the
        arrays fastMRI stores).
    """
    h, w = size
    cv = _Canvas(rng, num_slices, h, w)
    img = _draw_anatomy(cv)
    margin = max(1, round(h / 64)) if box_margin is None else box_margin
    lesions = []
    for label in labels:
        img, cover = _lesion(cv, img, label, rng)
        if cover is None:
            continue
        support = cover
        if isinstance(cover, tuple):
            cover, support = cover
        cover = np.broadcast_to(cover, img.shape)
        support = np.broadcast_to(support, img.shape)
        slices, boxes = [], []
        for s in range(num_slices):
            if cover[s].max() <= 0.5:
                continue
            joint = np.maximum(cover[s], support[s])
            box = _bbox(joint[::-1], margin, size)  # flipped to the reconstruction frame
            if box is not None and box[2] >= 3 and box[3] >= 3:
                slices.append(s)
                boxes.append(box)
        if slices:
            mask = np.ascontiguousarray(cover[:, ::-1], dtype=np.float32)
            keep = np.zeros(num_slices, bool)
            keep[slices] = True
            mask = mask * keep[:, None, None]
            lesions.append(LesionInstance(label, tuple(slices), tuple(boxes), mask))
    image = np.ascontiguousarray(np.clip(img, 0.0, None)[:, ::-1], dtype=np.float32)
    obj = np.ascontiguousarray(np.broadcast_to(cv.masks["object"], image.shape)[:, ::-1])
    return RenderedVolume(image=image, object_mask=obj, lesions=tuple(lesions))
