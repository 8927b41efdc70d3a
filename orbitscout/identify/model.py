"""The fitted model: a logistic layer and boosted trees over :func:`features`, and the
calibration of the score, in one data file.

A multinomial logistic layer over the physical log-likelihoods and the measurements themselves
(length in metres and pixels, elongation, brightening share and strength, darkening strength,
significance, how many other changes lie within a blast zone's reach, strength and length
relative to the scene's strongest and longest change, and how much of the box its moments span
the change fills: a flat patch of moved dust less than a new crater's centrally dark blast zone),
and boosted trees over the same (scikit-learn's HistGradientBoostingClassifier, exported to
plain arrays: identification needs numpy alone). A linear layer cannot give one class two looks
(a landed rover's bright speck in a dark halo, a crash's dark scar) nor cut a measurement at a
size; the trees can, the layer is smoother: their log-probabilities are averaged
(:func:`layer_logprobs`). Both are fit on simulated scenes of the TUNING seeds (landings, and
scenes of natural changes only) by ``python bench/identify_table.py --fit-model`` and
``--fit-trees``; the isotonic calibration of the score by ``--fit``, on scores of scenes the
layer and trees were not fit on. Each writes :data:`MODEL_FILE`, which also holds the class
and feature names, the seeds each part was fit on and the code version (``git describe``).

.. data:: MODEL_FILE

   ``data/model.npz``: arrays ``weights`` (classes x features), ``trees_<field>`` (the fields of
   :class:`Trees`), ``calibration_<group>_x`` and ``_p`` (knots of logit and P(right)), and
   ``meta``, a JSON string: ``format``, ``classes``, ``features``, ``calibration_groups`` and
   ``fit`` (per part: ``seeds``, ``code_version``, ``command``).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from orbitscout.core.atomic import atomic_file
from orbitscout.core.classes import CLASSES, HARDWARE
from orbitscout.core.errors import OrbitscoutError
from orbitscout.identify.features import FEATURE_NAMES
from orbitscout.identify.parameters import DEFAULT_PARAMS, IdentifyParams

MODEL_FILE = Path(__file__).resolve().parent / "data" / "model.npz"
FORMAT = 1
GROUPS = ("hardware", "natural")  # calibrated apart: hardware labels and natural ones


@dataclass(frozen=True)
class Trees:
    """Regression trees adding up to one raw score per class, stored flat.

    Node arrays of all trees end to end (``left`` and ``right`` index into them; a leaf points
    at itself), the root and the class of each tree, and each class's baseline score. Inputs
    must be finite (:func:`~orbitscout.identify.features.features` are): a NaN would go right
    at every node.
    """

    feature: np.ndarray
    threshold: np.ndarray  # a row goes left when its feature <= threshold
    left: np.ndarray
    right: np.ndarray
    value: np.ndarray
    roots: np.ndarray
    tree_class: np.ndarray
    baseline: np.ndarray
    depth: int

    @classmethod
    def from_sklearn(cls, model) -> Trees:
        """The trees of a fitted scikit-learn ``HistGradientBoostingClassifier``.

        Numerical features, no missing values; read from its private ``_predictors`` and
        ``_baseline_prediction``, so checked against ``predict_proba`` where it is fit.

        Parameters
        ----------
        model : sklearn.ensemble.HistGradientBoostingClassifier
            The fitted model.

        Returns
        -------
        Trees
            Its trees as plain arrays.
        """
        trees = [(k, tree.nodes) for rounds in model._predictors for k, tree in enumerate(rounds)]
        sizes = np.array([nodes.size for _, nodes in trees])
        starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        nodes = np.concatenate([n for _, n in trees])
        shift = np.repeat(starts, sizes)
        own = np.arange(nodes.size)
        leaf = nodes["is_leaf"].astype(bool)
        return cls(
            feature=nodes["feature_idx"].astype(np.int16),
            threshold=nodes["num_threshold"].astype(np.float64),
            left=np.where(leaf, own, nodes["left"] + shift).astype(np.int32),
            right=np.where(leaf, own, nodes["right"] + shift).astype(np.int32),
            value=nodes["value"].astype(np.float64),
            roots=starts.astype(np.int32),
            tree_class=np.array([k for k, _ in trees], dtype=np.int16),
            baseline=np.asarray(model._baseline_prediction, dtype=np.float64).ravel(),
            depth=int(nodes["depth"].max()),
        )

    def raw(self, x: np.ndarray, chunk: int = 1024) -> np.ndarray:
        """Raw scores of feature rows, every tree walked at once.

        Parameters
        ----------
        x : numpy.ndarray
            (n, features) rows.
        chunk : int
            Rows walked together.

        Returns
        -------
        numpy.ndarray
            (n, classes) raw scores (log-probabilities up to a constant per row).
        """
        one_hot = np.eye(self.baseline.size)[self.tree_class]
        out = np.empty((x.shape[0], self.baseline.size))
        for start in range(0, x.shape[0], chunk):
            rows = x[start : start + chunk]
            node = np.broadcast_to(self.roots, (rows.shape[0], self.roots.size)).copy()
            index = np.arange(rows.shape[0])[:, None]
            for _ in range(self.depth):
                go_left = rows[index, self.feature[node]] <= self.threshold[node]
                node = np.where(go_left, self.left[node], self.right[node])
            out[start : start + chunk] = self.baseline + self.value[node] @ one_hot
        return out


CALIBRATION_GROUPS = ("hardware", "new_crater", "unknown")
"""The groups of labels calibrated apart: the hardware classes, ``new_crater`` and
``unknown``, whose raw score holds the candidate's ``change_score`` too (``unknown`` claims a
real change that is none of the named classes)."""


def calibration_group(cls: str) -> str:
    """The group a label is calibrated in.

    Parameters
    ----------
    cls : str
        A class of :data:`~orbitscout.core.classes.CLASSES`.

    Returns
    -------
    str
        Its group of :data:`CALIBRATION_GROUPS`: ``hardware`` for the hardware classes, else
        the class itself.
    """
    return "hardware" if cls in HARDWARE else cls


@dataclass(frozen=True, eq=False)
class Model:
    """What was fit: the logistic layer, the trees and the score's calibration.

    Attributes
    ----------
    weights : numpy.ndarray
        (classes, features) weights of the multinomial logistic layer.
    trees : Trees
        The boosted trees.
    calibration : mapping or None
        Per group of :data:`CALIBRATION_GROUPS`: knots (logit of the raw score, P(right)) of
        an isotonic map, as two float arrays. None only for a model being fit, whose scores
        are the raw ones the calibration is fit on.
    features : tuple of str
        Names of the feature columns it was fit on.
    classes : tuple of str
        Its classes, in the order of the rows of ``weights``.
    fit : mapping
        Per part (``weights``, ``trees``, ``calibration``): ``seeds``, ``code_version``,
        ``command``.
    """

    weights: np.ndarray
    trees: Trees
    calibration: Mapping[str, tuple[np.ndarray, np.ndarray]] | None
    features: tuple[str, ...] = FEATURE_NAMES
    classes: tuple[str, ...] = CLASSES
    fit: Mapping[str, dict] = field(default_factory=dict)

    @classmethod
    def load(cls, path: str | Path = MODEL_FILE) -> Model:
        """Read a model file (numpy alone).

        Parameters
        ----------
        path : str or pathlib.Path
            The ``.npz`` file, :data:`MODEL_FILE` by default.

        Returns
        -------
        Model
            Its parts.

        Raises
        ------
        OrbitscoutError
            Where the file is missing, unreadable or not of this format.
        """
        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {k: data[k] for k in data.files}
            meta = json.loads(str(arrays.pop("meta")))
        except (OSError, ValueError, KeyError) as exc:
            raise OrbitscoutError(f"not a readable identification model ({exc})", path) from exc
        if meta.get("format") != FORMAT:
            raise OrbitscoutError(f"model format {meta.get('format')}, not {FORMAT}", path)
        tree_fields = {f.name for f in dataclasses.fields(Trees)}
        trees = {k: arrays.pop(f"trees_{k}") for k in tree_fields}
        trees["depth"] = int(trees["depth"])
        calibration = {
            g: (arrays.pop(f"calibration_{g}_x"), arrays.pop(f"calibration_{g}_p"))
            for g in meta["calibration_groups"]
        }
        model = cls(
            weights=arrays.pop("weights"),
            trees=Trees(**trees),
            calibration=calibration,
            features=tuple(meta["features"]),
            classes=tuple(meta["classes"]),
            fit=meta.get("fit", {}),
        )
        if model.weights.shape != (len(model.classes), len(model.features)):
            raise OrbitscoutError(
                f"weights of shape {model.weights.shape} for {len(model.classes)} classes and "
                f"{len(model.features)} features",
                path,
            )
        return model

    def save(self, path: str | Path = MODEL_FILE) -> None:
        """Write the model file whole or not at all.

        Parameters
        ----------
        path : str or pathlib.Path
            Where, :data:`MODEL_FILE` by default.

        Raises
        ------
        ValueError
            For a model without calibration.
        """
        if self.calibration is None:
            raise ValueError("a model without calibration is not written")
        groups = tuple(self.calibration)
        meta = {
            "format": FORMAT,
            "classes": list(self.classes),
            "features": list(self.features),
            "calibration_groups": list(groups),
            "fit": dict(self.fit),
        }
        arrays = {"weights": np.asarray(self.weights, dtype=np.float64)}
        for k, v in dataclasses.asdict(self.trees).items():
            arrays[f"trees_{k}"] = np.asarray(v)
        for g in groups:
            knots_x, knots_p = self.calibration[g]
            arrays[f"calibration_{g}_x"] = np.asarray(knots_x, dtype=np.float64)
            arrays[f"calibration_{g}_p"] = np.asarray(knots_p, dtype=np.float64)
        arrays["meta"] = np.array(json.dumps(meta, indent=1))
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_file(path) as tmp:
            with open(tmp, "wb") as fh:
                np.savez_compressed(fh, **arrays)

    def check(self) -> None:
        """Raise where the model does not fit this code's classes and features.

        Raises
        ------
        OrbitscoutError
            Where its classes or feature names differ from :data:`CLASSES` and
            :data:`~orbitscout.identify.features.FEATURE_NAMES`, or its calibration's groups
            from :data:`CALIBRATION_GROUPS`.
        """
        if (
            self.classes != CLASSES
            or self.features != FEATURE_NAMES
            or (self.calibration is not None and set(self.calibration) != set(CALIBRATION_GROUPS))
        ):
            raise OrbitscoutError(
                "the identification model was fit on other classes, features or calibration "
                "groups; refit it (bench/identify_table.py --fit-model --fit-trees --fit)",
                MODEL_FILE,
            )

    def calibrate(self, p_raw: float, group: str) -> float:
        """P(right) of a label from its raw score.

        Parameters
        ----------
        p_raw : float
            The raw score of the label (0-1; ``classify.raw_score``).
        group : str
            One of :data:`CALIBRATION_GROUPS` (``calibration_group`` of the label).

        Returns
        -------
        float
            The isotonic map of its logit; the raw posterior for a model without calibration
            (one being fit).
        """
        if self.calibration is None:
            return p_raw
        knots_x, knots_p = self.calibration[group]
        p = min(max(p_raw, 1e-6), 1 - 1e-6)
        return float(np.interp(math.log(p / (1 - p)), knots_x, knots_p))


@functools.cache
def default_model() -> Model:
    """The shipped model (:data:`MODEL_FILE`), read once.

    Returns
    -------
    Model
        The model, checked against this code's classes and features.
    """
    model = Model.load(MODEL_FILE)
    model.check()
    return model


def layer_logprobs(
    x: np.ndarray, model: Model, params: IdentifyParams = DEFAULT_PARAMS
) -> np.ndarray:
    """Class log-probabilities of feature rows: the layer's and the trees' averaged.

    Parameters
    ----------
    x : numpy.ndarray
        (n, features) rows of :func:`~orbitscout.identify.features.features`.
    model : Model
        The logistic layer and the trees.
    params : IdentifyParams
        ``trees_weight`` (the trees' weight) and ``trees_floor`` (their least log-probability).

    Returns
    -------
    numpy.ndarray
        (n, classes) log-probabilities, each row normalised.
    """
    z = x @ model.weights.T
    z -= np.logaddexp.reduce(z, axis=1, keepdims=True)
    if params.trees_weight:
        t = model.trees.raw(x)
        t -= np.logaddexp.reduce(t, axis=1, keepdims=True)
        z = (1 - params.trees_weight) * z + params.trees_weight * np.maximum(t, params.trees_floor)
        z -= np.logaddexp.reduce(z, axis=1, keepdims=True)
    return z
