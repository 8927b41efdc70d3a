"""Reading bands as float32 with NaN for no data, with and without rasterio's masks."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
from rasterio.enums import Resampling
from rasterio.windows import Window

from orbitscout.raster import read_float


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
