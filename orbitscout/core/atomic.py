"""Write outputs so that each file is complete or absent, never partial, and a set of outputs is
published whole.

Temporary files and staging folders carry their owner in their name (a hash of the host name,
the process id and the process's start time), so a later run on the same machine removes those
of killed runs and never those of a run still going (``remove_stale``).

Publishing a staged set (``staged_outputs``) first checks every target, then writes a journal
into the staging folder naming the items, then removes the old ``summary.json`` and moves the
items into place one by one (``summary.json`` last), so a folder with a ``summary.json`` always
holds that summary's whole set. A kill before the journal leaves the outputs as they were; a
kill after it leaves a journal that the next run on that folder follows to the end before it
does anything else, so a killed publication is completed, never left half done.

``_FAULT`` is a test hook: when set, it is called with the name of each publishing step
(``staged``, ``journal``, ``moved:NAME`` for each item, ``published``) and may kill the process
there.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from orbitscout.core.errors import OrbitscoutError

STAGE_PREFIX = ".orbitscout-"
JOURNAL = ".publishing.json"
# written last, so that a folder with a readable summary.json holds a whole set
LAST = "summary.json"
# staging folders of older versions name no owner: removed once they are this old (seconds)
UNOWNED_AGE_S = 3600.0

#: Test hook: ``_FAULT(step)`` is called at each publishing step when set.
_FAULT: Callable[[str], None] | None = None

_TAG = r"([0-9a-f]{8})-(\d+)-(\d+)-[a-z0-9_]+"
_STAGE_RE = re.compile(rf"^{re.escape(STAGE_PREFIX)}{_TAG}$")
_TEMP_RE = re.compile(rf"^\..+\.{_TAG}\.tmp$")
_UNOWNED_RE = re.compile(rf"^{re.escape(STAGE_PREFIX)}[a-z0-9_]{{8}}$")
_umask_lock = threading.Lock()


def _fault(step: str) -> None:
    if _FAULT is not None:
        _FAULT(step)


# --------------------------------------------------------------------------- owners


def _host() -> str:
    return hashlib.sha1(socket.gethostname().encode()).hexdigest()[:8]


def _start_ticks(pid: int) -> int | None:
    """The process's start time in 1/100 s since the epoch, or None where it cannot be read."""
    try:
        import psutil

        return int(psutil.Process(pid).create_time() * 100)
    except Exception:  # psutil missing, or the process is gone
        return None


_tags: dict[int, str] = {}


def owner_tag() -> str:
    """This process as it appears in the names of its temporary files and staging folders."""
    pid = os.getpid()
    if pid not in _tags:
        _tags[pid] = f"{_host()}-{pid}-{_start_ticks(pid) or 0}"
    return _tags[pid]


def _owner_alive(host: str, pid: int, start: int) -> bool:
    """Whether the owner named in a temporary name may still be running (True when unsure)."""
    if host != _host():
        return True  # another machine's (a shared folder): its processes cannot be seen
    try:
        import psutil
    except ImportError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except OSError:
            return True
        return True
    try:
        proc = psutil.Process(pid)
        now = int(proc.create_time() * 100)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False  # killed, not yet reaped by its parent
    except psutil.NoSuchProcess:
        return False
    except psutil.Error:
        return True
    return start == 0 or abs(now - start) <= 2  # another process with a reused pid is not it


def remove_stale(folder: str | Path) -> list[Path]:
    """Remove the staging folders and temporary files that killed runs left in ``folder``.

    Only those whose owner process is gone are touched (a concurrent run's are kept); a killed
    publication whose journal was written is first completed. Staging folders of older
    versions, which name no owner, are removed once they are ``UNOWNED_AGE_S`` old.

    Parameters
    ----------
    folder : str or pathlib.Path
        The output folder to clean.

    Returns
    -------
    list of pathlib.Path
        What was removed.
    """
    folder = Path(folder)
    removed: list[Path] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        name = entry.name
        if not name.startswith("."):
            continue
        match = _STAGE_RE.match(name) or _TEMP_RE.match(name)
        path = Path(entry.path)
        if match:
            host, pid, start = match.group(1), int(match.group(2)), int(match.group(3))
            if _owner_alive(host, pid, start):
                continue
        elif _UNOWNED_RE.match(name):
            with contextlib.suppress(OSError):
                if time.time() - entry.stat(follow_symlinks=False).st_mtime < UNOWNED_AGE_S:
                    continue
        else:
            continue
        if entry.is_dir(follow_symlinks=False):
            with contextlib.suppress(OSError, ValueError):
                _finish_publishing(path, folder)
            shutil.rmtree(path, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                path.unlink()
        if not path.exists():
            removed.append(path)
    return removed


# --------------------------------------------------------------------------- single files


def _umask() -> int:
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    with _umask_lock:  # no /proc: read it by setting it (process-wide, so briefly)
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


def file_mode() -> int:
    """The mode a new file gets from ``open``: 0o666 less the process's umask."""
    return 0o666 & ~_umask()


@contextlib.contextmanager
def atomic_file(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; move it onto ``path`` only if the block succeeds.

    The file gets the mode of any new file (0o666 less the umask), not the temporary file's
    0o600; a kill leaves only the temporary file, which ``remove_stale`` removes later.

    Parameters
    ----------
    path : str or pathlib.Path
        The file to write.

    Yields
    ------
    pathlib.Path
        Where to write it.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(
        prefix=f".{path.name}.{owner_tag()}-", suffix=".tmp", dir=path.parent
    )
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        with contextlib.suppress(FileNotFoundError):
            os.chmod(tmp, file_mode())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_file_atomic(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` whole or not at all, flushed to disk before it is renamed.

    Parameters
    ----------
    path : str or pathlib.Path
        The file to write.
    data : bytes
        Its content.
    """
    with atomic_file(path) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())


# --------------------------------------------------------------------------- output folders


def check_out_dir(out_dir: str | Path, outputs: Iterable[str] = ()) -> Path:
    """Fail early, before any work, if ``out_dir`` cannot take the outputs.

    Parameters
    ----------
    out_dir : str or pathlib.Path
        The output folder (it need not exist yet).
    outputs : iterable of str
        Names of the files that will be written into it: none may be a folder there.

    Returns
    -------
    pathlib.Path
        ``out_dir``.
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise OrbitscoutError("output path exists and is not a folder", out_dir)
    existing = out_dir
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent  # the folder it will be created in
    if existing.is_dir() and not os.access(existing, os.W_OK | os.X_OK):
        raise OrbitscoutError("cannot write into the output folder (permission denied)", out_dir)
    for name in outputs:
        if (out_dir / name).is_dir() and not (out_dir / name).is_symlink():
            raise OrbitscoutError("is a folder where an output file goes", out_dir / name)
    return out_dir


def prepare_out_dir(out_dir: str | Path) -> Path:
    """Check that ``out_dir`` can hold outputs (creating it if needed) and return it."""
    out_dir = check_out_dir(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OrbitscoutError(f"cannot create output folder ({exc.strerror})", out_dir) from exc
    if not os.access(out_dir, os.W_OK | os.X_OK):
        raise OrbitscoutError("cannot write into the output folder (permission denied)", out_dir)
    return out_dir


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _move(item: Path, target: Path) -> None:
    if item.is_dir() and (target.exists() or target.is_symlink()):
        shutil.rmtree(target) if target.is_dir() and not target.is_symlink() else target.unlink()
    os.replace(item, target)


def _finish_publishing(stage: Path, out_dir: Path) -> None:
    """Move what a killed publication had not moved yet, in its journal's order."""
    journal = stage / JOURNAL
    if not journal.is_file():
        return  # killed while staging: nothing of it was published
    for name in json.loads(journal.read_text())["items"]:
        item, target = stage / name, out_dir / name
        if not (item.exists() or item.is_symlink()):
            continue  # moved before the kill
        if target.is_dir() and not target.is_symlink() and not item.is_dir():
            continue  # a folder was put in its place since: leave both
        _move(item, target)
    _fsync_dir(out_dir)


def _publish(stage: Path, out_dir: Path) -> None:
    names = sorted(p.name for p in stage.iterdir() if p.name != JOURNAL)
    names.sort(key=lambda n: n == LAST)  # summary.json last; stable otherwise
    for name in names:  # every check before anything moves
        target = out_dir / name
        if target.is_dir() and not target.is_symlink() and not (stage / name).is_dir():
            raise OrbitscoutError("an output file would replace a folder", target)
    _fault("staged")
    with atomic_file(stage / JOURNAL) as tmp:
        with open(tmp, "w") as fh:
            json.dump({"items": names}, fh)
            fh.flush()
            os.fsync(fh.fileno())
    _fsync_dir(stage)
    _fault("journal")
    # the old summary.json goes first and the new one comes last: wherever a kill falls, a
    # folder holding a summary.json holds the whole set of that summary's run
    with contextlib.suppress(FileNotFoundError):
        (out_dir / LAST).unlink()
    for name in names:
        _move(stage / name, out_dir / name)
        _fault(f"moved:{name}")
    _fsync_dir(out_dir)
    _fault("published")


@contextlib.contextmanager
def staged_outputs(out_dir: str | Path) -> Iterator[Path]:
    """Yield a staging folder inside ``out_dir``; on success publish every file in it into
    ``out_dir`` as one set, on failure remove it and leave ``out_dir`` as it was.

    Stale staging folders of killed runs in ``out_dir`` are cleaned first (``remove_stale``);
    see the module docstring for how a publication survives a kill.

    Parameters
    ----------
    out_dir : str or pathlib.Path
        The output folder (created if needed).

    Yields
    ------
    pathlib.Path
        The staging folder to write the outputs into.
    """
    out_dir = prepare_out_dir(out_dir)
    remove_stale(out_dir)
    stage = Path(tempfile.mkdtemp(prefix=f"{STAGE_PREFIX}{owner_tag()}-", dir=out_dir))
    try:
        yield stage
        _publish(stage, out_dir)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
