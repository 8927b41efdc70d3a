"""One changed spot, measured in the AFTER image's pixel grid."""

from __future__ import annotations

import math
from dataclasses import dataclass, field


@dataclass
class Candidate:
    """One changed spot, measured in the AFTER image's pixel grid."""

    id: int
    x: float
    y: float
    area_px: float
    length_px: float
    width_px: float
    orientation_deg: float  # long axis, degrees from +x (columns) towards +y (rows)
    polarity: str
    contrast: float  # mean relative brightness change over the spot
    contrast_bright: float  # brightening, relative to the local level
    contrast_dark: float  # darkening (negative), relative to the local level
    bright_fraction: float  # share of the absolute change that is brightening
    peak_sigma: float
    score: float
    bbox: tuple[int, int, int, int]
    bright_xy: tuple[float, float] | None
    dark_xy: tuple[float, float] | None
    linear: bool
    novelty: float = math.inf  # change energy over the BEFORE image's own local structure
    # which way the ground changed: "appeared" (something new in AFTER), "vanished" (something
    # of BEFORE gone in AFTER) or "altered" (both images hold structure there that differs)
    change: str = "appeared"
    # probability that the ground really changed here (not noise, not re-shaded relief)
    change_score: float | None = None
    # a possible move: the id of the detection this one may be the other end of (a vanished
    # object and a like one that appeared nearby), with the distance (m, or px without a
    # scale) and the bearing (degrees clockwise from north) from that one to this one
    moved_from: int | None = None
    move: dict | None = None
    cls: str = "unknown"
    # the second most probable class and its probability (None when no other class is left)
    alternative: str | None = None
    alternative_score: float | None = None
    gsd_m: float | None = None
    lon: float | None = None
    lat: float | None = None
    features: dict = field(default_factory=dict)

    def _metres(self, value: float, power: int = 1) -> float | None:
        return None if self.gsd_m is None else value * self.gsd_m**power

    @property
    def area_m2(self) -> float | None:
        return self._metres(self.area_px, 2)

    @property
    def length_m(self) -> float | None:
        return self._metres(self.length_px)

    @property
    def width_m(self) -> float | None:
        return self._metres(self.width_px)
