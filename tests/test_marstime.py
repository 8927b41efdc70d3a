"""Mars24 against the published worked examples (NASA GISS; docs/facts.md), leap seconds,
Mars years."""

from __future__ import annotations

import numpy as np
import pytest

from orbitscout.core.errors import OrbitscoutError
from orbitscout.observe import marstime


def _tol(published: str) -> float:
    """1e-5 where the figure has five decimals; half a unit of its last digit where it has fewer."""
    decimals = len(published.split(".")[1]) if "." in published else 0
    return max(1e-5, 0.5 * 10.0**-decimals) + 1e-12


def _check(value, published: str):
    assert value == pytest.approx(float(published), abs=_tol(published)), published


def test_example_a_2000_01_06():
    t = marstime.mars_time("2000-01-06T00:00:00Z", 0.0)
    _check(t.jd_tt, "2451549.500743")
    _check(t.dt_j2000, "4.500743")
    _check(t.m_deg, "21.74558")
    _check(t.alpha_fms_deg, "272.74566")
    _check(t.pbs_deg, "0.00142")
    _check(t.nu_m_deg, "4.44193")
    _check(t.ls_deg, "277.18758")
    _check(t.eot_deg, "-5.18774")
    _check(t.msd, "44795.99976")
    _check(t.mtc_h, "23.99425")
    _check(t.lmst_h, "23.99425")
    _check(t.ltst_h, "23.64840")
    # published as 174.72600° W; orbitscout reports east-positive
    _check(t.subsolar_lon_deg, "-174.72600")
    assert t.mars_year == 24


def test_example_b_2004_01_03_at_184_702_w():
    t = marstime.mars_time("2004-01-03T13:46:31Z", -184.702)
    _check(t.dt_j2000, "1463.07471")
    _check(t.m_deg, "66.06858")
    _check(t.alpha_fms_deg, "317.09457")
    _check(t.pbs_deg, "0.01614")
    _check(t.nu_m_deg, "10.22959")
    _check(t.ls_deg, "327.32416")
    _check(t.eot_deg, "-12.7755")
    _check(t.mtc_h, "13.16537")
    _check(t.lmst_h, "0.85190")
    _check(t.ltst_h, "0.00020")
    # the same place given as an east longitude in [0, 360) gives the same local times
    t2 = marstime.mars_time("2004-01-03T13:46:31Z", 360.0 - 184.702)
    assert t2.lmst_h == pytest.approx(t.lmst_h, abs=1e-9)


def test_leap_seconds_and_tt():
    s = marstime.utc_seconds
    assert marstime.tt_minus_utc(s("2000-01-06")) == pytest.approx(64.184)
    assert marstime.tt_minus_utc(s("2016-12-31T23:59:59")) == pytest.approx(68.184)
    assert marstime.tt_minus_utc(s("2017-01-01T00:00:00")) == pytest.approx(69.184)
    assert marstime.tt_minus_utc(s("1972-01-01T00:00:00")) == pytest.approx(42.184)
    # the ΔT polynomial used before 1972 joins the table within a second
    assert marstime.tt_minus_utc(s("1971-12-31T23:59:59")) == pytest.approx(42.184, abs=1.0)
    assert marstime.tt_minus_utc(s("1955-04-11")) == pytest.approx(31.1, abs=1.0)


@pytest.mark.parametrize(
    ("day", "year"),
    [("1955-04-11", 1), ("1998-07-14", 24), ("2021-02-07", 36), ("2022-12-26", 37),
     ("2024-11-12", 38)],
)  # fmt: skip
def test_mars_year_starts(day, year):
    """Piqueux et al. 2015: each year starts at Ls = 0 during the listed UTC day."""
    start = marstime.utc_seconds(day + "T00:00:00")
    end = start + 86400.0
    assert marstime.mars_year(start) == year - 1
    assert marstime.mars_year(end) == year
    assert marstime.solar_longitude(end) < 1.0


def test_vectorised_matches_scalar():
    times = ["2000-01-06T00:00:00", "2004-01-03T13:46:31", "2021-02-18T20:55:00"]
    lons = np.array([0.0, -184.702, 77.4508])
    arr = marstime.mars_time(np.array(times, dtype="datetime64[s]"), lons)
    for i, (t, lon) in enumerate(zip(times, lons, strict=True)):
        one = marstime.mars_time(t, lon)
        assert arr.ltst_h[i] == pytest.approx(one.ltst_h, abs=1e-9)
        assert arr.ls_deg[i] == pytest.approx(one.ls_deg, abs=1e-9)
        assert arr.mars_year[i] == one.mars_year


def test_consistency_relations():
    t = marstime.mars_time(np.linspace(0, 700 * 86400.0, 50), 33.0)
    assert np.allclose(np.mod(t.ltst_h - t.lmst_h + 12, 24) - 12, t.eot_deg / 15.0)
    # at the subsolar longitude the local true solar time is noon
    noon = marstime.mars_time(np.linspace(0, 700 * 86400.0, 50), t.subsolar_lon_deg)
    assert np.allclose(noon.ltst_h, 12.0, atol=1e-9)
    assert np.all(np.abs(t.subsolar_lat_deg) < 25.5)


def test_perseverance_landing_local_time():
    """Perseverance touched down ~20:44 UTC spacecraft time at ~15:53 LMST (NASA/Mars24)."""
    t = marstime.mars_time("2021-02-18T20:44:00Z", 77.4508)
    assert marstime.format_hours(t.lmst_h).startswith("15:5")
    assert 5.0 < t.ls_deg < 6.0 and t.mars_year == 36


def test_parse_and_format():
    s = marstime.parse_utc("2021-02-18T20:55:00Z")
    assert marstime.format_utc(s) == "2021-02-18T20:55:00.000Z"
    assert marstime.parse_utc("2021-02-18T21:55:00+01:00") == s
    assert marstime.parse_utc("2021-02-18 20:55") == s
    with pytest.raises(OrbitscoutError):
        marstime.parse_utc("yesterday-ish")
    assert isinstance(marstime.parse_utc(None), float)
