"""Tests for orbitscout.edl: atmosphere, ballistics, wind, published hardware distances, CLI."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest

from orbitscout.core.bodies import MARS, MOON
from orbitscout.core.errors import OrbitscoutError
from orbitscout.edl import debris as edl
from orbitscout.edl.missions import get_mission

N_MC = 400


@pytest.fixture(scope="module")
def priors():
    return {m: edl.debris_priors(m, N_MC, seed=0) for m in ("curiosity", "perseverance")}


# ------------------------------------------------------------------ atmosphere
def test_atmosphere_matches_glenn_formulae():
    # hand-evaluated NASA Glenn formulae (docs/facts.md)
    t, p, rho = edl.mars_atmosphere([0.0, 5000.0, 10000.0])
    assert t == pytest.approx([-31.0, -35.99, -45.6], abs=1e-9)
    assert p == pytest.approx([0.699, 0.699 * math.exp(-0.45), 0.699 * math.exp(-0.9)], rel=1e-12)
    assert rho[0] == pytest.approx(0.699 / (0.1921 * 242.1), rel=1e-12)  # 0.015030 kg/m^3
    assert rho[2] == pytest.approx(0.284190 / (0.1921 * 227.5), rel=1e-5)
    # the branch switches at 7 km and the two branches nearly meet there
    t_lo, _, _ = edl.mars_atmosphere(6999.999)
    t_hi, _, _ = edl.mars_atmosphere(7000.0)
    assert float(t_hi) == pytest.approx(-23.4 - 0.00222 * 7000.0)
    assert abs(float(t_hi) - float(t_lo)) < 1.0
    assert float(edl.density(MOON, 0.0)) == 0.0


# ------------------------------------------------------------------ physics
def test_vacuum_fall_is_the_analytic_parabola():
    g = MOON.gm_m3_s2 / MOON.radius_m**2
    h0, v0, fpa, hdg = 120.0, 50.0, 30.0, 60.0
    vz, vh = v0 * math.sin(math.radians(fpa)), v0 * math.cos(math.radians(fpa))
    t_imp = (vz + math.sqrt(vz**2 + 2 * g * h0)) / g
    rng_m = vh * t_imp
    r = edl.ballistic_impact(MOON, h0, v0, fpa, hdg, dt=0.05)
    assert float(r["t_s"][0]) == pytest.approx(t_imp, abs=1e-6)
    assert float(r["east_m"][0]) == pytest.approx(rng_m * math.sin(math.radians(hdg)), abs=1e-4)
    assert float(r["north_m"][0]) == pytest.approx(rng_m * math.cos(math.radians(hdg)), abs=1e-4)
    assert float(r["velocity"][0, 2]) == pytest.approx(vz - g * t_imp, abs=1e-6)


def test_terminal_velocity_matches_formula():
    m, area, cd = 50.0, 50.0, 1.0  # beta 1 kg/m^2: relaxes in ~5 s, so it tracks the local v_t
    beta = m / (cd * area)
    # fall from 6 km above the datum onto ground at the datum: the speed settles to sqrt(2mg/rhoCdA)
    r = edl.fall(MARS, 6000.0, 0.0, -90.0, 0.0, beta=beta, ground_m=0.0, dt=0.05)
    v_imp = float(np.linalg.norm(r["velocity"][0]))
    rho0 = float(edl.mars_atmosphere(0.0)[2])
    vt = float(edl.terminal_velocity(m, area, cd, rho0, edl.gravity(MARS)))
    assert vt == pytest.approx(math.sqrt(2 * m * 3.7134 / (rho0 * cd * area)), rel=1e-3)
    # density rises as it falls, so it lags its local terminal speed by a little (< 1 %)
    assert v_imp == pytest.approx(vt, rel=0.01)
    assert v_imp > vt  # lagging from above, never below


def test_rk4_matches_solve_ivp_with_drag_and_wind():
    from scipy.integrate import solve_ivp

    beta, wind, g = 20.0, np.array([5.0, -3.0, 0.0]), edl.gravity(MARS)
    z0, ground = 6000.0, -2500.0
    v0 = np.array(
        [150.0 * math.cos(math.radians(-40.0)), 0.0, 150.0 * math.sin(math.radians(-40.0))]
    )

    def rhs(_t, s):
        rel = s[3:] - wind
        rho = float(edl.mars_atmosphere(s[2])[2])
        a = -0.5 * rho * np.linalg.norm(rel) * rel / beta - np.array([0.0, 0.0, g])
        return np.concatenate([s[3:], a])

    hit = lambda _t, s: s[2] - ground  # noqa: E731
    hit.terminal, hit.direction = True, -1
    ref = solve_ivp(rhs, (0, 1000), [0, 0, z0, *v0], events=hit, rtol=1e-10, atol=1e-8)
    t_ref, s_ref = ref.t_events[0][0], ref.y_events[0][0]
    r = edl.fall(MARS, z0, 150.0, -40.0, 90.0, beta=beta, wind_m_s=wind, ground_m=ground, dt=0.1)
    assert float(r["t_s"][0]) == pytest.approx(t_ref, abs=1e-3)
    # heading 90 deg: the initial horizontal velocity points east
    assert float(r["east_m"][0]) == pytest.approx(s_ref[0], abs=0.05)
    assert float(r["north_m"][0]) == pytest.approx(s_ref[1], abs=0.05)


def test_more_wind_moves_a_piece_downwind():
    beta = 3.1  # backshell + parachute
    east = []
    for w in (0.0, 4.0, 8.0):  # wind from the west, blowing east
        r = edl.fall(MARS, 2000.0, 0.0, -90.0, 0.0, beta=beta, wind_m_s=(w, 0.0, 0.0), dt=0.1)
        east.append(float(r["east_m"][0]))
        t = float(r["t_s"][0])
    assert east[0] == pytest.approx(0.0, abs=1e-9)
    assert 0 < east[1] < east[2]
    # it picks up the wind within a horizontal relaxation time 2 beta / (rho v) ~ 10-20 s here,
    # then drifts at the wind speed
    assert 8.0 * (t - 25.0) < east[2] < 8.0 * (t - 5.0)
    # and in the full model: a steady west wind moves the backshell east of the lander
    calm = edl.debris_priors("curiosity", 150, seed=1, wind_speed=0.0, wind_from_deg=270.0)
    windy = edl.debris_priors("curiosity", 150, seed=1, wind_speed=8.0, wind_from_deg=270.0)
    assert windy["backshell"].east_m > calm["backshell"].east_m + 200.0


# ------------------------------------------------------------------ published distances
# Tolerance: the published distance must fall inside the central 95 % of the model's Monte Carlo
# distances (wind 0-8 m/s from anywhere, drag, masses, separation states, diverts), and that
# interval must be informative (its upper end below 2.5x the published value), so a model that
# puts everything everywhere fails. The published figures are rounded (~5-10 %), far below the
# model spread, so they add nothing to the tolerance. Calibrations (missions.py): the backshell's
# drag on Perseverance's impact speed; the flyaway burn on Curiosity's sky crane distance, so the
# Curiosity descent stage is not a test and the Perseverance descent stage is its check.
CHECKS = [
    ("curiosity", "heat_shield"),
    ("curiosity", "backshell"),
    ("curiosity", "parachute"),
    ("perseverance", "heat_shield"),
    pytest.param(
        "perseverance",
        "backshell",
        marks=pytest.mark.xfail(
            strict=True,
            reason="1.2 km lies at the ~98th percentile: the terrain-relative-navigation divert "
            "(assumed up to 600 m, direction unknown) is the unverified input",
        ),
    ),
    pytest.param(
        "perseverance",
        "parachute",
        marks=pytest.mark.xfail(strict=True, reason="as the backshell"),
    ),
    ("perseverance", "descent_stage"),
]


@pytest.mark.parametrize(("mission", "piece"), CHECKS)
def test_published_distance_within_model_95pct(priors, mission, piece):
    p = priors[mission][piece]
    pub = p.published_distance_m
    assert pub is not None
    assert p.distance_p2_5_m <= pub <= p.distance_p97_5_m, (p.distance_p2_5_m, p.distance_p97_5_m)
    assert p.distance_p97_5_m < 2.5 * pub


def test_calibrated_and_timing_sanity(priors):
    sims = edl.simulate_mission("curiosity", 200, seed=2)
    # NASA: heat shield released at ~7-8 km (graphic) at 160 m/s; here released by speed
    assert 7000 < np.median(sims["hs_sep_agl_m"]) < 9500
    # descent stage calibration: ~650 m, to the north-west
    ds = priors["curiosity"]["descent_stage"]
    assert ds.distance_m == pytest.approx(650, abs=100)
    assert abs((ds.bearing_deg - 315 + 180) % 360 - 180) < 15
    # Perseverance backshell calibration: it hits at ~35 m/s (126 km/h, NASA)
    s2 = edl.simulate_mission("perseverance", 100, seed=3)
    assert np.median(s2["bs_impact_speed_m_s"]) == pytest.approx(35.0, rel=0.15)
    # the heat shield lands before the rover does (it was seen falling by MARDI)
    assert np.all(sims["hs_fall_s"] < sims["parachute_phase_s"] + 120)


def test_separations_at_reported_heights():
    """Schiaparelli's front shield goes at the height ESA reported (7.8 km), whatever the
    speed and time at which the capsule gets there."""
    sims = edl.simulate_mission("schiaparelli", 200, seed=4)
    assert np.median(sims["hs_sep_agl_m"]) == pytest.approx(7800.0, abs=100.0)
    assert np.all(np.abs(sims["hs_sep_agl_m"] - 7800.0) < 1000.0)
    # the front shield goes while the capsule still hangs on its parachute, km above the
    # backshell's release
    bs = get_mission("schiaparelli").bs_sep_agl_m.mean
    assert np.all(sims["hs_sep_agl_m"] > bs + 2000.0)


# ------------------------------------------------------------------ API
def test_prior_shapes_and_logpdf(priors):
    for m in ("curiosity", "perseverance"):
        got = priors[m]
        assert set(got) == {"heat_shield", "backshell", "parachute", "descent_stage"}
        for cls, p in got.items():
            assert p.cls == cls
            assert p.cov.shape == (2, 2)
            assert np.allclose(p.cov, p.cov.T)
            assert p.semi_major_m >= p.semi_minor_m > 0
            assert 0 <= p.orientation_deg < 180 and 0 <= p.bearing_deg < 360
            assert p.offset_distance_m == pytest.approx(math.hypot(p.east_m, p.north_m))
            assert p.distance_p2_5_m < p.distance_m < p.distance_p97_5_m
            peak = p.logpdf(p.east_m, p.north_m)
            a = math.radians(p.orientation_deg)
            far = p.logpdf(
                p.east_m + 2 * p.semi_major_m * math.sin(a),
                p.north_m + 2 * p.semi_major_m * math.cos(a),
            )
            assert far == pytest.approx(peak - 2.0, abs=1e-6)  # 2 sigma: -0.5 * 2^2


def test_missions_aliases_and_errors():
    assert edl.mission_names() == ["perseverance", "curiosity", "insight", "schiaparelli"]
    assert get_mission("Mars2020").name == "perseverance"
    assert get_mission("MSL").name == "curiosity"
    with pytest.raises(OrbitscoutError, match="unknown mission"):
        edl.debris_priors("apollo11")
    ins = edl.debris_priors("insight", 100)
    assert "descent_stage" not in ins and {"heat_shield", "backshell"} <= set(ins)
    sch = edl.debris_priors("schiaparelli", 100)
    assert sch["backshell"].published_bearing_deg == 180.0


# ------------------------------------------------------------------ CLI
def test_cli_json():
    from typer.testing import CliRunner

    from orbitscout.cli import app

    res = CliRunner().invoke(app, ["edl", "msl", "--samples", "60", "--wind", "3", "--json"])
    assert res.exit_code == 0, res.output
    rows = json.loads(res.stdout)
    assert [r["class"] for r in rows] == ["heat_shield", "backshell", "parachute", "descent_stage"]
    for r in rows:
        assert r["mission"] == "curiosity"
        assert {
            "distance_m",
            "bearing_deg",
            "semi_major_m",
            "semi_minor_m",
            "orientation_deg",
        } <= set(r)
        assert np.array(r["cov"]).shape == (2, 2)
    assert rows[3]["published_distance_m"] == 650.0


def test_cli_bad_mission_error_line():
    proc = subprocess.run(
        [sys.executable, "-c", "from orbitscout.cli import main; main()", "edl", "nosuch"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("orbitscout: error: mission: unknown mission")
