"""Where jettisoned EDL hardware should lie relative to the lander: drag, wind, the lander's path.

Model (3 degrees of freedom, flat ground, x east, y north, z height above the Mars datum):

1. The capsule hangs on its parachute from the published deployment state (altitude, speed,
   flight-path angle, heading) and slows down; the heat shield is released at the published speed
   (or time) and falls on its own ballistic coefficient ``beta = m / (Cd A)``.
2. The capsule (now lighter) goes on down to the published backshell-separation altitude; the
   backshell with its parachute then falls on its own, drifting with the wind; the canopy settles
   a few tens of metres downwind of the backshell.
3. The lander after backshell separation: either powered (it cancels its horizontal velocity, flies
   a backshell-avoidance divert away from the backshell's drift and, with terrain-relative
   navigation, a divert to its safe target) or ballistic (a crash, e.g. Schiaparelli).
4. The sky-crane descent stage, after setting the rover down, flies away under thrust (pitched,
   for a set burn time) and then falls ballistically: a powered flight, modelled crudely
   (constant thrust-to-weight, no mass loss, see ``missions.py``).

Offset of a piece = its impact point - the lander's touchdown point. A Monte Carlo over the
uncertain inputs (wind 0-8 m/s from any direction unless given, per docs/facts.md; drag
coefficients; masses; separation states; diverts) gives a mean offset and a covariance ellipse.

Drag: ``a = -rho |v - w| (v - w) / (2 beta)`` with the NASA Glenn Mars atmosphere
(docs/facts.md); the wind ``w`` is horizontal and constant with height (a simple assumption).
Integration: a fixed-step RK4 vectorised over the samples, stopping each sample at its event
(ground, speed, time, altitude) with a refined last step.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from orbitscout.core.bodies import MARS, Body, get_body
from orbitscout.core.errors import OrbitscoutError
from orbitscout.core.geometry import bearing_deg
from orbitscout.edl.missions import MissionEDL, Normal, Piece, get_mission, mission_names

__all__ = [
    "Prior",
    "mars_atmosphere",
    "density",
    "gravity",
    "fall",
    "ballistic_impact",
    "terminal_velocity",
    "simulate_mission",
    "debris_priors",
    "mission_names",
]

PIECE_CLASSES = ("heat_shield", "backshell", "parachute", "descent_stage")
WIND_MAX_M_S = 8.0  # descent winds < 8 m/s at most sites (Paton et al., via docs/facts.md)


# ----------------------------------------------------------------------------- atmosphere
def mars_atmosphere(h_m):
    """NASA Glenn simple Mars atmosphere (docs/facts.md): (T degC, p kPa, rho kg/m^3) at
    height h m."""
    h = np.asarray(h_m, dtype=float)
    t = np.where(h < 7000.0, -31.0 - 0.000998 * h, -23.4 - 0.00222 * h)
    p = 0.699 * np.exp(-0.00009 * h)
    rho = p / (0.1921 * (t + 273.1))
    return t, p, rho


def density(body: Body | str, h_m):
    """Air density (kg/m^3) at height h on ``body``; zero on the airless Moon."""
    body = get_body(body) if isinstance(body, str) else body
    if body.name == MARS.name:
        return mars_atmosphere(h_m)[2]
    return np.zeros_like(np.asarray(h_m, dtype=float))


def gravity(body: Body | str) -> float:
    """Surface gravity GM / R^2 (m/s^2) on the body's IAU sphere."""
    body = get_body(body) if isinstance(body, str) else body
    return body.gm_m3_s2 / body.radius_m**2


def terminal_velocity(mass_kg, area_m2, cd, rho, g: float = gravity(MARS)):
    """sqrt(2 m g / (rho Cd A))."""
    return np.sqrt(2.0 * mass_kg * g / (rho * cd * area_m2))


# ----------------------------------------------------------------------------- integrator
def _velocity(speed, fpa_deg, heading_deg):
    speed, fpa, hd = (np.asarray(a, dtype=float) for a in (speed, fpa_deg, heading_deg))
    g, h = np.radians(fpa), np.radians(hd)
    return np.stack(
        np.broadcast_arrays(
            speed * np.cos(g) * np.sin(h), speed * np.cos(g) * np.cos(h), speed * np.sin(g)
        ),
        axis=-1,
    )


def _integrate(
    x0: np.ndarray,
    beta,
    body: Body,
    wind,
    stop: Callable[[np.ndarray, np.ndarray], np.ndarray],
    dt: float = 0.05,
    t_max: float = 1200.0,
    thrust: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """RK4 over N samples until ``stop(t, X) <= 0`` for each: returns (t_stop (N,), X_stop (N,6)).

    ``X`` = [x, y, z, vx, vy, vz]; ``t`` is passed as an (N,) array. ``beta`` (N,) kg/m^2,
    ``np.inf`` for no drag; ``wind`` (N,3) or (3,) m/s; ``thrust(t, X)`` an extra acceleration
    (N,3). The crossing is located by regula falsi on partial RK4 steps within the last step.
    """
    x = np.array(x0, dtype=float, copy=True)
    n = x.shape[0]
    beta = np.broadcast_to(np.asarray(beta, dtype=float), (n,))
    inv_b = np.where(np.isfinite(beta), 1.0 / np.where(np.isfinite(beta), beta, 1.0), 0.0)
    wind = np.broadcast_to(np.asarray(wind, dtype=float), (n, 3))
    g = gravity(body)
    airless = body.name != MARS.name

    def deriv(t, s):
        v = s[:, 3:]
        a = np.zeros_like(v)
        a[:, 2] = -g
        if not airless:
            rel = v - wind
            rho = mars_atmosphere(s[:, 2])[2]
            a -= (0.5 * rho * inv_b * np.linalg.norm(rel, axis=1))[:, None] * rel
        if thrust is not None:
            a += thrust(t, s)
        return np.concatenate([v, a], axis=1)

    def step(t, s, h):
        hh = h[:, None]
        k1 = deriv(t, s)
        k2 = deriv(t + 0.5 * h, s + 0.5 * hh * k1)
        k3 = deriv(t + 0.5 * h, s + 0.5 * hh * k2)
        k4 = deriv(t + h, s + hh * k3)
        return s + hh / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4)

    t_out = np.full(n, np.nan)
    x_out = np.full_like(x, np.nan)
    tv = np.zeros(n)
    g0 = stop(tv, x)
    active = ~(g0 <= 0)
    t_out[~active], x_out[~active] = 0.0, x[~active]
    hfull = np.full(n, dt)
    while active.any():
        if tv[0] > t_max:
            raise OrbitscoutError(f"trajectory did not end within {t_max:.0f} s", "edl")
        xn = step(tv, x, hfull)
        gn = stop(tv + dt, xn)
        hit = active & (gn <= 0)
        if hit.any():
            lo, hi = np.zeros(n), np.ones(n)
            glo, ghi = g0.copy(), gn.copy()
            frac = np.ones(n)
            for _ in range(4):
                with np.errstate(divide="ignore", invalid="ignore"):
                    f = lo + (hi - lo) * glo / (glo - ghi)
                frac = np.where(hit & np.isfinite(f), np.clip(f, 0.0, 1.0), frac)
                xr = step(tv, x, np.where(hit, frac * dt, 0.0))
                gr = stop(tv + frac * dt, xr)
                pos = gr > 0
                lo, glo = np.where(pos, frac, lo), np.where(pos, gr, glo)
                hi, ghi = np.where(pos, hi, frac), np.where(pos, ghi, gr)
            t_out[hit] = tv[hit] + frac[hit] * dt
            x_out[hit] = xr[hit]
            active &= ~hit
        x = xn
        g0 = gn
        tv = tv + dt
    return t_out, x_out


def fall(
    body: Body | str,
    altitude_m,
    speed_m_s,
    fpa_deg,
    heading_deg,
    beta=np.inf,
    wind_m_s=(0.0, 0.0, 0.0),
    ground_m: float = 0.0,
    dt: float = 0.02,
) -> dict[str, np.ndarray]:
    """Ballistic fall to the ground from one or many states: east/north (m), t (s), velocity.

    ``altitude_m`` is the height above the datum (the atmosphere's h); ``ground_m`` the ground's.
    """
    body = get_body(body) if isinstance(body, str) else body
    alt = np.atleast_1d(np.asarray(altitude_m, dtype=float))
    v = np.atleast_2d(_velocity(speed_m_s, fpa_deg, heading_deg))
    n = max(alt.size, v.shape[0])
    x0 = np.zeros((n, 6))
    x0[:, 2] = np.broadcast_to(alt, (n,))
    x0[:, 3:] = np.broadcast_to(v, (n, 3))
    t, x = _integrate(x0, beta, body, wind_m_s, lambda _t, s: s[:, 2] - ground_m, dt=dt)
    return {"east_m": x[:, 0], "north_m": x[:, 1], "t_s": t, "velocity": x[:, 3:]}


def ballistic_impact(body: Body | str, altitude_m, speed_m_s, fpa_deg, heading_deg, **kw):
    """Impact of a body with no drag (e.g. a crash on the Moon): a pure ballistic arc."""
    return fall(body, altitude_m, speed_m_s, fpa_deg, heading_deg, beta=np.inf, **kw)


# ----------------------------------------------------------------------------- priors
@dataclass
class Prior:
    """Where a piece should lie relative to the lander: mean offset and 1-sigma covariance."""

    cls: str
    east_m: float
    north_m: float
    distance_m: float  # expected distance: mean over the samples of each sample's distance
    bearing_deg: float  # of the mean offset (east_m, north_m), clockwise from north
    cov: np.ndarray  # 2x2 east/north covariance, m^2
    semi_major_m: float  # 1-sigma ellipse
    semi_minor_m: float
    orientation_deg: float  # major axis, clockwise from north, in [0, 180)
    distance_sd_m: float = math.nan  # sd of the per-sample distance
    offset_distance_m: float = math.nan  # |mean offset|: shorter when the wind direction is unknown
    distance_p2_5_m: float = math.nan  # 2.5 and 97.5 percentiles of the per-sample distance
    distance_p97_5_m: float = math.nan
    published_distance_m: float | None = None
    published_bearing_deg: float | None = None
    published_source: str = ""
    n_samples: int = 0

    def logpdf(self, east_m: float, north_m: float) -> float:
        """Gaussian log density of a candidate at (east_m, north_m) from the lander."""
        d = np.array([east_m - self.east_m, north_m - self.north_m])
        cov = self.cov + np.eye(2) * 1e-6
        _, logdet = np.linalg.slogdet(cov)
        return float(-0.5 * d @ np.linalg.solve(cov, d) - 0.5 * logdet - math.log(2 * math.pi))

    def to_dict(self) -> dict:
        return {
            "class": self.cls,
            "east_m": round(self.east_m, 1),
            "north_m": round(self.north_m, 1),
            "distance_m": round(self.distance_m, 1),
            "bearing_deg": round(self.bearing_deg, 1),
            "offset_distance_m": round(self.offset_distance_m, 1),
            "distance_sd_m": round(self.distance_sd_m, 1),
            "distance_95pct_m": [round(self.distance_p2_5_m, 1), round(self.distance_p97_5_m, 1)],
            "cov": np.round(self.cov, 1).tolist(),
            "semi_major_m": round(self.semi_major_m, 1),
            "semi_minor_m": round(self.semi_minor_m, 1),
            "orientation_deg": round(self.orientation_deg, 1),
            "published_distance_m": self.published_distance_m,
            "published_bearing_deg": self.published_bearing_deg,
            "published_source": self.published_source,
            "n_samples": self.n_samples,
        }


def prior_from_samples(cls: str, east: np.ndarray, north: np.ndarray) -> Prior:
    """Mean, covariance and 1-sigma ellipse of sampled offsets."""
    e, nn = float(np.mean(east)), float(np.mean(north))
    cov = np.cov(np.vstack([east, north])) if east.size > 1 else np.zeros((2, 2))
    w, v = np.linalg.eigh(cov)
    major = v[:, 1]
    dist = np.hypot(east, north)
    return Prior(
        cls=cls,
        east_m=e,
        north_m=nn,
        distance_m=float(dist.mean()),
        bearing_deg=bearing_deg(e, nn),
        cov=cov,
        semi_major_m=float(math.sqrt(max(w[1], 0.0))),
        semi_minor_m=float(math.sqrt(max(w[0], 0.0))),
        orientation_deg=bearing_deg(major[0], major[1]) % 180.0,
        offset_distance_m=math.hypot(e, nn),
        distance_sd_m=float(dist.std(ddof=1)) if dist.size > 1 else 0.0,
        distance_p2_5_m=float(np.percentile(dist, 2.5)),
        distance_p97_5_m=float(np.percentile(dist, 97.5)),
        n_samples=int(east.size),
    )


def _beta(piece: Piece, rng, n):
    m = np.maximum(piece.mass_kg.sample(rng, n), 1.0)
    cd = np.maximum(piece.cd.sample(rng, n), 0.05)
    return m / (cd * piece.area_m2)


def _unit(az_deg):
    a = np.radians(az_deg)
    return np.stack([np.sin(a), np.cos(a)], axis=-1)


def simulate_mission(
    mission: str | MissionEDL,
    n_samples: int = 500,
    seed: int = 0,
    wind_speed: float | None = None,
    wind_from_deg: float | None = None,
    dt: float = 0.1,
) -> dict[str, np.ndarray]:
    """Monte Carlo of a mission's EDL: per-sample offsets (N,2) of each piece from the lander,
    ``touchdown`` (N,2) in the parachute-deployment frame, and diagnostics (``hs_sep_agl_m``, ...).
    """
    m = get_mission(mission) if isinstance(mission, str) else mission
    body = get_body(m.body)
    rng = np.random.default_rng(seed)
    n = int(n_samples)
    if n < 2:
        raise OrbitscoutError("need at least 2 Monte Carlo samples", "--samples")
    z0 = m.ground_elevation_m
    g = gravity(body)

    # wind: speed uniform 0-8 m/s and any direction unless given (given: +-1 m/s, +-20 deg)
    if wind_speed is None:
        ws = rng.uniform(0.0, WIND_MAX_M_S, n)
    else:
        ws = np.maximum(Normal(float(wind_speed), 1.0).sample(rng, n), 0.0)
    wfrom = (
        rng.uniform(0, 360, n)
        if wind_from_deg is None
        else Normal(wind_from_deg, 20.0).sample(rng, n)
    )
    wind = np.zeros((n, 3))
    wind[:, :2] = ws[:, None] * _unit(wfrom + 180.0)  # blowing towards from + 180

    # 1. capsule on the parachute, from deployment to heat-shield release
    x = np.zeros((n, 6))
    x[:, 2] = z0 + m.deploy_agl_m.sample(rng, n)
    heading = m.heading_deg.sample(rng, n)
    x[:, 3:] = _velocity(
        m.deploy_speed_m_s.sample(rng, n), m.deploy_fpa_deg.sample(rng, n), heading
    )
    chute_cd = m.chute_cd.sample(rng, n)
    a_chute = math.pi * m.chute_diameter_m**2 / 4
    m_cap = m.capsule_mass_kg.sample(rng, n)
    hs_mass = np.maximum(m.heat_shield.mass_kg.sample(rng, n), 1.0)
    hs_cd = np.maximum(m.heat_shield.cd.sample(rng, n), 0.05)
    beta_cap = m_cap / (chute_cd * a_chute)
    if m.hs_sep_speed_m_s is not None:
        v_sep = m.hs_sep_speed_m_s.sample(rng, n)
        stop = lambda _t, s: np.linalg.norm(s[:, 3:] - wind, axis=1) - v_sep  # noqa: E731
    elif m.hs_sep_agl_m is not None:
        z_sep = z0 + m.hs_sep_agl_m.sample(rng, n)
        stop = lambda _t, s: s[:, 2] - z_sep  # noqa: E731
    else:
        t_sep = m.hs_sep_dt_s.sample(rng, n)
        stop = lambda t, s: t_sep - t  # noqa: E731
    _, x_hs = _integrate(x, beta_cap, body, wind, stop, dt=dt)
    hs_agl = x_hs[:, 2] - z0

    # heat shield falls alone
    beta_hs = hs_mass / (hs_cd * m.heat_shield.area_m2)
    t_hs, p_hs = _integrate(x_hs, beta_hs, body, wind, lambda _t, s: s[:, 2] - z0, dt=dt)
    beta_cap2 = (m_cap - hs_mass) / (chute_cd * a_chute)
    # where the capsule is when the heat shield lands (MARDI saw this for MSL: a check)
    _, x_at = _integrate(
        x_hs, beta_cap2, body, wind, lambda t, s: np.minimum(t_hs - t, s[:, 2] - z0), dt=dt
    )

    # 2. lighter capsule down to backshell separation
    bs_alt = z0 + m.bs_sep_agl_m.sample(rng, n)
    t_bs, x_bs = _integrate(x_hs, beta_cap2, body, wind, lambda _t, s: s[:, 2] - bs_alt, dt=dt)
    beta_bs = _beta(m.backshell, rng, n)
    _, p_bs = _integrate(x_bs, beta_bs, body, wind, lambda _t, s: s[:, 2] - z0, dt=dt)
    # the canopy settles downwind of the backshell (direction random when calm)
    wdir = np.where(ws[:, None] > 0.5, _unit(wfrom + 180.0), _unit(rng.uniform(0, 360, n)))
    p_chute = p_bs[:, :2] + m.parachute_downwind_m.sample(rng, n)[:, None] * wdir

    # 3. the lander after backshell separation
    vh = x_bs[:, 3:5]
    if m.lander_mode == "ballistic":
        beta_l = _beta(m.lander_piece, rng, n)
        _, p_l = _integrate(x_bs, beta_l, body, wind, lambda _t, s: s[:, 2] - z0, dt=dt)
        touchdown = p_l[:, :2]
    else:
        speed_h = np.linalg.norm(vh, axis=1)
        # stop the horizontal motion at a constant deceleration (assumed, missions.py)
        stop_disp = vh * (speed_h / (2.0 * m.powered_decel_m_s2))[:, None]
        # backshell-avoidance divert: away from the direction the backshell drifts (its ground
        # velocity), i.e. against the capsule's horizontal ground velocity at separation
        away = np.where(
            speed_h[:, None] > 0.5, -vh / np.maximum(speed_h, 1e-9)[:, None], -_unit(heading)
        )
        divert = m.avoid_divert_m.sample(rng, n)[:, None] * away
        if m.trn_divert_max_m > 0:
            r = m.trn_divert_max_m * np.sqrt(rng.uniform(0, 1, n))  # uniform over a disc
            divert += r[:, None] * _unit(rng.uniform(0, 360, n))
        touchdown = x_bs[:, :2] + stop_disp + divert

    out = {
        "heat_shield": p_hs[:, :2] - touchdown,
        "backshell": p_bs[:, :2] - touchdown,
        "parachute": p_chute - touchdown,
        "touchdown": touchdown,
        "hs_sep_agl_m": hs_agl,
        "hs_sep_speed_m_s": np.linalg.norm(x_hs[:, 3:], axis=1),
        "hs_fall_s": t_hs,
        "capsule_agl_at_hs_impact_m": x_at[:, 2] - z0,
        "bs_sep_speed_m_s": np.linalg.norm(x_bs[:, 3:], axis=1),
        "bs_impact_speed_m_s": np.linalg.norm(p_bs[:, 3:], axis=1),
        "hs_impact_speed_m_s": np.linalg.norm(p_hs[:, 3:], axis=1),
        "parachute_phase_s": t_bs,
        "wind": wind[:, :2],
    }

    # 4. descent-stage flyaway
    if m.flyaway is not None and m.lander_mode == "powered":
        f = m.flyaway
        az = rng.uniform(0, 360, n) if f.azimuth_deg is None else f.azimuth_deg.sample(rng, n)
        pitch = np.radians(f.pitch_deg.sample(rng, n))
        acc = f.thrust_to_weight.sample(rng, n) * g
        burn = np.maximum(f.burn_s.sample(rng, n), 0.0)
        u = np.zeros((n, 3))
        u[:, :2] = np.sin(pitch)[:, None] * _unit(az)
        u[:, 2] = np.cos(pitch)
        thrust_acc = acc[:, None] * u

        def thrust(t, _s):
            return np.where((t < burn)[:, None], thrust_acc, 0.0)

        x_ds = np.zeros((n, 6))
        x_ds[:, :2] = touchdown
        x_ds[:, 2] = z0 + f.start_agl_m.sample(rng, n)
        x_ds[:, 5] = -0.75  # sky-crane descent rate ~0.75 m/s: assumed
        beta_ds = _beta(f.stage, rng, n)
        # stop on the ground once the burn has lifted it off (t > 1 s guards the start)
        t_ds, p_ds = _integrate(
            x_ds,
            beta_ds,
            body,
            wind,
            lambda t, s: np.where(t < 1.0, 1.0, s[:, 2] - z0),
            dt=dt,
            thrust=thrust,
        )
        out["descent_stage"] = p_ds[:, :2] - touchdown
        out["ds_impact_speed_m_s"] = np.linalg.norm(p_ds[:, 3:], axis=1)
        out["ds_flight_s"] = t_ds
    return out


def debris_priors(
    mission: str,
    n_samples: int = 500,
    seed: int = 0,
    wind_speed: float | None = None,
    wind_from_deg: float | None = None,
) -> dict[str, Prior]:
    """Gaussian priors of each jettisoned piece's offset from the lander for a known mission.

    Keys are among ``heat_shield``, ``backshell``, ``parachute``, ``descent_stage``.
    Unknown mission: :class:`OrbitscoutError`.
    """
    m = get_mission(mission)
    sims = simulate_mission(m, n_samples, seed, wind_speed, wind_from_deg)
    priors: dict[str, Prior] = {}
    for cls in PIECE_CLASSES:
        if cls not in sims:
            continue
        off = sims[cls]
        p = prior_from_samples(cls, off[:, 0], off[:, 1])
        pub = m.published.get(cls)
        if pub is not None:
            p.published_distance_m = pub.distance_m
            p.published_bearing_deg = pub.bearing_deg
            p.published_source = pub.source
        priors[cls] = p
    return priors
