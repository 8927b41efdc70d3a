"""What each change is: landed vehicle, parachute, backshell, heat shield, descent stage, new
crater or something else.

Three steps.

1. Per candidate, a physical log-likelihood of each class from what the change map measured,
   in metres, and the measurements themselves (:mod:`orbitscout.identify.features`). Physical
   sizes from ``docs/facts.md``: parachute 21.5 m (InSight 11.8 m, Schiaparelli
   12 m), backshell and heat shield 4.5 m (2.4-2.6 m for the Phoenix-heritage and ExoMars
   aeroshells), rover 3 x 2.7 m inside a blast zone tens of metres across, Schiaparelli's dark
   crash patch ~15 x 40 m; descent-stage crash fan tens of metres (uahirise.org
   ESP_068294_1985).
2. A logistic layer and boosted trees over those (:mod:`orbitscout.identify.model`, one data
   file written by ``bench/identify_table.py``), their log-probabilities averaged: class
   log-probabilities of each candidate on its own.
3. A joint assignment over the scene (:mod:`orbitscout.identify.layout`): at most one lander,
   parachute, backshell, heat shield and descent stage, each piece placed relative to the
   lander, to the parachute and to the hints (EDL priors of a mission: a piece the mission
   never dropped is ruled out; a site). What the layout does not assign is a new crater or
   unknown, whichever is likelier.

The score of each detection is the posterior of its class (a softmax over the classes with the
chosen layout as context; a hardware class held by another candidate costs what that one gains
by it, one held by none nothing), for a hardware class times the share of the layouts weighed
that give it this class among those that give the class to any candidate (two about equally
likely landers share the lander; :func:`~orbitscout.identify.layout.holder_shares`), through
the model's isotonic calibration, fit on scenes the layer and trees were not fit on;
docs/validation.md checks it on held-out scenes. An ``unknown``'s posterior is first multiplied
by its ``change_score`` and calibrated apart (:func:`raw_score`): its score is the probability
that the ground changed there and it is none of the named classes. On the Moon there is no
air: no parachute, backshell or heat shield, so only the lander (or its crash site), new
craters and unknown changes are possible. Without a pixel size, sizes are left to the
pixel-based features and distances are in pixels (``from_lander`` then holds
``distance_px``). Thresholds and weights: :class:`IdentifyParams`.

Identification is a pure function of the candidates and what the caller tells it (pixel size,
body, site pixel, EDL priors): it opens no file but its model's.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from orbitscout.core.candidate import Candidate
from orbitscout.core.classes import CLASSES, HARDWARE, NATURAL, PIECES
from orbitscout.core.geometry import bearing_deg
from orbitscout.identify import layout as joint
from orbitscout.identify.features import Context, features, long_line, scene_context
from orbitscout.identify.model import Model, calibration_group, default_model, layer_logprobs
from orbitscout.identify.parameters import DEFAULT_PARAMS, IdentifyParams

__all__ = ["identify", "candidate_logliks", "IdentifyParams", "Model"]


def candidate_logliks(
    found: Sequence[Candidate],
    gsd: float | None,
    moon: bool,
    context: Sequence[Context],
    model: Model,
    params: IdentifyParams = DEFAULT_PARAMS,
) -> list[dict[str, float]]:
    """Log-probability of each class for each candidate from its own measurements.

    Parameters
    ----------
    found : sequence of Candidate
        The candidates.
    gsd : float or None
        Pixel size (m).
    moon : bool
        On the Moon.
    context : sequence of (int, float, float)
        :func:`~orbitscout.identify.features.scene_context` of ``found``.
    model : Model
        The fitted layer and trees.
    params : IdentifyParams
        Thresholds and weights.

    Returns
    -------
    list of dict
        Per candidate, class to log-probability (``-inf`` where it cannot be).
    """
    x = np.array([features(c, gsd, moon, k, params) for c, k in zip(found, context, strict=True)])
    z = layer_logprobs(x, model, params)
    return [_restricted(c, gsd, moon, row, params) for c, row in zip(found, z, strict=True)]


def _restricted(c, gsd, moon: bool, z: np.ndarray, params: IdentifyParams) -> dict:
    """Class log-probabilities ``z`` as a dict, less what cannot be: no jettisoned piece on
    the Moon, no hardware or crater along a long thin line."""
    out = {k: float(v) for k, v in zip(CLASSES, z, strict=True)}
    if moon:
        for cls in PIECES:
            out[cls] = -math.inf
    if long_line(c, gsd, params):
        for cls in (*HARDWARE, "new_crater"):
            out[cls] -= 10.0
    return out


def _alternative(
    scores: Mapping[str, float], label: str, left: float
) -> tuple[str | None, float | None]:
    """The likeliest class but ``label``, and its probability: what the label's score leaves
    to the other classes (``left``) shared among them as their raw posteriors are.

    Parameters
    ----------
    scores : mapping
        Class to log score (``-inf`` where it cannot be).
    label : str
        The chosen class.
    left : float
        The probability of the other classes (:func:`_left_to_others`).

    Returns
    -------
    (str, float) or (None, None)
        The second class and its probability; None where no other class is possible.
    """
    others = {k: v for k, v in scores.items() if k != label and v > -math.inf}
    if not others:
        return None, None
    alt = max(others, key=others.__getitem__)
    rest = float(np.logaddexp.reduce(list(others.values())))
    return alt, round(left * math.exp(others[alt] - rest), 4)


def _left_to_others(score: float, c: Candidate, label: str) -> float:
    """What a label scored ``score`` leaves to the other classes: of the change it is
    conditional on (:func:`_claimed_change`; 1 for a named class), what the score does not
    take. For ``unknown`` that is a change of another class, not no change at all."""
    return max(_claimed_change(c, label) - score, 0.0)


def _claimed_change(c: Candidate, label: str) -> float:
    """The probability of the change that ``label``'s raw score is multiplied by: the
    candidate's ``change_score`` for ``unknown`` where it is known, else 1 (a named class's
    calibration already counts a detection of no change as wrong)."""
    if label != "unknown" or c.change_score is None:
        return 1.0
    return c.change_score


def raw_score(p: float, c: Candidate, label: str) -> float:
    """The raw score of ``label`` that the calibration maps.

    Whether the ground changed at all is the change's own question: a detection of no real
    change called hardware or a new crater is wrong, and called ``unknown`` (a real change
    that is no named class) it is wrong too, however sure the classes are that it is none of
    the others. So an ``unknown``'s posterior is multiplied by the candidate's
    ``change_score``: re-shaded relief scores low, not near 1.

    Parameters
    ----------
    p : float
        The label's posterior among the classes (0-1).
    c : Candidate
        The candidate, with its ``change_score`` (None: not known, ``p`` is kept).
    label : str
        The class chosen for it.

    Returns
    -------
    float
        ``p``, times ``change_score`` for ``unknown``.
    """
    return p * _claimed_change(c, label)


def identify(
    found: Sequence[Candidate],
    *,
    gsd_m: float | None,
    moon: bool = False,
    site_px: tuple[float, float] | None = None,
    priors: Mapping[str, Any] | None = None,
    params: IdentifyParams = DEFAULT_PARAMS,
    model: Model | None = None,
) -> None:
    """Set ``cls``, ``score``, ``alternative``, ``alternative_score`` and ``features`` of
    each candidate (in place).

    The alternative is the likeliest other class of the candidate's own posterior, or the
    hardware class that runner-up layouts give it
    (:func:`~orbitscout.identify.layout.held_shares`) where their share, capped at what the
    label's score leaves, is the larger; its score is at most what the label's score leaves.

    The lander, if one is chosen, is moved onto its vehicle, and every candidate gets its
    distance and bearing from it (``features["from_lander"]``).

    Parameters
    ----------
    found : sequence of Candidate
        The scene's candidates, in the AFTER image's pixel grid.
    gsd_m : float or None
        Pixel size (m); None: sizes in pixels only.
    moon : bool
        On the Moon (no parachute, backshell or heat shield; EDL priors ignored).
    site_px : (float, float) or None
        Pixel (x, y) where the lander should be (a ``--site`` hint).
    priors : mapping or None
        EDL priors of a mission's pieces, as ``orbitscout.edl.debris.debris_priors`` returns
        them (``distance_m``, ``distance_sd_m`` of each piece it drops).
    params : IdentifyParams
        Thresholds and weights.
    model : Model or None
        The fitted model; the shipped one by default.
    """
    if not found:
        return
    model = default_model() if model is None else model
    gsd = gsd_m
    if moon:
        priors = None
    context = scene_context(found, gsd, params)
    ll = candidate_logliks(found, gsd, moon, context, model, params)
    if priors is not None:
        # a piece this mission did not drop (Schiaparelli and InSight had no descent stage)
        for row in ll:
            for cls in PIECES:
                if cls not in priors:
                    row[cls] = -math.inf
    pos = joint.offsets(found, gsd)
    site_pos = None
    if site_px is not None:
        scale = gsd or 1.0
        site_pos = np.array([site_px[0] * scale, -site_px[1] * scale])
    shape = joint.axes(found)
    layout = joint.assign(ll, found, pos, gsd, site_pos, priors, moon, shape, params)
    lander = layout.picks.get("lander")
    assigned = {i: cls for cls, i in layout.picks.items() if i is not None}
    layout_share = joint.held_shares(layout, len(found))
    holder_share = joint.holder_shares(layout_share)
    # each candidate's gain from the chosen layout's context for each hardware class
    gains = [
        {
            cls: joint.context_gain(cls, i, layout, pos, gsd, priors, shape, params)
            for cls in HARDWARE
        }
        for i in range(len(found))
    ]
    # what each holder of a hardware class gains by it over its own likelier natural class
    # (its log-probability and context): about what the layout loses when that class goes to
    # another candidate (the other pieces' context is taken as it stands)
    held = {
        cls: ll[j][cls] + gains[j][cls] - max(ll[j][k] for k in NATURAL)
        for cls, j in layout.picks.items()
        if j is not None
    }
    for i, c in enumerate(found):
        # posterior over classes with the chosen layout as context: the hardware class this
        # candidate holds (if any) against its non-hardware alternatives and the hardware
        # classes the layout gave to others, each at what its holder gains by it; a class it
        # gave to none costs nothing
        scores = {cls: ll[i][cls] for cls in NATURAL}
        for cls in HARDWARE:
            cost = 0.0 if assigned.get(i) == cls else max(held.get(cls, 0.0), 0.0)
            scores[cls] = ll[i][cls] + gains[i][cls] - cost
        label = assigned.get(i) or max(NATURAL, key=lambda k: scores[k])
        vals = np.array([v for v in scores.values() if v > -math.inf])
        z = float(np.logaddexp.reduce(vals))
        c.cls = label
        p = math.exp(scores[label] - z)
        if label in holder_share:  # as sure as the layouts that give it this hardware class
            p *= float(holder_share[label][i])
        raw = raw_score(p, c, label)
        c.score = round(model.calibrate(raw, calibration_group(label)), 4)
        left = _left_to_others(c.score, c, label)
        c.alternative, c.alternative_score = _alternative(scores, label, left)
        # the hardware class runner-up layouts give it, where it takes more of what the label
        # leaves than that second class does
        other = max((k for k in layout_share if k != label), key=lambda k: layout_share[k][i])
        share = round(min(float(layout_share[other][i]), left), 4)
        if share > (c.alternative_score or 0.0):
            c.alternative, c.alternative_score = other, share
        c.features["class_loglik"] = {k: round(v, 2) for k, v in ll[i].items() if v > -math.inf}
    if lander is None:
        return
    joint.place_on_vehicle(found[lander], moon, params)
    pos = joint.offsets(found, gsd)
    for i, c in enumerate(found):
        d = pos[i] - pos[lander]
        rel = {"bearing_deg": round(bearing_deg(float(d[0]), float(d[1])), 1)}
        if gsd:
            rel["distance_m"] = round(float(np.hypot(*d)), 1)
        else:
            rel["distance_px"] = round(float(np.hypot(*d)), 1)
        c.features["from_lander"] = rel
