"""Where the AFTER grid's pixels lie on the body, for the viewer: a coarse lon/lat grid of
control points (interpolated bilinearly in the page) and the direction of north."""

from __future__ import annotations

import functools
import math

import numpy as np

from orbitscout.core.bodies import Body
from orbitscout.core.geometry import bearing_deg
from orbitscout.core.grid import PixelGrid

CONTROL_STEP = 512  # AFTER pixels between the lon/lat control points, at most
CONTROL_MAX = 65  # control points along a side, at most


def _transformer(grid: PixelGrid, body: Body):
    from pyproj import CRS, Transformer

    return Transformer.from_crs(CRS.from_user_input(grid.crs_wkt), body.crs, always_xy=True)


def lonlat_grid(grid: PixelGrid, body: Body | None) -> dict | None:
    """Lon/lat (planetocentric, east-positive, degrees) at a coarse grid of AFTER pixel corners.

    Parameters
    ----------
    grid : PixelGrid
        The AFTER image's grid.
    body : Body or None
        Its body; without one, or without a CRS, there is no grid.

    Returns
    -------
    dict or None
        ``{"u": [...], "v": [...], "lon": [[...]], "lat": [[...]]}``: ``u`` and ``v`` the
        control points' pixel-corner coordinates (columns, rows; a pixel's centre is at
        ``x + 0.5``), ``lon[i][j]``, ``lat[i][j]`` at (``u[j]``, ``v[i]``). Longitudes are
        unwrapped along the grid (no jump at ±180) so that bilinear interpolation holds;
        the page wraps the result.
    """
    if body is None or not grid.georeferenced:
        return None
    nu = min(CONTROL_MAX, max(2, math.ceil(grid.width / CONTROL_STEP) + 1))
    nv = min(CONTROL_MAX, max(2, math.ceil(grid.height / CONTROL_STEP) + 1))
    u = np.linspace(0.0, grid.width, nu)
    v = np.linspace(0.0, grid.height, nv)
    uu, vv = np.meshgrid(u, v)
    mx, my = grid.transform @ (uu.ravel(), vv.ravel())
    lon, lat = _transformer(grid, body).transform(mx, my)
    lon = np.degrees(np.unwrap(np.radians(np.asarray(lon).reshape(nv, nu)), axis=1))
    lon = np.degrees(np.unwrap(np.radians(lon), axis=0))
    lat = np.asarray(lat).reshape(nv, nu)
    return {
        "u": [round(float(a), 3) for a in u],
        "v": [round(float(a), 3) for a in v],
        "lon": [[round(float(a), 8) for a in row] for row in lon],
        "lat": [[round(float(a), 8) for a in row] for row in lat],
    }


def interpolate_lonlat(control: dict, x: float, y: float) -> tuple[float, float]:
    """Lon/lat at AFTER pixel (x, y) (centre convention), bilinear in ``lonlat_grid``'s points
    as the page computes it.

    Parameters
    ----------
    control : dict
        What ``lonlat_grid`` returned.
    x, y : float
        Pixel column and row, 0-based, integer at the pixel's centre.

    Returns
    -------
    tuple of float
        (lon in [-180, 180), lat), degrees.
    """
    u, v = np.asarray(control["u"]), np.asarray(control["v"])
    lon, lat = np.asarray(control["lon"]), np.asarray(control["lat"])
    fu, fv = x + 0.5, y + 0.5
    j = int(np.clip(np.searchsorted(u, fu) - 1, 0, len(u) - 2))
    i = int(np.clip(np.searchsorted(v, fv) - 1, 0, len(v) - 2))
    s = (fu - u[j]) / (u[j + 1] - u[j])
    t = (fv - v[i]) / (v[i + 1] - v[i])

    def blend(a: np.ndarray) -> float:
        top = a[i, j] * (1 - s) + a[i, j + 1] * s
        bottom = a[i + 1, j] * (1 - s) + a[i + 1, j + 1] * s
        return float(top * (1 - t) + bottom * t)

    return (blend(lon) + 180.0) % 360.0 - 180.0, blend(lat)


@functools.lru_cache(maxsize=8)
def north_deg(grid: PixelGrid, body: Body | None) -> float | None:
    """Direction of north at the image's centre, in degrees clockwise from "up" (row -1).

    Parameters
    ----------
    grid : PixelGrid
        The AFTER image's grid.
    body : Body or None
        Its body.

    Returns
    -------
    float or None
        0 on a north-up grid; None without a CRS or body.
    """
    if body is None or not grid.georeferenced:
        return None
    from pyproj import Transformer

    forward = _transformer(grid, body)
    backward = Transformer.from_crs(forward.target_crs, forward.source_crs, always_xy=True)
    cx, cy = grid.width / 2.0, grid.height / 2.0
    lon, lat = forward.transform(*(grid.transform @ (cx, cy)))
    # a small step north (on the body: 1e-4 degrees of latitude is a few metres)
    step = 1e-4 if lat < 89.0 else -1e-4
    mx, my = backward.transform(lon, lat + step)
    px, py = ~grid.transform @ (mx, my)
    right, up = (px - cx) * math.copysign(1, step), -(py - cy) * math.copysign(1, step)
    return round(bearing_deg(right, up), 3) % 360.0
