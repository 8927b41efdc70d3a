"""Mars and the Moon: sizes, gravity, rotation and their IAU 2015 coordinate reference systems."""

from __future__ import annotations

import math
from dataclasses import dataclass

from pyproj import CRS

from orbitscout.core.errors import OrbitscoutError


@dataclass(frozen=True)
class Body:
    """A target body and the constants orbitscout needs of it."""

    name: str
    radius_m: float  # radius of the IAU 2015 sphere used by map-projected products
    equatorial_radius_m: float
    polar_radius_m: float
    gm_m3_s2: float
    j2: float
    sidereal_rotation_s: float
    iau_code: str  # planetocentric geographic CRS, east-positive longitudes
    # IAU rotation model, linear part: pole right ascension and declination (deg, ICRF, rates per
    # Julian century of TDB) and prime meridian W (deg, rate per day of TDB), all from J2000.0.
    # Periodic terms live in ``orientation_deg``.
    pole_ra_deg: float = 0.0
    pole_ra_rate_deg_per_century: float = 0.0
    pole_dec_deg: float = 90.0
    pole_dec_rate_deg_per_century: float = 0.0
    pm_deg: float = 0.0
    pm_rate_deg_per_day: float = 0.0
    solar_day_s: float = 86_400.0  # mean solar day (Mars: sol; Moon: synodic month)

    @property
    def crs(self) -> CRS:
        """The body's planetocentric geographic CRS (IAU_2015)."""
        return CRS.from_user_input(self.iau_code)


# Mars: GM, radii, J2 and rotation from docs/facts.md (IAU 2015 report, Archinal et al.
# 2018, Celest. Mech. Dyn. Astr. 130:22; J2 from the MRO gravity field, Konopliv et al. 2016).
MARS = Body(
    name="mars",
    radius_m=3_396_190.0,
    equatorial_radius_m=3_396_190.0,
    polar_radius_m=3_376_200.0,
    gm_m3_s2=4.282837e13,
    j2=1.96045e-3,
    sidereal_rotation_s=88_642.66,
    iau_code="IAU_2015:49900",
    # IAU 2015 (Archinal et al. 2018, Table 2): α0 = 317.269202 − 0.10927547 T,
    # δ0 = 54.432516 − 0.05827105 T, W = 176.049863 + 350.891982443297 d, plus periodic terms
    # (the slow ~71,000-year precession terms of 0.42°, 1.59° and 0.58° must be kept: see
    # _MARS_PERIODIC). Sol 88775.244 s (Mars24; docs/facts.md).
    pole_ra_deg=317.269202,
    pole_ra_rate_deg_per_century=-0.10927547,
    pole_dec_deg=54.432516,
    pole_dec_rate_deg_per_century=-0.05827105,
    pm_deg=176.049863,
    pm_rate_deg_per_day=350.891982443297,
    solar_day_s=88_775.244,
)

# Moon: GM and radius from docs/facts.md (IAU 2015; GRAIL GM 4902.80 km^3/s^2); J2 2.0330e-4 from
# the GRAIL gravity field (Konopliv et al. 2013, JGR Planets 118:1415, unnormalised
# C20 = -2.033e-4);
# synchronous rotation, sidereal month 27.321661 d.
MOON = Body(
    name="moon",
    radius_m=1_737_400.0,
    equatorial_radius_m=1_737_400.0,
    polar_radius_m=1_737_400.0,
    gm_m3_s2=4.9028e12,
    j2=2.0330e-4,
    sidereal_rotation_s=27.321661 * 86_400.0,
    iau_code="IAU_2015:30100",
    # IAU 2015 (Archinal et al. 2018, unchanged from 2009): α0 = 269.9949 + 0.0031 T,
    # δ0 = 66.5392 + 0.0130 T, W = 38.3213 + 13.17635815 d − 1.4e−12 d², plus the E1…E13
    # periodic terms (_MOON_PERIODIC). Synodic month 29.530589 d (Astronomical Almanac).
    pole_ra_deg=269.9949,
    pole_ra_rate_deg_per_century=0.0031,
    pole_dec_deg=66.5392,
    pole_dec_rate_deg_per_century=0.0130,
    pm_deg=38.3213,
    pm_rate_deg_per_day=13.17635815,
    solar_day_s=29.530589 * 86_400.0,
)

BODIES = {b.name: b for b in (MARS, MOON)}


def get_body(name: str) -> Body:
    """Look a body up by name (``mars`` or ``moon``)."""
    try:
        return BODIES[name.lower()]
    except KeyError:
        raise OrbitscoutError(
            f"unknown body {name!r}; known: {', '.join(BODIES)}", "--body"
        ) from None


# Periodic terms of the IAU 2015 rotation models (Archinal et al. 2018, Celest. Mech. Dyn. Astr.
# 130:22, Tables 2 and 3). Each row: (coefficient deg, argument constant deg, argument rate deg,
# rate unit "T" = per Julian century or "d" = per day). α0 terms multiply sin, δ0 terms cos, W
# terms sin.
_MARS_PERIODIC = {
    "ra": (
        (0.000068, 198.991226, 19139.4819985, "T"),
        (0.000238, 226.292679, 38280.8511281, "T"),
        (0.000052, 249.663391, 57420.7251593, "T"),
        (0.000009, 266.183510, 76560.6367950, "T"),
        (0.419057, 79.398797, 0.5042615, "T"),
    ),
    "dec": (
        (0.000051, 122.433576, 19139.9407476, "T"),
        (0.000141, 43.058401, 38280.8753272, "T"),
        (0.000031, 57.663379, 57420.7517205, "T"),
        (0.000005, 79.476401, 76560.6495004, "T"),
        (1.591274, 166.325722, 0.5042615, "T"),
    ),
    "w": (
        (0.000145, 129.071773, 19140.0328244, "T"),
        (0.000157, 36.352167, 38281.0473591, "T"),
        (0.000040, 56.668646, 57420.9295360, "T"),
        (0.000001, 67.364003, 76560.2552215, "T"),
        (0.000001, 104.792680, 95700.4387578, "T"),
        (0.584542, 95.391654, 0.5042615, "T"),
    ),
}
_MOON_E = (  # E1 … E13 (deg, deg/day)
    (125.045, -0.0529921), (250.089, -0.1059842), (260.008, 13.0120009), (176.625, 13.3407154),
    (357.529, 0.9856003), (311.589, 26.4057084), (134.963, 13.0649930), (276.617, 0.3287146),
    (34.226, 1.7484877), (15.134, -0.1589763), (119.743, 0.0036096), (239.961, 0.1643573),
    (25.053, 12.9590088),
)  # fmt: skip
_MOON_RA = (-3.8787, -0.1204, 0.0700, -0.0172, 0.0, 0.0072, 0.0, 0.0, 0.0, -0.0052, 0.0, 0.0,
            0.0043)  # fmt: skip
_MOON_DEC = (1.5419, 0.0239, -0.0278, 0.0068, 0.0, -0.0029, 0.0009, 0.0, 0.0, 0.0008, 0.0, 0.0,
             -0.0009)  # fmt: skip
_MOON_W = (3.5610, 0.1208, -0.0642, 0.0158, 0.0252, -0.0066, -0.0047, -0.0046, 0.0028, 0.0052,
           0.0040, 0.0019, -0.0044)  # fmt: skip


def prime_meridian_deg(body: Body, tdb_days):
    """IAU 2015 prime-meridian angle W (deg) alone (cheaper than ``orientation_deg``)."""
    import numpy as np

    d = np.asarray(tdb_days, dtype=float)
    w = body.pm_deg + body.pm_rate_deg_per_day * d
    if body.name == "mars":
        t = d / 36525.0
        w = w + sum(c * np.sin(np.radians(a0 + rate * t)) for c, a0, rate, _ in _MARS_PERIODIC["w"])
    elif body.name == "moon":
        w = w - 1.4e-12 * d**2
        w = w + sum(
            c * np.sin(np.radians(a0 + rate * d))
            for c, (a0, rate) in zip(_MOON_W, _MOON_E, strict=True)
        )
    return w


def orientation_deg(body: Body, tdb_days):
    """IAU 2015 pole right ascension, declination and prime-meridian angle W (degrees) of the
    body at ``tdb_days`` (days of TDB — TT will do — since J2000.0; scalar or array)."""
    import numpy as np

    d = np.asarray(tdb_days, dtype=float)
    t = d / 36525.0
    ra = body.pole_ra_deg + body.pole_ra_rate_deg_per_century * t
    dec = body.pole_dec_deg + body.pole_dec_rate_deg_per_century * t
    w = body.pm_deg + body.pm_rate_deg_per_day * d
    if body.name == "mars":
        for key, fn in (("ra", np.sin), ("dec", np.cos), ("w", np.sin)):
            extra = sum(
                c * fn(np.radians(a0 + rate * (t if unit == "T" else d)))
                for c, a0, rate, unit in _MARS_PERIODIC[key]
            )
            if key == "ra":
                ra = ra + extra
            elif key == "dec":
                dec = dec + extra
            else:
                w = w + extra
    elif body.name == "moon":
        e = [np.radians(a0 + rate * d) for a0, rate in _MOON_E]
        ra = ra + sum(c * np.sin(x) for c, x in zip(_MOON_RA, e, strict=True) if c)
        dec = dec + sum(c * np.cos(x) for c, x in zip(_MOON_DEC, e, strict=True) if c)
        w = w - 1.4e-12 * d**2 + sum(c * np.sin(x) for c, x in zip(_MOON_W, e, strict=True))
    return ra, dec, w


def icrf_to_body_matrix(body: Body, tdb_days):
    """Rotation matrices (shape ``(..., 3, 3)``) taking ICRF/J2000 vectors into the body-fixed
    frame: Rz(W) · Rx(90° − δ0) · Rz(90° + α0) (IAU convention)."""
    import numpy as np

    ra, dec, w = (np.radians(x) for x in orientation_deg(body, tdb_days))

    def rz(a):
        c, s = np.cos(a), np.sin(a)
        z, o = np.zeros_like(c), np.ones_like(c)
        return np.stack(
            [np.stack([c, s, z], -1), np.stack([-s, c, z], -1), np.stack([z, z, o], -1)], -2
        )

    def rx(a):
        c, s = np.cos(a), np.sin(a)
        z, o = np.zeros_like(c), np.ones_like(c)
        return np.stack(
            [np.stack([o, z, z], -1), np.stack([z, c, s], -1), np.stack([z, -s, c], -1)], -2
        )

    return rz(w) @ rx(np.pi / 2 - dec) @ rz(np.pi / 2 + ra)


def body_from_crs(crs: CRS | str | None) -> Body | None:
    """The body whose sphere or ellipsoid the CRS uses, or None when the CRS is absent or
    belongs to neither body. Compares radii, not authority codes (ISIS3 and PDS4 lose them)."""
    if crs is None:
        return None
    crs = CRS.from_user_input(crs)
    ellipsoid = crs.ellipsoid
    if ellipsoid is None:
        return None
    for body in BODIES.values():
        if abs(ellipsoid.semi_major_metre - body.equatorial_radius_m) < 1_000.0 or (
            abs(ellipsoid.semi_major_metre - body.radius_m) < 1_000.0
        ):
            return body
    return None


def local_map_crs(body: Body, lat: float, lon: float) -> CRS:
    """Equirectangular projection on the body's IAU 2015 sphere with its true-scale parallel
    and central meridian at (lat, lon), northings from the equator: metres on the ground near a
    site, as map-projected HiRISE and CaSSIS products (ISIS3 Equirectangular) use."""
    from pyproj.crs import ProjectedCRS
    from pyproj.crs.coordinate_operation import EquidistantCylindricalConversion

    conversion = EquidistantCylindricalConversion(
        latitude_first_parallel=lat, longitude_natural_origin=lon
    )
    return ProjectedCRS(conversion=conversion, geodetic_crs=body.crs, name=f"{body.name} local")


def parse_site(text: str) -> tuple[float, float]:
    """``"LAT,LON"`` (planetocentric degrees, east-positive) → (lat, lon in [-180, 180))."""
    parts = str(text).replace(" ", "").split(",")
    if len(parts) != 2:
        raise OrbitscoutError(f"site must be LAT,LON in degrees, got {text!r}")
    try:
        lat, lon = float(parts[0]), float(parts[1])
    except ValueError:
        raise OrbitscoutError(f"site must be LAT,LON in degrees, got {text!r}") from None
    return check_site(lat, lon)


def check_site(lat: float, lon: float) -> tuple[float, float]:
    """Check a site's latitude and wrap its longitude into [-180, 180)."""
    if not (math.isfinite(lat) and math.isfinite(lon)):
        raise OrbitscoutError("site latitude and longitude must be finite numbers")
    if not -90.0 <= lat <= 90.0:
        raise OrbitscoutError(f"site latitude {lat:g} is out of range [-90, 90]")
    return float(lat), float((lon + 180.0) % 360.0 - 180.0)
