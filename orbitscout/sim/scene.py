"""A landing site as objects on the ground: terrain (albedo, topography, craters, rocks),
landing hardware with physical sizes and reflectances, natural changes (new impact craters,
dust-devil tracks, moved dust), and on request objects that vanish or move between the looks
(``add_changes``). ``orbitscout.sim.families`` redraws the ground's and items' physical
properties from a scene family's ranges.

Everything here is in metres on the ground, east and north of the *site* (the lander or the
impact point); ``simulate`` turns it into pixels. Positions of hardware come from published
distances and bearings where they exist (``docs/facts.md``); where a bearing was not published
the layout says *assumed*. Every layout and random draw is reproducible from its seed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from orbitscout.core.bodies import MARS, MOON, Body
from orbitscout.core.classes import CLASSES
from orbitscout.core.errors import OrbitscoutError
from orbitscout.sim.kinds import KINDS, NATURAL_KINDS, Draw

TRUTH_CLASSES = CLASSES


@dataclass(frozen=True)
class Item:
    """One thing on the ground that appears between the before and the after look.

    ``kind`` names its definition in ``orbitscout.sim.kinds.KINDS`` (``rover``, ``lander``,
    ``crash``, ``parachute``, ``backshell``, ``heat_shield``, ``descent_stage``, ``debris``,
    ``new_crater``, ``dust_devil_track``, ``dust_patch``); ``cls`` is its truth class.
    ``size_m`` is the object's own size (the rover's length, the parachute's diameter),
    ``extent_m`` the size of everything it changed around it (blast zone, impact scar, ejecta,
    debris fan). ``change`` says which look it is in: ``appeared`` (AFTER only, the default)
    or ``vanished`` (BEFORE only); ``moved_from`` is, for the new end of a move, the index in
    the scene's items of its old (vanished) end."""

    kind: str
    cls: str
    label: str
    east_m: float
    north_m: float
    size_m: float
    extent_m: float
    params: dict = field(default_factory=dict, hash=False, compare=False)
    change: str = "appeared"
    moved_from: int | None = None


@dataclass(frozen=True)
class Terrain:
    """Statistical description of the ground; ``simulate`` draws it from ``seed``."""

    seed: int
    mean_albedo: float  # normal albedo of the average ground in the camera's band
    albedo_contrast: float  # RMS relative albedo variation
    albedo_slope: float  # power-law exponent of the albedo spectrum (larger = smoother)
    rms_slope_deg: float  # RMS slope of the topography at the pixel scale
    height_slope: float  # power-law exponent of the height spectrum
    crater_fraction: float  # fraction of the ground covered by craters per size octave
    rock_density_per_m2: float  # rocks >= 1 m across per square metre
    shadow_floor: float  # brightness left in a cast shadow (diffuse skylight on Mars)
    lunar_lambert_l: float  # weight of the Lommel-Seeliger term in the photometric function


@dataclass(frozen=True)
class Scene:
    """A site: the body, where it is, the ground, the changes, the sun and its sources."""

    name: str
    body: Body
    lat: float
    lon: float
    terrain: Terrain
    items: tuple[Item, ...]
    incidence_deg: float  # solar incidence of the AFTER look
    sun_azimuth_deg: float  # clockwise from north, of the AFTER look
    seed: int
    source: str = ""

    def by_class(self, cls: str) -> list[Item]:
        return [it for it in self.items if it.cls == cls]

    def lander(self) -> Item | None:
        found = self.by_class("lander")
        return found[0] if found else None

    def natural_only(self) -> Scene:
        """This scene with its hardware left out (the ground, sun and natural changes of a
        survey pair away from any landing)."""
        return replace(self, items=tuple(i for i in self.items if KINDS[i.kind].natural))

    def span_m(self) -> tuple[float, float, float, float]:
        """(min east, max east, min north, max north) covered by the items' extents."""
        if not self.items:
            return (0.0, 0.0, 0.0, 0.0)
        e = [(it.east_m - it.extent_m / 2, it.east_m + it.extent_m / 2) for it in self.items]
        n = [(it.north_m - it.extent_m / 2, it.north_m + it.extent_m / 2) for it in self.items]
        return (
            min(a for a, _ in e),
            max(b for _, b in e),
            min(a for a, _ in n),
            max(b for _, b in n),
        )


# ---------------------------------------------------------------------------------------------
# Terrain defaults


def mars_terrain(seed: int) -> Terrain:
    # Mars: mean normal albedo ~0.2 in the red (Jezero's floor ~0.15-0.2; *assumption* within the
    # range of TES bolometric albedo maps, Christensen et al. 2001); diffuse skylight leaves
    # ~20-30% of the light in shadows (*assumption*, dusty atmosphere tau ~0.5);
    # lunar-Lambert weight L ~0.5 (*assumption*, typical of Martian photometric fits).
    return Terrain(
        seed=seed,
        mean_albedo=0.20,
        albedo_contrast=0.10,
        albedo_slope=2.6,
        rms_slope_deg=3.0,
        height_slope=3.4,
        crater_fraction=0.012,
        rock_density_per_m2=0.0015,
        shadow_floor=0.25,
        lunar_lambert_l=0.5,
    )


def moon_terrain(seed: int) -> Terrain:
    # Moon: highland normal albedo ~0.12-0.2 (*assumption*); no atmosphere, so shadows are nearly
    # black (earthshine and scattered light ~2%); Lommel-Seeliger-dominated photometry (L ~1,
    # McEwen 1991); heavily cratered (near saturation for small craters).
    return Terrain(
        seed=seed,
        mean_albedo=0.14,
        albedo_contrast=0.06,
        albedo_slope=2.8,
        rms_slope_deg=7.0,
        height_slope=3.2,
        crater_fraction=0.08,
        rock_density_per_m2=0.003,
        shadow_floor=0.02,
        lunar_lambert_l=1.0,
    )


# ---------------------------------------------------------------------------------------------
# Items: each kind's physical sizes, reflectances and random shape are in ``kinds``.


def _bearing_offset(distance_m: float, bearing_deg: float) -> tuple[float, float]:
    b = math.radians(bearing_deg)
    return distance_m * math.sin(b), distance_m * math.cos(b)


def make_item(
    kind: str,
    east_m: float,
    north_m: float,
    rng: np.random.Generator,
    body: Body = MARS,
    label: str | None = None,
    size_m: float | None = None,
    toward_lander_deg: float | None = None,
    **extra,
) -> Item:
    """Build one item with physically sized, randomly shaped parameters (from ``rng``).

    Parameters
    ----------
    kind
        A name in ``orbitscout.sim.kinds.KINDS`` (``rover``, ``lander``, ``crash``, ...).
    east_m, north_m
        Its position east and north of the site in metres.
    rng
        The scene's generator: the orientation is drawn first, then the kind's parameters.
    body
        The body it lies on.
    label
        Its label in the truth (default: the kind with spaces).
    size_m
        Its own size (default: the kind's published or random size).
    toward_lander_deg
        The bearing from the item back to the lander (the descent stage's debris V points that
        way; the backshell's scar and the heat shield's bounce follow their flight direction,
        which is away from it).
    **extra
        Parameters that replace or add to the drawn ones.

    Returns
    -------
    Item
        The item; ``params`` holds ``orient_deg``, the kind's parameters, then ``extra``.

    Raises
    ------
    OrbitscoutError
        For an unknown ``kind``.
    """
    away = None if toward_lander_deg is None else (toward_lander_deg + 180.0) % 360.0
    orient = float(rng.uniform(0, 360))
    spec = KINDS.get(kind)
    if spec is None:
        raise OrbitscoutError(f"unknown item kind {kind!r}")
    drawn, size, extent = spec.draw(Draw(rng, body, size_m, orient, away))
    p: dict = {"orient_deg": orient}
    p.update(drawn)
    p.update(extra)
    return Item(
        kind=kind,
        cls=spec.cls,
        label=label or kind.replace("_", " "),
        east_m=float(east_m),
        north_m=float(north_m),
        size_m=float(size),
        extent_m=float(extent),
        params=p,
    )


# ---------------------------------------------------------------------------------------------
# Layouts of known landings


@dataclass(frozen=True)
class Layout:
    name: str
    body: Body
    lat: float
    lon: float
    description: str
    # (kind, distance from the site in m, bearing in degrees clockwise from north, label, note)
    pieces: tuple[tuple[str, float, float, str, str], ...]
    incidence_deg: float
    sun_azimuth_deg: float
    camera: str
    source: str
    sizes: dict = field(default_factory=dict, hash=False, compare=False)  # kind -> size (m)


LAYOUTS: dict[str, Layout] = {
    "perseverance": Layout(
        name="perseverance",
        body=MARS,
        lat=18.4447,
        lon=77.4508,  # NASA/JPL (docs/facts.md)
        description="Mars 2020 Perseverance, Jezero crater, seen by CaSSIS on 2021-02-23",
        pieces=(
            ("rover", 0.0, 0.0, "Perseverance", "NASA/JPL landing site"),
            # ESA's CaSSIS release: parachute + backshell ~1.2 km north-west (docs/facts.md)
            ("parachute", 1200.0, 315.0, "parachute", "ESA CaSSIS release: ~1.2 km NW"),
            # backshell tens of m from its parachute (assumption: 60 m further, downwind)
            ("backshell", 1200.0, 312.0, "backshell", "assumed ~60 m from the parachute"),
            # heat shield ~1.45 km north-east (docs/facts.md)
            ("heat_shield", 1450.0, 45.0, "heat shield", "ESA CaSSIS release: ~1.45 km NE"),
            # descent stage ~650 m (docs/facts.md); bearing not published here: *assumed* 250 deg
            ("descent_stage", 650.0, 250.0, "descent stage", "650 m (ESA); bearing assumed"),
        ),
        incidence_deg=45.0,  # assumption: TGO's local time on 2021-02-23 not tabulated here
        sun_azimuth_deg=250.0,  # assumption (afternoon sun from the west-south-west)
        camera="cassis",
        source="docs/facts.md (NASA/JPL, ESA CaSSIS release)",
    ),
    "curiosity": Layout(
        name="curiosity",
        body=MARS,
        lat=-4.5895,
        lon=137.4417,  # docs/facts.md
        description="MSL Curiosity, Gale crater, seen by HiRISE ~24 h after landing",
        pieces=(
            ("rover", 0.0, 0.0, "Curiosity", ""),
            # heat shield ~1,500 m (NASA "4,900 ft"); bearing *assumed* 225 deg
            ("heat_shield", 1500.0, 225.0, "heat shield", "1.5 km (NASA); bearing assumed"),
            # backshell + parachute 615 m (NASA "2,020 ft"); bearing *assumed* 195 deg
            ("parachute", 615.0, 195.0, "parachute", "615 m (NASA); bearing assumed"),
            ("backshell", 640.0, 198.0, "backshell", "~30 m from the parachute (assumed)"),
            # sky crane ~650 m ("2,100 ft") to the north-west (NASA caption, phys.org)
            ("descent_stage", 650.0, 315.0, "sky crane", "650 m NW (NASA)"),
        ),
        incidence_deg=50.0,  # assumption
        sun_azimuth_deg=270.0,  # MRO ~3 pm local time: sun in the west (assumption)
        camera="hirise",
        source="docs/facts.md (NASA/JPL via wired.co.uk, aviationweek.com, phys.org)",
    ),
    "insight": Layout(
        name="insight",
        body=MARS,
        lat=4.502,
        lon=135.623,  # Golombek et al. 2020
        description="InSight, Elysium Planitia, seen by HiRISE in December 2018",
        pieces=(
            ("lander", 0.0, 0.0, "InSight", "Golombek et al. 2020"),
            # "within 1,000 feet" of one another (NASA/JPL); heat shield upper right, backshell
            # and parachute lower left in the colour release; distances *assumed*
            ("heat_shield", 220.0, 50.0, "heat shield", "NE, within ~300 m (assumed 220 m)"),
            ("parachute", 250.0, 225.0, "parachute", "SW, within ~300 m (assumed 250 m)"),
            ("backshell", 270.0, 222.0, "backshell", "beside the parachute (assumed)"),
        ),
        incidence_deg=40.0,
        sun_azimuth_deg=270.0,
        camera="hirise",
        source="docs/facts.md (NASA/JPL Dec 2018; Golombek et al. 2020)",
        # 11.8 m parachute (docs/facts.md); 2.64 m aeroshell of Phoenix heritage (NASA InSight press
        # kit; *to verify*)
        sizes={"parachute": 11.8, "backshell": 2.64, "heat_shield": 2.64},
    ),
    "schiaparelli": Layout(
        name="schiaparelli",
        body=MARS,
        lat=-2.05,
        lon=-6.21,  # docs/facts.md
        description="ExoMars Schiaparelli crash, Meridiani Planum, seen by CTX 2016-10-20",
        pieces=(
            ("crash", 0.0, 0.0, "Schiaparelli", "dark patch ~15 x 40 m (JPL PIA21130)"),
            # parachute + backshell ~1 km south (HiRISE ~900 m S)
            ("parachute", 900.0, 180.0, "parachute", "~0.9-1 km S (PIA21130, HiRISE)"),
            ("backshell", 920.0, 178.0, "backshell", "beside the parachute (assumed)"),
            # possible heat-shield mark ~1.3 km east-north-east
            ("heat_shield", 1300.0, 67.5, "heat shield", "~1.3 km ENE (PIA21130)"),
        ),
        incidence_deg=50.0,
        sun_azimuth_deg=260.0,
        camera="ctx",
        source="docs/facts.md (JPL PIA21130, ESA)",
        # 12 m parachute (docs/facts.md); 2.4 m front shield and back cover (ESA EDM; *to verify*)
        sizes={"parachute": 12.0, "backshell": 2.4, "heat_shield": 2.4},
    ),
    "vikram": Layout(
        name="vikram",
        body=MOON,
        lat=-70.881,
        lon=22.784,  # LROC (docs/facts.md)
        description="Chandrayaan-2 Vikram crash, lunar south polar highlands, LROC NAC",
        pieces=(
            ("crash", 0.0, 0.0, "Vikram impact", "LROC: 70.8810 S, 22.7840 E"),
            # debris pieces scattered hundreds of metres (largest ~2 x 2 NAC px, docs/facts.md);
            # distances and bearings *assumed*
            ("debris", 180.0, 300.0, "debris", "assumed"),
            ("debris", 320.0, 310.0, "debris", "assumed"),
            ("debris", 450.0, 295.0, "debris", "assumed"),
        ),
        incidence_deg=70.0,  # high sun incidence at 71 S (assumption)
        sun_azimuth_deg=0.0,  # sun low in the north, near the south pole (assumption)
        camera="nac",
        source="docs/facts.md (LROC)",
    ),
}
LAYOUT_NAMES = (*LAYOUTS, "random")


def make_scene(
    layout: str = "perseverance",
    seed: int = 0,
    site: tuple[float, float] | None = None,
    extent_m: float | None = None,
    natural_changes: int | None = None,
    body: Body | None = None,
) -> Scene:
    """Build the scene of a known layout (``perseverance``, ``curiosity``, ``insight``,
    ``schiaparelli``, ``vikram``) or of ``random`` hardware.

    ``site`` (lat, lon) moves the layout elsewhere; ``extent_m`` (the ground the frame covers)
    bounds the random layout; ``natural_changes`` adds that many new craters, dust-devil tracks
    and dust patches (default: none for known landings, 1-3 for ``random``)."""
    rng = np.random.default_rng(seed)
    key = layout.strip().lower()
    if key == "random":
        return _random_scene(rng, seed, site, extent_m, natural_changes, body or MARS)
    if key not in LAYOUTS:
        raise OrbitscoutError(f"unknown layout {layout!r}; known: {', '.join(LAYOUT_NAMES)}")
    lay = LAYOUTS[key]
    bdy = lay.body if body is None else body
    lat, lon = (lay.lat, lay.lon) if site is None else site
    items = []
    for kind, dist, bearing, label, _note in lay.pieces:
        e, n = _bearing_offset(dist, bearing)
        back = (bearing + 180.0) % 360.0 if dist > 0 else None
        items.append(
            make_item(
                kind,
                e,
                n,
                rng,
                bdy,
                label=label,
                size_m=lay.sizes.get(kind),
                toward_lander_deg=back,
            )
        )
    items.extend(_natural(rng, bdy, natural_changes or 0, extent_m or 3000.0))
    terrain = mars_terrain(seed) if bdy is MARS else moon_terrain(seed)
    return Scene(
        name=lay.name,
        body=bdy,
        lat=float(lat),
        lon=float(lon),
        terrain=terrain,
        items=tuple(items),
        incidence_deg=lay.incidence_deg,
        sun_azimuth_deg=lay.sun_azimuth_deg,
        seed=seed,
        source=lay.source,
    )


def _random_scene(
    rng: np.random.Generator,
    seed: int,
    site: tuple[float, float] | None,
    extent_m: float | None,
    natural_changes: int | None,
    body: Body,
) -> Scene:
    """Hardware at random plausible distances and bearings, scaled to fit ``extent_m``."""
    extent = extent_m or 3000.0
    reach = 0.36 * extent  # keep everything inside the frame around the lander
    if site is None:
        site = (float(rng.uniform(-40, 40)), float(rng.uniform(-180, 180)))
    lat, lon = site
    items = []
    if body is MOON:
        items.append(make_item("crash", 0, 0, rng, body, label="impact"))
        for _ in range(int(rng.integers(2, 5))):
            e, n = _bearing_offset(rng.uniform(0.2, 0.9) * reach, rng.uniform(0, 360))
            items.append(make_item("debris", e, n, rng, body))
    else:
        items.append(make_item("rover", 0, 0, rng, body, label="rover"))
        # distances relative to the real spreads (~0.6-1.5 km) scaled down to the frame
        plans = [
            ("parachute", rng.uniform(0.5, 1.0)),
            ("heat_shield", rng.uniform(0.6, 1.0)),
            ("descent_stage", rng.uniform(0.35, 0.7)),
        ]
        bearings = rng.permutation(np.linspace(0, 360, 3, endpoint=False) + rng.uniform(0, 120))
        for (kind, frac), bearing in zip(plans, bearings, strict=True):
            dist = float(frac * reach)
            e, n = _bearing_offset(dist, float(bearing))
            back = (float(bearing) + 180.0) % 360.0
            items.append(make_item(kind, e, n, rng, body, toward_lander_deg=back))
            if kind == "parachute":
                sep = float(rng.uniform(30, 70))
                de, dn = _bearing_offset(sep, float(rng.uniform(0, 360)))
                items.append(
                    make_item("backshell", e + de, n + dn, rng, body, toward_lander_deg=back)
                )
    n_nat = int(rng.integers(1, 4)) if natural_changes is None else natural_changes
    items.extend(_natural(rng, body, n_nat, extent, avoid=items))
    terrain = mars_terrain(seed) if body is MARS else moon_terrain(seed)
    return Scene(
        name="random",
        body=body,
        lat=float(lat),
        lon=float(lon),
        terrain=terrain,
        items=tuple(items),
        incidence_deg=float(rng.uniform(35, 60) if body is MARS else rng.uniform(50, 70)),
        sun_azimuth_deg=float(rng.uniform(0, 360)),
        seed=seed,
        source="random layout (orbitscout.scene)",
    )


def _natural(
    rng: np.random.Generator, body: Body, n: int, extent: float, avoid: list[Item] | None = None
) -> list[Item]:
    """``n`` natural changes placed inside the frame, away from hardware."""
    out: list[Item] = []
    kinds = NATURAL_KINDS[:1] if body is MOON else NATURAL_KINDS
    placed = list(avoid or [])
    for i in range(n):
        kind = kinds[i % len(kinds)]
        for _ in range(50):
            it = make_item(kind, 0.0, 0.0, rng, body)
            if kind == "dust_devil_track" and it.extent_m > 0.6 * extent:
                it = make_item(kind, 0.0, 0.0, rng, body, size_m=0.3 * extent)
            room = 0.45 * extent - it.extent_m / 2
            if room <= 0:
                continue
            e, n_ = rng.uniform(-room, room, 2)
            it = replace(it, east_m=float(e), north_m=float(n_))
            ok = all(
                math.hypot(it.east_m - o.east_m, it.north_m - o.north_m)
                > (it.extent_m + o.extent_m) / 2 + 20
                for o in placed
            )
            if ok:
                break
        placed.append(it)
        out.append(it)
    return out


# ---------------------------------------------------------------------------------------------
# Changes of both signs and moves


def _free_spot(
    rng: np.random.Generator,
    placed: list[Item],
    extent: float,
    radius: float,
    centre: tuple[float, float],
) -> tuple[float, float]:
    """A position inside the frame's central 90 % (the frame centred on ``centre``) at least
    20 m clear of ``placed``'s extents (the last of 50 tries when none is clear)."""
    room = max(0.45 * extent - radius, 0.0)
    e = n = 0.0
    for _ in range(50):
        e, n = (float(v) + c for v, c in zip(rng.uniform(-room, room, 2), centre, strict=True))
        if all(
            math.hypot(e - o.east_m, n - o.north_m) > radius + o.extent_m / 2 + 20 for o in placed
        ):
            break
    return e, n


def add_changes(
    scene: Scene,
    vanished: int = 0,
    moves: int = 0,
    gsd_m: float = 1.0,
    extent_m: float = 3000.0,
    centre: tuple[float, float] = (0.0, 0.0),
) -> Scene:
    """``scene`` with ``vanished`` objects that are in BEFORE and gone in AFTER and ``moves``
    objects that are in BEFORE at one place and in AFTER at another, drawn from the scene's
    seed (its other items and draws untouched).

    Parameters
    ----------
    scene
        The scene.
    vanished
        How many objects vanish: a boulder 3-10 px across where that is under 10 m (HiRISE,
        NAC), else a dark patch of dust or frost 4-12 px across (CaSSIS, CTX).
    moves
        How many objects move: a boulder rolled 2-6 of its sizes (Moon; every other one at
        metre-scale pixels on Mars), else a parachute shifted by the wind 1-4 of its sizes
        (Perseverance's and Schiaparelli's moved or changed shape between looks, docs/facts.md).
    gsd_m
        The pixel size the objects are sized for.
    extent_m, centre
        The ground the frame covers and its centre (east, north metres from the site): the
        objects are placed inside its central 90 %.

    Returns
    -------
    Scene
        Items appended: each vanished one with ``change="vanished"``; each move as its old end
        (``vanished``) followed by its new end (``appeared``, ``moved_from`` the old end's
        index).
    """
    if vanished < 0 or moves < 0:
        raise OrbitscoutError(f"vanished and moves must be >= 0, got {vanished}, {moves}")
    if not vanished and not moves:
        return scene
    rng = np.random.default_rng([scene.seed, 61, vanished, moves])
    body = scene.body
    items = list(scene.items)
    for _ in range(vanished):
        px = float(rng.uniform(3, 10))
        if px * gsd_m <= 10.0 or body is MOON:
            it = make_item("boulder", 0, 0, rng, body, size_m=max(px * gsd_m, 1.0))
        else:
            it = make_item("dust_patch", 0, 0, rng, body, size_m=float(rng.uniform(4, 12)) * gsd_m)
            it = replace(it, params={**it.params, "delta": -abs(it.params["delta"]) - 0.1})
        e, n = _free_spot(rng, items, extent_m, it.extent_m / 2, centre)
        items.append(
            replace(it, east_m=e, north_m=n, change="vanished", label="vanished " + it.kind)
        )
    for j in range(moves):
        boulder = body is MOON or (gsd_m <= 1.0 and j % 2 == 0)
        if boulder:
            it = make_item(
                "boulder", 0, 0, rng, body, size_m=max(float(rng.uniform(3, 8)) * gsd_m, 1.5)
            )
            dist = float(rng.uniform(2, 6)) * it.size_m
        else:
            it = make_item("parachute", 0, 0, rng, body, size_m=float(rng.uniform(11.8, 21.5)))
            dist = float(rng.uniform(1, 4)) * it.size_m
        e, n = _free_spot(rng, items, extent_m, it.extent_m / 2 + dist, centre)
        de, dn = _bearing_offset(dist, float(rng.uniform(0, 360)))
        old = len(items)
        items.append(replace(it, east_m=e, north_m=n, change="vanished", label="moved " + it.kind))
        # the new end keeps its shape, turned a little (a rolled boulder, a shifted canopy)
        turned = {**it.params, "orient_deg": (it.params["orient_deg"] + rng.uniform(-40, 40)) % 360}
        items.append(
            replace(
                it,
                east_m=e + de,
                north_m=n + dn,
                params=turned,
                label="moved " + it.kind,
                moved_from=old,
            )
        )
    return replace(scene, items=tuple(items))
