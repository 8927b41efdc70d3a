"""Orbits: period, J2 drift against the analytic formulae and a numerical integration,
sun-synchronous local time over a Mars year, ground tracks, the Sun, user elements."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from orbitscout.core.bodies import MARS, MOON, orientation_deg
from orbitscout.core.errors import OrbitscoutError
from orbitscout.observe import marstime
from orbitscout.observe.orbits import (
    Elements,
    elements_from_dict,
    get_orbiter,
    ground_track,
    j2_rates,
    kepler_period_s,
    resolve_orbiter,
    subsolar_point,
    sun_synchronous_elements,
)

EPOCH = marstime.parse_utc("2021-02-18T00:00:00Z")


def _tgo() -> Elements:
    return Elements(MARS, MARS.radius_m + 400e3, 0.0, 74.0, 30.0, 0.0, 0.0, EPOCH)


def test_period_matches_kepler_and_facts():
    el = _tgo()
    assert el.period_s == pytest.approx(2 * math.pi * math.sqrt(el.a_m**3 / MARS.gm_m3_s2))
    assert el.period_s / 60 == pytest.approx(118.4, abs=0.1)  # docs/facts.md: ~118.4 min
    # the propagated spacecraft is back at its ascending node after one nodal period
    _, argp_dot, m_dot = j2_rates(MARS, el.a_m, el.e, el.i_deg)
    r0, _ = el.propagate(EPOCH)
    r1, v1 = el.propagate(EPOCH + 2 * math.pi / (m_dot + argp_dot))
    assert np.linalg.norm(r1) == pytest.approx(np.linalg.norm(r0), rel=1e-9)
    assert r0[2] == pytest.approx(0.0, abs=1e-6)
    assert r1[2] == pytest.approx(0.0, abs=1.0) and v1[2] > 0


def _node_deg(r, v):
    h = np.cross(r, v)
    return np.degrees(np.arctan2(h[..., 0], -h[..., 1]))


def test_j2_node_drift_analytic_and_propagated():
    el = _tgo()
    rate = el.raan_rate_deg_per_day
    assert rate == pytest.approx(-2.84, abs=0.01)  # docs/facts.md: ~ −2.84°/day at 400 km, 74°
    # the formula itself: −3/2 n J2 (R/p)² cos i
    n = math.sqrt(MARS.gm_m3_s2 / el.a_m**3)
    expected = (
        -1.5 * n * MARS.j2 * (MARS.equatorial_radius_m / el.a_m) ** 2 * math.cos(math.radians(74.0))
    )
    assert math.radians(rate) / 86400 == pytest.approx(expected, rel=1e-12)
    # the propagated orbit plane turns at that rate
    r, v = el.propagate(np.array([EPOCH, EPOCH + 10 * 86400.0]))
    nodes = _node_deg(r, v)
    drift = (nodes[1] - nodes[0] + 180) % 360 - 180
    assert drift == pytest.approx(rate * 10 - 0.0, abs=0.01)


def test_j2_node_drift_against_numerical_integration():
    """Integrate the two-body + J2 equations of motion for two days; the orbit-averaged node
    must drift at the analytic rate (within 2 %)."""
    from scipy.integrate import solve_ivp

    el = _tgo()
    mu, j2, re = MARS.gm_m3_s2, MARS.j2, MARS.equatorial_radius_m

    def rhs(_, y):
        x, yy, z = y[:3]
        r2 = x * x + yy * yy + z * z
        r = math.sqrt(r2)
        k = 1.5 * j2 * mu * re**2 / r**5
        f = 5 * z * z / r2
        ax = -mu * x / r**3 + k * x * (f - 1)
        ay = -mu * yy / r**3 + k * yy * (f - 1)
        az = -mu * z / r**3 + k * z * (f - 3)
        return [y[3], y[4], y[5], ax, ay, az]

    r0, v0 = el.propagate(EPOCH)
    period = el.period_s
    days = 2.0
    t_eval = np.concatenate(
        [np.linspace(0, period, 60), np.linspace(days * 86400 - period, days * 86400, 60)]
    )
    sol = solve_ivp(rhs, (0, days * 86400), np.concatenate([r0, v0]), method="DOP853",
                    rtol=1e-10, atol=1e-3, t_eval=t_eval)  # fmt: skip
    nodes = np.unwrap(np.radians(_node_deg(sol.y[:3].T, sol.y[3:].T)))
    first, last = nodes[:60].mean(), nodes[60:].mean()
    measured = math.degrees(last - first) / (days - period / 86400)
    assert measured == pytest.approx(el.raan_rate_deg_per_day, rel=0.02)


def test_sun_synchronous_keeps_local_time_over_a_mars_year():
    mro = get_orbiter("mro").trajectory
    assert mro.i_deg == pytest.approx(92.65, abs=0.1)  # Zurek & Smrekar 2007
    # find ascending equator crossings on a few days spread over a Mars year
    lmst, ltst, eot = [], [], []
    for day in np.linspace(0, 687, 9):
        t = EPOCH + day * 86400 + np.arange(0, 2 * mro.period_s, 1.0)
        z = mro.positions_bodyfixed(t)[:, 2]
        k = np.nonzero((z[:-1] < 0) & (z[1:] >= 0))[0][0]
        tc = t[k] - z[k] * (t[k + 1] - t[k]) / (z[k + 1] - z[k])
        _, lon, _ = ground_track(mro, np.array([tc]))
        mt = marstime.mars_time(tc, lon[0])
        lmst.append(mt.lmst_h)
        ltst.append(mt.ltst_h)
        eot.append(mt.eot_deg)
    lmst, ltst, eot = map(np.asarray, (lmst, ltst, eot))
    assert np.all(np.abs(lmst - 15.0) < 0.01)  # 36 s over a Mars year
    # the true solar time swings with the equation of time, as it must
    assert np.allclose(ltst - lmst, eot / 15.0, atol=1e-6)
    assert np.ptp(ltst) > 0.5


def test_non_sun_synchronous_local_time_drifts():
    tgo = _tgo()
    lon0 = tgo.ascending_node_lon_deg(np.array([EPOCH, EPOCH + 20 * 86400]))
    times = np.array([EPOCH, EPOCH + 20 * 86400])
    lt = marstime.mars_time(times, lon0).lmst_h
    assert abs(((lt[1] - lt[0]) + 12) % 24 - 12) > 1.0


def test_ground_track():
    tgo = get_orbiter("tgo").trajectory
    t = EPOCH + 100.0 + np.arange(0, 3 * tgo.period_s, 10.0)
    lat, lon, alt = ground_track(tgo, t)
    assert np.allclose(alt, 400e3, atol=1.0)
    assert np.max(lat) == pytest.approx(74.0, abs=0.05)
    assert np.min(lat) == pytest.approx(-74.0, abs=0.05)
    assert np.all((lon >= -180) & (lon < 180))
    # successive ascending equator crossings step west by about Mars's rotation in one orbit
    z = tgo.positions_bodyfixed(t)[:, 2]
    k = np.nonzero((z[:-1] < 0) & (z[1:] >= 0))[0]
    step = (lon[k[1]] - lon[k[0]] + 180) % 360 - 180
    rot = -360.0 * tgo.period_s / MARS.sidereal_rotation_s
    assert step == pytest.approx(rot + tgo.raan_rate_deg_per_day * tgo.period_s / 86400, abs=0.1)


def test_iau_orientation():
    """The IAU 2015 Mars model with its slow terms reproduces IAU 2009 at J2000 (317.681,
    52.887, 176.630); the Moon's model has its E1 terms (pole ~1.5° off its mean)."""
    ra, dec, w = orientation_deg(MARS, 0.0)
    assert (ra, dec, w) == pytest.approx((317.681, 52.887, 176.630), abs=0.01)
    ra, dec, w = orientation_deg(MOON, 0.0)
    assert ra == pytest.approx(269.9949 - 3.8787 * math.sin(math.radians(125.045)), abs=0.3)


def test_moon_sun_full_and_new():
    # Full Moon 2021-02-27 08:17 UTC, new Moon 2021-03-13 10:21 UTC (USNO): the Sun is over the
    # near side (longitude within a few degrees of 0) and the far side respectively.
    lon_full, lat_full = subsolar_point(MOON, marstime.parse_utc("2021-02-27T08:17Z"))
    lon_new, _ = subsolar_point(MOON, marstime.parse_utc("2021-03-13T10:21Z"))
    assert abs(lon_full) < 10.0 and abs(lat_full) < 1.6
    assert abs(lon_new) > 170.0


def test_sun_synchronous_node_set_from_the_sun():
    el = sun_synchronous_elements(MARS, 300e3, 300e3, 10.5, EPOCH)
    lon = el.ascending_node_lon_deg(EPOCH)
    assert marstime.mars_time(EPOCH, lon).lmst_h == pytest.approx(10.5, abs=1e-6)
    el = sun_synchronous_elements(MARS, 300e3, 300e3, 10.5, EPOCH, solar_time="ltst")
    lon = el.ascending_node_lon_deg(EPOCH)
    assert marstime.mars_time(EPOCH, lon).ltst_h == pytest.approx(10.5, abs=1e-6)
    with pytest.raises(OrbitscoutError):
        sun_synchronous_elements(MOON, 3000e3, 3000e3, 12.0, EPOCH)  # lunar J2 too weak there


def test_user_elements(tmp_path):
    d = {"name": "mine", "body": "mars", "altitude_km": 400, "i_deg": 74, "raan_deg": 30,
         "epoch": "2021-02-18T00:00:00Z", "camera": "cassis"}  # fmt: skip
    orb = elements_from_dict(d)
    assert orb.trajectory.period_s == pytest.approx(_tgo().period_s)
    path = tmp_path / "orb.json"
    path.write_text(json.dumps(d))
    assert resolve_orbiter(str(path)).trajectory == orb.trajectory
    assert resolve_orbiter(json.dumps(d)).name == "mine"
    ss = elements_from_dict({"altitude_km": 300, "local_time_h": 15, "epoch": "2021-02-18"})
    assert ss.trajectory.i_deg > 92
    for bad in (
        {**d, "e": 1.2},
        {k: v for k, v in d.items() if k != "epoch"},
        {**d, "altitude_km": -500},
        {**d, "wobble": 1},
        {**d, "i_deg": "steep"},
    ):
        with pytest.raises(OrbitscoutError):
            elements_from_dict(bad)
    with pytest.raises(OrbitscoutError):
        resolve_orbiter("no-such-orbiter")
    with pytest.raises(OrbitscoutError):
        resolve_orbiter(str(tmp_path / "missing.json"))


def test_known_orbiters():
    for name in ("tgo", "mro", "odyssey", "maven", "mex", "lro"):
        orb = get_orbiter(name)
        assert orb.trajectory.period_s > 0
    assert get_orbiter("LRO").body is MOON
    assert get_orbiter("mars-express").name == "mex"
    assert kepler_period_s(MOON, MOON.radius_m + 50e3) / 60 == pytest.approx(113, abs=1)


def test_spice_trajectory_round_trip(tmp_path):
    """Write our own TGO orbit to an SPK (type 13, J2000 frame) and read it back through
    SpiceTrajectory: positions and relay passes agree. Needs the optional spiceypy."""
    sp = pytest.importorskip("spiceypy")
    from orbitscout.core.bodies import icrf_to_body_matrix
    from orbitscout.observe.plan import relay_passes

    tgo = get_orbiter("tgo")
    t = EPOCH + np.arange(0, 0.3 * 86400, 10.0)
    et = marstime.tt_seconds(t)
    rot = icrf_to_body_matrix(MARS, et / 86400.0)
    r_icrf = np.einsum("nji,nj->ni", rot, tgo.trajectory.positions_bodyfixed(t))
    v_icrf = np.gradient(r_icrf, et, axis=0)
    path = str(tmp_path / "tgo_test.bsp")
    handle = sp.spkopn(path, "orbitscout test", 0)
    states = (np.hstack([r_icrf, v_icrf]) / 1e3).tolist()
    sp.spkw13(handle, -999, 499, "J2000", float(et[0]), float(et[-1]), "tgo", 7, len(et),
              states, et.tolist())  # fmt: skip
    sp.spkcls(handle)
    orb = resolve_orbiter(
        json.dumps(
            {"name": "tgo-spk", "body": "mars", "spice": {"kernels": [path], "target": -999}}
        )
    )
    tt = EPOCH + np.array([1000.0, 9000.0, 20000.0])
    err = np.linalg.norm(
        orb.trajectory.positions_bodyfixed(tt) - tgo.trajectory.positions_bodyfixed(tt), axis=1
    )
    assert np.all(err < 100.0)
    a = relay_passes((18.4447, 77.4508), tgo, EPOCH + 60, 0.29, 10.0)
    b = relay_passes((18.4447, 77.4508), orb, EPOCH + 60, 0.29, 10.0)
    assert len(a) == len(b) > 0
    # the built-in TGO's placeholder phase makes its passes illustrative; a SPICE one is exact
    assert all(x["illustrative"] for x in a) and not any(y["illustrative"] for y in b)
    assert {y["elements_source"] for y in b} == {"SPICE trajectory"}
    for x, y in zip(a, b, strict=True):
        assert abs(marstime.parse_utc(x["rise_utc"]) - marstime.parse_utc(y["rise_utc"])) < 1.0
