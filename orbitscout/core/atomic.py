"""Write outputs so that each file is complete or absent, never partial."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from orbitscout.core.errors import OrbitscoutError


@contextlib.contextmanager
def atomic_file(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; move it onto ``path`` only if the block succeeds."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def check_out_dir(out_dir: str | Path) -> Path:
    """Fail early, before any work, if ``out_dir`` exists and is not a folder."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise OrbitscoutError("output path exists and is not a folder", out_dir)
    return out_dir


def prepare_out_dir(out_dir: str | Path) -> Path:
    """Check that ``out_dir`` can hold outputs (creating it if needed) and return it."""
    out_dir = check_out_dir(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OrbitscoutError(f"cannot create output folder ({exc.strerror})", out_dir) from exc
    return out_dir


@contextlib.contextmanager
def staged_outputs(out_dir: str | Path) -> Iterator[Path]:
    """Yield a staging folder inside ``out_dir``; on success move every file in it into
    ``out_dir`` (each by an atomic rename), on failure remove it and leave ``out_dir`` as it was.
    """
    out_dir = prepare_out_dir(out_dir)
    stage = Path(tempfile.mkdtemp(prefix=".orbitscout-", dir=out_dir))
    try:
        yield stage
        for item in sorted(stage.iterdir()):
            target = out_dir / item.name
            if target.is_dir() and not item.is_dir():
                raise OrbitscoutError("an output file would replace a folder", target)
            if item.is_dir() and target.exists():
                shutil.rmtree(target) if target.is_dir() else target.unlink()
            os.replace(item, target)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
