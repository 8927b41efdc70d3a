"""GDAL settings for a run of ``find``, and the versions of the libraries that read products."""

from __future__ import annotations

import contextlib
import functools
import logging
import os
from collections.abc import Callable, Iterator
from typing import TypeVar

import rasterio

# GDAL's block cache (its default, 5 % of RAM, would dominate RSS): the tile loop, run
# bottom-up, finds the last half of a 16k pair's blocks still there from the reduced reads
# (16k find 9.9 -> 9.4 s against 256 MB, peak 1.03 -> 1.27 GB; medians of four runs)
GDAL_CACHE_BYTES = 512 * 2**20


def gdal_env(reading_threads: int) -> rasterio.Env:
    """GDAL settings for a run: a bounded block cache and decoder threads per read.

    Parameters
    ----------
    reading_threads : int
        Threads that read at once (the tile loop's).

    Returns
    -------
    rasterio.Env
        A context manager. The block cache is GDAL_CACHE_BYTES unless $GDAL_CACHEMAX says
        otherwise (GDAL reads it before its first read in a process); decoder threads per read
        are $GDAL_NUM_THREADS, else the cores left over by the threads that read at once (on
        two cores, one decoder thread per read made the 16k find 0.2 s faster than ALL_CPUS).
    """
    spare = max(1, (os.cpu_count() or 1) // max(1, reading_threads))
    options = {"GDAL_NUM_THREADS": os.environ.get("GDAL_NUM_THREADS", str(spare))}
    if "GDAL_CACHEMAX" not in os.environ:
        options["GDAL_CACHEMAX"] = GDAL_CACHE_BYTES
    return rasterio.Env(**options)


def cache_bytes() -> int:
    """GDAL's block cache limit for a run (bytes): ``GDAL_CACHE_BYTES``, or $GDAL_CACHEMAX
    (MB below 100000, bytes above; a percentage of RAM) where set."""
    text = os.environ.get("GDAL_CACHEMAX", "").strip()
    try:
        if text.endswith("%"):
            from orbitscout.image.memory import machine_bytes

            return int(float(text[:-1]) / 100 * (machine_bytes() or 8 * 2**30))
        if text:
            value = float(text)
            return int(value * 2**20 if value < 100_000 else value)
    except ValueError:
        pass
    return GDAL_CACHE_BYTES


def versions() -> dict[str, str]:
    """Versions of rasterio and of the GDAL it bundles."""
    return {"rasterio": rasterio.__version__, "gdal": rasterio.__gdal_version__}


_F = TypeVar("_F", bound=Callable)


def in_thread(fn: _F) -> _F:
    """``fn`` run inside a rasterio environment of the calling thread's own.

    GDAL's error handlers are per thread: in a thread without one (a pool's worker), a GDAL
    warning goes to GDAL's default handler, which prints ``Warning 1: ...`` on stderr, a second
    line beside orbitscout's own. Inside an environment it goes to Python's logging instead
    (``collect_warnings``). The options of the main thread's environment stay in force (GDAL's
    configuration is process-wide).

    Parameters
    ----------
    fn : callable
        A function that reads through GDAL.

    Returns
    -------
    callable
        ``fn``, wrapped.
    """

    @functools.wraps(fn)
    def wrapped(*args, **kwargs):
        if rasterio.env.hasenv():
            return fn(*args, **kwargs)
        with rasterio.Env():
            return fn(*args, **kwargs)

    return wrapped  # type: ignore[return-value]


class _Collect(logging.Handler):
    def __init__(self, into: list[str]):
        super().__init__(logging.WARNING)
        self.into = into

    def emit(self, record: logging.LogRecord) -> None:
        with contextlib.suppress(Exception):
            self.into.append(" ".join(record.getMessage().split()))


@contextlib.contextmanager
def collect_warnings() -> Iterator[list[str]]:
    """Collect the warnings GDAL gives through rasterio (its loggers) while the block runs.

    Yields
    ------
    list of str
        The warnings' messages, one line each, in order (for ``summary.json``); none of them
        reaches stderr.
    """
    collected: list[str] = []
    handler = _Collect(collected)
    logger = logging.getLogger("rasterio")
    logger.addHandler(handler)
    try:
        yield collected
    finally:
        logger.removeHandler(handler)
