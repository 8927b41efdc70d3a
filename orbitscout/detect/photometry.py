"""Photometric normalisation: block gain and offset fields that map BEFORE onto AFTER.

The two images differ in exposure, gain and illumination. On coarse, registered images every
block of BLOCK x BLOCK full-resolution pixels gets its own robust straight-line fit of AFTER
against BEFORE (points that changed are clipped away); a 3 x 3 median over blocks outvotes
blocks that a large change took over, and the fields are bilinear between block centres.

A block's gain and offset are not known apart when its ground spans a narrow range of
brightness (bland plains): a gain too high by 1 % comes with an offset too low by 1 % of the
ground's level, and the line still fits the block. The median over blocks is therefore taken
of what the lines predict at each block's own ground level (through the median gain), not of
gains and offsets apart, which paired one block's gain with another's offset: the fields then
do not depend on where zero brightness lies (a dark level added to both images shifts the
mapped BEFORE by that level and changes nothing else).
"""

from __future__ import annotations

import math
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from orbitscout.core.window import Window

BLOCK = 256  # full-resolution pixels per side of a photometry block
CLIP = 3.0  # robust sigmas beyond which a point is dropped from its block's fit
MIN_POINTS = 16  # fewest points a block's fit may rest on
BAND_BLOCKS = 1024  # blocks fitted together (about 4 MB per array at 32 x 32 samples)


@dataclass
class Photometry:
    """Gain and offset fields that map BEFORE's brightness onto AFTER's, on a block grid."""

    gain: np.ndarray
    offset: np.ndarray
    block: int = BLOCK

    def fields(self, window: Window) -> tuple[np.ndarray, np.ndarray]:
        """Gain and offset at the pixels of ``window``, bilinear between block centres (held
        constant beyond the outermost centres)."""
        rows, cols = self._axes(window)
        gain, offset = (_interpolate(cols.across(grid), rows) for grid in (self.gain, self.offset))
        return gain, offset

    def level(self, before: np.ndarray, window: Window) -> np.ndarray:
        """``gain * before + offset`` over ``window``, in place in ``before``, BAND_ROWS rows
        at a time (fields as large as the window would cost twice its memory)."""
        rows, cols = self._axes(window)
        gain, offset = cols.across(self.gain), cols.across(self.offset)
        for start in range(0, before.shape[0], BAND_ROWS):
            band = rows[start : start + BAND_ROWS]
            part = before[start : start + BAND_ROWS]
            for grid, apply in ((gain, np.multiply), (offset, np.add)):
                field = grid[band.high] - grid[band.low]  # the field in three passes, not five
                field *= band.weight[:, None]
                field += grid[band.low]
                apply(part, field, out=part)
        return before

    def _axes(self, window: Window) -> tuple[_Axis, _Axis]:
        ny, nx = self.gain.shape
        return (
            _Axis.of(int(window.row_off), int(window.height), ny, self.block),
            _Axis.of(int(window.col_off), int(window.width), nx, self.block),
        )


BAND_ROWS = 128  # rows of a window whose fields Photometry.level makes at once (1 MB at 2k)


@dataclass
class _Axis:
    """Linear interpolation along one axis between block centres: for each pixel, the blocks
    whose centres lie on either side and the weight of the second."""

    low: np.ndarray
    high: np.ndarray
    weight: np.ndarray

    @classmethod
    def of(cls, start: int, length: int, n_blocks: int, block: int) -> _Axis:
        """Pixels ``start`` .. ``start + length - 1`` of an axis of ``n_blocks`` blocks."""
        at = (np.arange(start, start + length) + 0.5) / block - 0.5  # in block centres
        at = np.clip(at, 0.0, n_blocks - 1)
        low = np.minimum(np.floor(at).astype(np.intp), max(n_blocks - 2, 0))
        high = np.minimum(low + 1, n_blocks - 1)
        return cls(low, high, (at - low).astype(np.float32))

    def __getitem__(self, part: slice) -> _Axis:
        return _Axis(self.low[part], self.high[part], self.weight[part])

    def across(self, grid: np.ndarray) -> np.ndarray:
        """A block grid interpolated along its columns: one row per block row."""
        return np.ascontiguousarray(_interpolate(grid.T.astype(np.float32), self).T)


def _interpolate(grid: np.ndarray, axis: _Axis) -> np.ndarray:
    """``grid`` (blocks along its first axis) at the pixels of ``axis``."""
    weight = axis.weight[:, None]
    return grid[axis.low] * (1 - weight) + grid[axis.high] * weight


def fit_photometry(after_small: np.ndarray, before_small: np.ndarray, factor: int) -> Photometry:
    """Fit the block gain/offset fields on coarse, registered images reduced by ``factor``
    (NaN where there is no data)."""
    per = max(1, BLOCK // factor)
    height, width = after_small.shape
    ny, nx = max(1, math.ceil(height / per)), max(1, math.ceil(width / per))
    # pixels of the image in each block (edge blocks are cut)
    size = np.outer(
        np.minimum(per, height - per * np.arange(ny)), np.minimum(per, width - per * np.arange(nx))
    )
    gain = np.full((ny, nx), np.nan)
    offset = np.full((ny, nx), np.nan)
    level = np.full((ny, nx), np.nan)
    band = max(1, BAND_BLOCKS // nx)  # block rows fitted at a time: bounded memory

    def fit_band(j0: int) -> None:
        rows = slice(j0 * per, (j0 + band) * per)
        a, b = (_blocks(image[rows], per, nx) for image in (after_small, before_small))
        ok = np.isfinite(a) & np.isfinite(b)
        enough = ok.sum(axis=1) >= np.maximum(MIN_POINTS, size[j0 : j0 + band].ravel() // 4)
        if enough.any():
            g, o = _robust_lines(b[enough], a[enough], ok[enough])
            gain[j0 : j0 + band].reshape(-1)[enough] = g
            offset[j0 : j0 + band].reshape(-1)[enough] = o
            level[j0 : j0 + band].reshape(-1)[enough] = _row_medians(b[enough], ok[enough])

    # bands in two threads (numpy releases the GIL on arrays this size): 0.33 -> 0.14 s at 16k
    with ThreadPoolExecutor(2, thread_name_prefix="orbitscout-photometry") as pool:
        list(pool.map(fit_band, range(0, ny, band)))
    if np.isnan(gain).all():  # no block has enough of both images: one line for the overlap
        ok = np.isfinite(after_small) & np.isfinite(before_small)
        g, o = _robust_lines(before_small[ok][None], after_small[ok][None], ok[ok][None])
        gain[:], offset[:] = g[0], o[0]
        level[:] = np.median(before_small[ok])
    return Photometry(*_smooth_lines(gain, offset, level))


def _blocks(image: np.ndarray, per: int, nx: int) -> np.ndarray:
    """The pixels of each block of ``image`` (nx blocks across), one row per block, block row
    by block row, NaN-padded at the edges."""
    ny = math.ceil(image.shape[0] / per)
    padded = np.full((ny * per, nx * per), np.nan, np.float32)
    padded[: image.shape[0], : image.shape[1]] = image
    return padded.reshape(ny, per, nx, per).transpose(0, 2, 1, 3).reshape(ny * nx, per * per)


def _robust_lines(
    x: np.ndarray, y: np.ndarray, ok: np.ndarray, rounds: int = 4
) -> tuple[np.ndarray, np.ndarray]:
    """Per row, fit y = gain * x + offset to the ``ok`` points, then refit up to ``rounds`` - 1
    times without the points beyond CLIP robust sigmas of the last fit's median residual (a row
    stops when its points stop changing). A row with too few points keeps gain 1 and the
    median offset; a row whose kept x are all equal keeps its last gain."""
    gain = np.ones(x.shape[0])
    offset = _row_medians(y - x, ok)
    keep = ok.copy()
    rows = np.arange(x.shape[0])  # the rows still being fitted
    for _ in range(rounds):
        xs, ys, kept = x[rows], y[rows], keep[rows]
        count = kept.sum(axis=1)
        mean_x = np.where(kept, xs, 0.0).sum(axis=1, dtype=np.float64) / np.maximum(count, 1)
        mean_y = np.where(kept, ys, 0.0).sum(axis=1, dtype=np.float64) / np.maximum(count, 1)
        dx = np.where(kept, xs - mean_x[:, None].astype(np.float32), 0.0)
        dy = np.where(kept, ys - mean_y[:, None].astype(np.float32), 0.0)
        sxx = (dx * dx).sum(axis=1, dtype=np.float64)
        # rows that cannot be fitted stop here: too few points, or no spread in x
        stop = (count < MIN_POINTS) | (sxx == 0)
        if stop.any():
            gain[rows[count < MIN_POINTS]] = 1.0
            level = _row_medians(ys[stop] - gain[rows[stop], None] * xs[stop], kept[stop])
            has = count[stop] > 0
            offset[rows[stop][has]] = level[has]
            go = ~stop
            rows, xs, ys, kept, dx, dy, sxx = (v[go] for v in (rows, xs, ys, kept, dx, dy, sxx))
            mean_x, mean_y = mean_x[go], mean_y[go]
        if not rows.size:
            break
        g = (dx * dy).sum(axis=1, dtype=np.float64) / sxx
        gain[rows] = g
        offset[rows] = mean_y - g * mean_x
        resid = (ys - (g[:, None] * xs + offset[rows, None])).astype(np.float32)
        centre, spread = _row_quartiles(resid, kept)
        # robust sigma: the interquartile range over 1.349 (one sort gives it with the median)
        clipped = ok[rows] & (np.abs(resid - centre[:, None]) <= CLIP * spread[:, None] / 1.349)
        changed = (clipped != kept).any(axis=1)
        keep[rows] = clipped
        rows = rows[changed]  # the others would refit to the same line
        if not rows.size:
            break
    return gain, offset


def _row_medians(values: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """Median of each row's kept values (NaN for a row that keeps none)."""
    return _row_quantiles(values, keep, (0.5,))[0]


def _row_quartiles(values: np.ndarray, keep: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Median and interquartile range of each row's kept values."""
    q1, median, q3 = _row_quantiles(values, keep, (0.25, 0.5, 0.75))
    return median, q3 - q1


def _row_quantiles(values: np.ndarray, keep: np.ndarray, qs: tuple[float, ...]) -> list:
    """Quantiles (linear between order statistics) of each row's kept values; one sort."""
    ordered = np.sort(np.where(keep, values, np.nan), axis=1)  # NaN sort last
    count = keep.sum(axis=1)
    rows = np.arange(values.shape[0])
    out = []
    for q in qs:
        pos = q * np.maximum(count - 1, 0)
        lo = np.floor(pos).astype(int)
        hi = np.minimum(lo + 1, np.maximum(count - 1, 0))
        frac = pos - lo
        value = ordered[rows, lo] * (1 - frac) + ordered[rows, hi] * frac
        out.append(np.where(count > 0, value, np.nan))
    return out


def _smooth_lines(
    gain: np.ndarray, offset: np.ndarray, level: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Each block's line replaced by the median over its 3 x 3 blocks (blocks taken over by
    change are outvoted): the median gain, through the median of what the nine lines predict
    at the block's own BEFORE ``level`` (so that the line keeps the block's brightness where
    its gain and offset trade off); blocks without a fit take their nearest block's line."""
    gains, offsets = _neighbours(gain), _neighbours(offset)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN neighbourhoods
        smooth_gain = np.nanmedian(gains, axis=0)
        at_level = np.nanmedian(gains * level[None] + offsets, axis=0)
    smooth_offset = at_level - smooth_gain * level
    missing = np.isnan(smooth_offset)
    if missing.any() and not missing.all():
        from scipy import ndimage as ndi

        idx = ndi.distance_transform_edt(missing, return_distances=False, return_indices=True)
        smooth_gain, smooth_offset = smooth_gain[tuple(idx)], smooth_offset[tuple(idx)]
    return smooth_gain, smooth_offset


def _neighbours(grid: np.ndarray) -> np.ndarray:
    """The 3 x 3 blocks around each block (edges repeated), stacked on a first axis of 9."""
    padded = np.pad(grid, 1, mode="edge")
    ny, nx = grid.shape
    return np.stack([padded[j : j + ny, i : i + nx] for j in range(3) for i in range(3)], axis=0)
