"""GDAL settings for a run of ``find``, and the versions of the libraries that read products."""

from __future__ import annotations

import os

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


def versions() -> dict[str, str]:
    """Versions of rasterio and of the GDAL it bundles."""
    return {"rasterio": rasterio.__version__, "gdal": rasterio.__gdal_version__}
