"""Orbits around Mars and the Moon: mean elements, J2 secular propagation, ground tracks, the
Sun's direction in the body-fixed frame, sun-synchronous orbits, known orbiters, user elements
and (optionally) SPICE trajectories.

Frames. Orbital elements are referred to the body's mean equator of date, the x axis toward the
ascending node of that equator on the ICRF equator — the origin of the IAU prime-meridian angle
W — so body-fixed longitude = inertial right ascension in that frame − W(t). The pole's own slow
motion is neglected over a planning span. Body-fixed vectors are in metres, planetocentric,
east-positive longitudes, on the body's IAU 2015 sphere (``Body.radius_m``).

Times are *UTC seconds* (``orbitscout.marstime``: seconds since 2000-01-01T12:00:00 UTC);
propagation runs in TT (``marstime.tt_seconds``).

J2 secular rates (Vallado, "Fundamentals of Astrodynamics and Applications", 4th ed., §9.6):
    Ω̇ = −3/2 n J2 (R/p)² cos i
    ω̇ = 3/4 n J2 (R/p)² (5 cos² i − 1)
    Ṁ = n + 3/4 n J2 (R/p)² √(1 − e²) (3 cos² i − 1)
with n = √(GM/a³), p = a(1 − e²), R the reference radius of J2 (equatorial).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from orbitscout.core.bodies import MARS, MOON, Body, get_body, icrf_to_body_matrix
from orbitscout.core.bodies import prime_meridian_deg as _prime_meridian_deg
from orbitscout.core.errors import OrbitscoutError
from orbitscout.observe import marstime

DEG = math.pi / 180.0


# --------------------------------------------------------------------------------------------
# J2 mean-element theory
# --------------------------------------------------------------------------------------------


def kepler_period_s(body: Body, a_m: float) -> float:
    """Two-body period 2π √(a³/GM) in seconds."""
    return 2.0 * math.pi * math.sqrt(a_m**3 / body.gm_m3_s2)


def j2_rates(body: Body, a_m: float, e: float, i_deg: float) -> tuple[float, float, float]:
    """Secular J2 rates (rad/s): node Ω̇, argument of periapsis ω̇, mean anomaly Ṁ (incl. n)."""
    n = math.sqrt(body.gm_m3_s2 / a_m**3)
    p = a_m * (1.0 - e * e)
    k = n * body.j2 * (body.equatorial_radius_m / p) ** 2
    c = math.cos(i_deg * DEG)
    raan_dot = -1.5 * k * c
    argp_dot = 0.75 * k * (5.0 * c * c - 1.0)
    m_dot = n + 0.75 * k * math.sqrt(1.0 - e * e) * (3.0 * c * c - 1.0)
    return raan_dot, argp_dot, m_dot


def mean_sun_rate_rad_s(body: Body) -> float:
    """Inertial rate of the mean Sun as seen from the body: body rotation rate minus the rate of
    mean solar time (360°/solar day). A sun-synchronous node must turn at this rate. For Mars it
    is 0.52392°/day (W rate of IAU 2015 against the Mars24 sol), within 0.02 % of Mars24's
    fictitious-mean-sun rate 0.524038°/day; for the Moon it is the Earth's 0.9856°/day."""
    w_rate = body.pm_rate_deg_per_day * DEG / 86400.0
    return w_rate - 2.0 * math.pi / body.solar_day_s


def sun_synchronous_inclination(body: Body, a_m: float, e: float = 0.0) -> float:
    """Inclination (deg) whose J2 node drift follows the mean Sun (retrograde, > 90°)."""
    n = math.sqrt(body.gm_m3_s2 / a_m**3)
    p = a_m * (1.0 - e * e)
    k = 1.5 * n * body.j2 * (body.equatorial_radius_m / p) ** 2
    c = -mean_sun_rate_rad_s(body) / k
    if abs(c) > 1.0:
        raise OrbitscoutError(
            f"no sun-synchronous inclination exists at a = {a_m / 1e3:.0f} km around "
            f"{body.name}: J2 is too weak there"
        )
    return math.degrees(math.acos(c))


def solve_kepler(mean_anomaly_rad, e: float, tol: float = 1e-13):
    """Eccentric anomaly E from M = E − e sin E (Newton, vectorised)."""
    m = np.asarray(mean_anomaly_rad, dtype=float)
    big = np.mod(m + np.pi, 2 * np.pi) - np.pi
    ecc = big + e * np.sin(big) / (1.0 - e * np.cos(big)) if e > 0 else big.copy()
    if e == 0:
        return ecc + (m - big)
    for _ in range(50):
        f = ecc - e * np.sin(ecc) - big
        step = f / (1.0 - e * np.cos(ecc))
        ecc = ecc - step
        if np.max(np.abs(step), initial=0.0) < tol:
            break
    return ecc + (m - big)


# --------------------------------------------------------------------------------------------
# The Sun in the body-fixed frame
# --------------------------------------------------------------------------------------------


def _unit(lat_deg, lon_deg):
    la, lo = np.radians(lat_deg), np.radians(lon_deg)
    return np.stack([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)], axis=-1)


def _sun_icrf_from_earth(utc_s):
    """Unit vector to the Sun from the Earth (ICRF axes, mean equator of date): the
    Astronomical Almanac low-precision solar formula (AA 2020, p. C5; ~0.01° for 1950–2050).
    The Moon is 384,400 km from the Earth, so its Sun direction differs by at most ~0.15°
    (its heliocentric longitude differs from the Earth's by < 0.3°). Precession since J2000
    (~0.014°/yr) is neglected."""
    n = marstime.tt_seconds(utc_s) / 86400.0
    big_l = 280.460 + 0.9856474 * n
    g = np.radians(357.528 + 0.9856003 * n)
    lam = np.radians(big_l + 1.915 * np.sin(g) + 0.020 * np.sin(2 * g))
    eps = np.radians(23.439 - 0.0000004 * n)
    return np.stack([np.cos(lam), np.cos(eps) * np.sin(lam), np.sin(eps) * np.sin(lam)], axis=-1)


def subsolar_point(body: Body, utc_s) -> tuple[np.ndarray, np.ndarray]:
    """(east longitude, latitude) of the Sun's direction in the body-fixed frame, degrees.
    Mars: Mars24 (``marstime``), latitude = the solar declination D-5. Moon: the analytic Sun
    rotated by the IAU 2015 lunar model."""
    s = np.asarray(utc_s, dtype=float)
    if body.name == "mars":
        t = marstime.mars_time(s)
        return np.asarray(t.subsolar_lon_deg), np.asarray(t.subsolar_lat_deg)
    sun = _sun_icrf_from_earth(s)
    rot = icrf_to_body_matrix(body, marstime.tt_seconds(s) / 86400.0)
    v = np.einsum("...ij,...j->...i", rot, sun)
    lon = np.degrees(np.arctan2(v[..., 1], v[..., 0]))
    lat = np.degrees(np.arcsin(np.clip(v[..., 2], -1, 1)))
    return lon, lat


def sun_direction(body: Body, utc_s) -> np.ndarray:
    """Unit vectors (…, 3) toward the Sun in the body-fixed frame."""
    lon, lat = subsolar_point(body, utc_s)
    return _unit(lat, lon)


def local_solar_time_h(body: Body, utc_s, lon_east_deg) -> np.ndarray:
    """Local true solar time (hours) at an east longitude: Mars24 LTST on Mars; on the Moon
    12 h + (lon − subsolar lon)/15."""
    if body.name == "mars":
        return np.asarray(marstime.mars_time(utc_s, lon_east_deg).ltst_h)
    sub_lon, _ = subsolar_point(body, utc_s)
    return np.mod(12.0 + (np.asarray(lon_east_deg) - sub_lon) / 15.0, 24.0)


def _mean_sun_lon(body: Body, utc_s: float) -> float:
    """East longitude where the local mean solar time is noon (Mars: LMST; Moon: true Sun)."""
    if body.name == "mars":
        return float((12.0 - marstime.mars_time(utc_s).mtc_h) * 15.0)
    return float(subsolar_point(body, utc_s)[0])


def prime_meridian_deg(body: Body, utc_s):
    """IAU 2015 prime-meridian angle W (deg) at UTC seconds."""
    return _prime_meridian_deg(body, marstime.tt_seconds(utc_s) / 86400.0)


# --------------------------------------------------------------------------------------------
# Trajectories
# --------------------------------------------------------------------------------------------


class Trajectory(Protocol):
    """Anything that gives spacecraft positions in the body-fixed frame."""

    body: Body

    @property
    def period_s(self) -> float: ...

    def positions_bodyfixed(self, utc_s) -> np.ndarray: ...


@dataclass(frozen=True)
class Elements:
    """Mean orbital elements with J2 secular drift, referred to the body's mean equator (see the
    module docstring). ``epoch_s`` in UTC seconds. ``frozen_perigee`` pins ω (a frozen orbit,
    such as MRO's, holds its periapsis over the south pole through J3, which this model
    lacks)."""

    body: Body
    a_m: float
    e: float
    i_deg: float
    raan_deg: float
    argp_deg: float
    mean_anomaly_deg: float
    epoch_s: float
    frozen_perigee: bool = False

    def __post_init__(self):
        if not (0.0 <= self.e < 1.0):
            raise OrbitscoutError(f"eccentricity must be in [0, 1), got {self.e}")
        if not (0.0 <= self.i_deg <= 180.0):
            raise OrbitscoutError(f"inclination must be in [0, 180] deg, got {self.i_deg}")
        if self.a_m * (1.0 - self.e) <= self.body.radius_m:
            raise OrbitscoutError(
                f"periapsis ({self.a_m * (1 - self.e) / 1e3:.1f} km from the centre) is below "
                f"the surface of {self.body.name} ({self.body.radius_m / 1e3:.1f} km)"
            )

    @property
    def period_s(self) -> float:
        """Two-body (Keplerian) period."""
        return kepler_period_s(self.body, self.a_m)

    @property
    def rates_rad_s(self) -> tuple[float, float, float]:
        """(Ω̇, ω̇, Ṁ) in rad/s; ω̇ = 0 for a frozen orbit."""
        rn, rw, rm = j2_rates(self.body, self.a_m, self.e, self.i_deg)
        return rn, (0.0 if self.frozen_perigee else rw), rm

    @property
    def raan_rate_deg_per_day(self) -> float:
        return math.degrees(self.rates_rad_s[0]) * 86400.0

    def angles_at(self, utc_s):
        """(Ω, ω, M) in radians at the given times."""
        dt = np.asarray(marstime.tt_seconds(utc_s), dtype=float) - marstime.tt_seconds(self.epoch_s)
        rn, rw, rm = self.rates_rad_s
        return (
            self.raan_deg * DEG + rn * dt,
            self.argp_deg * DEG + rw * dt,
            self.mean_anomaly_deg * DEG + rm * dt,
        )

    def propagate(self, utc_s) -> tuple[np.ndarray, np.ndarray]:
        """Position (m) and velocity (m/s), shape (…, 3), in the body-equatorial inertial frame.
        The velocity is the two-body velocity on the drifting ellipse."""
        raan, argp, m = self.angles_at(utc_s)
        e = self.e
        big_e = solve_kepler(m, e)
        ce, se = np.cos(big_e), np.sin(big_e)
        b = math.sqrt(1.0 - e * e)
        x = self.a_m * (ce - e)
        y = self.a_m * b * se
        n = math.sqrt(self.body.gm_m3_s2 / self.a_m**3)
        fac = n * self.a_m / (1.0 - e * ce)
        vx, vy = -fac * se, fac * b * ce
        cn, sn = np.cos(raan), np.sin(raan)
        cw, sw = np.cos(argp), np.sin(argp)
        ci, si = math.cos(self.i_deg * DEG), math.sin(self.i_deg * DEG)
        p = np.stack(
            [cn * cw - sn * sw * ci, sn * cw + cn * sw * ci, sw * si * np.ones_like(cn)], -1
        )
        q = np.stack(
            [-cn * sw - sn * cw * ci, -sn * sw + cn * cw * ci, cw * si * np.ones_like(cn)], -1
        )
        r = x[..., None] * p + y[..., None] * q
        v = vx[..., None] * p + vy[..., None] * q
        return r, v

    def positions_bodyfixed(self, utc_s) -> np.ndarray:
        """Positions (m), shape (…, 3), in the rotating body-fixed frame."""
        r, _ = self.propagate(utc_s)
        w = np.radians(prime_meridian_deg(self.body, utc_s))
        cw, sw = np.cos(w), np.sin(w)
        return np.stack(
            [cw * r[..., 0] + sw * r[..., 1], -sw * r[..., 0] + cw * r[..., 1], r[..., 2]], -1
        )

    def ascending_node_lon_deg(self, utc_s):
        """Body-fixed east longitude of the ascending node direction at the given times."""
        raan, _, _ = self.angles_at(utc_s)
        return np.mod(np.degrees(raan) - prime_meridian_deg(self.body, utc_s) + 180, 360) - 180


def ground_track(traj: Trajectory, utc_s) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(planetocentric latitude deg, east longitude deg in [-180, 180), altitude m above the
    body's sphere) of the sub-spacecraft point."""
    r = traj.positions_bodyfixed(utc_s)
    rn = np.linalg.norm(r, axis=-1)
    lat = np.degrees(np.arcsin(r[..., 2] / rn))
    lon = np.degrees(np.arctan2(r[..., 1], r[..., 0]))
    return lat, lon, rn - traj.body.radius_m


def sun_synchronous_elements(
    body: Body,
    periapsis_alt_m: float,
    apoapsis_alt_m: float,
    local_time_h: float,
    epoch,
    argp_deg: float = 0.0,
    mean_anomaly_deg: float = 0.0,
    frozen_perigee: bool = False,
    solar_time: str = "lmst",
) -> Elements:
    """A sun-synchronous orbit whose ascending node lies at local solar time ``local_time_h``
    at ``epoch``: inclination from J2 so that the node follows the mean Sun; node set from the
    Sun's position at epoch. ``solar_time="lmst"`` (default) places it by the Mars24 mean Sun
    (MTC), the time a sun-synchronous node keeps; ``"ltst"`` by the true Sun (Mars24 subsolar
    longitude) at epoch. Either way LTST then swings with the equation of time (up to ~±50 min
    on Mars) while LMST stays put. On the Moon both mean the true Sun."""
    epoch_s = marstime.utc_seconds(epoch)
    if solar_time not in ("lmst", "ltst"):
        raise OrbitscoutError(f"solar_time must be 'lmst' or 'ltst', got {solar_time!r}")
    rp = body.radius_m + periapsis_alt_m
    ra = body.radius_m + apoapsis_alt_m
    a = 0.5 * (rp + ra)
    e = (ra - rp) / (ra + rp)
    inc = sun_synchronous_inclination(body, a, e)
    noon_lon = (
        _mean_sun_lon(body, epoch_s)
        if solar_time == "lmst"
        else float(subsolar_point(body, epoch_s)[0])
    )
    node_lon = noon_lon + (local_time_h - 12.0) * 15.0
    raan = float(np.mod(node_lon + prime_meridian_deg(body, epoch_s), 360.0))
    return Elements(body, a, e, inc, raan, argp_deg, mean_anomaly_deg, epoch_s, frozen_perigee)


# --------------------------------------------------------------------------------------------
# SPICE (optional)
# --------------------------------------------------------------------------------------------


class SpiceTrajectory:
    """Positions from SPICE kernels through spiceypy (``pip install 'orbitscout[spice]'``).
    Nothing is downloaded. Times are converted here (TDB ≈ TT, within 1.7 ms), so no
    leap-second kernel is needed. With ``frame="J2000"`` (default) positions are rotated into the
    body-fixed frame with the IAU 2015 model in ``bodies``; pass ``frame="IAU_MARS"`` (or another
    body-fixed frame) when you also load a PCK that defines it."""

    def __init__(self, kernels, target: str | int, body: Body, frame: str = "J2000", center=None):
        try:
            import spiceypy
        except ImportError:
            raise OrbitscoutError(
                "SPICE kernels need spiceypy: pip install 'orbitscout[spice]'"
            ) from None
        self._sp = spiceypy
        self.body = body
        self.target = str(target)
        self.frame = frame
        self.center = center or body.name.upper()
        self.kernels = [
            str(k) for k in ([kernels] if isinstance(kernels, (str, Path)) else kernels)
        ]
        for k in self.kernels:
            if not Path(k).is_file():
                raise OrbitscoutError("SPICE kernel not found", k)
            spiceypy.furnsh(k)
        self._period = None

    def _pos_km(self, et):
        et = np.atleast_1d(np.asarray(et, dtype=float))
        pos = np.array([self._sp.spkpos(self.target, float(x), self.frame, "NONE", self.center)[0]
                        for x in et])  # fmt: skip
        return pos.reshape(et.shape + (3,))

    def positions_bodyfixed(self, utc_s) -> np.ndarray:
        s = np.asarray(utc_s, dtype=float)
        et = marstime.tt_seconds(s)
        r = self._pos_km(et) * 1e3
        if self.frame.upper() in ("J2000", "ICRF"):
            rot = icrf_to_body_matrix(self.body, np.atleast_1d(et) / 86400.0)
            r = np.einsum("...ij,...j->...i", rot, r)
        return r.reshape(s.shape + (3,))

    @property
    def period_s(self) -> float:
        """Osculating period from the state at the first kernel-covered call (vis-viva)."""
        if self._period is None:
            raise OrbitscoutError("SpiceTrajectory.period_s needs set_reference_time() first")
        return self._period

    def set_reference_time(self, utc_s: float) -> None:
        """Compute the osculating period at ``utc_s`` (used to pick the search step)."""
        et = float(marstime.tt_seconds(utc_s))
        state = np.asarray(self._sp.spkezr(self.target, et, "J2000", "NONE", self.center)[0]) * 1e3
        r = np.linalg.norm(state[:3])
        v2 = float(np.dot(state[3:], state[3:]))
        inv_a = 2.0 / r - v2 / self.body.gm_m3_s2
        if inv_a <= 0:
            raise OrbitscoutError("the SPICE trajectory is not a bound orbit of " + self.body.name)
        self._period = kepler_period_s(self.body, 1.0 / inv_a)


# --------------------------------------------------------------------------------------------
# Orbiters
# --------------------------------------------------------------------------------------------


# What makes pass times exact, for the note under an illustrative plan or relay table.
EXACT_HINT = (
    "Exact times: give --orbiter FILE.json with your own elements (a, e, i, node, periapsis, "
    'mean anomaly at an epoch) or a SPICE trajectory ({"spice": {"kernels": [...], '
    '"target": ...}}).'
)


@dataclass(frozen=True)
class Orbiter:
    """A spacecraft that can image a site and/or relay its data.

    ``placeholders`` says which of the built-in elements are placeholders (the node, periapsis
    or phase that are not published as mean elements); empty for a SPICE trajectory or the
    user's own elements. Where it is set, the times of individual windows and passes are
    illustrative (:attr:`illustrative`), while their statistics (how often, how long, local
    times, ranges) hold.
    """

    name: str
    trajectory: Elements | SpiceTrajectory
    camera: str | None  # orbitscout.cameras name (or a fallback IFOV name in plan.py)
    max_off_nadir_deg: float  # default reach of the camera by rolling the spacecraft
    relay: bool = True
    description: str = ""
    other_cameras: tuple[str, ...] = field(default_factory=tuple)
    placeholders: str = ""

    @property
    def body(self) -> Body:
        return self.trajectory.body

    @property
    def illustrative(self) -> bool:
        """True where pass times come from placeholder elements (the built-in orbiters)."""
        return bool(self.placeholders)

    @property
    def elements_source(self) -> str:
        """Where the trajectory comes from: ``"SPICE trajectory"``, ``"user elements"`` or
        ``"built-in mean elements: <what is a placeholder>"``."""
        if self.illustrative:
            return f"built-in mean elements: {self.placeholders}"
        if isinstance(self.trajectory, Elements):
            return "user elements"
        return "SPICE trajectory"


def illustrative_note(orbiter: Orbiter) -> str | None:
    """The line printed under a ``plan`` or ``relay`` table of an illustrative orbiter.

    Parameters
    ----------
    orbiter : Orbiter
        The orbiter the table was computed for.

    Returns
    -------
    str or None
        What is a placeholder and what makes the times exact; None where the orbiter's
        trajectory is the user's own elements or a SPICE trajectory.
    """
    if not orbiter.illustrative:
        return None
    return (
        f"Illustrative: {orbiter.name} flies built-in mean elements ({orbiter.placeholders}), "
        "so these times are typical, not real; how often, how long, local times and ranges "
        f"hold.\n{EXACT_HINT}"
    )


def _circ(body: Body, alt_km: float) -> float:
    return body.radius_m + alt_km * 1e3


def _known_orbiters() -> dict[str, Orbiter]:
    # Epoch for the Mars orbiters: the day of Perseverance's landing. For the orbits that are not
    # sun-synchronous (TGO, MAVEN, Mars Express) the node, periapsis and phase at epoch are NOT
    # the real ones (they are not published as mean elements): they are placeholders, and the
    # timing of individual passes is illustrative. Statistics (how often, how long, what local
    # times, what range) are right. For real planning give a SPICE kernel or your own elements.
    mars_epoch = marstime.parse_utc("2021-02-18T00:00:00Z")
    orbiters = [
        Orbiter(
            "tgo",
            # ExoMars TGO science orbit: ~400 km near-circular, i = 74°, ~2 h period, not
            # sun-synchronous (ESA ExoMars TGO pages; docs/facts.md). Node/phase placeholders.
            Elements(MARS, _circ(MARS, 400.0), 0.0, 74.0, 0.0, 0.0, 0.0, mars_epoch),
            camera="cassis",
            max_off_nadir_deg=30.0,  # TGO rolls CaSSIS off-nadir; ~30° is approximate
            description="ExoMars Trace Gas Orbiter, ~400 km, 74°; CaSSIS; two Electra radios",
            placeholders="node and phase are placeholders",
        ),
        Orbiter(
            "mro",
            # MRO: ~255 × 320 km, i ≈ 92.65°, sun-synchronous with its ascending node near
            # 3 pm local mean solar time, periapsis frozen over the south pole (Zurek & Smrekar
            # 2007, JGR 112:E05S01). Inclination computed here from J2 (≈ 92.6°).
            sun_synchronous_elements(
                MARS, 255e3, 320e3, 15.0, mars_epoch, argp_deg=270.0, frozen_perigee=True
            ),
            camera="hirise",
            other_cameras=("ctx",),
            max_off_nadir_deg=30.0,  # MRO rolls up to ~30° for HiRISE/CTX targets (approximate)
            description="Mars Reconnaissance Orbiter, ~255×320 km sun-synchronous 3 pm; "
            "HiRISE (CTX alongside); Electra",
            placeholders="the phase along the orbit is a placeholder (the node follows 3 pm)",
        ),
        Orbiter(
            "odyssey",
            # 2001 Mars Odyssey mapping orbit: ~400 km near-circular, i ≈ 93.1°, sun-synchronous
            # (Saunders et al. 2004, Space Sci. Rev. 110:1). Its local time has been moved over
            # the mission; the 5 pm ascending node used here is approximate (to verify).
            sun_synchronous_elements(MARS, 400e3, 400e3, 17.0, mars_epoch),
            camera="themis_vis",
            max_off_nadir_deg=20.0,  # approximate
            description="2001 Mars Odyssey, ~400 km sun-synchronous; THEMIS VIS; UHF relay",
            placeholders="the phase is a placeholder and the 5 pm node approximate",
        ),
        Orbiter(
            "maven",
            # MAVEN after its 2019 aerobraking to a relay orbit: ~150 × 4,500 km, i = 75°,
            # period ~3.5 h (NASA/LASP MAVEN mission pages; Jakosky et al. 2015, Space Sci. Rev.
            # 195:3 for the 75° science orbit). Approximate; node/periapsis placeholders.
            Elements(
                MARS,
                MARS.radius_m + 0.5 * (150e3 + 4500e3),
                (4500e3 - 150e3) / (2 * MARS.radius_m + 150e3 + 4500e3),
                75.0,
                0.0,
                0.0,
                0.0,
                mars_epoch,
            ),
            camera=None,  # no surface-resolving camera; relay only
            max_off_nadir_deg=30.0,
            description="MAVEN, ~150×4,500 km, 75°; Electra relay; no surface camera",
            placeholders="node, periapsis and phase are placeholders",
        ),
        Orbiter(
            "mex",
            # Mars Express: ~300 × 10,100 km, i ≈ 86.6°, period ~6.7 h (ESA Mars Express pages;
            # Chicarro et al. 2004, ESA SP-1240). Approximate; node/periapsis placeholders.
            Elements(
                MARS,
                MARS.radius_m + 0.5 * (300e3 + 10100e3),
                (10100e3 - 300e3) / (2 * MARS.radius_m + 300e3 + 10100e3),
                86.6,
                0.0,
                0.0,
                0.0,
                mars_epoch,
            ),
            camera="hrsc",
            max_off_nadir_deg=20.0,  # approximate
            description="Mars Express, ~300×10,100 km, 86.6°; HRSC; Melacom UHF relay",
            placeholders="node, periapsis and phase are placeholders",
        ),
        Orbiter(
            "lro",
            # LRO primary (mapping) mission: 50 km mean circular polar orbit (Robinson et al.
            # 2010, Space Sci. Rev. 150:81; docs/facts.md); since 2011 it flies a ~30 × 180 km
            # frozen orbit instead. Node/phase placeholders; epoch = start of the mapping mission.
            Elements(
                MOON,
                _circ(MOON, 50.0),
                0.0,
                90.0,
                0.0,
                0.0,
                0.0,
                marstime.parse_utc("2009-09-15T00:00:00Z"),
            ),  # fmt: skip
            camera="nac",
            max_off_nadir_deg=20.0,  # LRO slews for NAC targets; ~20° is approximate
            relay=False,
            description="Lunar Reconnaissance Orbiter, 50 km polar; LROC NAC",
            placeholders="node and phase are placeholders; the 2009-2011 50 km mapping orbit",
        ),
    ]
    return {o.name: o for o in orbiters}


ORBITERS: dict[str, Orbiter] = _known_orbiters()
_ALIASES = {
    "exomars": "tgo",
    "exomars-tgo": "tgo",
    "mars-express": "mex",
    "marsexpress": "mex",
    "mars-odyssey": "odyssey",
    "ody": "odyssey",
    "m01": "odyssey",
}


def get_orbiter(name: str) -> Orbiter:
    """A known orbiter by name (``tgo``, ``mro``, ``odyssey``, ``maven``, ``mex``, ``lro``)."""
    key = name.strip().lower()
    key = _ALIASES.get(key, key)
    try:
        return ORBITERS[key]
    except KeyError:
        raise OrbitscoutError(
            f"unknown orbiter {name!r}; known: {', '.join(ORBITERS)} "
            "(or give a JSON file of elements)"
        ) from None


def elements_from_dict(d: dict, source: str | None = None) -> Orbiter:
    """An orbiter from a small JSON-like dict. Keys: ``body`` (mars|moon, default mars),
    ``a_km`` or ``altitude_km`` (circular) or ``periapsis_km`` + ``apoapsis_km`` (altitudes),
    ``e``, ``i_deg``, ``raan_deg``, ``argp_deg``, ``mean_anomaly_deg``, ``epoch`` (UTC), and
    optionally ``local_time_h`` (sun-synchronous: inclination and node computed; ``i_deg`` and
    ``raan_deg`` then must be absent; ``solar_time`` "lmst" (default) or "ltst" says which),
    ``name``, ``camera``, ``max_off_nadir_deg``, ``frozen_perigee``. A ``spice`` member
    ``{"kernels": [...], "target": "-143", "frame": "J2000"}`` makes a SPICE trajectory
    instead."""
    if not isinstance(d, dict):
        raise OrbitscoutError("orbiter elements must be a JSON object", source)
    known = {
        "name", "body", "a_km", "altitude_km", "periapsis_km", "apoapsis_km", "e", "i_deg",
        "raan_deg", "argp_deg", "mean_anomaly_deg", "epoch", "local_time_h", "camera",
        "max_off_nadir_deg", "frozen_perigee", "spice", "relay", "solar_time",
    }  # fmt: skip
    unknown = sorted(set(d) - known)
    if unknown:
        raise OrbitscoutError(f"unknown orbiter keys {unknown}; known: {sorted(known)}", source)
    body = get_body(str(d.get("body", "mars")))

    def num(key, default=None):
        if key not in d:
            if default is None:
                raise OrbitscoutError(f"orbiter elements need {key!r}", source)
            return default
        try:
            value = float(d[key])
        except (TypeError, ValueError):
            raise OrbitscoutError(f"{key} must be a number, got {d[key]!r}", source) from None
        if not math.isfinite(value):
            raise OrbitscoutError(f"{key} must be finite", source)
        return value

    name = str(d.get("name", "custom"))
    camera = d.get("camera")
    off = num("max_off_nadir_deg", 30.0)
    if "spice" in d:
        sp = d["spice"]
        traj = SpiceTrajectory(sp.get("kernels", []), sp["target"], body, sp.get("frame", "J2000"))
        return Orbiter(name, traj, camera, off, bool(d.get("relay", True)), "SPICE trajectory")
    epoch = marstime.parse_utc(d["epoch"]) if "epoch" in d else None
    if epoch is None:
        raise OrbitscoutError("orbiter elements need 'epoch' (UTC)", source)
    if "periapsis_km" in d or "apoapsis_km" in d:
        rp, ra = body.radius_m + num("periapsis_km") * 1e3, body.radius_m + num("apoapsis_km") * 1e3
        if ra < rp:
            raise OrbitscoutError("apoapsis_km must not be below periapsis_km", source)
        a, e = 0.5 * (rp + ra), (ra - rp) / (ra + rp)
    elif "altitude_km" in d:
        a, e = body.radius_m + num("altitude_km") * 1e3, num("e", 0.0)
    else:
        a, e = num("a_km") * 1e3, num("e", 0.0)
    argp, m = num("argp_deg", 0.0), num("mean_anomaly_deg", 0.0)
    frozen = bool(d.get("frozen_perigee", False))
    if "local_time_h" in d:
        if "i_deg" in d or "raan_deg" in d:
            raise OrbitscoutError("give either local_time_h or i_deg/raan_deg, not both", source)
        lt = num("local_time_h")
        if not 0 <= lt < 24:
            raise OrbitscoutError("local_time_h must be in [0, 24)", source)
        rp, ra = a * (1 - e), a * (1 + e)
        el = sun_synchronous_elements(
            body, rp - body.radius_m, ra - body.radius_m, lt, epoch, argp, m, frozen,
            str(d.get("solar_time", "lmst")).lower(),
        )  # fmt: skip
    else:
        el = Elements(body, a, e, num("i_deg"), num("raan_deg", 0.0), argp, m, epoch, frozen)
    return Orbiter(name, el, camera, off, bool(d.get("relay", True)), "user elements")


def resolve_orbiter(spec: str) -> Orbiter:
    """A known orbiter name, a path to a JSON file of elements, or inline JSON elements."""
    text = spec.strip()
    if text.startswith("{"):
        try:
            return elements_from_dict(json.loads(text), "--orbiter")
        except json.JSONDecodeError as exc:
            raise OrbitscoutError(f"orbiter JSON does not parse: {exc}") from None
    if text.lower().endswith(".json") or Path(text).is_file():
        path = Path(text)
        if not path.is_file():
            raise OrbitscoutError("orbiter elements file not found", path)
        try:
            data = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise OrbitscoutError(f"cannot read orbiter elements: {exc}", path) from None
        return elements_from_dict(data, str(path))
    return get_orbiter(text)
