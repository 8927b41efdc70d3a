"""Simulated scenes for the benches: render, find (detection only), cache candidates; and the
measures the benches share."""

from __future__ import annotations

import pickle
import tempfile
from pathlib import Path

import numpy as np

CACHE = Path(__file__).resolve().parent / ".data" / "identify"


# what renders scenes and finds candidates: every module of the package but those that
# identify, report, parse commands or run the demo (a change in them leaves the candidates as
# they are); paths within the package, a folder's ending in "/"
NOT_SOURCES = ("identify/", "report/", "cli/", "sim/demo.py")


def code_version() -> str:
    """A hash of the sources that render scenes and find candidates: a cached scene is reused
    only while they are unchanged."""
    import hashlib

    import orbitscout

    root = Path(orbitscout.__file__).parent
    h = hashlib.sha1()
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        if rel.as_posix().startswith(NOT_SOURCES):
            continue
        h.update(rel.as_posix().encode() + b"\0" + path.read_bytes())
    return h.hexdigest()[:10]


def scene_candidates(
    camera: str,
    layout: str,
    seed: int,
    size: int,
    cache: bool = True,
    family: str | None = None,
    suns: bool = True,
):
    """(candidates, truth) of one simulated scene (of scene ``family``, the renderer's own look
    by default), identify not applied; None where ``find`` could not register the pair
    (counted apart in the table). ``find`` is given the two images' suns, as a product's
    labels give them (every HiRISE, CTX, CaSSIS and LRO NAC product carries them), unless
    ``suns`` is False (a pair of bare GeoTIFFs)."""
    tag = f"{family}_" if family else ""
    tag += "" if suns else "nosun_"
    key = CACHE / f"{tag}{camera}_{layout}_{seed}_{size}_{code_version()}.pkl"
    if cache and key.exists():
        return pickle.loads(key.read_bytes())
    from orbitscout import pipeline
    from orbitscout.core.errors import OrbitscoutError
    from orbitscout.sim.render import simulate_pair, truth_suns, write_pair

    scene = natural_scene(camera, seed, size) if layout == "natural" else None
    pair = simulate_pair(camera, layout, seed=seed, size=size, scene=scene, family=family)
    with tempfile.TemporaryDirectory() as tmp:
        paths = write_pair(pair, tmp)
        saved = pipeline._identify
        pipeline._identify = lambda *a, **k: None
        try:
            given = truth_suns(pair.truth) if suns else {"before": None, "after": None}
            res = pipeline.find(
                paths["before.tif"],
                paths["after.tif"],
                Path(tmp) / "out",
                sun_before=given["before"],
                sun_after=given["after"],
            )
            out = (res.detections, pair.truth)
        except OrbitscoutError:
            out = None
        finally:
            pipeline._identify = saved
    if cache:
        key.parent.mkdir(parents=True, exist_ok=True)
        key.write_bytes(pickle.dumps(out))
    return out


def natural_scene(camera: str, seed: int, size: int):
    """A scene with natural changes only (layout ``natural``: what a survey pair away from any
    landing shows): the random layout's ground, sun and 3-6 new craters, dust-devil tracks and
    dust patches, its hardware left out."""
    from orbitscout.observe.cameras import get_camera
    from orbitscout.sim.scene import make_scene

    cam = get_camera(camera)
    gsd = cam.gsd(cam.slant_range_m(cam.nominal_altitude_m, 0.0), 0.0)
    scene = make_scene(
        "random", seed=seed, extent_m=size * gsd, natural_changes=3 + seed % 4, body=cam.body
    )
    return scene.natural_only()


def family_covers(family: str, camera: str) -> bool:
    """Whether scene ``family`` has ground on the body ``camera`` looks at (a Mars family has
    no scenes for LROC NAC, a lunar one none for the Mars cameras)."""
    from orbitscout.observe.cameras import get_camera
    from orbitscout.sim.families import get_family

    return get_family(family).covers(get_camera(camera).body)


def expected_calibration_error(scores, right, bins: int = 10) -> float:
    """Expected calibration error of probabilities ``scores`` against the booleans ``right``:
    the count-weighted mean gap between mean score and share right over ``bins``
    equal-width bins (NaN for no scores)."""
    s = np.asarray(scores, float)
    r = np.asarray(right, float)
    if not s.size:
        return float("nan")
    idx = np.minimum((s * bins).astype(int), bins - 1)
    gap = sum(
        abs(s[idx == b].mean() - r[idx == b].mean()) * np.sum(idx == b)
        for b in range(bins)
        if np.any(idx == b)
    )
    return float(gap / s.size)
