"""Render a scene as an orbital camera sees it: a BEFORE image (the ground and the objects that
will have vanished, no hardware, no new changes) and an AFTER image of the same ground under a
different sun and gain, misregistered by a realistic shift; written as map-projected GeoTIFFs
with a ``truth.json``. With a scene family (``orbitscout.sim.families``) the ground, the items,
each image's PSF, noise, stripes, seam and compression and the sun change are drawn from its
ranges; without one (``tuned``) the renderer's own fixed look.

How an image is made (all numpy/scipy, vectorised):

1. Ground fields on the camera's pixel grid. Albedo and topography are power-law random fields
   drawn once in the Fourier domain on a periodic domain a little larger than the frame; the
   BEFORE grid, shifted by a sub-pixel amount, is the same field evaluated through a phase ramp
   (exact, no interpolation). Craters (a size-frequency distribution) add analytic slopes,
   averaged over each pixel's area and rendered in batches; rocks are splatted with their
   shadows (bilinear, flux-conserving).
2. Shading: a lunar-Lambert photometric function of the local incidence from the slopes, with a
   floor of diffuse skylight (Mars) or almost none (Moon).
3. Changes (AFTER only): each item is rendered only in its own neighbourhood, supersampled
   finely enough to resolve its smallest part and averaged back to pixels, so a sub-pixel rover
   keeps its flux. Items change the albedo (blast zones, scars, debris fans, halos, tracks),
   lay opaque bright objects on the ground (rover, parachute, backshell, heat shield, specks)
   and cast their shadows.
4. The point-spread function (diffraction + detector diffusion + jitter, ``Camera.psf_kernel``),
   photon and read noise, gain and quantisation to the product's integer type; with a family's
   look also column stripes and a seam (before the noise) and 8 x 8 block-DCT compression.

Conventions: pixel (x, y) = (column, row), integer at the pixel centre; the AFTER grid is the
reference; a ground point at BEFORE pixel (x, y) lies at AFTER pixel (x + dx, y + dy).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from orbitscout.core.errors import OrbitscoutError
from orbitscout.core.illumination import Sun
from orbitscout.observe.cameras import Camera, get_camera
from orbitscout.sim.families import (
    Family,
    Look,
    angle_between,
    apply_family,
    block_compress,
    column_gains,
    draw_look,
    draw_sun_change,
    get_family,
    psf_width_camera,
    sun_before,
)
from orbitscout.sim.kinds import KINDS, ItemKind
from orbitscout.sim.scene import Item, Scene, add_changes, make_scene

F32 = np.float32


# ---------------------------------------------------------------------------------------------
# Grids


@dataclass(frozen=True)
class Grid:
    """A square pixel grid on the ground. Pixel (x, y) has its centre at
    east = e0 + (x + ox) * gsd, north = n0 - (y + oy) * gsd (metres from the site)."""

    n: int
    gsd: float
    e0: float
    n0: float
    ox: float = 0.0
    oy: float = 0.0

    def to_pixel(self, east, north):
        return (np.asarray(east) - self.e0) / self.gsd - self.ox, (
            self.n0 - np.asarray(north)
        ) / self.gsd - self.oy

    def to_ground(self, x, y):
        return self.e0 + (np.asarray(x) + self.ox) * self.gsd, self.n0 - (
            np.asarray(y) + self.oy
        ) * self.gsd


@dataclass(frozen=True)
class Illumination:
    incidence_deg: float
    azimuth_deg: float  # direction of the sun, clockwise from north

    @property
    def sun_en(self) -> tuple[float, float]:
        """Horizontal unit vector (east, north) toward the sun."""
        a = math.radians(self.azimuth_deg)
        return math.sin(a), math.cos(a)

    @property
    def shadow_tan(self) -> float:
        """Length of a cast shadow per metre of height (tan of the incidence, held at 85 deg)."""
        return math.tan(math.radians(min(self.incidence_deg, 85.0)))

    @property
    def sun_vec(self) -> np.ndarray:
        i = math.radians(self.incidence_deg)
        se, sn = self.sun_en
        return np.array([math.sin(i) * se, math.sin(i) * sn, math.cos(i)])


def photometric(cos_i, lunar_lambert_l: float):
    """Lunar-Lambert function at nadir view (cos e = 1): L * 2 cos i / (cos i + 1)
    + (1 - L) cos i (McEwen 1991); 0 where the sun is below the local horizon."""
    c = np.maximum(cos_i, 0.0)
    return lunar_lambert_l * 2.0 * c / (c + 1.0) + (1.0 - lunar_lambert_l) * c


# ---------------------------------------------------------------------------------------------
# Terrain


class TerrainModel:
    """Albedo and slope fields of one scene's ground, evaluable on any shifted copy of a grid."""

    def __init__(self, scene: Scene, grid: Grid, pad: int):
        import scipy.fft as sfft

        self.scene, self.grid, self.pad = scene, grid, pad
        t = scene.terrain
        m = grid.n + 2 * pad
        m = sfft.next_fast_len(m, real=True)
        self.m = m
        rng = np.random.default_rng([t.seed, 11])
        ky = np.fft.fftfreq(m).astype(F32)[:, None]
        kx = np.fft.rfftfreq(m).astype(F32)[None, :]
        k = np.sqrt(kx * kx + ky * ky)
        k[0, 0] = 1.0
        self.kx, self.ky = kx, ky

        def white():
            w = rng.standard_normal((m, m // 2 + 1), dtype=F32) + 1j * rng.standard_normal(
                (m, m // 2 + 1), dtype=F32
            )
            w[0, 0] = 0
            return w.astype(np.complex64)

        # albedo: relative variation, power law with a gentle roll-off at the pixel scale
        # plus a rougher small-scale component (mottling of a few pixels; assumption)
        spec = k ** (-t.albedo_slope / 2) + 0.15 * (2 * k) ** (-0.9) * (k > 0.02)
        a_spec = white() * spec.astype(F32)
        a0 = sfft.irfft2(a_spec, s=(m, m), workers=-1)
        self.a_spec = a_spec * F32(t.albedo_contrast / max(float(a0.std()), 1e-12))
        # heights (in pixel units of gsd metres); slopes normalised to rms_slope at pixel scale
        h_spec = white() * (k ** (-t.height_slope / 2)).astype(F32)
        gx = sfft.irfft2(h_spec * (2j * np.pi * kx), s=(m, m), workers=-1)
        gy = sfft.irfft2(h_spec * (2j * np.pi * ky), s=(m, m), workers=-1)
        rms = float(np.sqrt((gx * gx + gy * gy).mean()))
        self.h_spec = h_spec * F32(math.tan(math.radians(t.rms_slope_deg)) / max(rms, 1e-12))
        self.craters = _crater_population(scene, grid, pad, m)
        self.rocks = _rock_population(scene, grid, pad, m)

    def fields(self, grid: Grid) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(albedo, d height / d east, d height / d north) on ``grid`` (a copy of the
        reference grid shifted by grid.ox, grid.oy pixels, and at most the margin the model
        was made with wider on each side)."""
        import scipy.fft as sfft

        t = self.scene.terrain
        n, pad, m = grid.n, self.pad, self.m
        # field value at reference-grid pixel (x + ox, y + oy) = periodic coordinate + pad
        sx, sy = grid.ox, grid.oy
        ramp = np.exp(2j * np.pi * (self.kx * F32(sx) + self.ky * F32(sy))).astype(np.complex64)
        sl = (slice(pad, pad + n), slice(pad, pad + n))
        a = sfft.irfft2(self.a_spec * ramp, s=(m, m), workers=-1)[sl]
        hs = self.h_spec * ramp
        gx = sfft.irfft2(hs * (2j * np.pi * self.kx).astype(np.complex64), s=(m, m), workers=-1)[sl]
        gy = sfft.irfft2(hs * (2j * np.pi * self.ky).astype(np.complex64), s=(m, m), workers=-1)[sl]
        albedo = F32(t.mean_albedo) * (1.0 + a)
        np.maximum(albedo, F32(0.2 * t.mean_albedo), out=albedo)
        gx = np.ascontiguousarray(gx, dtype=F32)
        gy = np.ascontiguousarray(gy, dtype=F32)
        _add_craters(self.craters, grid, gx, gy, albedo)
        # image rows grow southward: d/dnorth = -d/drow
        return albedo, gx, -gy


def _crater_population(scene: Scene, grid: Grid, pad: int, m: int) -> np.ndarray:
    """Craters [east, north, radius_m, depth_over_d] over the frame and its margin."""
    t = scene.terrain
    rng = np.random.default_rng([t.seed, 12])
    g = grid.gsd
    side = (grid.n + 2 * pad) * g
    area = side * side
    e_lo, n_hi = grid.e0 - pad * g, grid.n0 + pad * g
    rows = []
    d = 4.0 * g  # smallest crater: 4 px across
    d_max = max(d * 1.5, grid.n * g / 6.0)
    while d < d_max:
        # areal fraction per octave falls slowly with size (big craters are rarer and older)
        frac = t.crater_fraction * (d / (4.0 * g)) ** -0.35 * (g / 5.0) ** 0.25
        count = rng.poisson(frac * area / (math.pi / 4 * (1.41 * d) ** 2))
        count = min(count, 200_000)
        dd = d * 2 ** rng.uniform(0, 1, count)
        e = e_lo + rng.uniform(0, side, count)
        nn = n_hi - rng.uniform(0, side, count)
        # d/D: fresh ~0.2 (Pike 1977), most degraded; larger craters older and shallower
        dep = 0.2 * rng.beta(1.3, 2.5, count) * (1.0 if d < 200 else 0.6) + 0.02
        rows.append(np.column_stack([e, nn, dd / 2, dep]))
        d *= 2
    if not rows:
        return np.zeros((0, 4))
    return np.concatenate(rows)


CRATER_SAMPLES = 3  # samples per pixel side over which crater slopes are averaged


def _add_craters(
    craters: np.ndarray, grid: Grid, gx: np.ndarray, gy: np.ndarray, albedo: np.ndarray
) -> None:
    """Add crater slopes (per metre; gx along columns, gy along rows) on ``grid``, batched by
    size so each batch is one vectorised computation and one bincount. Each pixel gets the
    mean of CRATER_SAMPLES x CRATER_SAMPLES samples over its area, as a detector integrates
    over its pixel: sampled at pixel centres only, a crater's rim (where the slope turns
    over) aliased differently at each sub-pixel shift between looks, and unchanged craters
    left residuals a camera would not."""
    if len(craters) == 0:
        return
    n = grid.n
    g = grid.gsd
    cx, cy = grid.to_pixel(craters[:, 0], craters[:, 1])
    r_px = craters[:, 2] / g
    half = np.ceil(2.0 * r_px).astype(int) + 1
    keep = (cx + half >= 0) & (cx - half < n) & (cy + half >= 0) & (cy - half < n)
    subs = ((np.arange(CRATER_SAMPLES) + 0.5) / CRATER_SAMPLES - 0.5).astype(F32)
    weight = F32(1.0 / CRATER_SAMPLES**2)
    idx_all, sx_all, sy_all, da_all = [], [], [], []
    for hb in np.unique(half[keep]):
        sel = keep & (half == hb)
        idx = np.nonzero(sel)[0]
        size = (2 * hb + 1) ** 2
        chunk = max(1, 2_000_000 // size)
        offs = np.arange(-hb, hb + 1)
        for s0 in range(0, len(idx), chunk):
            ii = idx[s0 : s0 + chunk]
            x0 = np.floor(cx[ii]).astype(int)
            y0 = np.floor(cy[ii]).astype(int)
            px = x0[:, None, None] + offs[None, None, :]
            py = y0[:, None, None] + offs[None, :, None]
            cdx = (px - cx[ii, None, None]).astype(F32)
            cdy = (py - cy[ii, None, None]).astype(F32)
            radius = r_px[ii, None, None].astype(F32)
            depth = (craters[ii, 3] * 2.0)[:, None, None].astype(F32) * radius  # px units
            rim = F32(0.04 * 2.0) * radius * (craters[ii, 3] / 0.2)[:, None, None].astype(F32)
            shape = np.broadcast_shapes(cdx.shape, cdy.shape)
            sx, sy, da = (np.zeros(shape, F32) for _ in range(3))
            for oy in subs:
                for ox in subs:
                    dx, dy = cdx + ox, cdy + oy
                    rr = np.sqrt(dx * dx + dy * dy) + F32(1e-6)
                    rho = rr / radius
                    # height: depth*(rho^2 - 1) + rim inside, rim * rho^-3 outside (Pike-like)
                    dh = np.where(rho < 1.0, 2.0 * depth * rho, -3.0 * rim * rho**-4) / radius
                    dh = np.where(rho < 2.0, dh, 0.0).astype(F32)  # slope per gsd metres
                    sx += dh * dx / rr
                    sy += dh * dy / rr
                    # crater floors collect a little dust/fines (slightly brighter: assumption)
                    da += np.where(rho < 0.7, F32(0.03), F32(0.0))
            ok = (px >= 0) & (px < n) & (py >= 0) & (py < n) & ((sx != 0) | (sy != 0))
            flat = np.broadcast_to(py * n + px, shape)[ok]
            idx_all.append(flat)
            sx_all.append(sx[ok] * weight)
            sy_all.append(sy[ok] * weight)
            da_all.append(da[ok] * weight)
    if not idx_all:
        return
    flat = np.concatenate(idx_all)
    gx += np.bincount(flat, np.concatenate(sx_all), minlength=n * n).reshape(n, n).astype(F32)
    gy += np.bincount(flat, np.concatenate(sy_all), minlength=n * n).reshape(n, n).astype(F32)
    albedo *= 1.0 + np.bincount(flat, np.concatenate(da_all), minlength=n * n).reshape(n, n).astype(
        F32
    )


def _rock_population(scene: Scene, grid: Grid, pad: int, m: int) -> np.ndarray:
    """Rocks [east, north, diameter] larger than ~0.7 px, when the camera can see any."""
    t = scene.terrain
    g = grid.gsd
    d_min = max(0.7 * g, 0.25)
    if d_min > 2.0:
        return np.zeros((0, 3))
    rng = np.random.default_rng([t.seed, 13])
    side = (grid.n + 2 * pad) * g
    # cumulative N(>D) = rho1 * D^-2.5 per m^2 (power-law rock abundance; Golombek & Rapp 1997
    # give exponential laws -- this simpler form is an assumption)
    count = min(rng.poisson(t.rock_density_per_m2 * d_min**-2.5 * side * side), 400_000)
    u = rng.uniform(0, 1, count)
    dia = d_min * (1 - u) ** (-1 / 2.5)
    dia = np.minimum(dia, 3.0)  # boulders larger than 3 m are left out
    e = grid.e0 - pad * g + rng.uniform(0, side, count)
    nn = grid.n0 + pad * g - rng.uniform(0, side, count)
    return np.column_stack([e, nn, dia])


def _splat(img: np.ndarray, x: np.ndarray, y: np.ndarray, w: np.ndarray) -> None:
    """Add weights ``w`` at sub-pixel positions (x, y) bilinearly (flux-conserving)."""
    n_r, n_c = img.shape
    x0 = np.floor(x).astype(int)
    y0 = np.floor(y).astype(int)
    fx = x - x0
    fy = y - y0
    flat = img.reshape(-1)
    for ddx, ddy, ww in (
        (0, 0, (1 - fx) * (1 - fy)),
        (1, 0, fx * (1 - fy)),
        (0, 1, (1 - fx) * fy),
        (1, 1, fx * fy),
    ):
        xx, yy = x0 + ddx, y0 + ddy
        ok = (xx >= 0) & (xx < n_c) & (yy >= 0) & (yy < n_r)
        flat += np.bincount(yy[ok] * n_c + xx[ok], (w * ww)[ok], minlength=img.size).astype(
            img.dtype
        )


def _splat_box(
    img: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    w: np.ndarray,
    h: np.ndarray,
    total: np.ndarray,
    disc: bool = False,
    along: tuple[float, float] = (1.0, 0.0),
) -> None:
    """Spread ``total`` uniformly over w x h pixel boxes (or the ellipses inside them, with
    ``disc``) centred at (x, y), their w side along the unit vector ``along`` (column, row;
    along the columns by default): each is cut into ceil(w) x ceil(h) pieces splatted
    bilinearly (flux-conserving)."""
    ux, uy = along
    mw = np.maximum(np.ceil(w).astype(int), 1)
    mh = np.maximum(np.ceil(h).astype(int), 1)
    small = (mw == 1) & (mh == 1)
    if small.any():
        _splat(img, x[small], y[small], total[small])
    for a, b in set(zip(mw[~small].tolist(), mh[~small].tolist(), strict=True)):
        sel = (mw == a) & (mh == b)
        fx = ((np.arange(a) + 0.5) / a - 0.5)[None, :, None]
        fy = ((np.arange(b) + 0.5) / b - 0.5)[None, None, :]
        fw, fh = fx * w[sel, None, None], fy * h[sel, None, None]
        xx = x[sel, None, None] + fw * ux - fh * uy
        yy = y[sel, None, None] + fw * uy + fh * ux
        inside = np.ones((1, a, b))
        if disc and a * b > 2:
            inside = ((2 * fx) ** 2 + (2 * fy) ** 2 <= 1.0 + 1.0 / max(a, b)).astype(float)
        ww = (total[sel] / inside.sum())[:, None, None] * inside
        ww = np.broadcast_to(ww, xx.shape)
        _splat(img, xx.reshape(-1), yy.reshape(-1), ww.reshape(-1))


def rock_shadows(
    shadow: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    d_px: np.ndarray,
    tan_i: float,
    sun_en: tuple[float, float],
) -> None:
    """Add the cast shadows of rocks (columns ``x``, rows ``y``, diameters ``d_px``) to the
    ``shadow`` coverage (in place; not clipped).

    A rock is taken as half as high as wide (*assumption*): its shadow is an ellipse
    ``d_px * tan_i / 2`` long down-sun and ``d_px`` across, just behind it. Laid along the
    sun at any azimuth: a box around it at an oblique sun spread it thin, so that a change of
    azimuth alone changed how dark an unchanged rock's shadow was.

    Parameters
    ----------
    shadow : numpy.ndarray
        Coverage field (rows, columns) added to.
    x, y, d_px : numpy.ndarray
        The rocks' centres and diameters (pixels).
    tan_i : float
        Tangent of the solar incidence angle.
    sun_en : tuple of float
        Horizontal unit vector (east, north) toward the sun.
    """
    se, sn = sun_en
    length = 0.5 * d_px * tan_i
    off = d_px / 2 + length / 2
    # rows grow southward: down-sun is (-east, +north) in (column, row)
    _splat_box(
        shadow, x - se * off, y + sn * off, length, d_px, d_px * length, disc=True, along=(-se, sn)
    )


# ---------------------------------------------------------------------------------------------
# Items: evaluated on supersampled ground coordinates (metres from the item, east/north); how
# each kind looks is defined in orbitscout.sim.kinds


def _kind_of(item: Item) -> ItemKind:
    spec = KINDS.get(item.kind)
    if spec is None:
        raise OrbitscoutError(f"cannot render item kind {item.kind!r}")
    return spec


def item_fields(
    item: Item, e: np.ndarray, n: np.ndarray, sun_en: tuple[float, float]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The fields of ``item`` at ground offsets (``e``, ``n``) metres from it, drawn by its
    kind's definition (``orbitscout.sim.kinds``).

    Parameters
    ----------
    item
        The item.
    e, n
        Ground offsets east and north of the item in metres (float32 arrays, one shape).
    sun_en
        Horizontal unit vector (east, north) toward the sun.

    Returns
    -------
    factor, alpha, refl
        float32 arrays of ``e``'s shape: ``factor`` multiplies the ground's albedo; ``alpha``
        is the object's coverage (where it is 1 the object hides the ground); ``refl`` its
        reflectance times its coverage.

    Raises
    ------
    OrbitscoutError
        For an item of an unknown kind.
    """
    factor, alpha, refl = _kind_of(item).fields(item, e, n, sun_en)
    return (
        np.asarray(factor, dtype=F32),
        np.asarray(alpha, dtype=F32),
        np.asarray(refl, dtype=F32),
    )


def item_min_feature_m(item: Item) -> float:
    """Size of the smallest part of an item that must be resolved when supersampling."""
    p = item.params
    sizes = [item.size_m]
    for key in ("width_m", "length_m", "radius_m"):
        if key in p:
            sizes.append(p[key])
    for sp in p.get("specks", []):
        sizes.append(sp[2] * 0.8)
    return max(0.2, min(sizes))


def item_height_m(item: Item) -> float:
    return float(item.params.get("height_m", 0.0))


def supersampling(item: Item, gsd: float, cap: int = 32) -> int:
    """Sub-samples per pixel so the item's smallest part spans ~12 of them (its area is then
    right to a few per cent), at most ``cap``."""
    return int(min(cap, max(2, math.ceil(12.0 * gsd / item_min_feature_m(item)))))


def render_item_patch(
    item: Item,
    grid: Grid,
    sun_en: tuple[float, float],
    shadow_len_m: float,
    s: int | None = None,
):
    """Render one item on ``grid`` at ``s`` sub-samples per pixel, averaged back to pixels.

    Returns (y0, x0, factor, alpha, refl_alpha, shadow) patches, or None when the item misses
    the grid. ``alpha`` is the pixel-averaged coverage (flux-conserving: its sum times gsd^2 is
    the object's area); ``refl_alpha`` the pixel-averaged coverage x reflectance; ``shadow``
    the fraction of the pixel in the object's cast shadow (not under the object)."""
    g = grid.gsd
    s = s or supersampling(item, g)
    reach = _kind_of(item).reach_m(item, shadow_len_m, item_min_feature_m(item))
    cx, cy = grid.to_pixel(item.east_m, item.north_m)
    rp = reach / g + 2
    x0, x1 = int(math.floor(cx - rp)), int(math.ceil(cx + rp)) + 1
    y0, y1 = int(math.floor(cy - rp)), int(math.ceil(cy + rp)) + 1
    x0c, y0c = max(x0, 0), max(y0, 0)
    x1c, y1c = min(x1, grid.n), min(y1, grid.n)
    if x0c >= x1c or y0c >= y1c:
        return None
    w, h = x1c - x0c, y1c - y0c
    # keep the supersampled patch to a bounded size
    while s > 1 and w * h * s * s > 6_000_000:
        s -= 1
    sub = (np.arange(s, dtype=np.float64) + 0.5) / s - 0.5
    xs = (np.arange(x0c, x1c)[:, None] + sub[None, :]).reshape(-1)
    ys = (np.arange(y0c, y1c)[:, None] + sub[None, :]).reshape(-1)
    ge, _ = grid.to_ground(xs, 0.0)
    _, gn = grid.to_ground(0.0, ys)
    e = (ge - item.east_m).astype(F32)[None, :]
    nn = (gn - item.north_m).astype(F32)[:, None]
    e, nn = np.broadcast_arrays(e, nn)
    e = np.ascontiguousarray(e)
    nn = np.ascontiguousarray(nn)
    factor, alpha, refl = item_fields(item, e, nn, sun_en)
    shadow = np.zeros_like(alpha)
    if shadow_len_m > 0 and item_height_m(item) > 0:
        # a point is shadowed if the object lies between it and the sun
        for f in (0.25, 0.5, 0.75, 1.0):
            de, dn = F32(sun_en[0] * shadow_len_m * f), F32(sun_en[1] * shadow_len_m * f)
            _, a2, _ = item_fields(item, e + de, nn + dn, sun_en)
            np.maximum(shadow, a2, out=shadow)
        shadow *= 1 - alpha

    def pool(a):
        return a.reshape(h, s, w, s).mean(axis=(1, 3))

    return y0c, x0c, pool(factor), pool(alpha), pool(refl), pool(shadow)


# ---------------------------------------------------------------------------------------------
# A whole image


@dataclass
class Rendered:
    image: np.ndarray  # digitised product (uint16 / uint8)
    radiance: np.ndarray  # noiseless blurred radiance (float32), for tests
    timings: dict = field(default_factory=dict)


def render_image(
    scene: Scene,
    camera: Camera,
    grid: Grid,
    terrain: TerrainModel,
    illum: Illumination,
    with_changes: bool,
    rng: np.random.Generator,
    exposure: float = 1.0,
    gain_scale: float = 1.0,
    noise: bool = True,
    items: Sequence[Item] | None = None,
    look: Look | None = None,
) -> Rendered:
    """Render one look of ``scene`` on ``grid``.

    Parameters
    ----------
    scene, camera, grid, terrain, illum
        What is seen, by what, on which pixels, the ground's fields and the sun.
    with_changes
        Whether the scene's items are on the ground (when ``items`` is None).
    rng
        The generator of the framelet gains and the noise.
    exposure, gain_scale
        Factors on the collected signal and on the gain (e-/DN).
    noise
        Whether to add noise and the look's compression artefacts (else only digitise).
    items
        The items on the ground in this look (overrides ``with_changes``).
    look
        The image's look from a scene family (PSF width, noise, stripes, seam, compression);
        None: the camera's own.

    Returns
    -------
    Rendered
        The digitised product, the noiseless blurred radiance and timings.
    """
    t0 = time.perf_counter()
    t = scene.terrain
    if look is not None:
        camera = psf_width_camera(camera, look)
    changes = (scene.items if with_changes else ()) if items is None else items
    # the ground is drawn a PSF radius beyond the frame, so that the frame's edge pixels see
    # ground on every side as a detector's do (a blur reflected at the frame's edge would
    # differ between two looks at shifted frames)
    kernel = camera.psf_kernel(sampling=1).astype(F32)
    margin = kernel.shape[0] // 2
    wide = replace(grid, n=grid.n + 2 * margin, ox=grid.ox - margin, oy=grid.oy - margin)
    albedo, ge, gn = terrain.fields(wide)
    t1 = time.perf_counter()
    sv = illum.sun_vec
    # local incidence from the surface normal (-ge, -gn, 1)/|.|
    cos_i = (sv[2] - ge * F32(sv[0]) - gn * F32(sv[1])) / np.sqrt(1 + ge * ge + gn * gn)
    phot0 = float(photometric(math.cos(math.radians(illum.incidence_deg)), t.lunar_lambert_l))
    floor = F32(t.shadow_floor * phot0)
    shade = np.maximum(photometric(cos_i, t.lunar_lambert_l), floor).astype(F32)
    tan_i = illum.shadow_tan
    obj_alpha = np.zeros_like(albedo)
    obj_refl = np.zeros_like(albedo)
    shadow = np.zeros_like(albedo)
    if len(terrain.rocks):
        rk = terrain.rocks
        rx, ry = wide.to_pixel(rk[:, 0], rk[:, 1])
        d_px = rk[:, 2] / wide.gsd
        area = np.pi / 4 * d_px**2
        _splat_box(obj_alpha, rx, ry, d_px, d_px, area, disc=True)
        # rocks a little brighter than the soil on their lit faces (assumption)
        _splat_box(obj_refl, rx, ry, d_px, d_px, area * t.mean_albedo * 1.15, disc=True)
        rock_shadows(shadow, rx, ry, d_px, tan_i, illum.sun_en)
        np.clip(obj_alpha, 0, 1, out=obj_alpha)
        np.clip(shadow, 0, 1, out=shadow)
    if changes:
        for item in changes:
            res = render_item_patch(item, wide, illum.sun_en, item_height_m(item) * tan_i)
            if res is None:
                continue
            y0, x0, fac, al, rf, sh = res
            hh, ww = fac.shape
            win = (slice(y0, y0 + hh), slice(x0, x0 + ww))
            albedo[win] *= fac
            # objects over the ground (and over earlier objects)
            obj_refl[win] = obj_refl[win] * (1 - al) + rf
            obj_alpha[win] = obj_alpha[win] * (1 - al) + al
            shadow[win] = np.maximum(shadow[win], sh)
    t2 = time.perf_counter()
    ground = albedo * shade * (1 - shadow * (1 - F32(t.shadow_floor)))
    radiance = ground * (1 - obj_alpha) + obj_refl * F32(phot0)
    radiance = psf_blur(radiance, kernel)
    t3 = time.perf_counter()
    ref = t.mean_albedo * phot0
    signal = radiance * F32(camera.typical_signal_e() * exposure / ref)
    if camera.framelet_rows:
        # push-frame framelets: small gain steps between framelets (assumption: 0.3% rms)
        rows = np.arange(grid.n) + int(rng.integers(0, camera.framelet_rows))
        steps = 1 + 0.003 * rng.standard_normal(grid.n // camera.framelet_rows + 2)
        signal *= steps[rows // camera.framelet_rows].astype(F32)[:, None]
    if look is not None and (look.stripe_rms or look.seam_step):
        signal *= column_gains(grid.n, look)[None, :]
    if noise:
        image = camera.noise(signal, rng, gain_scale)
    else:
        image = np.clip(
            np.rint(signal / F32(camera.gain_e_per_dn * gain_scale)),
            0,
            2**camera.product_bits - 1,
        ).astype(camera.product_dtype)
    if noise and look is not None and look.jpeg_quality:
        image = block_compress(image, look.jpeg_quality, 2**camera.product_bits - 1)
    t4 = time.perf_counter()
    return Rendered(
        image=image,
        radiance=radiance,
        timings={"terrain": t1 - t0, "items": t2 - t1, "psf": t3 - t2, "noise": t4 - t3},
    )


def psf_blur(img: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Convolve a pixel-integrated radiance image with a PSF ``kernel`` (square, odd side),
    keeping the pixels whose kernel lies inside ``img``: its shape less the kernel's radius on
    each side."""
    from scipy import ndimage

    r = kernel.shape[0] // 2
    inside = (slice(r, img.shape[0] - r), slice(r, img.shape[1] - r))
    if kernel.shape[0] <= 7:
        return np.ascontiguousarray(ndimage.convolve(img, kernel, mode="reflect")[inside])
    from scipy.signal import fftconvolve

    padded = np.pad(img, r, mode="reflect")
    return np.ascontiguousarray(fftconvolve(padded, kernel, mode="valid")[inside], dtype=F32)


# ---------------------------------------------------------------------------------------------
# A before/after pair with truth


@dataclass
class Pair:
    before: np.ndarray
    after: np.ndarray
    truth: dict
    transform: object  # affine.Affine of the AFTER grid (also written into before.tif)
    crs: object  # pyproj CRS
    grid: Grid
    after_radiance: np.ndarray
    timings: dict


def _frame_centre(scene: Scene, extent: float, rng: np.random.Generator) -> tuple[float, float]:
    e_lo, e_hi, n_lo, n_hi = scene.span_m()
    if e_hi - e_lo < 0.9 * extent and n_hi - n_lo < 0.9 * extent:
        ce, cn = (e_lo + e_hi) / 2, (n_lo + n_hi) / 2
        slack_e = (0.9 * extent - (e_hi - e_lo)) / 2
        slack_n = (0.9 * extent - (n_hi - n_lo)) / 2
        ce += rng.uniform(-1, 1) * min(slack_e, 0.1 * extent)
        cn += rng.uniform(-1, 1) * min(slack_n, 0.1 * extent)
        return float(ce), float(cn)
    return float(rng.uniform(-0.1, 0.1) * extent), float(rng.uniform(-0.1, 0.1) * extent)


def simulate_pair(
    camera: Camera | str = "cassis",
    layout: str = "perseverance",
    site: tuple[float, float] | None = None,
    seed: int = 0,
    size: int = 2048,
    altitude_m: float | None = None,
    off_nadir_deg: float = 0.0,
    scene: Scene | None = None,
    shift_px: tuple[float, float] | None = None,
    noise: bool = True,
    family: str | Family | None = None,
    sun_change: tuple[float, float] | None = None,
    vanished: int = 0,
    moves: int = 0,
    changes: bool = True,
) -> Pair:
    """Render BEFORE and AFTER images of a scene with a camera, plus the truth.

    Parameters
    ----------
    camera, layout, site, seed
        The camera (or its name), the layout (``orbitscout.sim.scene.LAYOUT_NAMES``), where it
        lies (lat, lon; the layout's own by default) and the seed of every draw.
    size
        Pixels on a side.
    altitude_m, off_nadir_deg
        The spacecraft's altitude (the camera's nominal one by default) and its roll.
    scene
        A scene to render instead of the layout's.
    shift_px
        The true misregistration (dx, dy) (random by default: several to tens of pixels with
        a sub-pixel part).
    noise
        Whether to add noise and the family's compression artefacts (block-transform
        quantisation is an error of the product, like the noise).
    family
        A scene family (``orbitscout.sim.families``: name or ``Family``): the ground, the
        items' physical properties, each image's PSF, noise, stripes, seam and compression,
        and the sun change are drawn from its ranges. None or ``tuned``: the renderer's fixed
        look (byte-identical to renders without this option).
    sun_change
        (incidence change, azimuth change) in degrees, magnitudes, from BEFORE to AFTER (the
        signs drawn from the seed). None: the family's draw, or for ``tuned`` the renderer's
        random change (up to 12 deg incidence, 25 deg azimuth).
    vanished, moves
        Objects in BEFORE that are gone in AFTER, and objects that moved between the looks
        (``orbitscout.sim.scene.add_changes``).
    changes
        False: the same pair (frame, ground, suns, looks; the truth still lists the items)
        with no item on the ground in either look, e.g. to measure each change's own signal.

    Returns
    -------
    Pair
        The images, the truth (items with ``change`` and ``moved_from`` where any item
        vanished or moved; ``family``, its drawn values and ``sun_change`` where a family or a
        sun change was given) and the georeferencing.
    """
    timings: dict = {}
    t0 = time.perf_counter()
    cam = get_camera(camera) if isinstance(camera, str) else camera
    if size < 16 or size > 16384:
        raise OrbitscoutError(f"image size must be 16 to 16384 pixels, got {size}")
    fam = get_family(family)
    alt = cam.nominal_altitude_m if altitude_m is None else altitude_m
    gsd = cam.gsd(cam.slant_range_m(alt, off_nadir_deg), off_nadir_deg)
    extent = size * gsd
    if scene is None:
        body = cam.body if layout.strip().lower() == "random" else None
        scene = make_scene(layout, seed=seed, site=site, extent_m=extent, body=body)
    if scene.body is not cam.body:
        raise OrbitscoutError(
            f"camera {cam.name} looks at {cam.body.name}, the layout is on {scene.body.name}"
        )
    rng = np.random.default_rng([seed, 7])
    ce, cn = _frame_centre(scene, extent, rng)
    scene = apply_family(scene, fam)
    scene = add_changes(scene, vanished, moves, gsd, extent, (ce, cn))
    e0 = ce + (0.5 - size / 2) * gsd
    n0 = cn - (0.5 - size / 2) * gsd
    after_grid = Grid(size, gsd, e0, n0)
    if shift_px is None:
        mag = rng.uniform(5, min(30, max(6, size / 8)), 2)
        sign = rng.choice([-1, 1], 2)
        dx, dy = (float(v) for v in sign * mag)
    else:
        dx, dy = (float(v) for v in shift_px)
    before_grid = Grid(size, gsd, e0, n0, ox=dx, oy=dy)
    pad = int(math.ceil(max(abs(dx), abs(dy)))) + 32
    terrain = TerrainModel(scene, after_grid, pad)
    timings["terrain_model"] = time.perf_counter() - t0

    after_ill = Illumination(scene.incidence_deg, scene.sun_azimuth_deg)
    before_ill = Illumination(
        float(np.clip(scene.incidence_deg + rng.uniform(-12, 12), 20, 80)),
        float((scene.sun_azimuth_deg + rng.uniform(-25, 25)) % 360),
    )
    if sun_change is None and fam is not None:
        sun_change = draw_sun_change(fam, seed)
    if sun_change is not None:
        before_ill = Illumination(
            *sun_before(scene.incidence_deg, scene.sun_azimuth_deg, sun_change, seed)
        )
    exp_b, exp_a = rng.uniform(0.8, 1.2, 2)
    gain_b, gain_a = rng.uniform(0.9, 1.1, 2)
    look_b = draw_look(fam, seed, "before") if fam is not None else None
    look_a = draw_look(fam, seed, "after") if fam is not None else None
    on_ground = scene.items if changes else ()
    gone = tuple(it for it in on_ground if it.change == "vanished")
    new = tuple(it for it in on_ground if it.change != "vanished")
    before = render_image(
        scene, cam, before_grid, terrain, before_ill, False, rng, exp_b, gain_b, noise, gone, look_b
    )
    after = render_image(
        scene, cam, after_grid, terrain, after_ill, True, rng, exp_a, gain_a, noise, new, look_a
    )
    timings["before"] = before.timings
    timings["after"] = after.timings

    crs, transform, site_xy = _georeference(scene, after_grid)
    truth = _truth(scene, cam, after_grid, crs, site_xy, transform, seed, (dx, dy))
    truth["illumination"] = {
        "before": {
            "incidence_deg": before_ill.incidence_deg,
            "azimuth_deg": before_ill.azimuth_deg,
        },
        "after": {"incidence_deg": after_ill.incidence_deg, "azimuth_deg": after_ill.azimuth_deg},
    }
    _add_shadows(truth, scene, before_ill, after_ill, gsd)
    if fam is not None or sun_change is not None:
        truth["sun_change"] = {
            "incidence_deg": round(abs(after_ill.incidence_deg - before_ill.incidence_deg), 3),
            "azimuth_deg": round(angle_between(after_ill.azimuth_deg, before_ill.azimuth_deg), 3),
        }
    if fam is not None:
        truth["family"] = {
            "name": fam.name,
            "terrain": {k: v for k, v in scene.terrain.__dict__.items() if k != "seed"},
            "looks": {"before": look_b.__dict__, "after": look_a.__dict__},
        }
    truth["altitude_m"] = alt
    truth["off_nadir_deg"] = off_nadir_deg
    timings["total"] = time.perf_counter() - t0
    return Pair(
        before=before.image,
        after=after.image,
        truth=truth,
        transform=transform,
        crs=crs,
        grid=after_grid,
        after_radiance=after.radiance,
        timings=timings,
    )


def truth_suns(truth: dict) -> dict[str, Sun]:
    """A simulated pair's two suns (``before``, ``after``) from its truth, as its products'
    labels would give them to ``find`` (source ``"option"``).

    Parameters
    ----------
    truth : dict
        :attr:`SimulatedPair.truth` (or a loaded ``truth.json``).

    Returns
    -------
    dict of Sun
        Keyed ``before`` and ``after``.
    """
    light = truth["illumination"]
    return {
        k: Sun(light[k]["azimuth_deg"], light[k]["incidence_deg"], "option")
        for k in ("before", "after")
    }


def _georeference(scene: Scene, grid: Grid):
    from affine import Affine
    from pyproj import Transformer

    from orbitscout.core.bodies import local_map_crs

    crs = local_map_crs(scene.body, scene.lat, scene.lon)
    fwd = Transformer.from_crs(scene.body.crs, crs, always_xy=True)
    xs, ys = fwd.transform(scene.lon, scene.lat)
    g = grid.gsd
    left = xs + grid.e0 - 0.5 * g
    top = ys + grid.n0 + 0.5 * g
    return crs, Affine(g, 0.0, left, 0.0, -g, top), (xs, ys)


def _add_shadows(
    truth: dict, scene: Scene, before: Illumination, after: Illumination, gsd: float
) -> None:
    """Give each truth item that stands above the ground ``shadow_px``: where its cast shadow
    ends (dx, dy from its centre, AFTER's pixels) under the sun of the look it is in, BEFORE's
    for a vanished item. The ground it changed reaches from its centre to there."""
    for rec in truth["items"] + truth["outside"]:
        item = scene.items[rec["id"]]
        ill = before if item.change == "vanished" else after
        length = item_height_m(item) * ill.shadow_tan / gsd
        if length > 0:
            se, sn = ill.sun_en
            rec["shadow_px"] = [round(-se * length, 3), round(sn * length, 3)]


def _truth(scene, cam, grid, crs, site_xy, transform, seed, shift) -> dict:
    from pyproj import Transformer

    inv = Transformer.from_crs(crs, scene.body.crs, always_xy=True)
    items, outside = [], []
    # which way each item changed, said where any vanished or moved (else as before)
    both_ways = any(it.change != "appeared" or it.moved_from is not None for it in scene.items)
    for i, it in enumerate(scene.items):
        x, y = grid.to_pixel(it.east_m, it.north_m)
        lon, lat = inv.transform(site_xy[0] + it.east_m, site_xy[1] + it.north_m)
        rec = {
            "id": i,
            "class": it.cls,
            "kind": it.kind,
            "label": it.label,
            "x": round(float(x), 3),
            "y": round(float(y), 3),
            "lon": float(lon),
            "lat": float(lat),
            "size_m": round(it.size_m, 3),
            "extent_m": round(it.extent_m, 3),
            "east_m": round(it.east_m, 2),
            "north_m": round(it.north_m, 2),
        }
        if both_ways:
            rec["change"] = it.change
            if it.moved_from is not None:
                rec["moved_from"] = it.moved_from
        inside = -0.5 <= x < grid.n - 0.5 and -0.5 <= y < grid.n - 0.5
        (items if inside else outside).append(rec)
    return {
        "camera": cam.name,
        "body": scene.body.name,
        "crs": scene.body.iau_code,
        "gsd_m": grid.gsd,
        "size_px": grid.n,
        "layout": scene.name,
        "site": {"lat": scene.lat, "lon": scene.lon},
        "seed": seed,
        "misregistration": {"dx": shift[0], "dy": shift[1]},
        "transform": list(transform)[:6],
        "items": items,
        "outside": outside,
        "source": scene.source,
        "conventions": "x = column, y = row, 0-based, integer at the pixel centre, AFTER grid; "
        "a ground point at BEFORE pixel (x, y) lies at AFTER pixel (x + dx, y + dy)",
    }


def write_pair(pair: Pair, out_dir: str | Path) -> dict[str, Path]:
    """Write before.tif, after.tif (map-projected GeoTIFFs on the body's sphere, the same
    geotransform: the BEFORE image's true misregistration is only in truth.json) and
    truth.json, each complete or absent."""
    import rasterio

    from orbitscout.core.atomic import staged_outputs

    out_dir = Path(out_dir)
    with staged_outputs(out_dir) as stage:
        for name, img in (("before.tif", pair.before), ("after.tif", pair.after)):
            with rasterio.open(
                stage / name,
                "w",
                driver="GTiff",
                width=img.shape[1],
                height=img.shape[0],
                count=1,
                dtype=img.dtype.name,
                crs=pair.crs.to_wkt(),
                transform=pair.transform,
                compress="deflate",
                tiled=True,
            ) as dst:
                dst.write(img, 1)
                dst.update_tags(
                    CAMERA=pair.truth["camera"],
                    LAYOUT=pair.truth["layout"],
                    SEED=str(pair.truth["seed"]),
                    ROLE=name.split(".")[0],
                    SIMULATED="orbitscout.simulate",
                )
        (stage / "truth.json").write_text(json.dumps(pair.truth, indent=2) + "\n")
    return {k: out_dir / k for k in ("before.tif", "after.tif", "truth.json")}


def simulate(
    out_dir: str | Path,
    camera: str = "cassis",
    layout: str = "perseverance",
    site: tuple[float, float] | None = None,
    seed: int = 0,
    size: int = 2048,
    altitude_m: float | None = None,
    family: str | Family | None = None,
    sun_change: tuple[float, float] | None = None,
    vanished: int = 0,
    moves: int = 0,
) -> Pair:
    """Render a pair (as :func:`simulate_pair`) and write it into ``out_dir``."""
    pair = simulate_pair(
        camera,
        layout,
        site=site,
        seed=seed,
        size=size,
        altitude_m=altitude_m,
        family=family,
        sun_change=sun_change,
        vanished=vanished,
        moves=moves,
    )
    write_pair(pair, out_dir)
    return pair
