"""Bearings and compass points on a local east/north plane, shared by every module.

A bearing is in degrees clockwise from north, in [0, 360): east is 90, south 180, west 270.
"""

from __future__ import annotations

import numpy as np

__all__ = ["COMPASS_POINTS", "bearing_deg", "compass"]

# The rose of each supported size, clockwise from north.
COMPASS_POINTS: dict[int, tuple[str, ...]] = {
    4: ("N", "E", "S", "W"),
    8: ("N", "NE", "E", "SE", "S", "SW", "W", "NW"),
    16: (
        "N",
        "NNE",
        "NE",
        "ENE",
        "E",
        "ESE",
        "SE",
        "SSE",
        "S",
        "SSW",
        "SW",
        "WSW",
        "W",
        "WNW",
        "NW",
        "NNW",
    ),  # fmt: skip
}


def bearing_deg(east, north):
    """Bearing of the offset (east, north), degrees clockwise from north.

    Parameters
    ----------
    east, north : float or array_like
        The offset's east and north components (any one unit); arrays broadcast.

    Returns
    -------
    float or numpy.ndarray
        The bearing in [0, 360): a float for scalar inputs, else an array of the broadcast
        shape. A zero offset has bearing 0; non-finite inputs give NaN.
    """
    b = np.mod(np.degrees(np.arctan2(east, north)), 360.0)
    # a tiny negative angle rounds to 360.0 exactly in floating point: that is north
    b = np.where(b >= 360.0, 0.0, b)
    return float(b) if b.ndim == 0 else b


def compass(bearing_deg, points: int = 16):
    """The compass point nearest a bearing: one rose for the terminal, the page and the demo.

    Parameters
    ----------
    bearing_deg : float or array_like
        Degrees clockwise from north; any real value (it is taken modulo 360).
    points : int, optional
        The rose: 16 (N, NNE, NE, ENE, ...; the default), 8 (N, NE, E, ...) or 4 (N, E, S, W).
        A bearing half-way between two points goes to the clockwise one.

    Returns
    -------
    str or numpy.ndarray
        The point's name, e.g. ``"WSW"``; an array of names for array input.

    Raises
    ------
    ValueError
        For a rose other than 4, 8 or 16 points, or a bearing that is not finite.
    """
    rose = COMPASS_POINTS.get(points)
    if rose is None:
        raise ValueError(f"points must be 4, 8 or 16, got {points!r}")
    b = np.asarray(bearing_deg, dtype=float)
    if not np.all(np.isfinite(b)):
        raise ValueError("a compass point needs a finite bearing")
    step = 360.0 / points
    index = np.floor(np.mod(b, 360.0) / step + 0.5).astype(int) % points
    names = np.asarray(rose)[index]
    return str(names) if names.ndim == 0 else names
