"""``find`` and ``survey``: changes in one pair of images, or in many."""

from __future__ import annotations

import sys

import typer

from orbitscout.cli.app import (
    app,
    band_option,
    console,
    err_console,
    gsd_option,
    memory_option,
    parse_site,
    score_option,
)
from orbitscout.core.illumination import Sun


def sun_option(value: str | None) -> Sun | None:
    """``--sun-before`` / ``--sun-after``: ``AZ,INC`` (degrees) as a ``Sun`` from the option."""
    if value is None:
        return None
    from orbitscout.pipeline import parse_sun

    try:
        return parse_sun(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


@app.command()
def find(
    before: str = typer.Argument(..., help="The earlier image (any GDAL-readable product)."),
    after: str = typer.Argument(..., help="The later image; its pixel grid is the reference."),
    out: str = typer.Option(..., "--out", help="Output folder."),
    site: str = typer.Option(None, help="LAT,LON of the lander, if known (a hint)."),
    body: str = typer.Option(None, help="mars or moon, when the files do not say."),
    mission: str = typer.Option(None, help="Known mission whose EDL layout to use as a prior."),
    min_score: float = typer.Option(
        0.0,
        callback=score_option,
        metavar="SCORE",
        help="Drop detections scored below this (0-1).",
    ),
    band: str = typer.Option(
        None,
        callback=band_option,
        metavar="BAND[,BAND]",
        help="Band to use in multi-band images (1-based): one for both, or BEFORE,AFTER.",
    ),
    gsd: float = typer.Option(
        None,
        callback=gsd_option,
        metavar="METRES",
        help="Pixel size in metres for images without a CRS (without it and without a CRS, "
        "no hardware class is named).",
    ),
    tile: int = typer.Option(
        2048, min=256, metavar="PX", help="Tile side in pixels, at least 256 (bounds memory)."
    ),
    max_memory: str = typer.Option(
        None,
        "--max-memory",
        callback=memory_option,
        metavar="SIZE",
        help="Refuse a pair whose estimated peak memory is above this (e.g. 8G, 512M; "
        "default: half of this machine's memory).",
    ),
    sun_before: str = typer.Option(
        None,
        "--sun-before",
        callback=sun_option,
        metavar="AZ,INC",
        help="BEFORE's sun: azimuth toward it, degrees clockwise from north (from the image's "
        "top without a CRS), and solar incidence (default: the product's label, else "
        "estimated).",
    ),
    sun_after: str = typer.Option(
        None,
        "--sun-after",
        callback=sun_option,
        metavar="AZ,INC",
        help="AFTER's sun, as --sun-before.",
    ),
    dtm: str = typer.Option(
        None,
        "--dtm",
        metavar="FILE",
        help="Heights in metres (any GDAL raster) to predict a changed sun's shading from "
        "(needs both suns and a pixel size).",
    ),
) -> None:
    """Find where the ground changed between BEFORE and AFTER, and what each change is."""
    from orbitscout.pipeline import find as run_find

    result = run_find(
        before,
        after,
        out,
        body=body,
        site=parse_site(site),
        mission=mission,
        min_score=min_score,
        band=band,
        gsd_m=gsd,
        tile=tile,
        progress=True,
        max_memory=max_memory,
        sun_before=sun_before,
        sun_after=sun_after,
        dtm=dtm,
    )
    reg = result.registration
    console.print(
        f"registration: dx {reg.dx:+.2f} px, dy {reg.dy:+.2f} px, rotation "
        f"{reg.rotation_deg:+.3f}°, residual {reg.residual_px:.2f} px"
    )
    counts = ", ".join(f"{k} {v}" for k, v in result.counts.items() if v) or "nothing"
    console.print(f"{len(result.detections)} detections ({counts}) → {result.out_dir}")


@app.command()
def survey(
    pairs: str = typer.Argument(
        ..., help="CSV: before,after[,name,site,mission,body,band,sun_before,sun_after,dtm]."
    ),
    out: str = typer.Option(..., "--out", help="Output folder (one subfolder per pair)."),
    scheduler: str = typer.Option(
        None,
        "--scheduler",
        help="Address of a running Dask scheduler, tcp:// or tls:// (default: a local cluster "
        "that only this process can reach).",
    ),
    security: str = typer.Option(
        None,
        "--security",
        help="Dask security file (YAML, distributed.comm.tls.* keys) for a tls:// --scheduler.",
    ),
    workers: int = typer.Option(
        None, "--workers", help="Worker processes of the local cluster (default: one per core)."
    ),
    dashboard: bool = typer.Option(
        False,
        "--dashboard",
        help="Serve the local cluster's Dask dashboard on 127.0.0.1 (HTTP without "
        "authentication: anyone on this machine can read it). Off by default: no HTTP server.",
    ),
    tile: int = typer.Option(2048, help="Tile side in pixels (bounds memory per worker)."),
    min_score: float = typer.Option(0.0, help="Drop detections scored below this (0-1)."),
    max_memory: str = typer.Option(
        None,
        "--max-memory",
        callback=memory_option,
        metavar="SIZE",
        help="Memory budget of each pair's find (e.g. 8G; default on a local cluster: half of "
        "this machine's memory shared between the workers).",
    ),
) -> None:
    """Run find over many pairs on Dask; rerunning skips the pairs already done with the same
    images, options and version, and redoes the rest."""
    from orbitscout.survey import survey as run_survey

    def say(line: str) -> None:
        err_console.print(line, highlight=False, soft_wrap=True, markup=False)

    result = run_survey(
        pairs,
        out,
        scheduler=scheduler,
        workers=workers,
        security=security,
        dashboard=dashboard,
        tile=tile,
        min_score=min_score,
        max_memory=max_memory,
        progress=True,
        on_message=say,
    )
    console.print(
        f"{result.ok} pairs done, {result.failed} failed, {result.skipped} already "
        f"done → {result.csv_path}",
        highlight=False,
        soft_wrap=True,
        markup=False,
    )
    if result.redone:
        why = ", ".join(f"{n} {reason}" for reason, n in result.redo_reasons.items())
        console.print(
            f"{result.redone} pairs redone ({why})", highlight=False, soft_wrap=True, markup=False
        )
    for row in [r for r in result.rows if r["status"] != "ok"][:10]:
        err_console.print(
            f"orbitscout: pair {row['pair']} failed: {row['error']}",
            highlight=False,
            soft_wrap=True,
            markup=False,
        )
    if result.failed:
        sys.exit(1)  # some pairs failed (each has its line in survey.csv); the rest are done
