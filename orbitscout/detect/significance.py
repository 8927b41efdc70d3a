"""Change significance: the residual against the local noise at several scales.

The AFTER image is compared with the registered BEFORE image mapped onto AFTER's brightness
(``photometry``). The residual is tested against the local noise at several spatial scales,
from single pixels to faint patches tens of pixels across (blast zones, crash fans).
Candidates are connected regions over a low threshold that hold at least one pixel over a high
threshold (``regions``), and whose change outweighs the local structure of whichever image has
less of it there (a different sun on unchanged craters changes their shading, not the ground;
an object that appeared or vanished has structure in one image only; ``candidates``).

Everything is computed tile by tile (``tiles``) with a halo, on a block grid anchored at the
image origin, so a tiled run gives the same candidates as a whole-image run: regions that cross
tile borders are stitched and their moments (which add) combined."""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from orbitscout.detect.parameters import DEFAULT, DetectParams

# The tiling's structure, not thresholds (the thresholds are ``DetectParams``): changing these
# changes how the image is cut and reduced, and the tiling invariants rest on them.
BLOCK = 256  # full-resolution pixels per side of a noise block; tile cores lie on this grid
COARSE = 8  # reduction factor of the images that registration and photometry use
HALO = 64  # least halo (px) read around a tile core; ``halo`` widens it for wider filters
PYRAMID = 4  # reduction of the grid on which blurs of sigma >= 2 * PYRAMID px are done
# least px beyond a crop that its structure depends on (the wide blur's support at the
# default 10 px: 48 px), a multiple of PYRAMID so that a crop's blur uses the same reduced grid
# as the whole array's; ``structure_reach`` widens it for a wider structure
STRUCTURE_REACH = 64


def blur_reach(sigma: float) -> int:
    """Pixels beyond a pixel whose values its blur over ``sigma`` (px) reads: the kernel's
    half-width, or for a wide blur that of the reduced grid's kernel plus the block means and
    the bilinear return, in full-resolution px (48 at 10 px)."""
    if sigma == 0.0:
        return 0
    if sigma < 2 * PYRAMID:
        return math.ceil(4 * sigma)
    return PYRAMID * (math.ceil(4 * _rest_sigma(sigma)) + 2)


def _ceil_to_pyramid(px: int) -> int:
    return -(-px // PYRAMID) * PYRAMID


def clutter_reach(params: DetectParams = DEFAULT) -> int:
    """Pixels around a pixel that the energy of the local structure there depends on: the
    matched filter, its gradient's pixel and the energy's average, of whichever filter reaches
    farthest (33 px by default: the 2-px filter, its energy averaged over 6 px)."""
    return max(blur_reach(s) + 1 + blur_reach(energy_sigma(s, params)) for s in params.scales)


def energy_sigma(scale: float, params: DetectParams = DEFAULT) -> float:
    """The Gaussian sigma (px) over which the energy of the structure seen through the
    matched filter of sigma ``scale`` is averaged: ``params.clutter``, wider by
    ``params.clutter_growth`` per px of ``scale``."""
    return params.clutter + params.clutter_growth * scale


def structure_reach(params: DetectParams = DEFAULT) -> int:
    """Pixels beyond a crop that its local structure depends on: at least STRUCTURE_REACH,
    a multiple of PYRAMID (64 px by default)."""
    return max(STRUCTURE_REACH, _ceil_to_pyramid(blur_reach(params.structure)))


def halo(params: DetectParams = DEFAULT) -> int:
    """Pixels read around a tile core: the reach of the structure's blur and of its energy's
    (``clutter_reach``), at least HALO, a multiple of PYRAMID so that tile windows start on
    the wide blurs' grid (84 px by default). Tiled and whole runs agree within it."""
    reach = blur_reach(params.structure) + clutter_reach(params)
    return max(HALO, _ceil_to_pyramid(reach))


def _robust_sigma(values: np.ndarray) -> float:
    """Robust standard deviation (1.4826 MAD; the mean absolute deviation if that is 0), or
    infinity for fewer than 64 values."""
    if values.size < 64:
        return math.inf
    return float(_robust_sigmas(values.astype(np.float64)[None])[0])


class Support:
    """The valid pixels of a tile (``mask`` None: all of them, as in most tiles) and their
    blurred weights, kept per sigma, for normalised convolutions over them."""

    def __init__(self, mask: np.ndarray | None):
        self.mask = mask
        self._weights: dict[float, tuple[np.ndarray, np.ndarray]] = {}

    def smoothed(self, image: np.ndarray, sigma: float) -> np.ndarray:
        """Gaussian blur of ``image`` (zero where not valid) normalised by the valid weight
        under the kernel; zero where less than half the weight is valid."""
        if sigma == 0.0:
            return image
        blur = _wide_blur if sigma >= 2 * PYRAMID else _blur
        num = blur(image, sigma)
        if self.mask is None:
            return num
        if sigma not in self._weights:
            den = blur(self.mask.astype(np.float32), sigma)
            self._weights[sigma] = (den, den <= 0.5)
        den, thin = self._weights[sigma]
        np.divide(num, den, out=num, where=~thin)
        num[thin] = 0.0
        return num

    def crop(self, rows: slice, cols: slice) -> Support:
        """The support of ``[rows, cols]``, sharing the weights blurred already (sliced): the
        same as its own wherever a blur does not reach the crop's edge."""
        if self.mask is None:
            return Support(None)
        part = Support(self.mask[rows, cols])
        part._weights = {
            sigma: (den[rows, cols], thin[rows, cols])
            for sigma, (den, thin) in self._weights.items()
        }
        return part


def _blur(image: np.ndarray, sigma: float) -> np.ndarray:
    ksize = 2 * math.ceil(4 * sigma) + 1
    return cv2.GaussianBlur(image, (ksize, ksize), sigma, borderType=cv2.BORDER_REFLECT)


def _wide_blur(image: np.ndarray, sigma: float) -> np.ndarray:
    """A Gaussian blur of ``sigma`` >= 2 * PYRAMID px done on a grid reduced PYRAMID times:
    block means, the rest of the blur, bilinear back up (such a blur passes nothing the reduced
    grid cannot hold). Blocks start at the array's (0, 0), which tiles keep on a multiple of
    PYRAMID in the image, so tiled and whole runs agree."""
    h, w = image.shape
    pad_h, pad_w = -h % PYRAMID, -w % PYRAMID
    if pad_h or pad_w:
        image = cv2.copyMakeBorder(image, 0, pad_h, 0, pad_w, cv2.BORDER_REFLECT)
    small = cv2.resize(
        image,
        (image.shape[1] // PYRAMID, image.shape[0] // PYRAMID),
        interpolation=cv2.INTER_AREA,
    )
    small = _blur(small, _rest_sigma(sigma))
    big = cv2.resize(small, (image.shape[1], image.shape[0]), interpolation=cv2.INTER_LINEAR)
    return big[:h, :w]


def _rest_sigma(sigma: float) -> float:
    """The sigma (reduced px) of the reduced grid's blur in a wide blur over ``sigma`` (px)."""
    # block means and the bilinear return already smooth by variances (P^2 - 1) / 12 and
    # about P^2 / 6 (full-resolution px^2); the reduced grid's blur adds the rest
    return math.sqrt(sigma**2 - (PYRAMID**2 - 1) / 12 - PYRAMID**2 / 6) / PYRAMID


def significance(
    resid: np.ndarray,
    support: Support,
    level: np.ndarray,
    core: tuple[slice, slice],
    origin: tuple[int, int],
    params: DetectParams = DEFAULT,
) -> tuple[np.ndarray, np.ndarray, BlockNoise, np.ndarray, BlockNoise]:
    """Signed significance of the residual over ``core``.

    At each pixel, of the ``params.scales``, the one whose filtered residual stands out most
    against its noise; its absolute value; the noise of the first scale; and the local
    structure of both images (each image less its blur over ``params.structure`` px: BEFORE's
    ``level`` and AFTER's ``level + resid``) where the significance was computed, zero
    elsewhere. ``resid`` is zero where not valid. The noise is the robust sigma of the
    filtered residual in blocks anchored at ``origin`` (the array position of the image origin
    modulo BLOCK), plus what unchanged ground could leave there, of whichever image would
    leave less: ``params.kappa`` times its local structure filtered the same way, as another
    sun re-shades relief (``_shading``), and the block's measured displacement
    (``block_displacement``, at most ``params.displacement``) times that structure's
    gradient (``_slope``), as its sharp features seem to move by a fraction of a pixel
    between looks. Unchanged relief has structure in both images, while an object that
    appeared (structure in AFTER only) or vanished (in BEFORE only) is weighed against the
    ground around it, not against itself.

    That energy only lowers significance, so it (and the structure) is computed only around
    the regions that the block noise alone makes candidates (a pixel over ``params.t_high``,
    or touching the core's edge where a region may go on in the next tile), and the
    displacement's term only where the shading's alone leaves a pixel over ``params.t_low``
    in a region that can still reach ``params.t_high``; everywhere else the significance is
    left at zero. The pixels of every region that counts get exactly the values a
    computation over the whole tile gives.

    Parameters
    ----------
    resid : numpy.ndarray
        The residual AFTER - level over the tile with its halo (zero where not valid), less
        any modelled re-shading.
    support : Support
        The tile's valid pixels.
    level : numpy.ndarray
        BEFORE mapped onto AFTER's brightness, over the same pixels.
    core : tuple of slice
        The tile's core within those arrays.
    origin : tuple of int
        The array position (row, col) of the image origin.
    params : DetectParams
        The thresholds and filters.

    Returns
    -------
    best, strength : numpy.ndarray
        The signed significance over the core and its absolute value (sigma).
    noise : BlockNoise
        The block noise of the first scale.
    structure : numpy.ndarray
        Shape (2, *core): BEFORE's and AFTER's local structure where the significance was
        computed.
    moved : BlockNoise
        The displacement measured in each block (px; ``block_displacement``).
    """
    ok = None if support.mask is None else support.mask[core]
    filtered = [support.smoothed(resid, sigma)[core] for sigma in params.scales]
    noises = [block_noise(values, ok, BLOCK, origin) for values in filtered]
    moved = block_displacement(resid, level, core, ok, origin, params.displacement)
    upper = _largest_ratio(filtered, noises)
    if ok is not None:
        upper[~ok] = 0.0
    # one array for the four maps that stay zero outside the boxes: larger than the largest
    # block malloc takes from its heap, so the kernel gives it zeroed pages as they are first
    # touched (most never are) instead of a memset of each (a fifth of a tile's time)
    maps = np.zeros((4, *upper.shape), np.float32)
    best, strength, structure = maps[0], maps[1], maps[2:]
    boxes = _candidate_boxes(upper, params)
    # each box with a margin wide enough for the filter and the energy's average
    reach = clutter_reach(params)
    crops = [
        (
            max(y0 + core[0].start - reach, 0),
            min(y1 + core[0].start + reach, resid.shape[0]),
            max(x0 + core[1].start - reach, 0),
            min(x1 + core[1].start + reach, resid.shape[1]),
        )
        for y0, y1, x0, x1 in boxes
    ]
    before_structures = _local_structure(level, support, crops, params)
    after_structures = _local_structure(level + resid if crops else level, support, crops, params)
    for (y0, y1, x0, x1), (y0h, y1h, x0h, x1h), local_before, local_after in zip(
        boxes, crops, before_structures, after_structures, strict=True
    ):
        local_support = support.crop(slice(y0h, y1h), slice(x0h, x1h))
        inner = (
            slice(y0 + core[0].start - y0h, y1 + core[0].start - y0h),
            slice(x0 + core[1].start - x0h, x1 + core[1].start - x0h),
        )
        box = (slice(y0, y1), slice(x0, x1))
        structure[0][box] = local_before[inner]
        structure[1][box] = local_after[inner]
        shift2 = np.square(moved.box(box))
        bounds = []  # per scale, with what the displacement's term needs
        for values, noise, sigma in zip(filtered, noises, params.scales, strict=True):
            seen = [local_support.smoothed(s, sigma) for s in (local_before, local_after)]
            shaded = [_shading(s, local_support, inner, sigma, params) for s in seen]
            floor = noise.box(box) ** 2
            bounds.append((values[box] / np.sqrt(floor + np.minimum(*shaded)), seen, shaded, floor))
        # the displacement's term only lowers the significance: a region off the core's
        # edge that does not reach params.t_high without it never counts
        interior = y0 > 0 and x0 > 0 and y1 < upper.shape[0] and x1 < upper.shape[1]
        if interior and max(np.abs(sig).max() for sig, *_ in bounds) < params.t_high:
            continue
        for values, sigma, (sig, seen, shaded, floor) in zip(
            filtered, params.scales, bounds, strict=True
        ):
            if shift2.any():
                if np.abs(sig).max() < params.t_low:
                    continue  # no pixel of a region here
                clutter = np.minimum(
                    *(
                        energy + shift2 * _slope(s, local_support, inner, sigma, params)
                        for s, energy in zip(seen, shaded, strict=True)
                    )
                )
                sig = values[box] / np.sqrt(floor + clutter)
            _keep_best(sig, best[box], strength[box])
    if ok is not None:
        best[~ok] = 0.0
        strength[~ok] = 0.0
    return best, strength, noises[0], structure, moved


def _keep_best(sig: np.ndarray, best: np.ndarray, strength: np.ndarray) -> None:
    """Where ``sig`` stands out more than ``strength``, write it to ``best`` and its absolute
    value to ``strength`` (views of the maps)."""
    magnitude = np.abs(sig)
    better = magnitude > strength
    best[better] = sig[better]
    strength[better] = magnitude[better]


def _shading(
    seen: np.ndarray,
    support: Support,
    inner: tuple[slice, slice],
    scale: float,
    params: DetectParams = DEFAULT,
) -> np.ndarray:
    """Over ``inner``, the residual variance that one image's unchanged structure, seen
    through the matched filter of sigma ``scale`` (``seen``), could leave as another sun
    re-shades it: ``params.kappa`` squared times its energy averaged over
    ``energy_sigma(scale)`` px."""
    energy = support.smoothed(np.square(seen), energy_sigma(scale, params))[inner]
    energy *= params.kappa**2
    return energy


def _slope(
    seen: np.ndarray,
    support: Support,
    inner: tuple[slice, slice],
    scale: float,
    params: DetectParams = DEFAULT,
) -> np.ndarray:
    """Over ``inner``, the gradient energy of one image's structure seen through the matched
    filter of sigma ``scale`` (``seen``) averaged over ``energy_sigma(scale)`` px: the
    residual variance per px^2 of displacement that its sharp features leave if they seem to
    move between looks."""
    slope = np.square(cv2.Sobel(seen, -1, 1, 0, ksize=1, scale=0.5, borderType=EDGE))
    slope += np.square(cv2.Sobel(seen, -1, 0, 1, ksize=1, scale=0.5, borderType=EDGE))
    return support.smoothed(slope, energy_sigma(scale, params))[inner]


EDGE = cv2.BORDER_REPLICATE  # central differences, one-sided (halved) at a crop's edge
SHARPEST = 0.01  # share of a block's pixels, those of most gradient, a displacement is fit on


def block_displacement(
    resid: np.ndarray,
    level: np.ndarray,
    core: tuple[slice, slice],
    ok: np.ndarray | None,
    origin: tuple[int, int],
    largest: float,
) -> BlockNoise:
    """Per noise block of ``core``, how far BEFORE's sharp structure seems to have moved
    between the looks (px, 0 to ``largest``), measured on every 2nd pixel of every 2nd row:
    where ``level``'s gradient energy is in the block's top ``SHARPEST``, the residual's
    robust variance beyond the block's, over their mean gradient energy. Undersampled ground
    seen at another sampling phase, or relief whose shading moved with the sun, leaves such a
    residual along its sharpest edges; well-sampled ground registered exactly leaves none, and
    gets none. Robust, so that a change on a few of those pixels (an object whose contrast
    changed) does not raise its own block's allowance."""
    rows, cols = core
    height, width = rows.stop - rows.start, cols.stop - cols.start
    ys, xs = _block_starts((height, width), BLOCK, origin)
    # samples at even offsets from each block's start (blocks start on even rows: BLOCK even)
    r_off, c_off = ys[0] % 2, xs[0] % 2
    sample = (slice(rows.start + r_off, rows.stop, 2), slice(cols.start + c_off, cols.stop, 2))
    values = resid[sample]
    slope = np.square(_central(level, sample, 0)) + np.square(_central(level, sample, 1))
    keep = None if ok is None else ok[r_off::2, c_off::2]
    moved = np.zeros((len(ys), len(xs)), np.float32)
    for j, y0 in enumerate(ys):
        for i, x0 in enumerate(xs):
            sl = (
                slice(max(y0, 0) // 2, (y0 + BLOCK) // 2),
                slice(max(x0, 0) // 2, (x0 + BLOCK) // 2),
            )
            r, g = values[sl], slope[sl]
            if keep is not None:
                r, g = r[keep[sl]], g[keep[sl]]
            r, g = r.ravel(), g.ravel()
            n = int(SHARPEST * r.size)
            if n < 32:  # under a fifth of the block valid: nothing measured
                continue
            sharp = np.argpartition(g, r.size - n)[r.size - n :]
            excess = _robust_sigma(r[sharp]) ** 2 - _robust_sigma(r[::4]) ** 2
            energy = float(g[sharp].mean())
            if excess > 0 and energy > 0:
                moved[j, i] = min(largest, math.sqrt(excess / energy))
    return BlockNoise.on_blocks(moved, (height, width), BLOCK, ys, xs)


def _central(image: np.ndarray, at: tuple[slice, slice], axis: int) -> np.ndarray:
    """The central difference of ``image`` along ``axis`` at the pixels ``at`` (strided
    slices), one-sided at the array's edge, as ``np.gradient``."""
    rows, cols = at
    n = image.shape[axis]
    step = at[axis]
    taken = range(*step.indices(n))
    first, last = taken[0], taken[-1]
    if first >= 1 and last + 1 < n:  # inside the array: two strided views
        lo = slice(first - 1, last, step.step)
        hi = slice(first + 1, last + 2, step.step)
        if axis == 0:
            return (image[hi, cols] - image[lo, cols]) / 2
        return (image[rows, hi] - image[rows, lo]) / 2
    ends = np.asarray(taken)
    below, above = np.maximum(ends - 1, 0), np.minimum(ends + 1, n - 1)
    width = (above - below).astype(np.float32)
    if axis == 0:
        return (image[above][:, cols] - image[below][:, cols]) / width[:, None]
    return (image[rows][:, above] - image[rows][:, below]) / width[None, :]


def _local_structure(
    level: np.ndarray,
    support: Support,
    crops: list[tuple[int, int, int, int]],
    params: DetectParams = DEFAULT,
) -> list[np.ndarray]:
    """The local structure (``level`` less its blur over ``params.structure`` px) over each
    crop (y0, y1, x0, x1): blurred over the crop widened by ``structure_reach``, or over the
    whole array once when the widened crops would cover more than half of it. The same values
    either way."""
    height, width = level.shape
    reach = structure_reach(params)
    widened = [
        (
            max(0, (y0 - reach) // PYRAMID * PYRAMID),
            min(height, y1 + reach),
            max(0, (x0 - reach) // PYRAMID * PYRAMID),
            min(width, x1 + reach),
        )
        for y0, y1, x0, x1 in crops
    ]
    if sum((y1 - y0) * (x1 - x0) for y0, y1, x0, x1 in widened) > level.size // 2:
        whole = level - support.smoothed(level, params.structure)
        return [whole[y0:y1, x0:x1] for y0, y1, x0, x1 in crops]
    out = []
    for (y0, y1, x0, x1), (wy0, wy1, wx0, wx1) in zip(crops, widened, strict=True):
        part = level[wy0:wy1, wx0:wx1]
        local = support.crop(slice(wy0, wy1), slice(wx0, wx1))
        part = part - local.smoothed(part, params.structure)
        out.append(part[y0 - wy0 : y1 - wy0, x0 - wx0 : x1 - wx0])
    return out


def _candidate_boxes(
    upper: np.ndarray, params: DetectParams = DEFAULT
) -> list[tuple[int, int, int, int]]:
    """Bounding boxes (y0, y1, x0, x1) of the regions of ``upper`` >= ``params.t_low`` that
    reach ``params.t_high`` or touch the array's edge (taken from their pixels, a few per cent
    of the array: OpenCV's statistics over every pixel cost seven times the labelling)."""
    low = upper >= params.t_low
    count, labels = cv2.connectedComponents(low.view(np.uint8), connectivity=8, ltype=cv2.CV_32S)
    flat = labels.ravel()
    chosen = np.zeros(count, bool)
    chosen[flat[np.flatnonzero(upper >= params.t_high)]] = True
    for side in (labels[0], labels[-1], labels[:, 0], labels[:, -1]):
        chosen[side] = True
    chosen[0] = False  # the background
    pixels = np.flatnonzero(low)
    label = flat[pixels]
    inside = chosen[label]
    rows, cols = np.divmod(pixels[inside], upper.shape[1])
    label = label[inside]
    y0, x0 = np.full(count, upper.size), np.full(count, upper.size)
    y1, x1 = np.full(count, -1), np.full(count, -1)
    np.minimum.at(y0, label, rows)
    np.maximum.at(y1, label, rows)
    np.minimum.at(x0, label, cols)
    np.maximum.at(x1, label, cols)
    boxes = [
        (int(y0[k]), int(y1[k]) + 1, int(x0[k]), int(x1[k]) + 1) for k in np.flatnonzero(chosen)
    ]
    return _merge_by_side(boxes, *upper.shape)


def _merge_by_side(
    boxes: list[tuple[int, int, int, int]], height: int, width: int
) -> list[tuple[int, int, int, int]]:
    """The boxes touching each side of the array (mostly small regions of noise that may go on
    in the next tile) merged into one box per side: one computation instead of dozens. A box
    may cover more than its regions; that changes no value."""
    inner: list[tuple[int, int, int, int]] = []
    sides: dict[int, list[tuple[int, int, int, int]]] = {0: [], 1: [], 2: [], 3: []}
    for box in boxes:
        y0, y1, x0, x1 = box
        touches = (y0 == 0, y1 == height, x0 == 0, x1 == width)
        side = next((i for i, t in enumerate(touches) if t), None)
        (inner if side is None else sides[side]).append(box)
    for group in sides.values():
        if group:
            y0, y1, x0, x1 = zip(*group, strict=True)
            inner.append((min(y0), max(y1), min(x0), max(x1)))
    return inner


@dataclass
class BlockNoise:
    """A robust sigma per block of an array; ``rows`` and ``cols`` give the block of each of
    its rows and columns (no per-pixel copy: a tile's worth of those would weigh 16 MB)."""

    sigmas: np.ndarray
    rows: np.ndarray
    cols: np.ndarray

    @classmethod
    def on_blocks(
        cls, sigmas: np.ndarray, shape: tuple[int, int], block: int, ys: list, xs: list
    ) -> BlockNoise:
        """``sigmas`` of the blocks starting at rows ``ys`` and columns ``xs`` (the first at
        or before 0) over an array of ``shape``."""
        rows = (np.arange(shape[0]) - ys[0]) // block
        return cls(sigmas, rows, (np.arange(shape[1]) - xs[0]) // block)

    def at(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """The noise at pixels (rows, cols)."""
        return self.sigmas[self.rows[rows], self.cols[cols]]

    def box(self, box: tuple[slice, slice]) -> np.ndarray:
        """The noise over the pixels of ``box``."""
        return self.sigmas[np.ix_(self.rows[box[0]], self.cols[box[1]])]

    def bands(self) -> list[tuple[int, int]]:
        """(start, stop) of the rows of each band of blocks."""
        starts = np.flatnonzero(np.diff(self.rows, prepend=-1)).tolist()
        return list(zip(starts, [*starts[1:], self.rows.size], strict=True))

    def row(self, start: int) -> np.ndarray:
        """The noise along row ``start`` (one value per column)."""
        return self.sigmas[self.rows[start], self.cols]


def _largest_ratio(filtered: list[np.ndarray], noises: list[BlockNoise]) -> np.ndarray:
    """Per pixel, the largest |filtered| / block noise over the scales, computed one band of
    blocks at a time so that the arithmetic on each band stays in the cache (on the whole
    tile, each step would stream it from memory again)."""
    upper = np.empty(filtered[0].shape, np.float32)
    for start, stop in noises[0].bands():
        band = upper[start:stop]
        scratch = np.empty_like(band)
        for k, (values, noise) in enumerate(zip(filtered, noises, strict=True)):
            target = band if k == 0 else scratch
            np.abs(values[start:stop], out=target)
            target /= noise.row(start)[None, :]
            if k:
                np.maximum(band, scratch, out=band)
    return upper


def block_noise(
    values: np.ndarray, ok: np.ndarray | None, block: int, origin: tuple[int, int]
) -> BlockNoise:
    """The robust sigma of ``values`` in blocks anchored so that a block edge falls at
    ``origin``, each taken on every 4th pixel of every 4th row (4,096 samples in a full
    block)."""
    ys, xs = _block_starts(values.shape, block, origin)
    sigmas = np.empty((len(ys), len(xs)), np.float32)
    full = ok is None and ys[0] == 0 and xs[0] == 0
    n_y = values.shape[0] // block if full else 0
    n_x = values.shape[1] // block if full else 0
    if n_y and n_x:  # whole blocks, all valid: one vectorised pass
        step = block // 4
        sample = values[: n_y * block : 4, : n_x * block : 4].reshape(n_y, step, n_x, step)
        sample = sample.transpose(0, 2, 1, 3).reshape(n_y, n_x, step * step)
        sigmas[:n_y, :n_x] = _robust_sigmas(sample)
    for j, y0 in enumerate(ys):
        for i, x0 in enumerate(xs):
            if j < n_y and i < n_x:
                continue
            sl = (slice(max(y0, 0), y0 + block), slice(max(x0, 0), x0 + block))
            sample = values[sl][::4, ::4]
            if ok is not None:
                sample = sample[ok[sl][::4, ::4]]
            sigmas[j, i] = _robust_sigma(sample.ravel())
    return BlockNoise.on_blocks(sigmas, values.shape, block, ys, xs)


def _block_starts(
    shape: tuple[int, int], block: int, origin: tuple[int, int]
) -> tuple[list[int], list[int]]:
    """The first row and column of each block over an array of ``shape``, anchored so that a
    block edge falls at ``origin`` (the first at or before 0)."""
    ys, xs = (
        list(range(o % block - block if o % block else 0, n, block))
        for o, n in zip(origin, shape, strict=True)
    )
    return ys, xs


def _robust_sigmas(samples: np.ndarray) -> np.ndarray:
    """The robust sigma of ``_robust_sigma`` along the last axis of ``samples`` (every
    sample valid, at least one; reordered in place)."""
    med = _median_in_place(samples)
    dev = np.abs(samples - med[..., None])
    sigma = 1.4826 * _median_in_place(dev.copy())
    flat = sigma == 0.0
    if flat.any():
        sigma[flat] = 1.2533 * dev.mean(axis=-1)[flat]
    sigma[~(sigma > 0)] = np.inf
    return sigma


def _median_in_place(values: np.ndarray) -> np.ndarray:
    """``np.median`` along the last axis, with one partition instead of its two (the lower
    middle value of an even count is the largest below the upper one)."""
    n = values.shape[-1]
    k = n // 2
    values.partition(k, axis=-1)
    upper = values[..., k]
    if n % 2:
        return upper.copy()
    return (values[..., :k].max(axis=-1) + upper) / 2
