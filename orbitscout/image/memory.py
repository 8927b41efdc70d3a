"""How much memory a run of ``find`` needs, decided from the AFTER image's size, the tile size
and the reduction before any pixel is read, and the budget it must fit (``--max-memory``).

The estimate (``estimate_bytes``) is calibrated on measured peaks (max RSS of ``find`` in a fresh
process, 2 cores, so 2 tile threads and 3 tiles in flight; the bench pairs of
``bench/find_vs_read.py``, 2026-12-02)::

    pair            tile   peak MB   estimate MB
    256 x 256       2048       256       310
    1024 x 1024     2048       373       395
    4096 x 4096     2048       614       698
    4096 x 4096     1024       433       465
    8192 x 8192     2048       850       917
    8192 x 8192     1024       637       687
    16384 x 16384   2048      1164      1281   (hand-recorded history, docs/performance.md)
    50000 x 20000   2048      1220      1676   (the same)

Fitted terms: a base of about 260 MB (Python, numpy, GDAL, OpenCV, the report's libraries);
GDAL's block cache, which fills with both images' decoded blocks up to its limit (4.4 bytes a
pixel between 4k and 8k: two uint16 images); the tile loop, about ``TILE_ARRAYS`` = 6
float32 arrays of (tile + 2 halo)^2 per tile in flight (the 2048/1024 differences: 181 MB at
4k, 213 MB at 8k, are 4.4-5.2 of them times three tiles); and the reduced grid, ``REDUCED_ARRAYS``
= 8 float32 arrays of (W/8) x (H/8) (the reduced AFTER and BEFORE, the registered BEFORE, the
photometry's fields, the report's pyramid; 6.7 of them fit the 16k peak, 2.7 the 50k x 20k
one). Each term is rounded up, so the estimate is 5-40 % above every measured peak
(``tests/test_bad_input.py`` checks it against this table). The images' own sizes enter only
through these terms: nothing of the run is allocated at the declared full size.
"""

from __future__ import annotations

import math
import os
import re

BASE_BYTES = 300 * 2**20  # the interpreter and the libraries (measured 256 MB at 256 x 256)
TILE_ARRAYS = 6  # float32 arrays of a tile with its halo, per tile in flight
REDUCED_ARRAYS = 8  # float32 arrays of the reduced grid held at once
EDGE_BYTES = 4 * 8 * 2  # per pixel of a tile's side kept until stitching: 4 sides, ids, twice
DEFAULT_FRACTION = 0.5  # the default --max-memory: this share of the machine's memory

_UNITS = {"": 1, "b": 1, "k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}
_SIZE_RE = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:e[+-]?[0-9]+)?)\s*([kmgt]?)(?:i?b)?\s*$", re.I)


def parse_size(text: str | int | float) -> int:
    """A memory size: bytes, or a number with K, M, G or T (powers of 1024; ``4G``, ``512MB``,
    ``1.5GiB``).

    Parameters
    ----------
    text : str, int or float
        The size.

    Returns
    -------
    int
        Bytes.

    Raises
    ------
    ValueError
        When ``text`` is not a positive, finite size.
    """
    if isinstance(text, int | float) and not isinstance(text, bool):
        value, unit = float(text), ""
    else:
        match = _SIZE_RE.match(str(text))
        if match is None:
            raise ValueError(f"not a memory size: {text!r} (give e.g. 8G, 512M or bytes)")
        value, unit = float(match.group(1)), match.group(2).lower()
    size = value * _UNITS[unit]
    if not math.isfinite(size) or size <= 0:
        raise ValueError(f"a memory size must be positive, got {text!r}")
    return int(size)


def machine_bytes() -> int | None:
    """The memory this process may use: the machine's RAM (psutil, else ``os.sysconf``), or a
    smaller cgroup limit (a container's), or None where neither can be read."""
    total = None
    try:
        import psutil

        total = int(psutil.virtual_memory().total)
    except Exception:  # psutil missing or failing: sysconf
        try:
            total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        except (ValueError, OSError, AttributeError):
            total = None
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            with open(path) as fh:
                text = fh.read().strip()
        except OSError:
            continue
        if text.isdigit() and (total is None or int(text) < total):
            total = int(text)
    return total


def default_max_bytes() -> int:
    """The default budget: ``DEFAULT_FRACTION`` of ``machine_bytes()`` (8 GiB where it cannot
    be read)."""
    total = machine_bytes()
    return int(DEFAULT_FRACTION * total) if total else 8 * 2**30


def estimate_bytes(
    width: int,
    height: int,
    tile: int | None,
    threads: int,
    halo: int,
    factor: int,
    cache_bytes: int,
    decoded_bytes: int,
) -> int:
    """The peak memory of ``find`` on an AFTER image of ``width`` x ``height`` pixels.

    Parameters
    ----------
    width, height : int
        The AFTER image's size (px): every array is on its grid.
    tile : int or None
        Side of the tile cores (px); None: the whole image is one tile.
    threads : int
        Tile threads (``threads + 1`` tiles in flight).
    halo : int
        Pixels read around each tile core.
    factor : int
        The reduction of the images registration and photometry use.
    cache_bytes : int
        GDAL's block cache limit.
    decoded_bytes : int
        Both images' pixels decoded (bytes): the block cache holds at most this.

    Returns
    -------
    int
        Bytes.
    """
    width, height = int(width), int(height)
    side_w = width if tile is None else min(width, tile)
    side_h = height if tile is None else min(height, tile)
    in_flight = 1 if tile is None else max(1, threads) + 1
    tiles_b = in_flight * TILE_ARRAYS * 4 * (side_w + 2 * halo) * (side_h + 2 * halo)
    n_tiles = 1 if tile is None else math.ceil(width / tile) * math.ceil(height / tile)
    edges_b = n_tiles * EDGE_BYTES * (side_w + side_h)
    reduced_b = REDUCED_ARRAYS * 4 * max(1, width // factor) * max(1, height // factor)
    cache_b = min(int(cache_bytes), int(decoded_bytes))
    return BASE_BYTES + cache_b + tiles_b + edges_b + reduced_b


def format_bytes(size: float) -> str:
    """``size`` in words users read: ``1.2 GB``, ``640 MB`` (powers of 1024)."""
    for unit, scale in (("TB", 2**40), ("GB", 2**30), ("MB", 2**20), ("KB", 2**10)):
        if size >= scale:
            return (
                f"{size / scale:.3g} {unit}" if size < 10 * scale else f"{size / scale:.0f} {unit}"
            )
    return f"{int(size)} B"
