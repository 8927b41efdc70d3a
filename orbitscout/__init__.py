"""orbitscout: find landed spacecraft, their landing hardware and new surface changes in
orbital images of Mars and the Moon, and plan the orbital looks that can see them.

The public API is loaded lazily, so that ``import orbitscout`` (and ``orbitscout time``) does
not import GDAL:

>>> import orbitscout
>>> result = orbitscout.find("before.tif", "after.tif", "out")  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from orbitscout.core.version import __version__

# public name -> module that defines it
_API = {
    "find": "orbitscout.pipeline",
    "FindResult": "orbitscout.pipeline",
    "survey": "orbitscout.survey",
    "simulate": "orbitscout.sim.render",
    "evaluate": "orbitscout.sim.evaluate",
    "debris_priors": "orbitscout.edl.debris",
    "mars_time": "orbitscout.observe.marstime",
    "imaging_windows": "orbitscout.observe.plan",
    "relay_passes": "orbitscout.observe.plan",
    "OrbitscoutError": "orbitscout.core.errors",
}

__all__ = [
    "OrbitscoutError",
    "FindResult",
    "__version__",
    "debris_priors",
    "evaluate",
    "find",
    "imaging_windows",
    "mars_time",
    "relay_passes",
    "simulate",
    "survey",
]

if TYPE_CHECKING:
    from orbitscout.core.errors import OrbitscoutError
    from orbitscout.edl.debris import debris_priors
    from orbitscout.observe.marstime import mars_time
    from orbitscout.observe.plan import imaging_windows, relay_passes
    from orbitscout.pipeline import FindResult, find
    from orbitscout.sim.evaluate import evaluate
    from orbitscout.sim.render import simulate
    from orbitscout.survey import survey


def __getattr__(name: str):
    """Import a public name's module on first use (PEP 562)."""
    if name not in _API:
        raise AttributeError(f"module 'orbitscout' has no attribute {name!r}")
    value = getattr(importlib.import_module(_API[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_API))
