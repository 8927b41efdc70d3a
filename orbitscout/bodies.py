"""Mars and the Moon: sizes, gravity, rotation and their IAU 2015 coordinate reference systems."""

from __future__ import annotations

from dataclasses import dataclass

from pyproj import CRS

from .errors import OrbitscoutError


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

    @property
    def crs(self) -> CRS:
        """The body's planetocentric geographic CRS (IAU_2015)."""
        return CRS.from_user_input(self.iau_code)


# Mars: GM, radii, J2 and rotation from ../shared/data/FACTS.md (IAU 2015 report, Archinal et al.
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
)

# Moon: GM and radius from FACTS.md (IAU 2015; GRAIL GM 4902.80 km^3/s^2); J2 2.0330e-4 from
# the GRAIL gravity field (Konopliv et al. 2013, JGR Planets 118:1415, unnormalised C20 = -2.033e-4);
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
)

BODIES = {b.name: b for b in (MARS, MOON)}


def get_body(name: str) -> Body:
    """Look a body up by name (``mars`` or ``moon``)."""
    try:
        return BODIES[name.lower()]
    except KeyError:
        raise OrbitscoutError(f"unknown body {name!r}; known: {', '.join(BODIES)}") from None


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
    and central meridian at (lat, lon): metres on the ground near a site, as map-projected
    HiRISE and CaSSIS products use at low and middle latitudes."""
    from pyproj.crs import ProjectedCRS
    from pyproj.crs.coordinate_operation import EquidistantCylindricalConversion

    conversion = EquidistantCylindricalConversion(
        latitude_first_parallel=lat, longitude_natural_origin=lon
    )
    return ProjectedCRS(conversion=conversion, geodetic_crs=body.crs, name=f"{body.name} local")
