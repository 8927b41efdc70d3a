"""The typer app every command group adds its commands to, and the entry point."""

from __future__ import annotations

import math
import sys

import typer
from rich.console import Console

from orbitscout.core.errors import OrbitscoutError
from orbitscout.core.version import __version__

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
    """``--site LAT,LON`` (degrees, east-positive longitude), or None when not given.

    Parameters
    ----------
    text : str or None
        The option's value.

    Returns
    -------
    (float, float) or None
        (lat, lon), lon wrapped into [-180, 180).

    Raises
    ------
    OrbitscoutError
        Naming ``--site`` as its WHAT, when ``text`` is not a site.
    """
    from orbitscout.core.bodies import parse_site as parse

    if text is None:
        return None
    try:
        return parse(text)
    except OrbitscoutError as exc:
        raise exc.about("--site") from None


def score_option(value: float | None) -> float | None:
    """``--min-score``: a number in [0, 1], NaN refused (a typer callback: checked as the
    command line is parsed)."""
    if value is not None and not (math.isfinite(value) and 0.0 <= value <= 1.0):
        raise typer.BadParameter(f"must be between 0 and 1, got {value}")
    return value


def gsd_option(value: float | None) -> float | None:
    """``--gsd``: a pixel size in metres, finite and above 0."""
    if value is not None and not (math.isfinite(value) and value > 0.0):
        raise typer.BadParameter(f"must be a pixel size in metres above 0, got {value}")
    return value


def band_option(value: str | None) -> int | tuple[int, int] | None:
    """``--band``: one band for both images (``2``) or one per image (``1,2``: BEFORE's,
    AFTER's), numbered from 1."""
    if value is None:
        return None
    parts = [part.strip() for part in str(value).split(",")]
    if len(parts) not in (1, 2) or not all(part.isdigit() and int(part) >= 1 for part in parts):
        raise typer.BadParameter(
            f"give a band number from 1, or one per image as BEFORE,AFTER (e.g. 1,2); got {value!r}"
        )
    return int(parts[0]) if len(parts) == 1 else (int(parts[0]), int(parts[1]))


def memory_option(value: str | None) -> int | None:
    """``--max-memory``: a size (``8G``, ``512M``, bytes) as bytes."""
    if value is None:
        return None
    from orbitscout.pipeline import parse_max_memory

    try:
        return parse_max_memory(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


def main() -> None:
    """Entry point: run the app; bad input and usage mistakes become one line
    ``orbitscout: error: WHAT: problem`` and exit status 2, with no traceback.

    Warnings a run issued (``OrbitscoutWarning``) are printed one line each
    (``orbitscout: warning: WHAT: problem``) when it did not end in such an error, and never
    on an error's path, whose one line is all that stderr gets. Other Python warnings (the
    libraries') are not printed.
    """
    import warnings

    from orbitscout.core.errors import OrbitscoutWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", OrbitscoutWarning)
        try:
            _run()
        except SystemExit as stop:
            if stop.code != 2:
                _print_warnings(caught)
            raise
    _print_warnings(caught)


def _run() -> None:
    import click

    try:
        app(standalone_mode=False, prog_name="orbitscout")
    except OrbitscoutError as exc:
        _fail(str(exc))
    except click.exceptions.NoArgsIsHelpError:  # a bare `orbitscout`: its help, printed
        sys.exit(2)
    except click.UsageError as exc:
        where = exc.ctx.command_path if exc.ctx is not None else "orbitscout"
        _fail(f"{where}: {exc.format_message()} (see '{where} --help')")
    except click.ClickException as exc:
        _fail(exc.format_message())
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        err_console.print("orbitscout: aborted", highlight=False)
        sys.exit(130)
    except OSError as exc:  # the system refused (no space, permissions): named, one line
        what = exc.filename if exc.filename is not None else "orbitscout"
        _fail(f"{what}: {exc.strerror or exc}")
    except MemoryError:
        _fail("orbitscout: out of memory (give a lower --max-memory, or a smaller --tile)")


def _print_warnings(caught: list) -> None:
    """One line ``orbitscout: warning: ...`` for each distinct ``OrbitscoutWarning``."""
    from orbitscout.core.errors import OrbitscoutWarning

    seen: set[str] = set()
    for record in caught:
        if not isinstance(record.message, OrbitscoutWarning):
            continue
        line = " ".join(str(record.message).split())
        if line not in seen:
            seen.add(line)
            err_console.print(
                f"orbitscout: warning: {line}", highlight=False, soft_wrap=True, markup=False
            )


def _fail(message: str) -> None:
    """Print one error line and exit with status 2."""
    line = " ".join(message.split())  # one line, whatever the message held
    err_console.print(f"orbitscout: error: {line}", highlight=False, soft_wrap=True, markup=False)
    sys.exit(2)
