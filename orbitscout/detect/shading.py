"""Re-shading: how another sun redraws the shading of unchanged relief, predicted from BEFORE.

For small slopes a Lambertian surface under a sun at incidence ``i`` and horizontal direction
``d`` has brightness ``A cos i (1 - tan i (d . grad h))``: its shading structure ``S`` (the level
less a wide blur) is ``-k (d . grad h)`` times the local level, ``k = tan i``. The same relief
under another sun at azimuth ``t`` degrees on gives ``(k_a / k_b) (cos t S_b + sin t R)``, where
``R`` is the slope *across* BEFORE's sun, which BEFORE shows only through the integrability of
the height field: in Fourier space ``R^ = S_b^ (f . p)(f . d) / ((f . d)^2 + eps^2 |f|^2)``
(``p`` the horizontal unit vector perpendicular to ``d``), a Tikhonov-regularised ratio of
directional derivatives. That multiplier is real and even, so ``R`` is a convolution with a real
symmetric kernel, built once and cut to a finite size: the prediction at a pixel reads only
``Reshading.reach`` px around it, and a tiled run predicts what a whole run does.

The residual AFTER - level of unchanged relief is then ``a S_b + b R``. The two coefficients
are fitted once per pair, per 256-px block (the noise blocks' grid, anchored at the image
origin), on the reduced images the pipeline registers and normalises anyway, by an iteratively
reweighted fit with Tukey's biweight: changed objects are a small share of a block's pixels and
get no weight, so a vanished object (present in ``S_b``) stays a residual. Coefficients are
bilinear between block centres, so tiles need no fit of their own. The model is linear in the
relief, so the coefficients fitted at 8 x reduction hold at full resolution.

With a DTM (heights in metres on AFTER's grid) and both suns known, the predicted residual is
the level times the ratio of the Lambert hillshades less one, with one gain per block.
"""

from __future__ import annotations

import cmath
import functools
import math
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import scipy.fft

from orbitscout.core.illumination import Sun, sun_change
from orbitscout.core.window import Window
from orbitscout.detect.parameters import ShadingParams
from orbitscout.detect.photometry import Photometry, fit_photometry
from orbitscout.detect.significance import BLOCK, Support, blur_reach

# the fit's own definitions, not thresholds: Tukey biweight's tuning constant (95 % efficiency
# on Gaussian residuals), its rounds, and the fewest valid reduced pixels a block's fit rests on
TUKEY = 4.685
ROUNDS = 6
IRLS_CHUNK = 128  # blocks fitted together by _irls (128 x 256 points x 4 terms: 1 MB a copy)
MIN_POINTS = 64
FIT_STRIDE = 2  # blocks are fitted on every FIT_STRIDE-th reduced px of every FIT_STRIDE-th row


def estimate_sun_azimuth(image: np.ndarray) -> tuple[float, float]:
    """BEFORE's sun azimuth (modulo 180) from the anisotropy of the image's shading.

    Shading is a slope along the sun's direction, so its power at a spatial frequency of
    direction ``phi`` goes as ``cos^2(phi - azimuth)`` while albedo is isotropic: the second
    angular moment of the power spectrum points along the sun (``_angular_moment``).

    Parameters
    ----------
    image : numpy.ndarray
        A 2-D image (NaN: no data, filled with the median), at least 32 px on a side.

    Returns
    -------
    azimuth_deg : float
        Direction toward the sun, degrees clockwise from north, in 0-180 (the opposite
        direction gives the same shading pattern up to its sign).
    confidence : float
        The anisotropy (0: none, an isotropic texture; 1: all power along one direction).
    Raises
    ------
    ValueError
        For an image under 32 px on a side.
    """
    moment = _angular_moment(image)
    if moment == 0:
        return 0.0, 0.0
    direction = 0.5 * math.atan2(moment.imag, moment.real)
    # d = (sin az, -cos az) in (col, row)
    azimuth = math.degrees(math.atan2(math.cos(direction), -math.sin(direction))) % 180.0
    return azimuth, float(abs(moment))


def shading_share(image: np.ndarray, azimuth_deg: float) -> float:
    """The share of an image's fine structure power that is shading under a sun at
    ``azimuth_deg``.

    Shading of isotropic relief has power ``cos^2(phi - azimuth)`` at spatial frequencies of
    direction ``phi``, whose second angular moment along the sun is 1/2; albedo, isotropic,
    has none. Twice the moment of the image's power along the sun (``_angular_moment``: each
    ring of 1/64-1/6 cycles per px weighted alike) is thus the share of its power that is
    shading, clipped to 0-1. Noise, isotropic, counts as albedo. Under about 128 px a side
    pure albedo gives a share above 0 by chance (0.04 on average at 128 px, 0.25 at 32).

    Parameters
    ----------
    image : numpy.ndarray
        A 2-D image (NaN: no data, filled with the median), at least 32 px on a side.
    azimuth_deg : float
        The image's sun azimuth (degrees clockwise from north; modulo 180 is enough).

    Returns
    -------
    float
        The share, 0 (isotropic: albedo) to 1 (all shading).

    Raises
    ------
    ValueError
        For an image under 32 px on a side.
    """
    (dx, dy), _ = _directions(azimuth_deg)
    along = cmath.exp(-2j * math.atan2(dy, dx))
    return min(1.0, max(0.0, 2.0 * (_angular_moment(image) * along).real))


def _angular_moment(image: np.ndarray) -> complex:
    """The second angular moment ``<exp(2 i phi)>`` of an image's power spectrum (``phi`` the
    direction of the spatial frequency, from the columns' axis toward the rows'), each ring
    of radius weighted alike; 0 for an image without valid pixels or power.

    The image (a north-up map, rows southward) is high-passed, windowed (Hann) and its
    spectrum's axes left out (the window's and the sensor's own lines lie there)."""
    data = np.asarray(image, np.float32)  # single precision: an angle, twice as fast
    if min(data.shape) < 32:
        raise ValueError("the image must be at least 32 x 32 px")
    ok = np.isfinite(data)
    if not ok.any():
        return 0j
    data = np.where(ok, data, np.median(data[ok]))
    data = data - cv2.GaussianBlur(data, (0, 0), 8.0, borderType=cv2.BORDER_REFLECT)
    window = np.outer(np.hanning(data.shape[0]), np.hanning(data.shape[1])).astype(np.float32)
    power = np.abs(scipy.fft.rfft2(data * window)) ** 2
    fy = scipy.fft.fftfreq(data.shape[0]).astype(np.float32)[:, None]
    fx = scipy.fft.rfftfreq(data.shape[1]).astype(np.float32)[None, :]
    radius = np.hypot(fx, fy)
    # band 1/64 .. 1/6 cycles per px (finer, the pixel grid's own derivatives pull the angle
    # toward the diagonals: 6 degrees at 1/3), axes out; rfft's half plane holds each
    # direction once (the moment of angle 2 phi is the same for f and -f)
    use = (radius > 1 / 64) & (radius < 1 / 6) & (np.abs(fy) > 1.5 / data.shape[0])
    use &= fx > 1.5 / data.shape[1]
    phi = np.arctan2(fy, fx)
    # the power relative to its mean over rings of radius, so that every scale counts alike
    rings = np.minimum((radius * 64).astype(np.intp), 32)
    mean = np.bincount(rings[use], power[use], 33) / np.maximum(
        np.bincount(rings[use], None, 33), 1
    )
    weight = np.where(use, power / np.maximum(mean[rings], 1e-30), 0.0)
    total = float(np.sum(weight))
    if total <= 0:
        return 0j
    return complex(np.sum(weight * np.exp(2j * phi))) / total


# incidences beyond which the slope of shading (tan i) is not taken at face value: near the
# zenith shading is no longer linear in the slope, near the horizon all is cast shadow
SHADING_INCIDENCE_DEG = (5.0, 85.0)


def shading_slope(sun: Sun) -> float:
    """``tan i`` of ``sun``'s incidence taken within ``SHADING_INCIDENCE_DEG``: how strongly it
    shades a slope along it, relative to flat ground's brightness."""
    low, high = SHADING_INCIDENCE_DEG
    return math.tan(math.radians(min(max(sun.incidence_deg, low), high)))


def shading_change(sun_before: Sun, sun_after: Sun) -> float:
    """How much of its shading the image lit more steeply (less shaded) would show changed,
    as a share, were the same relief lit by the other image's sun.

    Shading is ``-tan i`` times the slope along the sun (module docstring); with ``rho`` the
    ratio of the suns' ``tan i`` (at least 1) and ``t`` the azimuths' difference, the other
    sun's shading is ``rho (cos t S + sin t R)``, so the change is ``|rho exp(i t) - 1|``
    times the weaker shading (``R``, the slope across the sun, taken as strong as ``S``).

    Parameters
    ----------
    sun_before, sun_after : Sun
        The suns, their incidences taken within ``SHADING_INCIDENCE_DEG`` (two suns both
        nearer the zenith or the horizon than those differ in azimuth only).

    Returns
    -------
    float
        0 for the same sun; about 0.3, 0.6 and 1.0 for 5, 10 and 15 degrees of incidence
        and 10, 20 and 30 of azimuth at mid incidences.
    """
    slopes = sorted(shading_slope(sun) for sun in (sun_before, sun_after))
    rho = slopes[1] / slopes[0]
    turn = math.radians(sun_after.azimuth_deg - sun_before.azimuth_deg)
    return abs(rho * cmath.exp(1j * turn) - 1.0)


def _directions(azimuth_deg: float) -> tuple[tuple[float, float], tuple[float, float]]:
    """(col, row) unit vectors toward the sun and perpendicular to it, the way the azimuth
    grows (north-up image, rows southward)."""
    az = math.radians(azimuth_deg)
    return (math.sin(az), -math.cos(az)), (math.cos(az), math.sin(az))


@functools.lru_cache(maxsize=16)
def sun_kernels(azimuth_deg: float, size: int, eps: float) -> tuple[np.ndarray, np.ndarray]:
    """The two real symmetric kernels that split shading under a sun at ``azimuth_deg``: the
    part along the sun, multiplier ``(f . d)^2 / D``, where shading dominates an isotropic
    albedo, and the slope across the sun, ``(f . p)(f . d) / D``, with
    ``D = (f . d)^2 + eps^2 |f|^2``. Each is made on a grid four times the kernel's size,
    brought back to space, cut to ``size`` x ``size`` px and tapered (Hann, radially).

    Parameters
    ----------
    azimuth_deg : float
        BEFORE's sun azimuth (degrees clockwise from north; modulo 180 is enough).
    size : int
        Side of the kernels (px, odd).
    eps : float
        Tikhonov regularisation: how far the ratio is damped where the spatial frequency runs
        across the sun (where shading shows nothing of the relief).

    Returns
    -------
    along, across : numpy.ndarray
        The kernels, float32, ``size`` x ``size``.
    """
    if size % 2 == 0 or size < 3:
        raise ValueError(f"kernel size must be odd and at least 3 (got {size})")
    (dx, dy), (px, py) = _directions(azimuth_deg)
    n = 4 * size
    fy = np.fft.fftfreq(n)[:, None]
    fx = np.fft.fftfreq(n)[None, :]
    along = fx * dx + fy * dy
    across = fx * px + fy * py
    denom = along**2 + eps**2 * (fx**2 + fy**2)
    half = size // 2
    centre = n // 2
    yy, xx = np.mgrid[-half : half + 1, -half : half + 1]
    r = np.hypot(xx, yy) / (half + 1)
    taper = np.where(r < 1, 0.5 * (1 + np.cos(np.pi * r)), 0.0)
    out = []
    for numerator in (along * along, across * along):
        multiplier = np.divide(numerator, denom, out=np.zeros((n, n)), where=denom > 0)
        full = np.fft.fftshift(np.real(np.fft.ifft2(multiplier)))
        kernel = full[centre - half : centre + half + 1, centre - half : centre + half + 1]
        kernel = kernel * taper
        kernel = 0.5 * (kernel + kernel[::-1, ::-1])  # exactly symmetric: correlation = convolution
        out.append(kernel.astype(np.float32))
    return out[0], out[1]


@dataclass(frozen=True, eq=False)
class Reshading:
    """How the shading of BEFORE's relief changes under AFTER's sun, decided once per pair.

    The shading structure and its along- and across-sun parts are split in two bands: what
    the reduced images hold, computed once over the whole image (the across-sun integration
    needs a reach of hundreds of px there) and interpolated bilinearly, and the full-resolution
    detail (the level less the reduced level interpolated), filtered by the kernels' ``kernel``
    px. A
    tile's prediction thus reads only ``reach`` px around it.

    Attributes
    ----------
    method : str
        ``"sfs"`` (linear shape from shading of BEFORE) or ``"dtm"`` (hillshades of a DTM).
    azimuth_deg : float
        BEFORE's sun azimuth the across-sun kernel is built for (degrees).
    coef : numpy.ndarray
        Per 256-px block (anchored at the image origin), (rows, cols, k): the coefficients of
        BEFORE's shading structure, of its along-sun part and of its across-sun slope
        (``"sfs"``, k = 3), or the gain of the hillshade prediction (``"dtm"``, k = 1).
    params : ShadingParams
        The filters and limits used.
    factor : int
        The reduction of the reduced fields (``significance.COARSE``).
    base_small, level_small, along_small, across_small : numpy.ndarray or None
        Over the reduced grid (``"sfs"``): BEFORE's level blurred over ``params.scale``, the
        level itself, and the along- and across-sun parts of its structure (no-data
        filled).
    sun_before, sun_after : Sun or None
        The suns used (None: not known; ``azimuth_deg`` then estimated).
    azimuth_source : str
        Where ``azimuth_deg`` came from (a sun's ``source``, or ``"estimated"``).
    explained : float
        Share of the reduced residual's robust variance that the prediction removed.
    gsd_m : float or None
        Ground sample distance for the DTM's slopes (m/px; ``"dtm"`` only).
    """

    method: str
    azimuth_deg: float
    coef: np.ndarray
    params: ShadingParams
    factor: int
    base_small: np.ndarray | None = None
    level_small: np.ndarray | None = None
    along_small: np.ndarray | None = None
    across_small: np.ndarray | None = None
    sun_before: Sun | None = None
    sun_after: Sun | None = None
    azimuth_source: str = "estimated"
    explained: float = 0.0
    gsd_m: float | None = None

    @property
    def reach(self) -> int:
        """Pixels beyond a crop that its prediction reads: the sun kernels' half-width
        (``"sfs"``), or the blur of the level and the DTM gradient's pixel (``"dtm"``)."""
        if self.method == "dtm":
            return blur_reach(self.params.scale) + 1
        return self.params.kernel // 2

    def predict(
        self,
        level: np.ndarray,
        resid: np.ndarray,
        support: Support,
        origin: tuple[int, int],
        dtm: np.ndarray | None = None,
    ) -> np.ndarray:
        """The residual that the changed sun alone would leave over a tile array.

        Parameters
        ----------
        level : numpy.ndarray
            BEFORE mapped onto AFTER's brightness over the tile with its halo (zero where
            not valid).
        resid : numpy.ndarray
            AFTER - level over the same pixels; only its shape and type are used (the
            coefficients were fitted once per pair, so tiles agree).
        support : Support
            The tile's valid pixels.
        origin : tuple of int
            The array position (row, col) of the image origin: minus the window's offset.
        dtm : numpy.ndarray or None
            Heights (m) over the same pixels (``"dtm"`` only; NaN: none, no prediction).

        Returns
        -------
        numpy.ndarray
            The predicted residual, float32, zero where not valid; subtract it from ``resid``.
        """
        rows = np.arange(level.shape[0]) - origin[0]
        cols = np.arange(level.shape[1]) - origin[1]
        block_rows = _axis(rows, self.coef.shape[0], BLOCK)
        block_cols = _axis(cols, self.coef.shape[1], BLOCK)
        coef = [
            _bilinear(self.coef[..., j], block_rows, block_cols) for j in range(self.coef.shape[-1])
        ]
        if self.method == "dtm":
            if dtm is None:
                raise ValueError("a DTM re-shading needs the DTM over the tile")
            out = self._hillshade_change(level, support, dtm)
            out *= coef[0]
        else:
            up_rows = _axis(rows, self.level_small.shape[0], self.factor)
            up_cols = _axis(cols, self.level_small.shape[1], self.factor)
            detail = level - _bilinear(self.level_small, up_rows, up_cols)
            if support.mask is not None:
                detail[~support.mask] = 0.0
            out = level - _bilinear(self.base_small, up_rows, up_cols)
            out *= coef[0]
            kernels = sun_kernels(self.azimuth_deg, self.params.kernel, self.params.eps)
            for kernel, small, c in zip(
                kernels, (self.along_small, self.across_small), coef[1:], strict=True
            ):
                part = cv2.filter2D(detail, -1, kernel, borderType=cv2.BORDER_REFLECT)
                part += _bilinear(small, up_rows, up_cols)
                part *= c
                out += part
        if support.mask is not None:
            out[~support.mask] = 0.0
        return out.astype(resid.dtype, copy=False)

    def _hillshade_change(self, level: np.ndarray, support: Support, dtm: np.ndarray) -> np.ndarray:
        """Local level times (AFTER's hillshade / BEFORE's, each over its cosine) less one."""
        ratio = hillshade_ratio(dtm, self.gsd_m, self.sun_before, self.sun_after)
        mean = support.smoothed(level, self.params.scale)
        out = mean * (ratio - 1.0)
        out[~np.isfinite(out)] = 0.0
        return out.astype(np.float32)

    def as_dict(self) -> dict[str, Any]:
        """For summary.json "illumination": the method, the suns and where they came from, how
        far they differ, the median coefficients and the share of variance explained."""
        return {
            "method": self.method,
            "sun_before": _sun_dict(self.sun_before),
            "sun_after": _sun_dict(self.sun_after),
            "sun_change": None
            if self.sun_before is None or self.sun_after is None
            else sun_change(self.sun_before, self.sun_after),
            "azimuth_before_deg": round(self.azimuth_deg, 2),
            "azimuth_source": self.azimuth_source,
            "coefficients": dict(
                zip(
                    ("structure", "along_sun", "across_sun")
                    if self.method == "sfs"
                    else ("hillshade_gain",),
                    (round(float(v), 4) for v in np.median(self.coef, axis=(0, 1))),
                    strict=True,
                )
            ),
            "explained": round(self.explained, 4),
        }


def no_reshading_dict(sun_before: Sun | None, sun_after: Sun | None, why: str) -> dict[str, Any]:
    """summary.json "illumination" when nothing was modelled (method ``"none"``): the suns,
    how far they differ and why (``why``: a short phrase)."""
    return {
        "method": "none",
        "sun_before": _sun_dict(sun_before),
        "sun_after": _sun_dict(sun_after),
        "sun_change": None
        if sun_before is None or sun_after is None
        else sun_change(sun_before, sun_after),
        "reason": why,
    }


def _sun_dict(sun: Sun | None) -> dict[str, Any] | None:
    if sun is None:
        return None
    return {
        "azimuth_deg": round(sun.azimuth_deg, 2),
        "incidence_deg": round(sun.incidence_deg, 2),
        "source": sun.source,
    }


def hillshade_ratio(dtm: np.ndarray, gsd_m: float, before: Sun, after: Sun) -> np.ndarray:
    """Lambert hillshade of ``dtm`` (m, north-up, rows southward, ``gsd_m`` m/px) under
    ``after`` over that under ``before``, each divided by its flat-ground value (cosine of the
    incidence), clipped to 0-4; NaN where the DTM has none or BEFORE's ground faces away."""
    gy, gx = np.gradient(np.asarray(dtm, np.float64) / gsd_m)
    norm = np.sqrt(1.0 + gx * gx + gy * gy)

    def lit(sun: Sun) -> np.ndarray:
        (dx, dy), _ = _directions(sun.azimuth_deg)
        i = math.radians(sun.incidence_deg)
        return (math.cos(i) - math.sin(i) * (dx * gx + dy * gy)) / norm / math.cos(i)

    lit_b, lit_a = lit(before), np.maximum(lit(after), 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(lit_b > 0.05, lit_a / lit_b, np.nan)
    return np.clip(ratio, 0.0, 4.0).astype(np.float32)


@dataclass
class _Axis:
    """Linear interpolation between cell centres along one axis: for each pixel, the cells
    on either side and the weight of the second."""

    low: np.ndarray
    high: np.ndarray
    weight: np.ndarray


def _axis(pixels: np.ndarray, n_cells: int, cell: int) -> _Axis:
    """Image pixels ``pixels`` between the centres of cells ``cell`` px wide starting at the
    image origin (held constant beyond the outermost centres)."""
    at = np.clip((pixels + 0.5) / cell - 0.5, 0.0, n_cells - 1)
    low = np.minimum(np.floor(at).astype(np.intp), max(n_cells - 2, 0))
    high = np.minimum(low + 1, n_cells - 1)
    return _Axis(low, high, (at - low).astype(np.float32))


def _bilinear(grid: np.ndarray, rows: _Axis, cols: _Axis) -> np.ndarray:
    """``grid`` (per cell) at every pixel of the rows x cols array, float32."""
    grid = np.asarray(grid, np.float32)
    across = grid[:, cols.low] * (1 - cols.weight) + grid[:, cols.high] * cols.weight
    w = rows.weight[:, None]
    out = across[rows.low] * (1 - w)
    out += across[rows.high] * w
    return out


def plan_reshading(
    after_small: np.ndarray,
    before_small: np.ndarray,
    factor: int,
    sun_before: Sun | None,
    sun_after: Sun | None,
    have_dtm: bool,
    params: ShadingParams,
    *,
    phot: Photometry | None = None,
    dtm_small: np.ndarray | None = None,
    gsd_m: float | None = None,
) -> Reshading | None:
    """Decide once per pair how the changed sun is modelled, and fit the model's block
    coefficients on the reduced images.

    BEFORE's sun azimuth is the label's or option's where given, else estimated from the
    reduced level (``estimate_sun_azimuth``; modulo 180 is all the model needs). The
    coefficients are fitted free per block, so an unknown incidence or a sun known only
    roughly costs nothing: the suns decide whether to model at all and are recorded.

    Parameters
    ----------
    after_small : numpy.ndarray
        AFTER reduced ``factor`` times (NaN: no data).
    before_small : numpy.ndarray
        BEFORE reduced the same way and registered onto ``after_small`` (the pipeline's
        ``before_reg``).
    factor : int
        The reduction (``significance.COARSE``).
    sun_before, sun_after : Sun or None
        The suns, where known (labels or options).
    have_dtm : bool
        Whether a DTM will be given to ``Reshading.predict`` (used when both suns and
        ``gsd_m`` are known; else the shading is modelled from BEFORE alone).
    params : ShadingParams
        The filters and limits.
    phot : Photometry or None
        The pair's photometry (``photometry.fit_photometry`` of the same reduced images);
        None: fitted here.
    dtm_small : numpy.ndarray or None
        The DTM (m) reduced onto ``after_small``'s grid, for the DTM gain's fit; None: gain 1.
    gsd_m : float or None
        AFTER's ground sample distance (m/px), for the DTM's slopes.

    Returns
    -------
    Reshading or None
        None when nothing is worth modelling: disabled, the suns known and nearly the same
        (``params.min_change_deg``), or the model removes less than ``params.min_explained``
        of the reduced residual's variance (easy pairs stay as fast as without).
    """
    if not params.enabled:
        return None
    if sun_before is not None and sun_after is not None:
        if not params.apart(sun_change(sun_before, sun_after)["angle_deg"]):
            return None
    after = np.asarray(after_small, np.float32)
    before = np.asarray(before_small, np.float32)
    if phot is None:
        phot = fit_photometry(after, before, factor)
    height, width = before.shape
    per = max(1, BLOCK // factor)
    level = Photometry(phot.gain, phot.offset, per).level(
        before.copy(), Window(0, 0, width, height)
    )
    ok = np.isfinite(after) & np.isfinite(level)
    if ok.sum() < MIN_POINTS:
        return None
    support = Support(None if ok.all() else ok)
    level = _filled(level, ok)
    resid = np.where(ok, after - level, 0.0).astype(np.float32)
    if have_dtm and sun_before is not None and sun_after is not None and gsd_m:
        return _plan_dtm(
            resid, level, ok, support, factor, sun_before, sun_after, params, dtm_small, gsd_m
        )
    if sun_before is not None:
        azimuth, source = sun_before.azimuth_deg, sun_before.source
    else:
        azimuth, source = estimate_sun_azimuth(np.where(ok, level, np.nan))[0], "estimated"
    base = cv2.GaussianBlur(level, (0, 0), params.scale / factor, borderType=cv2.BORDER_REFLECT)
    structure = level - base
    along, across = (
        cv2.filter2D(structure, -1, kernel, borderType=cv2.BORDER_REFLECT)
        for kernel in sun_kernels(azimuth, params.kernel, params.eps)
    )
    coef, explained = _fit_blocks(resid, [structure, along, across], ok, per)
    if explained < params.min_explained:
        return None
    return Reshading(
        "sfs",
        azimuth,
        coef,
        params,
        factor,
        base,
        level,
        along,
        across,
        sun_before,
        sun_after,
        source,
        explained,
    )


def _plan_dtm(
    resid: np.ndarray,
    level: np.ndarray,
    ok: np.ndarray,
    support: Support,
    factor: int,
    sun_before: Sun,
    sun_after: Sun,
    params: ShadingParams,
    dtm_small: np.ndarray | None,
    gsd_m: float,
) -> Reshading | None:
    """The DTM's hillshade model, its gain per block fitted where the reduced DTM is given."""
    per = max(1, BLOCK // factor)
    ny, nx = math.ceil(level.shape[0] / per), math.ceil(level.shape[1] / per)
    gain = np.ones((ny, nx, 1), np.float32)
    explained = 0.0
    if dtm_small is not None:
        ratio = hillshade_ratio(dtm_small, gsd_m * factor, sun_before, sun_after)
        mean = support.smoothed(level, params.scale / factor)
        basis = np.where(np.isfinite(ratio), mean * (ratio - 1.0), 0.0).astype(np.float32)
        coef, explained = _fit_blocks(resid, [basis], ok & np.isfinite(ratio), per)
        gain = coef
    return Reshading(
        "dtm",
        sun_before.azimuth_deg,
        gain,
        params,
        factor,
        sun_before=sun_before,
        sun_after=sun_after,
        azimuth_source=sun_before.source,
        explained=explained,
        gsd_m=gsd_m,
    )


def _filled(image: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """``image`` with its no-data filled by the valid pixels' normalised blur (then their
    median), so that fields interpolated from it do not drop to zero at no-data edges."""
    if ok.all():
        return image.astype(np.float32)
    data = np.where(ok, image, 0.0).astype(np.float32)
    weight = ok.astype(np.float32)
    num = cv2.GaussianBlur(data, (0, 0), 4.0, borderType=cv2.BORDER_REFLECT)
    den = cv2.GaussianBlur(weight, (0, 0), 4.0, borderType=cv2.BORDER_REFLECT)
    fill = np.where(den > 1e-3, num / np.maximum(den, 1e-3), np.median(image[ok]))
    return np.where(ok, image, fill).astype(np.float32)


def _fit_blocks(
    resid: np.ndarray, basis: list[np.ndarray], ok: np.ndarray, per: int
) -> tuple[np.ndarray, float]:
    """Per block of ``per`` x ``per`` reduced px, the coefficients of ``basis`` (plus an
    intercept, not returned) that fit ``resid``: Tukey-biweight IRLS started from the whole
    image's robust fit. Blocks with too few valid pixels take the median of the others; a
    3 x 3 median over blocks outvotes blocks that a large change took over. Also the share of
    the residual's robust variance the bilinear coefficients remove.

    Blocks are fitted, and the share measured, on every ``FIT_STRIDE``-th pixel of every
    ``FIT_STRIDE``-th row: four smooth terms need far fewer points than a block holds (256 of
    its 1,024 at 16k), and the fit costs a quarter."""
    h, w = resid.shape
    ny, nx = math.ceil(h / per), math.ceil(w / per)
    k = len(basis)
    stride = FIT_STRIDE if per % FIT_STRIDE == 0 else 1
    cell = per // stride
    sampled = ok[::stride, ::stride]

    def blocks(image: np.ndarray) -> np.ndarray:
        sample = image[::stride, ::stride]
        padded = np.zeros((ny * cell, nx * cell), np.float64)
        padded[: sample.shape[0], : sample.shape[1]] = np.where(sampled, sample, 0.0)
        return padded.reshape(ny, cell, nx, cell).transpose(0, 2, 1, 3).reshape(ny * nx, -1)

    y = blocks(resid)
    valid = blocks(ok.astype(np.float64)) > 0
    x = np.stack([blocks(v) for v in basis] + [valid.astype(np.float64)], axis=-1)
    # the whole image's robust fit (on a sample): the start of every block's iterations
    step = max(1, valid.size // 250_000)
    start = _irls(
        x.reshape(-1, k + 1)[None, ::step],
        y.reshape(1, -1)[:, ::step],
        valid.reshape(1, -1)[:, ::step],
        None,
    )[0]
    coef = _irls(x, y, valid, np.broadcast_to(start, (ny * nx, k + 1)).copy())
    enough = valid.sum(axis=1) >= MIN_POINTS // stride**2
    coef[~enough] = np.median(coef[enough], axis=0) if enough.any() else start
    grid = coef[:, :k].reshape(ny, nx, k).astype(np.float32)
    if ny >= 3 and nx >= 3:
        grid = np.stack(
            [cv2.medianBlur(np.ascontiguousarray(grid[..., j]), 3) for j in range(k)], axis=-1
        )
    rows = _axis(np.arange(0, h, stride) * 1.0, ny, per)
    cols = _axis(np.arange(0, w, stride) * 1.0, nx, per)
    pred = sum(_bilinear(grid[..., j], rows, cols) * basis[j][::stride, ::stride] for j in range(k))
    sample = resid[::stride, ::stride][sampled]
    before = _robust_var(sample)
    after = _robust_var(sample - pred[sampled])
    return grid, float(1.0 - after / before) if before > 0 else 0.0


def _irls(x: np.ndarray, y: np.ndarray, ok: np.ndarray, start: np.ndarray | None) -> np.ndarray:
    """Batched Tukey-biweight regression of ``y`` (blocks, n) on ``x`` (blocks, n, k), over
    the ``ok`` points; ``start`` the first coefficients (None: least squares first). Blocks
    are independent: they are fitted ``IRLS_CHUNK`` at a time, which bounds the memory of the
    weighted copies (a 16k image has 4,096 blocks of 256 sampled reduced px)."""
    if x.shape[0] > IRLS_CHUNK:
        parts = range(0, x.shape[0], IRLS_CHUNK)
        return np.concatenate(
            [
                _irls_chunk(
                    x[i : i + IRLS_CHUNK],
                    y[i : i + IRLS_CHUNK],
                    ok[i : i + IRLS_CHUNK],
                    None if start is None else start[i : i + IRLS_CHUNK],
                )
                for i in parts
            ]
        )
    return _irls_chunk(x, y, ok, start)


def _irls_chunk(
    x: np.ndarray, y: np.ndarray, ok: np.ndarray, start: np.ndarray | None
) -> np.ndarray:
    """:func:`_irls` on blocks that fit in memory together."""
    weight = ok.astype(np.float64)
    coef = start
    for _ in range(ROUNDS + (start is None)):
        if coef is not None:
            r = y - np.matmul(x, coef[..., None])[..., 0]
            scale = 1.4826 * _masked_median(np.abs(r), ok)
            u = r / (TUKEY * np.maximum(scale, 1e-12)[:, None])
            weight = np.where(ok & (np.abs(u) < 1), (1 - u * u) ** 2, 0.0)
        xw = (x * weight[..., None]).transpose(0, 2, 1)  # batched BLAS, not einsum's loops
        gram = np.matmul(xw, x)
        rhs = np.matmul(xw, y[..., None])[..., 0]
        ridge = 1e-9 * np.trace(gram, axis1=1, axis2=2) + 1e-12
        gram += ridge[:, None, None] * np.eye(x.shape[-1])
        coef = np.linalg.solve(gram, rhs[..., None])[..., 0]
    return coef


def _masked_median(values: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """Median of each row of ``values`` over its ``ok`` entries (0 where none): the rows with
    one count of entries partitioned together (most blocks are whole), the rest above them."""
    count = ok.sum(axis=1)
    out = np.zeros(values.shape[0], np.float64)
    filled = np.where(ok, values, np.inf)
    for c in np.unique(count[count > 0]):
        rows = np.flatnonzero(count == c)
        lo, hi = (c - 1) // 2, c // 2
        part = np.partition(filled[rows], (lo, hi), axis=1)
        out[rows] = 0.5 * (part[:, lo] + part[:, hi])
    return out


def _robust_var(values: np.ndarray) -> float:
    """Square of the robust sigma (1.4826 MAD) of ``values``."""
    if values.size == 0:
        return 0.0
    return float((1.4826 * np.median(np.abs(values - np.median(values)))) ** 2)
