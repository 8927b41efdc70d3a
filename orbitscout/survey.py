"""``survey``: ``find`` over many before/after pairs on Dask distributed.

A LocalCluster of worker processes by default (``workers`` of them, one thread each), or any
running Dask scheduler given by address, so a survey that outgrows one machine runs unchanged
on a cluster (the workers must see the image paths and the output folder, and have orbitscout
installed).

Outputs, under ``out_dir``:
- ``NAME/``: one folder per pair, written by ``find`` (each file complete or absent; its
  ``summary.json`` is moved in last, so a folder with a readable summary.json is complete);
- ``survey.csv``: one line per pair (``SURVEY_COLUMNS``), appended, flushed and fsynced as each
  result arrives, so killing the survey at any moment loses nothing already finished.

Rerunning skips the pairs already ``ok`` in survey.csv and those whose folder holds a complete
summary.json of the same images (their line is written from it); failed pairs are run again
(their old line is dropped, so each pair has exactly one line); a partial last line left by a
kill is dropped.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from orbitscout.core.atomic import atomic_file, prepare_out_dir
from orbitscout.core.bodies import parse_site
from orbitscout.core.classes import CLASSES
from orbitscout.core.errors import OrbitscoutError

SURVEY_COLUMNS = ("pair", "status", *CLASSES, "detections", "seconds", "error")
SURVEY_CSV = "survey.csv"
_NAME_BAD = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass
class Pair:
    """One row of PAIRS.csv, with paths resolved against the CSV's folder."""

    name: str
    before: str
    after: str
    site: tuple[float, float] | None = None
    mission: str | None = None
    body: str | None = None


@dataclass
class SurveyResult:
    """What a survey did: one row per pair of this run (ok, error or skipped)."""

    out_dir: Path
    csv_path: Path
    rows: list[dict] = field(default_factory=list)
    skipped: int = 0

    @property
    def ok(self) -> int:
        return sum(r["status"] == "ok" for r in self.rows)

    @property
    def failed(self) -> int:
        return sum(r["status"] != "ok" for r in self.rows)


# --------------------------------------------------------------------------- PAIRS.csv


def _parse_site(text: str, path: Path, line: int) -> tuple[float, float] | None:
    text = text.strip()
    if not text:
        return None
    parts = [p for p in re.split(r"[,;\s]+", text) if p]
    try:
        return parse_site(",".join(parts))
    except OrbitscoutError as exc:
        raise OrbitscoutError(f"line {line}: {exc.problem}", path) from None


def _safe_name(text: str) -> str:
    return _NAME_BAD.sub("_", text).strip("._") or "pair"


def _default_name(after: str, folder: Path) -> str:
    """The AFTER path relative to the CSV's folder, without its extension."""
    path = Path(after)
    with contextlib.suppress(ValueError):
        path = path.relative_to(folder)
    return _safe_name(str(path.with_suffix("")).replace(os.sep, "_"))


def read_pairs(csv_path: str | Path) -> list[Pair]:
    """Read PAIRS.csv: columns ``before,after`` and optionally ``name``, ``site`` ('LAT,LON'),
    ``mission``, ``body``. Relative paths resolve against the CSV's folder; a missing name is
    derived from the AFTER file's path (made unique with the line number)."""
    csv_path = Path(csv_path)
    if not csv_path.is_file():
        raise OrbitscoutError(
            "file not found" if not csv_path.exists() else "is not a file", csv_path
        )
    folder = csv_path.resolve().parent
    try:
        text = csv_path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise OrbitscoutError(f"cannot read the pairs file ({exc})", csv_path) from exc
    reader = csv.DictReader(io.StringIO(text))
    columns = [c.strip().lower() for c in (reader.fieldnames or [])]
    missing = [c for c in ("before", "after") if c not in columns]
    if missing:
        raise OrbitscoutError(
            f"has no {' or '.join(missing)} column (a pairs file needs a header line "
            f"'before,after' and optionally name, site, mission, body)",
            csv_path,
        )
    reader.fieldnames = columns
    pairs: list[Pair] = []
    names: dict[str, int] = {}
    for row in reader:
        line = reader.line_num
        row = {k: (v or "").strip() for k, v in row.items() if k is not None}
        if not any(row.values()):
            continue
        paths = {}
        for key in ("before", "after"):
            if not row.get(key):
                raise OrbitscoutError(f"line {line}: the {key} column is empty", csv_path)
            path = Path(row[key]).expanduser()
            path = path if path.is_absolute() else folder / path
            if not path.is_file():
                raise OrbitscoutError(f"line {line}: {key} image not found: {path}", csv_path)
            paths[key] = str(path.resolve())
        body = row.get("body") or None
        if body is not None and body.lower() not in ("mars", "moon"):
            raise OrbitscoutError(f"line {line}: body must be mars or moon, got {body!r}", csv_path)
        given = row.get("name")
        name = _safe_name(given) if given else _default_name(paths["after"], folder)
        if name in names:
            if given:
                raise OrbitscoutError(
                    f"line {line}: pair name {given!r} is also on line {names[name]}", csv_path
                )
            name = f"{name}-{line}"
        names[name] = line
        pairs.append(
            Pair(
                name=name,
                before=paths["before"],
                after=paths["after"],
                site=_parse_site(row.get("site", ""), csv_path, line),
                mission=row.get("mission") or None,
                body=body.lower() if body else None,
            )
        )
    if not pairs:
        raise OrbitscoutError("lists no pairs", csv_path)
    return pairs


# --------------------------------------------------------------------------- one pair


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    text = text[0] if text else ""
    text = f"{type(exc).__name__}: {text}" if not isinstance(exc, OrbitscoutError) else text
    return text[:500]


def _row(
    name: str,
    status: str,
    counts: dict | None,
    detections: int | None,
    seconds: float | None,
    error: str = "",
) -> dict:
    counts = counts or {}
    row = {"pair": name, "status": status}
    row.update({c: int(counts.get(c, 0)) if status == "ok" else "" for c in CLASSES})
    row["detections"] = int(detections) if detections is not None else ""
    row["seconds"] = round(seconds, 2) if seconds is not None else ""
    row["error"] = error
    return row


def run_pair(pair: dict, out_dir: str, options: dict) -> dict:
    """Run ``find`` on one pair (on a worker) and return its survey.csv row; never raises for
    a problem with the pair: the error goes into the row."""
    from orbitscout.pipeline import find

    clock = time.perf_counter()
    try:
        result = find(
            pair["before"],
            pair["after"],
            Path(out_dir) / pair["name"],
            body=pair.get("body"),
            site=tuple(pair["site"]) if pair.get("site") else None,
            mission=pair.get("mission"),
            **options,
        )
    except Exception as exc:  # a bad pair is recorded and the survey goes on
        return _row(pair["name"], "error", None, None, time.perf_counter() - clock, _one_line(exc))
    return _row(
        pair["name"], "ok", result.counts, len(result.detections), time.perf_counter() - clock
    )


def finished_summary(folder: Path, pair: Pair) -> dict | None:
    """The summary.json of a completed ``find`` of these images in ``folder``, else None."""
    try:
        summary = json.loads((folder / "summary.json").read_text())
        same = (
            Path(summary["after"]["path"]).resolve() == Path(pair.after).resolve()
            and Path(summary["before"]["path"]).resolve() == Path(pair.before).resolve()
        )
        if same and isinstance(summary["counts"], dict) and "detections" in summary:
            return summary
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return None


# --------------------------------------------------------------------------- survey.csv


def read_survey(csv_path: Path) -> list[dict]:
    """Whole lines of survey.csv (a partial last line, left by a kill, is dropped)."""
    try:
        text = csv_path.read_bytes().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return []
    if not text.endswith("\n"):
        text = text[: text.rfind("\n") + 1]
    rows = list(csv.DictReader(io.StringIO(text)))
    return [r for r in rows if r.get("pair") and r.get("status") is not None]


def _write_survey(csv_path: Path, rows: list[dict]) -> None:
    with atomic_file(csv_path) as tmp:
        with open(tmp, "w", newline="") as fh:
            writer = csv.DictWriter(fh, SURVEY_COLUMNS, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(rows)
            fh.flush()
            os.fsync(fh.fileno())


class _Appender:
    """Append whole lines to survey.csv, each flushed and fsynced before the next result."""

    def __init__(self, path: Path):
        self.fh = open(path, "a", newline="")  # noqa: SIM115 (closed in close())
        self.writer = csv.DictWriter(self.fh, SURVEY_COLUMNS, extrasaction="ignore")

    def write(self, row: dict) -> None:
        self.writer.writerow(row)
        self.fh.flush()
        os.fsync(self.fh.fileno())

    def close(self) -> None:
        self.fh.close()


# --------------------------------------------------------------------------- the survey


@contextlib.contextmanager
def dask_client(scheduler: str | None, workers: int | None) -> Iterator[object]:
    """A Dask client on ``scheduler`` (an address), or on a new LocalCluster of ``workers``
    single-threaded worker processes."""
    from distributed import Client, LocalCluster

    if scheduler:
        if workers is not None:
            raise OrbitscoutError(
                "--workers sets the size of a local cluster; the cluster at "
                "--scheduler has its own workers",
                scheduler,
            )
        try:
            client = Client(scheduler)  # timeout: distributed.comm.timeouts.connect (30 s)
        except (OSError, TimeoutError, ValueError) as exc:
            raise OrbitscoutError(
                f"cannot reach the Dask scheduler ({_one_line(exc)})", scheduler
            ) from exc
        try:
            yield client
        finally:
            client.close()
        return
    n = workers if workers is not None else max(1, os.cpu_count() or 1)
    if n < 1:
        raise OrbitscoutError(f"--workers must be at least 1, got {n}")
    # find's tile loop runs threads too: share the cores between the worker processes
    threads = max(1, (os.cpu_count() or 1) // n)
    cluster = LocalCluster(
        n_workers=n,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        env={"ORBITSCOUT_THREADS": os.environ.get("ORBITSCOUT_THREADS", str(threads))},
    )
    try:
        client = Client(cluster)
        try:
            yield client
        finally:
            client.close()
    finally:
        cluster.close()


def survey(
    pairs_csv: str | Path,
    out_dir: str | Path,
    *,
    scheduler: str | None = None,
    workers: int | None = None,
    tile: int | None = 2048,
    min_score: float = 0.0,
    progress: bool = False,
    on_result: Callable[[dict], None] | None = None,
) -> SurveyResult:
    """Run ``find`` on every pair of PAIRS.csv that is not done yet; see the module docstring."""
    pairs = read_pairs(pairs_csv)
    out_dir = prepare_out_dir(out_dir).resolve()
    csv_path = out_dir / SURVEY_CSV
    by_name = {p.name: p for p in pairs}
    previous = read_survey(csv_path)
    done = {r["pair"] for r in previous if r["status"] == "ok" and r["pair"] in by_name}
    # keep ok lines and lines of pairs this CSV does not list; pairs to redo lose their line
    kept = [r for r in previous if r["pair"] in done or r["pair"] not in by_name]
    kept = list({r["pair"]: r for r in kept}.values())  # one line per pair
    result = SurveyResult(out_dir, csv_path)
    todo: list[Pair] = []
    recovered: list[dict] = []
    for pair in pairs:
        if pair.name in done:
            result.skipped += 1
            continue
        summary = finished_summary(out_dir / pair.name, pair)
        if summary is not None:  # finished, but killed before its line was written
            seconds = sum(
                v for v in summary.get("timings", {}).values() if isinstance(v, int | float)
            )
            recovered.append(
                _row(pair.name, "ok", summary["counts"], summary["detections"], seconds)
            )
            result.skipped += 1
        else:
            todo.append(pair)
    _write_survey(csv_path, kept + recovered)
    if not todo:
        return result
    options = {"tile": tile, "min_score": min_score}
    appender = _Appender(csv_path)
    try:
        with dask_client(scheduler, workers) as client, _progress(progress, len(todo)) as advance:
            from distributed import as_completed

            futures = {
                client.submit(
                    run_pair,
                    asdict(p),
                    str(out_dir),
                    options,
                    pure=False,
                    key=f"orbitscout-pair-{p.name}-{time.time_ns()}",
                ): p
                for p in todo
            }
            for future in as_completed(futures):
                pair = futures[future]
                try:
                    row = future.result()
                except Exception as exc:  # the worker died (memory, crash): record, go on
                    row = _row(pair.name, "error", None, None, None, _one_line(exc))
                appender.write(row)
                result.rows.append(row)
                future.release()
                if on_result:
                    on_result(row)
                if advance:
                    advance(row)
    finally:
        appender.close()
    return result


@contextlib.contextmanager
def _progress(enabled: bool, total: int) -> Iterator[Callable[[dict], None] | None]:
    if not enabled:
        yield None
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    failed = 0
    columns = (
        TextColumn("survey"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("pairs"),
        TextColumn("{task.fields[failed]} failed"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, transient=False) as bar:
        task = bar.add_task("survey", total=total, failed=0)

        def advance(row: dict) -> None:
            nonlocal failed
            failed += row["status"] != "ok"
            bar.update(task, advance=1, failed=failed)

        yield advance
