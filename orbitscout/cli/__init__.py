"""The ``orbitscout`` command: a thin typer layer over the library API, one module per
command group."""

from orbitscout.cli import edl, find, sim  # noqa: F401  (importing a group adds its commands)
from orbitscout.cli.app import app, main
from orbitscout.cli.orbits import register

register(app)

__all__ = ["app", "main"]
