"""Objects joined only by faint change (a backshell at the edge of its lander's blast zone) are
separate candidates, whatever the tiling; a core at the centre of its halo stays one."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from synth import make_textured_pair

from orbitscout.detect.parameters import DeblendParams, DetectParams
from orbitscout.pipeline import find

CENTRE = (256.0, 256.0)
SIDE = (306.0, 246.0)
# a faint patch 120 px across (a blast zone) over a tile corner, a strong spot at its centre
# (the lander) and one near its edge (a backshell): (x, y, radius px, amplitude)
PATCH = (*CENTRE, 60.0, 0.18)
LANDER = (*CENTRE, 3.0, 6.0)
BACKSHELL = (*SIDE, 2.5, 6.0)
# the structure's energy averaged as widely through every filter: there the faint patch joins
# the two spots into one region, which the split must cut (with the default, wider average for
# the wider filters, the patch falls under t_low between them and they are two regions already)
JOINED = DetectParams(clutter_growth=0.0)


@pytest.fixture(scope="module")
def joined(tmp_path_factory):
    return make_textured_pair(
        tmp_path_factory.mktemp("deblend"), size=512, spots=[PATCH, LANDER, BACKSHELL]
    )


def _near(found, xy, tolerance):
    return [c for c in found if np.hypot(c.x - xy[0], c.y - xy[1]) <= tolerance]


@pytest.mark.parametrize("tile", [256, None])
def test_objects_joined_by_faint_ground_are_separate_candidates(joined, tmp_path, tile):
    found = find(*joined, tmp_path / "out", tile=tile, detect=JOINED).detections
    assert len(found) == 2
    assert len(_near(found, SIDE, 1.0)) == 1
    assert len(_near(found, CENTRE, 4.0)) == 1  # the lander keeps the faint ground


def test_tiled_and_whole_split_alike(joined, tmp_path):
    tiled = find(*joined, tmp_path / "tiled", tile=256, detect=JOINED).detections
    whole = find(*joined, tmp_path / "whole", tile=None, detect=JOINED).detections
    assert [c.bbox for c in tiled] == [c.bbox for c in whole]
    for t, w in zip(tiled, whole, strict=True):
        assert abs(t.x - w.x) < 1e-3 and abs(t.y - w.y) < 1e-3


def test_without_the_split_they_are_one_candidate(joined, tmp_path):
    off = replace(JOINED, deblend=DeblendParams(enabled=False))
    result = find(*joined, tmp_path / "out", detect=off)
    assert len(result.detections) == 1
    assert not _near(result.detections, SIDE, 5.0)
    assert result.summary["parameters"]["detect"]["deblend"]["enabled"] is False


def test_objects_that_must_rise_higher_are_not_split(joined, tmp_path):
    """Asking each object to reach 40 x t_high (far above the spots' peaks) leaves the
    candidate whole, as does a saddle at t_low (no level left to cut at)."""
    for deblend in (DeblendParams(peak=40.0), DeblendParams(saddle=1.0)):
        found = find(
            *joined, tmp_path / f"out{deblend.peak}", detect=replace(JOINED, deblend=deblend)
        )
        assert len(found.detections) == 1, deblend


def test_a_core_at_the_centre_of_its_halo_stays_one(tmp_path):
    found = find(
        *make_textured_pair(tmp_path, size=512, spots=[PATCH, LANDER]), tmp_path / "out"
    ).detections
    assert len(found) == 1
    assert len(_near(found, CENTRE, 4.0)) == 1
