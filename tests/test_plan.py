"""Imaging windows and relay passes: the vectorised search against a brute-force 1 s scan;
geometry sanity; the CLI's JSON shapes and error lines."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from typer.testing import CliRunner

from orbitscout.cli import app, main
from orbitscout.core.errors import OrbitscoutError
from orbitscout.observe import marstime
from orbitscout.observe.orbits import get_orbiter, ground_track
from orbitscout.observe.plan import (
    imaging_windows,
    incidence_deg,
    look_geometry,
    relay_passes,
    site_vector,
)

JEZERO = (18.4447, 77.4508)
START = "2021-02-18T00:00:00Z"


def _brute(inside: np.ndarray, t: np.ndarray):
    """(starts, ends) of the runs where ``inside`` is true on a uniform grid ``t``."""
    edge = np.diff(inside.astype(np.int8))
    starts = list(t[1:][edge == 1])
    ends = list(t[:-1][edge == -1])
    if inside[0]:
        starts.insert(0, t[0])
    if inside[-1]:
        ends.append(t[-1])
    return np.array(starts), np.array(ends)


def _times(rows, key):
    return np.array([marstime.parse_utc(r[key]) for r in rows])


def _brute_relay(orbiter, site, t0, days, mask):
    orb = get_orbiter(orbiter)
    t = t0 + np.arange(0, days * 86400 + 0.5, 1.0)
    el = look_geometry(orb, site_vector(orb.body, *site), t).elevation_deg
    return _brute(el >= mask, t)


@pytest.mark.parametrize(
    ("orbiter", "site", "mask", "days"),
    [("tgo", JEZERO, 10.0, 2.0), ("mro", (-4.59, 137.44), 20.0, 2.0),
     ("maven", JEZERO, 10.0, 1.5), ("mex", JEZERO, 10.0, 2.0), ("lro", (-89.0, 45.0), 5.0, 1.0)],
)  # fmt: skip
def test_relay_passes_match_brute_force(orbiter, site, mask, days):
    t0 = marstime.parse_utc(START)
    rows = relay_passes(site, orbiter, START, days, mask)
    bs, be = _brute_relay(orbiter, site, t0, days, mask)
    assert len(rows) == len(bs) > 0
    # the 1 s scan sees the first and last whole second inside each pass
    assert np.all(np.abs(_times(rows, "rise_utc") - bs) <= 1.0)
    assert np.all(np.abs(_times(rows, "set_utc") - be) <= 1.0)
    for r in rows:
        assert r["max_elevation_deg"] >= mask - 1e-6
        assert r["data_volume_mbit"] == pytest.approx(256.0 * r["duration_s"] / 1e3, abs=1e-3)


def test_relay_with_a_coarse_grid_still_finds_short_passes():
    """With a 900 s grid step (longer than most passes) the minima refinement finds them all."""
    t0 = marstime.parse_utc(START)
    rows = relay_passes(JEZERO, "tgo", START, 2.0, 30.0, step_s=900.0)
    bs, be = _brute_relay("tgo", JEZERO, t0, 2.0, 30.0)
    assert len(rows) == len(bs) > 0
    assert np.all(np.abs(_times(rows, "rise_utc") - bs) <= 1.0)
    assert np.all(np.abs(_times(rows, "set_utc") - be) <= 1.0)


@pytest.mark.parametrize(("max_off", "max_inc", "step"), [(45.0, 90.0, None), (30.0, 75.0, 600.0)])
def test_imaging_windows_match_brute_force(max_off, max_inc, step):
    days = 6.0
    t0 = marstime.parse_utc(START)
    orb = get_orbiter("tgo")
    rows = imaging_windows(JEZERO, orb, START, days, max_off, max_inc, step_s=step)
    site = site_vector(orb.body, *JEZERO)
    t = t0 + np.arange(0, days * 86400 + 0.5, 1.0)
    look = look_geometry(orb, site, t)
    inside = (look.off_nadir_deg <= max_off) & (look.emission_deg <= 90.0)
    idx = np.nonzero(inside)[0]
    inside[idx] &= incidence_deg(orb.body, site, t[idx]) <= max_inc
    bs, be = _brute(inside, t)
    assert len(rows) == len(bs) > 0
    assert np.all(np.abs(_times(rows, "start_utc") - bs) <= 1.0)
    assert np.all(np.abs(_times(rows, "end_utc") - be) <= 1.0)
    for r in rows:
        assert r["off_nadir_deg"] <= max_off + 1e-6 and r["incidence_deg"] <= max_inc + 1e-6
        assert r["start_utc"] <= r["utc"] <= r["end_utc"]
        # the reported best time is the least off-nadir one inside the window
        a, b = marstime.parse_utc(r["start_utc"]), marstime.parse_utc(r["end_utc"])
        tt = np.linspace(a, b, 200)
        assert r["off_nadir_deg"] <= look_geometry(orb, site, tt).off_nadir_deg.min() + 1e-3


def test_window_geometry_and_gsd():
    """A site placed under the spacecraft is seen at nadir from 400 km, CaSSIS ~4.6 m/px."""
    orb = get_orbiter("tgo")
    t = marstime.parse_utc("2021-02-20T10:00:00Z")
    lat, lon, _ = ground_track(orb.trajectory, np.array([t]))
    rows = imaging_windows((lat[0], lon[0]), orb, t - 600, 1200 / 86400, max_incidence_deg=90)
    assert len(rows) == 1
    w = rows[0]
    assert abs(marstime.parse_utc(w["utc"]) - t) < 0.05
    assert w["off_nadir_deg"] < 0.01 and w["emission_deg"] < 0.01
    assert w["slant_range_km"] == pytest.approx(400.0, abs=0.01)
    assert w["gsd_m"] == pytest.approx(4.57, abs=0.1)  # docs/facts.md: ~4.5–4.6 m/px from 400 km
    ltst = marstime.mars_time(t, lon[0]).ltst_h
    assert w["ltst_h"] == pytest.approx(ltst, abs=1e-3)
    # law of sines in the triangle centre–site–spacecraft
    look = look_geometry(orb, site_vector(orb.body, 10.0, lon[0] + 3.0), np.array([t]))
    r = orb.body.radius_m + 400e3
    assert np.sin(np.radians(look.emission_deg)) * orb.body.radius_m == pytest.approx(
        np.sin(np.radians(look.off_nadir_deg)) * r, rel=1e-9
    )


def test_fallback_gsd_for_cameras_not_modelled():
    rows = imaging_windows(JEZERO, "odyssey", START, 20.0, max_incidence_deg=90)
    assert rows and all(r["camera"] == "themis_vis" for r in rows)
    r = rows[0]
    assert r["gsd_m"] >= 18.0 * r["slant_range_km"] / 400.0 - 1e-6


def test_bad_inputs():
    with pytest.raises(OrbitscoutError):
        imaging_windows((95.0, 0.0), "tgo", START, 1.0)
    with pytest.raises(OrbitscoutError):
        relay_passes(JEZERO, "tgo", START, -1.0)
    with pytest.raises(OrbitscoutError):
        relay_passes(JEZERO, "voyager", START, 1.0)
    with pytest.raises(OrbitscoutError):
        relay_passes(JEZERO, "tgo", "not a time", 1.0)
    assert relay_passes(JEZERO, "tgo", START, 0.0) == []


# --------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------

runner = CliRunner()


def test_cli_time_json():
    res = runner.invoke(app, ["time", "2000-01-06T00:00:00Z", "--lon", "0", "--json"])
    assert res.exit_code == 0, res.output
    obj = json.loads(res.output)
    for key in ("msd", "mtc_h", "lmst_h", "ltst_h", "ls_deg", "eot_deg", "subsolar_lon_deg",
                "subsolar_lat_deg", "mars_year"):  # fmt: skip
        assert key in obj
    assert obj["msd"] == pytest.approx(44795.99976, abs=1e-5)
    assert obj["mars_year"] == 24
    res = runner.invoke(app, ["time", "2004-01-03T13:46:31Z", "--lon", "-184.702"])
    assert res.exit_code == 0 and "Mars year" in res.output


def test_cli_plan_and_relay_json():
    res = runner.invoke(app, ["plan", "--site", "18.4447,77.4508", "--orbiter", "tgo", "--start",
                              START, "--days", "10", "--json"])  # fmt: skip
    assert res.exit_code == 0, res.output
    rows = json.loads(res.output)
    assert isinstance(rows, list) and rows
    assert set(rows[0]) >= {"utc", "off_nadir_deg", "incidence_deg", "emission_deg", "ltst_h",
                            "slant_range_km", "gsd_m"}  # fmt: skip
    res = runner.invoke(app, ["relay", "--site", "-4.59,137.44", "--orbiter", "mro", "--start",
                              START, "--days", "1", "--min-elevation", "10", "--rate-kbps",
                              "2048", "--json"])  # fmt: skip
    assert res.exit_code == 0, res.output
    rows = json.loads(res.output)
    assert rows and set(rows[0]) >= {"rise_utc", "set_utc", "max_elevation_deg", "duration_s",
                                     "data_volume_mbit"}  # fmt: skip
    assert rows[0]["data_volume_mbit"] == pytest.approx(2.048 * rows[0]["duration_s"], abs=1e-2)
    res = runner.invoke(app, ["relay", "--site", "18.4,77.5", "--orbiter", "tgo", "--start",
                              START, "--days", "1"])  # fmt: skip
    assert res.exit_code == 0 and "relay passes" in res.output


@pytest.mark.parametrize(
    "args",
    [["time", "2021-13-45"], ["plan", "--site", "91,0", "--orbiter", "tgo", "--days", "1"],
     ["relay", "--site", "0,0", "--orbiter", "enterprise", "--days", "1"],
     ["relay", "--site", "0,0", "--orbiter", "tgo", "--days", "-2"]],
)  # fmt: skip
def test_cli_bad_input_is_one_error_line(args):
    res = subprocess.run([sys.executable, "-m", "orbitscout.cli", *args], capture_output=True,
                         text=True, timeout=60)  # fmt: skip
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("orbitscout: error: ")


# --------------------------------------------------------------------------------------------
# Placeholder elements are marked illustrative
# --------------------------------------------------------------------------------------------

# TGO's own orbit, but the user's: the elements are theirs, so the times are not illustrative
MINE = json.dumps(
    {"name": "mine", "altitude_km": 400, "i_deg": 74, "epoch": START, "camera": "cassis"}
)


@pytest.mark.parametrize("name", ["tgo", "mro", "odyssey", "maven", "mex", "lro"])
def test_known_orbiters_are_illustrative(name):
    orb = get_orbiter(name)
    assert orb.illustrative
    assert orb.elements_source.startswith("built-in mean elements: ")
    assert "placeholder" in orb.elements_source


def test_rows_say_whether_they_are_illustrative():
    for rows in (
        relay_passes(JEZERO, "tgo", START, 1.0),
        imaging_windows(JEZERO, "tgo", START, 6.0),
    ):
        assert rows and all(r["illustrative"] is True for r in rows)
        assert all("placeholder" in r["elements_source"] for r in rows)
    for rows in (relay_passes(JEZERO, MINE, START, 1.0), imaging_windows(JEZERO, MINE, START, 6.0)):
        assert rows and all(r["illustrative"] is False for r in rows)
        assert all(r["elements_source"] == "user elements" for r in rows)


@pytest.mark.parametrize("command", ["plan", "relay"])
def test_cli_marks_placeholder_times_illustrative(command):
    args = [command, "--site", "18.4447,77.4508", "--start", START, "--days", "6"]
    res = runner.invoke(app, [*args, "--orbiter", "tgo", "--json"])
    assert res.exit_code == 0, res.output
    rows = json.loads(res.output)
    assert rows and all(r["illustrative"] is True for r in rows)
    assert all("placeholder" in r["elements_source"] for r in rows)
    res = runner.invoke(app, [*args, "--orbiter", "tgo"])
    assert res.exit_code == 0, res.output
    assert "illustrative" in res.output.splitlines()[0]  # the table's title
    note = [line for line in res.output.splitlines() if line.startswith("Illustrative: tgo")]
    assert len(note) == 1 and "placeholders" in note[0]
    assert any(
        "SPICE trajectory" in line and "--orbiter" in line for line in res.output.splitlines()
    )
    # the user's own elements: exact, no note
    res = runner.invoke(app, [*args, "--orbiter", MINE, "--json"])
    assert res.exit_code == 0, res.output
    rows = json.loads(res.output)
    assert rows and all(r["illustrative"] is False for r in rows)
    res = runner.invoke(app, [*args, "--orbiter", MINE])
    assert res.exit_code == 0, res.output
    assert "llustrative" not in res.output and "SPICE" not in res.output


@pytest.mark.parametrize("command", ["plan", "relay"])
def test_an_orbiter_of_another_body_is_refused(command, monkeypatch, capsys):
    """LRO over a Mars site was 0 passes, as if the sky were empty: now one error line."""
    args = ["orbitscout", command, "--site", "18.4,77.5", "--orbiter", "lro", "--days", "0.1"]
    monkeypatch.setattr(sys, "argv", args)
    with pytest.raises(SystemExit) as stop:
        main()
    err = capsys.readouterr().err.strip().splitlines()
    assert stop.value.code == 2
    assert err == [
        "orbitscout: error: --orbiter: lro orbits Moon, but the site is on Mars (--body)"
    ]


def test_the_site_body_may_be_named_in_the_library():
    with pytest.raises(OrbitscoutError, match="orbits Mars, but the site is on Moon"):
        relay_passes((10.0, 20.0), "mro", "2026-01-01T00:00:00", 0.1, body="moon")
    assert relay_passes((10.0, 20.0), "lro", "2026-01-01T00:00:00", 0.05, body="moon") is not None
