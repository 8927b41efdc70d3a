"""Shared test fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest

from orbitscout.sim.render import simulate_pair, truth_suns, write_pair

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture
def shared_data() -> Path:
    """../shared/data beside the repository; tests that need it skip cleanly when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not present")
    return SHARED_DATA


@pytest.fixture(scope="session")
def lunar_sun_pair(tmp_path_factory) -> tuple:
    """A 1,024-px NAC scene of the lunar highlands (a fitting family, seed 1) with two objects
    vanished and one moved, under suns 15 degrees of incidence and 30 of azimuth apart
    (BEFORE's 70 deg from the zenith): the simulated pair, its two suns and its files."""
    pair = simulate_pair(
        "nac", "random", seed=1, size=1024, family="lunar_highlands", sun_change=(15.0, 30.0),
        vanished=2, moves=1,
    )  # fmt: skip
    light = truth_suns(pair.truth)
    suns = (light["before"], light["after"])
    return pair, suns, write_pair(pair, tmp_path_factory.mktemp("lunar"))
