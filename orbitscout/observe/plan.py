"""When can an orbiter image a site, and when can it hear it? Imaging windows and relay passes.

Both searches are vectorised: the geometry is evaluated with numpy on a coarse time grid (about
1/60 of an orbit, at most 120 s), each local minimum of the sampled "distance from the
condition" is refined by a vectorised golden-section search (so windows shorter than the grid
step are found too), and every crossing of the condition is refined by vectorised bisection
to ~1 ms. The body is the IAU 2015 sphere of ``Body.radius_m``; site coordinates are
planetocentric, east-positive.

Pass times are only as good as the trajectory: the built-in orbiters carry placeholder nodes
and phases (``Orbiter.placeholders``), so every row says whether it is ``illustrative`` and
where its elements come from (``elements_source``).

Imaging window: the site within ``max_off_nadir_deg`` of the orbiter's nadir (its reach by
rolling), seen above the horizon (emission < ``max_emission_deg``), and sunlit with solar
incidence ≤ ``max_incidence_deg``. Each window reports its best time (least off-nadir) with
the geometry there. Relay pass: the orbiter above ``min_elevation_deg`` as seen from the site.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from orbitscout.core.bodies import Body, check_site, get_body, parse_site
from orbitscout.core.errors import OrbitscoutError
from orbitscout.observe import marstime
from orbitscout.observe.cameras import get_camera
from orbitscout.observe.orbits import Orbiter, local_solar_time_h, resolve_orbiter, sun_direction

# Typical UHF relay rate: 256 kbit/s, the higher of Mars Odyssey's two fixed rates (128 or 256
# kbit/s); MRO's Electra adapts up to 2 Mbit/s and returns ~100–250 Mbit in a ~8 min pass,
# i.e. ~200–500 kbit/s on average (JPL, MSL "Data rates/returns" page; docs/facts.md).
DEFAULT_RELAY_RATE_KBPS = 256.0
# An elevation mask is mission-set; 10° is a common planning default (docs/facts.md: to verify).
DEFAULT_MIN_ELEVATION_DEG = 10.0
# Planning default for solar incidence (not a published figure): high enough for the low-Sun
# images change detection likes, low enough to keep a usable signal.
DEFAULT_MAX_INCIDENCE_DEG = 80.0

# IFOV (rad) of cameras that orbitscout.cameras does not model, for GSD = IFOV × range.
FALLBACK_IFOV_RAD = {
    # Odyssey THEMIS VIS: 18 m/px from ~400 km (Christensen et al. 2004, Space Sci. Rev.
    # 110:85) → 45 µrad.
    "themis_vis": 18.0 / 400e3,
    # Mars Express HRSC nadir channel: 10 m/px from 250 km (Neukum & Jaumann 2004, ESA
    # SP-1240; Jaumann et al. 2007, PSS 55:928) → 40 µrad.
    "hrsc": 10.0 / 250e3,
}

_TIME_TOL_S = 1e-3


# --------------------------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------------------------


def _span(start, days: float) -> tuple[float, float]:
    try:
        days = float(days)
    except (TypeError, ValueError):
        raise OrbitscoutError(f"days must be a number, got {days!r}") from None
    if not math.isfinite(days) or days < 0:
        raise OrbitscoutError(f"days must be zero or positive, got {days:g}")
    if days > 3660:
        raise OrbitscoutError(f"days must be at most 3660 (ten years), got {days:g}")
    t0 = marstime.utc_seconds(start) if start is not None else marstime.parse_utc(None)
    return float(t0), float(t0) + days * 86400.0


def _orbiter(orbiter: Orbiter | str) -> Orbiter:
    return resolve_orbiter(orbiter) if isinstance(orbiter, str) else orbiter


def _same_body(orbiter: Orbiter, body: Body | str | None) -> Body:
    """The orbiter's body, refused where the site is on another."""
    if body is None:
        return orbiter.body
    site_body = get_body(body) if isinstance(body, str) else body
    if site_body.name != orbiter.body.name:
        raise OrbitscoutError(
            f"{orbiter.name} orbits {orbiter.body.name.capitalize()}, "
            f"but the site is on {site_body.name.capitalize()} (--body)",
            "--orbiter",
        )
    return site_body


def site_vector(body: Body, lat: float, lon: float) -> np.ndarray:
    """Body-fixed position (m) of a site on the body's sphere."""
    la, lo = math.radians(lat), math.radians(lon)
    return body.radius_m * np.array([math.cos(la) * math.cos(lo), math.cos(la) * math.sin(lo),
                                     math.sin(la)])  # fmt: skip


# --------------------------------------------------------------------------------------------
# Geometry
# --------------------------------------------------------------------------------------------


@dataclass
class Look:
    """Spacecraft–site geometry at an array of times (degrees, metres)."""

    off_nadir_deg: np.ndarray  # at the spacecraft, from nadir (body centre) to the site
    emission_deg: np.ndarray  # at the site, from the local vertical to the spacecraft
    slant_range_m: np.ndarray

    @property
    def elevation_deg(self) -> np.ndarray:
        return 90.0 - self.emission_deg


def look_geometry(orbiter: Orbiter, site: np.ndarray, utc_s) -> Look:
    r = orbiter.trajectory.positions_bodyfixed(np.asarray(utc_s, dtype=float))
    d = site - r  # spacecraft → site
    rho = np.linalg.norm(d, axis=-1)
    rn = np.linalg.norm(r, axis=-1)
    n = site / np.linalg.norm(site)
    cos_eta = -np.einsum("...i,...i->...", r, d) / (rn * rho)
    cos_e = -(d @ n) / rho
    return Look(
        np.degrees(np.arccos(np.clip(cos_eta, -1, 1))),
        np.degrees(np.arccos(np.clip(cos_e, -1, 1))),
        rho,
    )


def incidence_deg(body: Body, site: np.ndarray, utc_s) -> np.ndarray:
    """Solar incidence angle (deg) at the site (Sun at infinity, normal = radial)."""
    n = site / np.linalg.norm(site)
    return np.degrees(np.arccos(np.clip(sun_direction(body, utc_s) @ n, -1, 1)))


def _chunked(fun: Callable[[np.ndarray], np.ndarray], t: np.ndarray, chunk: int = 250_000):
    if t.size <= chunk:
        return fun(t)
    return np.concatenate([fun(t[i : i + chunk]) for i in range(0, t.size, chunk)])


# --------------------------------------------------------------------------------------------
# The vectorised search
# --------------------------------------------------------------------------------------------


def _golden_min(fun, a: np.ndarray, b: np.ndarray, tol: float = _TIME_TOL_S):
    """Vectorised golden-section minimisation of ``fun`` on each [a, b]."""
    gr = (math.sqrt(5.0) - 1.0) / 2.0
    a, b = a.astype(float).copy(), b.astype(float).copy()
    width = float(np.max(b - a, initial=0.0))
    iters = 0 if width <= tol else int(math.ceil(math.log(tol / width) / math.log(gr)))
    c = b - gr * (b - a)
    d = a + gr * (b - a)
    fc, fd = fun(c), fun(d)
    for _ in range(iters):
        left = fc < fd
        b = np.where(left, d, b)
        a = np.where(left, a, c)
        new_c = np.where(left, b - gr * (b - a), d)
        new_d = np.where(left, c, a + gr * (b - a))
        fnew = fun(np.where(left, new_c, new_d))
        fc, fd = np.where(left, fnew, fd), np.where(left, fc, fnew)
        c, d = new_c, new_d
    x = 0.5 * (a + b)
    return x, fun(x)


def _bisect(fun, outside: np.ndarray, inside: np.ndarray, tol: float = _TIME_TOL_S):
    """Vectorised bisection for the crossing of ``fun`` from > 0 (outside) to ≤ 0 (inside)."""
    outside, inside = outside.astype(float).copy(), inside.astype(float).copy()
    width = float(np.max(np.abs(outside - inside), initial=0.0))
    iters = 0 if width <= tol else int(math.ceil(math.log2(width / tol)))
    for _ in range(iters):
        mid = 0.5 * (outside + inside)
        out = fun(mid) > 0
        outside = np.where(out, mid, outside)
        inside = np.where(out, inside, mid)
    return 0.5 * (outside + inside)


def find_intervals(fun, t0: float, t1: float, step_s: float):
    """Intervals in [t0, t1] where ``fun(t) <= 0`` (``fun`` vectorised over a time array).

    Returns (starts, ends, t_best, f_best) arrays sorted by start, where t_best is the minimum
    of ``fun`` in the interval. Intervals cut by t0 or t1 start or end there. Assumes ``fun`` is
    unimodal over two grid steps around each of its minima and that intervals are separated by
    more than one step."""
    empty = np.zeros(0)
    if t1 <= t0:
        return empty, empty, empty, empty
    n = max(3, int(math.ceil((t1 - t0) / step_s)) + 1)
    t = np.linspace(t0, t1, n)
    g = _chunked(fun, t)
    inf = np.array([np.inf])
    gl = np.concatenate([inf, g[:-1]])
    gr = np.concatenate([g[1:], inf])
    k = np.nonzero((g <= gl) & (g < gr))[0]
    if k.size == 0:
        return empty, empty, empty, empty
    lo, hi = t[np.maximum(k - 1, 0)], t[np.minimum(k + 1, n - 1)]
    tmin, gmin = _golden_min(fun, lo, hi)
    better = g[k] < gmin
    tmin, gmin = np.where(better, t[k], tmin), np.where(better, g[k], gmin)
    keep = gmin <= 0
    tmin, gmin = tmin[keep], gmin[keep]
    if tmin.size == 0:
        return empty, empty, empty, empty
    idx = np.arange(n)
    above = g > 0
    last_above = np.maximum.accumulate(np.where(above, idx, -1))
    next_above = np.minimum.accumulate(np.where(above, idx, n)[::-1])[::-1]
    kk = np.clip(np.searchsorted(t, tmin, side="right") - 1, 0, n - 1)
    left = last_above[kk]
    right = np.where(kk + 1 < n, next_above[np.minimum(kk + 1, n - 1)], n)
    # One interval per (left, right) bracket pair: keep its deepest minimum.
    order = np.lexsort((gmin, right, left))
    left, right, tmin, gmin = left[order], right[order], tmin[order], gmin[order]
    first = np.ones(left.size, bool)
    first[1:] = (left[1:] != left[:-1]) | (right[1:] != right[:-1])
    left, right, tmin, gmin = left[first], right[first], tmin[first], gmin[first]
    starts = np.full(tmin.shape, t0)
    has = left >= 0
    if has.any():
        starts[has] = _bisect(fun, t[left[has]], tmin[has])
    ends = np.full(tmin.shape, t1)
    has = right < n
    if has.any():
        ends[has] = _bisect(fun, t[right[has]], tmin[has])
    order = np.argsort(starts)
    return starts[order], ends[order], tmin[order], gmin[order]


def _default_step(orbiter: Orbiter, t0: float, step_s: float | None) -> float:
    if step_s is not None:
        if not step_s > 0:
            raise OrbitscoutError(f"step must be positive, got {step_s}")
        return float(step_s)
    traj = orbiter.trajectory
    if hasattr(traj, "set_reference_time") and getattr(traj, "_period", None) is None:
        traj.set_reference_time(t0)
    return float(np.clip(traj.period_s / 60.0, 5.0, 120.0))


# --------------------------------------------------------------------------------------------
# Imaging windows
# --------------------------------------------------------------------------------------------


def gsd_m(camera: str | None, range_m: float, off_nadir_deg: float, emission_deg: float):
    """Ground sample distance (m/px) from ``orbitscout.observe.cameras`` where it models the
    camera; else IFOV × range / cos(emission) for the cameras in ``FALLBACK_IFOV_RAD``; else
    None."""
    if camera is None:
        return None
    try:
        return float(get_camera(camera).gsd(float(range_m), float(off_nadir_deg)))
    except OrbitscoutError:
        pass  # not a camera that module models, or a look it refuses
    ifov = FALLBACK_IFOV_RAD.get(camera.lower())
    if ifov is None:
        return None
    return float(ifov * range_m / max(math.cos(math.radians(emission_deg)), 1e-6))


def imaging_windows(
    site: tuple[float, float] | str,
    orbiter: Orbiter | str,
    start,
    days: float,
    max_off_nadir_deg: float | None = None,
    max_incidence_deg: float = DEFAULT_MAX_INCIDENCE_DEG,
    max_emission_deg: float = 90.0,
    camera: str | None = None,
    step_s: float | None = None,
    body: Body | str | None = None,
) -> list[dict]:
    """Imaging windows of ``orbiter`` over ``site`` (lat, lon) from ``start`` (UTC) for
    ``days``. ``body``, where given, is the site's: an orbiter of another body is refused.
    ``max_off_nadir_deg`` defaults to the orbiter's roll reach; ``camera`` to its camera.
    Each window: ``utc`` (best time: least off-nadir), ``start_utc``, ``end_utc``,
    ``duration_s``, ``off_nadir_deg``, ``incidence_deg``, ``emission_deg``, ``phase_deg``,
    ``ltst_h``, ``slant_range_km``, ``gsd_m`` (None where the camera is not modelled),
    ``camera``, ``orbiter``, ``illustrative`` (True where the orbiter's elements hold
    placeholders, so the times are typical rather than real) and ``elements_source``."""
    orb = _orbiter(orbiter)
    lat, lon = parse_site(site) if isinstance(site, str) else check_site(*site)
    t0, t1 = _span(start, days)
    max_off = orb.max_off_nadir_deg if max_off_nadir_deg is None else float(max_off_nadir_deg)
    if not 0.0 < max_off < 90.0:
        raise OrbitscoutError(f"max off-nadir must be in (0, 90) degrees, got {max_off:g}")
    if not 0.0 < max_incidence_deg <= 90.0:
        raise OrbitscoutError(
            f"max incidence must be in (0, 90] degrees, got {max_incidence_deg:g}"
        )
    if not 0.0 < max_emission_deg <= 90.0:
        raise OrbitscoutError(f"max emission must be in (0, 90] degrees, got {max_emission_deg:g}")
    cam = camera or orb.camera
    body = _same_body(orb, body)
    site_v = site_vector(body, lat, lon)
    step = _default_step(orb, t0, step_s)

    def reach(t):
        look = look_geometry(orb, site_v, t)
        return np.maximum(look.off_nadir_deg - max_off, look.emission_deg - max_emission_deg)

    starts, ends, best, _ = find_intervals(reach, t0, t1, step)
    if starts.size == 0:
        return []

    # Sunlight: incidence varies over hours, windows last minutes, so within a window it is
    # monotonic; clip each window where the Sun crosses the incidence limit.
    def dark(t):
        return incidence_deg(body, site_v, t) - max_incidence_deg

    ds, de = dark(starts), dark(ends)
    ok_s, ok_e = ds <= 0, de <= 0
    keep = ok_s | ok_e
    starts, ends, best, ok_s, ok_e = starts[keep], ends[keep], best[keep], ok_s[keep], ok_e[keep]
    cut = ~ok_s
    if cut.any():
        starts[cut] = _bisect(dark, starts[cut], ends[cut])
    cut = ~ok_e
    if cut.any():
        ends[cut] = _bisect(dark, ends[cut], starts[cut])
    best = np.clip(best, starts, ends)
    if best.size == 0:
        return []

    look = look_geometry(orb, site_v, best)
    sun = sun_direction(body, best)
    inc = incidence_deg(body, site_v, best)
    r_sc = orb.trajectory.positions_bodyfixed(best)
    to_sc = (r_sc - site_v) / look.slant_range_m[:, None]
    phase = np.degrees(np.arccos(np.clip(np.einsum("ij,ij->i", to_sc, sun), -1, 1)))
    ltst = local_solar_time_h(body, best, lon)
    utc, us, ue = (marstime.format_utc(x) for x in (best, starts, ends))
    out = []
    for i in range(best.size):
        out.append(
            {
                "utc": str(utc[i]),
                "start_utc": str(us[i]),
                "end_utc": str(ue[i]),
                "duration_s": round(float(ends[i] - starts[i]), 3),
                "off_nadir_deg": round(float(look.off_nadir_deg[i]), 4),
                "incidence_deg": round(float(inc[i]), 4),
                "emission_deg": round(float(look.emission_deg[i]), 4),
                "phase_deg": round(float(phase[i]), 4),
                "ltst_h": round(float(ltst[i]), 5),
                "slant_range_km": round(float(look.slant_range_m[i]) / 1e3, 4),
                "gsd_m": _round(
                    gsd_m(cam, look.slant_range_m[i], look.off_nadir_deg[i], look.emission_deg[i])
                ),
                "camera": cam,
                "orbiter": orb.name,
                "illustrative": orb.illustrative,
                "elements_source": orb.elements_source,
            }
        )
    return out


def _round(x, nd=4):
    return None if x is None else round(float(x), nd)


# --------------------------------------------------------------------------------------------
# Relay passes
# --------------------------------------------------------------------------------------------


def relay_passes(
    site: tuple[float, float] | str,
    orbiter: Orbiter | str,
    start,
    days: float,
    min_elevation_deg: float = DEFAULT_MIN_ELEVATION_DEG,
    rate_kbps: float | None = None,
    step_s: float | None = None,
    body: Body | str | None = None,
) -> list[dict]:
    """Passes of ``orbiter`` above ``min_elevation_deg`` seen from ``site`` (on ``body``,
    where given: an orbiter of another body is refused). Each pass:
    ``rise_utc``, ``set_utc``, ``max_elevation_utc``, ``max_elevation_deg``, ``duration_s``,
    ``min_range_km``, ``rate_kbps``, ``data_volume_mbit`` (rate × duration; real Electra links
    adapt their rate through the pass), ``orbiter``, ``illustrative`` and ``elements_source``
    (as in :func:`imaging_windows`). Passes cut by the span start or end at it."""
    orb = _orbiter(orbiter)
    lat, lon = parse_site(site) if isinstance(site, str) else check_site(*site)
    t0, t1 = _span(start, days)
    mask = float(min_elevation_deg)
    if not -5.0 <= mask < 90.0:
        raise OrbitscoutError(f"min elevation must be in [-5, 90) degrees, got {mask:g}")
    rate = DEFAULT_RELAY_RATE_KBPS if rate_kbps is None else float(rate_kbps)
    if not (math.isfinite(rate) and rate >= 0):
        raise OrbitscoutError(f"rate must be zero or positive kbit/s, got {rate:g}")
    site_v = site_vector(_same_body(orb, body), lat, lon)
    step = _default_step(orb, t0, step_s)

    def below(t):
        return mask - look_geometry(orb, site_v, t).elevation_deg

    rise, set_, best, _ = find_intervals(below, t0, t1, step)
    if rise.size == 0:
        return []
    look = look_geometry(orb, site_v, best)
    ur, us, ub = (marstime.format_utc(x) for x in (rise, set_, best))
    out = []
    for i in range(rise.size):
        dur = float(set_[i] - rise[i])
        out.append(
            {
                "rise_utc": str(ur[i]),
                "set_utc": str(us[i]),
                "max_elevation_utc": str(ub[i]),
                "max_elevation_deg": round(float(look.elevation_deg[i]), 4),
                "duration_s": round(dur, 3),
                "min_range_km": round(float(look.slant_range_m[i]) / 1e3, 4),
                "rate_kbps": rate,
                "data_volume_mbit": round(rate * dur / 1e3, 3),
                "orbiter": orb.name,
                "illustrative": orb.illustrative,
                "elements_source": orb.elements_source,
            }
        )
    return out
