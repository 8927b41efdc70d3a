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
    "change",
    "change_score",
    "moved_from",
    "move",
    "alternative",
    "alternative_score",
)
# the GeoPackage's columns, ``move`` (a dict) flattened, each of a type that holds a missing
# value (NULL): a column of None alone (or an empty table) would otherwise be written as text
GPKG_COLUMNS = {
    "id": "int64",
    "class": "string",
    "score": "float64",
    "x": "float64",
    "y": "float64",
    "polarity": "string",
    "area_m2": "float64",
    "length_m": "float64",
    "contrast": "float64",
    "width_m": "float64",
    "peak_sigma": "float64",
    "change": "string",
    "change_score": "float64",
    "moved_from": "Int64",
    "alternative": "string",
    "alternative_score": "float64",
    "move_distance_m": "float64",
    "move_distance_px": "float64",
    "move_bearing_deg": "float64",
}
MOVE_KEYS = ("distance_m", "distance_px", "bearing_deg")


def feature_properties(c: Candidate) -> dict:
    """The GeoJSON properties of one detection: design.md's, and issue 16's and 17's
    (``change``, ``change_score``, ``moved_from``, ``move``, ``alternative``,
    ``alternative_score``; None where not known)."""
    return {
        "id": c.id,
        "class": c.cls,
        "score": round(c.score, 4),
        "x": round(float(c.x), 3),
        "y": round(float(c.y), 3),
        "polarity": c.polarity,
        "area_m2": _round(c.area_m2, 2),
        "length_m": _round(c.length_m, 2),
        "contrast": round(c.contrast, 4),
        "width_m": _round(c.width_m, 2),
        "peak_sigma": round(c.peak_sigma, 2),
        "change": c.change,
        "change_score": _round(c.change_score, 4),
        "moved_from": None if c.moved_from is None else int(c.moved_from),
        "move": _move(c.move),
        "alternative": c.alternative,
        "alternative_score": _round(c.alternative_score, 4),
    }


def _move(move: dict | None) -> dict | None:
    """A move's distance (m or px) and bearing (degrees clockwise from north), rounded."""
    if move is None:
        return None
    return {key: round(float(move[key]), 2) for key in MOVE_KEYS if move.get(key) is not None}


def gpkg_row(c: Candidate) -> dict:
    """One detection's GeoPackage columns: the GeoJSON properties with ``move`` flattened into
    ``move_distance_m``, ``move_distance_px`` and ``move_bearing_deg``."""
    row = feature_properties(c)
    move = row.pop("move") or {}
    for key in MOVE_KEYS:
        row[f"move_{key}"] = move.get(key)
    return row


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
    import pandas as pd
    from shapely.geometry import Point

    rows = [gpkg_row(c) for c in found]
    if grid.georeferenced:
        points = [Point(grid.transform @ (c.x + 0.5, c.y + 0.5)) for c in found]
        crs = grid.crs_wkt
    else:
        points = [Point(c.x, -c.y) for c in found]
        crs = None
    table = pd.DataFrame(rows, columns=list(GPKG_COLUMNS))
    table = table.astype(GPKG_COLUMNS)
    frame = gpd.GeoDataFrame(table, geometry=points, crs=crs)
    with warnings.catch_warnings():
        # without a CRS the points are in pixels (x, -y), as the README says: no warning
        warnings.filterwarnings("ignore", "'crs' was not provided", UserWarning)
        frame.to_file(path, driver="GPKG", layer="detections")
