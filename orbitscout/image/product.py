"""Open real orbital products lazily through rasterio/GDAL and read their pixels.

GeoTIFF/COG, ISIS3 cubes, PDS3 IMG with its label, PDS4 XML+data, JP2 and plain images all
come through GDAL. Reads are windowed: nothing holds a whole product in memory unless asked.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from rasterio._err import CPLE_BaseError
from rasterio.enums import MaskFlags, Resampling
from rasterio.errors import NotGeoreferencedWarning, RasterioIOError
from rasterio.vrt import WarpedVRT
from rasterio.windows import Window as RioWindow

from orbitscout.core.bodies import Body, body_from_crs, get_body
from orbitscout.core.errors import OrbitscoutError, warn
from orbitscout.core.grid import PixelGrid
from orbitscout.core.window import Window

REDUCE_TILE = 2048  # full-resolution pixels per side of a tile sampled for a reduced image
PROBE_SIDE = 1024  # largest side (px) of a window ``probe`` reads


@dataclass
class Product:
    """One band of one opened product.

    ``pixels_only`` is set where the product's CRS is not of its body (an Earth CRS under
    ``--body mars``): the product is then used as a plain pixel grid, with no CRS.
    """

    path: Path
    dataset: rasterio.io.DatasetReader
    band: int
    body: Body | None
    pixels_only: bool = False
    warnings: list[str] = field(default_factory=list)  # what opening it warned about

    @property
    def width(self) -> int:
        return self.dataset.width

    @property
    def height(self) -> int:
        return self.dataset.height

    @property
    def georeferenced(self) -> bool:
        return (
            not self.pixels_only
            and self.dataset.crs is not None
            and not self.dataset.transform.is_identity
        )

    @property
    def crs(self) -> rasterio.crs.CRS | None:
        return self.dataset.crs if self.georeferenced else None

    @property
    def transform(self) -> Affine:
        return self.dataset.transform

    @property
    def gsd_m(self) -> float | None:
        """Ground sample distance in metres, or None without a CRS."""
        if not self.georeferenced:
            return None
        size = math.sqrt(abs(self.transform.determinant))
        if self.crs.is_geographic:
            radius = self.body.radius_m if self.body else self.crs.ellipsoid_semi_major_axis()
            return math.radians(size) * radius
        return size * self.crs.linear_units_factor[1]

    @property
    def grid(self) -> PixelGrid:
        """The pixel grid and, if georeferenced, its transform and CRS."""
        if not self.georeferenced:
            return PixelGrid(self.width, self.height)
        return PixelGrid(self.width, self.height, self.transform, self.crs.to_wkt())

    def read(
        self,
        window: Window | None = None,
        out_shape: tuple[int, int] | None = None,
        resampling: Resampling = Resampling.average,
    ) -> np.ndarray:
        """Read as float32 with NaN where the product has no data."""
        return read_float(self.dataset, self.band, self.path, window, out_shape, resampling)

    def close(self) -> None:
        self.dataset.close()


def read_float(
    source: rasterio.io.DatasetReader | WarpedVRT,
    band: int,
    path: Path,
    window: Window | RioWindow | None = None,
    out_shape: tuple[int, int] | None = None,
    resampling: Resampling = Resampling.average,
) -> np.ndarray:
    """``band`` of ``source`` over ``window`` (resampled to ``out_shape``) as float32, NaN
    where there is no data. Bands without a mask, and full-resolution reads of bands whose
    only mask is a no-data value, skip rasterio's masked arrays (a second read and copies)."""
    if isinstance(window, Window):
        window = RioWindow(*window)
    flags = source.mask_flag_enums[band - 1]
    plain = flags == [MaskFlags.all_valid]
    full_size = (source.height, source.width) if window is None else (window.height, window.width)
    by_value = flags == [MaskFlags.nodata] and (
        out_shape is None or tuple(out_shape) == tuple(int(v) for v in full_size)
    )
    try:
        if plain or by_value:
            data = source.read(band, window=window, out_shape=out_shape, resampling=resampling)
        else:
            masked = source.read(
                band, window=window, out_shape=out_shape, resampling=resampling, masked=True
            )
            return masked.astype(np.float32).filled(np.nan)
    except (RasterioIOError, CPLE_BaseError) as exc:
        raise OrbitscoutError(f"cannot read pixels: {gdal_message(exc, path)}", path) from exc
    out = data.astype(np.float32, copy=False)
    if by_value:
        nodata = source.nodatavals[band - 1]  # a Python float: compared in data's own type
        if not math.isnan(nodata):
            out[data == nodata] = np.nan
    return out


def open_product(path: str | Path, band: int | None = None, body: str | None = None) -> Product:
    """Open ``path`` (any GDAL-readable product) lazily and check that it is usable."""
    path = Path(path)
    if not path.exists():
        raise OrbitscoutError("file not found", path)
    if path.is_dir():
        raise OrbitscoutError("is a folder, not an image", path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            dataset = rasterio.open(path)
    except (RasterioIOError, CPLE_BaseError) as exc:
        raise OrbitscoutError(f"not a readable image ({_first_line(exc)})", path) from exc
    if band is None:
        if dataset.count != 1:
            dataset.close()
            raise OrbitscoutError(
                f"has {dataset.count} bands; choose the one to use with --band", path
            )
        band = 1
    elif not 1 <= band <= dataset.count:
        dataset.close()
        raise OrbitscoutError(f"has no band {band} (it has {dataset.count})", path)
    product = Product(path=path, dataset=dataset, band=band, body=None)
    crs_body = body_from_crs(product.crs) if product.georeferenced else None
    try:
        given = get_body(body) if body else None
    except OrbitscoutError:
        dataset.close()
        raise
    if given is not None and crs_body is not None and crs_body.name != given.name:
        dataset.close()
        raise OrbitscoutError(
            f"its CRS is of {_named(crs_body)}, not of {_named(given)} as --body "
            f"{body.strip().lower()} says",
            path,
        )
    if product.georeferenced and crs_body is None:
        if given is None:
            dataset.close()
            raise OrbitscoutError(
                "its CRS is of neither Mars nor the Moon; give --body to read it as a plain "
                "pixel grid of that body",
                path,
            )
        product.pixels_only = True
        product.warnings.append(
            warn(
                f"its CRS is of neither Mars nor the Moon: read as a plain pixel grid of "
                f"{_named(given)} (--body), with no map coordinates",
                path,
            )
        )
    product.body = given or crs_body
    return product


def probe(product: Product, side: int = PROBE_SIDE) -> None:
    """Read a few blocks of ``product`` (its first, middle and last, at most ``side`` px on a
    side) at full resolution, so that a truncated or damaged file fails in one line before the
    reduced reads allocate anything of the image's size.

    Parameters
    ----------
    product : Product
        The opened product.
    side : int
        Largest side of a probed window (px).

    Raises
    ------
    OrbitscoutError
        Naming the file, and the block or offset GDAL could not read.
    """
    block_h, block_w = product.dataset.block_shapes[product.band - 1]
    block_w, block_h = max(1, min(block_w, side)), max(1, min(block_h, side))
    columns = max(1, -(-product.width // block_w))
    rows = max(1, -(-product.height // block_h))
    # in file order: formats read only forwards (PNG, JPEG) decode once, not again per probe
    for i, j in sorted({(0, 0), (rows // 2, columns // 2), (rows - 1, columns - 1)}):
        col, row = j * block_w, i * block_h
        width, height = min(block_w, product.width - col), min(block_h, product.height - row)
        read_float(product.dataset, product.band, product.path, Window(col, row, width, height))


def gdal_message(exc: BaseException, path: str | Path | None = None) -> str:
    """What GDAL said about a failed call, on one line: the messages of ``exc`` and of its
    causes (rasterio's own "Read failed. See previous exception" left out, repeats dropped,
    the file's name left out where it leads a message: the error names it already).

    Parameters
    ----------
    exc : BaseException
        The exception rasterio raised.
    path : str or pathlib.Path, optional
        The file, whose name is dropped from the front of GDAL's messages.

    Returns
    -------
    str
        The messages, outermost (the block or offset) first, joined with ``; ``.
    """
    messages: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    name = Path(path).name if path is not None else None
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        text = " ".join(str(current).split())
        if name and text.startswith(f"{name}, "):
            text = text[len(name) + 2 :]
        if text and "See previous exception" not in text:
            messages.append(text)
        current = current.__cause__ or current.__context__
    kept = [m for m in messages if not any(m != o and m in o for o in messages)]
    kept = list(dict.fromkeys(kept))
    return "; ".join(kept) if kept else _first_line(exc)


def _named(body: Body) -> str:
    """A body's name in a sentence: ``Mars``, ``the Moon``."""
    name = body.name.title()
    return f"the {name}" if name == "Moon" else name


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def site_pixel(product: Product, lat: float, lon: float) -> tuple[float, float] | None:
    """Pixel position of a point of the body in a product's grid.

    Parameters
    ----------
    product : Product
        The product (its body, CRS and transform).
    lat, lon : float
        Planetocentric degrees on the body's IAU_2015 sphere.

    Returns
    -------
    (float, float) or None
        Pixel (x, y), integer at a pixel's centre; None where the product has no CRS.
    """
    if not product.georeferenced:
        return None
    from pyproj import CRS, Transformer

    tr = Transformer.from_crs(
        product.body.crs, CRS.from_user_input(product.crs.to_wkt()), always_xy=True
    )
    mx, my = tr.transform(lon, lat)
    col, row = ~product.transform @ (mx, my)
    return float(col - 0.5), float(row - 0.5)
