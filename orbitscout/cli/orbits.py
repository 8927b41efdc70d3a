"""The ``time``, ``plan`` and ``relay`` commands (registered on the app by ``cli/__init__.py``).

Only typer is imported here at module level; the library is imported inside each command so
``orbitscout --help`` stays fast.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer

# options that plan and relay share
Site = Annotated[str, typer.Option("--site", help="LAT,LON (planetocentric, east-positive).")]
Start = Annotated[str, typer.Option("--start", help="UTC start (ISO 8601); default now.")]
Days = Annotated[float, typer.Option("--days", help="Span in days.")]
SiteBody = Annotated[
    str,
    typer.Option(
        "--body", help="mars or moon: the body SITE is on (an orbiter of another is refused)."
    ),
]
AsJson = Annotated[
    bool, typer.Option("--json", help="Print a JSON list; each row says if it is illustrative.")
]
AsCsv = Annotated[
    bool, typer.Option("--csv", help="Print CSV: a header row, then the JSON rows' fields.")
]


def _echo_json(obj) -> None:
    typer.echo(json.dumps(obj, indent=2))


def _echo_rows(rows: list[dict], as_json: bool, as_csv: bool) -> bool:
    """Print the rows as JSON or CSV when asked; ``True`` when printed (no table then).

    Raises
    ------
    OrbitscoutError
        When both ``--json`` and ``--csv`` are given.
    """
    if as_json and as_csv:
        from orbitscout.core.errors import OrbitscoutError

        raise OrbitscoutError("--json and --csv exclude each other", "--csv")
    if as_csv:
        from orbitscout.cli.tables import echo_csv

        echo_csv(rows)
    elif as_json:
        _echo_json(rows)
    return as_json or as_csv


def _format_cell(key: str, value: object) -> str:
    """One table cell: ``—`` for none, floats to 2 decimals, UTC to the second."""
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.2f}"
    if key.endswith("utc"):
        return str(value)[:19].replace("T", " ")
    return str(value)


def _print_table(title: str, columns: list[tuple[str, str]], rows: list[dict]) -> None:
    """Print rows as a table that never cuts a cell (see ``orbitscout.cli.tables``).

    Parameters
    ----------
    title
        The title over the table.
    columns
        ``(key, header)`` per column; ``key`` names the row's value.
    rows
        The JSON rows.
    """
    from rich.table import Table

    from orbitscout.cli.tables import print_table

    table = Table(title=title)
    for key, header in columns:
        table.add_column(header, justify="right", no_wrap=key.endswith("utc"), overflow="fold")
    for row in rows:
        table.add_row(*(_format_cell(key, row.get(key)) for key, _ in columns))
    print_table(table)


def _kind(orb) -> str:
    return "illustrative " if orb.illustrative else ""


def _print_note(orb) -> None:
    """The line under a table computed from placeholder elements (none for exact ones)."""
    from orbitscout.observe.orbits import illustrative_note

    note = illustrative_note(orb)
    if note is not None:
        typer.echo(note)


def time_command(
    utc: str = typer.Argument(None, help="UTC time (ISO 8601); default now."),
    lon: float = typer.Option(0.0, "--lon", help="East longitude (deg) for local times."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON object."),
) -> None:
    """Mars time (Mars24): MSD, MTC, LMST, LTST, Ls, equation of time, subsolar point, Mars
    year."""
    from orbitscout.observe import marstime

    summary = marstime.time_summary(marstime.parse_utc(utc), lon)
    if as_json:
        _echo_json(summary)
        return
    from rich.table import Table

    from orbitscout.cli.tables import print_table

    fh = marstime.format_hours
    table = Table(title=f"Mars time at {summary['utc']}", show_header=False)
    table.add_column(justify="left", overflow="fold")
    table.add_column(justify="right", overflow="fold")
    for label, value in (
        ("Mars sol date (MSD)", f"{summary['msd']:.5f}"),
        ("Coordinated Mars time (MTC)", f"{fh(summary['mtc_h'])}  ({summary['mtc_h']:.5f} h)"),
        (f"LMST at {lon:g}° E", f"{fh(summary['lmst_h'])}  ({summary['lmst_h']:.5f} h)"),
        (f"LTST at {lon:g}° E", f"{fh(summary['ltst_h'])}  ({summary['ltst_h']:.5f} h)"),
        ("Solar longitude Ls", f"{summary['ls_deg']:.4f}°"),
        ("Equation of time", f"{summary['eot_deg']:.4f}°"),
        ("Subsolar longitude (E)", f"{summary['subsolar_lon_deg']:.4f}°"),
        ("Subsolar latitude", f"{summary['subsolar_lat_deg']:.4f}°"),
        ("Mars year", str(summary["mars_year"])),
    ):
        table.add_row(label, value)
    print_table(table)


def plan_command(
    site: Site,
    orbiter: str = typer.Option(
        ...,
        "--orbiter",
        help="tgo, mro, odyssey, maven, mex, lro (illustrative pass times), or a JSON file of "
        "your own elements or a SPICE trajectory (exact).",
    ),
    start: Start = None,
    days: Days = 1.0,
    max_off_nadir: float = typer.Option(
        None, "--max-off-nadir", help="Roll reach (deg); default per orbiter."
    ),
    max_incidence: float = typer.Option(
        None, "--max-incidence", help="Largest solar incidence (deg); default 80."
    ),
    camera: str = typer.Option(None, "--camera", help="Camera for the GSD (e.g. ctx on MRO)."),
    body: SiteBody = "mars",
    as_json: AsJson = False,
    as_csv: AsCsv = False,
    plot: str = typer.Option(
        None,
        "--plot",
        help="Also draw the windows' timeline and ground tracks into FILE (.png or .svg).",
    ),
) -> None:
    """Imaging windows: when the orbiter can see SITE in daylight, with geometry and GSD."""
    from orbitscout.observe.orbits import resolve_orbiter
    from orbitscout.observe.plan import DEFAULT_MAX_INCIDENCE_DEG, imaging_windows

    if plot is not None:
        from orbitscout.report.plots import check_plot_path

        check_plot_path(plot)
    inc = DEFAULT_MAX_INCIDENCE_DEG if max_incidence is None else max_incidence
    orb = resolve_orbiter(orbiter)
    rows = imaging_windows(site, orb, start, days, max_off_nadir, inc, camera=camera, body=body)
    if plot is not None:
        _plot_plan(rows, plot, site, orb, start, days, f"imaging windows ({orbiter}) over {site}")
        typer.echo(f"plot written: {plot}", err=as_json or as_csv)
    if _echo_rows(rows, as_json, as_csv):
        return
    cam = rows[0]["camera"] if rows else camera
    _print_table(
        f"{len(rows)} {_kind(orb)}imaging windows ({orbiter}, camera {cam}) over {site}",
        [
            ("utc", "best UTC"),
            ("duration_s", "s"),
            ("off_nadir_deg", "off°"),
            ("incidence_deg", "inc°"),
            ("emission_deg", "emi°"),
            ("ltst_h", "LTST h"),
            ("slant_range_km", "km"),
            ("gsd_m", "m/px"),
        ],
        rows,
    )
    _print_note(orb)


def relay_command(
    site: Site,
    orbiter: str = typer.Option(
        ...,
        "--orbiter",
        help="tgo, mro, odyssey, maven, mex (illustrative pass times), or a JSON file of your "
        "own elements or a SPICE trajectory (exact).",
    ),
    start: Start = None,
    days: Days = 1.0,
    min_elevation: float = typer.Option(
        10.0, "--min-elevation", help="Elevation mask (deg); 10 is a common default."
    ),
    rate_kbps: float = typer.Option(
        None, "--rate-kbps", help="Link rate (kbit/s); default 256 (Odyssey UHF)."
    ),
    body: SiteBody = "mars",
    as_json: AsJson = False,
    as_csv: AsCsv = False,
    plot: str = typer.Option(
        None,
        "--plot",
        help="Also draw the passes' elevations and data volume per sol into FILE (.png or .svg).",
    ),
) -> None:
    """Relay passes: when the orbiter is above the elevation mask seen from SITE."""
    from orbitscout.observe.orbits import resolve_orbiter
    from orbitscout.observe.plan import relay_passes

    if plot is not None:
        from orbitscout.report.plots import check_plot_path

        check_plot_path(plot)
    orb = resolve_orbiter(orbiter)
    rows = relay_passes(site, orb, start, days, min_elevation, rate_kbps, body=body)
    if plot is not None:
        title = f"relay passes ({orbiter}) over {site}"
        _plot_relay(rows, plot, site, orb, start, min_elevation, title)
        typer.echo(f"plot written: {plot}", err=as_json or as_csv)
    if _echo_rows(rows, as_json, as_csv):
        return
    total = sum(r["data_volume_mbit"] for r in rows)
    _print_table(
        f"{len(rows)} {_kind(orb)}relay passes ({orbiter}) over {site}, {total:.0f} Mbit in all",
        [
            ("rise_utc", "rise UTC"),
            ("set_utc", "set UTC"),
            ("max_elevation_deg", "max elev°"),
            ("duration_s", "dur s"),
            ("min_range_km", "min range km"),
            ("data_volume_mbit", "Mbit"),
        ],
        rows,
    )
    _print_note(orb)


def _plot_plan(rows: list[dict], plot: str, site: str, orb, start, days: float, title: str):
    """Draw ``plan``'s windows into ``plot`` (``orbitscout.report.plots.plan_plot``)."""
    from orbitscout.core.bodies import parse_site
    from orbitscout.observe import marstime
    from orbitscout.observe.orbits import ground_track
    from orbitscout.report.plots import plan_plot

    t0 = marstime.utc_seconds(start) if start is not None else marstime.parse_utc(None)
    span = marstime.format_utc(float(t0)), marstime.format_utc(float(t0) + days * 86400.0)

    def track(times):
        lat, lon, _ = ground_track(orb.trajectory, marstime.utc_seconds(times))
        return lat, lon

    plan_plot(rows, plot, site=parse_site(site), start_utc=span[0], end_utc=span[1],
              ground_track=track, title=f"{len(rows)} {title}")  # fmt: skip


def _plot_relay(rows: list[dict], plot: str, site: str, orb, start, mask: float, title: str):
    """Draw ``relay``'s passes into ``plot`` (``orbitscout.report.plots.relay_plot``); per sol
    at the site's longitude on Mars, per UTC day from the start elsewhere."""
    from orbitscout.core.bodies import MARS, parse_site
    from orbitscout.observe import marstime
    from orbitscout.observe.plan import look_geometry, site_vector
    from orbitscout.report.plots import relay_plot

    lat, lon = parse_site(site)
    site_v = site_vector(orb.body, lat, lon)
    t0 = marstime.utc_seconds(start) if start is not None else marstime.parse_utc(None)

    def elevation(times):
        return look_geometry(orb, site_v, marstime.utc_seconds(times)).elevation_deg

    if orb.body.name == MARS.name:
        label = f"sol (Mars sol date at {lon:g}° E)"

        def sol_of(times):
            return marstime.mars_sol_date(times) + lon / 360.0
    else:
        label = "UTC day from the start (1 = the first)"

        def sol_of(times):
            return 1.0 + (marstime.utc_seconds(times) - float(t0)) / 86400.0

    relay_plot(rows, plot, elevation=elevation, sol_of=sol_of, sol_label=label,
               min_elevation_deg=mask, title=f"{len(rows)} {title}")  # fmt: skip


def register(app: typer.Typer) -> None:
    """Add ``time``, ``plan`` and ``relay`` to the orbitscout app."""
    app.command("time")(time_command)
    app.command("plan")(plan_command)
    app.command("relay")(relay_command)
