"""Reading bands as float32 with NaN for no data, with and without rasterio's masks."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
from rasterio.enums import Resampling
from rasterio.windows import Window

from orbitscout.image.product import read_float


@pytest.mark.parametrize("dtype, nodata", [("uint16", 0), ("float32", -3.4028226550889045e38)])
def test_no_data_value_read_as_nan(tmp_path, dtype, nodata):
    rng = np.random.default_rng(0)
    data = rng.integers(1, 4000, (96, 80)).astype(dtype)
    data[:10] = nodata
    data[50:60, 30:40] = nodata
    path = tmp_path / "img.tif"
    with rasterio.open(
        path, "w", driver="GTiff", width=80, height=96, count=1, dtype=dtype, nodata=nodata
    ) as ds:
        ds.write(data, 1)
    with rasterio.open(path) as ds:
        for window, shape in ((None, None), (Window(5, 5, 60, 70), None), (None, (48, 40))):
            got = read_float(ds, 1, path, window, shape)
            masked = ds.read(
                1, window=window, out_shape=shape, masked=True, resampling=Resampling.average
            )
            expected = masked.astype(np.float32).filled(np.nan)
            assert got.dtype == np.float32
            assert np.array_equal(np.isnan(got), np.isnan(expected))
            assert np.allclose(got[~np.isnan(got)], expected[~np.isnan(expected)])
        assert np.isnan(read_float(ds, 1, path)[:10]).all()


@pytest.mark.filterwarnings("ignore:Mean of empty slice")  # cells outside the rotated image
def test_reduced_sample_under_a_rotation_is_the_mean_of_the_full_resolution_one(tmp_path):
    # finely textured ground: warping cells read reduced would interpolate them, and miss
    from orbitscout.core.registration import Registration
    from orbitscout.image.grid import grid_map
    from orbitscout.image.product import open_product

    rng = np.random.default_rng(2)
    data = rng.normal(1000, 60, (600, 700)).astype(np.float32)
    path = tmp_path / "img.tif"
    with rasterio.open(
        path, "w", driver="GTiff", width=700, height=600, count=1, dtype="float32"
    ) as ds:
        ds.write(data, 1)
    product = open_product(path)
    try:
        gmap = grid_map(product, product)
        to_before = Registration(5.3, -3.6, 0.4, 0.0, (349.5, 299.5), 9).after_to_before()
        window = Window(0, 0, 696, 600)
        samples = gmap.sample(window, registration=to_before)
        full = np.nanmean(samples.reshape(75, 8, 87, 8), axis=(1, 3))
        reduced = gmap.sample(window, registration=to_before, factor=8)
        assert reduced.shape == full.shape == (75, 87)
        assert np.array_equal(np.isnan(reduced), np.isnan(full))
        assert np.allclose(reduced, full, equal_nan=True, atol=1e-3)
    finally:
        product.close()
