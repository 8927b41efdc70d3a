"""A rectangle of pixels: the unit every read and every tile is made of."""

from __future__ import annotations

from typing import NamedTuple


class Window(NamedTuple):
    """A rectangle of an image's pixel grid: columns ``col_off`` to ``col_off + width`` and rows
    ``row_off`` to ``row_off + height`` (0-based, ends excluded), as rasterio counts them."""

    col_off: int
    row_off: int
    width: int
    height: int
