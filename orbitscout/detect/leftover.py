"""How much of its own structure unchanged ground leaves in a pair's residual, measured.

``DetectParams.kappa`` is a worst case: the share of the images' local structure that
unchanged ground may leave in the residual under another sun, another PSF, resampling and
compression. A pair seen under the same sun, registered well, leaves far less (a few per cent
on the simulated families at 0 degrees). Measured here: the residual's robust variance grows
with the local structure's energy as ``noise^2 + leftover^2 * energy``; most of the ground is
unchanged, so robust variances over bins of that energy give ``leftover``. The faint list of
``find`` uses it (``DetectParams.faint``)."""

from __future__ import annotations

import math

import cv2
import numpy as np

from orbitscout.detect.parameters import DEFAULT, DetectParams

BINS = 10  # bins of equal pixel count of the structure's energy
STEP = 2  # every STEP-th pixel of every STEP-th row is sampled
MIN_SAMPLES = 4096  # fewer valid samples: nothing measured
CLIP = 5.0  # robust standard deviations beyond which a residual is a change's, not counted


def structure_leftover(
    resid: np.ndarray, level: np.ndarray, params: DetectParams = DEFAULT
) -> tuple[float, ...] | None:
    """The share (amplitude) of BEFORE's local structure that the residual keeps, at each of
    the matched filters ``params.scales`` (the finest keeps most: resampling and a PSF that
    differs between the looks touch the sharpest structure).

    At each filter, over bins of equal count of the structure's energy (BEFORE's ``level``
    less its blur over ``params.structure`` px, filtered, squared and averaged over
    ``params.clutter`` px, as ``significance`` weighs it), the least-squares slope of the
    residual's robust variance against the mean square of the filtered structure in each
    bin, both taken from the least energetic bin (the noise alone). Robust, so the few
    changes of a pair do not count (``_robust_variance``).

    Parameters
    ----------
    resid : numpy.ndarray
        AFTER less BEFORE mapped onto its brightness, over a window of the pair (NaN: no
        data).
    level : numpy.ndarray
        BEFORE mapped onto AFTER's brightness, over the same window.
    params : DetectParams
        The filters and the structure's scales.

    Returns
    -------
    tuple of float or None
        The share per filter (dimensionless, >= 0), or None where too little of the window
        is valid.
    """
    ok = np.isfinite(resid) & np.isfinite(level)
    margin = math.ceil(4 * max(params.structure, *params.scales, params.clutter))
    inner = np.zeros_like(ok)
    inner[margin:-margin, margin:-margin] = True
    ok &= inner
    if ok[::STEP, ::STEP].sum() < MIN_SAMPLES:
        return None
    fill = float(np.median(level[ok]))
    level = np.where(ok, level, fill).astype(np.float32)
    resid = np.where(ok, resid, 0.0).astype(np.float32)
    structure = level - cv2.GaussianBlur(level, (0, 0), params.structure)
    keep = ok[::STEP, ::STEP]
    shares = []
    for sigma in params.scales:
        r = resid if sigma == 0 else cv2.GaussianBlur(resid, (0, 0), sigma)
        s = structure if sigma == 0 else cv2.GaussianBlur(structure, (0, 0), sigma)
        energy = cv2.GaussianBlur(s * s, (0, 0), params.clutter)
        r, e = r[::STEP, ::STEP][keep], energy[::STEP, ::STEP][keep]
        s2 = np.square(s[::STEP, ::STEP][keep], dtype=np.float64)
        bins = np.array_split(np.argsort(e), BINS)
        mean_s2 = np.array([s2[b].mean() for b in bins])
        var_r = np.array([_robust_variance(r[b]) for b in bins])
        de, dv = mean_s2[1:] - mean_s2[0], var_r[1:] - var_r[0]
        denom = float(np.sum(de * de))
        slope = float(np.sum(de * dv)) / denom if denom > 0 else 0.0
        shares.append(math.sqrt(max(slope, 0.0)))
    return tuple(shares)


def _robust_variance(values: np.ndarray) -> float:
    """The variance of ``values`` within CLIP robust standard deviations (1.4826 times the
    median absolute deviation) of their median: a change's few pixels do not count, and
    values that mix noise with structure of a spread of energies (no Gaussian) keep their
    variance, which a median absolute deviation would not."""
    centre = np.median(values)
    spread = 1.4826 * np.median(np.abs(values - centre))
    kept = values[np.abs(values - centre) <= CLIP * spread] if spread > 0 else values
    return float(np.var(kept))
