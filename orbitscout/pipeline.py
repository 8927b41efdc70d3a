"""``find``: from two orbital images to located, measured and identified changes."""

from __future__ import annotations

import contextlib
import functools
import math
import os
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from numbers import Integral
from pathlib import Path

import cv2
import numpy as np

from orbitscout.core.atomic import check_out_dir, staged_outputs
from orbitscout.core.candidate import Candidate
from orbitscout.core.classes import CLASSES, HARDWARE
from orbitscout.core.errors import OrbitscoutError, warn
from orbitscout.core.illumination import Sun, sun_change
from orbitscout.core.registration import Registration
from orbitscout.core.window import Window
from orbitscout.detect import (
    candidates,
    deblend,
    moves,
    photometry,
    register,
    relit,
    shading,
    shadows,
    significance,
    tiles,
)
from orbitscout.detect.parameters import DetectParams
from orbitscout.identify import classify
from orbitscout.identify.model import MODEL_FILE, default_model
from orbitscout.identify.parameters import IdentifyParams
from orbitscout.image import gdal, memory
from orbitscout.image.dtm import Dtm, open_dtm
from orbitscout.image.grid import grid_map
from orbitscout.image.product import Product, open_product, probe, site_pixel
from orbitscout.image.sun import north_on_grid, on_grid, read_sun

DEFAULT_TILE = 2048
MIN_TILE = 256  # the least --tile: a tile core must hold a few noise blocks (significance.BLOCK)
MIN_SHADING_SIDE = 32  # reduced px: the least side shading.estimate_sun_azimuth takes
SHARE_WINDOW = 1024  # side (px) of the central window a shading share is measured on
# the least such side: on pure albedo the share is biased up by chance, 0.11 on average at 64
# px, 0.04 at 128
MIN_SHARE_WINDOW = 128


@dataclass
class FindResult:
    """What ``find`` found and wrote."""

    out_dir: Path
    registration: Registration
    detections: list[Candidate]
    counts: dict[str, int]
    summary: dict = field(default_factory=dict)


def _reduced(after: Product, factor: int) -> Window:
    return Window(0, 0, (after.width // factor) * factor, (after.height // factor) * factor)


def find(
    before: str | Path,
    after: str | Path,
    out_dir: str | Path,
    *,
    body: str | None = None,
    site: tuple[float, float] | None = None,
    mission: str | None = None,
    min_score: float = 0.0,
    band: int | tuple[int | None, int | None] | None = None,
    gsd_m: float | None = None,
    tile: int | None = DEFAULT_TILE,
    progress: bool = False,
    detect: DetectParams | None = None,
    identify: IdentifyParams | None = None,
    max_memory: int | str | None = None,
    names: tuple[str, str] | None = None,
    sun_before: Sun | None = None,
    sun_after: Sun | None = None,
    dtm: str | Path | None = None,
) -> FindResult:
    """Register BEFORE to AFTER, find what changed, say what each change is, write the outputs.

    ``site`` is (lat, lon) of the lander when known; ``band`` is one band for both images or a
    (BEFORE, AFTER) pair; ``gsd_m`` gives the pixel size of images without a CRS (without
    either, changes are found but no hardware class is named: sizes decide classes); ``tile``
    bounds memory (None processes the image whole); ``detect`` holds the detection and
    deblending thresholds (None: ``DetectParams()``) and ``identify`` the identification's
    (None: ``IdentifyParams()``), both written into ``summary.json`` under ``"parameters"``
    with the model's provenance; ``max_memory`` (bytes, or a size such as ``"8G"``; None: half the
    machine's memory) is the budget: a pair whose estimated peak exceeds it is refused before
    any pixel is read; ``names`` (BEFORE's, AFTER's) is how the outputs name the images
    (default: their paths as given; a survey gives them relative to its pairs file).

    ``sun_before`` and ``sun_after`` are the suns of the two images (azimuth clockwise from
    north at the image's centre, or from the image's top where the images have no CRS;
    :func:`parse_sun` reads ``"AZ,INC"``); where one is None, the product's label gives it
    where it can (``image.sun``), else the shading model estimates BEFORE's azimuth from the
    image. ``dtm`` is a raster of heights in metres (``image.dtm``): with both suns known and a
    pixel size, the changed sun's re-shading is predicted from its hillshades rather than from
    BEFORE's shading. How the illumination was handled is ``summary.json``'s
    ``"illumination"``.
    """
    detect = DetectParams() if detect is None else detect
    identify = IdentifyParams() if identify is None else identify
    band_before, band_after = _bands(band)
    _check_options(min_score, gsd_m, tile)
    _check_sun(sun_before, "--sun-before")
    _check_sun(sun_after, "--sun-after")
    limit = _memory_limit(max_memory)
    out_dir = check_out_dir(out_dir)
    _check_writable(out_dir)
    if mission is not None:
        from orbitscout.edl.missions import get_mission

        get_mission(mission)  # an unknown name fails now, not after the work
    _keep_freed_memory()  # before this call starts any thread
    imports = _import_in_background()
    timings: dict[str, float] = {}
    clock = time.perf_counter()
    with contextlib.ExitStack() as stack:
        stack.enter_context(gdal.gdal_env(tiles.tile_threads()))
        gdal_warnings = stack.enter_context(gdal.collect_warnings())
        b = open_product(before, band=band_before, body=body)
        stack.callback(b.close)
        a = open_product(after, band=band_after, body=body)
        stack.callback(a.close)
        if min(a.width, a.height) < 32:
            raise OrbitscoutError("is too small to search (under 32 pixels on a side)", a.path)
        _check_memory(a, b, tile, detect, limit)
        gmap = grid_map(b, a)
        probe(b)  # a damaged file fails here, before the reads of the image's size
        probe(a)
        heights: Dtm | None = None
        if dtm is not None:
            heights = open_dtm(dtm, a)
            stack.callback(heights.close)
        notes = [*b.warnings, *a.warnings]
        gsd = a.gsd_m if a.gsd_m is not None else gsd_m
        scale = None if gsd is None else {"gsd_m": gsd, "from": "crs" if a.gsd_m else "--gsd"}
        if gsd is None:
            notes.append(warn(NO_SCALE_WARNING, a.path))
        site_hint = _site_hint(site, a)
        if site_hint["site_warning"]:
            notes.append(site_hint["site_warning"])
        factor = significance.COARSE
        whole = _reduced(a, factor)
        with ThreadPoolExecutor(2, thread_name_prefix="orbitscout-read") as pool:
            # both products at once (16k: 2.2-2.5 s one after the other, 1.8 s at once)
            reading = pool.submit(gdal.in_thread(gmap.sample), whole, factor=factor)
            after_small = a.read(
                window=whole, out_shape=(whole.height // factor, whole.width // factor)
            )
            before_small = reading.result()
        if not np.isfinite(after_small).any():
            raise OrbitscoutError("holds no valid pixels (all no-data)", a.path)
        if not np.isfinite(before_small).any():
            raise OrbitscoutError("holds no valid pixels where it overlaps the AFTER image", b.path)
        timings["read_reduced_s"] = time.perf_counter() - clock

        clock = time.perf_counter()
        try:
            reg = register.register(
                a.width,
                a.height,
                lambda w, out_shape=None: a.read(window=w, out_shape=out_shape),
                gmap.sample,
                after_small,
                before_small,
                factor,
            )
        except OrbitscoutError as exc:  # the two images together: named by BEFORE
            raise exc.about(b.path) from None
        if reg.n_tiles == 0:
            notes.append(warn(COARSE_ONLY_WARNING.format(px=reg.residual_px), b.path))
        timings["register_s"] = time.perf_counter() - clock

        clock = time.perf_counter()
        to_before = reg.after_to_before()
        if register.reduced_is_smooth(before_small):
            before_reg = reg.apply_reduced(before_small, factor)  # no second decode
        else:  # texture too fine to interpolate reduced cells: read BEFORE registered
            before_reg = gmap.sample(whole, registration=to_before, factor=factor)
        phot = photometry.fit_photometry(after_small, before_reg, factor)
        del before_small  # not needed by the tile loop: free it (before_reg: the report's)
        timings["photometry_s"] = time.perf_counter() - clock

        clock = time.perf_counter()
        light = _plan_illumination(
            a, b, sun_before, sun_after, heights, after_small, before_reg, phot, whole, gsd, detect
        )
        notes.extend(light.warnings)
        timings["illumination_s"] = time.perf_counter() - clock

        clock = time.perf_counter()
        # tiles run in threads; a GDAL dataset is used by one thread at a time
        read_after = _one_at_a_time(gdal.in_thread(lambda w: a.read(window=w)))
        read_before = _one_at_a_time(
            gdal.in_thread(lambda w: gmap.sample(w, registration=to_before))
        )
        pair_detect, light.summary["structure_kappa"] = _sun_kappa(
            detect, light.suns, light.reshading, read_after, read_before, a.width, a.height
        )
        read_dtm = None
        if light.reshading is not None and light.reshading.method == "dtm":
            read_dtm = _one_at_a_time(gdal.in_thread(heights.read))
        with _progress_bar(progress, a.width * a.height) as advance:
            result = tiles.detect_changes(
                read_after,
                read_before,
                phot,
                a.width,
                a.height,
                tile=tile,
                progress=advance,
                params=pair_detect,
                reshading=light.reshading,
                read_dtm=read_dtm,
            )
        if result.valid_fraction < 0.01:
            raise OrbitscoutError("the registered images share almost no valid ground", b.path)
        change = light.summary["sun_change"]  # known suns: their angle weighs change_score
        sun_angle = None if change is None else change["angle_deg"]
        found = candidates.candidates(result, gsd, pair_detect, sun_angle)
        found = deblend.deblend(
            found,
            read_after,
            read_before,
            phot,
            a.width,
            a.height,
            gsd,
            pair_detect,
            reshading=light.reshading,
            read_dtm=read_dtm,
            sun_change_deg=sun_angle,
        )
        light.summary["shadows"] = _shadow_test(found, sun_angle, detect)
        tested = light.summary["shadows"]["tested"]
        if found and (tested or (light.suns is not None and detect.shadow_place)):
            kept, placed = shadows.resolve_shadows(
                found, read_after, read_before, phot, a.width, a.height, pair_detect, light.suns,
                drop=tested,
            )  # fmt: skip
            light.summary["shadows"].update(dropped=len(found) - len(kept), placed=placed)
            found = candidates.numbered(kept)
        light.summary["relit"] = {"tested": False, "dropped": 0}
        apart = detect.shading.apart(sun_angle)
        if found and light.suns is not None and apart and detect.relit_share > 0:
            kept = relit.drop_relit(
                found, read_after, read_before, phot, a.width, a.height, light.suns, pair_detect
            )
            light.summary["relit"] = {"tested": True, "dropped": len(found) - len(kept)}
            found = candidates.numbered(kept)
        timings["detect_s"] = time.perf_counter() - clock

        clock = time.perf_counter()
        # may move a lander onto its vehicle
        site_used = site if site_hint["site_in_image"] else None  # a site off the image: none
        _identify(found, a, site=site_used, mission=mission, params=identify)
        if gsd is None:
            _no_hardware(found)
        _locate(found, a)
        found = [c for c in found if c.score >= min_score]
        for i, cand in enumerate(found, start=1):
            cand.id = i
        moves.link_moves(found, gsd, detect, light.suns)  # on the final ids: moved_from names one
        timings["identify_s"] = time.perf_counter() - clock

        counts = {cls: sum(c.cls == cls for c in found) for cls in CLASSES}
        summary = _summary(
            a, b, reg, found, counts, timings, result, gsd, site, mission, detect, identify
        )
        if names is not None:
            summary["before"]["path"], summary["after"]["path"] = names
        summary["hints"].update(site_hint)
        summary["scale"] = scale
        summary["illumination"] = light.summary
        if scale is None:
            summary["identification"] = NO_SCALE
        summary["warnings"] = notes
        summary["gdal_warnings"] = list(dict.fromkeys(gdal_warnings))[:20]
        clock = time.perf_counter()
        imports.join()
        from orbitscout.report import outputs as report

        with staged_outputs(out_dir) as stage:
            report.write_all(
                stage,
                a.grid,
                a.body,
                lambda window=None, out_shape=None: a.read(window=window, out_shape=out_shape),
                lambda window: gmap.sample(window, registration=to_before),
                found,
                summary,
                preview=after_small,
                before_preview=before_reg,
            )
        summary["timings"]["report_s"] = time.perf_counter() - clock
    return FindResult(out_dir, reg, found, counts, summary)


NO_SCALE = "no hardware classes without a pixel size"
COARSE_ONLY_WARNING = (
    "registered by the coarse search alone, to about {px:g} px: no window of the fine search "
    "agreed with it (bland or striped ground); sharp unchanged features may show as changes"
)
NO_SCALE_WARNING = (
    "no CRS and no --gsd: changes are found, but no hardware class is named (sizes decide "
    "classes); give --gsd METRES to have them named"
)


def _bands(band) -> tuple[int | None, int | None]:
    """``band`` (one for both images, or a (BEFORE, AFTER) pair) as (BEFORE's, AFTER's)."""
    pair = tuple(band) if isinstance(band, tuple | list) else (band, band)
    if len(pair) != 2:
        raise OrbitscoutError(f"give one band, or one per image, got {band!r}", "--band")
    for value in pair:
        if value is not None and (isinstance(value, bool) or not isinstance(value, Integral)):
            raise OrbitscoutError(f"a band is a whole number from 1, got {value!r}", "--band")
        if value is not None and value < 1:
            raise OrbitscoutError(f"bands are numbered from 1, got {value}", "--band")
    return tuple(None if v is None else int(v) for v in pair)  # type: ignore[return-value]


def _check_options(min_score: float, gsd_m: float | None, tile: int | None) -> None:
    """The options ``find`` takes as numbers, checked before any work (the CLI checks them as
    it parses; these are the library's)."""
    if not (math.isfinite(min_score) and 0.0 <= min_score <= 1.0):
        raise OrbitscoutError(f"must be between 0 and 1, got {min_score}", "--min-score")
    if gsd_m is not None and not (math.isfinite(gsd_m) and gsd_m > 0):
        raise OrbitscoutError(f"must be a pixel size in metres above 0, got {gsd_m}", "--gsd")
    if tile is not None and tile < MIN_TILE:
        raise OrbitscoutError(f"must be at least {MIN_TILE} px, got {tile}", "--tile")


def parse_sun(text: str, source: str = "option") -> Sun:
    """``--sun-before`` / ``--sun-after``: ``AZ,INC`` in degrees, the azimuth toward the sun
    clockwise from north (0-360) and the solar incidence from the vertical (0 to under 90).

    Parameters
    ----------
    text : str
        ``"AZ,INC"``, e.g. ``"135,40"``.
    source : str
        The returned sun's ``source``.

    Returns
    -------
    Sun

    Raises
    ------
    ValueError
        When ``text`` is not two finite numbers in those ranges.
    """
    parts = [part.strip() for part in str(text).split(",")]
    try:
        azimuth, incidence = (float(part) for part in parts)
    except ValueError:
        raise ValueError(
            f"give the sun as AZ,INC in degrees (azimuth from north, incidence), got {text!r}"
        ) from None
    if not (math.isfinite(azimuth) and 0.0 <= azimuth <= 360.0):
        raise ValueError(f"the azimuth must be 0 to 360 degrees from north, got {parts[0]}")
    if not (math.isfinite(incidence) and 0.0 <= incidence < 90.0):
        raise ValueError(f"the incidence must be 0 to under 90 degrees, got {parts[1]}")
    return Sun(azimuth, incidence, source)


def _check_sun(sun: Sun | None, what: str) -> None:
    if sun is not None and not isinstance(sun, Sun):
        raise OrbitscoutError(
            f"must be a core.illumination.Sun (parse_sun reads 'AZ,INC'), got {sun!r}", what
        )


@dataclass
class _Illumination:
    """How a pair's illumination is handled: the re-shading model (None: none) and what
    summary.json says of it."""

    reshading: shading.Reshading | None
    summary: dict
    warnings: list[str]
    suns: tuple[Sun, Sun] | None  # BEFORE's and AFTER's on AFTER's grid, when both are known


def _plan_illumination(
    a: Product,
    b: Product,
    sun_before: Sun | None,
    sun_after: Sun | None,
    heights: Dtm | None,
    after_small: np.ndarray,
    before_reg: np.ndarray,
    phot,
    whole: Window,
    gsd: float | None,
    detect: DetectParams,
) -> _Illumination:
    """The suns (given, else from the labels), put on AFTER's grid, and the re-shading model
    ``shading.plan_reshading`` decides on over the reduced images."""
    mapped = a.georeferenced and b.georeferenced  # else both are plain pixel grids
    given_b = sun_before if sun_before is not None else read_sun(b, north=mapped)
    given_a = sun_after if sun_after is not None else read_sun(a, north=mapped)
    grid_b, grid_a = (
        None if sun is None else (on_grid(sun, a) if mapped else sun) for sun in (given_b, given_a)
    )
    notes: list[str] = []
    heights_small = None
    dtm_path = None if heights is None else str(heights.path)
    if heights is not None:
        heights_small = heights.read(whole, out_shape=after_small.shape)
        covered = float(np.isfinite(heights_small).mean())
        if covered == 0.0:
            raise OrbitscoutError("holds no heights over the AFTER image", heights.path)
        if grid_b is None or grid_a is None or not gsd:
            why = "both suns must be known (labels or --sun-before and --sun-after)"
            if not gsd:
                why = "the AFTER image has no pixel size (no CRS, no --gsd)"
            notes.append(warn(f"not used: {why}; re-shading modelled from BEFORE", heights.path))
            heights, heights_small = None, None
        elif covered < 0.99:
            notes.append(
                warn(
                    f"covers {covered:.0%} of the AFTER image; no re-shading is predicted "
                    "elsewhere",
                    heights.path,
                )
            )
    params = detect.shading
    reshading = None
    small = min(after_small.shape) < MIN_SHADING_SIDE
    if not small:
        reshading = shading.plan_reshading(
            after_small,
            before_reg,
            significance.COARSE,
            grid_b,
            grid_a,
            heights is not None,
            params,
            phot=phot,
            dtm_small=heights_small,
            gsd_m=gsd,
        )
    if reshading is not None:
        described = reshading.as_dict()
    else:
        why = _why_not(grid_b, grid_a, params)
        if small and params.enabled:
            why = (
                f"the image is under {MIN_SHADING_SIDE * significance.COARSE} px on a side: too "
                "small to model re-shading"
            )
        described = shading.no_reshading_dict(grid_b, grid_a, why)
    for key in ("sun_before", "sun_after", "sun_change"):  # on AFTER's grid: given below
        described.pop(key, None)
    summary = {
        "before": _sun_dict(given_b),
        "after": _sun_dict(given_a),
        "sun_change": None if given_b is None or given_a is None else sun_change(given_b, given_a),
        "north_on_grid_deg": round(north_on_grid(a)[0], 2) if mapped else None,
        **described,
        "dtm": dtm_path,
    }
    suns = None if grid_b is None or grid_a is None else (grid_b, grid_a)
    return _Illumination(reshading, summary, notes, suns)


def _sun_kappa(
    detect: DetectParams,
    suns: tuple[Sun, Sun] | None,
    reshading: shading.Reshading | None,
    read_after: Callable[[Window], np.ndarray],
    read_before: Callable[[Window], np.ndarray],
    width: int,
    height: int,
) -> tuple[DetectParams, dict]:
    """The pair's detection parameters and what summary.json says of them: with both suns
    known and apart (``ShadingParams.kappa_from_suns``; re-shading enabled, and not predicted
    from a DTM, which models it itself), ``kappa`` raised to
    ``hypot(kappa, change * sqrt(share))``, ``change`` the shading's change between the suns
    (``shading.shading_change``, an amplitude) and ``share`` the share of its structure's power
    that is shading in the less shaded image (``shading.shading_share``, on its central window
    of ``SHARE_WINDOW`` px, at least ``MIN_SHARE_WINDOW``): its structure's energy times
    ``share * change ** 2`` is what the other sun leaves of it in the residual. With both suns
    known and not apart, ``kappa`` and the novelty gate lowered to ``equal_kappa`` and
    ``equal_novelty``: the same sun re-shades nothing."""
    params = detect.shading
    side = min(SHARE_WINDOW, width, height)
    described = {
        "kappa": detect.kappa,
        "novelty": detect.novelty,
        "shading_share": None,
        "shading_change": None,
    }
    dtm = reshading is not None and reshading.method == "dtm"
    if suns is None or dtm or not (params.enabled and params.kappa_from_suns):
        return detect, described
    sun_before, sun_after = suns
    if not params.apart(sun_change(*suns)["angle_deg"]):
        kappa = min(detect.kappa, params.equal_kappa)
        novelty = min(detect.novelty, params.equal_novelty)
        described.update(kappa=kappa, novelty=novelty)
        return replace(detect, kappa=kappa, novelty=novelty), described
    if side < MIN_SHARE_WINDOW:
        return detect, described
    window = Window((width - side) // 2, (height - side) // 2, side, side)
    before_weaker = sun_before.incidence_deg <= sun_after.incidence_deg
    image = (read_before if before_weaker else read_after)(window)
    if np.isfinite(image).mean() < 0.5:  # too little of the window to measure on
        return detect, described
    sun = sun_before if before_weaker else sun_after
    share = shading.shading_share(image, sun.azimuth_deg)
    change = shading.shading_change(sun_before, sun_after)
    kappa = math.hypot(detect.kappa, change * math.sqrt(share))
    described.update(
        kappa=round(kappa, 4), shading_share=round(share, 4), shading_change=round(change, 4)
    )
    return replace(detect, kappa=kappa), described


def _shadow_test(found: list, sun_angle: float | None, detect: DetectParams) -> dict:
    """Whether candidates are tested for cast shadows moved by another sun: unless the test
    is off or both suns are known (``sun_angle``, deg, apart) and differ by less than the
    re-shading's least change."""
    unknown_or_apart = sun_angle is None or detect.shading.apart(sun_angle)
    return {
        "tested": bool(detect.shadows and unknown_or_apart and found),
        "dropped": 0,
        "placed": 0,
    }


def _why_not(sun_before: Sun | None, sun_after: Sun | None, params) -> str:
    """Why ``plan_reshading`` modelled nothing, in a short phrase."""
    if not params.enabled:
        return "re-shading disabled (detect.shading.enabled)"
    if sun_before is not None and sun_after is not None:
        angle = sun_change(sun_before, sun_after)["angle_deg"]
        if not params.apart(angle):
            return f"the suns differ by {angle:g} deg, under {params.min_change_deg:g} deg"
    return (
        f"a modelled re-shading removed under {params.min_explained:.0%} of the residual's variance"
    )


def _sun_dict(sun: Sun | None) -> dict | None:
    if sun is None:
        return None
    return {
        "azimuth_deg": round(sun.azimuth_deg, 2),
        "incidence_deg": round(sun.incidence_deg, 2),
        "source": sun.source,
    }


def parse_max_memory(text: str | int | float) -> int:
    """``--max-memory``: bytes, or a number with K, M, G or T (powers of 1024).

    Parameters
    ----------
    text : str, int or float
        The size (``8G``, ``512M``, ``1.5GiB``, bytes).

    Returns
    -------
    int
        Bytes.

    Raises
    ------
    ValueError
        When ``text`` is not a positive, finite size.
    """
    return memory.parse_size(text)


def default_max_memory() -> int:
    """``find``'s default memory budget in bytes: half the machine's memory (or of its cgroup
    limit, where smaller)."""
    return memory.default_max_bytes()


def _memory_limit(max_memory: int | str | None) -> int:
    """The budget in bytes: ``max_memory`` parsed, or :func:`default_max_memory`."""
    if max_memory is None:
        return default_max_memory()
    try:
        return parse_max_memory(max_memory)
    except ValueError as exc:
        raise OrbitscoutError(str(exc), "--max-memory") from None


def _check_writable(out_dir: Path) -> None:
    """Fail before any work where ``out_dir`` cannot be written (or created), creating
    nothing."""
    existing = out_dir
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise OrbitscoutError(f"cannot be created: {existing} is not a folder", out_dir)
    if not os.access(existing, os.W_OK | os.X_OK):
        if existing == out_dir:
            raise OrbitscoutError(
                "cannot write into the output folder (permission denied)", out_dir
            )
        raise OrbitscoutError(
            f"cannot create the output folder: no permission to write in {existing}", out_dir
        )


def _check_memory(
    a: Product, b: Product, tile: int | None, detect: DetectParams, limit: int
) -> None:
    """Refuse, before any pixel is read, a pair whose estimated peak memory exceeds
    ``limit``: every array of the run is on the AFTER image's grid (``image.memory``)."""
    if tile is not None:
        tile = -(-tile // significance.BLOCK) * significance.BLOCK  # as the tile loop rounds
    decoded = sum(
        p.width * p.height * np.dtype(p.dataset.dtypes[p.band - 1]).itemsize for p in (a, b)
    )
    need = memory.estimate_bytes(
        a.width,
        a.height,
        tile,
        tiles.tile_threads(),
        significance.halo(detect),
        significance.COARSE,
        gdal.cache_bytes(),
        decoded,
    )
    if need > limit:
        raise OrbitscoutError(
            f"{a.width:,} x {a.height:,} pixels need about {memory.format_bytes(need)} of "
            f"memory, over the limit of {memory.format_bytes(limit)} (--max-memory)",
            a.path,
        )


def _site_hint(site: tuple[float, float] | None, after: Product) -> dict:
    """Where the ``site`` hint lies on the AFTER image: ``site_in_image`` (None where it
    cannot be placed: no site, or no CRS) and a ``site_warning`` where it is not on it."""
    if site is None:
        return {"site_in_image": None, "site_warning": None}
    where = f"{site[0]:g},{site[1]:g}"
    if not after.georeferenced:
        problem = f"{where} cannot be placed on the AFTER image (it has no CRS): not used"
        return {"site_in_image": None, "site_warning": warn(problem, "--site")}
    try:
        x, y = site_pixel(after, *site)
    except Exception:  # PROJ cannot place it (a CRS without an inverse there): not on it
        x, y = math.nan, math.nan
    inside = math.isfinite(x) and math.isfinite(y)
    inside = inside and -0.5 <= x < after.width - 0.5 and -0.5 <= y < after.height - 0.5
    if inside:
        return {"site_in_image": True, "site_warning": None}
    at = f"pixel {x:,.0f}, {y:,.0f}" if math.isfinite(x) and math.isfinite(y) else "no pixel"
    problem = (
        f"{where} lies outside the AFTER image ({at}; the image is {after.width:,} x "
        f"{after.height:,} px; latitude and longitude swapped?): not used as a hint"
    )
    return {"site_in_image": False, "site_warning": warn(problem, "--site")}


def _no_hardware(found: list[Candidate]) -> None:
    """Without a pixel size, no hardware class: sizes decide them. What was named hardware
    becomes ``unknown`` (a real change, not named); its score stays the detection's."""
    for cand in found:
        if cand.cls in HARDWARE:
            cand.cls = "unknown"


def _import_in_background() -> threading.Thread:
    """Import the report's libraries (geopandas and pyogrio: 0.2-0.25 s) and the parts of scipy
    that identification uses (0.15-0.2 s) in a thread, while the images are read and searched;
    an import that fails there fails again, with its message, where it is used."""

    def load() -> None:
        with contextlib.suppress(Exception):
            import geopandas  # noqa: F401
            import scipy.optimize  # noqa: F401
            import scipy.spatial  # noqa: F401

            from orbitscout.report import outputs as report  # noqa: F401

    thread = threading.Thread(target=load, name="orbitscout-imports", daemon=True)
    thread.start()
    return thread


def _keep_freed_memory() -> None:
    """Let glibc's malloc reuse the memory of freed tile arrays (tens of MB each, several per
    tile) rather than map it afresh and fault it in for every tile: one arena for all threads
    (a thread's own arena maps any such array), arrays up to 32 MB from the heap, and freed
    memory kept up to 1 GB. 16k find: page faults 430-475k -> 166k, system time 2.0-3.1 ->
    1.1-1.2 s. Process-wide and lasting; nothing elsewhere than glibc."""
    import ctypes
    import platform

    if platform.libc_ver()[0] != "glibc":
        return
    with contextlib.suppress(OSError, AttributeError):
        mallopt = ctypes.CDLL("libc.so.6").mallopt
        m_trim_threshold, m_mmap_threshold, m_arena_max = -1, -3, -8  # <malloc.h>
        mallopt(m_arena_max, 1)
        mallopt(m_mmap_threshold, 32 * 2**20)  # the largest glibc takes
        mallopt(m_trim_threshold, 2**30)


def _one_at_a_time(read: Callable[[Window], np.ndarray]) -> Callable[[Window], np.ndarray]:
    """``read`` behind a lock (GDAL dataset handles are not thread-safe)."""
    lock = threading.Lock()

    def locked(window: Window) -> np.ndarray:
        with lock:
            return read(window)

    return locked


@contextlib.contextmanager
def _progress_bar(enabled: bool, total: int) -> Iterator[Callable[[int], None] | None]:
    if not enabled:
        yield None
        return
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (
        TextColumn("finding changes"),
        BarColumn(),
        TextColumn("{task.completed:,.0f}/{task.total:,.0f} px"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, transient=True) as bar:
        task = bar.add_task("find", total=total)
        yield lambda n: bar.advance(task, n)


def _locate(found: list[Candidate], after: Product) -> None:
    """Planetocentric lon/lat of each candidate from the AFTER image's CRS."""
    if not found or not after.georeferenced or after.body is None:
        return
    from pyproj import CRS, Transformer

    transformer = Transformer.from_crs(
        CRS.from_user_input(after.crs.to_wkt()), after.body.crs, always_xy=True
    )
    xs = np.array([c.x + 0.5 for c in found])
    ys = np.array([c.y + 0.5 for c in found])
    mx, my = after.transform @ (xs, ys)
    lon, lat = transformer.transform(mx, my)
    lon = (np.asarray(lon) + 180.0) % 360.0 - 180.0
    for cand, lo, la in zip(found, lon, np.asarray(lat), strict=True):
        cand.lon, cand.lat = float(lo), float(la)


def _identify(found, after: Product, site, mission, params: IdentifyParams) -> None:
    """Identify ``found`` with what the AFTER product and the hints tell: its pixel size and
    body, the pixel of the ``site`` (lat, lon) hint and the EDL priors of ``mission``."""
    if not found:
        return
    from orbitscout.image.product import site_pixel

    gsd = found[0].gsd_m if found[0].gsd_m is not None else after.gsd_m
    moon = after.body is not None and after.body.name.lower() == "moon"
    site_px = site_pixel(after, *site) if site is not None else None
    priors = _debris_priors(mission.strip().lower()) if (mission and not moon) else None
    classify.identify(found, gsd_m=gsd, moon=moon, site_px=site_px, priors=priors, params=params)


def _displacement(moved: np.ndarray) -> dict:
    """The displacement measured per noise block (px): its median, 90th percentile and
    largest over the image's blocks."""
    if not moved.size:
        return {"median": None, "p90": None, "max": None, "blocks": 0}
    median, p90 = np.percentile(moved, [50, 90])
    return {
        "median": round(float(median), 3),
        "p90": round(float(p90), 3),
        "max": round(float(moved.max()), 3),
        "blocks": int(moved.size),
    }


@functools.lru_cache(maxsize=8)
def _debris_priors(mission: str) -> dict:
    """``edl.debris.debris_priors`` of ``mission`` for identification (200 samples, seed 0),
    computed once per mission in a process."""
    from orbitscout.edl.debris import debris_priors

    return debris_priors(mission, n_samples=200, seed=0)


def _summary(
    a, b, reg, found, counts, timings, result, gsd, site, mission, detect, identify
) -> dict:
    import platform

    import pyproj
    import scipy
    import skimage

    from orbitscout.core.version import __version__

    return {
        "before": {"path": str(b.path), "width": b.width, "height": b.height, "gsd_m": b.gsd_m},
        "after": {"path": str(a.path), "width": a.width, "height": a.height, "gsd_m": gsd},
        "body": a.body.name if a.body else (b.body.name if b.body else None),
        "registration": reg.as_dict(),
        "detections": len(found),
        "counts": counts,
        "hints": {"site": list(site) if site else None, "mission": mission},
        "detection": {
            "tiles": result.tiles,
            "valid_fraction": round(result.valid_fraction, 4),
            "displacement_px": _displacement(result.displacement_px),
            "t_high_sigma": detect.t_high,
            "t_low_sigma": detect.t_low,
        },
        "parameters": {
            "detect": detect.as_dict(),
            "identify": identify.as_dict(),
            "model": {"file": MODEL_FILE.name, **default_model().fit},
        },
        "timings": {k: round(v, 3) for k, v in timings.items()},
        "versions": {
            "orbitscout": __version__,
            "python": platform.python_version(),
            "numpy": np.__version__,
            "scipy": scipy.__version__,
            "scikit-image": skimage.__version__,
            **gdal.versions(),
            "pyproj": pyproj.__version__,
            "opencv": cv2.__version__,
        },
    }
