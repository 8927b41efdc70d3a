"""Identification: what each change is, on hand-made candidates and on simulated scenes of all
four cameras (recall of hardware, class accuracy, natural changes never hardware, hints)."""

from __future__ import annotations

import copy
import dataclasses
import json
import math

import numpy as np
import pytest

from orbitscout.core.candidate import Candidate
from orbitscout.core.classes import CLASSES, HARDWARE
from orbitscout.identify import layout as joint
from orbitscout.identify.classify import candidate_logliks, identify
from orbitscout.identify.features import FEATURE_NAMES, features, scene_context
from orbitscout.identify.model import MODEL_FILE, Model, Trees, default_model, layer_logprobs
from orbitscout.identify.parameters import DEFAULT_PARAMS, IdentifyParams
from orbitscout.sim.evaluate import evaluate_lists
from orbitscout.sim.scene import NATURAL_KINDS


def cand(x, y, length_m, width_m, bright, sigma, gsd=1.0, orientation_deg=0.0, **kw) -> Candidate:
    """A candidate as change.candidates would measure it, on a grid of ``gsd`` m/px."""
    g = gsd or 1.0
    length_px, width_px = length_m / g, width_m / g
    return Candidate(
        id=0,
        x=float(x),
        y=float(y),
        area_px=max(1.0, math.pi / 4 * length_px * width_px),
        length_px=length_px,
        width_px=width_px,
        orientation_deg=orientation_deg,
        polarity="bright" if bright >= 0.8 else "dark" if bright <= 0.2 else "mixed",
        contrast=0.2 * (2 * bright - 1),
        contrast_bright=0.2 * bright,
        contrast_dark=-0.2 * (1 - bright),
        bright_fraction=bright,
        peak_sigma=sigma,
        score=0.9,
        bbox=(
            int(x - length_px / 2),
            int(y - length_px / 2),
            int(x + length_px / 2),
            int(y + length_px / 2),
        ),
        bright_xy=(x, y) if bright > 0 else None,
        dark_xy=(x, y) if bright < 1 else None,
        linear=length_px >= 8 and length_px >= 3 * width_px,
        gsd_m=gsd,
        **kw,
    )


def at(distance_m, bearing_deg, origin=(1500.0, 1500.0), gsd=1.0):
    """Pixel (x, y) ``distance_m`` from ``origin`` at a bearing clockwise from north."""
    b = math.radians(bearing_deg)
    gsd = gsd or 1.0
    return origin[0] + distance_m * math.sin(b) / gsd, origin[1] - distance_m * math.cos(b) / gsd


def run(found, **kw) -> None:
    """``identify`` on hand-made candidates, at their own pixel size."""
    identify(found, gsd_m=found[0].gsd_m if found else None, **kw)


def landing(gsd=1.0):
    """A Perseverance-like landing, hand-made: rover in its blast zone (two bright lobes beside
    it), parachute + backshell 1.2 km NW, heat shield 1.45 km NE, descent stage 650 m WSW; a
    dust-devil track and a new crater."""
    o = (1500.0, 1500.0)
    g = gsd or 1.0  # no pixel size: the same ground laid out on 1 m pixels
    items = {
        "lander": cand(*o, 70, 60, 0.3, 30, gsd),
        "lobe_a": cand(o[0] + 12 / g, o[1], 15, 10, 0.95, 20, gsd),
        "lobe_b": cand(o[0] - 12 / g, o[1], 15, 10, 0.95, 20, gsd),
        "parachute": cand(*at(1200, 315, o, gsd), 20, 14, 0.98, 60, gsd),
        "backshell": cand(*at(1240, 312, o, gsd), 9, 6, 0.65, 30, gsd),
        "heat_shield": cand(*at(1450, 45, o, gsd), 16, 10, 0.3, 25, gsd),
        "descent_stage": cand(*at(650, 250, o, gsd), 45, 22, 0.03, 18, gsd),
        "track": cand(*at(900, 160, o, gsd), 700, 15, 0.0, 12, gsd),
        "crater": cand(*at(1300, 200, o, gsd), 40, 36, 0.0, 15, gsd),
    }
    return items


def test_hand_made_landing_is_assigned_piece_by_piece():
    items = landing()
    found = list(items.values())
    run(found)
    got = {k: c.cls for k, c in items.items()}
    for k in HARDWARE:
        assert got[k] == k, got
    assert got["track"] == "unknown"
    assert got["crater"] in ("new_crater", "unknown")
    assert got["lobe_a"] not in HARDWARE and got["lobe_b"] not in HARDWARE
    for c in found:
        assert 0.0 <= c.score <= 1.0
        assert set(c.features["from_lander"]) == {"distance_m", "bearing_deg"}
    rel = items["parachute"].features["from_lander"]
    assert rel["distance_m"] == pytest.approx(1200, abs=1)
    assert rel["bearing_deg"] == pytest.approx(315, abs=0.5)
    rel = items["heat_shield"].features["from_lander"]
    assert rel["bearing_deg"] == pytest.approx(45, abs=0.5)
    assert items["lander"].features["from_lander"]["distance_m"] == 0


def _ll(**gains):
    """Per-class log-likelihoods with the natural classes at 0 (so each value is a gain)."""
    return {k: gains.get(k, -9.0) for k in HARDWARE} | {"new_crater": 0.0, "unknown": 0.0}


def test_a_lander_like_fan_with_no_landed_vehicle_in_view_is_the_lander_crashed():
    # a dark fan that could be a crashed lander or a descent stage, and a weak blob 500 m away
    ll = [_ll(lander=3.0, descent_stage=4.5), _ll(lander=-1.0)]
    pos = np.array([[0.0, 0.0], [500.0, 0.0]])
    picks = joint.assign(ll, [None, None], pos, 1.0, None, None, False).picks
    assert picks["lander"] == 0 and picks["descent_stage"] is None
    # with a convincing landed vehicle in view, the fan is its descent stage
    ll[1]["lander"] = 3.5
    picks = joint.assign(ll, [None, None], pos, 1.0, None, None, False).picks
    assert picks["lander"] == 1 and picks["descent_stage"] == 0


def test_two_candidates_about_as_likely_the_lander_share_it(monkeypatch):
    # two bright vehicles 500 m apart: the layouts giving either the lander differ by 0.2 nats,
    # so each holds it about half the time; alone, one holds it for sure
    ll = [_ll(lander=4.0), _ll(lander=3.8)]
    pos = np.array([[0.0, 0.0], [500.0, 0.0]])
    layout = joint.assign(ll, [None, None], pos, 1.0, None, None, False)
    shares = joint.holder_shares(joint.held_shares(layout, 2))
    assert layout.picks["lander"] == 0
    assert shares["lander"] == pytest.approx([1 / (1 + math.exp(-0.2)), 1 / (1 + math.exp(0.2))])
    alone = joint.assign(ll[:1], [None], pos[:1], 1.0, None, None, False)
    assert joint.holder_shares(joint.held_shares(alone, 1))["lander"] == pytest.approx([1.0])
    # and the lander's score says so: shared, it scores lower than alone
    found = [cand(1000, 1000, 20, 20, 0.5, 20), cand(1500, 1000, 20, 20, 0.5, 20)]
    scored = {}
    for n in (1, 2):
        _tied_logliks(monkeypatch, ll[:n])
        part = copy.deepcopy(found[:n])
        run(part)
        scored[n] = part[0]
    assert scored[1].cls == scored[2].cls == "lander"
    assert scored[2].score < scored[1].score


def test_a_piece_a_runner_up_layout_gives_is_the_second_class(monkeypatch):
    # a dark fan a little likelier the descent stage of a vehicle 500 m away than a lander
    # itself: the layout with the fan as the lander is the runner-up, so `lander` is the fan's
    # second class, with what its own label leaves
    found = [cand(1000, 1000, 40, 30, 0.05, 15), cand(1500, 1000, 20, 20, 0.6, 25)]
    _tied_logliks(monkeypatch, [_ll(lander=3.4, descent_stage=0.3), _ll(lander=3.5)])
    run(found)
    fan, vehicle = found
    assert (fan.cls, vehicle.cls) == ("descent_stage", "lander")
    assert fan.alternative == "lander"
    assert 0.1 < fan.alternative_score <= 1.0 - fan.score + 1e-4  # both rounded to 4 places


def test_backshell_beside_the_parachute_does_not_take_the_heat_shield():
    # a shell 40 m from the parachute that is more likely the heat shield, and a fainter one
    # beside the parachute that can only be the backshell: each gets its own piece
    ll = [
        _ll(lander=5.0),
        _ll(parachute=5.0),
        _ll(backshell=2.0, heat_shield=4.0),
        _ll(backshell=1.5),
    ]
    pos = np.array([[0.0, 0.0], [600.0, 0.0], [640.0, 0.0], [600.0, 30.0]])
    picks = joint.assign(ll, [None] * 4, pos, 1.0, None, None, False).picks
    assert (picks["lander"], picks["parachute"]) == (0, 1)
    assert picks["heat_shield"] == 2 and picks["backshell"] == 3


def test_a_backshell_beside_its_parachute_weighs_the_edl_distance_once():
    """The backshell came down under its parachute: where the EDL priors put the backshell
    (here 600 m, against 1.2 km seen, as Perseverance's) does not count against it a second
    time, after the parachute's own distance; the heat shield, whose prior fits 1.2 km, does
    not take a shell lying beside the parachute that looks a little more like a heat shield."""
    from types import SimpleNamespace

    priors = {
        name: SimpleNamespace(distance_m=d, distance_sd_m=sd)
        for name, d, sd in (
            ("parachute", 600.0, 280.0),
            ("backshell", 600.0, 280.0),
            ("heat_shield", 1450.0, 550.0),
            ("descent_stage", 640.0, 200.0),
        )
    }
    ll = [_ll(lander=5.0), _ll(parachute=5.0), _ll(backshell=3.0, heat_shield=3.3)]
    pos = np.array([[0.0, 0.0], [1200.0, 0.0], [1200.0, 40.0]])
    layout = joint.assign(ll, [None] * 3, pos, 1.0, None, priors, False)
    assert layout.picks["parachute"] == 1 and layout.picks["backshell"] == 2
    beside = joint.context_gain("backshell", 2, layout, pos, 1.0, priors)
    assert beside == joint.context_gain("backshell", 2, layout, pos, 1.0, None)


def test_the_descent_stage_fan_points_at_the_lander():
    # two like dark fans 600 m from the lander, both lying east-west: the one east of it points
    # at it, the one north of it lies across the line, though alone it looks a little likelier
    found = [
        cand(1500, 1500, 70, 60, 0.3, 30),
        cand(*at(600, 0), 45, 20, 0.03, 18),
        cand(*at(600, 90), 45, 20, 0.03, 18),
    ]
    ll = [_ll(lander=5.0), _ll(descent_stage=2.3), _ll(descent_stage=2.0)]
    pos = joint.offsets(found, 1.0)
    picks = joint.assign(ll, found, pos, 1.0, None, None, False).picks
    assert picks["lander"] == 0 and picks["descent_stage"] == 2


def test_lander_is_placed_on_its_vehicle_and_distances_measured_from_there():
    """On Mars the vehicle is the bright part of the lander's change (the centroid of the whole
    blast zone lies metres away); a change with almost no brightening keeps its centroid."""
    items = landing()
    rover = (1506.0, 1497.0)  # the bright part, 6.7 m from the blast zone's centroid
    items["lander"].bright_xy = rover
    run(list(items.values()))
    lander = items["lander"]
    assert lander.cls == "lander"
    assert (lander.x, lander.y) == rover
    assert lander.features["centroid_xy"] == [1500.0, 1500.0]
    expected = math.hypot(items["parachute"].x - rover[0], items["parachute"].y - rover[1])
    assert items["parachute"].features["from_lander"]["distance_m"] == pytest.approx(expected, 0.1)

    crash = landing()
    crash["lander"].bright_fraction = 0.01  # a crash: no bright vehicle
    crash["lander"].bright_xy = rover
    run(list(crash.values()))
    assert crash["lander"].cls == "lander"
    assert (crash["lander"].x, crash["lander"].y) == (1500.0, 1500.0)
    assert "centroid_xy" not in crash["lander"].features


@pytest.mark.parametrize("gsd", [0.3, 6.0])
def test_same_landing_at_hirise_and_ctx_pixel_sizes(gsd):
    items = landing(gsd)
    found = list(items.values())
    run(found)
    assert items["parachute"].cls == "parachute"
    assert items["lander"].cls == "lander"
    assert items["track"].cls == "unknown"
    assert sum(c.cls in HARDWARE for c in found) <= 5


def test_at_most_one_of_each_piece():
    items = landing()
    extra = [cand(*at(1200 + 200 * k, 300 + 7 * k), 20, 15, 0.97, 40) for k in range(3)]
    found = list(items.values()) + extra
    run(found)
    for cls in HARDWARE:
        assert sum(c.cls == cls for c in found) <= 1


def test_natural_changes_alone_get_no_hardware_class():
    found = [
        cand(400, 400, 700, 15, 0.0, 12),  # dust-devil track
        cand(900, 300, 900, 20, 0.02, 14),  # another
        cand(1200, 1300, 40, 37, 0.0, 15),  # a new crater's dark halo
        cand(300, 1400, 25, 23, 0.0, 11),  # a smaller one
    ]
    run(found)
    assert [c.cls for c in found][:2] == ["unknown", "unknown"]
    assert all(c.cls not in HARDWARE for c in found)


def test_without_a_pixel_size_distances_are_in_pixels():
    items = landing(gsd=None)
    found = list(items.values())
    run(found)
    assert all(c.cls in CLASSES for c in found)
    lander = [c for c in found if c.cls == "lander"]
    assert len(lander) <= 1
    if lander:
        rel = items["parachute"].features["from_lander"]
        assert "distance_px" in rel and "distance_m" not in rel


def test_moon_has_no_parachute():
    items = landing()
    found = list(items.values())
    run(found, moon=True)
    assert not {c.cls for c in found} & {"parachute", "backshell", "heat_shield"}


def test_a_mission_hint_says_a_lander_is_in_view(monkeypatch):
    """A dark crash scar that alone is a little likelier something natural than a lander is
    `unknown` with no hint; naming the mission says a landing is in view, so the likeliest
    lander is chosen (as with --site)."""
    scar = {"lander": -1.0, "unknown": -0.5, "new_crater": -3.0}
    _tied_logliks(
        monkeypatch,
        [scar, {"unknown": -0.1, "new_crater": -2.5}, {"new_crater": -0.1, "unknown": -2.5}],
    )
    scene = [
        cand(500, 500, 45, 25, 0.02, 8.5),  # a weak dark scar, 45 x 25 m
        cand(900, 300, 6, 5, 0.0, 7),
        cand(200, 800, 30, 28, 0.0, 9),  # a round dark halo: a new crater
    ]
    from orbitscout.edl.debris import debris_priors

    plain = copy.deepcopy(scene)
    run(plain)
    assert "lander" not in [c.cls for c in plain]
    hinted = copy.deepcopy(scene)
    run(hinted, priors=debris_priors("schiaparelli", n_samples=200, seed=0))
    assert [c.cls for c in hinted].count("lander") == 1
    assert hinted[0].cls == "lander"


def _tied_logliks(monkeypatch, rows):
    """``identify`` given these per-candidate class log-probabilities instead of the model's."""
    from orbitscout.identify import classify

    def logliks(found, *args, **kwargs):
        return [{cls: row.get(cls, -30.0) for cls in CLASSES} for row in rows]

    monkeypatch.setattr(classify, "candidate_logliks", logliks)


def test_a_lone_tie_between_lander_and_unknown_is_not_a_sure_label(monkeypatch):
    """A change the model finds as likely a lander as something else, alone in its scene: no
    class is sure and the other one is its second class with a real share."""
    for lander in (-0.7, -0.69):  # an exact tie, and the lander ahead by a hair
        _tied_logliks(monkeypatch, [{"lander": lander, "unknown": -0.7}])
        found = [cand(500, 500, 45, 25, 0.02, 8.5)]
        run(found)
        c = found[0]
        assert c.score < 0.8
        assert {c.cls, c.alternative} == {"lander", "unknown"} and c.alternative_score > 0.2


def test_a_class_another_candidate_holds_surely_is_a_weak_second(monkeypatch):
    """The same tie beside a change that is surely the lander: the lander's place is taken at
    what that one gains by it, so the tied change is `unknown` and `lander` a far weaker
    second than when it stood alone."""
    tie = {"lander": -0.7, "unknown": -0.7}
    _tied_logliks(monkeypatch, [tie])
    alone = [cand(500, 500, 45, 25, 0.02, 8.5)]
    run(alone)
    _tied_logliks(monkeypatch, [{"lander": 0.0, "unknown": -12.0}, tie])
    found = [cand(1500, 1500, 70, 60, 0.3, 30), cand(500, 500, 45, 25, 0.02, 8.5)]
    run(found)
    sure, tied = found
    assert sure.cls == "lander" and tied.cls == "unknown"
    assert tied.alternative != "lander" or tied.alternative_score < alone[0].alternative_score / 5


def test_an_unknown_is_as_sure_as_the_change_it_claims(monkeypatch):
    """`unknown` claims a real change: a candidate surely none of the named classes scores high
    where the ground surely changed and low where it likely did not (relief re-shaded by another
    sun), and its second class gets no more than the change leaves."""
    _tied_logliks(monkeypatch, [{"unknown": 0.0, "new_crater": -6.0, "lander": -8.0}] * 2)
    found = [
        cand(500, 500, 12, 10, 0.3, 12, change_score=0.98),
        cand(1500, 1500, 12, 10, 0.3, 12, change_score=0.05),
    ]
    run(found)
    changed, relief = found
    assert changed.cls == relief.cls == "unknown"
    # below even odds where the ground likely did not change (how far below is the shipped
    # calibration's: its least sure `unknown`s were right about a quarter of the time)
    assert changed.score >= 0.5 > relief.score
    for c in found:
        assert c.alternative_score <= max(c.change_score - c.score, 0.0) + 1e-9


def test_every_candidate_gets_a_second_class_that_leaves_room_for_the_first():
    """The alternative is another possible class, its probability at most what the label's
    score leaves; on the Moon it is never a jettisoned piece."""
    for moon in (False, True):
        found = list(landing().values())
        run(found, moon=moon)
        for c in found:
            assert c.alternative in CLASSES and c.alternative != c.cls
            assert 0.0 <= c.alternative_score <= 1.0 - c.score + 1e-9
            if moon:
                assert c.alternative not in ("parachute", "backshell", "heat_shield")


def test_an_ambiguous_dark_patch_has_a_strong_second_class():
    """A weak dark patch alone could be several things (a crash scar, a new crater's halo, a
    dust patch): its second class holds more than a tenth, a bright canopy's far less."""
    scene = [cand(500, 500, 30, 27, 0.05, 9), cand(1900, 300, 20, 14, 0.98, 60)]
    run(scene)
    patch, canopy = scene
    assert patch.score < 0.8 and patch.alternative_score > 0.1
    assert canopy.cls == "parachute" and canopy.alternative_score < patch.alternative_score / 3


def test_empty_and_single():
    identify([], gsd_m=1.0)
    one = [cand(10, 10, 30, 20, 0.98, 40)]
    run(one)
    assert one[0].cls in CLASSES


def _stump_forest() -> Trees:
    """Two classes, one stump each: class 0 gains 1 where feature 0 <= 0.5, class 1 gains 2
    where feature 1 > 3; baselines 0.1 and -0.2."""
    return Trees(
        feature=np.array([0, 0, 0, 1, 0, 0], np.int16),
        threshold=np.array([0.5, 0, 0, 3.0, 0, 0]),
        left=np.array([1, 1, 2, 4, 4, 5], np.int32),
        right=np.array([2, 1, 2, 5, 4, 5], np.int32),
        value=np.array([0.0, 1.0, 0.0, 0.0, 0.0, 2.0]),
        roots=np.array([0, 3], np.int32),
        tree_class=np.array([0, 1], np.int16),
        baseline=np.array([0.1, -0.2]),
        depth=1,
    )


def test_trees_walk_each_row_to_its_leaves():
    x = np.array([[0.5, 3.0], [0.6, 3.1], [-1.0, 9.0]])
    raw = _stump_forest().raw(x, chunk=2)  # rows split over two chunks
    assert np.allclose(raw, [[1.1, -0.2], [0.1, 1.8], [1.1, 1.8]])


def test_trees_from_scikit_learn_give_its_probabilities():
    """Where scikit-learn is installed (it is needed only to fit the trees): the export of a
    fitted model, walked with numpy, gives its probabilities, rows at thresholds included."""
    ensemble = pytest.importorskip("sklearn.ensemble")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(600, 4))
    y = (x[:, 0] + x[:, 1] > 0).astype(int) + (x[:, 2] > 0.8).astype(int)
    model = ensemble.HistGradientBoostingClassifier(max_iter=20, max_leaf_nodes=7).fit(x, y)
    trees = Trees.from_sklearn(model)
    at = x[:50].copy()
    inner = trees.left != np.arange(trees.left.size)
    at[:, 0] = rng.choice(trees.threshold[inner & (trees.feature == 0)], 50)
    rows = np.vstack([x, at])
    raw = trees.raw(rows, chunk=256)
    p = np.exp(raw - np.logaddexp.reduce(raw, axis=1, keepdims=True))
    assert np.allclose(p, model.predict_proba(rows), atol=1e-12)


def test_shipped_model_fits_the_features():
    model = Model.load(MODEL_FILE)
    model.check()  # its classes and feature names are this code's
    n_features = features(cand(0, 0, 20, 15, 0.9, 30), 0.3).size
    assert n_features == len(FEATURE_NAMES) == len(model.features)
    assert model.weights.shape == (len(CLASSES), n_features)
    trees = model.trees
    assert trees.baseline.size == len(CLASSES)
    assert trees.feature.max() < n_features
    assert set(np.unique(trees.tree_class)) == set(range(len(CLASSES)))
    # every child lies in the arrays; from every root the leftmost walk ends on a leaf within
    # depth steps
    assert trees.left.max() < trees.value.size and trees.right.max() < trees.value.size
    node = trees.roots.copy()
    for _ in range(trees.depth):
        node = trees.left[node]
    assert (trees.left[node] == node).all() and (trees.right[node] == node).all()
    # the calibration maps are non-decreasing probabilities; every part says what it was fit on
    for knots_x, knots_p in model.calibration.values():
        assert np.all(np.diff(knots_x) >= 0) and np.all(np.diff(knots_p) >= 0)
        assert 0.0 <= knots_p.min() and knots_p.max() <= 1.0
    for part in ("weights", "trees", "calibration"):
        assert model.fit[part]["seeds"] and model.fit[part]["code_version"]


def test_a_model_calibrated_in_other_groups_is_refused():
    """A model file whose calibration has the groups of an older code (hardware and natural,
    before `unknown` was calibrated apart with its change) is refused with a clear error, not
    used half-way."""
    from orbitscout.core.errors import OrbitscoutError

    shipped = Model.load(MODEL_FILE)
    knots = shipped.calibration["hardware"]
    old = dataclasses.replace(shipped, calibration={"hardware": knots, "natural": knots})
    with pytest.raises(OrbitscoutError, match="calibration"):
        old.check()


def test_model_file_round_trips(tmp_path):
    """A model written and read back gives the same arrays and the same identification."""
    model = default_model()
    path = tmp_path / "model.npz"
    dataclasses.replace(model, fit={**model.fit, "note": {"seeds": [1]}}).save(path)
    back = Model.load(path)
    assert np.array_equal(back.weights, model.weights)
    for f in dataclasses.fields(Trees):
        assert np.array_equal(getattr(back.trees, f.name), getattr(model.trees, f.name))
    assert back.fit["note"] == {"seeds": [1]}
    a, b = list(landing().values()), list(landing().values())
    run(a)
    run(b, model=back)
    assert [(c.cls, c.score) for c in a] == [(c.cls, c.score) for c in b]
    with pytest.raises(ValueError):
        dataclasses.replace(model, calibration=None).save(tmp_path / "uncalibrated.npz")


def test_known_candidates_get_their_class_first():
    """Candidates as change.candidates measures them at HiRISE's pixel size: a white canopy,
    a round dark halo, a long thin dark line and a blast zone: each class is the likeliest of
    its own; the log-probabilities are normalised; the trees' weight is a parameter."""
    gsd = 0.3
    found = [
        cand(100, 100, 20, 14, 0.98, 60, gsd),  # parachute
        cand(400, 300, 40, 36, 0.0, 15, gsd),  # a new crater's dark halo
        cand(900, 900, 700, 15, 0.0, 12, gsd),  # a dust-devil track
        cand(1500, 1500, 70, 60, 0.3, 30, gsd),  # a rover's blast zone
    ]
    expected = ["parachute", "new_crater", "unknown", "lander"]
    ll = candidate_logliks(found, gsd, False, scene_context(found, gsd), default_model())
    assert [max(row, key=row.get) for row in ll] == expected
    assert ll[2]["lander"] < ll[2]["unknown"] - 10  # a line is never hardware
    context = scene_context(found, gsd)
    x = np.array([features(c, gsd, False, k) for c, k in zip(found, context, strict=True)])
    z = layer_logprobs(x, default_model())
    assert np.allclose(np.logaddexp.reduce(z, axis=1), 0.0)
    layer_only = layer_logprobs(x, default_model(), IdentifyParams(trees_weight=0.0))
    assert np.allclose(np.logaddexp.reduce(layer_only, axis=1), 0.0)
    assert not np.allclose(layer_only, z)


def test_parameters_are_frozen_hashable_and_plain():
    params = IdentifyParams()
    assert params == DEFAULT_PARAMS and hash(params) == hash(DEFAULT_PARAMS)
    with pytest.raises(dataclasses.FrozenInstanceError):
        params.near_m = 1.0  # type: ignore[misc]
    plain = params.as_dict()
    assert json.loads(json.dumps(plain)) == plain
    assert plain["size_m"]["parachute"] == [7.0, 26.0] and plain["weak_sigma"] == 8.5
    assert set(plain) == {f.name for f in dataclasses.fields(IdentifyParams)}


def test_parameters_are_passed_in(monkeypatch):
    """A hint costs a layout without a lander no_lander_hinted: made free, the weak crash scar
    of the mission test stays unknown with the mission named."""
    from orbitscout.edl.debris import debris_priors

    _tied_logliks(
        monkeypatch,
        [
            {"lander": -1.0, "unknown": -0.5, "new_crater": -3.0},
            {"new_crater": -0.1, "unknown": -2.5},
        ],
    )
    scene = [cand(500, 500, 45, 25, 0.02, 8.5), cand(200, 800, 30, 28, 0.0, 9)]
    priors = debris_priors("schiaparelli", n_samples=200, seed=0)
    hinted = copy.deepcopy(scene)
    run(hinted, priors=priors)
    assert hinted[0].cls == "lander"
    free = copy.deepcopy(scene)
    run(free, priors=priors, params=IdentifyParams(no_lander_hinted=0.0))
    assert "lander" not in [c.cls for c in free]


# --------------------------------------------------------------------------- simulated scenes

SCENES = [  # (camera, layout, seed): seeds apart from the tuning (0-9) and reporting (100-105)
    ("cassis", "random", 300),
    ("hirise", "random", 306),
    ("ctx", "random", 302),
    ("nac", "random", 303),
    ("cassis", "perseverance", 304),
    ("ctx", "schiaparelli", 305),
]
SIZE = 768
REPORTS: dict = {}  # report.html of each scene, filled by the fixture


@pytest.fixture(scope="module")
def scenes(tmp_path_factory):
    """Each scene rendered, found and identified with no hint (find calls identify)."""
    from orbitscout.image.product import open_product
    from orbitscout.pipeline import find
    from orbitscout.sim.render import simulate_pair, write_pair

    out = {}
    for cam, layout, seed in SCENES:
        d = tmp_path_factory.mktemp(f"{cam}_{layout}_{seed}")
        pair = simulate_pair(cam, layout, seed=seed, size=SIZE)
        paths = write_pair(pair, d)
        res = find(paths["before.tif"], paths["after.tif"], d / "out")
        out[(cam, layout, seed)] = (res.detections, pair.truth, open_product(paths["after.tif"]))
        REPORTS[(cam, layout, seed)] = d / "out" / "report.html"
    yield out
    for _, _, after in out.values():
        after.close()


def _score(found, truth):
    dets = [{"x": c.x, "y": c.y, "class": c.cls, "score": c.score} for c in found]
    res = evaluate_lists(dets, truth)
    items = {it["id"]: it for it in truth["items"]}
    gsd = truth["gsd_m"]
    big = [
        it
        for it in truth["items"]
        if it["class"] in HARDWARE
        and (it["extent_m"] if it["class"] == "lander" else it["size_m"]) >= 2 * gsd
    ]
    found_ids = {m["truth_id"] for m in res["matches"]}
    matched_det = {m["detection_id"]: m for m in res["matches"]}
    natural = [m for m in res["matches"] if items[m["truth_id"]]["kind"] in NATURAL_KINDS]
    natural_as_hw = [m for m in natural if m["detection_class"] in HARDWARE]
    false_hw = sum(
        1
        for i, d in enumerate(dets)
        if d["class"] in HARDWARE
        and (i not in matched_det or matched_det[i]["truth_class"] not in HARDWARE)
    )
    right = sum(m["truth_class"] == m["detection_class"] for m in res["matches"])
    return {
        "hw": len(big),
        "hw_found": sum(it["id"] in found_ids for it in big),
        "matched": len(res["matches"]),
        "right": right,
        "natural": len(natural),
        "natural_as_hw": len(natural_as_hw),
        "false_hw": false_hw,
    }


def test_simulated_scenes_of_four_cameras(scenes):
    total = {"hw": 0, "hw_found": 0, "matched": 0, "right": 0, "natural_as_hw": 0}
    for key, (found, truth, _) in scenes.items():
        s = _score(found, truth)
        assert s["false_hw"] <= 1, (key, s)
        for k in total:
            total[k] += s[k]
        for c in found:
            assert c.cls in CLASSES and 0.0 <= c.score <= 1.0
        if any(c.cls == "lander" for c in found):
            assert all("from_lander" in c.features for c in found)
    assert total["hw_found"] / total["hw"] >= 0.9, total
    assert total["right"] / total["matched"] >= 0.75, total


NATURAL_SCENES = [(cam, 310 + i) for i, cam in enumerate(("cassis", "hirise", "ctx", "nac") * 2)]


def _natural_scene(camera: str, seed: int):
    """The random layout's ground, sun and four natural changes, its hardware left out: a
    survey pair away from any landing."""
    from orbitscout.observe.cameras import get_camera
    from orbitscout.sim.scene import make_scene

    cam = get_camera(camera)
    gsd = cam.gsd(cam.slant_range_m(cam.nominal_altitude_m, 0.0), 0.0)
    scene = make_scene("random", seed, extent_m=SIZE * gsd, natural_changes=4, body=cam.body)
    return scene.natural_only()


@pytest.fixture(scope="module")
def natural_scenes(tmp_path_factory):
    """Scenes of natural changes only, found and identified with no hint."""
    from orbitscout.pipeline import find
    from orbitscout.sim.render import simulate_pair, write_pair

    out = {}
    for camera, seed in NATURAL_SCENES:
        d = tmp_path_factory.mktemp(f"{camera}_natural_{seed}")
        pair = simulate_pair(camera, seed=seed, size=SIZE, scene=_natural_scene(camera, seed))
        paths = write_pair(pair, d)
        out[(camera, seed)] = (find(paths["before.tif"], paths["after.tif"], d / "out"), pair)
    return out


def test_natural_changes_are_seldom_called_hardware(scenes, natural_scenes):
    """Natural changes get new_crater or unknown: in scenes of natural changes only (where
    nothing may be made a lander, nor its pieces) at most one false hardware label per
    scene, the issue's goal; and over those and the landing scenes, at most one natural
    change in ten called hardware (the identification is statistical: on 22 validation seeds
    per camera, 0-0.4 false hardware labels per scene of natural changes only)."""
    natural = natural_as_hw = 0
    for res, pair in natural_scenes.values():
        s = _score(res.detections, pair.truth)
        assert s["matched"] >= 2, s  # the natural changes were found
        assert s["false_hw"] <= 1, s
        natural += s["natural"]
        natural_as_hw += s["natural_as_hw"]
    for found, truth, _ in scenes.values():
        s = _score(found, truth)
        natural += s["natural"]
        natural_as_hw += s["natural_as_hw"]
    assert natural >= 20
    assert natural_as_hw <= 0.1 * natural, (natural_as_hw, natural)


def _accuracy(found, truth):
    s = _score(found, truth)
    return s["right"] / max(s["matched"], 1)


@pytest.mark.parametrize(
    "key, mission",
    [
        (("cassis", "perseverance", 304), "perseverance"),
        (("ctx", "schiaparelli", 305), "schiaparelli"),
    ],
)
def test_mission_and_site_hints_keep_or_improve_accuracy(scenes, key, mission):
    from orbitscout.edl.debris import debris_priors
    from orbitscout.image.product import site_pixel

    found, truth, after = scenes[key]
    base = _accuracy(found, truth)
    with_mission = copy.deepcopy(found)
    priors = debris_priors(mission, n_samples=200, seed=0)
    identify(with_mission, gsd_m=after.gsd_m, priors=priors)
    assert _accuracy(with_mission, truth) >= base
    site_px = site_pixel(after, truth["site"]["lat"], truth["site"]["lon"])
    with_site = copy.deepcopy(found)
    identify(with_site, gsd_m=after.gsd_m, site_px=site_px)
    assert _accuracy(with_site, truth) >= base
    lander = [c for c in with_site if c.cls == "lander"]
    assert len(lander) == 1
    lander_truth = next(it for it in truth["items"] if it["class"] == "lander")
    gsd = truth["gsd_m"]
    assert np.hypot(lander[0].x - lander_truth["x"], lander[0].y - lander_truth["y"]) * gsd < 60


def test_report_lists_the_hardware_with_distance_and_bearing(scenes):
    found, truth, _ = scenes[("cassis", "perseverance", 304)]
    page = REPORTS[("cassis", "perseverance", 304)].read_text()
    assert "Landing hardware" in page
    parachute = [c for c in found if c.cls == "parachute"]
    assert parachute, [c.cls for c in found]
    rel = parachute[0].features["from_lander"]
    assert f"{rel['distance_m']:.0f} m at {rel['bearing_deg']:.0f}°" in page
    # published: ~1.2 km north-west of the rover (docs/facts.md), as the layout puts it
    assert rel["distance_m"] == pytest.approx(1200, rel=0.05)
    assert 300 < rel["bearing_deg"] < 330
