"""Scenes: known layouts from published distances, random layouts, physical sizes."""

from __future__ import annotations

import math

import numpy as np
import pytest

from orbitscout.core.bodies import MARS, MOON
from orbitscout.core.errors import OrbitscoutError
from orbitscout.sim.kinds import KINDS
from orbitscout.sim.render import item_fields
from orbitscout.sim.scene import (
    LAYOUT_NAMES,
    LAYOUTS,
    NATURAL_KINDS,
    TRUTH_CLASSES,
    Item,
    add_changes,
    make_item,
    make_scene,
)


def _dist_bearing(item):
    return math.hypot(item.east_m, item.north_m), math.degrees(
        math.atan2(item.east_m, item.north_m)
    ) % 360


@pytest.mark.parametrize("name", LAYOUT_NAMES)
def test_every_layout_builds(name):
    scene = make_scene(name, seed=4)
    assert scene.items
    assert all(it.cls in TRUTH_CLASSES for it in scene.items)
    lander = scene.lander()
    assert lander is not None and (lander.east_m, lander.north_m) == (0.0, 0.0)
    assert all(it.size_m > 0 and it.extent_m > 0 for it in scene.items)
    if name != "random":
        assert scene.source and LAYOUTS[name].source


def test_perseverance_matches_published_offsets():
    # docs/facts.md: parachute + backshell ~1.2 km NW, heat shield ~1.45 km NE, descent stage ~650 m
    scene = make_scene("perseverance", seed=0)
    assert (scene.lat, scene.lon) == (18.4447, 77.4508)
    assert scene.body is MARS
    by = {it.cls: it for it in scene.items}
    d, b = _dist_bearing(by["parachute"])
    assert d == pytest.approx(1200, abs=1) and b == pytest.approx(315, abs=0.5)
    d, b = _dist_bearing(by["heat_shield"])
    assert d == pytest.approx(1450, abs=1) and b == pytest.approx(45, abs=0.5)
    assert _dist_bearing(by["descent_stage"])[0] == pytest.approx(650, abs=1)
    chute, shell = by["parachute"], by["backshell"]
    sep = math.hypot(chute.east_m - shell.east_m, chute.north_m - shell.north_m)
    assert 20 < sep < 120  # tens of metres from the parachute
    # physical sizes (docs/facts.md)
    assert chute.size_m == 21.5 and shell.size_m == 4.5 and by["heat_shield"].size_m == 4.5
    assert by["lander"].size_m == 3.0 and by["lander"].params["width_m"] == pytest.approx(2.7)
    # the blast zone is tens of metres across, the heat-shield scar 10-30 m
    assert 40 <= by["lander"].extent_m <= 150
    assert 10 <= by["heat_shield"].extent_m <= 30
    # the descent stage's debris fan opens away from the rover
    ds = by["descent_stage"]
    assert ds.params["orient_deg"] == pytest.approx((_dist_bearing(ds)[1]) % 360, abs=0.5)


def test_curiosity_and_vikram():
    c = {it.label: it for it in make_scene("curiosity").items}
    assert _dist_bearing(c["sky crane"])[0] == pytest.approx(650, abs=1)
    assert _dist_bearing(c["sky crane"])[1] == pytest.approx(315, abs=0.5)  # north-west
    assert _dist_bearing(c["heat shield"])[0] == pytest.approx(1500, abs=1)
    i = {it.cls: it for it in make_scene("insight").items}
    assert i["parachute"].size_m == 11.8  # docs/facts.md
    s = {it.cls: it for it in make_scene("schiaparelli").items}
    assert s["parachute"].size_m == 12.0 and s["lander"].size_m == 40.0  # ~15 x 40 m patch
    assert 12 <= s["lander"].params["width_m"] <= 20
    v = make_scene("vikram")
    assert v.body is MOON and v.lat == pytest.approx(-70.881)


@pytest.mark.parametrize("seed", range(6))
def test_random_layout_fits_and_repeats(seed):
    extent = 2000.0
    a = make_scene("random", seed=seed, extent_m=extent)
    b = make_scene("random", seed=seed, extent_m=extent)
    assert [(i.kind, i.east_m, i.north_m) for i in a.items] == [
        (i.kind, i.east_m, i.north_m) for i in b.items
    ]
    for it in a.items:
        assert abs(it.east_m) + it.extent_m / 2 < 0.5 * extent
        assert abs(it.north_m) + it.extent_m / 2 < 0.5 * extent
    classes = {it.cls for it in a.items}
    assert {"lander", "parachute", "heat_shield", "descent_stage"} <= classes
    c = make_scene("random", seed=seed + 100, extent_m=extent)
    assert [i.east_m for i in c.items] != [i.east_m for i in a.items]


def test_random_moon_and_natural_changes():
    s = make_scene("random", seed=2, extent_m=1000, body=MOON, natural_changes=2)
    assert s.body is MOON
    assert sum(it.cls == "new_crater" for it in s.items) == 2
    m = make_scene("random", seed=3, extent_m=3000, natural_changes=3)
    kinds = {it.kind for it in m.items}
    assert {"new_crater", "dust_devil_track", "dust_patch"} <= kinds


def test_unknown_layout():
    with pytest.raises(OrbitscoutError):
        make_scene("beagle2")


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_draws_and_renders(kind):
    it = make_item(kind, 2.0, -3.0, np.random.default_rng(1), MARS, toward_lander_deg=90.0)
    assert it.kind == kind and it.cls in TRUTH_CLASSES and it.label == kind.replace("_", " ")
    assert it.size_m > 0 and it.extent_m >= it.size_m * 0.99
    assert next(iter(it.params)) == "orient_deg"
    e, n = np.meshgrid(np.linspace(-30, 30, 41, dtype=np.float32), np.zeros(3, np.float32))
    fields = item_fields(it, e, n, (0.0, 1.0))
    assert all(f.dtype == np.float32 and f.shape == e.shape for f in fields)
    assert np.isfinite(np.stack(fields)).all()


def test_kinds_and_their_draw_order_are_pinned():
    assert NATURAL_KINDS == ("new_crater", "dust_devil_track", "dust_patch")
    # extents drawn for seed 5 before the kinds were split out of make_item (issue 20): a change
    # of the order of the random draws changes them, and every simulated scene with them
    mars = make_scene("random", seed=5, natural_changes=3)
    assert [(it.kind, round(it.extent_m, 6)) for it in mars.items] == [
        ("rover", 104.290069),
        ("parachute", 21.5),
        ("backshell", 11.695443),
        ("heat_shield", 26.177203),
        ("descent_stage", 50.0),
        ("new_crater", 46.170698),
        ("dust_devil_track", 796.604304),
        ("dust_patch", 174.417468),
    ]
    moon = make_scene("random", seed=5, body=MOON)
    assert [(it.kind, round(it.extent_m, 6)) for it in moon.items] == [
        ("crash", 50.0),
        *[("debris", 3.0)] * 4,
        ("new_crater", 97.305531),
        ("new_crater", 57.073466),
    ]


def test_unknown_kind():
    with pytest.raises(OrbitscoutError, match="unknown item kind"):
        make_item("beagle2", 0.0, 0.0, np.random.default_rng(0))
    ghost = Item("beagle2", "unknown", "b", 0.0, 0.0, 1.0, 1.0)
    z = np.zeros((2, 2), np.float32)
    with pytest.raises(OrbitscoutError, match="cannot render item kind"):
        item_fields(ghost, z, z, (0.0, 1.0))


def test_add_changes_vanished_and_moves():
    base = make_scene("random", seed=7, extent_m=2000, natural_changes=1)
    assert add_changes(base) is base
    centre = (150.0, -80.0)
    s = add_changes(base, vanished=2, moves=2, gsd_m=0.5, extent_m=2000, centre=centre)
    assert s.items[: len(base.items)] == base.items  # the scene's own items untouched
    extra = s.items[len(base.items) :]
    assert [it.change for it in extra] == ["vanished"] * 3 + ["appeared", "vanished", "appeared"]
    for i, it in enumerate(s.items):
        if it.moved_from is not None:
            old = s.items[it.moved_from]
            assert old.change == "vanished" and old.kind == it.kind and old.size_m == it.size_m
            assert math.hypot(it.east_m - old.east_m, it.north_m - old.north_m) >= it.size_m
        if i >= len(base.items):  # inside the frame's central 90 %
            assert abs(it.east_m - centre[0]) <= 900 and abs(it.north_m - centre[1]) <= 900
    # boulders at 0.5 m/px are 3-10 px across; a parachute among the moves on Mars
    assert {it.kind for it in extra} == {"boulder", "parachute"}
    assert all(1.5 <= it.size_m <= 5.0 for it in extra if it.kind == "boulder")
    # reproducible, and boulders are never placed by default
    again = add_changes(base, vanished=2, moves=2, gsd_m=0.5, extent_m=2000, centre=centre)
    assert [(i.east_m, i.north_m) for i in again.items] == [(i.east_m, i.north_m) for i in s.items]
    assert "boulder" not in NATURAL_KINDS and KINDS["boulder"].natural
    assert len(s.natural_only().items) == 1 + 4  # the natural change and the boulders
    coarse = add_changes(base, vanished=1, moves=1, gsd_m=6.0, extent_m=6000)
    kinds = [it.kind for it in coarse.items[len(base.items) :]]
    assert kinds == ["dust_patch", "parachute", "parachute"]  # at 6 m/px: dark patch, chute
    with pytest.raises(OrbitscoutError, match=">= 0"):
        add_changes(base, vanished=-1)
