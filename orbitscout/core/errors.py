"""The one exception type that the command line turns into a clear one-line error."""

from __future__ import annotations

from pathlib import Path


class OrbitscoutError(Exception):
    """A problem with the user's input, reported as ``FILE: problem`` and a non-zero exit."""

    def __init__(self, problem: str, path: str | Path | None = None):
        self.problem = problem
        self.path = None if path is None else str(path)
        super().__init__(f"{self.path}: {problem}" if self.path else problem)
