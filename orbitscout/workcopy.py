"""Decode a compressed product once: a raw working copy of its band on disk, read many times.

``find`` reads each product several times (reduced for registration and photometry, tile by
tile at full resolution, chips for the report). A compressed product without overviews (a
deflate GeoTIFF, a JPEG) too large for GDAL's block cache is decoded again on every pass;
copying its band once, uncompressed, to a scratch folder lets every later read be a plain
read of raw bytes. The copy is an ENVI raster (raw pixels and a header, written by GDAL) with
the band's own type and no-data value, so GDAL reads it exactly as it reads the product.
"""

from __future__ import annotations

import os
import shutil
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import rasterio
from rasterio.enums import MaskFlags
from rasterio.errors import NotGeoreferencedWarning, RasterioIOError
from rasterio.windows import Window

from .errors import OrbitscoutError
from .raster import Product

STRIP_BYTES = 32 * 2**20  # decoded bytes read (and written) at a time
FREE_MARGIN_BYTES = 1 * 2**30  # disk space a copy must leave free
COMPRESSED_DRIVERS = {"JPEG", "PNG", "WEBP", "JP2OpenJPEG", "JP2ECW", "JP2KAK", "JPEGXL"}


def band_bytes(product: Product) -> int:
    """Decoded size of the product's band."""
    dtype = np.dtype(product.dataset.dtypes[product.band - 1])
    return product.width * product.height * dtype.itemsize


def worth_copying(product: Product) -> bool:
    """Whether reading the product again means decoding it again: compressed, without
    overviews, and with no mask beyond a no-data value (which the copy keeps)."""
    ds = product.dataset
    compressed = ds.compression is not None or ds.driver in COMPRESSED_DRIVERS
    flags = ds.mask_flag_enums[product.band - 1]
    plain_mask = flags in ([MaskFlags.all_valid], [MaskFlags.nodata])
    return compressed and plain_mask and not ds.overviews(product.band)


def decode_copy(product: Product, folder: Path) -> bool:
    """Copy the product's band, decoded, into ``folder`` and read its pixels from there from
    now on; False (and nothing written) where the disk lacks room for it."""
    ds, band = product.dataset, product.band
    nbytes = band_bytes(product)
    if shutil.disk_usage(folder).free < nbytes + FREE_MARGIN_BYTES:
        return False
    dtype = np.dtype(ds.dtypes[band - 1])
    nodata = ds.nodatavals[band - 1] if ds.mask_flag_enums[band - 1] == [MaskFlags.nodata] else None
    raw = folder / f"{len(list(folder.iterdir()))}.raw"
    profile = dict(
        driver="ENVI", width=ds.width, height=ds.height, count=1, dtype=dtype, nodata=nodata
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(raw, "w", **profile):
            pass  # GDAL writes the header; the pixels follow, strip by strip
    row_bytes = ds.width * dtype.itemsize
    rows = max(1, STRIP_BYTES // row_bytes)
    # a thread writes one strip while GDAL decodes the next
    with open(raw, "r+b") as out, ThreadPoolExecutor(1) as writer:
        pending = None
        for y0 in range(0, ds.height, rows):
            window = Window(0, y0, ds.width, min(rows, ds.height - y0))
            try:
                strip = ds.read(band, window=window)
            except RasterioIOError as exc:
                raise OrbitscoutError(f"cannot read pixels ({exc})", product.path) from exc
            if pending is not None:
                pending.result()
            pending = writer.submit(_write_at, out.fileno(), strip, y0 * row_bytes)
        if pending is not None:
            pending.result()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        product.pixels = rasterio.open(raw)
    return True


def _write_at(fd: int, data: np.ndarray, offset: int) -> None:
    view = memoryview(np.ascontiguousarray(data)).cast("B")
    while view:
        written = os.pwrite(fd, view, offset)
        view, offset = view[written:], offset + written
