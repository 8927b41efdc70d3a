"""``survey``: many pairs on a Dask LocalCluster, failures recorded, kills and reruns lose
nothing and repeat nothing."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_chunked import make_pair

from orbitscout import cli
from orbitscout.core.errors import OrbitscoutError
from orbitscout.pipeline import find
from orbitscout.survey import SURVEY_COLUMNS, read_pairs, read_survey, survey

SPOTS = [(100.0, 90.0, 2.0, 1.5), (200.0, 190.0, 4.0, -1.0)]


def _pairs(root: Path, n: int, size: int = 320, broken: int | None = None) -> Path:
    """n small pairs in root/pN/, listed in root/pairs.csv (relative paths); pair ``broken`` has
    a corrupt BEFORE file."""
    lines = ["before,after,name"]
    for i in range(n):
        make_pair(root / f"p{i}", size=size, seed=i, spots=SPOTS)
        if i == broken:
            (root / f"p{i}" / "before.tif").write_bytes(b"II*\x00 this is not a GeoTIFF")
        lines.append(f"p{i}/before.tif,p{i}/after.tif,pair{i}")
    (root / "pairs.csv").write_text("\n".join(lines) + "\n")
    return root / "pairs.csv"


def _lines(out: Path) -> list[dict]:
    with open(out / "survey.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def test_survey_records_a_broken_pair_and_finishes_the_rest(tmp_path):
    pairs_csv = _pairs(tmp_path, 4, broken=2)
    out = tmp_path / "out"
    result = survey(pairs_csv, out, workers=2)
    assert (result.ok, result.failed, result.skipped) == (3, 1, 0)
    rows = {r["pair"]: r for r in _lines(out)}
    assert list(_lines(out)[0]) == list(SURVEY_COLUMNS)
    assert sorted(rows) == ["pair0", "pair1", "pair2", "pair3"]
    assert rows["pair2"]["status"] == "error"
    assert "p2/before.tif" in rows["pair2"]["error"] and "\n" not in rows["pair2"]["error"]
    for name in ("pair0", "pair1", "pair3"):
        row = rows[name]
        assert row["status"] == "ok" and row["error"] == ""
        summary = json.loads((out / name / "summary.json").read_text())
        assert int(row["detections"]) == summary["detections"]
        assert {c: int(row[c]) for c in summary["counts"]} == summary["counts"]
        assert float(row["seconds"]) > 0
    assert not (out / "pair2" / "summary.json").exists()

    # the same answer as find run alone on the pair
    alone = find(tmp_path / "p1" / "before.tif", tmp_path / "p1" / "after.tif", tmp_path / "alone")
    features = json.loads((out / "pair1" / "detections.geojson").read_text())["features"]
    assert [(f["properties"]["x"], f["properties"]["y"]) for f in features] == [
        (round(c.x, 3), round(c.y, 3)) for c in alone.detections
    ]

    # rerun: finished pairs are skipped, the failed one is tried again, one line per pair
    again = survey(pairs_csv, out, workers=1)
    assert (again.ok, again.failed, again.skipped) == (0, 1, 3)
    assert sorted(r["pair"] for r in _lines(out)) == ["pair0", "pair1", "pair2", "pair3"]


def test_finished_folders_and_partial_lines_are_recovered(tmp_path):
    pairs_csv = _pairs(tmp_path, 2)
    out = tmp_path / "out"
    survey(pairs_csv, out, workers=1)
    # as if killed after pair1's folder was written but while its line was half written
    lines = (out / "survey.csv").read_text().splitlines(keepends=True)
    keep = [ln for ln in lines if not ln.startswith("pair1,")]
    (out / "survey.csv").write_text("".join(keep) + "pair1,o")
    assert [r["pair"] for r in read_survey(out / "survey.csv")] == ["pair0"]
    result = survey(pairs_csv, out, workers=1)  # nothing to run: no cluster is started
    assert (result.ok, result.failed, result.skipped) == (0, 0, 2)
    rows = _lines(out)
    assert sorted(r["pair"] for r in rows) == ["pair0", "pair1"]
    assert all(r["status"] == "ok" for r in rows)


def test_killed_survey_reruns_to_every_pair_once(tmp_path):
    n = 6
    pairs_csv = _pairs(tmp_path, n, size=384)
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "orbitscout.cli",
            "survey",
            str(pairs_csv),
            "--out",
            str(out),
            "--workers",
            "1",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            if any(r["status"] == "ok" for r in read_survey(out / "survey.csv")):
                break
            time.sleep(0.05)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)  # the survey, its scheduler and its workers
        proc.wait(timeout=30)
    done_before = [r["pair"] for r in read_survey(out / "survey.csv")]
    assert 1 <= len(done_before) < n
    result = survey(pairs_csv, out, workers=2)
    rows = _lines(out)
    assert sorted(r["pair"] for r in rows) == sorted(f"pair{i}" for i in range(n))
    assert all(r["status"] == "ok" for r in rows)
    assert result.skipped >= len(done_before) and result.ok + result.skipped == n


def test_read_pairs_resolves_paths_and_derives_names(tmp_path):
    make_pair(tmp_path / "a", size=64)
    text = (
        "after,before,site,mission,body\n"
        'a/after.tif,a/before.tif,"18.44,77.45",perseverance,Mars\n'
        f"{tmp_path}/a/after.tif,a/before.tif,,,\n"
    )
    (tmp_path / "list.csv").write_text(text)
    pairs = read_pairs(tmp_path / "list.csv")
    assert [p.name for p in pairs] == ["a_after", "a_after-3"]
    assert pairs[0].before == str((tmp_path / "a" / "before.tif").resolve())
    assert pairs[0].site == pytest.approx((18.44, 77.45)) and pairs[0].mission == "perseverance"
    assert pairs[0].body == "mars" and pairs[1].site is None and pairs[1].body is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("before,image\nx.tif,y.tif\n", "has no after column"),
        ("before,after\nmissing.tif,a/after.tif\n", "line 2: before image not found"),
        ("before,after\n", "lists no pairs"),
        (
            "before,after,name\na/before.tif,a/after.tif,x\na/before.tif,a/after.tif,x\n",
            "also on line 2",
        ),
        ('before,after,site\na/before.tif,a/after.tif,"north"\n', "site must be"),
    ],
)
def test_bad_pairs_file_is_one_clear_error(tmp_path, text, message):
    make_pair(tmp_path / "a", size=64)
    (tmp_path / "pairs.csv").write_text(text)
    with pytest.raises(OrbitscoutError, match=message):
        read_pairs(tmp_path / "pairs.csv")


def test_cli_bad_pairs_file_exits_2(tmp_path, monkeypatch, capsys):
    (tmp_path / "pairs.csv").write_text("before\nx.tif\n")
    for args in ([str(tmp_path / "pairs.csv")], [str(tmp_path / "none.csv")]):
        monkeypatch.setattr(
            sys, "argv", ["orbitscout", "survey", *args, "--out", str(tmp_path / "out")]
        )
        with pytest.raises(SystemExit) as exit_info:
            cli.main()
        assert exit_info.value.code == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("orbitscout: error: ") and "\n" not in err


def test_survey_on_a_running_scheduler_by_address(tmp_path):
    from distributed import LocalCluster

    pairs_csv = _pairs(tmp_path, 2, size=256)
    with LocalCluster(n_workers=1, threads_per_worker=1, dashboard_address=None) as cluster:
        result = survey(pairs_csv, tmp_path / "out", scheduler=cluster.scheduler_address)
        with pytest.raises(OrbitscoutError, match="--workers"):
            survey(pairs_csv, tmp_path / "out2", scheduler=cluster.scheduler_address, workers=2)
    assert (result.ok, result.failed) == (2, 0)
    assert sorted(r["pair"] for r in _lines(tmp_path / "out")) == ["pair0", "pair1"]


def test_unreachable_scheduler_is_one_clear_error(tmp_path):
    import dask

    pairs_csv = _pairs(tmp_path, 1, size=64)
    with dask.config.set({"distributed.comm.timeouts.connect": "2s"}):
        with pytest.raises(OrbitscoutError, match="cannot reach the Dask scheduler"):
            survey(pairs_csv, tmp_path / "out", scheduler="tcp://127.0.0.1:9")
