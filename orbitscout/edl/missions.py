"""EDL facts of known landers, for :mod:`orbitscout.edl`, each with its source or marked *assumed*.

Altitudes ``*_agl_m`` are above the local ground; the atmosphere model takes heights above the Mars
datum, so each mission carries its site elevation. Uncertain inputs are :class:`Normal` or
:class:`Uniform`; a number with no stated uncertainty is given one and the comment says so.

Calibrations (each on one quantity of one mission, checked elsewhere):
- the backshell + parachute ballistic coefficient comes from Perseverance's published impact speed
  (126 km/h, NASA Ingenuity flight 26 release), not from any distance;
- the descent-stage flyaway burn time is tuned so that Curiosity's sky crane lands ~650 m from the
  rover, and then used unchanged for Perseverance (whose ~650 m is the check);
- the heat shield's drag coefficient is not tuned to any distance: it spans 0.5 (what Curiosity's
  descent-imager timing implies) to 1.2 (a sphere-cone's subsonic value), see ``HS_MSL``.
Nothing is tuned to the published heat-shield or backshell distances.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from orbitscout.core.errors import OrbitscoutError


@dataclass(frozen=True)
class Normal:
    """A Gaussian uncertain input (``sd`` 0 means a fixed value)."""

    mean: float
    sd: float = 0.0

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        if self.sd == 0.0:
            return np.full(n, float(self.mean))
        return rng.normal(self.mean, self.sd, n)


@dataclass(frozen=True)
class Uniform:
    """A uniform uncertain input on [lo, hi]."""

    lo: float
    hi: float

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.uniform(self.lo, self.hi, n)


Dist = Normal | Uniform


@dataclass(frozen=True)
class Piece:
    """A jettisoned body falling on its own: mass, reference area and drag coefficient."""

    mass_kg: Dist
    area_m2: float
    cd: Dist


@dataclass(frozen=True)
class Flyaway:
    """The descent stage's powered flyaway after the sky-crane touchdown (a model, see edl.py)."""

    azimuth_deg: Dist | None  # None: direction unknown, drawn uniformly
    pitch_deg: Dist  # thrust direction from the vertical
    thrust_to_weight: Dist
    burn_s: Dist
    start_agl_m: Dist
    stage: Piece


@dataclass(frozen=True)
class Published:
    distance_m: float | None
    bearing_deg: float | None
    source: str


@dataclass(frozen=True)
class MissionEDL:
    name: str
    aliases: tuple[str, ...]
    body: str
    ground_elevation_m: float
    deploy_agl_m: Dist  # parachute deployment state
    deploy_speed_m_s: Dist
    deploy_fpa_deg: Dist  # flight-path angle, negative downward
    heading_deg: Dist  # ground-track azimuth, clockwise from north
    capsule_mass_kg: Dist  # mass hanging on the parachute before heat-shield separation
    chute_diameter_m: float
    chute_cd: Dist
    heat_shield: Piece
    backshell: Piece  # backshell + parachute falling together after separation
    bs_sep_agl_m: Dist
    # the heat shield is released by the first of these that is set (edl.simulate_mission)
    hs_sep_speed_m_s: Dist | None = None  # when the speed drops to this
    hs_sep_agl_m: Dist | None = None  # ... or at this height above the ground
    hs_sep_dt_s: Dist | None = None  # ... or this long after parachute deployment
    parachute_downwind_m: Dist = Uniform(10.0, 50.0)
    lander_mode: str = "powered"  # "powered": divert then touchdown; "ballistic": free fall
    lander_piece: Piece | None = None  # for lander_mode == "ballistic"
    avoid_divert_m: Dist = Normal(0.0)
    trn_divert_max_m: float = 0.0
    powered_decel_m_s2: float = 1.5
    flyaway: Flyaway | None = None
    published: dict[str, Published] = field(default_factory=dict)


def _disc(d_m: float) -> float:
    return math.pi * d_m**2 / 4.0


def _glenn_rho(h: float) -> float:
    t = -31.0 - 0.000998 * h if h < 7000.0 else -23.4 - 0.00222 * h
    return 0.699 * math.exp(-0.00009 * h) / (0.1921 * (t + 273.1))


MARS_G = 42828.37e9 / 3396190.0**2  # GM / R^2 from docs/facts.md (IAU 2015), ~3.71 m/s^2

# --- shared MSL / Mars 2020 hardware (Mars 2020 reused the MSL EDL design) --------------------
# Parachute: disk-gap-band, 21.5 m nominal diameter (docs/facts.md, Perseverance; Scientific
# American MSL slideshow also gives 21.5 m for MSL). Subsonic DGB drag coefficient ~0.55 +- 0.05:
# assumed.
CHUTE_D_M = 21.5
CHUTE_CD = Normal(0.55, 0.05)
# Heat shield: 4.5 m across (docs/facts.md). Mass ~385 kg: assumed (not verified; the EDL system is
# 2,401 kg incl. 390 kg propellant per docs/facts.md). Drag coefficient: uniform 0.5-1.2, assumed.
# The top, ~1.1, is a 70 deg sphere-cone falling nose-first (assumed); the bottom, ~0.5, is what
# MSL's descent imager implies: the heat shield hit the ground when the capsule was ~3,000 m up,
# 68 s before touchdown (JPL video "Heat Shield, Meet Mars", 2012-08-17); this model gives that
# timing at Cd ~0.5 and ~1,500 m at Cd 1.1. The two do not agree, so the prior spans both.
HS_MSL = Piece(Normal(385.0, 40.0), _disc(4.5), Uniform(0.5, 1.2))
# Backshell + parachute: mass ~450 kg (backshell, parachute, backshell-mounted gear): assumed.
# Its drag is calibrated on Perseverance's impact speed, 126 km/h (35 m/s; NASA Ingenuity flight 26
# release, April 2022, via docs/facts.md) at Jezero's surface: beta = v^2 rho / (2 g).
JEZERO_ELEV_M = (
    -2570.0
)  # Perseverance landing site, MOLA elevation ~ -2.57 km: approximate, assumed
BS_MASS_KG = 450.0
BS_BETA = 35.0**2 * _glenn_rho(JEZERO_ELEV_M) / (2.0 * MARS_G)  # kg/m^2, ~3.1
BS_CD = BS_MASS_KG / (BS_BETA * _disc(CHUTE_D_M))  # ~0.40 on the canopy's nominal area
BACKSHELL = Piece(Normal(BS_MASS_KG, 45.0), _disc(CHUTE_D_M), Normal(BS_CD, 0.1 * BS_CD))
# Descent stage after touchdown: dry ~830 kg + residual propellant, ~900 kg, ~4 m across, Cd 1:
# assumed (drag hardly matters for a 40-60 m/s, 20 s flight). Eight throttleable MR-80B engines;
# flyaway thrust-to-weight 2.0 +- 0.15 and a 45 deg pitch-over: assumed. The bridle is ~7.5 m long,
# so the stage starts ~8 m above the ground (assumed). Burn time 8.8 s: CALIBRATED so that the
# Curiosity sky crane lands ~650 m away (docs/facts.md); used unchanged for Perseverance.
DS_STAGE = Piece(Normal(900.0, 50.0), _disc(4.0), Normal(1.0, 0.2))
FLYAWAY_BURN_S = Normal(8.8, 1.0)


def _flyaway(azimuth: Dist | None) -> Flyaway:
    return Flyaway(
        azimuth_deg=azimuth,
        pitch_deg=Normal(45.0, 5.0),
        thrust_to_weight=Normal(2.0, 0.15),
        burn_s=FLYAWAY_BURN_S,
        start_agl_m=Normal(8.0, 1.0),
        stage=DS_STAGE,
    )


_HO = "docs/facts.md"

MISSIONS: dict[str, MissionEDL] = {}


def _add(m: MissionEDL) -> None:
    MISSIONS[m.name] = m


_add(
    MissionEDL(
        name="perseverance",
        aliases=("mars2020", "mars-2020", "m2020", "percy"),
        body="mars",
        ground_elevation_m=JEZERO_ELEV_M,
        # Parachute at ~11 km (docs/facts.md; NASA) and ~400 m/s (NASA commentary, via hexus.net
        # 2021-02-23: "about 12 km ... approx 400 m/s"); spreads assumed.
        deploy_agl_m=Normal(11500.0, 700.0),
        deploy_speed_m_s=Normal(400.0, 25.0),
        deploy_fpa_deg=Normal(-20.0, 5.0),  # assumed (guided entry ends shallow; not verified)
        # Ground-track azimuth: assumed west-to-east like MSL (not verified for Jezero).
        heading_deg=Normal(90.0, 15.0),
        # Rover 1,025 kg (docs/facts.md) vs Curiosity's 899 kg: MSL's ~3,000 kg on the chute
        # + 126 kg.
        capsule_mass_kg=Normal(3130.0, 100.0),
        chute_diameter_m=CHUTE_D_M,
        chute_cd=CHUTE_CD,
        heat_shield=HS_MSL,
        backshell=BACKSHELL,
        # Heat shield dropped at ~145 m/s (NASA commentary via hexus.net: 9.5 km, 145 m/s).
        hs_sep_speed_m_s=Normal(145.0, 10.0),
        bs_sep_agl_m=Normal(2100.0, 200.0),  # ~2,100 m (docs/facts.md; NASA)
        # Powered descent: a backshell-avoidance divert (~300 m, assumed, see curiosity) plus the
        # terrain-relative-navigation divert to the safe target, whose size and direction depend on
        # the hazard map: up to 600 m in any direction, assumed (not verified).
        avoid_divert_m=Normal(300.0, 50.0),
        trn_divert_max_m=600.0,
        flyaway=_flyaway(None),  # flyaway direction not found in the sources: drawn uniformly
        published={
            "heat_shield": Published(
                1450.0, 45.0, "ESA CaSSIS release (docs/facts.md): ~1.45 km NE"
            ),
            "backshell": Published(1200.0, 315.0, "ESA CaSSIS release (docs/facts.md): ~1.2 km NW"),
            "parachute": Published(1200.0, 315.0, "ESA CaSSIS release (docs/facts.md): ~1.2 km NW"),
            "descent_stage": Published(650.0, None, "ESA CaSSIS release (docs/facts.md): ~650 m"),
        },
    )
)

_add(
    MissionEDL(
        name="curiosity",
        aliases=("msl", "mars-science-laboratory"),
        body="mars",
        ground_elevation_m=-4500.0,  # Bradbury Landing ~ -4.5 km MOLA: approximate, assumed
        # "The parachute deploys ... at an altitude of about 10 kilometers ... and a velocity of
        # about 470 meters per second" (NASA/JPL, "Final Minutes of Curiosity's Arrival at Mars").
        deploy_agl_m=Normal(10000.0, 700.0),
        deploy_speed_m_s=Normal(470.0, 25.0),
        deploy_fpa_deg=Normal(-20.0, 5.0),  # assumed
        # "the spacecraft will also be traveling eastward" (mars.nasa.gov, MSL landing milestones).
        heading_deg=Normal(90.0, 15.0),
        # EDL system 2,401 kg + rover 899 kg (docs/facts.md) less cruise and entry balance masses
        # (~2 x 75 kg + 6 x 25 kg, from memory of the MSL press kit: assumed) ~ 3,000 kg.
        capsule_mass_kg=Normal(3000.0, 100.0),
        chute_diameter_m=CHUTE_D_M,
        chute_cd=CHUTE_CD,
        heat_shield=HS_MSL,
        backshell=BACKSHELL,
        # "the heat shield separates ... velocity of about 160 meters per second" (NASA/JPL, ibid.)
        hs_sep_speed_m_s=Normal(160.0, 10.0),
        # Backshell separation at 5,900 ft = 1.8 km (Air & Space, "Dropping in on Mars").
        bs_sep_agl_m=Normal(1800.0, 200.0),
        # Backshell-avoidance divert ~300 m, flown away from the backshell's drift: from memory of
        # the MSL powered-flight papers (Sell et al.), assumed, to verify. No TRN on MSL.
        avoid_divert_m=Normal(300.0, 50.0),
        # "the sky crane flew away to the northwest" (NASA caption, phys.org 2012-08).
        flyaway=_flyaway(Normal(315.0, 10.0)),
        published={
            "heat_shield": Published(1500.0, None, f"NASA '4,900 ft' ({_HO})"),
            "backshell": Published(615.0, None, f"NASA '2,020 ft' ({_HO})"),
            "parachute": Published(615.0, None, f"NASA '2,020 ft' ({_HO})"),
            "descent_stage": Published(650.0, 315.0, f"NASA '2,100 ft' to the NW ({_HO})"),
        },
    )
)

_add(
    MissionEDL(
        name="insight",
        aliases=("insight-lander",),
        body="mars",
        ground_elevation_m=-2613.0,  # Golombek et al. 2020 (via docs/facts.md): approximate
        # InSight press kit (from memory, assumed): chute at ~12 km and ~385 m/s; heat shield
        # 15 s later; backshell at ~1.1 km. Entry mass ~608 kg less ~70 kg heat shield: assumed.
        deploy_agl_m=Normal(12000.0, 800.0),
        deploy_speed_m_s=Normal(385.0, 25.0),
        deploy_fpa_deg=Normal(-20.0, 5.0),  # assumed
        heading_deg=Normal(90.0, 30.0),  # assumed
        capsule_mass_kg=Normal(600.0, 30.0),
        chute_diameter_m=11.8,  # docs/facts.md
        chute_cd=CHUTE_CD,
        # Aeroshell 2.65 m across (Phoenix heritage), heat shield ~70 kg: assumed.
        heat_shield=Piece(Normal(70.0, 10.0), _disc(2.65), Normal(1.1, 0.2)),
        # Backshell + parachute ~100 kg: assumed; same canopy drag coefficient as MSL's (assumed).
        backshell=Piece(Normal(100.0, 15.0), _disc(11.8), Normal(BS_CD, 0.1 * BS_CD)),
        hs_sep_dt_s=Normal(15.0, 2.0),
        bs_sep_agl_m=Normal(1100.0, 150.0),
        avoid_divert_m=Uniform(0.0, 150.0),  # small lateral manoeuvre: assumed
        published={
            "heat_shield": Published(None, None, "NASA/JPL Dec 2018: all within ~300 m"),
            "backshell": Published(None, None, "NASA/JPL Dec 2018: all within ~300 m"),
            "parachute": Published(None, None, "NASA/JPL Dec 2018: all within ~300 m"),
        },
    )
)

_add(
    MissionEDL(
        name="schiaparelli",
        aliases=("exomars-edm", "edm"),
        body="mars",
        ground_elevation_m=-1450.0,  # Meridiani Planum: approximate, assumed
        # ESA's preliminary report (23 Nov 2016; via seradata.com and aliveuniverse.today):
        # parachute at 12 km and 1,730 km/h (480.6 m/s), front shield released at 7.8 km,
        # parachute and backshell released at 3.7 km, after which the lander fell (thrusters
        # fired ~3 s) and crashed. 12 m canopy; entry mass 577 kg; front shield (2.4 m) ~80 kg:
        # mass and size assumed. The uncertainties of the reported heights are assumed.
        deploy_agl_m=Normal(12000.0, 300.0),
        deploy_speed_m_s=Normal(480.6, 10.0),
        deploy_fpa_deg=Normal(-20.0, 5.0),  # assumed
        heading_deg=Normal(90.0, 30.0),  # assumed
        capsule_mass_kg=Normal(570.0, 20.0),
        chute_diameter_m=12.0,
        chute_cd=CHUTE_CD,
        heat_shield=Piece(Normal(80.0, 15.0), _disc(2.4), Normal(1.1, 0.2)),
        backshell=Piece(Normal(120.0, 20.0), _disc(12.0), Normal(BS_CD, 0.1 * BS_CD)),
        hs_sep_agl_m=Normal(7800.0, 200.0),
        bs_sep_agl_m=Normal(3700.0, 200.0),
        lander_mode="ballistic",
        lander_piece=Piece(Normal(300.0, 30.0), _disc(1.7), Normal(1.0, 0.2)),  # assumed
        published={
            "heat_shield": Published(1300.0, 67.5, "JPL PIA21130: ~1.3 km ENE"),
            "backshell": Published(900.0, 180.0, "HiRISE via docs/facts.md: ~900 m S"),
            "parachute": Published(900.0, 180.0, "HiRISE via docs/facts.md: ~900 m S"),
        },
    )
)


def mission_names() -> list[str]:
    """Canonical names of the known missions."""
    return list(MISSIONS)


def get_mission(name: str) -> MissionEDL:
    """The mission called ``name`` or one of its aliases (case and spaces ignored)."""
    key = name.strip().lower().replace(" ", "").replace("_", "-")
    for m in MISSIONS.values():
        if key == m.name or key in m.aliases or key.replace("-", "") in m.aliases:
            return m
    known = ", ".join(f"{m.name} ({'/'.join(m.aliases)})" for m in MISSIONS.values())
    raise OrbitscoutError(f"unknown mission {name!r}; known: {known}", "mission")
