"""The offline viewer beside ``report.html``: image tiles, chips, data and the vendored map library.

Everything goes into one folder (``report/`` beside the page) that works from ``file://`` with
no server and no network:

- ``tiles/{after,before,diff}/{z}/{x}_{y}.jpg``: tiles in Leaflet's ``CRS.Simple``, in AFTER
  pixel coordinates (zoom 0 is full resolution, zoom -3 one tile pixel per 8x8 image pixels).
  The pyramid (256-px tiles, zoom -3 and below) is made from the reduced images ``find``
  already read; zoom 0 tiles (128 px) exist only around detections, read through the reader
  callbacks in one window per group of touching tiles, so a 50k x 20k product costs the same
  as a small one with as many detections. An image of at most WHOLE_PX pixels is read whole
  and tiled at every zoom from full resolution.
- ``chips/{id}.png``: BEFORE | AFTER around each detection, both halves on one stretch.
- ``data.js``: one global ``ORBITSCOUT`` with the grid, the detections and the tiles present
  (Chromium refuses ``fetch`` of a JSON file from ``file://``; a script is allowed).
- ``leaflet/`` (Leaflet 1.9.4 from the npm registry, with its licence), ``viewer.js``,
  ``viewer.css``.

BEFORE is shown registered on the AFTER grid and levelled onto AFTER's brightness (gain and
offset per block of the reduced images, robust medians and spreads); the three layers and the
chips share one black and white point, so a blink shows changes, not a stretch.
"""

from __future__ import annotations

import json
import math
import shutil
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from orbitscout.core.bodies import Body
from orbitscout.core.candidate import Candidate
from orbitscout.core.geometry import compass
from orbitscout.core.grid import PixelGrid
from orbitscout.core.window import Window
from orbitscout.report import geo
from orbitscout.report.pictures import CLASS_COLOURS, STRETCH_SAMPLES, chip_half_px
from orbitscout.report.vectors import feature_properties

TILE = 256  # pyramid tile side in pixels (Leaflet's default)
DETAIL = 128  # side of the full-resolution tiles: small boxes around small detections
JPEG_QUALITY = 88  # of the image tiles: 16k bench tiles ~2.5 x smaller than PNG
LEVEL_BLOCK = 64  # reduced pixels per side of a levelling block (512 AFTER pixels at 8x)
DIFF_RANGE = 0.3  # |AFTER - BEFORE| of this share of the stretch range shows at full colour
DETAIL_MARGIN = 8  # AFTER pixels of full resolution beyond a detection's chip, each side
WHOLE_PX = 2**22  # images up to this many pixels (2048 x 2048) are tiled whole at full resolution
FOLDER = "report"  # the viewer's folder beside report.html
STATIC = Path(__file__).resolve().parent / "static"
VENDOR = Path(__file__).resolve().parent / "vendor" / "leaflet"


@dataclass(frozen=True)
class Display:
    """How pixels become grey levels: BEFORE levelled onto AFTER, one black and white point."""

    lo: float
    hi: float
    gain: np.ndarray  # per levelling block (reduced grid), BEFORE -> AFTER
    offset: np.ndarray
    block_px: float  # AFTER pixels per levelling block side

    def level(self, before: np.ndarray, window: Window) -> np.ndarray:
        """``gain * before + offset`` over ``window`` (AFTER full-resolution pixels), the fields
        bilinear between block centres (held beyond the outermost)."""
        scale = 1.0 / self.block_px
        # output pixel (u, v) is AFTER pixel (col_off + u, row_off + v), whose centre lies at
        # block coordinate (col_off + u + 0.5) / block_px - 0.5
        matrix = np.array(
            [
                [scale, 0.0, (window.col_off + 0.5) * scale - 0.5],
                [0.0, scale, (window.row_off + 0.5) * scale - 0.5],
            ]
        )
        return self._apply(before, matrix, (int(window.width), int(window.height)))

    def level_reduced(self, before_small: np.ndarray, factor: float) -> np.ndarray:
        """``level`` on an image reduced by ``factor`` (cell (u, v) the mean of AFTER pixels
        [factor * u, factor * (u + 1)), centred at AFTER pixel factor * (u + 0.5) - 0.5)."""
        scale = factor / self.block_px
        matrix = np.array([[scale, 0.0, 0.5 * scale - 0.5], [0.0, scale, 0.5 * scale - 0.5]])
        return self._apply(before_small, matrix, (before_small.shape[1], before_small.shape[0]))

    def _apply(self, before: np.ndarray, matrix: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        """``before * gain + offset``, the fields warped (bilinear, edges held) by ``matrix``
        (output pixel -> block coordinates) to ``size`` (width, height)."""
        flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
        out = np.asarray(before, np.float32)
        for values, op in ((self.gain, cv2.multiply), (self.offset, cv2.add)):
            grid = np.ascontiguousarray(values, np.float32)
            if grid.shape == (1, 1):
                field = np.full(size[::-1], float(grid[0, 0]), np.float32)
            else:
                field = cv2.warpAffine(
                    grid, matrix, size, flags=flags, borderMode=cv2.BORDER_REPLICATE
                )
            out = op(out, field)
        return out

    def grey(self, image: np.ndarray) -> np.ndarray:
        """8-bit grey levels (NaN black)."""
        return _to_uint8(image, self.lo, self.hi)

    def diff(self, after: np.ndarray, before: np.ndarray) -> np.ndarray:
        """AFTER - BEFORE as colour (BGR): brighter orange, darker blue, no change black
        (NaN too)."""
        scale = DIFF_RANGE * (self.hi - self.lo) or 1.0
        k = 127.5 / scale
        a = np.asarray(after, np.float32)
        b = np.asarray(before, np.float32)
        index = cv2.addWeighted(a, k, b, -k, 128.0, dtype=cv2.CV_8U)  # rounded, saturated
        nan = cv2.compare(a, a, cv2.CMP_NE) | cv2.compare(b, b, cv2.CMP_NE)
        if nan.any():
            index[nan > 0] = 128
        return cv2.LUT(cv2.merge((index, index, index)), _DIFF_LUT.reshape(256, 1, 3))


def _diff_lut() -> np.ndarray:
    """256 BGR colours: index 128 no change (black), 255 brightest (orange), 0 darkest (blue)."""
    d = (np.arange(256, dtype=np.float32) - 128.0) / 127.5
    pos, neg = np.clip(d, 0, 1), np.clip(-d, 0, 1)
    blue = pos * 40 + neg * 255
    green = pos * 150 + neg * 140
    red = pos * 255 + neg * 40
    return np.clip(np.stack([blue, green, red], axis=1) + 0.5, 0, 255).astype(np.uint8)


_DIFF_LUT = _diff_lut()


def _to_uint8(image: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """``lo``-``hi`` onto 0-255, rounded and saturated; NaN black."""
    scale = 255.0 / (hi - lo) if hi > lo else 1.0
    image = np.asarray(image, np.float32)
    out = cv2.addWeighted(image, scale, image, 0.0, -lo * scale, dtype=cv2.CV_8U)
    nan = cv2.compare(image, image, cv2.CMP_NE)
    if nan.any():
        out[nan > 0] = 0
    return out


def _sample(values: np.ndarray) -> np.ndarray:
    values = values[np.isfinite(values)]
    return values[:: max(1, values.size // STRETCH_SAMPLES)]


def display(after_small: np.ndarray, before_small: np.ndarray | None, factor: float) -> Display:
    """The shared stretch (AFTER's 0.5th-99.5th percentiles) and BEFORE's levelling.

    Parameters
    ----------
    after_small : numpy.ndarray
        AFTER reduced by ``factor``.
    before_small : numpy.ndarray or None
        BEFORE registered on the same reduced grid; None: no levelling (gain 1, offset 0).
    factor : float
        AFTER pixels per reduced pixel.

    Returns
    -------
    Display
    """
    values = _sample(after_small)
    lo, hi = (float(v) for v in np.percentile(values, (0.5, 99.5))) if values.size else (0, 1)
    ny = max(1, round(after_small.shape[0] / LEVEL_BLOCK))
    nx = max(1, round(after_small.shape[1] / LEVEL_BLOCK))
    gain = np.ones((ny, nx), np.float32)
    offset = np.zeros((ny, nx), np.float32)
    if before_small is not None and before_small.shape == after_small.shape:
        gain[:], offset[:] = _level_fit(after_small[::4, ::4], before_small[::4, ::4])
        # quartiles of every other row and column: 1,024 samples a block (16k: 0.25 -> 0.07 s)
        step = 2 if min(after_small.shape) >= 4 * LEVEL_BLOCK else 1
        a_s, b_s = after_small[::step, ::step], before_small[::step, ::step]
        bh, bw = a_s.shape[0] // ny, a_s.shape[1] // nx
        if bh >= 16 and bw >= 16:
            qa = _block_quartiles(a_s, b_s, ny, nx, bh, bw)
            qb = _block_quartiles(b_s, a_s, ny, nx, bh, bw)
            spread = qb[2] - qb[0]
            ok = np.isfinite(qa).all(axis=0) & np.isfinite(qb).all(axis=0) & (spread > 0)
            g = np.where(ok, (qa[2] - qa[0]) / np.where(ok, spread, 1.0), 1.0)
            g = np.clip(g, 0.05, 20.0)
            gain[ok] = g[ok]
            offset[ok] = (qa[1] - g * qb[1])[ok]
    block_px = factor * max(1, after_small.shape[1] // nx)  # AFTER pixels per block
    return Display(lo, hi, gain, offset, block_px)


def _block_quartiles(
    image: np.ndarray, other: np.ndarray, ny: int, nx: int, bh: int, bw: int
) -> np.ndarray:
    """Quartiles (3, ny, nx) of ``image`` per block where both images are valid; NaN for a
    block with under half its pixels valid."""
    part = (slice(0, ny * bh), slice(0, nx * bw))
    a = np.where(np.isfinite(other[part]), image[part], np.nan).astype(np.float32)
    blocks = a.reshape(ny, bh, nx, bw).transpose(0, 2, 1, 3).reshape(ny, nx, bh * bw)
    valid = np.isfinite(blocks).sum(axis=2)
    full = valid == bh * bw
    out = np.full((3, ny, nx), np.nan, np.float32)
    if full.any():
        out[:, full] = np.percentile(blocks[full], (25, 50, 75), axis=1)
    for i, j in zip(*np.nonzero(~full & (valid >= bh * bw // 2)), strict=True):
        out[:, i, j] = np.nanpercentile(blocks[i, j], (25, 50, 75))
    return out


def _level_fit(a: np.ndarray, b: np.ndarray, minimum: int = 16) -> tuple[float, float] | None:
    """Gain and offset that bring ``b``'s median and interquartile range onto ``a``'s."""
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < minimum:
        return (1.0, 0.0) if minimum <= 16 else None
    qa = np.percentile(a[ok], (25, 50, 75))
    qb = np.percentile(b[ok], (25, 50, 75))
    spread_b = qb[2] - qb[0]
    gain = float((qa[2] - qa[0]) / spread_b) if spread_b > 0 else 1.0
    gain = min(max(gain, 0.05), 20.0)
    return gain, float(qa[1] - gain * qb[1])


def _jpeg(image: np.ndarray) -> bytes:
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise RuntimeError("OpenCV could not encode a JPEG")
    return data.tobytes()


def _png(image: np.ndarray) -> bytes:
    ok, data = cv2.imencode(".png", image, [cv2.IMWRITE_PNG_COMPRESSION, 3])
    if not ok:
        raise RuntimeError("OpenCV could not encode a PNG")
    return data.tobytes()


def _write_level(folder: Path, z: int, image: np.ndarray, grid: PixelGrid) -> None:
    """Cut ``image`` (zoom level ``z``, 8-bit) into tiles under ``folder/z``: every tile that
    Leaflet asks for inside the image's bounds (black beyond the array)."""
    out = folder / str(z)
    out.mkdir(parents=True, exist_ok=True)
    nx = math.ceil(grid.width * 2.0**z / TILE - 1e-9)
    ny = math.ceil(grid.height * 2.0**z / TILE - 1e-9)
    for ty in range(max(1, ny)):
        for tx in range(max(1, nx)):
            tile = image[ty * TILE : (ty + 1) * TILE, tx * TILE : (tx + 1) * TILE]
            (out / f"{tx}_{ty}.jpg").write_bytes(_jpeg(_pad(tile)))


def _pyramid(folder: Path, base: np.ndarray, z: int, grid: PixelGrid) -> int:
    """Tiles of ``base`` at zoom ``z`` and of its halvings down to one tile; the lowest zoom."""
    image = base
    while True:
        _write_level(folder, z, image, grid)
        if max(image.shape[:2]) <= TILE:
            return z
        shape = (max(1, image.shape[1] // 2), max(1, image.shape[0] // 2))
        image = cv2.resize(image, shape, interpolation=cv2.INTER_AREA)
        z -= 1


def _pad(tile: np.ndarray, side: int = TILE) -> np.ndarray:
    """A tile cut at the image's edge (or beyond it), padded with black to side x side."""
    if tile.shape[0] == side and tile.shape[1] == side:
        return tile
    out = np.zeros((side, side) + tile.shape[2:], tile.dtype)
    out[: tile.shape[0], : tile.shape[1]] = tile
    return out


def _detail_boxes(found: list[Candidate], grid: PixelGrid) -> list[tuple[int, int, int, int]]:
    """Per detection, the AFTER pixel box (x0, y0, x1, y1) shown at full resolution."""
    boxes = []
    for c in found:
        half = chip_half_px(c) + DETAIL_MARGIN
        cx, cy = int(round(c.x)), int(round(c.y))
        boxes.append(
            (
                max(0, cx - half),
                max(0, cy - half),
                min(grid.width, cx + half + 1),
                min(grid.height, cy + half + 1),
            )
        )
    return boxes


def _components(
    boxes: list[tuple[int, int, int, int]], grid: PixelGrid
) -> tuple[np.ndarray, list[tuple[Window, list[int]]]]:
    """The full-resolution tiles needed (a boolean grid) and the windows to read them in: one
    per group of touching tiles, with the detections inside it."""
    nty, ntx = math.ceil(grid.height / DETAIL), math.ceil(grid.width / DETAIL)
    need = np.zeros((nty, ntx), np.uint8)
    for x0, y0, x1, y1 in boxes:
        need[y0 // DETAIL : (y1 - 1) // DETAIL + 1, x0 // DETAIL : (x1 - 1) // DETAIL + 1] = 1
    n, labels, stats, _ = cv2.connectedComponentsWithStats(need, connectivity=8)
    groups: list[tuple[Window, list[int]]] = []
    members: dict[int, list[int]] = {k: [] for k in range(1, n)}
    for i, (x0, y0, _x1, _y1) in enumerate(boxes):
        members[int(labels[y0 // DETAIL, x0 // DETAIL])].append(i)
    for k in range(1, n):
        tx, ty, tw, th = (int(v) for v in stats[k, :4])
        col, row = tx * DETAIL, ty * DETAIL
        width = min(grid.width, (tx + tw) * DETAIL) - col
        height = min(grid.height, (ty + th) * DETAIL) - row
        groups.append((Window(col, row, width, height), members[k]))
    return need.astype(bool), groups


def write_viewer(
    folder: Path,
    grid: PixelGrid,
    body: Body | None,
    read_after: Callable[..., np.ndarray],
    read_before: Callable[[Window], np.ndarray],
    found: list[Candidate],
    summary: dict,
    preview: np.ndarray | None = None,
    before_preview: np.ndarray | None = None,
) -> dict:
    """Write the viewer's folder (tiles, chips, data, scripts) and say what the page needs.

    Parameters
    ----------
    folder : pathlib.Path
        The folder to write (``report/`` beside report.html); made if absent.
    grid : PixelGrid
        The AFTER image's grid.
    body : Body or None
        The body, for lon/lat and north.
    read_after : callable
        ``read_after(window=None, out_shape=None)``: AFTER pixels.
    read_before : callable
        ``read_before(window)``: registered BEFORE pixels on the AFTER grid.
    found : list of Candidate
        The detections.
    summary : dict
        What summary.json holds (registration, gsd).
    preview : numpy.ndarray, optional
        AFTER reduced (by 8 in ``find``); read here at 1/8 when absent.
    before_preview : numpy.ndarray, optional
        BEFORE registered on ``preview``'s grid; without it the pyramid has AFTER only (the
        full-resolution tiles around detections still have all three layers).

    Returns
    -------
    dict
        What the page shows of the viewer: ``{"layers": [...], "chips": {id: path}}``.
    """
    folder.mkdir(parents=True, exist_ok=True)
    if preview is None:
        factor = 8
        preview = read_after(
            out_shape=(max(1, grid.height // factor), max(1, grid.width // factor))
        )
        before_preview = None
    preview = np.asarray(preview, np.float32)
    # find's preview averages cells of exactly 8 x 8 pixels from the corner (a last partial
    # cell is left out), so the factor is the whole number of pixels per cell
    factor = max(1, grid.width // preview.shape[1])
    if before_preview is not None and before_preview.shape != preview.shape:
        before_preview = None
    # the pyramid's top level is a power-of-two reduction (find's is 8: zoom -3)
    k = max(0, math.ceil(math.log2(max(factor, 1.0)) - 1e-9))
    top_z = -k
    scale = factor / 2**k  # 1 where the preview is already a power-of-two reduction
    disp = display(preview, before_preview, factor)

    def at_top(image: np.ndarray) -> np.ndarray:
        if abs(scale - 1.0) < 1e-6:
            return image
        shape = (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale)))
        return cv2.resize(image, shape, interpolation=cv2.INTER_AREA)

    tiles = folder / "tiles"
    (folder / "chips").mkdir(exist_ok=True)
    locks = (threading.Lock(), threading.Lock())
    chip_paths: dict[int, str] = {}

    def read(window: Window) -> tuple[np.ndarray, np.ndarray]:
        """AFTER and levelled BEFORE over ``window`` (full resolution)."""
        with locks[0]:
            a = np.asarray(read_after(window=window), np.float32)
        with locks[1]:
            b = np.asarray(read_before(window), np.float32)
        return a, disp.level(b, window)

    def chips_of(a: np.ndarray, b: np.ndarray, window: Window, members: list[int]) -> None:
        for i in members:
            c = found[i]
            (folder / "chips" / f"{c.id}.png").write_bytes(_png(_chip_pair(a, b, window, c)))
            chip_paths[c.id] = f"{FOLDER}/chips/{c.id}.png"

    if grid.width * grid.height <= WHOLE_PX:
        # a small image: every level from full resolution (reads cost less than the pyramid)
        whole = Window(0, 0, grid.width, grid.height)
        a, b = read(whole)
        min_z = _pyramid(tiles / "after", disp.grey(a), 0, grid)
        _pyramid(tiles / "before", disp.grey(b), 0, grid)
        _pyramid(tiles / "diff", disp.diff(a, b), 0, grid)
        chips_of(a, b, whole, list(range(len(found))))
        layers, top_z, need = ["after", "before", "diff"], 0, np.zeros((0, 0), bool)
    else:
        # full resolution around the detections, in as few reads as the tiles allow
        need, groups = _components(_detail_boxes(found, grid), grid)
        for name in ("after", "before", "diff"):
            (tiles / name / "0").mkdir(parents=True, exist_ok=True)

        def one(group: tuple[Window, list[int]]) -> None:
            window, members = group
            a, b = read(window)
            grey_a, grey_b, colour = disp.grey(a), disp.grey(b), disp.diff(a, b)
            tx0, ty0 = window.col_off // DETAIL, window.row_off // DETAIL
            for ty in range(ty0, ty0 + math.ceil(window.height / DETAIL)):
                for tx in range(tx0, tx0 + math.ceil(window.width / DETAIL)):
                    if not need[ty, tx]:
                        continue
                    r0, c0 = ty * DETAIL - window.row_off, tx * DETAIL - window.col_off
                    part = (slice(r0, r0 + DETAIL), slice(c0, c0 + DETAIL))
                    for name, image in (("after", grey_a), ("before", grey_b), ("diff", colour)):
                        tile = _jpeg(_pad(image[part], DETAIL))
                        (tiles / name / "0" / f"{tx}_{ty}.jpg").write_bytes(tile)
            chips_of(a, b, window, members)

        # three workers: two read (one per dataset, each behind its lock) while one encodes;
        # the pyramid is made here meanwhile
        with ThreadPoolExecutor(3, thread_name_prefix="orbitscout-report") as pool:
            done = [pool.submit(one, group) for group in groups]
            layers = ["after"]
            min_z = _pyramid(tiles / "after", at_top(disp.grey(preview)), top_z, grid)
            if before_preview is not None:
                # levelling fields are in AFTER pixels: evaluate at reduced-cell centres
                before_level = disp.level_reduced(before_preview, factor)
                _pyramid(tiles / "before", at_top(disp.grey(before_level)), top_z, grid)
                _pyramid(tiles / "diff", at_top(disp.diff(preview, before_level)), top_z, grid)
                layers += ["before", "diff"]
            for future in done:
                future.result()

    detail = sorted(f"{tx}_{ty}" for ty, tx in zip(*np.nonzero(need), strict=True))
    data = {
        "width": grid.width,
        "height": grid.height,
        "gsd_m": summary.get("after", {}).get("gsd_m"),
        "body": body.name if body else summary.get("body"),
        "north_deg": geo.north_deg(grid, body),
        "lonlat": geo.lonlat_grid(grid, body),
        "tile": TILE,
        "detail_tile": DETAIL,
        "min_zoom": min_z,
        "top_zoom": top_z,
        "layers": layers,
        "detail": detail,
        "colours": CLASS_COLOURS,
        "registration": summary.get("registration"),
        "detections": [_detection(c, chip_paths.get(c.id)) for c in found],
    }
    text = "window.ORBITSCOUT = " + json.dumps(data, separators=(",", ":")) + ";\n"
    (folder / "data.js").write_text(text, encoding="utf-8")
    for name in ("viewer.js", "viewer.css"):
        shutil.copyfile(STATIC / name, folder / name)
    shutil.copytree(VENDOR, folder / "leaflet", dirs_exist_ok=True)
    return {"layers": layers, "chips": chip_paths}


def _chip_pair(a: np.ndarray, b: np.ndarray, window: Window, c: Candidate) -> np.ndarray:
    """BEFORE | AFTER around ``c`` from the window's arrays, on one stretch of both halves."""
    half = chip_half_px(c)
    cx, cy = int(round(c.x)) - window.col_off, int(round(c.y)) - window.row_off
    r0, r1 = max(0, cy - half), min(a.shape[0], cy + half + 1)
    c0, c1 = max(0, cx - half), min(a.shape[1], cx + half + 1)
    ca, cb = a[r0:r1, c0:c1], b[r0:r1, c0:c1]
    both = np.concatenate([_sample(ca[::2, ::2]), _sample(cb[::2, ::2])])  # a quarter: 3 x faster
    lo, hi = (float(v) for v in np.percentile(both, (0.5, 99.5))) if both.size else (0.0, 1.0)
    gap = np.full((ca.shape[0], 2), 255, np.uint8)
    return np.hstack([_to_uint8(cb, lo, hi), gap, _to_uint8(ca, lo, hi)])


def _detection(c: Candidate, chip: str | None) -> dict:
    """One detection as the page's script reads it."""
    d = feature_properties(c)
    d.update(
        {
            "lon": None if c.lon is None else round(c.lon, 7),
            "lat": None if c.lat is None else round(c.lat, 7),
            "length_px": round(c.length_px, 2),
            "width_px": round(c.width_px, 2),
            "orientation_deg": round(c.orientation_deg, 1),
            "chip": chip,
        }
    )
    if d["move"] and d["move"].get("bearing_deg") is not None:
        d["move"]["compass"] = compass(d["move"]["bearing_deg"])
    rel = c.features.get("from_lander")
    if rel:
        d["from_lander"] = dict(rel, compass=compass(rel["bearing_deg"]))
    return d
