"""Scene families: ranges from which a scene draws every physical property.

A :class:`Family` holds (low, high) ranges, never values. Each scene of a family draws, from
its seed, its ground (albedo, contrast, relief spectrum, RMS slope, craters, rocks, dust), every
item's reflectance, size and scar, the blast zone's pattern and polarity, the descent-stage
fan's shape, the parachute's fold, and each image's PSF width, noise, compression and detector
stripes, and the sun's change between the looks. Nothing here is fit: the ranges come from the
sources cited beside them (``../shared/data/FACTS.md``, ``../shared/data/real/
hardware_offsets.md``, ``docs/facts.md``), widened where the sources disagree, and marked
*assumption* where no source gives a figure.

Families: ``tuned`` (the renderer's own fixed look, the default; no draw at all, so renders stay
byte-identical), ``dusty_plains`` and ``rocky_crater_floor`` (Mars), ``lunar_highlands`` and
``lunar_maria`` (Moon) for fitting and leave-one-family-out, and ``holdout`` (Mars and Moon:
other texture statistics, PSF and noise ranges again) that nothing is ever fit or tuned on.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, replace

import numpy as np

from orbitscout.core.bodies import MOON, Body
from orbitscout.core.errors import OrbitscoutError

Range = tuple[float, float]
TUNED = "tuned"


@dataclass(frozen=True)
class Ground:
    """Ranges of one body's ground in a family (the fields of ``scene.Terrain``)."""

    mean_albedo: Range
    albedo_contrast: Range
    albedo_slope: Range
    rms_slope_deg: Range
    height_slope: Range
    crater_fraction: Range
    rock_density_per_m2: Range
    shadow_floor: Range
    lunar_lambert_l: Range


@dataclass(frozen=True)
class Family:
    """Ranges (low, high) that a scene's physical properties are drawn from.

    ``grounds`` gives the ground ranges per body name (``mars``, ``moon``): the family serves
    the cameras of those bodies. Item ranges: ``hardware_refl`` (normal albedo of paint,
    fabric and foil), ``hardware_size`` (factor on published sizes), ``scar_depth`` (fraction
    of the ground's albedo an impact scar, crash or fan removes), ``scar_size`` (factor on scar
    length and width), ``blast_radius_m`` (touchdown blast halo), ``blast_depth`` (darkening
    of the halo; negative brightens, as on the Moon), ``blast_lobes`` (gain of the bright
    scoured lobes), ``fan_half_angle_deg`` and ``fan_aspect`` (the descent-stage V's half
    angle and a factor on its length), ``chute_squash`` (width over length of the lying
    canopy) and ``chute_fold`` (depth of its gores and folds), ``dust_cover`` (0-1: how much
    settled dust mutes albedo changes and the ground's contrast). Image ranges (drawn per
    look): ``psf_width`` (factor on the camera's Gaussian PSF part), ``noise`` (factor on the
    noise), ``jpeg_quality`` (0 means no compression; else an 8 x 8 block DCT quantised as at
    that JPEG quality), ``stripe_rms`` (column gain offsets, relative), ``seam_step`` (a gain
    step at one column: a detector seam). Sun: ``sun_dinc_deg`` and ``sun_daz_deg``, the size
    of the incidence and azimuth change from BEFORE to AFTER."""

    name: str
    description: str
    grounds: tuple[tuple[str, Ground], ...]
    hardware_refl: Range
    hardware_size: Range
    scar_depth: Range
    scar_size: Range
    blast_radius_m: Range
    blast_depth: Range
    blast_lobes: Range
    fan_half_angle_deg: Range
    fan_aspect: Range
    chute_squash: Range
    chute_fold: Range
    dust_cover: Range
    psf_width: Range
    noise: Range
    jpeg_quality: Range
    stripe_rms: Range
    seam_step: Range
    sun_dinc_deg: Range
    sun_daz_deg: Range
    lunar_blast_depth: Range = (-0.25, -0.08)

    def covers(self, body: Body) -> bool:
        """Whether the family has ground ranges for ``body``."""
        return any(name.lower() == body.name.lower() for name, _ in self.grounds)

    def ground(self, body: Body) -> Ground:
        """The ground ranges for ``body``.

        Raises
        ------
        OrbitscoutError
            When the family has no ground of that body.
        """
        for name, g in self.grounds:
            if name.lower() == body.name.lower():
                return g
        have = ", ".join(n for n, _ in self.grounds)
        raise OrbitscoutError(f"scene family {self.name!r} has no {body.name} ground ({have})")

    def ranges(self) -> dict[str, Range]:
        """Every scalar range by name (item, image and sun ranges; grounds apart)."""
        return {
            k: v
            for k, v in self.__dict__.items()
            if isinstance(v, tuple) and len(v) == 2 and isinstance(v[0], int | float)
        }


@dataclass(frozen=True)
class Look:
    """One image's drawn look: PSF width factor, noise factor, JPEG quality (0: none), column
    gain stripes (relative rms), the seam's column (a fraction of the width) and its gain step,
    and the seed of the stripe pattern."""

    psf_width: float = 1.0
    noise: float = 1.0
    jpeg_quality: int = 0
    stripe_rms: float = 0.0
    seam_at: float = 0.5
    seam_step: float = 0.0
    seed: int = 0


def _u(rng: np.random.Generator, r: Range) -> float:
    return float(rng.uniform(r[0], r[1])) if r[1] > r[0] else float(r[0])


def _salt(name: str) -> int:
    return zlib.crc32(name.encode())


# ---------------------------------------------------------------------------------------------
# Grounds. Mars mean normal albedo 0.1-0.3 in the red (TES bolometric albedo maps, Christensen et
# al. 2001, as in scene.mars_terrain; dusty plains brighter and blander, rocky floors darker);
# shadows keep 15-35 % of the light under a dusty sky (*assumption*, tau 0.3-1); lunar-Lambert
# L 0.3-0.7 on Mars (*assumption*) and 0.8-1 on the Moon (McEwen 1991); lunar highland albedo
# 0.12-0.2, maria 0.06-0.1 (*assumption*, typical normal albedos); the Moon is near crater
# saturation at small sizes (heavily cratered), maria less so than highlands (*assumption*).

DUSTY = Ground(
    mean_albedo=(0.20, 0.28),
    albedo_contrast=(0.04, 0.09),
    albedo_slope=(2.6, 3.2),
    rms_slope_deg=(1.5, 3.5),
    height_slope=(3.3, 3.8),
    crater_fraction=(0.006, 0.015),
    rock_density_per_m2=(0.0002, 0.001),
    shadow_floor=(0.25, 0.35),
    lunar_lambert_l=(0.4, 0.6),
)
ROCKY = Ground(
    mean_albedo=(0.12, 0.19),
    albedo_contrast=(0.09, 0.16),
    albedo_slope=(2.2, 2.8),
    rms_slope_deg=(3.0, 6.0),
    height_slope=(3.0, 3.5),
    crater_fraction=(0.012, 0.03),
    rock_density_per_m2=(0.0015, 0.005),
    shadow_floor=(0.15, 0.28),
    lunar_lambert_l=(0.3, 0.55),
)
HIGHLANDS = Ground(
    mean_albedo=(0.12, 0.2),
    albedo_contrast=(0.04, 0.08),
    albedo_slope=(2.6, 3.0),
    rms_slope_deg=(6.0, 10.0),
    height_slope=(3.0, 3.4),
    crater_fraction=(0.06, 0.12),
    rock_density_per_m2=(0.002, 0.005),
    shadow_floor=(0.01, 0.03),
    lunar_lambert_l=(0.85, 1.0),
)
MARIA = Ground(
    mean_albedo=(0.06, 0.1),
    albedo_contrast=(0.03, 0.07),
    albedo_slope=(2.8, 3.3),
    rms_slope_deg=(3.0, 6.0),
    height_slope=(3.2, 3.7),
    crater_fraction=(0.04, 0.08),
    rock_density_per_m2=(0.001, 0.003),
    shadow_floor=(0.01, 0.03),
    lunar_lambert_l=(0.8, 1.0),
)
# holdout: rougher small-scale texture and relief (shallower albedo and height spectra, outside
# every fitting family's ranges), its PSF wider and noise higher than any fitting family's; the
# other ranges overlap or span the fitting families' where the sources allow nothing else
HOLDOUT_MARS = Ground(
    mean_albedo=(0.14, 0.26),
    albedo_contrast=(0.06, 0.14),
    albedo_slope=(1.8, 2.15),
    rms_slope_deg=(2.0, 7.0),
    height_slope=(2.6, 2.95),
    crater_fraction=(0.004, 0.025),
    rock_density_per_m2=(0.0005, 0.004),
    shadow_floor=(0.18, 0.32),
    lunar_lambert_l=(0.55, 0.75),
)
HOLDOUT_MOON = Ground(
    mean_albedo=(0.08, 0.16),
    albedo_contrast=(0.05, 0.1),
    albedo_slope=(2.1, 2.5),
    rms_slope_deg=(4.0, 9.0),
    height_slope=(2.6, 2.95),
    crater_fraction=(0.03, 0.1),
    rock_density_per_m2=(0.001, 0.006),
    shadow_floor=(0.005, 0.02),
    lunar_lambert_l=(0.75, 0.95),
)

# Items. Hardware paint and fabric: bright against ~0.2 ground in the HiRISE and CaSSIS releases,
# InSight's saturating in HiRISE colour (docs/facts.md); normal albedo 0.5-0.75 is an
# *assumption* (as in kinds.py), widened to 0.4-0.85 across families. Parachutes 11.8-21.5 m
# (docs/facts.md), so sizes vary +-10 % around each mission's figure (*assumption*). Scars: dark
# (Schiaparelli's patch ~15 x 40 m, PIA21130; the sky crane's V, ESP_068294_1985), depth 0.2-0.55
# (*assumption*). Blast zones: Perseverance's scoured lobes ~20 m (the HiRISE crop), halo ~50 m
# *assumed*, InSight's dark and fading (docs/facts.md: faded by June 2020), so radius 20-80 m and
# depth 0.05-0.3; on the Moon blast zones brighten the regolith (LROC images of the Apollo and
# Chang'e sites; Clegg et al. 2014, Icarus 227:176, *as recalled, to verify*): lunar_blast_depth
# is negative. Sun changes: LROC's temporal pairs were chosen within 3 deg of incidence (docs/
# facts.md); other pairs differ by up to ~15 deg incidence and ~30 deg azimuth (issue 16).

_COMMON = dict(
    hardware_size=(0.9, 1.1),
    fan_aspect=(0.7, 1.3),
    sun_dinc_deg=(0.0, 15.0),
    sun_daz_deg=(0.0, 30.0),
)

FAMILIES: dict[str, Family] = {
    f.name: f
    for f in (
        Family(
            name="dusty_plains",
            description="Mars dusty plains (Elysium-, Meridiani-like): bright, bland, smooth",
            grounds=(("mars", DUSTY),),
            hardware_refl=(0.55, 0.8),
            scar_depth=(0.25, 0.5),
            scar_size=(0.9, 1.4),
            blast_radius_m=(30.0, 80.0),
            blast_depth=(0.12, 0.3),
            blast_lobes=(0.3, 0.8),
            fan_half_angle_deg=(15.0, 30.0),
            chute_squash=(0.5, 0.9),
            chute_fold=(0.08, 0.22),
            dust_cover=(0.2, 0.5),
            psf_width=(0.9, 1.2),
            noise=(0.9, 1.3),
            jpeg_quality=(0.0, 0.0),
            stripe_rms=(0.0, 0.002),
            seam_step=(0.0, 0.004),
            **_COMMON,
        ),
        Family(
            name="rocky_crater_floor",
            description="Mars rocky crater floor (Jezero-, Gale-like): darker, rough, rocky",
            grounds=(("mars", ROCKY),),
            hardware_refl=(0.45, 0.7),
            scar_depth=(0.2, 0.45),
            scar_size=(0.7, 1.1),
            blast_radius_m=(20.0, 60.0),
            blast_depth=(0.05, 0.2),
            blast_lobes=(0.5, 1.0),
            fan_half_angle_deg=(20.0, 35.0),
            chute_squash=(0.4, 0.8),
            chute_fold=(0.15, 0.3),
            dust_cover=(0.0, 0.25),
            psf_width=(1.0, 1.3),
            noise=(1.0, 1.4),
            jpeg_quality=(85.0, 95.0),
            stripe_rms=(0.001, 0.003),
            seam_step=(0.0, 0.006),
            **_COMMON,
        ),
        Family(
            name="lunar_highlands",
            description="Moon highlands: bright, steep, saturated with small craters",
            grounds=(("moon", HIGHLANDS),),
            hardware_refl=(0.4, 0.7),
            scar_depth=(0.25, 0.5),
            scar_size=(0.8, 1.3),
            blast_radius_m=(20.0, 70.0),
            blast_depth=(0.05, 0.2),
            blast_lobes=(0.0, 0.4),
            fan_half_angle_deg=(15.0, 30.0),
            chute_squash=(0.5, 0.9),
            chute_fold=(0.1, 0.25),
            dust_cover=(0.0, 0.2),
            psf_width=(0.9, 1.2),
            noise=(0.9, 1.3),
            jpeg_quality=(0.0, 0.0),
            stripe_rms=(0.001, 0.004),
            seam_step=(0.0, 0.01),
            lunar_blast_depth=(-0.3, -0.1),
            **_COMMON,
        ),
        Family(
            name="lunar_maria",
            description="Moon maria: dark, smoother, fewer small craters",
            grounds=(("moon", MARIA),),
            hardware_refl=(0.5, 0.8),
            scar_depth=(0.2, 0.4),
            scar_size=(0.9, 1.4),
            blast_radius_m=(30.0, 90.0),
            blast_depth=(0.1, 0.25),
            blast_lobes=(0.0, 0.3),
            fan_half_angle_deg=(20.0, 35.0),
            chute_squash=(0.4, 0.8),
            chute_fold=(0.1, 0.25),
            dust_cover=(0.0, 0.15),
            psf_width=(1.0, 1.3),
            noise=(1.0, 1.5),
            jpeg_quality=(90.0, 97.0),
            stripe_rms=(0.0, 0.003),
            seam_step=(0.0, 0.008),
            lunar_blast_depth=(-0.2, -0.06),
            **_COMMON,
        ),
        Family(
            name="holdout",
            description="never fit or tuned on: other texture spectra, PSF, noise, compression",
            grounds=(("mars", HOLDOUT_MARS), ("moon", HOLDOUT_MOON)),
            hardware_refl=(0.4, 0.85),
            scar_depth=(0.15, 0.55),
            scar_size=(0.7, 1.5),
            blast_radius_m=(20.0, 80.0),
            blast_depth=(-0.05, 0.3),
            blast_lobes=(0.0, 1.0),
            fan_half_angle_deg=(12.0, 38.0),
            chute_squash=(0.35, 0.95),
            chute_fold=(0.05, 0.35),
            dust_cover=(0.0, 0.6),
            psf_width=(1.35, 1.7),
            noise=(1.55, 2.2),
            jpeg_quality=(70.0, 92.0),
            stripe_rms=(0.002, 0.006),
            seam_step=(0.005, 0.02),
            lunar_blast_depth=(-0.3, -0.05),
            **_COMMON,
        ),
    )
}
FAMILY_NAMES = (TUNED, *FAMILIES)
FITTING_FAMILIES = tuple(n for n in FAMILIES if n != "holdout")


def get_family(name: str | Family | None) -> Family | None:
    """The family of ``name`` (None for ``tuned`` or None: the renderer's fixed look).

    Raises
    ------
    OrbitscoutError
        For an unknown name.
    """
    if name is None or isinstance(name, Family):
        return name
    key = name.strip().lower()
    if key == TUNED:
        return None
    if key not in FAMILIES:
        raise OrbitscoutError(f"unknown scene family {name!r}; known: {', '.join(FAMILY_NAMES)}")
    return FAMILIES[key]


def draw_terrain(family: Family, body: Body, seed: int):
    """The scene's ``Terrain`` drawn from the family's ground ranges for ``body``.

    Parameters
    ----------
    family
        The family.
    body
        The scene's body.
    seed
        The scene's seed (also the terrain's: its fields are drawn from it).

    Returns
    -------
    orbitscout.sim.scene.Terrain
        Values within the ranges; the albedo contrast muted by the drawn dust cover.
    """
    from orbitscout.sim.scene import Terrain

    g = family.ground(body)
    rng = np.random.default_rng([seed, 51, _salt(family.name)])
    vals = {k: _u(rng, getattr(g, k)) for k in Ground.__dataclass_fields__}
    dust = _u(rng, family.dust_cover)
    vals["albedo_contrast"] *= 1.0 - 0.5 * dust
    return Terrain(seed=seed, **vals)


def draw_look(family: Family | None, seed: int, role: str) -> Look:
    """One image's look (``role``: ``before`` or ``after``) drawn from the family's image
    ranges; the camera's own look (no change) for ``tuned`` (None)."""
    if family is None:
        return Look()
    rng = np.random.default_rng([seed, 52, _salt(family.name), _salt(role)])
    q = _u(rng, family.jpeg_quality)
    return Look(
        psf_width=_u(rng, family.psf_width),
        noise=_u(rng, family.noise),
        jpeg_quality=int(round(q)) if q > 0 else 0,
        stripe_rms=_u(rng, family.stripe_rms),
        seam_at=float(rng.uniform(0.2, 0.8)),
        seam_step=_u(rng, family.seam_step) * float(rng.choice([-1.0, 1.0])),
        seed=int(rng.integers(0, 2**31)),
    )


def draw_sun_change(family: Family, seed: int) -> tuple[float, float]:
    """(incidence change, azimuth change) in degrees, magnitudes, from the family's ranges."""
    rng = np.random.default_rng([seed, 53, _salt(family.name)])
    return _u(rng, family.sun_dinc_deg), _u(rng, family.sun_daz_deg)


def _scaled(p: dict, keys: tuple[str, ...], f: float) -> None:
    for k in keys:
        if k in p:
            p[k] = float(p[k]) * f


def restyle_item(item, family: Family, body: Body, rng: np.random.Generator):
    """``item`` with its physical properties redrawn from ``family``'s item ranges (its
    position, kind, class and shape harmonics kept).

    Parameters
    ----------
    item
        A ``scene.Item``.
    family
        The family.
    body
        Its body (on the Moon blast zones brighten: ``lunar_blast_depth``).
    rng
        The item's generator.

    Returns
    -------
    orbitscout.sim.scene.Item
        The restyled item (``size_m`` and ``extent_m`` follow the drawn sizes).
    """
    p = dict(item.params)
    size, extent = item.size_m, item.extent_m
    refl = _u(rng, family.hardware_refl)
    scale = _u(rng, family.hardware_size)
    dust = 1.0 - 0.5 * _u(rng, family.dust_cover)
    depth = _u(rng, family.scar_depth) * dust
    scar = _u(rng, family.scar_size)
    k = item.kind
    if k in ("rover", "lander"):
        p["refl"] = refl
        _scaled(p, ("length_m", "width_m"), scale)
        size *= scale
        radius = _u(rng, family.blast_radius_m) * (1.0 if k == "rover" else 0.6)
        p["halo_radius_m"] = radius
        blast = family.lunar_blast_depth if body is MOON else family.blast_depth
        p["halo_depth"] = _u(rng, blast) * dust
        if k == "rover":
            p["lobe_gain"] = _u(rng, family.blast_lobes) * dust
        extent = 2 * radius
    elif k == "parachute":
        p["refl"] = refl
        p["radius_m"] *= scale
        size *= scale
        extent *= scale
        p["squash"] = _u(rng, family.chute_squash)
        p["gore_depth"] = _u(rng, family.chute_fold)
    elif k in ("backshell", "heat_shield"):
        p["refl"] = refl
        p["radius_m"] *= scale
        size *= scale
        p["scar_depth"] = depth
        _scaled(p, ("scar_length_m", "scar_width_m", "bounce_m"), scar)
        extent *= scar
    elif k == "descent_stage":
        p["depth"] = depth
        p["half_angle_deg"] = _u(rng, family.fan_half_angle_deg)
        f = _u(rng, family.fan_aspect)
        p["length_m"] *= f
        size *= f
        extent *= f
    elif k == "crash":
        p["depth"] = depth
        _scaled(p, ("length_m", "width_m", "ray_len_m"), scar)
        size *= scar
        extent *= scar
    elif k == "new_crater":
        p["halo_depth"] = float(p["halo_depth"]) * dust * depth / 0.35
    elif k in ("dust_patch", "dust_devil_track"):
        _scaled(p, ("delta", "depth"), dust)
    return replace(item, params=p, size_m=float(size), extent_m=float(extent))


def apply_family(scene, family: Family | None):
    """``scene`` with its ground and items drawn from ``family`` (unchanged for ``tuned``).

    Parameters
    ----------
    scene
        A ``scene.Scene`` (its seed seeds every draw).
    family
        The family, or None for the renderer's fixed look.

    Returns
    -------
    orbitscout.sim.scene.Scene
        The restyled scene; positions, sun and item shapes are the scene's own.
    """
    if family is None:
        return scene
    terrain = draw_terrain(family, scene.body, scene.seed)
    items = tuple(
        restyle_item(
            it, family, scene.body, np.random.default_rng([scene.seed, 54, _salt(family.name), i])
        )
        for i, it in enumerate(scene.items)
    )
    return replace(scene, terrain=terrain, items=items)


# ---------------------------------------------------------------------------------------------
# Image-side effects of a look


def jpeg_quant_table(quality: int) -> np.ndarray:
    """The JPEG (ITU T.81 Annex K) luminance table scaled to ``quality`` as libjpeg does."""
    base = np.array(
        [
            [16, 11, 10, 16, 24, 40, 51, 61],
            [12, 12, 14, 19, 26, 58, 60, 55],
            [14, 13, 16, 24, 40, 57, 69, 56],
            [14, 17, 22, 29, 51, 87, 80, 62],
            [18, 22, 37, 56, 68, 109, 103, 77],
            [24, 35, 55, 64, 81, 104, 113, 92],
            [49, 64, 78, 87, 103, 121, 120, 101],
            [72, 92, 95, 98, 112, 100, 103, 99],
        ],
        dtype=np.float64,
    )
    q = min(max(int(quality), 1), 100)
    s = 5000.0 / q if q < 50 else 200.0 - 2.0 * q
    return np.maximum(np.floor((base * s + 50.0) / 100.0), 1.0)


def block_compress(image: np.ndarray, quality: int, top: int) -> np.ndarray:
    """``image`` after JPEG-like compression at ``quality``: each 8 x 8 block's DCT quantised
    by the scaled luminance table (in units of an 8-bit product's DN, scaled to ``top``, the
    product's largest value) and transformed back; partial edge blocks padded by reflection.
    The image's dtype is kept."""
    import scipy.fft as sfft

    h, w = image.shape
    ph, pw = (-h) % 8, (-w) % 8
    a = np.pad(image.astype(np.float64), ((0, ph), (0, pw)), mode="reflect")
    H, W = a.shape
    blocks = a.reshape(H // 8, 8, W // 8, 8).transpose(0, 2, 1, 3) - (top + 1) / 2
    table = jpeg_quant_table(quality) * ((top + 1) / 256.0)
    c = sfft.dctn(blocks, axes=(2, 3), norm="ortho")
    c = np.rint(c / table) * table
    out = sfft.idctn(c, axes=(2, 3), norm="ortho") + (top + 1) / 2
    out = out.transpose(0, 2, 1, 3).reshape(H, W)[:h, :w]
    return np.clip(np.rint(out), 0, top).astype(image.dtype)


def column_gains(n: int, look: Look) -> np.ndarray:
    """Per-column gain factors of a look: stripes (relative rms ``stripe_rms``, smoothed over
    ~2 columns as odd/even readout channels are not) and a seam (``seam_step`` from column
    ``seam_at`` x n on)."""
    rng = np.random.default_rng(look.seed)
    g = 1.0 + look.stripe_rms * rng.standard_normal(n)
    g[int(look.seam_at * n) :] *= 1.0 + look.seam_step
    return g.astype(np.float32)


def psf_width_camera(camera, look: Look):
    """``camera`` with its Gaussian PSF part (diffusion and jitter) and its noise scaled by the
    look (noise through the typical SNR: the same DN levels, ``look.noise`` x the noise)."""
    if look.psf_width == 1.0 and look.noise == 1.0:
        return camera
    return replace(
        camera,
        diffusion_sigma_px=camera.diffusion_sigma_px * look.psf_width,
        jitter_sigma_px=camera.jitter_sigma_px * look.psf_width,
        typical_snr=camera.typical_snr / look.noise,
    )


def sun_before(
    incidence_deg: float, azimuth_deg: float, change: tuple[float, float], seed: int
) -> tuple[float, float]:
    """BEFORE's (incidence, azimuth) given AFTER's and the change magnitudes ``change``
    (dinc, daz), the signs drawn from ``seed``; the incidence kept within 20-80 deg (the sign
    flipped where that keeps the whole change)."""
    dinc, daz = (abs(float(v)) for v in change)
    rng = np.random.default_rng([seed, 55])
    s_inc, s_az = rng.choice([-1.0, 1.0], 2)
    inc = incidence_deg + s_inc * dinc
    if not 20.0 <= inc <= 80.0:
        inc = incidence_deg - s_inc * dinc
    inc = float(np.clip(inc, 20.0, 80.0))
    return inc, float((azimuth_deg + s_az * daz) % 360.0)


def angle_between(a: float, b: float) -> float:
    """Smallest difference of two azimuths in degrees."""
    d = (a - b) % 360.0
    return float(min(d, 360.0 - d))
