"""The AFTER image's pixel grid: its size and, where it has one, its place on the body."""

from __future__ import annotations

from dataclasses import dataclass

from affine import Affine


@dataclass(frozen=True)
class PixelGrid:
    """Size of an image and its georeferencing.

    Attributes
    ----------
    width, height : int
        Columns and rows.
    transform : affine.Affine or None
        Pixel corner (col, row) to map coordinates; None without a CRS.
    crs_wkt : str or None
        The map CRS as WKT; None without a CRS.
    """

    width: int
    height: int
    transform: Affine | None = None
    crs_wkt: str | None = None

    @property
    def georeferenced(self) -> bool:
        """Whether pixels have map coordinates."""
        return self.transform is not None and self.crs_wkt is not None
