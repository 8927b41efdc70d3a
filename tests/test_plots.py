"""``plan``, ``relay`` and ``edl`` with ``--plot FILE``: each writes a PNG or SVG of the fixed
size, and what it draws is the command's ``--json`` output (read back from the drawn artists)."""

from __future__ import annotations

import json
import math
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from orbitscout.cli import main  # noqa: E402
from orbitscout.report import plots  # noqa: E402

SITE = "18.44,77.45"  # Jezero
START = "2026-01-01T00:00:00Z"


def _run(monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["orbitscout", *args])
    code = 0
    try:
        main()
    except SystemExit as stop:
        code = stop.code
    out, err = capsys.readouterr()
    return code, out, err


def _spy(monkeypatch, name: str) -> list[dict]:
    """Record what ``plots.<name>`` returns when a command calls it."""
    seen: list[dict] = []
    real = getattr(plots, name)

    def spy(*a, **k):
        seen.append(real(*a, **k))
        return seen[-1]

    monkeypatch.setattr(plots, name, spy)
    return seen


def _check_png(path: Path) -> None:
    from PIL import Image

    with Image.open(path) as im:
        im.verify()
    with Image.open(path) as im:
        assert im.format == "PNG"
        assert im.size == plots.PIXELS == (1000, 750)


def _check_svg(path: Path) -> None:
    root = ET.parse(path).getroot()
    assert root.tag.rsplit("}", 1)[-1] == "svg"
    assert root.get("width", "").startswith("720")  # 10 in at 72 pt per inch
    assert root.get("height", "").startswith("540")


def _json_run(monkeypatch, capsys, path: Path, *args: str) -> list[dict]:
    """One run with ``--json --plot``: JSON on stdout, the plot line on stderr."""
    code, out, err = _run(monkeypatch, capsys, *args, "--json", "--plot", str(path))
    assert code == 0, err
    assert f"plot written: {path}" in err.splitlines()
    return json.loads(out)


def test_plan_plot_shows_the_json_windows(monkeypatch, capsys, tmp_path):
    seen = _spy(monkeypatch, "plan_plot")
    png = tmp_path / "plan.png"
    rows = _json_run(
        monkeypatch, capsys, png, "plan", "--site", SITE, "--orbiter", "tgo",
        "--start", START, "--days", "10",
    )  # fmt: skip
    _check_png(png)
    assert len(rows) >= 2 and len(seen) == 1
    drawn = seen[0]
    assert drawn["utc"] == [r["utc"] for r in rows]
    assert drawn["incidence_deg"] == pytest.approx([r["incidence_deg"] for r in rows], abs=1e-9)
    assert drawn["gsd_m"] == pytest.approx([r["gsd_m"] for r in rows], abs=1e-6)
    assert drawn["site"] == pytest.approx((18.44, 77.45))
    assert rows[0]["illustrative"] and "ILLUSTRATIVE" in drawn["title"]
    # each ground track passes near the site (within the roll reach: a few degrees)
    assert len(drawn["tracks"]) == len(rows)
    for lat, lon in drawn["tracks"]:
        assert np.min(np.hypot(lat - 18.44, (lon - 77.45) * math.cos(math.radians(18.44)))) < 5


def test_relay_plot_shows_the_json_passes(monkeypatch, capsys, tmp_path):
    from orbitscout.observe import marstime

    seen = _spy(monkeypatch, "relay_plot")
    svg = tmp_path / "relay.svg"
    rows = _json_run(
        monkeypatch, capsys, svg, "relay", "--site", SITE, "--orbiter", "mro",
        "--start", START, "--days", "3",
    )  # fmt: skip
    _check_svg(svg)
    assert len(rows) >= 3 and len(seen) == 1
    drawn = seen[0]
    top = [r["max_elevation_deg"] for r in rows]
    assert rows[0]["illustrative"] and "ILLUSTRATIVE" in drawn["title"]
    assert drawn["max_elevation_deg"] == pytest.approx(top, abs=1e-9)
    # the sampled profiles peak at the passes' maxima (the time of the maximum is a sample)
    assert drawn["profile_max_deg"] == pytest.approx(top, abs=1e-3)
    # the volume per local sol, from the JSON rows and Mars24 on our side
    sol = np.floor(
        marstime.mars_sol_date([r["max_elevation_utc"] for r in rows]) + 77.45 / 360.0
    ).astype(int)
    vol = np.array([r["data_volume_mbit"] for r in rows])
    sols = sorted(set(sol.tolist()))
    assert drawn["sols"] == sols
    assert drawn["volume_mbit"] == pytest.approx([vol[sol == s].sum() for s in sols])


def test_edl_plot_shows_the_json_priors(monkeypatch, capsys, tmp_path):
    seen = _spy(monkeypatch, "edl_plot")
    png = tmp_path / "edl.png"
    rows = _json_run(monkeypatch, capsys, png, "edl", "perseverance", "--samples", "100")
    _check_png(png)
    drawn = seen[0]
    assert set(drawn["centres"]) == {r["class"] for r in rows}
    marked = 0
    for r in rows:
        assert drawn["centres"][r["class"]] == pytest.approx((r["east_m"], r["north_m"]))
        w = np.linalg.eigvalsh(np.asarray(r["cov"]))
        assert drawn["semi_axes_m"][r["class"]] == pytest.approx(np.sqrt(w[::-1]), rel=1e-9)
        if r["published_distance_m"] is not None and r["published_bearing_deg"] is not None:
            e, n = drawn["published"][r["class"]]
            assert math.hypot(e, n) == pytest.approx(r["published_distance_m"])
            assert math.degrees(math.atan2(e, n)) % 360 == pytest.approx(
                r["published_bearing_deg"] % 360
            )
            marked += 1
    assert marked >= 1  # Perseverance's heat shield and parachute positions are published


@pytest.mark.parametrize("name", ["plot.jpg", "plot", "no/such/folder/plot.png"])
def test_a_bad_plot_path_is_one_error_line(monkeypatch, capsys, tmp_path, name):
    monkeypatch.chdir(tmp_path)
    code, out, err = _run(monkeypatch, capsys, "edl", "perseverance", "--plot", name)
    assert code == 2
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("orbitscout: error: --plot: "), err
    assert out == "" and list(tmp_path.iterdir()) == []


def test_empty_rows_still_draw(tmp_path):
    plan = plots.plan_plot(
        [], tmp_path / "p.svg", site=(0.0, 0.0), start_utc=START, end_utc="2026-01-02T00:00:00Z"
    )
    relay = plots.relay_plot(
        [], tmp_path / "r.png", elevation=lambda t: np.zeros(len(t)), sol_of=lambda t: t
    )
    assert plan["utc"] == [] and relay["volume_mbit"] == []
    assert "ILLUSTRATIVE" not in plan["title"] + relay["title"]
    _check_svg(tmp_path / "p.svg")
    _check_png(tmp_path / "r.png")
