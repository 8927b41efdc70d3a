"""``simulate``, ``evaluate`` and ``demo``: simulated looks, scored against their truth."""

from __future__ import annotations

import typer

from orbitscout.cli.app import app, console, parse_site


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
