"""Terminal tables of ``time``, ``plan``, ``relay`` and ``edl`` never cut a number; ``--csv`` rows
are the ``--json`` rows."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys

import pytest
from rich.console import Console
from rich.table import Table

from orbitscout.cli.tables import csv_text, print_table
from orbitscout.core.geometry import compass

SITE = "18.4,77.5"
START = "2025-01-01"
# mex has one imaging window with a GSD in the first half day, maven two without one (None)
PLAN = {
    orb: ["plan", "--site", SITE, "--orbiter", orb, "--start", START, "--days", "0.5"]
    for orb in ("mex", "maven")
}
RELAY = ["relay", "--site", SITE, "--orbiter", "mro", "--start", START, "--days", "0.5"]
EDL = ["edl", "perseverance", "--samples", "40", "--seed", "1"]
PLAN_KEYS = [
    "utc",
    "duration_s",
    "off_nadir_deg",
    "incidence_deg",
    "emission_deg",
    "ltst_h",
    "slant_range_km",
    "gsd_m",
]
RELAY_KEYS = [
    "rise_utc",
    "set_utc",
    "max_elevation_deg",
    "duration_s",
    "min_range_km",
    "data_volume_mbit",
]


def _run(args: list[str], columns: int) -> str:
    env = dict(os.environ, COLUMNS=str(columns))
    env.pop("FORCE_COLOR", None)
    env.pop("TTY_COMPATIBLE", None)
    proc = subprocess.run(
        [sys.executable, "-m", "orbitscout.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def _cell(key: str, value) -> str:
    """A value as the plan/relay table writes it."""
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.2f}"
    if key.endswith("utc"):
        return str(value)[:19].replace("T", " ")
    return str(value)


def _edl_cells(p) -> list[str]:
    """What the edl table writes for one prior (its JSON row rounds to 0.1, so a prior's own
    numbers are formatted here, as the table does)."""
    cells = [
        p.cls,
        f"{p.distance_m:.0f} ± {p.distance_sd_m:.0f}",
        f"{p.distance_p2_5_m:.0f}–{p.distance_p97_5_m:.0f}",
        f"{p.offset_distance_m:.0f} m @ {p.bearing_deg:.0f}° {compass(p.bearing_deg)}",
        f"{p.semi_major_m:.0f} × {p.semi_minor_m:.0f} @ {p.orientation_deg:.0f}°",
    ]
    if p.published_distance_m is not None:
        pub = f"{p.published_distance_m:.0f} m"
        if p.published_bearing_deg is not None:
            b = p.published_bearing_deg
            pub += f" @ {b:.0f}° {compass(b)}"
        cells.append(pub)
    return cells


def _table_words(text: str) -> set[str]:
    """Every word of the table's cells (borders dropped), on any line."""
    for ch in "│┃┏┓┗┛┡┩└┘┌┐├┤┼┬┴╇╈━─":
        text = text.replace(ch, " ")
    return set(text.split())


def _assert_cells_whole(text: str, cells: list[str]) -> None:
    assert "…" not in text
    words = _table_words(text)
    for cell in cells:
        for word in cell.split():
            assert word in words, (word, cell, text)


def _assert_one_line_per_row(text: str, cells_by_row: list[list[str]]) -> None:
    """Piped, each row is on one line with every one of its cells whole."""
    lines = text.splitlines()
    for cells in cells_by_row:
        assert any(all(c in line for c in cells) for line in lines), (cells, text)


def _csv_matches_json(csv_out: str, rows: list[dict]) -> None:
    got = list(csv.DictReader(io.StringIO(csv_out)))
    assert len(got) == len(rows)
    for g, row in zip(got, rows, strict=True):
        assert list(g) == list(row)
        for key, value in row.items():
            cell = g[key]
            if value is None:
                assert cell == ""
            elif isinstance(value, str):
                assert cell == value
            else:  # numbers, booleans, lists: JSON text
                assert json.loads(cell) == value, (key, cell, value)


@pytest.mark.parametrize("columns", [40, 80])
def test_plan_and_relay_tables_piped_never_cut(columns):
    for args, keys in ((PLAN["mex"], PLAN_KEYS), (PLAN["maven"], PLAN_KEYS), (RELAY, RELAY_KEYS)):
        rows = json.loads(_run([*args, "--json"], columns))
        assert rows, args
        text = _run(args, columns)
        cells_by_row = [[_cell(k, r[k]) for k in keys] for r in rows]
        _assert_cells_whole(text, [c for cells in cells_by_row for c in cells])
        _assert_one_line_per_row(text, cells_by_row)
        _csv_matches_json(_run([*args, "--csv"], columns), rows)


@pytest.mark.parametrize("columns", [40, 80])
def test_edl_table_piped_never_cut(columns):
    from orbitscout.edl.debris import debris_priors

    rows = json.loads(_run([*EDL, "--json"], columns))
    priors = debris_priors("perseverance", 40, 1)
    assert [r["class"] for r in rows] == [p.cls for p in priors.values()]
    assert {r["class"] for r in rows} >= {"descent_stage", "heat_shield"}
    text = _run(EDL, columns)
    cells_by_row = [_edl_cells(p) for p in priors.values()]
    _assert_cells_whole(text, [c for cells in cells_by_row for c in cells])
    _assert_one_line_per_row(text, cells_by_row)
    _csv_matches_json(_run([*EDL, "--csv"], columns), rows)


def test_time_table_piped_never_cut():
    summary = json.loads(_run(["time", "2025-01-01T00:00:00", "--lon", "77.5", "--json"], 40))
    text = _run(["time", "2025-01-01T00:00:00", "--lon", "77.5"], 40)
    _assert_cells_whole(text, [f"{summary['msd']:.5f}", f"({summary['ltst_h']:.5f}", "h)"])
    _assert_cells_whole(text, [f"{summary['subsolar_lon_deg']:.4f}°"])


def test_json_and_csv_together_is_a_usage_error():
    env = dict(os.environ)
    proc = subprocess.run(
        [sys.executable, "-m", "orbitscout.cli", *EDL, "--json", "--csv"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("orbitscout: error: --csv:")


def _wide_table() -> tuple[Table, list[str]]:
    table = Table(title="a long title over a wide table of numbers and words")
    cells = ["2025-01-01 03:14:57", "446.125", "descent_stage", "1399 m @ 87° E", "-101.9915°"]
    for header in ("rise UTC", "min range km", "piece", "mean offset", "subsolar lon"):
        table.add_column(header, justify="right", no_wrap=header.endswith("UTC"))
    table.add_row(*cells)
    table.add_row(*reversed(cells))
    return table, cells


@pytest.mark.parametrize("width", [20, 40, 60, 80, 83, 90, 200])
def test_print_table_on_a_narrow_terminal_wraps_and_never_cuts(width):
    table, cells = _wide_table()
    buf = io.StringIO()
    console = Console(file=buf, width=width, force_terminal=True, color_system=None)
    print_table(table, console)
    text = buf.getvalue()
    _assert_cells_whole(text, cells)
    assert console.width == width  # restored
    lines = text.splitlines()
    if width >= 40:  # the table, or its rows as cards, fits the terminal
        assert max(len(line) for line in lines) <= width, text
    if width < 72:  # too narrow for the table (its narrowest is 72): cards, header by value
        assert any("piece" in line and "descent_stage" in line for line in lines), text
    if width >= 200:  # room for everything: one line per row
        _assert_one_line_per_row(text, [cells])


def test_print_table_not_a_terminal_is_one_line_per_row():
    table, cells = _wide_table()
    buf = io.StringIO()
    print_table(table, Console(file=buf, width=30, force_terminal=False))
    text = buf.getvalue()
    _assert_cells_whole(text, cells)
    _assert_one_line_per_row(text, [cells, cells[::-1]])


def test_csv_text_cells():
    rows = [{"a": 1.5, "b": None, "c": True, "d": [1, 2]}, {"a": "x, y", "e": "z"}]
    text = csv_text(rows)
    assert text.splitlines()[0] == "a,b,c,d,e"
    got = list(csv.DictReader(io.StringIO(text)))
    assert got[0] == {"a": "1.5", "b": "", "c": "true", "d": "[1, 2]", "e": ""}
    assert got[1]["a"] == "x, y" and got[1]["e"] == "z"


def _run_on_a_terminal(args: list[str], columns: int) -> str:
    """Run the CLI with stdout on a pseudo-terminal ``columns`` wide; its text, colours dropped."""
    pty = pytest.importorskip("pty")
    import re
    import select

    master, slave = pty.openpty()
    env = dict(os.environ, COLUMNS=str(columns), LINES="50")
    env.pop("FORCE_COLOR", None)
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "orbitscout.cli", *args],
            stdout=slave,
            stderr=subprocess.PIPE,
            env=env,
        )
        os.close(slave)
        chunks = []
        while True:
            ready, _, _ = select.select([master], [], [], 60)
            if not ready:
                break
            try:
                data = os.read(master, 65536)
            except OSError:  # the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        assert proc.wait(timeout=60) == 0, proc.stderr.read()
    finally:
        os.close(master)
    text = b"".join(chunks).decode("utf-8").replace("\r\n", "\n")
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text)


def test_relay_on_a_40_column_terminal_fits_and_cuts_nothing():
    rows = json.loads(_run([*RELAY, "--json"], 40))
    text = _run_on_a_terminal(RELAY, 40)
    table = [line for line in text.splitlines() if not line.startswith(("Illustrative", "Exact"))]
    assert max(len(line) for line in table) <= 40, text
    _assert_cells_whole(text, [_cell(k, r[k]) for r in rows for k in RELAY_KEYS])
