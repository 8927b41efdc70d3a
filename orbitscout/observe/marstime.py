"""Mars time: the Mars24 algorithm of Allison & McEwen (2000) as NASA GISS publishes it.

Source: NASA GISS, "Mars24 Sunclock — Algorithm and Worked Examples"
(https://www.giss.nasa.gov/tools/mars24/help/algorithm.html), after Allison & McEwen 2000,
Planet. Space Sci. 48:215, and Allison 1997, Geophys. Res. Lett. 24:1967. Step labels (A-1 ...
D-5) follow that page. Mars year numbering: Piqueux et al. 2015, Icarus 251:332 (Mars Year 1
began at Ls = 0 on 1955-04-11).

Times. Public functions take UTC as an ISO string, a ``datetime``, a ``numpy.datetime64`` (or
arrays of them), or already-converted *UTC seconds*: float seconds since 2000-01-01T12:00:00 UTC
counted on the UTC calendar (86,400 per day, leap seconds not counted as elapsed time — the
POSIX convention). ``utc_seconds`` converts to that scale and ``format_utc`` back. Terrestrial
Time is TT = UTC + 32.184 s + (TAI − UTC), with TAI − UTC from the leap-second table below.
Everything is vectorised over numpy arrays of times.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import asdict, dataclass

import numpy as np

from orbitscout.core.errors import OrbitscoutError

J2000_JD = 2451545.0
# 2000-01-01T12:00:00 UTC: the zero of the "UTC seconds" scale used across orbitscout.
J2000_UTC = np.datetime64("2000-01-01T12:00:00", "us")
_J2000_DATETIME = _dt.datetime(2000, 1, 1, 12, tzinfo=_dt.UTC)

# TAI − UTC (s) from each date on (0h UTC). Source: IERS Bulletin C / the IERS-IETF
# "leap-seconds.list" (https://hpiers.obspm.fr/iers/bul/bulc/ntp/leap-seconds.list). The last
# leap second was inserted at the end of 2016-12-31; IERS Bulletin C up to 70 (July 2025)
# announces none since. Add a row here when the IERS announces a new one.
LEAP_SECONDS: tuple[tuple[str, int], ...] = (
    ("1972-01-01", 10),
    ("1972-07-01", 11),
    ("1973-01-01", 12),
    ("1974-01-01", 13),
    ("1975-01-01", 14),
    ("1976-01-01", 15),
    ("1977-01-01", 16),
    ("1978-01-01", 17),
    ("1979-01-01", 18),
    ("1980-01-01", 19),
    ("1981-07-01", 20),
    ("1982-07-01", 21),
    ("1983-07-01", 22),
    ("1985-07-01", 23),
    ("1988-01-01", 24),
    ("1990-01-01", 25),
    ("1991-01-01", 26),
    ("1992-07-01", 27),
    ("1993-07-01", 28),
    ("1994-07-01", 29),
    ("1996-01-01", 30),
    ("1997-07-01", 31),
    ("1999-01-01", 32),
    ("2006-01-01", 33),
    ("2009-01-01", 34),
    ("2012-07-01", 35),
    ("2015-07-01", 36),
    ("2017-01-01", 37),
)
TT_MINUS_TAI_S = 32.184  # TT − TAI, exact by definition (IAU 1991)

_LEAP_UTC_S = np.array(
    [(np.datetime64(d, "us") - J2000_UTC) / np.timedelta64(1, "s") for d, _ in LEAP_SECONDS]
)
_LEAP_TAI_UTC = np.array([n for _, n in LEAP_SECONDS], dtype=float)

# Mars24 constants (GISS algorithm page).
SOL_PER_DAY_RATIO = 1.0274912517  # Earth days per sol (C-2)
SOL_S = 86400.0 * SOL_PER_DAY_RATIO  # 88775.244 s (docs/facts.md)
# Perturbations by other planets (B-3): amplitude (deg), period (Julian years), phase (deg).
_PBS_A = np.array([0.0071, 0.0057, 0.0039, 0.0037, 0.0021, 0.0020, 0.0018])
_PBS_TAU = np.array([2.2353, 2.7543, 1.1177, 15.7866, 2.1354, 2.4694, 32.8493])
_PBS_PHI = np.array([49.409, 168.173, 191.837, 21.736, 15.704, 95.528, 49.095])


# --------------------------------------------------------------------------------------------
# UTC parsing, formatting and time scales
# --------------------------------------------------------------------------------------------


def parse_utc(value: str | _dt.datetime | np.datetime64 | None) -> float:
    """One UTC instant as UTC seconds since 2000-01-01T12:00:00 UTC. ``None`` (or ``"now"``)
    means the current time. Strings are ISO 8601 (``2021-02-18T20:55:00Z``, ``2021-02-18 20:55``,
    ``2021-02-18``); a time zone offset is honoured; no zone means UTC."""
    if value is None or (isinstance(value, str) and value.strip().lower() == "now"):
        return (_dt.datetime.now(_dt.UTC) - _J2000_DATETIME).total_seconds()
    if isinstance(value, np.datetime64):
        return float((value.astype("datetime64[us]") - J2000_UTC) / np.timedelta64(1, "s"))
    if isinstance(value, _dt.datetime):
        dt = value
    elif isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            dt = _dt.datetime.fromisoformat(text)
        except ValueError:
            raise OrbitscoutError(
                f"cannot read UTC time {value!r}; use ISO 8601, e.g. 2021-02-18T20:55:00Z"
            ) from None
    else:
        raise OrbitscoutError(f"cannot read UTC time {value!r}")
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=_dt.UTC)
    return (dt - _J2000_DATETIME).total_seconds()


def utc_seconds(utc) -> float | np.ndarray:
    """UTC seconds since 2000-01-01T12:00:00 UTC for a time or an array of times (strings,
    datetimes, datetime64, or numbers that are already UTC seconds)."""
    if isinstance(utc, (int, float, np.floating, np.integer)):
        return float(utc)
    if isinstance(utc, np.ndarray):
        if utc.dtype.kind == "M":
            return (utc.astype("datetime64[us]") - J2000_UTC) / np.timedelta64(1, "s")
        if utc.dtype.kind in "fiu":
            return utc.astype(float)
        return np.array([parse_utc(u) for u in utc.ravel()]).reshape(utc.shape)
    if isinstance(utc, (list, tuple)):
        return utc_seconds(
            np.asarray(utc)
            if utc and not isinstance(utc[0], str)
            else np.array([parse_utc(u) for u in utc])
        )
    return parse_utc(utc)


def to_datetime64(utc_s) -> np.datetime64 | np.ndarray:
    """UTC seconds → numpy datetime64 (microseconds)."""
    us = np.round(np.asarray(utc_s, dtype=float) * 1e6).astype("int64")
    return J2000_UTC + us.astype("timedelta64[us]")


def format_utc(utc_s, digits: int = 3) -> str | np.ndarray:
    """UTC seconds → ISO 8601 text ``YYYY-MM-DDTHH:MM:SS.sssZ`` (``digits`` decimals of the
    second: 0, 3 or 6). Arrays give arrays of strings."""
    unit = {0: "s", 3: "ms", 6: "us"}[digits]
    text = np.datetime_as_string(to_datetime64(utc_s).astype(f"datetime64[{unit}]"), unit=unit)
    out = np.char.add(text, "Z")
    return str(out) if np.ndim(out) == 0 else out


def _decimal_year(utc_s):
    return 2000.0 + np.asarray(utc_s, dtype=float) / (365.25 * 86400.0)


def _delta_t_before_1972(utc_s):
    """TT − UT (s) before leap seconds began, from the polynomial fits of Espenak & Meeus
    ("Polynomial expressions for Delta T", NASA eclipse web site, 2006); UTC then tracked UT to
    within a fraction of a second. Good to about a second, far below what Ls or MSD need."""
    y = _decimal_year(utc_s)
    u = (y - 1820.0) / 100.0
    out = -20.0 + 32.0 * u**2  # long-term parabola before 1900
    t = y - 1900.0
    out = np.where(
        (y >= 1900) & (y < 1920),
        -2.79 + 1.494119 * t - 0.0598939 * t**2 + 0.0061966 * t**3 - 0.000197 * t**4,
        out,
    )
    t = y - 1920.0
    out = np.where(
        (y >= 1920) & (y < 1941), 21.20 + 0.84493 * t - 0.076100 * t**2 + 0.0020936 * t**3, out
    )
    t = y - 1950.0
    out = np.where((y >= 1941) & (y < 1961), 29.07 + 0.407 * t - t**2 / 233 + t**3 / 2547, out)
    t = y - 1975.0
    out = np.where(y >= 1961, 45.45 + 1.067 * t - t**2 / 260 - t**3 / 718, out)
    return out


def tt_minus_utc(utc_s) -> float | np.ndarray:
    """TT − UTC in seconds (A-4): 32.184 + (TAI − UTC) from the leap-second table; a ΔT
    polynomial before 1972."""
    s = np.asarray(utc_s, dtype=float)
    idx = np.searchsorted(_LEAP_UTC_S, s, side="right") - 1
    out = _LEAP_TAI_UTC[np.clip(idx, 0, None)] + TT_MINUS_TAI_S
    early = idx < 0
    if np.any(early):
        out = np.where(early, _delta_t_before_1972(s), out)
    return float(out) if out.ndim == 0 else out


def tt_seconds(utc_s) -> float | np.ndarray:
    """Seconds of Terrestrial Time since J2000.0 (JD 2451545.0 TT) for UTC seconds. TDB differs
    from TT by under 2 ms, so this also serves as SPICE ephemeris time."""
    return np.asarray(utc_s, dtype=float) + tt_minus_utc(utc_s)


def jd_utc(utc) -> float | np.ndarray:
    """Julian date (UT) of a UTC time (A-2)."""
    return J2000_JD + np.asarray(utc_seconds(utc), dtype=float) / 86400.0


def jd_tt(utc) -> float | np.ndarray:
    """Julian date in Terrestrial Time (A-5)."""
    return J2000_JD + np.asarray(tt_seconds(utc_seconds(utc)), dtype=float) / 86400.0


# --------------------------------------------------------------------------------------------
# Mars24
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MarsTime:
    """Mars24 quantities for one time (floats) or many (arrays of one shape)."""

    jd_tt: float | np.ndarray
    dt_j2000: float | np.ndarray  # days of TT since J2000.0
    m_deg: float | np.ndarray  # Mars mean anomaly (B-1)
    alpha_fms_deg: float | np.ndarray  # angle of the fictitious mean sun (B-2)
    pbs_deg: float | np.ndarray  # perturbers (B-3)
    nu_m_deg: float | np.ndarray  # equation of centre ν − M (B-4)
    ls_deg: float | np.ndarray  # areocentric solar longitude, [0, 360) (B-5)
    eot_deg: float | np.ndarray  # equation of time, degrees (C-1); LTST − LMST = EOT / 15 h
    msd: float | np.ndarray  # Mars sol date (C-2)
    mtc_h: float | np.ndarray  # coordinated Mars time = LMST at 0° (C-2)
    lon_east_deg: float | np.ndarray
    lmst_h: float | np.ndarray  # local mean solar time at lon_east_deg (C-3)
    ltst_h: float | np.ndarray  # local true solar time at lon_east_deg (C-4)
    subsolar_lon_deg: float | np.ndarray  # east-positive, [-180, 180) (C-5)
    subsolar_lat_deg: float | np.ndarray  # planetographic solar declination (D-5)
    heliocentric_distance_au: float | np.ndarray  # (D-2)
    mars_year: int | np.ndarray  # Piqueux et al. 2015 numbering

    def to_dict(self) -> dict:
        """Plain-Python dict (floats and ints) for one time."""
        items = asdict(self).items()
        return {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in items}


def _as_out(x):
    x = np.asarray(x)
    return x.item() if x.ndim == 0 else x


def _mars24_core(dt):
    """B-1 … B-5 and C-1 for days of TT since J2000 (array)."""
    m = 19.3871 + 0.52402073 * dt  # B-1
    alpha_fms = 270.3871 + 0.524038496 * dt  # B-2
    pbs = np.sum(
        _PBS_A[:, None]
        * np.cos(np.radians(0.985626 * dt[None, :] / _PBS_TAU[:, None] + _PBS_PHI[:, None])),
        axis=0,
    )  # B-3
    mr = np.radians(m)
    nu_m = (
        (10.691 + 3.0e-7 * dt) * np.sin(mr)
        + 0.623 * np.sin(2 * mr)
        + 0.050 * np.sin(3 * mr)
        + 0.005 * np.sin(4 * mr)
        + 0.0005 * np.sin(5 * mr)
        + pbs
    )  # B-4
    ls_unwrapped = alpha_fms + nu_m  # B-5 before the modulo
    lsr = np.radians(ls_unwrapped)
    eot = 2.861 * np.sin(2 * lsr) - 0.071 * np.sin(4 * lsr) + 0.002 * np.sin(6 * lsr) - nu_m
    return m, alpha_fms, pbs, nu_m, ls_unwrapped, eot


# Mars Year 1 began at Ls = 0 on 1955-04-11 (Piqueux et al. 2015). In the Mars24 series the
# unwrapped Ls (α_FMS + ν − M, B-5) at that date is −23 × 360°, so MY = floor(Ls_unwrapped/360)+24
# (checked in the tests against the published MY starts: 1955-04-11, 1998-07-14, 2021-02-07).
_MY_OFFSET = 24


def mars_time(utc=None, lon_east_deg: float | np.ndarray = 0.0) -> MarsTime:
    """Every Mars24 quantity at ``utc`` (one time or an array; ``None`` = now) for a place at
    east longitude ``lon_east_deg`` (Mars24's own inputs are west longitudes; this takes east,
    the orbitscout convention). Arrays broadcast against each other."""
    s = np.asarray(utc_seconds(utc), dtype=float)
    shape = np.broadcast_shapes(s.shape, np.shape(lon_east_deg))
    s = np.broadcast_to(s, shape).ravel()
    lon = np.broadcast_to(np.asarray(lon_east_deg, dtype=float), shape).ravel()
    if not np.all(np.isfinite(lon)):
        raise OrbitscoutError("longitude must be a finite number of degrees")
    jdtt = J2000_JD + tt_seconds(s) / 86400.0
    dt = jdtt - J2000_JD
    m, alpha_fms, pbs, nu_m, ls_unwrapped, eot = _mars24_core(dt)
    ls = np.mod(ls_unwrapped, 360.0)
    msd = (dt - 4.5) / SOL_PER_DAY_RATIO + 44796.0 - 0.0009626  # C-2
    mtc = np.mod(24.0 * msd, 24.0)
    lmst = np.mod(mtc + lon / 15.0, 24.0)  # C-3 (Λ_west = −lon_east)
    ltst = np.mod(lmst + eot / 15.0, 24.0)  # C-4
    # C-5: subsolar west longitude Λs = MTC·15 + EOT + 180; east = −Λs, wrapped to [-180, 180).
    sub_lon = np.mod(-(mtc * 15.0 + eot + 180.0) + 180.0, 360.0) - 180.0
    lsr = np.radians(ls_unwrapped)
    sub_lat = np.degrees(np.arcsin(0.42565 * np.sin(lsr))) + 0.25 * np.sin(lsr)  # D-5
    mr = np.radians(m)
    r_au = 1.52367934 * (
        1.00436
        - 0.09309 * np.cos(mr)
        - 0.004336 * np.cos(2 * mr)
        - 0.00031 * np.cos(3 * mr)
        - 0.00003 * np.cos(4 * mr)
    )  # D-2
    my = (np.floor(ls_unwrapped / 360.0) + _MY_OFFSET).astype(int)

    def out(x):
        return _as_out(np.asarray(x).reshape(shape))

    return MarsTime(
        jd_tt=out(jdtt),
        dt_j2000=out(dt),
        m_deg=out(np.mod(m, 360.0)),
        alpha_fms_deg=out(np.mod(alpha_fms, 360.0)),
        pbs_deg=out(pbs),
        nu_m_deg=out(nu_m),
        ls_deg=out(ls),
        eot_deg=out(eot),
        msd=out(msd),
        mtc_h=out(mtc),
        lon_east_deg=out(lon),
        lmst_h=out(lmst),
        ltst_h=out(ltst),
        subsolar_lon_deg=out(sub_lon),
        subsolar_lat_deg=out(sub_lat),
        heliocentric_distance_au=out(r_au),
        mars_year=out(my),
    )


def mars_sol_date(utc=None):
    """Mars sol date (MSD)."""
    return mars_time(utc).msd


def solar_longitude(utc=None):
    """Areocentric solar longitude Ls (deg)."""
    return mars_time(utc).ls_deg


def equation_of_time(utc=None):
    """Mars equation of time (deg); LTST − LMST = EOT/15 hours."""
    return mars_time(utc).eot_deg


def lmst(utc=None, lon_east_deg=0.0):
    """Local mean solar time (h) at an east longitude."""
    return mars_time(utc, lon_east_deg).lmst_h


def ltst(utc=None, lon_east_deg=0.0):
    """Local true solar time (h) at an east longitude."""
    return mars_time(utc, lon_east_deg).ltst_h


def subsolar_point(utc=None):
    """(east longitude, planetographic latitude) of the subsolar point, degrees."""
    t = mars_time(utc)
    return t.subsolar_lon_deg, t.subsolar_lat_deg


def mars_year(utc=None):
    """Mars year (Piqueux et al. 2015 numbering; MY 1 began 1955-04-11)."""
    return mars_time(utc).mars_year


def time_summary(utc=None, lon_east_deg: float = 0.0) -> dict:
    """The ``orbitscout time --json`` object for one time."""
    s = parse_utc(utc) if not isinstance(utc, (int, float)) else float(utc)
    t = mars_time(s, lon_east_deg)
    return {
        "utc": format_utc(s),
        "lon_east_deg": float(lon_east_deg),
        "msd": t.msd,
        "mtc_h": t.mtc_h,
        "lmst_h": t.lmst_h,
        "ltst_h": t.ltst_h,
        "ls_deg": t.ls_deg,
        "eot_deg": t.eot_deg,
        "subsolar_lon_deg": t.subsolar_lon_deg,
        "subsolar_lat_deg": t.subsolar_lat_deg,
        "mars_year": int(t.mars_year),
    }


def format_hours(h: float) -> str:
    """Decimal hours → ``HH:MM:SS``."""
    total = int(round(float(h) * 3600.0)) % 86400
    return f"{total // 3600:02d}:{total % 3600 // 60:02d}:{total % 60:02d}"
