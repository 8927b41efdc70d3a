"""``core.atomic``: files whole or absent, a staged set published whole even across a kill,
stale staging of killed runs removed and a live run's kept, outputs 0644 under umask 022."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from orbitscout.core import atomic
from orbitscout.core.atomic import (
    STAGE_PREFIX,
    atomic_file,
    check_out_dir,
    owner_tag,
    remove_stale,
    staged_outputs,
)
from orbitscout.core.errors import OrbitscoutError

REPO = Path(__file__).resolve().parents[1]
ITEMS = ("a.txt", "b", "c.txt", "summary.json")  # b is a folder
STEPS = ["staged", "journal", *(f"moved:{n}" for n in ("a.txt", "b", "c.txt")), "published"]
STEPS.insert(-1, "moved:summary.json")

WRITER = textwrap.dedent(
    """
    import os, signal, sys
    from orbitscout.core import atomic

    out, run, kill_at = sys.argv[1], sys.argv[2], sys.argv[3]

    def fault(step):
        if step == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

    atomic._FAULT = fault
    with atomic.staged_outputs(out) as stage:
        for name in ("a.txt", "c.txt", "summary.json"):
            (stage / name).write_text(run)
        (stage / "b").mkdir()
        (stage / "b" / "inner.txt").write_text(run)
    """
)


def _write(out: Path, run: str, kill_at: str = "") -> int:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [sys.executable, "-c", WRITER, str(out), run, kill_at], env=env, timeout=60
    )
    return proc.returncode


def _runs(out: Path) -> set[str]:
    """The runs the published outputs come from (one element when they are one whole set)."""
    texts = [(out / n).read_text() for n in ("a.txt", "c.txt", "summary.json")]
    return {*texts, (out / "b" / "inner.txt").read_text()}


def _stages(out: Path) -> list[str]:
    return [p.name for p in out.iterdir() if p.name.startswith(STAGE_PREFIX)]


@pytest.mark.parametrize("step", STEPS)
def test_a_kill_at_every_publishing_step_leaves_one_whole_set(tmp_path, step):
    out = tmp_path / "out"
    assert _write(out, "1") == 0 and _runs(out) == {"1"}
    assert _write(out, "2", kill_at=step) == -9  # killed there
    assert _stages(out)  # the kill left its staging folder
    # a reader that trusts summary.json never sees a mix: where it is, its run's set is whole
    if (out / "summary.json").exists():
        assert _runs(out) == {(out / "summary.json").read_text()}
    # the next run first completes a publication whose journal was written, or drops the stage
    remove_stale(out)
    assert _runs(out) == ({"1"} if step == "staged" else {"2"})
    assert not _stages(out)
    assert sorted(p.name for p in out.iterdir()) == sorted(ITEMS)
    # and a whole rerun after a kill leaves its own outputs alone
    assert _write(out, "3", kill_at=step) == -9
    assert _write(out, "4") == 0
    assert _runs(out) == {"4"} and not _stages(out)
    assert sorted(p.name for p in out.iterdir()) == sorted(ITEMS)


def test_staged_outputs_removes_a_killed_runs_stage_and_keeps_a_live_one(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], **_text())
    pid = int(dead.stdout)
    host = owner_tag().split("-")[0]
    stale = tmp_path / f"{STAGE_PREFIX}{host}-{pid}-12345-abcd_123"
    stale.mkdir()
    (stale / "detections.gpkg").write_bytes(b"half")
    # this process's own pid with another start time: a killed process whose pid came back
    reused = tmp_path / f"{STAGE_PREFIX}{host}-{os.getpid()}-1-zzzz"
    reused.mkdir()
    live = tmp_path / f"{STAGE_PREFIX}{owner_tag()}-live1"  # a concurrent run's, still going
    live.mkdir()
    other_host = tmp_path / f"{STAGE_PREFIX}00000000-{pid}-12345-x"  # another machine's
    other_host.mkdir()
    stale_tmp = tmp_path / f".survey.csv.{host}-{pid}-12345-q1w2e3r4.tmp"
    stale_tmp.write_text("half")
    with staged_outputs(tmp_path) as stage:
        (stage / "summary.json").write_text("{}")
    assert not stale.exists() and not reused.exists() and not stale_tmp.exists()
    assert live.is_dir() and other_host.is_dir()
    assert (tmp_path / "summary.json").read_text() == "{}"
    assert sorted(_stages(tmp_path)) == sorted([live.name, other_host.name])


def _text() -> dict:
    return {"capture_output": True, "text": True, "check": True, "timeout": 60}


def test_a_folder_where_an_output_goes_publishes_nothing(tmp_path):
    (tmp_path / "report.html").mkdir()
    with pytest.raises(OrbitscoutError, match="would replace a folder"):
        with staged_outputs(tmp_path) as stage:
            for name in ("detections.geojson", "overview.png", "report.html", "summary.json"):
                (stage / name).write_text("x")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html"]


def test_a_failure_while_staging_leaves_the_folder_as_it_was(tmp_path, monkeypatch):
    (tmp_path / "summary.json").write_text("old")
    with pytest.raises(RuntimeError):
        with staged_outputs(tmp_path) as stage:
            (stage / "summary.json").write_text("new")
            raise RuntimeError("boom")
    steps = []
    monkeypatch.setattr(atomic, "_FAULT", steps.append)
    with staged_outputs(tmp_path) as stage:
        (stage / "summary.json").write_text("new")
        (stage / "a.txt").write_text("new")
    assert steps == ["staged", "journal", "moved:a.txt", "moved:summary.json", "published"]
    assert [p.name for p in sorted(tmp_path.iterdir())] == ["a.txt", "summary.json"]


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_atomic_file_gets_the_mode_of_a_new_file(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        with atomic_file(tmp_path / "survey.csv") as tmp:
            tmp.write_text("x")
    finally:
        os.umask(old)
    assert (tmp_path / "survey.csv").stat().st_mode & 0o777 == mode
    assert [p.name for p in tmp_path.iterdir()] == ["survey.csv"]


def test_check_out_dir_before_any_work(tmp_path, monkeypatch):
    (tmp_path / "report.html").mkdir()
    with pytest.raises(OrbitscoutError, match="report.html: is a folder where an output"):
        check_out_dir(tmp_path, ["summary.json", "report.html"])
    assert (
        check_out_dir(tmp_path / "new" / "deeper", ["report.html"]) == tmp_path / "new" / "deeper"
    )
    assert not (tmp_path / "new").exists()
    # a folder this process cannot write into (chmod alone does not stop root: ask os.access)
    monkeypatch.setattr(os, "access", lambda path, mode: Path(path) != tmp_path)
    for out in (tmp_path, tmp_path / "new"):
        with pytest.raises(OrbitscoutError, match="cannot write into the output folder"):
            check_out_dir(out)


def _find_killed_at(step: str, before: str, after: str, out: str) -> None:
    """find, killed (SIGKILL) at publishing step ``step`` (run in a child process)."""
    import signal

    from orbitscout.pipeline import find

    def fault(at: str) -> None:
        if at == step:
            os.kill(os.getpid(), signal.SIGKILL)

    atomic._FAULT = fault
    find(before, after, out)


def _state(out: Path) -> tuple[dict[str, int], list[str]]:
    """The outputs' modification times, and the staging folders, in ``out``."""
    files = {p.name: p.stat().st_mtime_ns for p in out.iterdir() if not p.name.startswith(".")}
    return files, _stages(out)


def test_find_killed_at_every_publishing_step(tmp_path, monkeypatch):
    """find itself, killed at each publishing step (children of a warm fork server): the next
    run completes or drops the killed publication, so the folder holds one whole set, of the
    killed run once its journal was written, else of the run before; a rerun's outputs are all
    its own; no staging folder is left."""
    import multiprocessing

    from synth import Spot, make_pair

    from orbitscout.pipeline import find

    (tmp_path / "pair").mkdir()
    before, after = make_pair(
        tmp_path / "pair", size=96, shift=(2.0, -1.0), spots=[Spot(30, 30, 3, 0.5)]
    )
    out = tmp_path / "out"
    steps: list[str] = []
    monkeypatch.setattr(atomic, "_FAULT", steps.append)
    find(before, after, out)
    monkeypatch.setattr(atomic, "_FAULT", None)
    assert steps[:2] == ["staged", "journal"] and steps[-2:] == ["moved:summary.json", "published"]
    assert len(steps) >= 6  # several outputs, each moved on its own
    names = sorted(s.removeprefix("moved:") for s in steps if s.startswith("moved:"))
    # a fork server that has imported find's modules: each child starts warm (a plain fork
    # of this threaded process can deadlock; a fresh interpreter takes ~1 s more per step)
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(
        [
            "orbitscout.pipeline",
            "orbitscout.report.outputs",
            "orbitscout.identify.classify",
            "geopandas",
            "scipy.optimize",
            "scipy.spatial",
        ]
    )
    for step in steps:
        start = time.time_ns()
        child = context.Process(target=_find_killed_at, args=(step, before, after, out))
        child.start()
        child.join(60)
        assert child.exitcode == -9, step  # killed there
        assert _stages(out), step  # the kill left its staging folder
        remove_stale(out)
        files, stages = _state(out)
        assert sorted(files) == names and stages == [], step
        from_killed = sorted(n for n, t in files.items() if t >= start)
        assert from_killed == ([] if step == "staged" else names), step
        rerun = time.time_ns()
        find(before, after, out)
        files, stages = _state(out)
        assert sorted(files) == names and stages == [], step
        assert all(t >= rerun for t in files.values()), step


def test_a_killed_owner_not_yet_reaped_is_dead(tmp_path):
    """A staging folder whose owner was killed but is still a zombie (its parent has not
    reaped it yet: the moment right after a kill -9 of a process group) is stale."""
    import psutil

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        for _ in range(200):
            if psutil.Process(child.pid).status() == psutil.STATUS_ZOMBIE:
                break
            time.sleep(0.01)
        start = int(psutil.Process(child.pid).create_time() * 100)
        host = owner_tag().split("-")[0]
        stage = tmp_path / f"{STAGE_PREFIX}{host}-{child.pid}-{start}-abc"
        stage.mkdir()
        remove_stale(tmp_path)
        assert not stage.exists()
    finally:
        child.wait()
