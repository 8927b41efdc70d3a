"""Change significance and candidate spots.

The AFTER image is compared with the registered BEFORE image mapped onto AFTER's brightness
(``photometry``). The residual is tested against the
local noise at several spatial scales, from single pixels to faint patches tens of pixels
across (blast zones, crash fans). Candidates are connected regions over a low threshold that
hold at least one pixel over a high threshold, and whose change outweighs the BEFORE image's own
local structure (a different sun on unchanged craters changes their shading, not the ground).

Everything is computed tile by tile with a halo, on a block grid anchored at the image origin,
so a tiled run gives the same candidates as a whole-image run: regions that cross tile borders
are stitched and their moments (which add) combined.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import cv2
import numpy as np
from rasterio.windows import Window

from .photometry import Photometry

BLOCK = 256  # full-resolution pixels per side of a noise block
COARSE = 8  # reduction factor of the images that registration and photometry use
SCALES = (0.0, 1.0, 2.0)  # Gaussian sigmas (px) of the matched filters
T_HIGH = 5.5  # significance (sigma) a candidate must reach somewhere
T_LOW = 3.0  # significance that joins pixels to a candidate
HALO = 64  # > the widest filter support (4 x (STRUCTURE + sigma + CLUTTER)), plus EDGE
PYRAMID = 4  # reduction of the grid on which blurs of sigma >= 2 * PYRAMID px are done
STRUCTURE = 10.0  # sigma (px) separating the BEFORE image's local structure from its level
CLUTTER = 2.0  # sigma (px) over which the energy of that structure is averaged
CLUTTER_REACH = math.ceil(4 * max(SCALES)) + math.ceil(4 * CLUTTER)  # px the energy depends on
NOVELTY = 2.0  # a candidate's change energy over the BEFORE image's local structure energy
KAPPA = 0.5  # share of the BEFORE image's local structure a change of sun can leave behind
EDGE = 2  # pixels ignored along no-data edges (interpolation artefacts)
MERGE_GAP = 2  # pixels between two regions that are parts of one object
LINE_GAP = 8  # pixels between collinear fragments of one thin track


# --------------------------------------------------------------------------- significance


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
    # block means and the bilinear return already smooth by variances (P^2 - 1) / 12 and
    # about P^2 / 6 (full-resolution px^2); the reduced grid's blur adds the rest
    rest = math.sqrt(sigma**2 - (PYRAMID**2 - 1) / 12 - PYRAMID**2 / 6) / PYRAMID
    small = _blur(small, rest)
    big = cv2.resize(small, (image.shape[1], image.shape[0]), interpolation=cv2.INTER_LINEAR)
    return big[:h, :w]


def significance(
    resid: np.ndarray,
    support: Support,
    level: np.ndarray,
    core: tuple[slice, slice],
    origin: tuple[int, int],
) -> tuple[np.ndarray, np.ndarray, BlockNoise, np.ndarray]:
    """Signed significance of the residual over ``core``: at each pixel, of the SCALES, the
    one whose filtered residual stands out most against its noise; its absolute value; the
    noise of the first scale; and the BEFORE image's local structure (``level`` less its blur
    over STRUCTURE px) where the significance was computed, zero elsewhere. ``resid`` is zero
    where not valid. The noise is the robust sigma of the filtered residual in blocks anchored
    at ``origin`` (the array position of the image origin modulo BLOCK), plus KAPPA times the
    local energy of the structure filtered the same way: another sun can turn the shading of
    unchanged relief into a residual of about that size.

    That energy only lowers significance, so it (and the structure) is computed only around
    the regions that the block noise alone makes candidates (a pixel over T_HIGH, or touching
    the core's edge where a region may go on in the next tile); everywhere else the
    significance is left at zero. Those regions' pixels get exactly the values a computation
    over the whole tile gives."""
    ok = None if support.mask is None else support.mask[core]
    filtered = [support.smoothed(resid, sigma)[core] for sigma in SCALES]
    noises = [block_noise(values, ok, BLOCK, origin) for values in filtered]
    upper = _largest_ratio(filtered, noises)
    if ok is not None:
        upper[~ok] = 0.0
    # one array for the three maps that stay zero outside the boxes: larger than the largest
    # block malloc takes from its heap, so the kernel gives it zeroed pages as they are first
    # touched (most never are) instead of a memset of each (a fifth of a tile's time)
    best, strength, structure = np.zeros((3, *upper.shape), np.float32)
    boxes = _candidate_boxes(upper)
    # each box with a margin wide enough for the filter and the energy's average
    crops = [
        (
            max(y0 + core[0].start - CLUTTER_REACH, 0),
            min(y1 + core[0].start + CLUTTER_REACH, resid.shape[0]),
            max(x0 + core[1].start - CLUTTER_REACH, 0),
            min(x1 + core[1].start + CLUTTER_REACH, resid.shape[1]),
        )
        for y0, y1, x0, x1 in boxes
    ]
    local_structures = _local_structure(level, support, crops)
    for (y0, y1, x0, x1), (y0h, y1h, x0h, x1h), local_structure in zip(
        boxes, crops, local_structures, strict=True
    ):
        local_support = support.crop(slice(y0h, y1h), slice(x0h, x1h))
        inner = (
            slice(y0 + core[0].start - y0h, y1 + core[0].start - y0h),
            slice(x0 + core[1].start - x0h, x1 + core[1].start - x0h),
        )
        box = (slice(y0, y1), slice(x0, x1))
        structure[box] = local_structure[inner]
        for values, noise, sigma in zip(filtered, noises, SCALES, strict=True):
            energy = np.square(local_support.smoothed(local_structure, sigma))
            clutter = local_support.smoothed(energy, CLUTTER)[inner]
            sig = values[box] / np.sqrt(noise.box(box) ** 2 + KAPPA**2 * clutter)
            magnitude = np.abs(sig)
            better = magnitude > strength[box]
            best[box][better] = sig[better]
            strength[box][better] = magnitude[better]
    if ok is not None:
        best[~ok] = 0.0
        strength[~ok] = 0.0
    return best, strength, noises[0], structure


# px beyond a crop that its structure depends on (the wide blur's support: 48 px), a multiple
# of PYRAMID so that a crop's blur uses the same reduced grid as the whole array's
STRUCTURE_REACH = 64


def _local_structure(
    level: np.ndarray, support: Support, crops: list[tuple[int, int, int, int]]
) -> list[np.ndarray]:
    """The local structure (``level`` less its blur over STRUCTURE px) over each crop (y0, y1,
    x0, x1): blurred over the crop widened by STRUCTURE_REACH, or over the whole array once
    when the widened crops would cover more than half of it. The same values either way."""
    height, width = level.shape
    widened = [
        (
            max(0, (y0 - STRUCTURE_REACH) // PYRAMID * PYRAMID),
            min(height, y1 + STRUCTURE_REACH),
            max(0, (x0 - STRUCTURE_REACH) // PYRAMID * PYRAMID),
            min(width, x1 + STRUCTURE_REACH),
        )
        for y0, y1, x0, x1 in crops
    ]
    if sum((y1 - y0) * (x1 - x0) for y0, y1, x0, x1 in widened) > level.size // 2:
        whole = level - support.smoothed(level, STRUCTURE)
        return [whole[y0:y1, x0:x1] for y0, y1, x0, x1 in crops]
    out = []
    for (y0, y1, x0, x1), (wy0, wy1, wx0, wx1) in zip(crops, widened, strict=True):
        part = level[wy0:wy1, wx0:wx1]
        part = part - support.crop(slice(wy0, wy1), slice(wx0, wx1)).smoothed(part, STRUCTURE)
        out.append(part[y0 - wy0 : y1 - wy0, x0 - wx0 : x1 - wx0])
    return out


def _candidate_boxes(upper: np.ndarray) -> list[tuple[int, int, int, int]]:
    """Bounding boxes (y0, y1, x0, x1) of the regions of ``upper`` >= T_LOW that reach
    T_HIGH or touch the array's edge (taken from their pixels, a few per cent of the array:
    OpenCV's statistics over every pixel cost seven times the labelling)."""
    low = upper >= T_LOW
    count, labels = cv2.connectedComponents(low.view(np.uint8), connectivity=8, ltype=cv2.CV_32S)
    flat = labels.ravel()
    chosen = np.zeros(count, bool)
    chosen[flat[np.flatnonzero(upper >= T_HIGH)]] = True
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
    oy, ox = origin
    ys = list(range(oy % block - block if oy % block else 0, values.shape[0], block))
    xs = list(range(ox % block - block if ox % block else 0, values.shape[1], block))
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
    # the first block starts at ys[0] <= 0
    rows = (np.arange(values.shape[0]) - ys[0]) // block
    cols = (np.arange(values.shape[1]) - xs[0]) // block
    return BlockNoise(sigmas, rows, cols)


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


# --------------------------------------------------------------------------- regions


MOMENTS = (
    "n",
    "w",
    "wx",
    "wy",
    "wxx",
    "wyy",
    "wxy",
    "r",
    "rpos",
    "rneg",
    "level",
    "wpx",
    "wpy",
    "wp",
    "wnx",
    "wny",
    "wn",
    "npos",
    "nneg",
    "rr",
    "ss",
    "nsharp",
)


@dataclass
class Regions:
    """Additive moments of labelled regions, plus extremes, as parallel arrays."""

    sums: dict[str, np.ndarray]
    peak: np.ndarray  # largest |significance|
    seeded: np.ndarray  # holds a pixel over T_HIGH
    bbox: np.ndarray  # (n, 4): x0, y0, x1, y1 inclusive

    @classmethod
    def empty(cls) -> Regions:
        return cls(
            {k: np.zeros(0) for k in MOMENTS}, np.zeros(0), np.zeros(0, bool), np.zeros((0, 4), int)
        )

    def __len__(self) -> int:
        return self.peak.size

    def subset(self, keep: np.ndarray) -> Regions:
        return Regions(
            {k: v[keep] for k, v in self.sums.items()},
            self.peak[keep],
            self.seeded[keep],
            self.bbox[keep],
        )


def measure_regions(
    labels: np.ndarray,
    count: int,
    resid: np.ndarray,
    sig: np.ndarray,
    level: np.ndarray,
    seed: np.ndarray,
    x0: int,
    y0: int,
    structure: np.ndarray | None = None,
    noise: BlockNoise | None = None,
) -> Regions:
    """Moments of regions 1..count of ``labels`` (arrays cover the same pixels; the array's
    pixel (0, 0) is image pixel (x0, y0)). ``structure`` is the BEFORE image's own local
    contrast, against which the change's energy is weighed; ``noise`` the per-pixel noise of
    the residual, which sets how much each pixel weighs in the centroid and shape."""
    rows, cols = np.divmod(np.flatnonzero(labels > 0), labels.shape[1])  # bool: numpy's fast path
    lab = labels[rows, cols] - 1
    r = resid[rows, cols].astype(np.float64)
    core = np.abs(sig[rows, cols]) >= T_LOW
    # centroid and shape weigh each pixel by how far its own change stands above the noise
    # (soft threshold at 2 sigma), so the noisy wings of a region barely count
    floor = 2.0 * noise.at(rows, cols) if noise is not None else 0.0
    w = np.maximum(np.abs(r) - floor, 0.0) + 1e-3 * np.abs(r)
    sharp = np.abs(r) >= 1.25 * floor
    x = cols + float(x0)
    y = rows + float(y0)
    pos = r > 0
    terms = {
        "n": core.astype(float),
        "w": w,
        "wx": w * x,
        "wy": w * y,
        "wxx": w * x * x,
        "wyy": w * y * y,
        "wxy": w * x * y,
        "r": r,
        "rpos": np.where(pos, r, 0.0),
        "rneg": np.where(pos, 0.0, r),
        "level": level[rows, cols].astype(np.float64),
        "wpx": np.where(pos, w * x, 0.0),
        "wpy": np.where(pos, w * y, 0.0),
        "wp": np.where(pos, w, 0.0),
        "wnx": np.where(pos, 0.0, w * x),
        "wny": np.where(pos, 0.0, w * y),
        "wn": np.where(pos, 0.0, w),
        "npos": (core & pos).astype(float),
        "nneg": (core & ~pos).astype(float),
        "rr": r * r,
        "nsharp": (sharp & core).astype(float),
        "ss": (
            structure[rows, cols].astype(np.float64) ** 2
            if structure is not None
            else np.zeros_like(r)
        ),
    }
    xs, ys = cols + x0, rows + y0
    boxes = np.column_stack([xs, ys, xs, ys])
    return _aggregate(lab, count, terms, np.abs(sig[rows, cols]), seed[rows, cols], boxes)


def combine_regions(parts: list[Regions], groups: np.ndarray) -> Regions:
    """Merge concatenated regions that share a group id (0..k-1)."""
    k = int(groups.max()) + 1 if groups.size else 0
    terms = {key: np.concatenate([p.sums[key] for p in parts]) for key in MOMENTS}
    return _aggregate(
        groups,
        k,
        terms,
        np.concatenate([p.peak for p in parts]),
        np.concatenate([p.seeded for p in parts]),
        np.concatenate([p.bbox for p in parts]),
    )


def _aggregate(
    groups: np.ndarray,
    k: int,
    terms: dict[str, np.ndarray],
    peak: np.ndarray,
    seeded: np.ndarray,
    boxes: np.ndarray,
) -> Regions:
    """Regions 0..k-1 from items labelled by ``groups``: moments add, peaks take the largest,
    seeds any, boxes (x0, y0, x1, y1) their union."""
    sums = {key: np.bincount(groups, terms[key], minlength=k) for key in MOMENTS}
    top = np.zeros(k)
    np.maximum.at(top, groups, peak)
    any_seed = np.zeros(k, bool)
    np.logical_or.at(any_seed, groups, seeded)
    bbox = np.empty((k, 4), int)
    bbox[:, 0:2] = np.iinfo(np.int64).max
    bbox[:, 2:4] = np.iinfo(np.int64).min
    for col in (0, 1):
        np.minimum.at(bbox[:, col], groups, boxes[:, col])
        np.maximum.at(bbox[:, col + 2], groups, boxes[:, col + 2])
    return Regions(sums, top, any_seed, bbox)


class UnionFind:
    """Disjoint sets over 0..n-1."""

    def __init__(self, n: int):
        self.parent = np.arange(n)

    def find(self, i: int) -> int:
        root = i
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[i] != root:
            self.parent[i], i = root, self.parent[i]
        return root

    def union(self, i: int, j: int) -> None:
        ri, rj = self.find(i), self.find(j)
        if ri != rj:
            self.parent[max(ri, rj)] = min(ri, rj)

    def groups(self) -> np.ndarray:
        """Consecutive group ids, one per set."""
        roots = self.parent.copy()
        while True:  # pointer jumping until every node points at its root
            nxt = roots[roots]
            if np.array_equal(nxt, roots):
                break
            roots = nxt
        _, ids = np.unique(roots, return_inverse=True)
        return ids


@dataclass
class TileMaps:
    """The per-pixel results of one tile core: significance (signed, and its absolute value
    ``strength``), residual, BEFORE's level, its local structure (where the significance was
    computed: around every region that may count), the block noise, the valid pixels (None:
    all), and the pixel (x0, y0) of the image at the core's (0, 0)."""

    sig: np.ndarray
    strength: np.ndarray
    resid: np.ndarray
    level: np.ndarray
    structure: np.ndarray
    noise: BlockNoise
    ok: np.ndarray | None
    x0: int
    y0: int

    @property
    def seed(self) -> np.ndarray:
        """Pixels significant enough to make a candidate."""
        seed = self.strength >= T_HIGH
        return seed if self.ok is None else seed & self.ok

    @property
    def region(self) -> np.ndarray:
        """Pixels significant enough to join a candidate."""
        region = self.strength >= T_LOW
        return region if self.ok is None else region & self.ok

    @property
    def valid_px(self) -> int:
        """Pixels of the core that were searched."""
        return self.strength.size if self.ok is None else int(self.ok.sum())

    def measure(self, labels: np.ndarray, count: int) -> Regions:
        """The moments of regions 1..count of ``labels`` (over the core)."""
        return measure_regions(
            labels,
            count,
            self.resid,
            self.sig,
            self.level,
            self.seed,
            self.x0,
            self.y0,
            self.structure,
            self.noise,
        )


def tile_maps(
    core: Window,
    read_after: Callable[[Window], np.ndarray],
    read_before: Callable[[Window], np.ndarray],
    phot: Photometry,
    width: int,
    height: int,
) -> TileMaps:
    """Residual and significance over ``core`` (read with a HALO around it): the same values
    whatever the tiling, for any core whose edges lie on the BLOCK grid or the image's edge."""
    x0 = max(0, core.col_off - HALO)
    y0 = max(0, core.row_off - HALO)
    x1 = min(width, core.col_off + int(core.width) + HALO)
    y1 = min(height, core.row_off + int(core.height) + HALO)
    window = Window(x0, y0, x1 - x0, y1 - y0)
    after = read_after(window)
    before = read_before(window)
    level = phot.level(before, window)
    resid = np.subtract(after, level, out=after)
    valid = np.isfinite(resid)
    if valid.all():
        support = Support(None)
    else:
        valid = cv2.erode(
            valid.astype(np.uint8),
            np.ones((2 * EDGE + 1,) * 2, np.uint8),
            borderType=cv2.BORDER_REPLICATE,
        ).astype(bool)
        resid[~valid] = 0.0
        level[~valid] = 0.0
        support = Support(valid)
    cy, cx = core.row_off - y0, core.col_off - x0
    sl = (slice(cy, cy + int(core.height)), slice(cx, cx + int(core.width)))
    # noise blocks are anchored at the image origin, in the core's array coordinates
    sig, strength, noise, structure = significance(
        resid, support, level, sl, origin=(-core.row_off, -core.col_off)
    )
    ok = None if support.mask is None else support.mask[sl]
    return TileMaps(
        sig, strength, resid[sl], level[sl], structure, noise, ok, core.col_off, core.row_off
    )


# --------------------------------------------------------------------------- tile loop


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
    extra: dict = field(default_factory=dict)


def detect_changes(
    read_after: Callable[[Window], np.ndarray],
    read_before: Callable[[Window], np.ndarray],
    phot: Photometry,
    width: int,
    height: int,
    tile: int | None = None,
    progress: Callable[[int], None] | None = None,
    threads: int | None = None,
) -> ChangeResult:
    """Run the tile loop: residual, significance, regions; then stitch across tile borders.

    Tiles are processed by ``threads`` threads (default ``tile_threads()``; numpy and OpenCV
    release the GIL), at most ``threads + 1`` in flight, and their regions are numbered in
    tile order, so the result does not depend on the number of threads. ``read_after`` and
    ``read_before`` are called from those threads."""
    parts: list[Regions] = []
    edges: list[TileEdges] = []
    offset = 0
    valid_px = 0
    n_tiles = 0

    def process(core: Window) -> tuple:
        """All of one tile that does not depend on other tiles (runs in a worker thread)."""
        maps = tile_maps(core, read_after, read_before, phot, width, height)
        region = maps.region
        count, labels = cv2.connectedComponents(
            region.view(np.uint8), connectivity=8, ltype=cv2.CV_32S
        )
        count -= 1
        regions = maps.measure(labels, count)
        # keep regions that are candidates already or may join one across a tile border
        border = np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]])
        keep = regions.seeded.copy()
        keep[np.unique(border[border > 0]) - 1] = True
        # copies: views would keep the whole label array of every tile alive
        sides = tuple(side.copy() for side in (labels[0], labels[-1], labels[:, 0], labels[:, -1]))
        return count, regions, keep, sides, maps.valid_px

    windows = list(tile_windows(width, height, tile))
    # tiles are read bottom-up: the image's last blocks, read last by the reduced reads, may
    # still be in GDAL's block cache (16k find 0.2 s faster); results are taken in tile order
    bottom_up = windows[::-1]
    results = []
    for core, result in zip(bottom_up, _map_tiles(process, bottom_up, threads), strict=True):
        results.append(result)
        if progress:
            progress(int(core.width) * int(core.height))
    for core, (count, regions, keep, sides, n_ok) in zip(windows, results[::-1], strict=True):
        n_tiles += 1
        valid_px += n_ok
        new_id = np.full(count + 1, -1)
        new_id[1:][keep] = offset + np.arange(int(keep.sum()))
        parts.append(regions.subset(keep))
        edges.append(TileEdges(core, *(new_id[side] for side in sides)))
        offset += int(keep.sum())
    groups = _stitch(edges, offset)
    regions = combine_regions(parts, groups) if offset else Regions.empty()
    return ChangeResult(regions, width * height, n_tiles, valid_px / max(1, width * height))


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


# --------------------------------------------------------------------------- candidates


@dataclass
class Candidate:
    """One changed spot, measured in the AFTER image's pixel grid."""

    id: int
    x: float
    y: float
    area_px: float
    length_px: float
    width_px: float
    orientation_deg: float  # long axis, degrees from +x (columns) towards +y (rows)
    polarity: str
    contrast: float  # mean relative brightness change over the spot
    contrast_bright: float  # brightening, relative to the local level
    contrast_dark: float  # darkening (negative), relative to the local level
    bright_fraction: float  # share of the absolute change that is brightening
    peak_sigma: float
    score: float
    bbox: tuple[int, int, int, int]
    bright_xy: tuple[float, float] | None
    dark_xy: tuple[float, float] | None
    linear: bool
    novelty: float = math.inf  # change energy over the BEFORE image's own local structure
    cls: str = "unknown"
    gsd_m: float | None = None
    lon: float | None = None
    lat: float | None = None
    features: dict = field(default_factory=dict)

    def _metres(self, value: float, power: int = 1) -> float | None:
        return None if self.gsd_m is None else value * self.gsd_m**power

    @property
    def area_m2(self) -> float | None:
        return self._metres(self.area_px, 2)

    @property
    def length_m(self) -> float | None:
        return self._metres(self.length_px)

    @property
    def width_m(self) -> float | None:
        return self._metres(self.width_px)


def detection_score(peak_sigma: float | np.ndarray) -> float | np.ndarray:
    """Confidence that a change is real from its peak significance: 0 at T_HIGH, 0.95 at twice."""
    return np.clip(1.0 - np.exp(1.0 - (np.asarray(peak_sigma) / T_HIGH) ** 2), 0.0, 1.0)


def _shape(s: dict[str, np.ndarray]) -> tuple[np.ndarray, ...]:
    w = np.maximum(s["w"], 1e-12)
    x, y = s["wx"] / w, s["wy"] / w
    cxx = np.maximum(s["wxx"] / w - x * x, 0.0)
    cyy = np.maximum(s["wyy"] / w - y * y, 0.0)
    cxy = s["wxy"] / w - x * y
    half = np.sqrt(((cxx - cyy) / 2) ** 2 + cxy**2)
    l1 = (cxx + cyy) / 2 + half
    l2 = np.maximum((cxx + cyy) / 2 - half, 0.0)
    angle = np.degrees(0.5 * np.arctan2(2 * cxy, cxx - cyy))  # long axis, from +x towards +y
    return x, y, 4 * np.sqrt(l1), 4 * np.sqrt(l2), angle


def _merge_near(
    regions: Regions, gap: int, linear: np.ndarray, angle: np.ndarray, line_gap: int
) -> np.ndarray:
    """Group regions whose boxes lie within ``gap`` px (``line_gap`` for aligned thin ones)."""
    n = len(regions)
    uf = UnionFind(n)
    order = np.argsort(regions.bbox[:, 0])
    box = regions.bbox[order]
    reach = max(gap, line_gap)
    for a in range(n):
        for b in range(a + 1, n):
            if box[b, 0] > box[a, 2] + reach:
                break
            dx = max(0, box[b, 0] - box[a, 2], box[a, 0] - box[b, 2])
            dy = max(0, box[b, 1] - box[a, 3], box[a, 1] - box[b, 3])
            d = max(dx, dy)
            i, j = order[a], order[b]
            if d <= gap:
                uf.union(i, j)
            elif d <= line_gap and linear[i] and linear[j]:
                diff = abs((angle[i] - angle[j] + 90) % 180 - 90)
                if diff < 20:
                    uf.union(i, j)
    return uf.groups()


def _thin(length: np.ndarray, width: np.ndarray) -> np.ndarray:
    """Long, thin regions: tracks (dust devils) rather than spots."""
    return (length >= 8) & (length >= 3 * np.maximum(width, 1.0))


def candidates(result: ChangeResult, gsd_m: float | None = None) -> list[Candidate]:
    """Turn stitched regions into measured candidates: seeded regions, with the parts of one
    object (bright core, dark halo) and the fragments of one thin track merged."""
    regions = result.regions.subset(result.regions.seeded)
    if not len(regions):
        return []
    _, _, length, width, angle = _shape(regions.sums)
    groups = _merge_near(regions, MERGE_GAP, _thin(length, width), angle, LINE_GAP)
    return numbered(measure_candidates(combine_regions([regions], groups), gsd_m))


def measure_candidates(merged: Regions, gsd_m: float | None = None) -> list[Candidate]:
    """One candidate per region (numbered later), less those whose change holds no more
    energy than the BEFORE image's own local structure there."""
    s = merged.sums
    x, y, length, width, angle = _shape(s)
    # area: pixels individually over 2.5 sigma for a compact, strong change; pixels significant
    # at any scale for a faint, extended one
    area = np.where(s["nsharp"] >= 0.25 * s["n"], s["nsharp"], s["n"])
    length = np.maximum(length, np.sqrt(np.maximum(area, 1.0)))
    width = np.clip(width, 1.0, length)
    linear = _thin(length, width)
    total = np.maximum(s["rpos"] - s["rneg"], 1e-12)
    bright = s["rpos"] / total
    level = np.maximum(np.abs(s["level"]), 1e-12)
    out = []
    for k in range(len(merged)):
        polarity = "bright" if bright[k] >= 0.8 else "dark" if bright[k] <= 0.2 else "mixed"
        bxy = (s["wpx"][k] / s["wp"][k], s["wpy"][k] / s["wp"][k]) if s["wp"][k] > 0 else None
        dxy = (s["wnx"][k] / s["wn"][k], s["wny"][k] / s["wn"][k]) if s["wn"][k] > 0 else None
        out.append(
            Candidate(
                id=0,
                x=float(x[k]),
                y=float(y[k]),
                area_px=float(max(area[k], 1.0)),
                length_px=float(length[k]),
                width_px=float(width[k]),
                orientation_deg=float(angle[k]),
                polarity=polarity,
                contrast=float(s["r"][k] / level[k]),
                contrast_bright=float(s["rpos"][k] / level[k]),
                contrast_dark=float(s["rneg"][k] / level[k]),
                bright_fraction=float(bright[k]),
                peak_sigma=float(merged.peak[k]),
                score=float(detection_score(merged.peak[k])),
                bbox=tuple(int(v) for v in merged.bbox[k]),
                bright_xy=bxy,
                dark_xy=dxy,
                linear=bool(linear[k]),
                gsd_m=gsd_m,
                novelty=float(s["rr"][k] / s["ss"][k]) if s["ss"][k] > 0 else math.inf,
            )
        )
    # a change of sun redraws the shading of unchanged relief: what holds no more energy
    # than the BEFORE image already had there is not a change of the ground
    return [c for c in out if c.novelty >= NOVELTY]


def numbered(found: list[Candidate]) -> list[Candidate]:
    """Candidates sorted by score (then peak, position) and numbered from 1."""
    found = sorted(found, key=lambda c: (-c.score, -c.peak_sigma, c.y, c.x))
    for i, cand in enumerate(found, start=1):
        cand.id = i
    return found
