"""``find``: from two orbital images to located, measured and identified changes."""

from __future__ import annotations

import contextlib
import functools
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from orbitscout.core.atomic import check_out_dir, staged_outputs
from orbitscout.core.candidate import Candidate
from orbitscout.core.classes import CLASSES
from orbitscout.core.errors import OrbitscoutError
from orbitscout.core.registration import Registration
from orbitscout.core.window import Window
from orbitscout.detect import (
    candidates,
    deblend,
    photometry,
    register,
    significance,
    tiles,
)
from orbitscout.detect.parameters import DetectParams
from orbitscout.image import gdal
from orbitscout.image.grid import grid_map
from orbitscout.image.product import Product, open_product

DEFAULT_TILE = 2048


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
    band: int | None = None,
    gsd_m: float | None = None,
    tile: int | None = DEFAULT_TILE,
    progress: bool = False,
    detect: DetectParams | None = None,
) -> FindResult:
    """Register BEFORE to AFTER, find what changed, say what each change is, write the outputs.

    ``site`` is (lat, lon) of the lander when known; ``gsd_m`` gives the pixel size of images
    without a CRS; ``tile`` bounds memory (None processes the image whole); ``detect`` holds
    the detection and deblending thresholds (None: ``DetectParams()``), written into
    ``summary.json`` under ``"parameters"``.
    """
    detect = DetectParams() if detect is None else detect
    out_dir = check_out_dir(out_dir)
    if mission is not None:
        from orbitscout.edl.missions import get_mission

        get_mission(mission)  # an unknown name fails now, not after the work
    _keep_freed_memory()  # before this call starts any thread
    imports = _import_in_background()
    timings: dict[str, float] = {}
    clock = time.perf_counter()
    with contextlib.ExitStack() as stack:
        stack.enter_context(gdal.gdal_env(tiles.tile_threads()))
        b = open_product(before, band=band, body=body)
        stack.callback(b.close)
        a = open_product(after, band=band, body=body)
        stack.callback(a.close)
        if min(a.width, a.height) < 32:
            raise OrbitscoutError("is too small to search (under 32 pixels on a side)", a.path)
        gmap = grid_map(b, a)
        factor = significance.COARSE
        whole = _reduced(a, factor)
        with ThreadPoolExecutor(2, thread_name_prefix="orbitscout-read") as pool:
            # both products at once (16k: 2.2-2.5 s one after the other, 1.8 s at once)
            reading = pool.submit(gmap.sample, whole, factor=factor)
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
        reg = register.register(
            a.width,
            a.height,
            lambda w, out_shape=None: a.read(window=w, out_shape=out_shape),
            gmap.sample,
            after_small,
            before_small,
            factor,
        )
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
        # tiles run in threads; a GDAL dataset is used by one thread at a time
        read_after = _one_at_a_time(lambda w: a.read(window=w))
        read_before = _one_at_a_time(lambda w: gmap.sample(w, registration=to_before))
        with _progress_bar(progress, a.width * a.height) as advance:
            result = tiles.detect_changes(
                read_after,
                read_before,
                phot,
                a.width,
                a.height,
                tile=tile,
                progress=advance,
                params=detect,
            )
        if result.valid_fraction < 0.01:
            raise OrbitscoutError("the registered images share almost no valid ground", b.path)
        gsd = a.gsd_m if a.gsd_m is not None else gsd_m
        found = candidates.candidates(result, gsd, detect)
        found = deblend.deblend(
            found, read_after, read_before, phot, a.width, a.height, gsd, detect
        )
        timings["detect_s"] = time.perf_counter() - clock

        clock = time.perf_counter()
        _identify(found, a, site=site, mission=mission)  # may move a lander onto its vehicle
        _locate(found, a)
        found = [c for c in found if c.score >= min_score]
        for i, cand in enumerate(found, start=1):
            cand.id = i
        timings["identify_s"] = time.perf_counter() - clock

        counts = {cls: sum(c.cls == cls for c in found) for cls in CLASSES}
        summary = _summary(a, b, reg, found, counts, timings, result, gsd, site, mission, detect)
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


def _import_in_background() -> threading.Thread:
    """Import the report's libraries (geopandas and pyogrio: 0.2-0.25 s) and the parts of scipy
    that identification uses (0.15-0.2 s) in a thread, while the images are read and searched;
    an import that fails there fails again, with its message, where it is used."""

    def load() -> None:
        with contextlib.suppress(Exception):
            import geopandas  # noqa: F401
            import scipy.optimize  # noqa: F401
            import scipy.spatial  # noqa: F401

            from orbitscout.identify import classify as identify  # noqa: F401
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


def _identify(found, after: Product, site, mission) -> None:
    """Identify ``found`` with what the AFTER product and the hints tell: its pixel size and
    body, the pixel of the ``site`` (lat, lon) hint and the EDL priors of ``mission``."""
    try:
        from orbitscout.identify import classify as identify
    except ImportError:
        return
    if not found:
        return
    from orbitscout.image.product import site_pixel

    gsd = found[0].gsd_m if found[0].gsd_m is not None else after.gsd_m
    moon = after.body is not None and after.body.name.lower() == "moon"
    site_px = site_pixel(after, *site) if site is not None else None
    priors = _debris_priors(mission.strip().lower()) if (mission and not moon) else None
    identify.identify(found, gsd_m=gsd, moon=moon, site_px=site_px, priors=priors)


@functools.lru_cache(maxsize=8)
def _debris_priors(mission: str) -> dict:
    """``edl.debris.debris_priors`` of ``mission`` for identification (200 samples, seed 0),
    computed once per mission in a process."""
    from orbitscout.edl.debris import debris_priors

    return debris_priors(mission, n_samples=200, seed=0)


def _summary(a, b, reg, found, counts, timings, result, gsd, site, mission, detect) -> dict:
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
            "t_high_sigma": detect.t_high,
            "t_low_sigma": detect.t_low,
        },
        "parameters": {"detect": detect.as_dict()},
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
