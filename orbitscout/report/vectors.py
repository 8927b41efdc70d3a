"""The detections as vectors: GeoJSON on the body's sphere and a GeoPackage in the image's CRS."""

from __future__ import annotations

import warnings
from pathlib import Path

from orbitscout.core.candidate import Candidate
from orbitscout.core.grid import PixelGrid


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(float(value), digits)


PROPERTIES = (
    "id",
    "class",
    "score",
    "x",
    "y",
    "polarity",
    "area_m2",
    "length_m",
    "contrast",
    "width_m",
    "peak_sigma",
)


def feature_properties(c: Candidate) -> dict:
    """The GeoJSON properties of one detection, as design.md fixes them."""
    return {
        "id": c.id,
        "class": c.cls,
        "score": round(c.score, 4),
        "x": round(c.x, 3),
        "y": round(c.y, 3),
        "polarity": c.polarity,
        "area_m2": _round(c.area_m2, 2),
        "length_m": _round(c.length_m, 2),
        "contrast": round(c.contrast, 4),
        "width_m": _round(c.width_m, 2),
        "peak_sigma": round(c.peak_sigma, 2),
    }


def geojson(found: list[Candidate], body: str | None, iau_code: str | None) -> dict:
    """A FeatureCollection of the detections, lon/lat on the body's IAU sphere."""
    features = []
    for c in found:
        geometry = None
        if c.lon is not None:
            geometry = {"type": "Point", "coordinates": [round(c.lon, 8), round(c.lat, 8)]}
        features.append(
            {"type": "Feature", "geometry": geometry, "properties": feature_properties(c)}
        )
    return {
        "type": "FeatureCollection",
        "body": body,
        "crs": {"type": "name", "properties": {"name": iau_code}} if iau_code else None,
        "features": features,
    }


def write_gpkg(path: Path, found: list[Candidate], grid: PixelGrid) -> None:
    """The detections as points in the AFTER image's own CRS (pixel units without one)."""
    import geopandas as gpd
    from shapely.geometry import Point

    rows = [feature_properties(c) for c in found]
    if grid.georeferenced:
        points = [Point(grid.transform @ (c.x + 0.5, c.y + 0.5)) for c in found]
        crs = grid.crs_wkt
    else:
        points = [Point(c.x, -c.y) for c in found]
        crs = None
    frame = gpd.GeoDataFrame(rows, columns=list(PROPERTIES), geometry=points, crs=crs)
    with warnings.catch_warnings():
        # without a CRS the points are in pixels (x, -y), as the README says: no warning
        warnings.filterwarnings("ignore", "'crs' was not provided", UserWarning)
        frame.to_file(path, driver="GPKG", layer="detections")
