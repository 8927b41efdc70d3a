"""The sun of a product as its labels give it, and a sun's direction on a pixel grid.

Labels read (the text of the label itself, not GDAL's metadata, which keeps none of these):

- **PDS3** (a detached ``.LBL``, the label attached at the head of an ``.IMG``, or a ``.LBL``
  beside a JP2 or GeoTIFF of the same name, as HiRISE RDRs come): ``INCIDENCE_ANGLE`` and
  ``SUB_SOLAR_AZIMUTH``, which the PDS data dictionary and the HiRISE RDR SIS measure in the
  image plane, clockwise from the line from the image's centre to the middle of its right edge
  (3 o'clock); ``NORTH_AZIMUTH`` (the same way) or ``BODY_POLE_CLOCK_ANGLE`` (clockwise from
  up) where given; ``SOLAR_AZIMUTH``, on the ground, clockwise from north.
- **PDS4** (the product's ``.xml``): ``incidence_angle``, ``subsolar_azimuth`` (image plane,
  from 3 o'clock, as above), ``solar_image_clock_angle`` (image plane, clockwise from up),
  ``solar_azimuth`` (ground, from north, the way ``positive_azimuth_direction`` says), the
  values of the centre where ``reference_location`` names several.
- **ISIS3** (the label at the head of a cube, or a ``.lbl``/``.pvl`` beside it):
  ``IncidenceAngle`` with ``SubSolarGroundAzimuth`` (ground, from north) or ``SubSolarAzimuth``
  / ``SunAzimuth`` (image plane, from 3 o'clock) and ``NorthAzimuth``. A plain cube's label has
  none of these (``campt`` and ``caminfo`` compute them from SPICE): they are read where a
  label carries them, for instance a ``.pvl`` of ``caminfo``'s output beside the cube.

A sun read or given is an azimuth clockwise from north at the image's centre for a
georeferenced product (an image-plane angle is turned into one through the product's map
projection, so a polar stereographic map's grid convergence is accounted for), and clockwise
from the top of the image for a product without a CRS (``find`` takes those as north-up).
:func:`on_grid` turns an azimuth from north into the direction on a product's pixel grid that
``detect.shading`` works in (clockwise from the top of the image).
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from pathlib import Path

from orbitscout.core.illumination import Sun

LABEL_BYTES = 4 * 2**20  # the most of a file read as its label
SIDECARS = (".LBL", ".lbl", ".xml", ".XML", ".pvl", ".PVL")
_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_PVL = re.compile(
    rf"^[ \t]*([A-Za-z][\w:]*)[ \t]*=[ \t]*({_NUMBER})[ \t]*(?:<[ \t]*([^>\n]*?)[ \t]*>)?", re.M
)
_PVL_WORD = re.compile(r"^[ \t]*([A-Za-z][\w:]*)[ \t]*=[ \t]*\"?([A-Za-z_]+)\"?[ \t]*\r?$", re.M)


def read_sun(product, north: bool | None = None) -> Sun | None:
    """The sun at the centre of ``product`` from its label, where the label gives one.

    Parameters
    ----------
    product : Product
        The opened product (its path, and its grid to turn image-plane angles into azimuths).
    north : bool or None
        Whether to give the azimuth from north (True) or from the top of the image (False);
        None: from north where the product is georeferenced.

    Returns
    -------
    Sun or None
        ``source`` ``"label"``; None where no label is found, or it gives no incidence below 90
        degrees or no azimuth.
    """
    for text in label_texts(Path(product.path)):
        sun = _label_sun(label_values(text), product, north)
        if sun is not None:
            return sun
    return None


def _label_sun(values: dict[str, float], product, north: bool | None) -> Sun | None:
    """The sun one label's ``values`` give (see :func:`read_sun`)."""
    incidence = values.get("incidenceangle")
    if incidence is None or not 0.0 <= incidence < 90.0:
        return None
    north = product.georeferenced if north is None else north
    ground, frame, label_north = (
        _ground_azimuth(values),
        _frame_azimuth(values),
        _frame_north(values),
    )
    if ground is None and frame is None:
        return None
    if north:  # from north: the ground's azimuth, else the image plane's turned by the grid
        if ground is not None:
            azimuth = ground
        elif product.georeferenced:
            azimuth = frame_to_north(frame, product)
        else:
            azimuth = frame - (label_north or 0.0)
    elif frame is not None:  # from the top of the image
        azimuth = frame
    elif product.georeferenced:
        azimuth = on_grid(Sun(ground % 360.0, incidence), product).azimuth_deg
    else:
        azimuth = ground + (label_north or 0.0)
    return Sun(azimuth % 360.0, incidence, "label")


def on_grid(sun: Sun, product) -> Sun:
    """``sun`` with its azimuth from north turned into the direction on ``product``'s pixel
    grid (clockwise from the top of the image); unchanged for a product without a CRS.

    Parameters
    ----------
    sun : Sun
        Azimuth clockwise from north at the image's centre.
    product : Product
        The product whose grid (the AFTER image's) the azimuth is wanted on.

    Returns
    -------
    Sun
        The same incidence and source.
    """
    if not product.georeferenced:
        return sun
    up, mirrored = north_on_grid(product)
    azimuth = up - sun.azimuth_deg if mirrored else up + sun.azimuth_deg
    return Sun(azimuth % 360.0, sun.incidence_deg, sun.source)


def frame_to_north(frame_deg: float, product) -> float:
    """A direction on ``product``'s grid (clockwise from the top of the image) as an azimuth
    clockwise from north at its centre (unchanged without a CRS)."""
    if not product.georeferenced:
        return frame_deg % 360.0
    up, mirrored = north_on_grid(product)
    return ((up - frame_deg) if mirrored else (frame_deg - up)) % 360.0


def north_on_grid(product) -> tuple[float, bool]:
    """Where north points on a georeferenced product's pixel grid at its centre.

    Parameters
    ----------
    product : Product
        Georeferenced.

    Returns
    -------
    up_deg : float
        The direction toward the north pole, degrees clockwise from the top of the image
        (0 on a north-up map; the grid convergence on a polar stereographic one).
    mirrored : bool
        Whether east lies counter-clockwise of north on the grid (a flipped image).
        (0.0, False) where the projection cannot say (at a pole).
    """
    from pyproj import CRS, Transformer

    crs = CRS.from_user_input(product.crs.to_wkt())
    to_map = Transformer.from_crs(crs.geodetic_crs, crs, always_xy=True)
    centre = product.transform @ (product.width / 2, product.height / 2)
    lon, lat = to_map.transform(*centre, direction="INVERSE")
    step = 1e-3  # degrees: tens of metres on Mars, where the projection is locally linear
    if not (math.isfinite(lon) and math.isfinite(lat)) or abs(lat) > 90.0 - 10 * step:
        return 0.0, False
    east = step / math.cos(math.radians(lat))
    to_pixel = ~product.transform

    def direction(dlon: float, dlat: float) -> float:
        col0, row0 = to_pixel @ centre
        col, row = to_pixel @ to_map.transform(lon + dlon, lat + dlat)
        return math.degrees(math.atan2(col - col0, row0 - row))

    up, right = direction(0.0, step), direction(east, 0.0)
    if not (math.isfinite(up) and math.isfinite(right)):
        return 0.0, False
    return up % 360.0, (right - up) % 360.0 > 180.0


def label_texts(path: Path) -> list[str]:
    """The texts of the labels of the product at ``path``: the file itself where it is a label
    or starts with one (PDS3, ISIS3, PDS4 XML), then those beside it with the same name
    (``SIDECARS``), in that order."""
    texts = []
    candidates = [path, *(path.with_suffix(s) for s in SIDECARS if path.suffix != s)]
    for candidate in candidates:
        if not candidate.is_file():
            continue
        with open(candidate, "rb") as fh:
            start = fh.read(256).decode("latin-1").lstrip().upper()
            pvl = start.startswith(("PDS_VERSION_ID", "CCSD", "OBJECT"))
            if not (pvl or start.startswith(("<?XML", "<PRODUCT_"))):
                continue
            fh.seek(0)
            text = fh.read(LABEL_BYTES).decode("latin-1")
        if pvl:  # an attached label ends at its END line, where the pixels may follow
            end = re.search(r"^\s*END\s*$", text, re.M | re.I)
            text = text[: end.start()] if end else text
        texts.append(text)
    return texts


def label_values(text: str) -> dict[str, float]:
    """The numeric keywords of a label (PVL or PDS4 XML), each by its name in lower case
    without underscores (``INCIDENCE_ANGLE``, ``IncidenceAngle`` and ``incidence_angle`` are all
    ``incidenceangle``), in degrees where a unit says radians, the first of each kept (the
    centre's, in a PDS4 label that gives several ``reference_location``\\ s); and
    ``positive_azimuth_direction`` as 1 (clockwise) or -1 (counterclockwise)."""
    if text.lstrip().startswith("<"):
        return _xml_values(text)
    out: dict[str, float] = {}
    for name, value, unit in _PVL.findall(text):
        _keep(out, name, value, unit)
    for name, word in _PVL_WORD.findall(text):
        if _key(name) == "positiveazimuthdirection":
            out.setdefault("positiveazimuthdirection", _clockwise(word))
    return out


def _xml_values(text: str) -> dict[str, float]:
    try:
        root = ET.fromstring(text)
    except ET.ParseError:
        return {}
    centre: dict[str, float] = {}
    other: dict[str, float] = {}

    def walk(element: ET.Element, at_centre: bool) -> None:
        children = list(element)
        for child in children:
            if _local(child.tag) == "reference_location" and child.text:
                at_centre = "center" in child.text.lower() or "centre" in child.text.lower()
        for child in children:
            name, value = _local(child.tag), (child.text or "").strip()
            if list(child):
                walk(child, at_centre)
            elif _key(name) == "positiveazimuthdirection":
                centre.setdefault("positiveazimuthdirection", _clockwise(value))
            elif re.fullmatch(_NUMBER, value):
                _keep(centre if at_centre else other, name, value, child.get("unit", ""))

    walk(root, False)
    return {**other, **centre}


def _keep(out: dict[str, float], name: str, value: str, unit: str) -> None:
    number = float(value)
    if unit and unit.strip().lower() in ("rad", "radian", "radians"):
        number = math.degrees(number)
    if math.isfinite(number) and abs(number) <= 720.0:  # -9998 and such: not applicable
        out.setdefault(_key(name), number)


def _key(name: str) -> str:
    return name.rsplit(":", 1)[-1].replace("_", "").lower()


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _clockwise(word: str) -> float:
    return -1.0 if word.strip().lower().startswith("counter") else 1.0


def _ground_azimuth(values: dict[str, float]) -> float | None:
    """The sun's azimuth on the ground, clockwise from north."""
    for key in ("subsolargroundazimuth", "solarazimuth"):
        if key in values:
            return values[key] * values.get("positiveazimuthdirection", 1.0)
    return None


def _frame_azimuth(values: dict[str, float]) -> float | None:
    """The sun's direction in the image plane, clockwise from the top of the image."""
    for key in ("subsolarazimuth", "sunazimuth"):
        if key in values:
            return values[key] + 90.0  # from 3 o'clock to from 12
    return values.get("solarimageclockangle")


def _frame_north(values: dict[str, float]) -> float | None:
    """North's direction in the image plane, clockwise from the top of the image."""
    if "northazimuth" in values:
        return values["northazimuth"] + 90.0
    for key in ("bodypoleclockangle", "northpoleclockangle"):
        if key in values:
            return values[key]
    return None
