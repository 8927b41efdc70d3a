"""A disappearance on real ground: the real HiRISE crop of Perseverance with the rover painted
out of AFTER instead of BEFORE, so the rover is in BEFORE and gone in AFTER (issue 16)."""

from __future__ import annotations

import numpy as np
import rasterio
from scipy import ndimage as ndi

from orbitscout.pipeline import find

ROVER = (1042, 480)  # (x, y) of the rover in the crop (../shared/data/real/README.md)
HALF = 14  # half the side of the square painted over it: the ground that changed


def _write(path, data: np.ndarray):
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=data.shape[1],
        height=data.shape[0],
        count=1,
        dtype="float32",
    ) as ds:
        ds.write(data.astype(np.float32), 1)
    return path


def _pair(tmp_path, shared_data, paint_out: str):
    """BEFORE and AFTER from the crop's blue band (the rover saturates it): the rover painted
    out of ``paint_out`` by the ground 60 px west of it; BEFORE shifted and re-noised."""
    jpeg = shared_data / "real" / "ESP_068360_1985_perseverance_rover_crop.jpg"
    with rasterio.open(jpeg) as ds:
        image = ds.read(3).astype(np.float32)
    painted = image.copy()
    x, y, half = *ROVER, HALF
    painted[y - half : y + half, x - half : x + half] = image[
        y - half : y + half, x - half - 60 : x + half - 60
    ]
    before, after = (painted, image) if paint_out == "before" else (image, painted)
    before = ndi.shift(before, (2.4, -3.7), order=3, mode="nearest")
    before = before + np.random.default_rng(0).normal(0, 2.0, before.shape)
    return _write(tmp_path / "before.tif", before), _write(tmp_path / "after.tif", after)


def test_rover_gone_from_after_is_found_as_vanished(tmp_path, shared_data):
    before, after = _pair(tmp_path, shared_data, paint_out="after")
    result = find(before, after, tmp_path / "out", gsd_m=0.25)
    near = [d for d in result.detections if max(abs(d.x - ROVER[0]), abs(d.y - ROVER[1])) <= HALF]
    assert near, "the vanished rover was not found"
    assert near[0].change == "vanished"
    assert near[0].change_score is not None and near[0].change_score >= 0.5
    assert len(result.detections) == len(near)  # the rest of the real ground: no change


def test_rover_that_appeared_is_not_called_vanished(tmp_path, shared_data):
    before, after = _pair(tmp_path, shared_data, paint_out="before")
    result = find(before, after, tmp_path / "out", gsd_m=0.25)
    near = [d for d in result.detections if max(abs(d.x - ROVER[0]), abs(d.y - ROVER[1])) <= HALF]
    assert near and near[0].change == "appeared"
