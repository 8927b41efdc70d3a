"""The typer app every command group adds its commands to, and the entry point."""

from __future__ import annotations

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
    """``--site LAT,LON`` (degrees, east-positive longitude), or None when not given."""
    from orbitscout.core.bodies import parse_site as parse

    return None if text is None else parse(text)


def main() -> None:
    """Entry point: run the app; bad input and usage mistakes become one line
    ``orbitscout: error: WHAT: problem`` and exit status 2, with no traceback."""
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


def _fail(message: str) -> None:
    """Print one error line and exit with status 2."""
    line = " ".join(message.split())  # one line, whatever the message held
    err_console.print(f"orbitscout: error: {line}", highlight=False, soft_wrap=True, markup=False)
    sys.exit(2)
