"""Crafted bad inputs for tests/test_bad_input.py: huge declared sizes in tiny files, truncated
and damaged files, images of another body or of the Earth, folders that cannot be written."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import rasterio
from rasterio.transform import from_origin
from rasterio.windows import Window

from orbitscout.core.bodies import MARS, local_map_crs

SITE = (18.4447, 77.4508)  # synth.make_pair's default site (Jezero)


def huge_header(path: Path, size: int, block: int = 8192, data: bool = False) -> Path:
    """A sparse tiled GeoTIFF declaring ``size`` x ``size`` pixels on Mars: a few KB, no block
    written (or only the first, ``data``), every other block no-data."""
    crs = local_map_crs(MARS, *SITE).to_wkt()
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=size,
        height=size,
        count=1,
        dtype="uint16",
        crs=crs,
        transform=from_origin(-size / 2, size / 2, 1.0, 1.0),
        nodata=0,
        tiled=True,
        blockxsize=block,
        blockysize=block,
        compress="deflate",
        sparse_ok=True,
        BIGTIFF="NO" if size * size * 2 < 2**31 else "YES",
    ) as ds:
        if data:
            ds.write(np.full((block, block), 500, "uint16"), 1, window=Window(0, 0, block, block))
    return path


def header_only(path: Path, size: int = 120_000, block: int = 4096) -> Path:
    """A crafted header of a few KB: a tiled GeoTIFF declaring ``size`` x ``size`` pixels whose
    first block is written, cut just before that block's data (its offset lies past the end of
    the file)."""
    huge_header(path, size, block=block, data=True)
    with rasterio.open(path) as ds:
        offset = int(ds.get_tag_item("BLOCK_OFFSET_0_0", "TIFF", bidx=1))
    with open(path, "r+b") as fh:
        fh.truncate(offset)
    return path


def truncated(src: Path, dst: Path, keep: float = 0.6) -> Path:
    """``src`` rewritten tiled (256 px blocks, deflate) and cut to ``keep`` of its bytes: its
    header and first blocks whole, its last blocks missing."""
    with rasterio.open(src) as ds:
        profile = ds.profile | {
            "tiled": True,
            "blockxsize": 256,
            "blockysize": 256,
            "compress": "deflate",
        }
        data = ds.read()
    with rasterio.open(dst, "w", **profile) as out:
        out.write(data)
    raw = dst.read_bytes()
    dst.write_bytes(raw[: int(len(raw) * keep)])
    return dst


def regrid(src: Path, dst: Path, crs: str) -> Path:
    """``src``'s pixels with the same transform in another CRS (e.g. an Earth one)."""
    with rasterio.open(src) as ds:
        profile = ds.profile | {"crs": crs}
        data = ds.read()
    with rasterio.open(dst, "w", **profile) as out:
        out.write(data)
    return dst


def masked(src: Path, dst: Path, keep: int = 8) -> Path:
    """``src`` with all but a ``keep`` x ``keep`` corner set to no-data (0)."""
    with rasterio.open(src) as ds:
        profile = ds.profile
        data = ds.read()
    data[:, keep:, :] = 0
    data[:, :, keep:] = 0
    with rasterio.open(dst, "w", **profile) as out:
        out.write(data)
    return dst


def noise_like(src: Path, dst: Path, seed: int) -> Path:
    """An image on ``src``'s grid holding uniform noise: nothing in it matches another."""
    with rasterio.open(src) as ds:
        profile = ds.profile
    rng = np.random.default_rng(seed)
    data = rng.integers(1000, 3000, (1, profile["height"], profile["width"])).astype("uint16")
    with rasterio.open(dst, "w", **profile) as out:
        out.write(data)
    return dst


def unsorted_tags(src: Path, dst: Path) -> Path:
    """``src`` with a TIFF directory whose tags are out of order: GDAL warns on every read of
    it (``TIFFReadDirectoryCheckOrder``), in every thread."""
    with rasterio.open(src) as ds:
        profile = ds.profile | {"tiled": False}
        data = ds.read()
    with rasterio.open(dst, "w", **profile) as out:
        out.write(data)
        out.update_tags(TIFFTAG_SOFTWARE="orbitscout-test")
    raw = bytearray(dst.read_bytes())
    at = raw.find(b"\x31\x01\x02\x00")  # tag 305 (Software), type ASCII
    assert at > 0
    raw[at : at + 2] = b"\xe8\xfd"  # tag 65000: now out of order
    dst.write_bytes(bytes(raw))
    return dst


@contextlib.contextmanager
def read_only_folder(path: Path) -> Iterator[Path | None]:
    """``path`` made a folder nobody can write into (mode 0555, and immutable where even that
    lets root write); yields None where this machine cannot make one."""
    path.mkdir(parents=True, exist_ok=True)
    (path / "keep.txt").write_text("keep me")
    path.chmod(0o555)
    immutable = False
    if os.access(path, os.W_OK) and shutil.which("chattr"):
        immutable = subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode == 0
    try:
        yield None if os.access(path, os.W_OK) else path
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(path)], capture_output=True)
        path.chmod(0o755)


def snapshot(folder: Path) -> dict[str, bytes] | None:
    """Everything under ``folder`` (None where it does not exist), to show it untouched."""
    if not folder.exists():
        return None
    return {
        str(p.relative_to(folder)): (p.read_bytes() if p.is_file() else b"<dir>")
        for p in sorted(folder.rglob("*"))
    }


def dtm_like(src: Path, dst: Path, crs: str | None = "same", east_m: float = 0.0) -> Path:
    """A DTM of heights 0-100 m on ``src``'s grid: in ``src``'s CRS (``"same"``), another
    (``crs``) or none (None), moved ``east_m`` metres east."""
    import warnings

    from rasterio.errors import NotGeoreferencedWarning

    with rasterio.open(src) as ds:
        profile = ds.profile | {"dtype": "float32", "nodata": None}
    profile["transform"] = profile["transform"] * profile["transform"].translation(
        east_m / profile["transform"].a, 0
    )
    if crs is None:
        profile.pop("crs")
        profile.pop("transform")
    elif crs != "same":
        profile["crs"] = crs
    heights = np.linspace(0, 100, profile["width"] * profile["height"], dtype="float32")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(dst, "w", **profile) as out:
            out.write(heights.reshape(profile["height"], profile["width"]), 1)
    return dst
