"""``edl``: where a mission's jettisoned hardware should lie."""

from __future__ import annotations

import typer

from orbitscout.cli.app import app
from orbitscout.core.errors import OrbitscoutError


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
    as_csv: bool = typer.Option(
        False, "--csv", help="Print CSV (a header row, the JSON rows' fields) instead of a table."
    ),
    plot: str = typer.Option(
        None, "--plot", help="Also draw the debris ellipses into FILE (.png or .svg)."
    ),
) -> None:
    """Where each jettisoned piece should lie relative to the lander (drag + wind Monte Carlo)."""
    import json

    from orbitscout.edl.debris import debris_priors
    from orbitscout.edl.missions import get_mission

    name = get_mission(mission).name
    if wind is not None and wind < 0:
        raise OrbitscoutError(f"wind speed must be >= 0, got {wind}", "--wind")
    if as_json and as_csv:
        raise OrbitscoutError("--json and --csv exclude each other", "--csv")
    if plot is not None:
        from orbitscout.report.plots import check_plot_path

        check_plot_path(plot)
    priors = debris_priors(name, samples, seed, wind_speed=wind, wind_from_deg=wind_from)
    if plot is not None:
        from orbitscout.report.plots import edl_plot

        title = f"{name}: hardware around the lander ({samples} samples, seed {seed})"
        edl_plot([{"mission": name, **p.to_dict()} for p in priors.values()], plot, title=title)
        typer.echo(f"plot written: {plot}", err=as_json or as_csv)
    if as_json or as_csv:
        rows = [{"mission": name, **p.to_dict()} for p in priors.values()]
        if as_csv:
            from orbitscout.cli.tables import echo_csv

            echo_csv(rows)
        else:
            typer.echo(json.dumps(rows))
        return
    from rich.table import Table

    from orbitscout.cli.tables import print_table
    from orbitscout.core.geometry import compass

    table = Table(title=f"{name}: hardware offsets from the lander ({samples} samples)")
    for col in ("piece", "distance m", "95% m", "mean offset", "1σ ellipse m", "published"):
        table.add_column(col, overflow="fold")
    for p in priors.values():
        pub = "—"
        if p.published_distance_m is not None:
            pub = f"{p.published_distance_m:.0f} m"
            if p.published_bearing_deg is not None:
                pub += f" @ {p.published_bearing_deg:.0f}° {compass(p.published_bearing_deg)}"
        table.add_row(
            p.cls,
            f"{p.distance_m:.0f} ± {p.distance_sd_m:.0f}",
            f"{p.distance_p2_5_m:.0f}–{p.distance_p97_5_m:.0f}",
            f"{p.offset_distance_m:.0f} m @ {p.bearing_deg:.0f}° {compass(p.bearing_deg)}",
            f"{p.semi_major_m:.0f} × {p.semi_minor_m:.0f} @ {p.orientation_deg:.0f}°",
            pub,
        )
    print_table(table)
