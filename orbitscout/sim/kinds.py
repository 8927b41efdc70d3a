"""The kinds of things a scene puts on the ground, each defined once: its truth class, how its
physical sizes and random shape are drawn (``ItemKind.draw``, used by ``scene.make_item``) and
how it changes the ground and lies on it (``ItemKind.fields``, used by ``render.item_fields``).

Sizes are in metres on the ground; reflectances are normal albedos in the red/PAN band;
spacecraft white paint and parachute fabric are *assumptions* (0.5-0.75) chosen so that, as in
the HiRISE and CaSSIS releases, hardware shows bright against ~0.2 ground.

``draw`` must take its random numbers in a fixed order (the order below): scenes, and so the
rendered images, are reproducible from their seed only while it stays the same.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from orbitscout.core.bodies import MARS, MOON, Body

if TYPE_CHECKING:
    from orbitscout.sim.scene import Item

F32 = np.float32
Arr = np.ndarray
Sun = tuple[float, float]  # horizontal unit vector (east, north) toward the sun
Fields = tuple[Arr, Arr, Arr]  # (albedo factor, object coverage, reflectance x coverage)
Drawn = tuple[dict, float, float]  # (params, size_m, extent_m)
Shell = tuple[Arr, Arr, float, list]  # (coverage, reflectance x coverage, scar centre, rays)


@dataclass(frozen=True)
class Draw:
    """What ``ItemKind.draw`` draws from: the scene's generator and the item's situation."""

    rng: np.random.Generator
    body: Body
    size_m: float | None  # the object's own size asked for; None: the kind's default
    orient_deg: float  # orientation drawn by make_item (a bearing, degrees)
    away_deg: float | None  # bearing from the lander out through the item; None: unknown


# ---------------------------------------------------------------------------------------------
# Random shapes (scene side)


def _harmonics(rng: np.random.Generator, n: int, amp: float) -> list[list[float]]:
    """Random radial harmonics [k, amplitude, phase] for irregular outlines."""
    return [
        [k, float(amp * rng.uniform(0.3, 1.0) / k**0.8), float(rng.uniform(0, 2 * math.pi))]
        for k in range(2, n + 2)
    ]


def _waves(
    rng: np.random.Generator, n: int, wavelength_m: tuple[float, float]
) -> list[list[float]]:
    """Random plane waves [kx, ky, phase] for mottled textures (cycles per metre)."""
    out = []
    for _ in range(n):
        lam = rng.uniform(*wavelength_m)
        th = rng.uniform(0, 2 * math.pi)
        out.append([math.cos(th) / lam, math.sin(th) / lam, float(rng.uniform(0, 2 * math.pi))])
    return out


def _specks(
    rng: np.random.Generator, n: int, spread_m: float, size_range: tuple[float, float]
) -> list[list[float]]:
    """Bright debris pieces [u, v, size, refl] in an item's own frame (u forward, v left)."""
    out = []
    for _ in range(n):
        u = float(rng.uniform(0.1, 1.0) * spread_m)
        v = float(rng.normal(0, 0.25) * spread_m)
        out.append([u, v, float(rng.uniform(*size_range)), float(rng.uniform(0.45, 0.65))])
    return out


# ---------------------------------------------------------------------------------------------
# Fields on supersampled ground coordinates (render side): metres from the item, east/north


def _rot(item: Item, e, n, deg: float | None = None):
    """Item frame: u along the item's orientation (a bearing), v to its left."""
    a = math.radians(item.params.get("orient_deg", 0.0) if deg is None else deg)
    fu = (math.sin(a), math.cos(a))  # unit vector of the bearing in (east, north)
    u = e * fu[0] + n * fu[1]
    v = -e * fu[1] + n * fu[0]
    return u, v


def _radius(e: np.ndarray, n: np.ndarray) -> np.ndarray:
    return np.sqrt(e * e + n * n)


def _waves_tex(e, n, waves) -> np.ndarray:
    if not waves:
        return np.zeros_like(e)
    out = np.zeros_like(e)
    for kx, ky, ph in waves:
        out += np.cos(F32(2 * np.pi) * (F32(kx) * e + F32(ky) * n) + F32(ph))
    return out * F32(math.sqrt(2.0 / len(waves)))


def _harm(theta, harm) -> np.ndarray:
    out = np.zeros_like(theta)
    for k, a, ph in harm:
        out += F32(a) * np.cos(F32(k) * theta + F32(ph))
    return out


def _specks_alpha(u, v, specks):
    alpha = np.zeros_like(u)
    refl = np.zeros_like(u)
    for su, sv, size, r in specks:
        inside = (np.abs(u - F32(su)) <= size / 2) & (np.abs(v - F32(sv)) <= size * 0.4)
        alpha = np.where(inside, F32(1), alpha)
        refl = np.where(inside, F32(r), refl)
    return alpha, refl


# ---------------------------------------------------------------------------------------------
# The kinds


class ItemKind:
    """One kind of item: its name, truth class, and how it is drawn and rendered.

    Subclasses set ``name`` and ``cls`` and implement ``draw`` and ``fields``; ``natural`` marks
    the changes that are not hardware."""

    name: ClassVar[str]
    cls: ClassVar[str]  # truth class (orbitscout.core.classes)
    natural: ClassVar[bool] = False
    placed: ClassVar[bool] = True  # scene._natural places it (others only on request)

    def draw(self, d: Draw) -> Drawn:
        """Draw one item's parameters from ``d.rng``, always in the same order.

        Parameters
        ----------
        d
            The generator, the body, the size asked for, the orientation already drawn and
            the bearing away from the lander.

        Returns
        -------
        params, size_m, extent_m
            The kind's parameters (an ``orient_deg`` among them replaces the drawn one), the
            object's own size and the size of everything it changed around it.
        """
        raise NotImplementedError

    def fields(self, item: Item, e: Arr, n: Arr, sun_en: Sun) -> Fields:
        """(albedo factor, object coverage, object reflectance x coverage) of ``item``.

        Parameters
        ----------
        item
            An item of this kind.
        e, n
            Ground offsets east and north of the item in metres (float32 arrays, one shape).
        sun_en
            Horizontal unit vector (east, north) toward the sun.

        Returns
        -------
        factor, alpha, refl
            Arrays (or array-likes) of ``e``'s shape: ``factor`` multiplies the ground's
            albedo; where ``alpha`` is 1 the object hides the ground.
        """
        raise NotImplementedError

    def reach_m(self, item: Item, shadow_len_m: float, min_feature_m: float) -> float:
        """Distance from the item's position beyond which it changes nothing.

        Parameters
        ----------
        item
            An item of this kind.
        shadow_len_m
            Length of its cast shadow on the ground.
        min_feature_m
            Its smallest part that must be resolved (``render.item_min_feature_m``).

        Returns
        -------
        float
            Metres; half the side of the square the renderer evaluates the item on.
        """
        p = item.params
        reach = self._outline_reach_m(item, shadow_len_m, min_feature_m)
        for sp in p.get("specks", []):
            reach = max(reach, math.hypot(sp[0], sp[1]) + sp[2] + p.get("bounce_m", 0.0))
        return reach

    def _outline_reach_m(self, item: Item, shadow_len_m: float, min_feature_m: float) -> float:
        """The reach of the item without its specks."""
        return item.extent_m / 2 + shadow_len_m + 2 * min_feature_m


class _Touchdown(ItemKind):
    """A craft standing where it landed, in the blast zone its engines scoured."""

    cls = "lander"

    def _craft(self, p: dict, u: Arr, v: Arr) -> tuple[Arr, Arr]:
        """(coverage, reflectance x coverage) of the craft itself."""
        raise NotImplementedError

    def fields(self, item: Item, e: Arr, n: Arr, sun_en: Sun) -> Fields:
        p = item.params
        u, v = _rot(item, e, n)
        r = _radius(e, n)
        theta = np.arctan2(n, e)
        tex = _waves_tex(e, n, p["waves"])
        hr = p["halo_radius_m"] / 2
        halo = np.exp(-0.5 * (r / hr) ** 2) * (1 + 0.6 * _harm(theta, p["rays"]))
        factor = 1 - F32(p["halo_depth"]) * np.clip(halo, 0, 1.5) * (1 + 0.25 * tex)
        if p["lobe_gain"] > 0:
            lu, lv = _rot(item, e, n, p["lobe_axis_deg"])
            s2 = 2 * p["lobe_sigma_m"] ** 2
            off = p["lobe_offset_m"]
            lobes = np.exp(-((lu - off) ** 2 + (lv * 1.3) ** 2) / s2) + np.exp(
                -((lu + off) ** 2 + (lv * 1.3) ** 2) / s2
            )
            # scoured lobes are streaked radially from the rover
            streak = 1 + 0.3 * _harm(theta * 3, p["rays"]) + 0.1 * tex
            factor = factor + F32(p["lobe_gain"]) * lobes * np.clip(streak, 0.3, 1.8)
        alpha, refl = self._craft(p, u, v)
        return factor, alpha, refl


class Rover(_Touchdown):
    name = "rover"

    def draw(self, d: Draw) -> Drawn:
        rng, size_m = d.rng, d.size_m
        # Perseverance / Curiosity: ~3 x 2.7 m, 2.2 m tall (NASA, docs/facts.md).
        size = size_m or 3.0
        p = dict(
            length_m=size,
            width_m=size * 0.9,
            height_m=2.2,
            refl=0.6,
            # blast zone of the hovering sky crane: two bright scoured lobes either side of the
            # rover and a broad darker halo, ~tens of metres (the HiRISE crop of ESP_068360_1985
            # shows the lobes ~20 m across; halo ~50 m is an assumption).
            halo_radius_m=float(rng.uniform(45, 70)),
            halo_depth=float(rng.uniform(0.12, 0.2)),
            lobe_offset_m=float(rng.uniform(9, 13)),
            lobe_sigma_m=float(rng.uniform(5.0, 7.0)),
            lobe_gain=float(rng.uniform(0.6, 0.9)),
            lobe_axis_deg=float(rng.uniform(0, 180)),
            waves=_waves(rng, 6, (4.0, 15.0)),
            rays=_harmonics(rng, 10, 0.35),
        )
        return p, size, 2 * p["halo_radius_m"]

    def _craft(self, p: dict, u: Arr, v: Arr) -> tuple[Arr, Arr]:
        alpha = ((np.abs(u) <= p["length_m"] / 2) & (np.abs(v) <= p["width_m"] / 2)).astype(F32)
        deck = np.abs(v) <= p["width_m"] * 0.3
        refl = np.where(deck, F32(p["refl"]), F32(p["refl"] * 0.8)) * alpha
        return alpha, refl


class Lander(_Touchdown):
    name = "lander"

    def draw(self, d: Draw) -> Drawn:
        rng, size_m = d.rng, d.size_m
        # InSight-like: 1.56 m deck + two 2.2 m solar arrays, ~6 m tip to tip (NASA; assumption
        # on the exact figure); bright, saturating in HiRISE colour (docs/facts.md). Blast zone
        # dark.
        size = size_m or 6.0
        p = dict(
            length_m=size,
            width_m=size * 0.35,
            height_m=1.0,
            refl=0.65,
            halo_radius_m=float(rng.uniform(25, 40)),
            halo_depth=float(rng.uniform(0.2, 0.3)),
            lobe_offset_m=0.0,
            lobe_sigma_m=4.0,
            lobe_gain=0.0,
            lobe_axis_deg=0.0,
            waves=_waves(rng, 6, (3.0, 12.0)),
            rays=_harmonics(rng, 12, 0.4),
        )
        return p, size, 2 * p["halo_radius_m"]

    def _craft(self, p: dict, u: Arr, v: Arr) -> tuple[Arr, Arr]:
        # a round deck and two round solar arrays either side
        arm = 1.1
        c = p["length_m"] / 2 - arm
        disc = (u * u + v * v) <= 0.78**2
        arms = ((u - c) ** 2 + v * v <= arm**2) | ((u + c) ** 2 + v * v <= arm**2)
        alpha = (disc | arms).astype(F32)
        return alpha, alpha * F32(p["refl"])


class Crash(ItemKind):
    name = "crash"
    cls = "lander"

    def draw(self, d: Draw) -> Drawn:
        rng, size_m = d.rng, d.size_m
        # A lander that crashed (Schiaparelli: dark patch ~15 x 40 m, docs/facts.md; Vikram on the
        # Moon: a crater with bright and dark ejecta rays). Elongated dark scar with rays.
        size = size_m or (40.0 if d.body is MARS else 20.0)
        p = dict(
            length_m=size,
            width_m=size * float(rng.uniform(0.35, 0.5)),
            depth=float(rng.uniform(0.35, 0.5)),
            ray_len_m=size * float(rng.uniform(1.2, 2.2)),
            rays=_harmonics(rng, 14, 0.6),
            bright_ejecta=bool(d.body is MOON),
            specks=_specks(rng, 5, size * 0.8, (0.6, 1.8)),
        )
        if d.away_deg is not None:
            p["orient_deg"] = d.away_deg
        return p, size, size * 2.5

    def fields(self, item: Item, e: Arr, n: Arr, sun_en: Sun) -> Fields:
        p = item.params
        u, v = _rot(item, e, n)
        r = _radius(e, n)
        theta = np.arctan2(v, u)
        ell = (u / (p["length_m"] / 2)) ** 2 + (v / (p["width_m"] / 2)) ** 2
        core = np.exp(-1.5 * ell)
        rays = np.clip(_harm(theta, p["rays"]), 0, None) * np.exp(-r / p["ray_len_m"])
        rays = rays * (r > p["width_m"] / 3)
        if p["bright_ejecta"]:
            factor = 1 - F32(p["depth"]) * core + F32(0.8) * rays
        else:
            factor = 1 - F32(p["depth"]) * core - F32(0.5 * p["depth"]) * rays
        alpha, refl = _specks_alpha(u, v, p["specks"])
        return factor, alpha, refl * alpha


class Parachute(ItemKind):
    name = "parachute"
    cls = "parachute"

    def draw(self, d: Draw) -> Drawn:
        rng, size_m = d.rng, d.size_m
        # Perseverance's 21.5 m parachute (docs/facts.md), lying crumpled: an irregular, partly
        # collapsed canopy with its gores, bright; flat on the ground (tiny shadow).
        size = size_m or 21.5
        p = dict(
            radius_m=size / 2,
            squash=float(rng.uniform(0.45, 0.9)),
            harm=_harmonics(rng, 8, 0.35),
            refl=0.72,
            gores=80,  # gore count (assumption; texture only)
            gore_depth=float(rng.uniform(0.1, 0.25)),
            height_m=0.4,
            folds=_waves(rng, 16, (0.8, 5.0)),
        )
        return p, size, size

    def fields(self, item: Item, e: Arr, n: Arr, sun_en: Sun) -> Fields:
        p = item.params
        u, v = _rot(item, e, n)
        rad = p["radius_m"]
        uu, vv = u / rad, v / (rad * p["squash"])
        rn = np.sqrt(uu * uu + vv * vv)
        theta = np.arctan2(vv, uu)
        edge = 1 + _harm(theta, p["harm"])
        alpha = (rn <= edge).astype(F32)
        gore = 1 - F32(p["gore_depth"]) * (0.5 + 0.5 * np.cos(F32(p["gores"]) * theta))
        ring = 1 - 0.2 * ((rn > 0.45 * edge) & (rn < 0.6 * edge))
        fold = 1 + 0.1 * _waves_tex(u, v, p["folds"]) - 0.15 * np.clip(rn / edge - 0.85, 0, 1)
        refl = alpha * F32(p["refl"]) * gore * ring * fold
        return np.ones_like(e), alpha, refl


class _Aeroshell(ItemKind):
    """A piece of the entry capsule lying in the darker scar its impact made."""

    def _shell(self, item: Item, u: Arr, v: Arr, r: Arr, sun_en: Sun) -> Shell:
        """(coverage, reflectance x coverage, scar centre along u, scar ray harmonics)."""
        raise NotImplementedError

    def fields(self, item: Item, e: Arr, n: Arr, sun_en: Sun) -> Fields:
        p = item.params
        u, v = _rot(item, e, n)
        r = _radius(e, n)
        alpha, refl, scar_c, rays = self._shell(item, u, v, r, sun_en)
        su_, sv_ = u - F32(scar_c), v
        ell = (su_ / (p["scar_length_m"] / 2)) ** 2 + (sv_ / (p["scar_width_m"] / 2)) ** 2
        scar = np.exp(-2.0 * ell**1.5)
        if rays:
            th2 = np.arctan2(sv_, su_)
            scar = scar * (1 + 0.5 * _harm(th2, rays))
        factor = 1 - F32(p["scar_depth"]) * np.clip(scar, 0, 1.3)
        if "specks" in p:
            sa, sr = _specks_alpha(su_, sv_, p["specks"])
            sa = sa * (1 - alpha)
            refl = refl + sa * sr
            alpha = alpha + sa
        return factor, alpha, refl


class Backshell(_Aeroshell):
    name = "backshell"
    cls = "backshell"

    def draw(self, d: Draw) -> Drawn:
        rng, size_m = d.rng, d.size_m
        # Backshell 4.5 m (docs/facts.md), white, lying on its side (~2 m high), with a small dark
        # impact scar (~126 km/h impact, Ingenuity flight 26 release, docs/facts.md).
        size = size_m or 4.5
        p = dict(
            radius_m=size / 2,
            refl=0.55,
            height_m=2.0,
            scar_length_m=size * float(rng.uniform(2.2, 3.2)),
            scar_width_m=size * float(rng.uniform(1.4, 2.0)),
            scar_depth=float(rng.uniform(0.2, 0.35)),
            harm=_harmonics(rng, 5, 0.12),
        )
        if d.away_deg is not None:
            p["orient_deg"] = d.away_deg
        return p, size, p["scar_length_m"]

    def _shell(self, item: Item, u: Arr, v: Arr, r: Arr, sun_en: Sun) -> Shell:
        p = item.params
        theta = np.arctan2(v, u)
        su, sv = _rot(item, F32(sun_en[0]), F32(sun_en[1]))
        edge = p["radius_m"] * (1 + _harm(theta, p["harm"]))
        alpha = (r <= edge).astype(F32)
        lit = (u * su + v * sv) > 0  # a cone on its side: the half facing the sun is bright
        refl = alpha * np.where(lit, F32(p["refl"] * 1.15), F32(p["refl"] * 0.75))
        return alpha, refl, -0.3 * p["scar_length_m"], []


class HeatShield(_Aeroshell):
    name = "heat_shield"
    cls = "heat_shield"

    def draw(self, d: Draw) -> Drawn:
        rng, size_m = d.rng, d.size_m
        # Heat shield 4.5 m (docs/facts.md), bright (HiRISE), inside a darker impact scar and ejecta
        # ~10-30 m; it may have bounced a few metres downrange.
        size = size_m or 4.5
        scar = float(rng.uniform(12, 28)) * size / 4.5
        p = dict(
            radius_m=size / 2,
            refl=0.55,
            height_m=0.8,
            broken=float(rng.uniform(0.0, 0.35)),  # fraction of the disc missing/hidden
            scar_length_m=scar,
            scar_width_m=scar * float(rng.uniform(0.45, 0.75)),
            scar_depth=float(rng.uniform(0.35, 0.5)),
            bounce_m=float(rng.uniform(0.0, 0.3)) * scar,
            rays=_harmonics(rng, 12, 0.5),
            specks=_specks(rng, 4, scar * 0.5, (0.4, 1.2)),
        )
        if d.away_deg is not None:
            p["orient_deg"] = d.away_deg
        return p, size, scar

    def _shell(self, item: Item, u: Arr, v: Arr, r: Arr, sun_en: Sun) -> Shell:
        p = item.params
        rad = p["radius_m"]
        alpha = ((r <= rad) & (u <= rad * (1 - 2 * p["broken"]))).astype(F32)
        return alpha, alpha * F32(p["refl"]), -p["bounce_m"], p["rays"]


class DescentStage(ItemKind):
    name = "descent_stage"
    cls = "descent_stage"

    def draw(self, d: Draw) -> Drawn:
        rng, size_m = d.rng, d.size_m
        # Sky-crane crash: an elongated dark fan/V of debris tens of metres long whose apex
        # points back toward the rover (uahirise.org ESP_068294_1985), with bright specks.
        size = size_m or 50.0
        p = dict(
            length_m=size,
            half_angle_deg=float(rng.uniform(18, 30)),
            depth=float(rng.uniform(0.35, 0.5)),
            crater_m=float(rng.uniform(5, 9)),
            waves=_waves(rng, 6, (3.0, 12.0)),
            rays=_harmonics(rng, 6, 0.6),
            specks=_specks(rng, 6, size * 0.45, (0.5, 1.8)),
        )
        if d.away_deg is not None:
            p["orient_deg"] = d.away_deg
        return p, size, size

    def fields(self, item: Item, e: Arr, n: Arr, sun_en: Sun) -> Fields:
        p = item.params
        u, v = _rot(item, e, n)
        r = _radius(e, n)
        length = p["length_m"]
        au = u + 0.25 * length  # apex behind the impact point, toward the rover
        dist = np.sqrt(au * au + v * v)
        phi = np.abs(np.arctan2(v, au))
        ha = math.radians(p["half_angle_deg"])
        inside = 1 / (1 + np.exp(np.minimum((phi - ha) / (0.12 * ha), 60)))
        arms = np.exp(-0.5 * ((phi - 0.8 * ha) / (0.25 * ha)) ** 2)  # the V's darker arms
        along = (
            np.exp(-dist / (0.55 * length))
            / (1 + np.exp((dist - length * (1 + 0.2 * np.sin(5 * phi))) / (0.08 * length)))
            * np.clip(au / (0.08 * length), 0, 1)
        )
        tex = _waves_tex(u, v, p["waves"])
        streaks = 1 + 0.6 * _harm(phi * 6, p.get("rays", [[3, 0.5, 0.0], [7, 0.3, 1.0]]))
        fan = (0.45 * np.sqrt(inside) + 0.75 * arms * inside) * along * (1 + 0.35 * tex)
        fan = fan * np.clip(streaks, 0.2, 2.0)
        crater = np.exp(-0.5 * (r / (p["crater_m"] / 2)) ** 2)
        factor = 1 - F32(p["depth"]) * np.clip(fan + 1.1 * crater, 0, 1.6)
        alpha, refl = _specks_alpha(u, v, p["specks"])
        return factor, alpha, refl * alpha


class Debris(ItemKind):
    name = "debris"
    cls = "unknown"

    def draw(self, d: Draw) -> Drawn:
        size_m = d.size_m
        # A piece of a crashed craft (Vikram's largest pieces ~2 x 2 NAC px = 1 m, docs/facts.md).
        size = size_m or 1.0
        p = dict(length_m=size, width_m=size * 0.8, height_m=size * 0.5, refl=0.45)
        return p, size, size * 3

    def fields(self, item: Item, e: Arr, n: Arr, sun_en: Sun) -> Fields:
        p = item.params
        u, v = _rot(item, e, n)
        r = _radius(e, n)
        alpha = ((np.abs(u) <= p["length_m"] / 2) & (np.abs(v) <= p["width_m"] / 2)).astype(F32)
        refl = alpha * F32(p["refl"])
        factor = 1 - 0.15 * np.exp(-0.5 * (r / p["length_m"]) ** 2)
        return factor, alpha, refl


class NewCrater(ItemKind):
    name = "new_crater"
    cls = "new_crater"
    natural = True

    def draw(self, d: Draw) -> Drawn:
        rng, size_m = d.rng, d.size_m
        # New impact craters: 2-43 m on the Moon (Speyerer et al. 2016); on Mars mostly found as
        # dark spots (Daubar et al. 2013); blast halos many crater diameters wide (assumption:
        # 5-12 D, Mars), bright+dark reflectance zones on the Moon.
        size = size_m or float(rng.uniform(3, 12))
        p = dict(
            radius_m=size / 2,
            halo_m=size * float(rng.uniform(4, 8)),
            halo_depth=float(rng.uniform(0.12, 0.25)),
            bright_halo=bool(d.body is MOON),
            rays=_harmonics(rng, 12, 0.5),
        )
        return p, size, 2 * p["halo_m"]

    def fields(self, item: Item, e: Arr, n: Arr, sun_en: Sun) -> Fields:
        p = item.params
        r = _radius(e, n)
        rad = p["radius_m"]
        theta = np.arctan2(n, e)
        inside = r <= rad
        # bowl: the wall nearer the sun is in shadow, the far wall faces the sun
        toward = (e * sun_en[0] + n * sun_en[1]) / rad
        bowl = np.clip(0.75 - 0.6 * toward, 0.08, 1.4)
        halo_r = p["halo_m"] / 2
        rays = 1 + 0.6 * _harm(theta, p["rays"])
        if p["bright_halo"]:
            prox = np.exp(-0.5 * ((r - 1.6 * rad) / (0.8 * rad)) ** 2)
            dist_ = np.exp(-0.5 * (r / halo_r) ** 2) * np.clip(rays - 1, 0, None)
            ring = 1 + 0.6 * prox + 0.4 * dist_
        else:
            ring = 1 - F32(p["halo_depth"]) * np.exp(-0.5 * (r / halo_r) ** 2) * np.clip(rays, 0, 2)
            ring = ring - 0.15 * np.exp(-0.5 * ((r - 1.3 * rad) / (0.5 * rad)) ** 2)
        factor = np.where(inside, bowl, ring).astype(F32)
        zero = np.zeros_like(e)
        return factor, zero, zero


class DustDevilTrack(ItemKind):
    name = "dust_devil_track"
    cls = "unknown"
    natural = True

    def draw(self, d: Draw) -> Drawn:
        rng, size_m = d.rng, d.size_m
        # Long thin dark curvy line: hundreds of metres to km long, ~10-30 m wide (assumption).
        length = size_m or float(rng.uniform(400, 1500))
        width = float(rng.uniform(8, 25))
        n = max(8, int(length / 25))
        heading = math.radians(d.orient_deg)
        curv = rng.normal(0, 0.06, n).cumsum()
        pts = [(0.0, 0.0)]
        step = length / n
        for i in range(n):
            h = heading + curv[i]
            pts.append((pts[-1][0] + step * math.sin(h), pts[-1][1] + step * math.cos(h)))
        pts_arr = np.asarray(pts)
        # the item's position is the track's middle vertex, so it lies on the track
        pts_arr -= pts_arr[len(pts_arr) // 2]
        p = dict(points=pts_arr.tolist(), width_m=width, depth=float(rng.uniform(0.08, 0.15)))
        extent = 2 * float(np.abs(pts_arr).max()) + width  # a box centred on the item
        return p, length, extent

    def fields(self, item: Item, e: Arr, n: Arr, sun_en: Sun) -> Fields:
        p = item.params
        pts = np.asarray(p["points"], dtype=F32)
        d2 = np.full(e.shape, np.inf, dtype=F32)
        for (ax, ay), (bx, by) in zip(pts[:-1], pts[1:], strict=True):
            vx, vy = bx - ax, by - ay
            ll = vx * vx + vy * vy
            t = np.clip(((e - ax) * vx + (n - ay) * vy) / ll, 0, 1)
            qx, qy = e - (ax + t * vx), n - (ay + t * vy)
            np.minimum(d2, qx * qx + qy * qy, out=d2)
        w = p["width_m"]
        factor = 1 - F32(p["depth"]) * np.exp(-0.5 * d2 / (0.4 * w) ** 2)
        zero = np.zeros_like(e)
        return factor, zero, zero

    def _outline_reach_m(self, item: Item, shadow_len_m: float, min_feature_m: float) -> float:
        # the track's vertices, not its extent box, bound it (it is flat: no shadow)
        pts = np.asarray(item.params["points"])
        return float(np.abs(pts).max()) + item.params["width_m"] * 2


class DustPatch(ItemKind):
    name = "dust_patch"
    cls = "unknown"
    natural = True

    def draw(self, d: Draw) -> Drawn:
        rng, size_m = d.rng, d.size_m
        # A patch of moved dust: a faint irregular blob, brighter or darker (assumption).
        size = size_m or float(rng.uniform(60, 200))
        p = dict(
            radius_m=size / 2,
            harm=_harmonics(rng, 6, 0.3),
            delta=float(rng.choice([-1, 1]) * rng.uniform(0.08, 0.14)),
        )
        return p, size, size

    def fields(self, item: Item, e: Arr, n: Arr, sun_en: Sun) -> Fields:
        p = item.params
        r = _radius(e, n)
        theta = np.arctan2(n, e)
        edge = p["radius_m"] * (1 + _harm(theta, p["harm"]))
        s = 1 / (1 + np.exp((r - edge) / (0.12 * p["radius_m"])))
        factor = 1 + F32(p["delta"]) * s
        zero = np.zeros_like(e)
        return factor, zero, zero


class Boulder(ItemKind):
    name = "boulder"
    cls = "unknown"
    natural = True
    placed = False  # only where asked for (a vanished or moved object), never by default

    def draw(self, d: Draw) -> Drawn:
        rng, size_m = d.rng, d.size_m
        # A boulder that rolled or a block that fell (rockfalls on Mars and the Moon leave
        # boulders of metres to tens of metres, Bickel et al. 2020, Nat. Commun. 11:2862, *as
        # recalled*); a rough ellipse, a little brighter or darker than the soil, about half as
        # high as wide (*assumption*), casting a shadow.
        size = size_m or float(rng.uniform(2.0, 8.0))
        p = dict(
            length_m=size,
            width_m=size * float(rng.uniform(0.6, 0.95)),
            height_m=size * float(rng.uniform(0.35, 0.6)),
            refl=float(rng.uniform(0.12, 0.3)),
            harm=_harmonics(rng, 5, 0.15),
        )
        return p, size, size

    def fields(self, item: Item, e: Arr, n: Arr, sun_en: Sun) -> Fields:
        p = item.params
        u, v = _rot(item, e, n)
        uu, vv = u / (p["length_m"] / 2), v / (p["width_m"] / 2)
        edge = 1 + _harm(np.arctan2(vv, uu), p["harm"])
        alpha = (np.sqrt(uu * uu + vv * vv) <= edge).astype(F32)
        su, sv = _rot(item, F32(sun_en[0]), F32(sun_en[1]))
        lit = (u * su + v * sv) > 0  # the face toward the sun brighter than the far one
        refl = alpha * np.where(lit, F32(p["refl"] * 1.2), F32(p["refl"] * 0.7))
        return np.ones_like(e), alpha, refl


KINDS: dict[str, ItemKind] = {
    k.name: k
    for k in (
        Rover(),
        Lander(),
        Crash(),
        Parachute(),
        Backshell(),
        HeatShield(),
        DescentStage(),
        Debris(),
        NewCrater(),
        DustDevilTrack(),
        DustPatch(),
        Boulder(),
    )
}
# the changes that are not hardware, in the order scene._natural cycles through them
NATURAL_KINDS: tuple[str, ...] = tuple(name for name, k in KINDS.items() if k.natural and k.placed)
