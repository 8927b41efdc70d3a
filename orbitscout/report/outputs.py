"""Every output of ``find``, written into a staging folder from results handed in."""

from __future__ import annotations

import json
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
        What ``summary.json`` holds.
    preview : numpy.ndarray, optional
        The AFTER image at reduced resolution, if read already.
    before_preview : numpy.ndarray, optional
        The BEFORE image registered on ``preview``'s grid (``find``'s reduced read): the
        viewer's BEFORE and difference layers below full resolution.
    """
    name = body.name if body else summary.get("body")
    code = body.iau_code if body else None
    (stage / "detections.geojson").write_text(json.dumps(geojson(found, name, code), indent=1))
    with ThreadPoolExecutor(1, thread_name_prefix="orbitscout-gpkg") as side:
        # the GeoPackage (0.15-0.2 s of GDAL, on its own file) while the pictures are made
        gpkg = side.submit(write_gpkg, stage / "detections.gpkg", found, grid)
        _pictures(
            stage, grid, body, read_after, read_before, found, summary, preview, before_preview
        )
        gpkg.result()
    (stage / "summary.json").write_text(json.dumps(summary, indent=1))


def _pictures(
    stage: Path,
    grid: PixelGrid,
    body: Body | None,
    read_after: Callable[..., np.ndarray],
    read_before: Callable[[Window], np.ndarray],
    found: list[Candidate],
    summary: dict,
    preview: np.ndarray | None,
    before_preview: np.ndarray | None,
) -> None:
    """overview.png, the viewer's folder and report.html."""
    title = (
        f"orbitscout: {len(found)} detections in "
        f"{Path(summary['after']['path']).name} vs {Path(summary['before']['path']).name}"
    )
    overview = overview_png(
        grid,
        read_after,
        found,
        title,
        preview,
        gsd_m=summary.get("after", {}).get("gsd_m"),
        north_deg=north_deg(grid, body),
    )
    (stage / "overview.png").write_bytes(overview)
    viewer = write_viewer(
        stage / FOLDER,
        grid,
        body,
        read_after,
        read_before,
        found,
        summary,
        preview,
        before_preview,
    )
    (stage / "report.html").write_text(html_report(found, summary, viewer), encoding="utf-8")
