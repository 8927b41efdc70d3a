"""Terminal tables that never cut a cell, and CSV rows beside the JSON ones.

rich shrinks a table to the console's width and then cuts cells ("446.…"); piped into a file,
the console is 80 columns (or ``COLUMNS``) wide, so the file got cut numbers too. Here every
column wraps at spaces and is pinned to its longest word, so nothing is folded: on a terminal
too narrow for that, each row is printed as a card (header and value per line); when stdout is
not a terminal each row is printed on one line at the table's full width. ``--json`` and
``--csv`` give the same rows for programs.

rich is imported inside the functions so ``orbitscout --help`` stays fast.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

__all__ = ["csv_text", "echo_csv", "print_table", "table_widths"]

# Wide enough to measure any table without rich clamping a cell to the console.
_MEASURE_WIDTH = 100_000


def table_widths(table: Table) -> tuple[int, int]:
    """The narrowest width at which no word of any cell is cut, and the one-line width.

    Parameters
    ----------
    table
        A rich table.

    Returns
    -------
    tuple of int
        ``(minimum, maximum)`` in terminal cells, borders and padding included.
    """
    from rich.console import Console
    from rich.measure import Measurement

    probe = Console(width=_MEASURE_WIDTH, file=io.StringIO())
    m = Measurement.get(probe, probe.options, table)
    return m.minimum, m.maximum


def _pin_columns(table: Table) -> list[tuple[int, int]]:
    """Set each column to fold and to be at least as wide as its longest word.

    rich collapses the widest columns first when a table is too wide, whatever their words
    need; a column's ``min_width`` is the one bound it keeps. A ``no_wrap`` column is pinned
    to its longest cell.

    Returns
    -------
    list of tuple of int
        ``(minimum, maximum)`` content width per column, padding not included.
    """
    from rich.console import Console
    from rich.measure import Measurement

    probe = Console(width=_MEASURE_WIDTH, file=io.StringIO())
    ranges = []
    for column in table.columns:
        column.overflow = "fold"
        need, full = 1, 1
        for cell in (column.header, *column.cells):
            m = Measurement.get(probe, probe.options, cell)
            need = max(need, m.maximum if column.no_wrap else m.minimum)
            full = max(full, m.maximum)
        column.min_width = max(column.min_width or 0, need)
        ranges.append((column.min_width, max(full, column.min_width)))
    return ranges


def _fit_columns(table: Table, ranges: list[tuple[int, int]], spare: int) -> None:
    """Fix each column's width: its minimum, plus a share of ``spare`` cells up to its maximum.

    The widest wishes are served first, one cell at a time, so the table is exactly as wide as
    asked and rich has nothing left to collapse (and cut).
    """
    widths = [lo for lo, _ in ranges]
    while spare > 0:
        wants = [hi - w for w, (_, hi) in zip(widths, ranges, strict=True)]
        j = max(range(len(wants)), key=wants.__getitem__)
        if wants[j] <= 0:
            break
        widths[j] += 1
        spare -= 1
    for column, w in zip(table.columns, widths, strict=True):
        column.width = w


def print_table(table: Table, console: Console | None = None) -> None:
    """Print ``table`` so that no cell is ever cut or ellipsised, at any width.

    Every column is set to wrap at spaces (``overflow="fold"``) and pinned to its longest word.
    On a terminal the table is printed at the terminal's width; when the terminal is narrower
    than the table's narrowest width, each row is printed as a card instead (one line per
    column: header, value). When the output is not a terminal (a pipe or a file), the table is
    printed at its full width, one line per row, whatever ``COLUMNS`` says.

    Parameters
    ----------
    table
        The table to print.
    console
        Where to print; default a new console on stdout. Its width is set for the call and
        restored afterwards.
    """
    from rich.console import Console

    ranges = _pin_columns(table)
    console = Console() if console is None else console
    minimum, maximum = table_widths(table)
    if console.is_terminal and minimum > console.width and table.columns:
        table = _cards(table)
        ranges = _pin_columns(table)
        minimum, maximum = table_widths(table)
    if console.is_terminal and minimum <= console.width < maximum:
        _fit_columns(table, ranges, console.width - minimum)
    previous = console.width
    width = max(previous, minimum) if console.is_terminal else max(maximum, minimum)
    console.width = width
    try:
        console.print(table, crop=False)
    finally:
        console.width = previous


def _cards(table: Table) -> Table:
    """The rows of ``table`` one under the other, each cell on its own line beside its header.

    A table without a header puts each cell on its own line.
    """
    from rich.table import Table

    cards = Table(title=table.title, show_header=False, show_lines=False)
    if table.show_header:
        cards.add_column(style="bold")
    cards.add_column(justify="right")
    columns = [list(column.cells) for column in table.columns]
    headers = [column.header for column in table.columns]
    for i in range(table.row_count):
        for j, cells in enumerate(columns):
            cell = cells[i] if i < len(cells) else ""
            last = j == len(columns) - 1 and i < table.row_count - 1
            if table.show_header:
                cards.add_row(headers[j], cell, end_section=last)
            else:
                cards.add_row(cell, end_section=last)
    return cards


def _csv_cell(value: Any) -> str:
    """One CSV cell: strings as they are, ``None`` empty, everything else as JSON text."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value)


def csv_text(rows: Sequence[dict[str, Any]], fields: Iterable[str] | None = None) -> str:
    """The rows as CSV with a header row: the same fields and values as the JSON rows.

    Parameters
    ----------
    rows
        The JSON rows (dicts).
    fields
        The columns in order; default every key of the rows in order of first appearance.

    Returns
    -------
    str
        CSV text (``\\n`` line ends). A missing or ``None`` value is an empty cell; numbers and
        booleans are written as in JSON (``true``), lists and objects as JSON text.
    """
    if fields is None:
        fields = list(dict.fromkeys(k for row in rows for k in row))
    fields = list(fields)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(fields)
    for row in rows:
        writer.writerow([_csv_cell(row.get(k)) for k in fields])
    return buf.getvalue()


def echo_csv(rows: Sequence[dict[str, Any]], fields: Iterable[str] | None = None) -> None:
    """Print the rows as CSV with a header row on stdout (see :func:`csv_text`).

    Parameters
    ----------
    rows
        The JSON rows (dicts).
    fields
        The columns in order; default every key of the rows in order of first appearance.
    """
    typer.echo(csv_text(rows, fields), nl=False)
