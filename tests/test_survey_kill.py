"""A survey of 20 pairs killed 10 times at random moments (kill -9 of the whole process group:
the survey, its scheduler, nannies and workers) and resumed ends with one line per pair, every
pair's outputs whole and of one run, no staging folders or temporary files left, and a pair
whose images changed between the kills redone."""

from __future__ import annotations

import csv
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from synth import Spot, make_pair

from orbitscout.survey import RECORD, check_record, read_pairs, read_survey, survey

REPO = Path(__file__).resolve().parents[1]
N = 20
KILLS = 10
SEED = int(os.environ.get("ORBITSCOUT_KILL_SEED", "19"))


def _pair(folder: Path, seed: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    make_pair(folder, size=96, seed=seed, shift=(2.0, -1.0), spots=[Spot(30, 30, 3, 0.5)])


def _start(pairs_csv: Path, out: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO), "ORBITSCOUT_THREADS": "1"}
    command = [sys.executable, "-m", "orbitscout.cli", "survey", str(pairs_csv)]
    return subprocess.Popen(
        [*command, "--out", str(out), "--workers", "1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
        start_new_session=True,
    )


def _kill(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # the survey and every process it started
    except ProcessLookupError:
        pass
    proc.wait(timeout=30)


def _whole(folder: Path) -> None:
    """The outputs of one find run: all there, readable, and agreeing with each other."""
    summary = json.loads((folder / "summary.json").read_text())
    features = json.loads((folder / "detections.geojson").read_text())["features"]
    assert len(features) == summary["detections"]
    counts = {c: sum(f["properties"]["class"] == c for f in features) for c in summary["counts"]}
    assert counts == summary["counts"]
    assert (folder / "overview.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (folder / "report.html").stat().st_size > 0
    assert (folder / "detections.gpkg").read_bytes()[:16] == b"SQLite format 3\x00"


def test_survey_killed_ten_times_at_random_moments_resumes_whole(tmp_path):
    clock = time.monotonic()
    rng = random.Random(SEED)
    lines = ["before,after,name"]
    for i in range(N):
        _pair(tmp_path / f"p{i}", seed=i)
        lines.append(f"p{i}/before.tif,p{i}/after.tif,pair{i}")
    pairs_csv = tmp_path / "pairs.csv"
    pairs_csv.write_text("\n".join(lines) + "\n")
    out = tmp_path / "out"
    changed = None
    running = 0  # kills that hit a survey still at work
    for kill in range(KILLS):
        base = len(read_survey(out / "survey.csv"))
        proc = _start(pairs_csv, out)
        # a random moment: after 0-2 more pairs are recorded (0: maybe still starting), and a
        # random fraction of a second more (a pair takes ~0.2 s)
        more = 1 if kill >= KILLS // 2 and changed is None else rng.choice((0, 1, 1, 2))
        deadline = time.monotonic() + 30
        while proc.poll() is None and time.monotonic() < deadline:
            if len(read_survey(out / "survey.csv")) >= base + more:
                break
            time.sleep(0.02)
        time.sleep(rng.uniform(0.0, 0.5))
        running += proc.poll() is None
        _kill(proc)
        if kill >= KILLS // 2 and changed is None:
            # a finished pair gets other images under its name
            done = [p.name for p in read_pairs(pairs_csv) if (out / p.name / RECORD).is_file()]
            if not done:
                continue  # the next run waits for one
            changed = done[0]
            _pair(tmp_path / "changed", seed=99)
            i = changed.removeprefix("pair")
            text = pairs_csv.read_text().replace(
                f"p{i}/before.tif,p{i}/after.tif,", "changed/before.tif,changed/after.tif,"
            )
            pairs_csv.write_text(text)
    assert changed is not None and running >= KILLS // 2
    result = survey(pairs_csv, out, workers=1)
    assert result.failed == 0 and result.ok + result.skipped == N

    with open(out / "survey.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert sorted(r["pair"] for r in rows) == sorted(f"pair{i}" for i in range(N))
    assert all(r["status"] == "ok" for r in rows)
    options = {"tile": 2048, "min_score": 0.0}
    for pair in read_pairs(pairs_csv):
        folder = out / pair.name
        row, reason = check_record(folder, pair, options)
        assert reason is None and row is not None, (pair.name, reason)
        _whole(folder)
        line = next(r for r in rows if r["pair"] == pair.name)
        assert (
            int(line["detections"])
            == json.loads((folder / "summary.json").read_text())["detections"]
        )
    summary = json.loads((out / changed / "summary.json").read_text())
    assert Path(summary["after"]["path"]).parts[-2:] == ("changed", "after.tif")
    left = [p for p in out.rglob(".*") if p.name != RECORD]
    assert left == []  # no staging folders, no temporary files
    assert time.monotonic() - clock < 90
