"""The tile loop: residual, significance and regions per tile, stitched across borders."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import cv2
import numpy as np

from orbitscout.core.window import Window
from orbitscout.detect.parameters import DEFAULT, DetectParams
from orbitscout.detect.photometry import Photometry
from orbitscout.detect.regions import (
    Regions,
    UnionFind,
    combine_regions,
    split_by_sign,
    tile_maps,
)
from orbitscout.detect.shading import Reshading
from orbitscout.detect.significance import BLOCK


@dataclass
class TileEdges:
    """Global region ids along the four edges of a tile's core, for stitching."""

    window: Window
    top: np.ndarray
    bottom: np.ndarray
    left: np.ndarray
    right: np.ndarray


def tile_windows(width: int, height: int, tile: int | None) -> Iterator[Window]:
    """Tile cores covering the image; ``tile`` is rounded up to a multiple of BLOCK."""
    if tile is None:
        yield Window(0, 0, width, height)
        return
    tile = max(BLOCK, -(-tile // BLOCK) * BLOCK)
    for y in range(0, height, tile):
        for x in range(0, width, tile):
            yield Window(x, y, min(tile, width - x), min(tile, height - y))


@dataclass
class ChangeResult:
    """Regions found over the whole image (stitched), before any merging."""

    regions: Regions
    pixels: int
    tiles: int
    valid_fraction: float
    displacement_px: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    """The displacement measured in each noise block (``significance.block_displacement``;
    px, 0 where none was)."""


def detect_changes(
    read_after: Callable[[Window], np.ndarray],
    read_before: Callable[[Window], np.ndarray],
    phot: Photometry,
    width: int,
    height: int,
    tile: int | None = None,
    progress: Callable[[int], None] | None = None,
    threads: int | None = None,
    params: DetectParams = DEFAULT,
    reshading: Reshading | None = None,
    read_dtm: Callable[[Window], np.ndarray] | None = None,
) -> ChangeResult:
    """Run the tile loop: residual, significance, regions; then stitch across tile borders.

    Tiles are processed by ``threads`` threads (default ``tile_threads()``; numpy and OpenCV
    release the GIL), at most ``threads + 1`` in flight, and their regions are numbered in
    tile order, so the result does not depend on the number of threads. ``read_after`` and
    ``read_before`` are called from those threads.

    Parameters
    ----------
    read_after, read_before : callable
        Read a window of AFTER, and of BEFORE registered onto AFTER's grid (NaN: no data).
    phot : Photometry
        Maps BEFORE onto AFTER's brightness.
    width, height : int
        The AFTER image's size (px).
    tile : int or None
        Side of the tile cores (px, rounded up to a multiple of BLOCK); None: the whole image.
    progress : callable or None
        Called with the pixels of each tile done.
    threads : int or None
        Threads for the tiles.
    params : DetectParams
        The thresholds and filters.
    reshading : Reshading or None
        The changed sun's predicted residual (``shading.plan_reshading``), subtracted in
        every tile.
    read_dtm : callable or None
        Read a window of the DTM on AFTER's grid (m), for a ``"dtm"`` re-shading.

    Returns
    -------
    ChangeResult
        The stitched regions: those holding a pixel over ``params.t_high``, and those that
        touched a tile border.
    """
    parts: list[Regions] = []
    edges: list[TileEdges] = []
    offset = 0
    valid_px = 0
    n_tiles = 0

    def process(core: Window) -> tuple:
        """All of one tile that does not depend on other tiles (runs in a worker thread)."""
        maps = tile_maps(
            core, read_after, read_before, phot, width, height, params, reshading, read_dtm
        )
        region = maps.region
        count, labels = cv2.connectedComponents(
            region.view(np.uint8), connectivity=8, ltype=cv2.CV_32S
        )
        count -= 1
        # the ends of a short move touch at t_low: one region for each
        count, labels = split_by_sign(labels, count, maps.sig, maps.seed)
        regions = maps.measure(labels, count)
        # keep regions that are candidates already or may join one across a tile border
        border = np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]])
        keep = regions.seeded.copy()
        keep[np.unique(border[border > 0]) - 1] = True
        # copies: views would keep the whole label array of every tile alive
        sides = tuple(side.copy() for side in (labels[0], labels[-1], labels[:, 0], labels[:, -1]))
        return count, regions, keep, sides, maps.valid_px, maps.moved.sigmas.ravel()

    windows = list(tile_windows(width, height, tile))
    # tiles are read bottom-up: the image's last blocks, read last by the reduced reads, may
    # still be in GDAL's block cache (16k find 0.2 s faster); results are taken in tile order
    bottom_up = windows[::-1]
    results = []
    for core, result in zip(bottom_up, _map_tiles(process, bottom_up, threads), strict=True):
        results.append(result)
        if progress:
            progress(int(core.width) * int(core.height))
    moved = []
    for core, (count, regions, keep, sides, n_ok, shifts) in zip(
        windows, results[::-1], strict=True
    ):
        moved.append(shifts)
        n_tiles += 1
        valid_px += n_ok
        new_id = np.full(count + 1, -1)
        new_id[1:][keep] = offset + np.arange(int(keep.sum()))
        parts.append(regions.subset(keep))
        edges.append(TileEdges(core, *(new_id[side] for side in sides)))
        offset += int(keep.sum())
    groups = _stitch(edges, offset)
    regions = combine_regions(parts, groups) if offset else Regions.empty()
    return ChangeResult(
        regions, width * height, n_tiles, valid_px / max(1, width * height), np.concatenate(moved)
    )


def tile_threads() -> int:
    """Threads for the tile loop: $ORBITSCOUT_THREADS, else the cores this process may use
    (at most 4: each tile in flight holds a few hundred MB)."""
    env = os.environ.get("ORBITSCOUT_THREADS", "").strip()
    if env.isdigit() and int(env) > 0:
        return int(env)
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(4, cores))


def _map_tiles(fn: Callable, windows: list[Window], threads: int | None) -> Iterator:
    """``fn`` over ``windows``, results in order, at most ``threads + 1`` tiles in flight."""
    threads = tile_threads() if threads is None else max(1, threads)
    if threads == 1 or len(windows) == 1:
        yield from map(fn, windows)
        return
    from collections import deque
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(threads, thread_name_prefix="orbitscout-tile") as pool:
        pending: deque = deque()
        try:
            for window in windows:
                pending.append(pool.submit(fn, window))
                if len(pending) > threads:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()


def _stitch(edges: list[TileEdges], count: int) -> np.ndarray:
    """Group ids of regions joined across tile borders (8-connectivity)."""
    uf = UnionFind(count)
    starts = {(e.window.col_off, e.window.row_off): e for e in edges}
    ends = {(e.window.col_off + int(e.window.width), e.window.row_off): e for e in edges}
    for e in edges:
        w, h = int(e.window.width), int(e.window.height)
        right = starts.get((e.window.col_off + w, e.window.row_off))
        below = starts.get((e.window.col_off, e.window.row_off + h))
        below_right = starts.get((e.window.col_off + w, e.window.row_off + h))
        below_left = ends.get((e.window.col_off, e.window.row_off + h))
        if right is not None:
            _join(uf, e.right, right.left)
        if below is not None:
            _join(uf, e.bottom, below.top)
        if below_right is not None and e.bottom[-1] >= 0 and below_right.top[0] >= 0:
            uf.union(int(e.bottom[-1]), int(below_right.top[0]))
        if below_left is not None and e.bottom[0] >= 0 and below_left.top[-1] >= 0:
            uf.union(int(e.bottom[0]), int(below_left.top[-1]))
    return uf.groups()


def _join(uf: UnionFind, a: np.ndarray, b: np.ndarray) -> None:
    n = min(a.size, b.size)
    for shift in (-1, 0, 1):
        lo, hi = max(0, -shift), min(n, n - shift)
        aa = a[lo:hi]
        bb = b[lo + shift : hi + shift]
        both = (aa >= 0) & (bb >= 0)
        for i, j in set(zip(aa[both].tolist(), bb[both].tolist(), strict=True)):
            uf.union(i, j)
