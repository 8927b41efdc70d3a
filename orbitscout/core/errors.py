"""The exception type that the command line turns into one clear error line, and the warning
type it prints as one line on a run that succeeds."""

from __future__ import annotations

import warnings
from pathlib import Path


class OrbitscoutError(Exception):
    """A problem with the user's input, reported as ``WHAT: problem`` and a non-zero exit.

    Parameters
    ----------
    problem : str
        What is wrong, in words.
    path : str or pathlib.Path, optional
        What it is wrong with: a file, or an option such as ``--site``.
    """

    def __init__(self, problem: str, path: str | Path | None = None):
        self.problem = problem
        self.path = None if path is None else str(path)
        super().__init__(f"{self.path}: {problem}" if self.path else problem)

    def about(self, path: str | Path) -> OrbitscoutError:
        """This error naming ``path`` as its WHAT, unless it names something already.

        Parameters
        ----------
        path : str or pathlib.Path
            The file or option the problem is with.

        Returns
        -------
        OrbitscoutError
            ``self`` when it names a WHAT already, else a new error (``self`` as its cause).
        """
        if self.path is not None:
            return self
        named = OrbitscoutError(self.problem, path)
        named.__cause__ = self
        return named


class OrbitscoutWarning(UserWarning):
    """Something a run went on despite, printed as one line ``orbitscout: warning: WHAT:
    problem`` when the run succeeds (and never on an error's path).

    Parameters
    ----------
    problem : str
        What was odd, and what the run did about it.
    path : str or pathlib.Path, optional
        What it is about: a file or an option.
    """

    def __init__(self, problem: str, path: str | Path | None = None):
        self.problem = problem
        self.path = None if path is None else str(path)
        super().__init__(f"{self.path}: {problem}" if self.path else problem)


def warn(problem: str, path: str | Path | None = None) -> str:
    """Issue an ``OrbitscoutWarning`` and return its text (for ``summary.json``).

    Parameters
    ----------
    problem : str
        What was odd, and what the run did about it.
    path : str or pathlib.Path, optional
        What it is about.

    Returns
    -------
    str
        ``WHAT: problem``, as it is printed.
    """
    warning = OrbitscoutWarning(problem, path)
    warnings.warn(warning, stacklevel=2)
    return str(warning)
