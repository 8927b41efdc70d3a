"""A DTM (``find --dtm``): any GDAL raster of heights, read in metres on the AFTER image's grid."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
from rasterio._err import CPLE_BaseError
from rasterio.enums import Resampling
from rasterio.errors import NotGeoreferencedWarning, RasterioError, RasterioIOError
from rasterio.vrt import WarpedVRT

from orbitscout.core.bodies import body_from_crs
from orbitscout.core.errors import OrbitscoutError
from orbitscout.core.window import Window
from orbitscout.image.product import Product, gdal_message, probe, read_float

KILOMETRES = ("km", "kilometer", "kilometers", "kilometre", "kilometres")


@dataclass
class Dtm:
    """A DTM opened onto the AFTER image's pixel grid.

    Attributes
    ----------
    path : pathlib.Path
        The file.
    dataset : rasterio.io.DatasetReader
        The file opened.
    source : rasterio.io.DatasetReader or WarpedVRT
        What is read: the file itself where it is the AFTER image's pixel grid, else a warped
        view of it on that grid (bilinear).
    scale, offset : float
        Metres = value * scale + offset (the band's scale and offset; kilometres by its unit).
    """

    path: Path
    dataset: rasterio.io.DatasetReader
    source: rasterio.io.DatasetReader | WarpedVRT
    scale: float = 1.0
    offset: float = 0.0

    def read(self, window: Window, out_shape: tuple[int, int] | None = None) -> np.ndarray:
        """Heights (m) over the AFTER pixels of ``window`` (averaged to ``out_shape``), float32,
        NaN where the DTM has none."""
        data = read_float(self.source, 1, self.path, window, out_shape, Resampling.average)
        if self.scale != 1.0 or self.offset != 0.0:
            data = data * np.float32(self.scale) + np.float32(self.offset)
        return data

    def close(self) -> None:
        """Close the warped view and the file."""
        if self.source is not self.dataset:
            self.source.close()
        self.dataset.close()


def open_dtm(path: str | Path, after: Product) -> Dtm:
    """Open the DTM at ``path`` onto ``after``'s pixel grid, checking that it can be.

    Parameters
    ----------
    path : str or pathlib.Path
        A one-band GDAL raster of heights in metres (kilometres where its unit says so; its
        scale and offset applied), in a CRS of the AFTER image's body; without a CRS, only on an
        AFTER image without one, of the same size (its pixel grid, then).
    after : Product
        The AFTER image.

    Returns
    -------
    Dtm
        Close it when done.

    Raises
    ------
    OrbitscoutError
        Naming the file: not found, unreadable or damaged, several bands, no CRS while AFTER
        has one (or another size without a CRS), a CRS of another body, or no overlap with the
        AFTER image.
    """
    path = Path(path)
    if not path.exists():
        raise OrbitscoutError("DTM file not found", path)
    if path.is_dir():
        raise OrbitscoutError("is a folder, not a DTM", path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            dataset = rasterio.open(path)
    except (RasterioIOError, CPLE_BaseError) as exc:
        raise OrbitscoutError(f"not a readable DTM ({gdal_message(exc, path)})", path) from exc
    try:
        dtm = _on_grid(path, dataset, after)
        probe(Product(path, dataset, 1, None))  # a damaged file fails here, in one line
    except BaseException:
        dataset.close()
        raise
    return dtm


def _on_grid(path: Path, dataset, after: Product) -> Dtm:
    if dataset.count != 1:
        raise OrbitscoutError(f"has {dataset.count} bands; a DTM has one band of heights", path)
    scale, offset = dataset.scales[0] or 1.0, dataset.offsets[0] or 0.0
    if (dataset.units[0] or "").strip().lower() in KILOMETRES:
        scale, offset = scale * 1000.0, offset * 1000.0
    located = dataset.crs is not None and not dataset.transform.is_identity
    if not after.georeferenced:
        if (dataset.width, dataset.height) != (after.width, after.height):
            raise OrbitscoutError(
                f"the AFTER image has no CRS, so the DTM must be on its pixel grid, of its size "
                f"({after.width:,} x {after.height:,} px; the DTM is {dataset.width:,} x "
                f"{dataset.height:,})",
                path,
            )
        return Dtm(path, dataset, dataset, scale, offset)
    if not located:
        raise OrbitscoutError(
            "has no CRS, so it cannot be placed on the AFTER image (which has one)", path
        )
    body = body_from_crs(dataset.crs)
    if body is None or (after.body is not None and body.name != after.body.name):
        where = "neither Mars nor the Moon" if body is None else body.name.title()
        raise OrbitscoutError(
            f"its CRS is of {where}, not of the AFTER image's body "
            f"({after.body.name.title() if after.body else 'unknown'})",
            path,
        )
    _check_cover(path, dataset, after)
    if (
        dataset.crs == after.crs
        and dataset.transform == after.transform
        and ((dataset.width, dataset.height) == (after.width, after.height))
    ):
        return Dtm(path, dataset, dataset, scale, offset)
    try:
        vrt = WarpedVRT(
            dataset,
            crs=after.crs,
            transform=after.transform,
            width=after.width,
            height=after.height,
            resampling=Resampling.bilinear,
            src_nodata=dataset.nodata,
            nodata=math.nan,
            dtype="float32",
        )
    except (CPLE_BaseError, RasterioError) as exc:
        raise OrbitscoutError(
            f"cannot be brought onto the AFTER image's grid ({gdal_message(exc, path)})", path
        ) from exc
    return Dtm(path, dataset, vrt, scale, offset)


def _check_cover(path: Path, dataset, after: Product) -> None:
    """Fail where the DTM's footprint misses the AFTER image's."""
    from rasterio.warp import transform_bounds

    try:
        left, bottom, right, top = transform_bounds(dataset.crs, after.crs, *dataset.bounds)
    except (CPLE_BaseError, RasterioError) as exc:
        raise OrbitscoutError(
            f"cannot be placed on the AFTER image's grid ({gdal_message(exc, path)})", path
        ) from exc
    a_left, a_bottom, a_right, a_top = after.dataset.bounds
    if not (left < a_right and right > a_left and bottom < a_top and top > a_bottom):
        raise OrbitscoutError("does not cover the AFTER image (no ground in common)", path)
