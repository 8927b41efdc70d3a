"""The sun as each image saw it, and how far the two looks' suns differ."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Sun:
    """The sun at the centre of an image.

    Attributes
    ----------
    azimuth_deg : float
        Direction toward the sun, degrees clockwise from north (0-360).
    incidence_deg : float
        Solar incidence angle from the vertical (degrees, 0-90).
    source : str
        Where the values came from (``"label"``, ``"option"``, ``"estimated"``).
    """

    azimuth_deg: float
    incidence_deg: float
    source: str = "option"

    def __post_init__(self) -> None:
        if not (math.isfinite(self.azimuth_deg) and math.isfinite(self.incidence_deg)):
            raise ValueError("sun azimuth and incidence must be finite")
        if not 0.0 <= self.incidence_deg < 90.0:
            raise ValueError(f"solar incidence must be 0 to 90 degrees (got {self.incidence_deg})")
        object.__setattr__(self, "azimuth_deg", self.azimuth_deg % 360.0)

    @property
    def vector(self) -> tuple[float, float, float]:
        """Unit vector toward the sun (east, north, up)."""
        a, i = math.radians(self.azimuth_deg), math.radians(self.incidence_deg)
        return (math.sin(i) * math.sin(a), math.sin(i) * math.cos(a), math.cos(i))


def sun_change(before: Sun, after: Sun) -> dict[str, float]:
    """How far two suns differ: in incidence, in azimuth (signed, -180 to 180) and the angle
    between their directions (all degrees)."""
    dot = sum(p * q for p, q in zip(before.vector, after.vector, strict=True))
    return {
        "incidence_deg": round(after.incidence_deg - before.incidence_deg, 2),
        "azimuth_deg": round((after.azimuth_deg - before.azimuth_deg + 180.0) % 360.0 - 180.0, 2),
        "angle_deg": round(math.degrees(math.acos(max(-1.0, min(1.0, dot)))), 2),
    }
