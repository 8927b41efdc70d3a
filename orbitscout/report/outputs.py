"""Every output of ``find``, written into a staging folder from results handed in."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from orbitscout.core.bodies import Body
from orbitscout.core.candidate import Candidate
from orbitscout.core.grid import PixelGrid
from orbitscout.core.window import Window
from orbitscout.report.geo import north_deg
from orbitscout.report.page import html_report
from orbitscout.report.pictures import overview_png
from orbitscout.report.vectors import geojson, write_gpkg
from orbitscout.report.viewer import FOLDER, write_viewer


def write_all(
    stage: Path,
    grid: PixelGrid,
    body: Body | None,
    read_after: Callable[..., np.ndarray],
    read_before: Callable[[Window], np.ndarray],
    found: list[Candidate],
    summary: dict,
    preview: np.ndarray | None = None,
    before_preview: np.ndarray | None = None,
) -> None:
    """Write every output of ``find`` into the staging folder ``stage``.

    Parameters
    ----------
    stage : pathlib.Path
        The folder the outputs are staged in.
    grid : PixelGrid
        The AFTER image's pixel grid and georeferencing.
    body : Body or None
        The body the images show, where known.
    read_after : callable
        ``read_after(window=None, out_shape=None)``: the AFTER image's pixels.
    read_before : callable
        ``read_before(window)``: the registered BEFORE image on the AFTER grid.
    found : list of Candidate
        The detections, identified and located.
    summary : dict
        What ``summary.json`` holds; given ``"changes"`` (``change_counts``) where it has none.
    preview : numpy.ndarray, optional
        The AFTER image at reduced resolution, if read already.
    before_preview : numpy.ndarray, optional
        The BEFORE image registered on ``preview``'s grid (``find``'s reduced read): the
        viewer's BEFORE and difference layers below full resolution.
    """
    summary.setdefault("changes", change_counts(found))
    name = body.name if body else summary.get("body")
    code = body.iau_code if body else None
    (stage / "detections.geojson").write_text(json.dumps(geojson(found, name, code), indent=1))
    title = (
        f"orbitscout: {len(found)} detections in "
        f"{Path(summary['after']['path']).name} vs {Path(summary['before']['path']).name}"
    )
    gsd_m = summary.get("after", {}).get("gsd_m")
    lock = threading.Lock()  # one AFTER dataset, read from two threads (overview, viewer)

    def after(window: Window | None = None, out_shape: tuple[int, int] | None = None):
        with lock:
            return read_after(window=window, out_shape=out_shape)

    with ThreadPoolExecutor(2, thread_name_prefix="orbitscout-side") as side:
        # the GeoPackage (0.15 s, GDAL on its own file) and overview.png (0.15 s, mostly its
        # PNG encoding) beside the viewer: the 16k report 1.3 -> 1.0 s on two cores
        gpkg = side.submit(write_gpkg, stage / "detections.gpkg", found, grid)
        north = north_deg(grid, body)
        overview = side.submit(
            overview_png, grid, after, found, title, preview, gsd_m=gsd_m, north_deg=north
        )
        viewer = write_viewer(
            stage / FOLDER,
            grid,
            body,
            after,
            read_before,
            found,
            summary,
            preview,
            before_preview,
        )
        (stage / "overview.png").write_bytes(overview.result())
        gpkg.result()
    (stage / "report.html").write_text(html_report(found, summary, viewer), encoding="utf-8")
    (stage / "summary.json").write_text(json.dumps(summary, indent=1))


CHANGES = ("appeared", "vanished", "altered")


def change_counts(found: list[Candidate]) -> dict[str, int]:
    """Detections per way the ground changed, and the possible moves among them.

    Parameters
    ----------
    found : list of Candidate
        The detections.

    Returns
    -------
    dict
        ``{"appeared": n, "vanished": n, "altered": n, "moves": n}``; a move is one pair of
        detections linked by ``moved_from`` (counted once when both ends name the other), its
        other end among ``found``.
    """
    counts = {change: sum(c.change == change for c in found) for change in CHANGES}
    ids = {c.id for c in found}
    pairs = {
        frozenset((c.id, c.moved_from))
        for c in found
        if c.moved_from is not None and c.moved_from in ids and c.moved_from != c.id
    }
    counts["moves"] = len(pairs)
    return counts
