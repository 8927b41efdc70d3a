"""The ``orbitscout`` command: a thin layer over the library API."""

from __future__ import annotations

import sys

import typer
from rich.console import Console

from orbitscout import __version__
from orbitscout.core.errors import OrbitscoutError

app = typer.Typer(
    name="orbitscout",
    help="Find landed spacecraft, their hardware and new surface changes in orbital images.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True)


def _version(value: bool) -> None:
    if value:
        console.print(f"orbitscout {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """orbitscout: observe → image → find → report."""


def parse_site(text: str | None) -> tuple[float, float] | None:
    """``--site LAT,LON`` (degrees, east-positive longitude), or None when not given."""
    from orbitscout.core.bodies import parse_site as parse

    return None if text is None else parse(text)


@app.command()
def find(
    before: str = typer.Argument(..., help="The earlier image (any GDAL-readable product)."),
    after: str = typer.Argument(..., help="The later image; its pixel grid is the reference."),
    out: str = typer.Option(..., "--out", help="Output folder."),
    site: str = typer.Option(None, help="LAT,LON of the lander, if known (a hint)."),
    body: str = typer.Option(None, help="mars or moon, when the files do not say."),
    mission: str = typer.Option(None, help="Known mission whose EDL layout to use as a prior."),
    min_score: float = typer.Option(0.0, help="Drop detections scored below this (0-1)."),
    band: int = typer.Option(None, help="Band to use in multi-band images (1-based)."),
    gsd: float = typer.Option(None, help="Pixel size in metres for images without a CRS."),
    tile: int = typer.Option(2048, help="Tile side in pixels (bounds memory)."),
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
    )
    reg = result.registration
    console.print(
        f"registration: dx {reg.dx:+.2f} px, dy {reg.dy:+.2f} px, rotation "
        f"{reg.rotation_deg:+.3f}°, residual {reg.residual_px:.2f} px"
    )
    counts = ", ".join(f"{k} {v}" for k, v in result.counts.items() if v) or "nothing"
    console.print(f"{len(result.detections)} detections ({counts}) → {result.out_dir}")


@app.command()
def edl(
    mission: str = typer.Argument(..., help="perseverance/mars2020, curiosity/msl, insight, ..."),
    wind: float = typer.Option(None, "--wind", help="Wind speed m/s (default: 0-8 m/s random)."),
    wind_from: float = typer.Option(
        None, "--wind-from", help="Direction the wind blows from, deg clockwise from north."
    ),
    samples: int = typer.Option(500, "--samples", help="Monte Carlo samples."),
    seed: int = typer.Option(0, "--seed", help="Random seed."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON list instead of a table."),
) -> None:
    """Where each jettisoned piece should lie relative to the lander (drag + wind Monte Carlo)."""
    import json

    from orbitscout.edl.debris import debris_priors
    from orbitscout.edl.missions import get_mission

    name = get_mission(mission).name
    if wind is not None and wind < 0:
        raise OrbitscoutError(f"wind speed must be >= 0, got {wind}", "--wind")
    priors = debris_priors(name, samples, seed, wind_speed=wind, wind_from_deg=wind_from)
    if as_json:
        typer.echo(json.dumps([{"mission": name, **p.to_dict()} for p in priors.values()]))
        return
    from rich.table import Table

    table = Table(title=f"{name}: hardware offsets from the lander ({samples} samples)")
    for col in ("piece", "distance m", "95% m", "mean offset", "1σ ellipse m", "published"):
        table.add_column(col)
    for p in priors.values():
        pub = "—"
        if p.published_distance_m is not None:
            pub = f"{p.published_distance_m:.0f} m"
            if p.published_bearing_deg is not None:
                pub += f" @ {p.published_bearing_deg:.0f}°"
        table.add_row(
            p.cls,
            f"{p.distance_m:.0f} ± {p.distance_sd_m:.0f}",
            f"{p.distance_p2_5_m:.0f}–{p.distance_p97_5_m:.0f}",
            f"{p.offset_distance_m:.0f} m @ {p.bearing_deg:.0f}°",
            f"{p.semi_major_m:.0f} × {p.semi_minor_m:.0f} @ {p.orientation_deg:.0f}°",
            pub,
        )
    console.print(table)


@app.command()
def simulate(
    out: str = typer.Option(
        ..., "--out", help="Output folder (before.tif, after.tif, truth.json)."
    ),
    camera: str = typer.Option("cassis", "--camera", help="cassis, hirise, ctx or nac."),
    site: str = typer.Option(None, "--site", help="LAT,LON to put the layout at."),
    layout: str = typer.Option(
        "perseverance",
        "--layout",
        help="perseverance, curiosity, insight, schiaparelli, vikram or random.",
    ),
    seed: int = typer.Option(0, "--seed", help="Random seed (same seed, same images)."),
    size: int = typer.Option(2048, "--size", help="Image side in pixels."),
    altitude: float = typer.Option(None, "--altitude", help="Altitude in km (camera default)."),
) -> None:
    """Render a before/after pair of a landing site as a camera sees it, with its truth."""
    from orbitscout.sim.render import simulate as run_simulate

    pair = run_simulate(
        out,
        camera=camera,
        layout=layout,
        site=parse_site(site),
        seed=seed,
        size=size,
        altitude_m=None if altitude is None else altitude * 1000.0,
    )
    t = pair.truth
    mis = t["misregistration"]
    console.print(
        f"{t['camera']} {t['size_px']}×{t['size_px']} px at {t['gsd_m']:.3f} m/px, "
        f"{len(t['items'])} items in frame ({len(t['outside'])} outside), true shift "
        f"dx {mis['dx']:+.2f} dy {mis['dy']:+.2f} px, {pair.timings['total']:.1f} s → {out}"
    )


@app.command()
def evaluate(
    detections: str = typer.Argument(..., help="detections.geojson from `orbitscout find`."),
    truth: str = typer.Argument(..., help="truth.json from `orbitscout simulate`."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    min_score: float = typer.Option(0.0, "--min-score", help="Ignore detections below this."),
) -> None:
    """Score detections against truth: recall, precision, class accuracy, localisation error."""
    import json

    from orbitscout.sim.evaluate import evaluate as run_evaluate
    from orbitscout.sim.evaluate import format_report

    res = run_evaluate(detections, truth, min_score=min_score)
    if as_json:
        typer.echo(json.dumps(res, indent=2))
    else:
        console.print(format_report(res), highlight=False, soft_wrap=True)


@app.command()
def demo(
    out: str = typer.Option("demo_out", "--out", help="Output folder."),
    seed: int = typer.Option(0, "--seed", help="Random seed of the simulated scene."),
    size: int = typer.Option(2048, "--size", help="Image side in pixels."),
) -> None:
    """Simulate CaSSIS looking at Perseverance's landing site, find the hardware, score it."""
    from orbitscout.sim.demo import run_demo

    run_demo(
        out,
        seed=seed,
        size=size,
        progress=True,
        echo=lambda s: console.print(s, highlight=False, soft_wrap=True),
    )


@app.command()
def survey(
    pairs: str = typer.Argument(..., help="CSV: before,after[,name,site,mission,body]."),
    out: str = typer.Option(..., "--out", help="Output folder (one subfolder per pair)."),
    scheduler: str = typer.Option(
        None, "--scheduler", help="Address of a running Dask scheduler (default: a local cluster)."
    ),
    workers: int = typer.Option(
        None, "--workers", help="Worker processes of the local cluster (default: one per core)."
    ),
    tile: int = typer.Option(2048, help="Tile side in pixels (bounds memory per worker)."),
    min_score: float = typer.Option(0.0, help="Drop detections scored below this (0-1)."),
) -> None:
    """Run find over many pairs on Dask; rerunning skips the pairs already done."""
    from orbitscout.survey import survey as run_survey

    result = run_survey(
        pairs,
        out,
        scheduler=scheduler,
        workers=workers,
        tile=tile,
        min_score=min_score,
        progress=True,
    )
    console.print(
        f"{result.ok} pairs done, {result.failed} failed, {result.skipped} already "
        f"done → {result.csv_path}",
        highlight=False,
        soft_wrap=True,
    )
    for row in [r for r in result.rows if r["status"] != "ok"][:10]:
        err_console.print(
            f"orbitscout: pair {row['pair']} failed: {row['error']}",
            highlight=False,
            soft_wrap=True,
        )
    if result.failed:
        sys.exit(1)  # some pairs failed (each has its line in survey.csv); the rest are done


# `time`, `plan` and `relay` (Mars time, imaging windows, relay passes) live in cli_orbits.py.
from orbitscout.cli.orbits import register as _register_orbit_commands  # noqa: E402

_register_orbit_commands(app)


def main() -> None:
    """Entry point: run the app, turning OrbitscoutError into one error line and exit code 2."""
    try:
        app(standalone_mode=False)
    except OrbitscoutError as exc:
        err_console.print(f"orbitscout: error: {exc}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        err_console.print("orbitscout: aborted")
        sys.exit(130)
    except Exception as exc:  # click usage errors arrive as click.ClickException
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        raise


if __name__ == "__main__":
    main()
