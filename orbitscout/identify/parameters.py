"""Every threshold and weight of identification, as one frozen dataclass passed in.

Physical sizes come from ``docs/facts.md`` and the HiRISE images cited there; the
rest were chosen on the TUNING seeds (``bench/identify_table.py --tuning``) or are assumptions,
as each field's comment says. The defaults are the values the shipped model was fit with.
Per-class tables are tuples of ``(class, value)`` pairs, so the parameters stay frozen and
hashable; :meth:`IdentifyParams.as_dict` gives them as plain JSON for ``summary.json``.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

ClassTable = tuple[tuple[str, tuple[float, float]], ...]


@dataclass(frozen=True)
class IdentifyParams:
    """Thresholds and weights of :func:`orbitscout.identify.classify.identify`.

    Attributes
    ----------
    size_m : tuple of (str, (float, float))
        Visible size on the ground of each class: (low, high) of the change's long axis (m).
    blur_px : float
        What PSF, sampling and the matched filters add to a length (px), from the sims.
    size_sd : float
        Log-width of the soft edge of each size range (natural log units).
    line_m : float
        A thin line longer than this is a track, not hardware (m).
    bright : tuple of (str, (float, float))
        Brightening share (``bright_fraction``, 0-1) each class tends to show: (mean, sd).
    elongation : tuple of (str, (float, float))
        Elongation (width / length, 0-1) each class tends to show: (mean, sd).
    line_elongation : float
        Thinner than this (width / length) and longer than ``line_m``: a track.
    moon_crater_bright, moon_lander_bright : (float, float)
        Brightening share (mean, sd) of lunar new craters and lunar crashes.
    pair_m : (float, float)
        Backshell to its parachute, (low, high) (m).
    pair_sd : float
        Log-width of the soft edge of ``pair_m``.
    site_sd_m : float
        How far the lander may be from a ``--site`` hint, 1 sigma (m; /5 in px without a
        pixel size).
    no_lander : float
        Log weight of a jettisoned piece when no lander is in view.
    piece_min_m : float
        Pieces lie outside the core of the blast zone: at least this far from the lander (m).
    no_parachute : float
        Log weight of a backshell with no parachute beside it.
    no_lander_hinted : float
        Cost (log) of no lander when ``--site`` or ``--mission`` says a landing is in view.
    vehicle_share : float
        Least share (0-1) of a lander's change in the vehicle's polarity for that part to be
        the vehicle.
    mission_weight : float
        Weight of the EDL priors' log density of a piece's distance from the lander.
    mission_floor : float
        Least log density the EDL priors give: they may favour a place but not veto one.
    radial : tuple of (str, float)
        Log weight of a piece's change lying along the line to the lander against across it
        (times its elongation), per class.
    prior : tuple of (str, float)
        Per-class log prior of the physical model (the base rate among candidates).
    weak_sigma : float
        Changes weaker than this (sigma) are mostly noise and clutter.
    near_m : float
        Radius of a blast zone's neighbourhood (m; 12 px without a pixel size).
    trees_weight : float
        Weight (0-1) of the boosted trees' log-probabilities against the logistic layer's.
    trees_floor : float
        No tree ensemble is surer than this (log-probability) of a class being wrong.
    """

    # blast zone of a rover (~90-140 m across in scene.py after HiRISE ESP_068360_1985; its
    # bright lobes ~20 m), InSight's dark halo (~50-80 m), a crash scar (Schiaparelli ~15 x 40 m,
    # JPL PIA21130; Vikram ~20 m crater with ejecta);
    # parachute: canopy 11.8-21.5 m (docs/facts.md), crumpled to ~half its width;
    # backshell: shell 2.4-4.5 m (docs/facts.md) and its small impact scar (a few shell sizes,
    # assumption);
    # heat shield: shell 2.4-4.5 m inside an impact scar 10-30 m (assumption from the HiRISE
    # images);
    # descent stage: crash fan tens of metres (uahirise.org ESP_068294_1985), debris specks
    # around it;
    # new crater: Mars: 3-12 m craters with dark blast halos (Daubar et al. 2013); Moon: 2-43 m
    # craters with reflectance halos (Speyerer et al. 2016)
    size_m: ClassTable = (
        ("lander", (25.0, 160.0)),
        ("parachute", (7.0, 26.0)),
        ("backshell", (2.0, 18.0)),
        ("heat_shield", (3.0, 32.0)),
        ("descent_stage", (10.0, 90.0)),
        ("new_crater", (4.0, 250.0)),
    )
    blur_px: float = 4.0  # what PSF, sampling and the matched filters add (px), from the sims
    size_sd: float = 0.3  # log-width of the soft edge of each size range
    line_m: float = 60.0  # a thin line longer than this is a track, not hardware
    # brightening share (bright_fraction) each class tends to show: (mean, sd) of a soft bump
    bright: ClassTable = (
        ("lander", (0.35, 0.5)),
        ("parachute", (0.97, 0.12)),
        ("backshell", (0.6, 0.35)),
        ("heat_shield", (0.35, 0.4)),
        ("descent_stage", (0.05, 0.2)),
        ("new_crater", (0.0, 0.15)),
        ("unknown", (0.5, 0.6)),
    )
    # elongation (width / length) each class tends to show: (mean, sd); craters are round, the
    # descent stage's fan is about twice as long as wide
    elongation: ClassTable = (
        ("lander", (0.7, 0.3)),
        ("parachute", (0.65, 0.2)),
        ("backshell", (0.65, 0.25)),
        ("heat_shield", (0.65, 0.25)),
        ("descent_stage", (0.5, 0.15)),
        ("new_crater", (0.88, 0.1)),
        ("unknown", (0.5, 0.5)),
    )
    line_elongation: float = 0.15  # thinner than this and longer than line_m: a track
    moon_crater_bright: tuple[float, float] = (0.8, 0.3)  # bright and dark reflectance halos
    moon_lander_bright: tuple[float, float] = (0.8, 0.4)  # a lunar crash throws out bright
    # ejecta (Vikram, LROC)
    pair_m: tuple[float, float] = (5.0, 100.0)  # ~20-60 m at the landings in scene.py (assumed)
    pair_sd: float = 0.25  # log-width of the soft edge of pair_m
    site_sd_m: float = 150.0  # how far the lander may be from a --site hint (assumption)
    no_lander: float = -2.0  # log weight of a jettisoned piece when no lander is in view
    piece_min_m: float = 30.0  # pieces lie outside the core of the blast zone (assumption)
    no_parachute: float = -3.0  # log weight of a backshell with no parachute beside it
    no_lander_hinted: float = 2.0  # cost of no lander when a hint says a landing is in view
    # least share of a lander's change in the vehicle's polarity for that part to be the vehicle
    # (chosen on tuning seeds 0-43: median position error 0.1-1.1 m against 1.5-7.5 m for the
    # centroid, Schiaparelli's crash unchanged)
    vehicle_share: float = 0.05
    mission_weight: float = 0.1  # weight of the EDL priors (broad, ~0.5 km; tuning seeds 0-87)
    mission_floor: float = -8.0  # the priors may favour a place but not veto one (the model is
    # uncertain)
    # log weight of a piece's change lying along the line to the lander against across it (times
    # its elongation): the descent stage's debris V points back at the vehicle (uahirise.org
    # ESP_068294_1985, docs/facts.md); the heat shield's scar runs along its flight, the entry
    # ground track the vehicle followed (assumption). Chosen on tuning seeds 0-87 from 0-4 and 0-3.
    radial: tuple[tuple[str, float], ...] = (("heat_shield", 2.0), ("descent_stage", 3.0))
    # per-class log prior of the physical model (the base rate of each class among candidates)
    prior: tuple[tuple[str, float], ...] = (
        ("lander", -1.0),
        ("parachute", -1.0),
        ("backshell", -1.5),
        ("heat_shield", -2.0),
        ("descent_stage", -2.0),
        ("new_crater", -1.5),
        ("unknown", -3.0),
    )
    weak_sigma: float = 8.5  # changes weaker than this (sigma) are mostly noise and clutter
    near_m: float = 60.0  # radius of a blast zone's neighbourhood (scene.py: halos 45-70 m)
    # the trees' log-probabilities averaged with the layer's: fit both on seeds 0-65 and scored
    # on 66-87 then 400-443: CTX 0.876 -> 0.905 and 0.896 -> 0.929 against the layer alone,
    # HiRISE 0.914 -> 0.914 and 0.908 -> 0.929; the weight chosen on 66-87 from 0.5, 0.75 and
    # 1 (the trees alone: HiRISE 0.87 there)
    trees_weight: float = 0.5
    trees_floor: float = math.log(1e-6)  # no tree ensemble is surer than this of a class wrong

    def as_dict(self) -> dict:
        """The parameters as plain JSON values (per-class tables as objects).

        Returns
        -------
        dict
            Field name to value: numbers, lists and ``{class: value}`` objects.
        """
        out = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name in _TABLES:
                out[f.name] = {k: _plain(v) for k, v in value}
            else:
                out[f.name] = _plain(value)
        return out


_TABLES = ("size_m", "bright", "elongation", "radial", "prior")


def _plain(value):
    return list(value) if isinstance(value, tuple) else value


DEFAULT_PARAMS = IdentifyParams()
