"""`orbitscout demo`: the seed's scene simulated, found, scored and reported."""

from __future__ import annotations

import json

import pytest

from orbitscout.sim.demo import compass, offset_from


def test_compass_and_offsets():
    assert compass(0) == "N" and compass(44) == "NE" and compass(315) == "NW"
    assert compass(359) == "N" and compass(250) == "WSW"
    d, b = offset_from(10, 0, 0, 10, 5.0)  # 10 px east and 10 px north (rows grow south)
    assert d == pytest.approx(50 * 2**0.5) and b == pytest.approx(45.0)


def test_demo_end_to_end(tmp_path):
    pytest.importorskip("orbitscout.pipeline", reason="the find pipeline is not in this checkout")
    from orbitscout.sim.demo import run_demo

    lines: list[str] = []
    # 768 px of CaSSIS (3.5 km) hold Perseverance's whole layout and keep the test quick
    res = run_demo(tmp_path, seed=0, size=768, progress=False, echo=lines.append)
    names = {p.name for p in tmp_path.iterdir()}
    assert {"before.tif", "after.tif", "truth.json", "summary.json"} <= names
    assert "detections.geojson" in names
    summary = json.loads((tmp_path / "summary.json").read_text())
    ev = summary["evaluation"]
    for key in ("recall", "precision", "class_accuracy", "median_error_px"):
        assert key in ev
    assert 0.0 <= ev["recall"] <= 1.0
    assert "registration" in summary  # what find wrote is still there
    truth = json.loads((tmp_path / "truth.json").read_text())
    # find was given the simulated products' suns, as their labels would give them
    light, said = summary["illumination"], truth["illumination"]
    for k in ("before", "after"):
        assert light[k]["source"] == "option"
        assert light[k]["incidence_deg"] == pytest.approx(said[k]["incidence_deg"], abs=0.01)
    assert light["relit"]["tested"]
    assert truth["camera"] == "cassis" and len(truth["items"]) == 5
    text = "\n".join(lines)
    assert "relative to the rover" in text
    assert res["evaluation"]["truth"] == 5
    # the rover, a bright speck in its blast zone, is found
    assert res["evaluation"]["per_class"]["lander"]["found"] == 1
    # the likely changes are fewer, and hold the rover
    likely = res["likely"]
    assert likely["detections"] <= res["evaluation"]["detections"]
    assert likely["per_class"]["lander"]["found"] == 1
    assert "likely changes of the ground" in text


def test_cli_demo_help():
    from typer.testing import CliRunner

    from orbitscout.cli import app

    res = CliRunner().invoke(app, ["demo", "--help"])
    assert res.exit_code == 0 and "--out" in res.output
