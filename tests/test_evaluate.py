"""Scoring detections against truth: matching, metrics, files, CLI."""

from __future__ import annotations

import json
import math
import sys

import pytest

from orbitscout.core.errors import OrbitscoutError
from orbitscout.sim.evaluate import (
    evaluate,
    evaluate_lists,
    footprint_distance_px,
    format_report,
    match,
    match_radius_px,
)

TRUTH = {
    "gsd_m": 5.0,
    "items": [
        {"id": 0, "class": "lander", "x": 100.0, "y": 100.0, "size_m": 3.0, "extent_m": 3.0},
        {"id": 1, "class": "parachute", "x": 200.0, "y": 50.0, "size_m": 20.0, "extent_m": 20.0},
        {"id": 2, "class": "heat_shield", "x": 300.0, "y": 300.0, "size_m": 4.5},
    ],
}


def _det(x, y, cls, score=0.9, i=0):
    return {"id": i, "class": cls, "score": score, "x": x, "y": y}


def _write(tmp_path, dets, truth=TRUTH):
    features = [{"type": "Feature", "geometry": None, "properties": d} for d in dets]
    dp = tmp_path / "detections.geojson"
    dp.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    tp = tmp_path / "truth.json"
    tp.write_text(json.dumps(truth))
    return dp, tp


def test_perfect_detections(tmp_path):
    dets = [_det(it["x"], it["y"], it["class"], i=i) for i, it in enumerate(TRUTH["items"])]
    res = evaluate(*_write(tmp_path, dets))
    assert res["recall"] == res["precision"] == res["class_accuracy"] == 1.0
    assert res["median_error_px"] == 0.0 and res["median_error_m"] == 0.0
    assert res["per_class"]["lander"]["recall"] == 1.0


def test_radius_scales_with_size_and_has_a_floor():
    # 3 m at 5 m/px: 0.3 + 1.5 px, raised to the 2 px floor
    assert match_radius_px(TRUTH["items"][0], 5.0) == 2.0
    assert match_radius_px(TRUTH["items"][1], 5.0) == pytest.approx(3.5)
    assert match_radius_px({"size_m": 0.1}, 5.0, min_radius_px=2.0) == 2.0
    assert match_radius_px({"size_m": 100.0}, 0.25) > 100


def test_a_detection_on_an_objects_cast_shadow_matches_it():
    """The ground a boulder changed reaches to the end of its shadow (``shadow_px``): a
    detection on the shadow matches, one as far off up-sun or past the shadow's end does not."""
    boulder = {"id": 0, "class": "unknown", "x": 50.0, "y": 50.0, "size_m": 2.0}
    shadowed = dict(boulder, shadow_px=[0.0, 12.0])  # sun from the north: shadow southward
    assert match_radius_px(boulder, 0.5) == pytest.approx(3.5)
    assert footprint_distance_px(50.0, 60.0, shadowed) == pytest.approx(0.0)
    assert footprint_distance_px(52.0, 66.0, shadowed) == pytest.approx(math.hypot(2, 4))
    on_shadow, up_sun, past_end = (
        _det(51.0, 59.0, "unknown"),
        _det(50.0, 41.0, "x"),
        _det(50.0, 67.0, "x"),
    )
    assert match([on_shadow], [boulder], 0.5) == []
    # matched on the shadow, its error measured from the boulder
    assert match([on_shadow], [shadowed], 0.5) == [(0, 0, pytest.approx(math.hypot(1, 9)))]
    assert match([up_sun, past_end], [shadowed], 0.5) == []


def test_misses_false_alarms_wrong_classes():
    dets = [
        _det(101.0, 100.0, "lander"),  # 1 px off: matched
        _det(203.0, 50.0, "unknown"),  # inside the parachute's 3.5 px: matched, wrong class
        _det(320.0, 300.0, "heat_shield"),  # 20 px off a 4.5 m object: a miss + false alarm
        _det(10.0, 10.0, "new_crater"),  # nothing there
    ]
    res = evaluate_lists(dets, TRUTH)
    assert res["matched"] == 2
    assert res["recall"] == pytest.approx(2 / 3)
    assert res["precision"] == pytest.approx(2 / 4)
    assert res["class_accuracy"] == pytest.approx(1 / 2)
    assert res["median_error_px"] == pytest.approx(2.0)  # median of 1 and 3
    assert res["median_error_m"] == pytest.approx(10.0)
    assert res["per_class"]["heat_shield"]["recall"] == 0.0
    assert res["confusion"]["parachute"] == {"unknown": 1}
    assert [m["truth_id"] for m in res["missed"]] == [2]
    # min_score drops low-scored detections before matching
    assert evaluate_lists(dets, TRUTH, min_score=0.95)["detections"] == 0


def test_one_to_one_and_globally_optimal():
    truth = {
        "gsd_m": 1.0,
        "items": [
            {"class": "lander", "x": 0.0, "y": 0.0, "size_m": 6.0},
            {"class": "lander", "x": 4.0, "y": 0.0, "size_m": 6.0},
        ],
    }
    # greedy would give detection A (x=3) to truth 1 (1 px) and leave detection B unmatched
    dets = [_det(3.0, 0.0, "lander"), _det(-1.5, 0.0, "lander"), _det(3.2, 0.1, "lander")]
    pairs = match(dets, truth["items"], 1.0)
    assert len(pairs) == 2 and len({p[0] for p in pairs}) == 2 and len({p[1] for p in pairs}) == 2
    res = evaluate_lists(dets, truth)
    assert res["recall"] == 1.0 and res["precision"] == pytest.approx(2 / 3)
    # two detections on one truth item: only one counts
    res2 = evaluate_lists(
        [_det(0, 0, "lander"), _det(0.5, 0, "lander")], {**truth, "items": truth["items"][:1]}
    )
    assert res2["matched"] == 1 and res2["precision"] == 0.5


def test_empty_inputs():
    res = evaluate_lists([], TRUTH)
    assert res["recall"] == 0.0 and res["precision"] is None and res["class_accuracy"] is None
    res = evaluate_lists([_det(1, 1, "lander")], {"gsd_m": 1.0, "items": []})
    assert res["recall"] is None and res["precision"] == 0.0


def test_bad_files(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    good_d, good_t = _write(tmp_path, [])
    with pytest.raises(OrbitscoutError, match="not valid JSON"):
        evaluate(bad, good_t)
    with pytest.raises(OrbitscoutError, match="file not found"):
        evaluate(good_d, tmp_path / "missing.json")
    (tmp_path / "t2.json").write_text(json.dumps({"items": [{"x": 1}]}))
    with pytest.raises(OrbitscoutError, match="lacks"):
        evaluate(good_d, tmp_path / "t2.json")
    (tmp_path / "d2.json").write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [{"type": "Feature", "properties": {"class": "lander"}}],
            }
        )
    )
    with pytest.raises(OrbitscoutError, match="no numeric x, y"):
        evaluate(tmp_path / "d2.json", good_t)
    (tmp_path / "d3.json").write_text(json.dumps([{"x": 10**400, "y": 1.0, "class": "x"}]))
    with pytest.raises(OrbitscoutError, match="no numeric x, y"):
        evaluate(tmp_path / "d3.json", good_t)
    item = {"id": 0, "class": "unknown", "x": 5.0, "y": 5.0, "size_m": 1.0}
    for bad_item, message in (
        ({**item, "shadow_px": [1.0]}, "shadow_px"),
        ({**item, "shadow_px": "south"}, "shadow_px"),
        ({**item, "shadow_px": [1.0, None]}, "no number"),
        ({**item, "x": "5"}, "no number"),
        ({**item, "extent_m": "wide"}, "no number"),
        ({**item, "y": 10**400}, "no number"),
    ):
        (tmp_path / "t3.json").write_text(json.dumps({"gsd_m": 1.0, "items": [bad_item]}))
        with pytest.raises(OrbitscoutError, match=message):
            evaluate(good_d, tmp_path / "t3.json")


def test_cli_evaluate_a_hostile_truth_is_one_error_line(tmp_path, monkeypatch, capsys):
    from orbitscout.cli import main

    dp, tp = _write(tmp_path, [_det(100, 100, "lander")])
    tp.write_text(json.dumps({"gsd_m": "x", "items": []}))
    monkeypatch.setattr(sys, "argv", ["orbitscout", "evaluate", str(dp), str(tp)])
    with pytest.raises(SystemExit) as stop:
        main()
    err = capsys.readouterr().err
    assert stop.value.code == 2 and "Traceback" not in err
    (line,) = err.splitlines()
    assert line.startswith("orbitscout: error: ") and line.endswith("gsd_m is not a number")


def test_cli_evaluate(tmp_path):
    from typer.testing import CliRunner

    from orbitscout.cli import app

    dets = [_det(100, 100, "lander"), _det(200, 50, "parachute")]
    dp, tp = _write(tmp_path, dets)
    res = CliRunner().invoke(app, ["evaluate", str(dp), str(tp), "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["recall"] == pytest.approx(2 / 3) and out["precision"] == 1.0
    res = CliRunner().invoke(app, ["evaluate", str(dp), str(tp)])
    assert res.exit_code == 0 and "recall 67%" in res.output


MOVED = {
    "gsd_m": 1.0,
    "items": [
        {"id": 0, "class": "lander", "x": 100.0, "y": 100.0, "size_m": 6.0},
        {"id": 1, "class": "unknown", "x": 200.0, "y": 200.0, "size_m": 6.0, "change": "vanished"},
        {"id": 2, "class": "unknown", "x": 215.0, "y": 200.0, "size_m": 6.0, "moved_from": 1},
        {"id": 3, "class": "unknown", "x": 300.0, "y": 300.0, "size_m": 6.0, "change": "vanished"},
    ],
}


def _moved_dets():
    return [
        {**_det(100.5, 100.0, "lander", i=1), "change": "appeared"},
        {**_det(200.0, 201.0, "unknown", i=2), "change": "vanished"},
        {**_det(215.0, 200.0, "unknown", i=3), "change": "appeared", "moved_from": 2},
        {**_det(50.0, 50.0, "unknown", i=4), "change": "appeared", "moved_from": 1},  # false
    ]


def test_recall_per_change_and_moves():
    """Appeared and vanished items are counted apart; a move is found when both ends are
    matched and their detections linked; a link between unrelated detections costs precision."""
    res = evaluate_lists(_moved_dets(), MOVED)
    assert res["recall"] == pytest.approx(3 / 4) and res["matched"] == 3
    appeared, vanished = res["per_change"]["appeared"], res["per_change"]["vanished"]
    assert (appeared["truth"], appeared["found"], appeared["recall"]) == (2, 2, 1.0)
    assert (vanished["truth"], vanished["found"], vanished["recall"]) == (2, 1, 0.5)
    assert appeared["change_accuracy"] == vanished["change_accuracy"] == 1.0
    assert res["change_accuracy"] == 1.0
    assert res["moves"] == {"truth": 1, "found": 1, "recall": 1.0, "linked": 2, "precision": 0.5}
    assert {m["truth_id"]: m["detection_change"] for m in res["matches"]} == {
        0: "appeared",
        1: "vanished",
        2: "appeared",
    }
    assert res["missed"] == [
        {"truth_id": 3, "class": "unknown", "x": 300.0, "y": 300.0, "change": "vanished"}
    ]
    text = format_report(res)
    assert "vanished" in text and "moves found 1 of 1, 2 linked (precision 50%)" in text


def test_change_disagreement_and_a_link_either_way():
    """A detection without ``change`` counts as appeared (wrong on a vanished item); the link
    named from the vanished end finds the move as well; an end unmatched loses it."""
    dets = _moved_dets()
    del dets[1]["change"]
    dets[2]["moved_from"] = None
    dets[1]["moved_from"] = 3  # the vanished end names the other
    res = evaluate_lists(dets[:3], MOVED)
    assert res["per_change"]["vanished"]["change_accuracy"] == 0.0
    assert res["change_accuracy"] == pytest.approx(2 / 3)
    assert res["moves"]["found"] == 1 and res["moves"]["precision"] == 1.0
    res = evaluate_lists([dets[0], dets[2]], MOVED)  # the vanished end not found
    assert res["moves"] == {"truth": 1, "found": 0, "recall": 0.0, "linked": 0, "precision": None}


def test_old_truth_keeps_its_figures_and_keys():
    """Truth without change or moved_from: the keys and figures of before, whatever the
    detections carry."""
    plain = [_det(101.0, 100.0, "lander"), _det(203.0, 50.0, "unknown")]
    tagged = [{**d, "change": "vanished", "moved_from": 0} for d in plain]
    res, res_tagged = evaluate_lists(plain, TRUTH), evaluate_lists(tagged, TRUTH)
    assert res == res_tagged
    assert set(res) == {
        "recall", "precision", "class_accuracy", "median_error_px", "median_error_m", "truth",
        "detections", "matched", "gsd_m", "min_radius_px", "per_class", "confusion", "matches",
        "missed",
    }  # fmt: skip
    assert set(res["matches"][0]) == {
        "truth_id", "truth_class", "detection_id", "detection_class", "error_px", "error_m",
    }  # fmt: skip
    assert "change" not in format_report(res)


def test_cli_evaluate_json_has_the_changes(tmp_path):
    from typer.testing import CliRunner

    from orbitscout.cli import app

    dp, tp = _write(tmp_path, _moved_dets(), MOVED)
    res = CliRunner().invoke(app, ["evaluate", str(dp), str(tp), "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["per_change"]["vanished"]["recall"] == 0.5 and out["moves"]["found"] == 1
