"""Synthetic before/after pairs with known shift, photometry and planted spots, for tests:
``make_pair`` (shaded relief under two suns) and ``make_textured_pair`` (textured ground, tiled
GeoTIFFs like real products)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import rasterio
from rasterio.transform import from_origin
from scipy import ndimage as ndi

from orbitscout.core.bodies import MARS, Body, local_map_crs


@dataclass
class Spot:
    x: float
    y: float
    radius: float  # pixels
    amplitude: float  # relative brightness change (+ brighter, - darker)


@dataclass
class Track:
    """A dust-devil track: a dark line ``width`` px wide along a polyline (x, y) in px."""

    points: list[tuple[float, float]]
    width: float
    amplitude: float


def _track_mask(shape, track: Track, offset: int) -> np.ndarray:
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]].astype(float)
    dist = np.full(shape, np.inf)
    pts = np.asarray(track.points, float) + offset
    for (x0, y0), (x1, y1) in zip(pts[:-1], pts[1:], strict=True):
        dx, dy = x1 - x0, y1 - y0
        t = np.clip(((xx - x0) * dx + (yy - y0) * dy) / (dx * dx + dy * dy), 0, 1)
        dist = np.minimum(dist, np.hypot(xx - (x0 + t * dx), yy - (y0 + t * dy)))
    return np.clip(track.width / 2 + 0.5 - dist, 0, 1)


def terrain(size: int, seed: int, margin: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """Albedo and height fields (size + 2*margin square) with texture at many scales."""
    rng = np.random.default_rng(seed)
    n = size + 2 * margin
    albedo = sum(ndi.gaussian_filter(rng.normal(size=(n, n)), s) * s**0.5 for s in (1, 3, 12))
    # 7% albedo texture: with the shading this gives ~7% rms local structure (sigma 3 px),
    # close to the 6% measured on the real HiRISE crop in ../shared/data
    albedo = 0.25 * (1 + 0.07 * albedo / albedo.std())
    height = sum(ndi.gaussian_filter(rng.normal(size=(n, n)), s) * s**2 for s in (4, 16, 48))
    gy, gx = np.gradient(height)
    height *= 0.1 / np.hypot(gx, gy).std()  # rms slope ~6 degrees, like martian plains
    return albedo, height


def shade(albedo: np.ndarray, height: np.ndarray, incidence: float, azimuth: float):
    """Lambertian radiance for a sun at ``incidence`` (deg from vertical), ``azimuth`` (deg)."""
    gy, gx = np.gradient(height)
    normal = np.stack([-gx, -gy, np.ones_like(gx)])
    normal /= np.linalg.norm(normal, axis=0)
    i, a = np.radians(incidence), np.radians(azimuth)
    sun = np.array([np.sin(i) * np.sin(a), -np.sin(i) * np.cos(a), np.cos(i)])
    return albedo * np.clip(np.tensordot(sun, normal, axes=1), 0, None)


def plant(
    image: np.ndarray, spots: list[Spot], offset: int, tracks: list[Track] | None = None
) -> np.ndarray:
    """Multiply ``image`` by (1 + amplitude) inside soft discs at the spots and along tracks."""
    out = image.copy()
    for track in tracks or []:
        out *= 1 + track.amplitude * _track_mask(image.shape, track, offset)
    yy, xx = np.mgrid[0 : image.shape[0], 0 : image.shape[1]]
    for s in spots:
        r = np.hypot(xx - (s.x + offset), yy - (s.y + offset))
        disc = np.clip(s.radius + 0.5 - r, 0, 1)  # anti-aliased disc
        out *= 1 + s.amplitude * disc
    return out


def make_pair(
    folder: Path,
    size: int = 512,
    shift: tuple[float, float] = (7.3, -4.6),
    spots: list[Spot] | None = None,
    seed: int = 0,
    gain: float = 1.3,
    offset: float = 20.0,
    noise: float = 0.004,
    sun_before: tuple[float, float] = (50.0, 90.0),
    sun_after: tuple[float, float] = (45.0, 110.0),
    driver: str = "GTiff",
    gsd: float = 1.0,
    body: Body = MARS,
    site: tuple[float, float] = (18.4447, 77.4508),
    nodata_border: int = 0,
    dtype: str = "uint16",
    tracks: list[Track] | None = None,
) -> tuple[Path, Path]:
    """Write a before/after pair; a ground point at BEFORE pixel p lies at AFTER p + shift."""
    margin = 64
    albedo, height = terrain(size, seed, margin)
    before = shade(albedo, height, *sun_before)
    after = shade(plant(albedo, spots or [], margin, tracks), height, *sun_after)
    # ground at BEFORE pixel p lies at AFTER pixel p + shift: BEFORE holds it at q - shift
    before = ndi.shift(before, (-shift[1], -shift[0]), order=3, mode="nearest")
    crop = (slice(margin, margin + size), slice(margin, margin + size))
    before, after = before[crop], after[crop]
    rng = np.random.default_rng(seed + 1)
    scale = 4000.0
    before = before * scale + rng.normal(0, noise * scale, before.shape)
    after = (after * scale + rng.normal(0, noise * scale, after.shape)) * gain + offset
    nodata = 0
    if nodata_border:
        before[:nodata_border] = nodata
        before[:, -nodata_border:] = nodata
    crs = local_map_crs(body, *site).to_wkt()
    north = np.radians(site[0]) * body.radius_m  # the site at the image centre
    transform = from_origin(-size * gsd / 2, north + size * gsd / 2, gsd, gsd)
    ext = {"GTiff": "tif", "ISIS3": "cub", "PDS4": "xml"}[driver]
    paths = []
    for name, image in (("before", before), ("after", after)):
        path = Path(folder) / f"{name}.{ext}"
        data = np.clip(np.round(image), 1, 65535).astype(dtype)
        if name == "before" and nodata_border:
            data[:nodata_border] = nodata
            data[:, -nodata_border:] = nodata
        with rasterio.open(
            path,
            "w",
            driver=driver,
            width=size,
            height=size,
            count=1,
            dtype=dtype,
            crs=crs,
            transform=transform,
            nodata=nodata,
        ) as ds:
            ds.write(data, 1)
        paths.append(path)
    return paths[0], paths[1]


def textured_terrain(size: int, rng: np.random.Generator) -> np.ndarray:
    """Gaussian-filtered noise at 1.5-40 px, each octave scaled to unit variance."""
    out = np.zeros((size, size), np.float32)
    for sigma, amplitude in ((1.5, 1.0), (3, 1.5), (10, 3.0), (40, 6.0)):
        noise = cv2.GaussianBlur(rng.normal(size=(size, size)).astype(np.float32), (0, 0), sigma)
        out += amplitude * noise / noise.std()
    return out


def make_textured_pair(
    folder: Path,
    size: int = 768,
    shift: tuple[float, float] = (3.4, -2.7),
    spots: list[tuple[float, float, float, float]] = (),
    seed: int = 0,
    gsd: float = 0.5,
    lat_lon: tuple[float, float] = (18.4, 77.5),
    texture: float = 10.0,
) -> tuple[Path, Path]:
    """Write before.tif and after.tif (uint16 tiled deflate GeoTIFFs in a local Mars map CRS):
    textured terrain, a ground point at BEFORE (x, y) lies at AFTER (x + dx, y + dy), a gain and
    offset change, noise, and ``spots`` added to AFTER only."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    margin = 32
    ground = textured_terrain(size + 2 * margin, rng)
    before = ground[margin : margin + size, margin : margin + size]
    dx, dy = shift
    to_ground = np.array([[1, 0, margin - dx], [0, 1, margin - dy]], np.float64)
    after = cv2.warpAffine(
        ground, to_ground, (size, size), flags=cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP
    )
    yy, xx = np.mgrid[0:size, 0:size]
    spotted = np.zeros((size, size))
    for x, y, radius, amplitude in spots:
        spotted += amplitude * np.clip(radius + 0.5 - np.hypot(xx - x, yy - y), 0, 1)
    images = {
        "before": 1000 + texture * before + rng.normal(0, 4, before.shape),
        "after": 1300 + 1.3 * texture * after + 120 * spotted + rng.normal(0, 4, after.shape),
    }
    crs = local_map_crs(MARS, *lat_lon)
    transform = from_origin(-size / 2 * gsd, size / 2 * gsd, gsd, gsd)
    paths = []
    for name, image in images.items():
        path = folder / f"{name}.tif"
        with rasterio.open(
            path,
            "w",
            driver="GTiff",
            width=size,
            height=size,
            count=1,
            dtype="uint16",
            crs=crs,
            transform=transform,
            tiled=True,
            blockxsize=256,
            blockysize=256,
            compress="deflate",
        ) as ds:
            ds.write(np.clip(np.round(image), 0, 65535).astype(np.uint16), 1)
        paths.append(path)
    return paths[0], paths[1]
