"""``survey``: ``find`` over many before/after pairs on Dask distributed.

A local cluster of worker processes by default (``workers`` of them, one thread each), or any
running Dask scheduler given by address, so a survey that outgrows one machine runs unchanged
on a cluster (the workers must see the image paths and the output folder, and have orbitscout
installed).

The local cluster is reachable by its own process only: every connection (scheduler, nannies,
workers, the client) is TLS on 127.0.0.1 with a certificate made for the run and held in memory
(``distributed.security.Security.temporary``); a client without it cannot connect. It starts no
HTTP server (Dask starts one on the scheduler, port 8787, and one on every worker, even with no
dashboard asked for: ``QuietScheduler`` and ``QuietWorker`` start none) unless ``dashboard`` asks
for the scheduler's, on 127.0.0.1 (HTTP, no authentication: read by anyone on the machine).
A scheduler given by address is reached with its own certificates for ``tls://`` (``security``:
a YAML file in Dask's config format, ``distributed.comm.tls.*`` keys); a plain ``tcp://`` one off
the loopback gets a one-line warning.

Outputs, under ``out_dir``:
- ``NAME/``: one folder per pair, written by ``find`` (published as one set), and
  ``NAME/.survey.json``, written atomically once ``find`` has returned: the fingerprints of both
  images (``fingerprint``: size, modification time, a hash of the first and last MiB), the
  options, orbitscout's version, the pair's survey.csv row, and the size and modification time
  of every output with the hash of ``summary.json``;
- ``survey.csv``: one line per pair (``SURVEY_COLUMNS``), appended, flushed and fsynced as each
  result arrives, so killing the survey at any moment loses nothing already finished.
Paths written there are relative to PAIRS.csv's folder (images) or to ``out_dir``.

Rerunning trusts a pair only when its ``.survey.json`` is whole and matches the images, options
and version of this run and its outputs are those the record names (``check_record``); every
other pair is run again, its old line dropped, and ``SurveyResult.redo_reasons`` counts why.
A partial last line left by a kill is dropped; staging folders of killed runs are removed.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import ipaddress
import json
import math
import os
import re
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from orbitscout.core.atomic import atomic_file, prepare_out_dir, remove_stale, write_file_atomic
from orbitscout.core.bodies import parse_site
from orbitscout.core.classes import CLASSES
from orbitscout.core.errors import OrbitscoutError
from orbitscout.core.version import __version__

SURVEY_COLUMNS = ("pair", "status", *CLASSES, "detections", "seconds", "error")
SURVEY_CSV = "survey.csv"
RECORD = ".survey.json"
RECORD_FORMAT = 1
# names a pair's folder cannot take: the survey's own files in out_dir (compared lowercased:
# case-insensitive file systems)
RESERVED_NAMES = frozenset({SURVEY_CSV, "index.html"})  # index.html: report.index's
HASH_SPAN = 1 << 20  # fingerprint: the first and the last MiB of the file
MIN_TILE = 256  # as orbitscout.pipeline.MIN_TILE (not imported: it loads GDAL)
REDO_REASONS = (
    "images changed",
    "options changed",
    "version changed",
    "outputs incomplete",
    "no record",
    "failed before",
)
_NAME_BAD = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass
class Pair:
    """One row of PAIRS.csv, with paths resolved against the CSV's folder.

    ``before_rel`` and ``after_rel`` are the same paths relative to that folder, as written
    into the survey's outputs; ``band`` is (BEFORE band, AFTER band), 1-based;
    ``sun_before`` and ``sun_after`` are (azimuth, incidence) in degrees (``find``'s
    ``--sun-before``); ``dtm`` is the heights' file (``--dtm``), ``dtm_rel`` as written.
    """

    name: str
    before: str
    after: str
    site: tuple[float, float] | None = None
    mission: str | None = None
    body: str | None = None
    band: tuple[int, int] | None = None
    before_rel: str = ""
    after_rel: str = ""
    sun_before: tuple[float, float] | None = None
    sun_after: tuple[float, float] | None = None
    dtm: str | None = None
    dtm_rel: str | None = None


@dataclass
class SurveyResult:
    """What a survey did: one row per pair of this run (ok or error), the pairs skipped as
    done, and why the pairs that had results before were run again."""

    out_dir: Path
    csv_path: Path
    rows: list[dict] = field(default_factory=list)
    skipped: int = 0
    redo_reasons: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> int:
        """Pairs of this run that finished."""
        return sum(r["status"] == "ok" for r in self.rows)

    @property
    def failed(self) -> int:
        """Pairs of this run that failed."""
        return sum(r["status"] != "ok" for r in self.rows)

    @property
    def redone(self) -> int:
        """Pairs that had a result before and were run again (``redo_reasons`` says why)."""
        return sum(self.redo_reasons.values())


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


def _parse_band(text: str, path: Path, line: int) -> tuple[int, int] | None:
    parts = [p for p in re.split(r"[,;\s]+", text.strip()) if p]
    if not parts:
        return None
    bands = []
    for part in parts:
        try:
            bands.append(int(part))
        except ValueError:
            bands.append(0)
    if len(parts) > 2 or min(bands) < 1:
        raise OrbitscoutError(
            f"line {line}: band must be B or B1,B2 (1-based band numbers, B1 for BEFORE and "
            f"B2 for AFTER), got {text.strip()!r}",
            path,
        )
    return (bands[0], bands[-1])


def _parse_sun(text: str, path: Path, line: int, column: str) -> tuple[float, float] | None:
    """A ``sun_before``/``sun_after`` cell ('AZ,INC', quoted in the CSV) as (azimuth,
    incidence), checked as ``find --sun-before`` checks it."""
    parts = [p for p in re.split(r"[,;\s]+", text.strip()) if p]
    if not parts:
        return None
    from orbitscout.pipeline import parse_sun

    try:
        sun = parse_sun(",".join(parts))
    except ValueError as exc:
        raise OrbitscoutError(f"line {line}: {column}: {exc}", path) from None
    return (sun.azimuth_deg, sun.incidence_deg)


def _safe_name(text: str) -> str:
    return _NAME_BAD.sub("_", text).strip("._") or "pair"


def _default_name(after: str, folder: Path) -> str:
    """The AFTER path relative to the CSV's folder, without its extension."""
    path = Path(after)
    with contextlib.suppress(ValueError):
        path = path.relative_to(folder)
    return _safe_name(str(path.with_suffix("")).replace(os.sep, "_"))


def read_pairs(csv_path: str | Path) -> list[Pair]:
    """Read PAIRS.csv.

    Columns ``before,after`` and optionally ``name``, ``site`` ('LAT,LON'), ``mission``,
    ``body``, ``band`` ('B' for both images or 'B1,B2'), ``sun_before`` and ``sun_after``
    ('AZ,INC' degrees, as ``find --sun-before``) and ``dtm`` (a heights file, as
    ``find --dtm``). Relative paths resolve against the
    CSV's folder; a missing name is derived from the AFTER file's path (made unique with the
    line number). A name that is one of the survey's own files (``survey.csv``) is refused.

    Parameters
    ----------
    csv_path : str or pathlib.Path
        The pairs file.

    Returns
    -------
    list of Pair
        The pairs, in the file's order.
    """
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
            f"'before,after' and optionally name, site, mission, body, band, sun_before, "
            f"sun_after, dtm)",
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
                shown = os.path.relpath(path, folder) if not Path(row[key]).is_absolute() else path
                raise OrbitscoutError(f"line {line}: {key} image not found: {shown}", csv_path)
            paths[key] = str(path.resolve())
        body = row.get("body") or None
        if body is not None and body.lower() not in ("mars", "moon"):
            raise OrbitscoutError(f"line {line}: body must be mars or moon, got {body!r}", csv_path)
        given = row.get("name")
        name = _safe_name(given) if given else _default_name(paths["after"], folder)
        if name.lower() in RESERVED_NAMES:
            raise OrbitscoutError(
                f"line {line}: pair name {given or name!r} is the survey's own file in the "
                f"output folder; choose another name",
                csv_path,
            )
        if name.lower() in names:
            if given:
                raise OrbitscoutError(
                    f"line {line}: pair name {given!r} is also on line {names[name.lower()]}",
                    csv_path,
                )
            name = f"{name}-{line}"
        names[name.lower()] = line
        band = _parse_band(row.get("band", ""), csv_path, line)
        dtm = None
        if row.get("dtm"):
            dtm = Path(row["dtm"]).expanduser()
            dtm = dtm if dtm.is_absolute() else folder / dtm
            if not dtm.is_file():
                raise OrbitscoutError(f"line {line}: dtm not found: {row['dtm']}", csv_path)
            dtm = str(dtm.resolve())
        pairs.append(
            Pair(
                name=name,
                before=paths["before"],
                after=paths["after"],
                site=_parse_site(row.get("site", ""), csv_path, line),
                mission=row.get("mission") or None,
                body=body.lower() if body else None,
                band=band,
                before_rel=os.path.relpath(paths["before"], folder),
                after_rel=os.path.relpath(paths["after"], folder),
                sun_before=_parse_sun(row.get("sun_before", ""), csv_path, line, "sun_before"),
                sun_after=_parse_sun(row.get("sun_after", ""), csv_path, line, "sun_after"),
                dtm=dtm,
                dtm_rel=None if dtm is None else os.path.relpath(dtm, folder),
            )
        )
    if not pairs:
        raise OrbitscoutError("lists no pairs", csv_path)
    return pairs


# --------------------------------------------------------------------------- fingerprints


def fingerprint(path: str | Path) -> dict:
    """What identifies an image for resuming: its size, modification time and a hash of its
    first and last MiB.

    Parameters
    ----------
    path : str or pathlib.Path
        The image file (for a product with a detached label, the file PAIRS.csv names).

    Returns
    -------
    dict
        ``size`` (bytes), ``mtime_ns`` and ``sha256_ends`` (hex SHA-256 of the first and the
        last ``HASH_SPAN`` bytes, the whole file when it is smaller).
    """
    with open(path, "rb") as fh:
        stat = os.fstat(fh.fileno())
        digest = hashlib.sha256(fh.read(HASH_SPAN))
        if stat.st_size > HASH_SPAN:
            fh.seek(max(HASH_SPAN, stat.st_size - HASH_SPAN))
            digest.update(fh.read(HASH_SPAN))
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256_ends": digest.hexdigest()}


def _same_image(recorded: Any, path: str) -> bool:
    if not isinstance(recorded, dict):
        return False
    try:
        stat = os.stat(path)
    except OSError:
        return False
    if (stat.st_size, stat.st_mtime_ns) != (recorded.get("size"), recorded.get("mtime_ns")):
        return False  # no need to read it
    try:
        return fingerprint(path)["sha256_ends"] == recorded.get("sha256_ends")
    except OSError:
        return False


def _options(pair: Pair | dict, options: dict) -> dict:
    """What decides a pair's results besides its images, as JSON would give it back."""
    pair = pair if isinstance(pair, dict) else asdict(pair)
    keyed = {
        **{k: options.get(k) for k in sorted(options)},
        "body": pair.get("body"),
        "site": pair.get("site"),
        "mission": pair.get("mission"),
        "band": pair.get("band"),
        "sun_before": pair.get("sun_before"),
        "sun_after": pair.get("sun_after"),
    }
    if pair.get("dtm"):  # the heights decide the results as the images do
        keyed["dtm"] = {"path": pair.get("dtm_rel"), **fingerprint(pair["dtm"])}
    return json.loads(json.dumps(keyed))


def _outputs(folder: Path) -> dict:
    """Size and modification time of each output in a pair's folder (hidden files aside)."""
    found = {}
    for entry in sorted(os.scandir(folder), key=lambda e: e.name):
        if entry.name.startswith("."):
            continue
        stat = entry.stat(follow_symlinks=False)
        kind = "dir" if entry.is_dir(follow_symlinks=False) else "file"
        found[entry.name] = {"kind": kind, "size": stat.st_size if kind == "file" else None}
        found[entry.name]["mtime_ns"] = stat.st_mtime_ns if kind == "file" else None
    return found


def _write_record(folder: Path, pair: dict, options: dict, images: dict, row: dict) -> None:
    summary = (folder / "summary.json").read_bytes()
    record = {
        "format": RECORD_FORMAT,
        "pair": pair["name"],
        "version": __version__,
        "before": images["before"],
        "after": images["after"],
        "options": _options(pair, options),
        "row": row,
        "outputs": _outputs(folder),
        "summary_sha256": hashlib.sha256(summary).hexdigest(),
    }
    write_file_atomic(folder / RECORD, (json.dumps(record, indent=1) + "\n").encode())


def check_record(folder: str | Path, pair: Pair, options: dict) -> tuple[dict | None, str | None]:
    """Whether a pair's folder holds a whole result of these images, options and version.

    Parameters
    ----------
    folder : str or pathlib.Path
        The pair's output folder.
    pair : Pair
        The pair as PAIRS.csv gives it now.
    options : dict
        The survey's options for ``find`` (``tile``, ``min_score``).

    Returns
    -------
    row : dict or None
        The pair's survey.csv row when the result can be trusted, else None.
    reason : str or None
        Why it cannot (one of ``REDO_REASONS``), or None when the folder holds no result.
    """
    folder = Path(folder)
    try:
        record = json.loads((folder / RECORD).read_text())
    except FileNotFoundError:
        return None, "no record" if (folder / "summary.json").exists() else None
    except (OSError, ValueError):
        return None, "outputs incomplete"
    try:
        if record["format"] != RECORD_FORMAT or record["pair"] != pair.name:
            return None, "no record"
        if not (
            _same_image(record["before"], pair.before) and _same_image(record["after"], pair.after)
        ):
            return None, "images changed"
        if record["options"] != _options(pair, options):
            return None, "options changed"
        if record["version"] != __version__:
            return None, "version changed"
        current = _outputs(folder)
        if any(current.get(name) != meta for name, meta in record["outputs"].items()):
            return None, "outputs incomplete"
        summary = (folder / "summary.json").read_bytes()
        if hashlib.sha256(summary).hexdigest() != record["summary_sha256"]:
            return None, "outputs incomplete"
        parsed = json.loads(summary)
        row = record["row"]
        if not isinstance(parsed.get("counts"), dict) or row.get("status") != "ok":
            return None, "outputs incomplete"
        return {c: row.get(c, "") for c in SURVEY_COLUMNS}, None
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None, "outputs incomplete"


# --------------------------------------------------------------------------- one pair


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    text = text[0] if text else ""
    text = f"{type(exc).__name__}: {text}" if not isinstance(exc, OrbitscoutError) else text
    return text[:500]


def _relative(text: str, shown: dict[str, str]) -> str:
    """``text`` with the absolute paths in ``shown`` replaced by their relative forms."""
    for absolute in sorted(shown, key=len, reverse=True):
        if absolute:
            text = text.replace(absolute, shown[absolute])
    return text


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


def run_pair(pair: dict, out_dir: str, options: dict, max_memory: int | None = None) -> dict:
    """Run ``find`` on one pair (on a worker), write its ``.survey.json`` and return its
    survey.csv row; never raises for a problem with the pair: the error goes into the row.

    Parameters
    ----------
    pair : dict
        A ``Pair`` as ``dataclasses.asdict`` gives it.
    out_dir : str
        The survey's output folder; the pair's outputs go into ``out_dir/NAME``.
    options : dict
        Keyword arguments for ``find`` (``tile``, ``min_score``), recorded with the results.
    max_memory : int, optional
        ``find``'s memory budget in bytes (not recorded: it decides whether a pair runs, not
        what it finds).

    Returns
    -------
    dict
        The pair's row, ``SURVEY_COLUMNS`` keys.
    """
    from orbitscout.core.illumination import Sun
    from orbitscout.pipeline import find

    folder = Path(out_dir) / pair["name"]
    shown = {
        pair["before"]: pair.get("before_rel") or pair["before"],
        pair["after"]: pair.get("after_rel") or pair["after"],
        **({pair["dtm"]: pair.get("dtm_rel") or pair["dtm"]} if pair.get("dtm") else {}),
        str(folder): pair["name"],
        str(out_dir) + os.sep: "",
    }
    clock = time.perf_counter()
    band = pair.get("band")
    try:
        images = {
            role: {"path": pair.get(f"{role}_rel") or pair[role], **fingerprint(pair[role])}
            for role in ("before", "after")
        }
        result = find(
            pair["before"],
            pair["after"],
            folder,
            body=pair.get("body"),
            site=tuple(pair["site"]) if pair.get("site") else None,
            mission=pair.get("mission"),
            band=(band[0], band[1]) if band else None,  # (BEFORE's, AFTER's)
            max_memory=max_memory,
            names=(images["before"]["path"], images["after"]["path"]),
            sun_before=Sun(*pair["sun_before"]) if pair.get("sun_before") else None,
            sun_after=Sun(*pair["sun_after"]) if pair.get("sun_after") else None,
            dtm=pair.get("dtm"),
            **options,
        )
    except Exception as exc:  # a bad pair is recorded and the survey goes on
        message = _relative(_one_line(exc), shown)
        return _row(pair["name"], "error", None, None, time.perf_counter() - clock, message)
    row = _row(
        pair["name"], "ok", result.counts, len(result.detections), time.perf_counter() - clock
    )
    try:
        _write_record(folder, pair, options, images, row)
    except OSError as exc:
        message = _relative(f"cannot write {RECORD} ({exc.strerror or exc})", shown)
        return _row(pair["name"], "error", None, None, time.perf_counter() - clock, message)
    return row


# --------------------------------------------------------------------------- survey.csv


def read_survey(csv_path: Path) -> list[dict]:
    """Whole lines of survey.csv (a partial last line, left by a kill, is dropped).

    Parameters
    ----------
    csv_path : pathlib.Path
        The survey.csv file (absent: no lines).

    Returns
    -------
    list of dict
        One dict per line, ``SURVEY_COLUMNS`` keys.
    """
    try:
        text = Path(csv_path).read_bytes().decode("utf-8", errors="replace")
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


# --------------------------------------------------------------------------- the cluster

_NO_HTTP: dict[str, type] | None = None


def _no_http_classes() -> dict[str, type]:
    """``QuietScheduler`` and ``QuietWorker``: Dask's Scheduler and Worker with no HTTP server
    unless a dashboard address is given (made on first use, so that importing this module
    does not import distributed; a worker process unpickles them from here by name)."""
    global _NO_HTTP
    if _NO_HTTP is None:
        from distributed import Scheduler, Worker
        from distributed.http.routing import RoutingApplication

        class _NoHTTP:
            def start_http_server(self, routes, dashboard_address, *args, **kwargs):
                # Dask's Node.start_http_server listens on dashboard_address or default_port
                # (the scheduler's 8787) whatever the dashboard settings: with no address,
                # keep the routes (as close() expects) and open no socket
                if dashboard_address is None:
                    self.http_application = RoutingApplication(routes)
                    return None
                return super().start_http_server(routes, dashboard_address, *args, **kwargs)

        class QuietScheduler(_NoHTTP, Scheduler):
            """A Dask Scheduler that starts no HTTP server unless given a dashboard address."""

        class QuietWorker(_NoHTTP, Worker):
            """A Dask Worker that starts no HTTP server unless given a dashboard address."""

        for cls in (_NoHTTP, QuietScheduler, QuietWorker):
            cls.__module__ = __name__
            cls.__qualname__ = cls.__name__
        _NO_HTTP = {
            "_NoHTTP": _NoHTTP,
            "QuietScheduler": QuietScheduler,
            "QuietWorker": QuietWorker,
        }
    return _NO_HTTP


def __getattr__(name: str) -> type:
    if name in ("_NoHTTP", "QuietScheduler", "QuietWorker"):
        return _no_http_classes()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _address_parts(address: str) -> tuple[str, str]:
    """(scheme, host) of a Dask address; no scheme means tcp."""
    scheme, sep, rest = address.strip().partition("://")
    if not sep:
        scheme, rest = "tcp", address.strip()
    rest = rest.split("/")[0]
    if rest.startswith("["):  # [IPv6]:port
        host = rest[1 : rest.find("]")]
    elif rest.count(":") == 1:
        host = rest.split(":")[0]
    else:  # no port, or a bare IPv6 address
        host = rest
    return scheme.lower(), host


def _on_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def load_security(path: str | Path) -> Any:
    """A ``distributed.security.Security`` from a YAML file in Dask's config format.

    Parameters
    ----------
    path : str or pathlib.Path
        The file, with ``distributed.comm.tls.*`` keys (``ca-file``, ``client.cert``,
        ``client.key``; see Dask's TLS configuration).

    Returns
    -------
    distributed.security.Security
        Built from Dask's configuration with the file's settings over it.
    """
    import dask.config
    import yaml
    from distributed.security import Security

    path = Path(path)
    if not path.is_file():
        raise OrbitscoutError("file not found" if not path.exists() else "is not a file", path)
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        problem = _one_line(exc).replace("\n", " ")
        raise OrbitscoutError(f"cannot read the Dask security file ({problem})", path) from exc
    merged = dask.config.merge(dask.config.config, data) if isinstance(data, dict) else {}
    tls = dask.config.get("distributed.comm.tls", default=None, config=merged)
    files = {}
    if isinstance(tls, dict):
        for key in ("ca-file", "client.cert", "client.key"):
            value = dask.config.get(key, default=None, config=tls)
            if value:
                files[key] = value
    if "ca-file" not in files or "client.cert" not in files:
        raise OrbitscoutError(
            "names no TLS certificates: a Dask security file sets distributed.comm.tls.ca-file, "
            "distributed.comm.tls.client.cert and (unless the cert holds it) .client.key",
            path,
        )
    for key, value in files.items():
        if not Path(value).expanduser().is_file():
            raise OrbitscoutError(f"distributed.comm.tls.{key}: file not found: {value}", path)
    with dask.config.set(merged):
        security = Security(require_encryption=True)
    return security


def scheduler_security(
    scheduler: str | None,
    security: str | Path | None = None,
    dashboard: bool = False,
    workers: int | None = None,
) -> Any:
    """Check the cluster options together and return the Security to reach ``scheduler``.

    Parameters
    ----------
    scheduler : str or None
        The address of a running scheduler, or None for a local cluster.
    security : str or pathlib.Path, optional
        A Dask security file for a ``tls://`` scheduler (``load_security``).
    dashboard : bool
        Whether the local cluster's dashboard is asked for.
    workers : int, optional
        The local cluster's worker processes.

    Returns
    -------
    distributed.security.Security or None
        What to connect with (None: a plain connection, or the local cluster makes its own).
    """
    if not scheduler:
        if security is not None:
            raise OrbitscoutError(
                "--security holds the certificates of the cluster at --scheduler; the local "
                "cluster makes its own",
                security,
            )
        if workers is not None and workers < 1:
            raise OrbitscoutError(f"--workers must be at least 1, got {workers}")
        return None
    if workers is not None:
        raise OrbitscoutError(
            "--workers sets the size of a local cluster; the cluster at "
            "--scheduler has its own workers",
            scheduler,
        )
    if dashboard:
        raise OrbitscoutError(
            "--dashboard starts the local cluster's dashboard; the cluster at --scheduler "
            "serves its own",
            scheduler,
        )
    scheme, _ = _address_parts(scheduler)
    if scheme == "tls":
        if security is not None:
            return load_security(security)
        from distributed.security import Security

        found = Security()  # the user's Dask configuration
        if not (found.tls_ca_file and found.tls_client_cert):
            raise OrbitscoutError(
                "a tls:// scheduler needs the client's certificates: give --security FILE "
                "(Dask's config format: distributed.comm.tls.ca-file, .client.cert, .client.key)",
                scheduler,
            )
        return found
    if security is not None:
        raise OrbitscoutError(
            f"--security is for a tls:// scheduler; this address is {scheme}://", scheduler
        )
    return None


def local_workers(workers: int | None) -> int:
    """Worker processes of a local cluster: ``workers``, else one per core."""
    return workers if workers is not None else max(1, os.cpu_count() or 1)


@contextlib.contextmanager
def dask_client(
    scheduler: str | None = None,
    workers: int | None = None,
    *,
    security: Any = None,
    dashboard: bool = False,
    on_message: Callable[[str], None] | None = None,
) -> Iterator[Any]:
    """A Dask client on ``scheduler`` (an address), or on a new local cluster of ``workers``
    single-threaded worker processes that only this process can reach (TLS with a certificate
    made for the run, no HTTP server unless ``dashboard``).

    Parameters
    ----------
    scheduler : str, optional
        Address of a running Dask scheduler (``tls://`` with ``security``; a plain ``tcp://``
        one off the loopback gets a warning).
    workers : int, optional
        Worker processes of the local cluster (default: one per core).
    security : str, pathlib.Path or distributed.security.Security, optional
        The certificates for a ``tls://`` scheduler (a Dask security file, or a Security).
    dashboard : bool
        Serve the local scheduler's dashboard on 127.0.0.1 (port 8787, or a free one).
    on_message : callable, optional
        Called with each one-line warning or notice (default: printed to stderr).

    Yields
    ------
    distributed.Client
        The connected client; closed, with the local cluster, on exit.
    """
    from distributed import Client

    say = on_message or (lambda line: print(line, file=sys.stderr, flush=True))
    if scheduler:
        if not hasattr(security, "get_connection_args"):
            security = scheduler_security(scheduler, security, dashboard, workers)
        scheme, host = _address_parts(scheduler)
        if scheme == "tcp" and not _on_loopback(host):
            say(
                f"orbitscout: warning: {scheduler}: a plain tcp:// scheduler off this machine: "
                f"anyone who can reach it can run code on its workers (use tls:// and --security)"
            )
        try:
            # timeout: distributed.comm.timeouts.connect (30 s)
            client = Client(scheduler, security=security)
        except (OSError, TimeoutError, ValueError, TypeError) as exc:
            raise OrbitscoutError(
                f"cannot reach the Dask scheduler ({_one_line(exc)})", scheduler
            ) from exc
        try:
            yield client
        finally:
            client.close()
        return
    scheduler_security(None, None, dashboard, workers)
    cluster, security = _local_cluster(workers, dashboard)
    try:
        client = Client(cluster, security=security)
        if dashboard and cluster.dashboard_link:
            say(f"orbitscout: dashboard: {cluster.dashboard_link}")
        try:
            yield client
        finally:
            client.close()
    finally:
        cluster.close()


def _local_cluster(workers: int | None, dashboard: bool) -> tuple[Any, Any]:
    """A SpecCluster like Dask's LocalCluster(processes=True), but TLS with a temporary
    certificate and no HTTP server except the dashboard, when asked for."""
    import logging

    from distributed import Nanny, SpecCluster
    from distributed.security import Security
    from distributed.worker_memory import parse_memory_limit

    classes = _no_http_classes()
    n = local_workers(workers)
    try:
        security = Security.temporary()
    except ImportError as exc:
        raise OrbitscoutError(
            "the local cluster's TLS certificate needs the cryptography package "
            "(pip install cryptography)"
        ) from exc
    common = {"host": "127.0.0.1", "protocol": "tls://", "security": security}
    scheduler = {
        "cls": classes["QuietScheduler"],
        "options": {
            **common,
            "port": 0,
            "dashboard": dashboard,
            "dashboard_address": "127.0.0.1:8787" if dashboard else None,
        },
    }
    # find's tile loop runs threads too: share the cores between the worker processes
    threads = max(1, (os.cpu_count() or 1) // n)
    worker = {
        "cls": Nanny,
        "options": {
            **common,
            "worker_class": classes["QuietWorker"],
            "nthreads": 1,
            "dashboard": False,
            "dashboard_address": None,
            "memory_limit": parse_memory_limit("auto", 1, n, logger=logging.getLogger(__name__)),
            "silence_logs": logging.WARN,
            "env": {"ORBITSCOUT_THREADS": os.environ.get("ORBITSCOUT_THREADS", str(threads))},
        },
    }
    cluster = SpecCluster(
        scheduler=scheduler,
        workers={i: worker for i in range(n)},
        worker=worker,
        security=security,
        silence_logs=logging.WARN,
    )
    return cluster, security


# --------------------------------------------------------------------------- the survey

#: Test hook: called with the connected client once the cluster is up.
_ON_CLIENT: Callable[[Any], None] | None = None


def _check_find_options(tile: int | None, min_score: float) -> None:
    if tile is not None and tile < MIN_TILE:
        raise OrbitscoutError(f"--tile must be at least {MIN_TILE} pixels, got {tile}")
    if not (math.isfinite(min_score) and 0.0 <= min_score <= 1.0):
        raise OrbitscoutError(f"--min-score must be between 0 and 1, got {min_score}")


def survey(
    pairs_csv: str | Path,
    out_dir: str | Path,
    *,
    scheduler: str | None = None,
    workers: int | None = None,
    security: str | Path | None = None,
    dashboard: bool = False,
    tile: int | None = 2048,
    min_score: float = 0.0,
    max_memory: int | None = None,
    progress: bool = False,
    on_result: Callable[[dict], None] | None = None,
    on_message: Callable[[str], None] | None = None,
) -> SurveyResult:
    """Run ``find`` on every pair of PAIRS.csv that is not done yet; see the module docstring.

    Every option and the pairs file are checked before anything is created.

    Parameters
    ----------
    pairs_csv : str or pathlib.Path
        The pairs file (``read_pairs``).
    out_dir : str or pathlib.Path
        The output folder: ``survey.csv`` and one folder per pair.
    scheduler : str, optional
        Address of a running Dask scheduler (default: a local cluster).
    workers : int, optional
        Worker processes of the local cluster (default: one per core).
    security : str or pathlib.Path, optional
        Dask security file for a ``tls://`` scheduler.
    dashboard : bool
        Serve the local cluster's dashboard (HTTP on 127.0.0.1).
    tile : int or None
        ``find``'s tile side in pixels.
    min_score : float
        ``find``'s lowest score kept (0-1).
    max_memory : int, optional
        Memory budget of each pair's ``find`` in bytes. Default: on a local cluster, half the
        machine's memory shared between its workers; on a scheduler, ``find``'s own default on
        each worker's machine.
    progress : bool
        Show a progress bar.
    on_result : callable, optional
        Called with each pair's row as it arrives.
    on_message : callable, optional
        Called with each one-line warning or notice (default: printed to stderr).

    Returns
    -------
    SurveyResult
        The rows of this run, the pairs skipped as done and why others were redone.
    """
    _check_find_options(tile, min_score)
    connect_with = scheduler_security(scheduler, security, dashboard, workers)
    pairs = read_pairs(pairs_csv)
    out_dir = prepare_out_dir(out_dir).resolve()
    remove_stale(out_dir)
    csv_path = out_dir / SURVEY_CSV
    by_name = {p.name: p for p in pairs}
    previous = read_survey(csv_path)
    before_status = {r["pair"]: r["status"] for r in previous}
    options = {"tile": tile, "min_score": min_score}
    # pairs this CSV does not list keep their lines; listed ones keep theirs only if trusted
    kept = {r["pair"]: r for r in previous if r["pair"] not in by_name}
    result = SurveyResult(out_dir, csv_path)
    reasons: Counter[str] = Counter()
    todo: list[Pair] = []
    for pair in pairs:
        folder = out_dir / pair.name
        if folder.is_dir():
            remove_stale(folder)
        row, reason = check_record(folder, pair, options)
        if row is not None:
            kept[pair.name] = row
            result.skipped += 1
            continue
        if reason is None and pair.name in before_status:
            reason = "failed before" if before_status[pair.name] != "ok" else "no record"
        if reason is not None:
            reasons[reason] += 1
        with contextlib.suppress(FileNotFoundError, NotADirectoryError):
            (folder / RECORD).unlink()  # a kill while it is redone leaves nothing trusted
        todo.append(pair)
    result.redo_reasons = {r: reasons[r] for r in REDO_REASONS if reasons[r]}
    _write_survey(csv_path, list(kept.values()))
    if not todo:
        _write_index(csv_path, out_dir)
        return result
    budget = max_memory
    if budget is None and scheduler is None:  # the local workers share this machine
        from orbitscout.pipeline import default_max_memory

        budget = default_max_memory() // local_workers(workers)
    appender = _Appender(csv_path)
    try:
        with (
            dask_client(
                scheduler,
                workers,
                security=connect_with,
                dashboard=dashboard,
                on_message=on_message,
            ) as client,
            _progress(progress, len(todo)) as advance,
        ):
            from distributed import as_completed

            if _ON_CLIENT is not None:
                _ON_CLIENT(client)
            futures = {
                client.submit(
                    run_pair,
                    asdict(p),
                    str(out_dir),
                    options,
                    budget,
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
    _write_index(csv_path, out_dir)
    return result


def _write_index(csv_path: Path, out_dir: Path) -> None:
    """``index.html`` over every pair of survey.csv, linking to each pair's report."""
    from orbitscout.report.index import index_page

    index_page(read_survey(csv_path), out_dir)


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
