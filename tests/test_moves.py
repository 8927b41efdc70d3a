"""Linking a vanished detection to a like appeared one: the tolerances under two suns and the
change scores the ends need."""

from __future__ import annotations

import math

import pytest

from orbitscout.core.candidate import Candidate
from orbitscout.core.illumination import Sun
from orbitscout.detect import moves
from orbitscout.detect.parameters import DEFAULT


def _end(i, x, change, area, magnitude, bright_fraction, change_score=0.9) -> Candidate:
    """A detection with the fields the move test reads."""
    return Candidate(
        id=i, x=x, y=100.0, area_px=area, length_px=math.sqrt(area), width_px=math.sqrt(area),
        orientation_deg=0.0, polarity="mixed", contrast=0.0,
        contrast_bright=magnitude * bright_fraction,
        contrast_dark=-magnitude * (1.0 - bright_fraction), bright_fraction=bright_fraction,
        peak_sigma=20.0, score=0.9, bbox=(0, 0, 1, 1), bright_xy=None, dark_xy=None,
        linear=False, change=change, change_score=change_score,
    )  # fmt: skip


def _boulder_ends(new_score=0.9) -> list[Candidate]:
    """A boulder's two ends 20 px apart: where it left, its long shadow under BEFORE's low
    sun brightened (40 px, strong); where it arrived, a short shadow under AFTER's high sun
    and its lit face (86 px, weak, half bright): as such ends read in simulated pairs."""
    return [
        _end(1, 100.0, "vanished", 40.0, 0.9, 1.0),
        _end(2, 120.0, "appeared", 86.0, 0.35, 0.55, new_score),
    ]


HIGH, LOW = Sun(90.0, 40.0), Sun(110.0, 60.0)


def test_the_suns_ratio_of_tan_i_stretches_the_likeness():
    """One sun (or suns of one incidence): areas 2.15 x apart and contrasts 2.6 x are no
    move; BEFORE's sun at 60 deg and AFTER's at 40 deg (tan i 2.06 x apart): a move."""
    for suns in (None, (Sun(90.0, 40.0), Sun(130.0, 40.0))):
        found = moves.link_moves(_boulder_ends(), 0.5, DEFAULT, suns)
        assert [c.moved_from for c in found] == [None, None]
    found = moves.link_moves(_boulder_ends(), 0.5, DEFAULT, (LOW, HIGH))
    assert found[1].moved_from == 1 and found[1].move["distance_m"] == pytest.approx(10.0)


def test_an_end_more_probably_no_change_is_not_linked():
    found = moves.link_moves(_boulder_ends(new_score=0.3), 0.5, DEFAULT, (LOW, HIGH))
    assert found[1].moved_from is None
    found = moves.link_moves(_boulder_ends(new_score=None), 0.5, DEFAULT, (LOW, HIGH))
    assert found[1].moved_from == 1  # no score: not held against it


def test_sun_stretch_is_bounded():
    most = DEFAULT.move_sun_stretch_max
    assert moves.sun_stretch(None, most) == 1.0
    assert moves.sun_stretch((LOW, HIGH), most) == pytest.approx(
        math.tan(math.radians(60)) / math.tan(math.radians(40))
    )
    assert moves.sun_stretch((HIGH, LOW), most) == moves.sun_stretch((LOW, HIGH), most)
    assert moves.sun_stretch((Sun(0.0, 20.0), Sun(0.0, 80.0)), most) == most
    assert moves.sun_stretch((Sun(0.0, 0.0), LOW), most) == most
    assert moves.sun_stretch((Sun(0.0, 0.0), Sun(90.0, 0.0)), most) == 1.0
