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
