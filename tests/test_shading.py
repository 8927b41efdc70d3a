"""Re-shading (``orbitscout.detect.shading``): a random relief with a power-law spectrum, albedo
texture and noise, lit by Lambert under two suns 10-15 degrees apart. The prediction from BEFORE
removes much of the shading residual, keeps an object that appeared or vanished, gives the same
regions tiled and whole, and the sun's azimuth is recovered from the image alone."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from orbitscout.core.illumination import Sun
from orbitscout.core.window import Window
from orbitscout.detect import photometry, shading, tiles
from orbitscout.detect.parameters import DetectParams, ShadingParams
from orbitscout.detect.significance import COARSE, Support

SIZE = 512
SUN_BEFORE = (50.0, 90.0)  # (incidence, azimuth) degrees
SUN_AFTER = (60.0, 105.0)


def _power_field(n: int, beta: float, rng: np.random.Generator) -> np.ndarray:
    """A Gaussian random field with power spectrum |f|^-beta (rolled off beyond n / 2 px)."""
    fy = np.fft.fftfreq(n)[:, None]
    fx = np.fft.fftfreq(n)[None, :]
    amp = (np.hypot(fx, fy) + 2.0 / n) ** (-beta / 2)
    amp[0, 0] = 0.0
    noise = rng.normal(size=(n, n)) + 1j * rng.normal(size=(n, n))
    field = np.fft.ifft2(amp * noise).real
    return field / field.std()


def _lambert(albedo: np.ndarray, height: np.ndarray, incidence: float, azimuth: float):
    gy, gx = np.gradient(height)
    i, a = np.radians(incidence), np.radians(azimuth)
    lit = np.cos(i) - np.sin(i) * (np.sin(a) * gx - np.cos(a) * gy)  # rows run south
    return albedo * np.clip(lit / np.sqrt(1 + gx * gx + gy * gy), 0, None)


def _scene(seed=0, sun_before=SUN_BEFORE, sun_after=SUN_AFTER, objects=(), noise=0.004):
    """AFTER and BEFORE (float32 DN; AFTER with another gain and offset); ``objects``:
    (x, y, radius px, relative albedo change, "before" or "after": where it is)."""
    rng = np.random.default_rng(seed)
    height = _power_field(SIZE, 4.0, rng)
    gy, gx = np.gradient(height)
    height *= 0.1 / np.hypot(gx, gy).std()  # rms slope ~6 degrees
    albedo = 0.25 * (1 + 0.07 * _power_field(SIZE, 3.0, rng))
    looks = {"before": albedo.copy(), "after": albedo.copy()}
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    for x, y, radius, change, where in objects:
        looks[where] *= 1 + change * np.clip(radius + 0.5 - np.hypot(xx - x, yy - y), 0, 1)
    before = _lambert(looks["before"], height, *sun_before) * 4000
    after = _lambert(looks["after"], height, *sun_after) * 4000 * 1.2 + 30
    before += rng.normal(0, noise * 4000, before.shape)
    after += rng.normal(0, noise * 4000 * 1.2, after.shape)
    return after.astype(np.float32), before.astype(np.float32)


def _reduced(image: np.ndarray) -> np.ndarray:
    shape = (image.shape[1] // COARSE, image.shape[0] // COARSE)
    return cv2.resize(image, shape, interpolation=cv2.INTER_AREA)


def _plan(after, before, suns=(None, None), params=None):
    a_small, b_small = _reduced(after), _reduced(before)
    phot = photometry.fit_photometry(a_small, b_small, COARSE)
    params = ShadingParams() if params is None else params
    plan = shading.plan_reshading(a_small, b_small, COARSE, *suns, False, params, phot=phot)
    return plan, phot


def _residuals(after, before, plan, phot):
    level = phot.level(before.copy(), Window(0, 0, SIZE, SIZE))
    resid = after - level
    return resid, resid - plan.predict(level, resid, Support(None), (0, 0))


def _robust_var(values: np.ndarray) -> float:
    return float((1.4826 * np.median(np.abs(values - np.median(values)))) ** 2)


INNER = (slice(64, -64), slice(64, -64))


@pytest.mark.parametrize("known", [False, True])
def test_prediction_removes_most_of_the_shading_residual(known):
    after, before = _scene()
    clean_after, clean_before = _scene(noise=0.0)
    suns = (
        (Sun(SUN_BEFORE[1], SUN_BEFORE[0]), Sun(SUN_AFTER[1], SUN_AFTER[0]))
        if known
        else (None, None)
    )
    plan, phot = _plan(after, before, suns)
    assert plan is not None and plan.method == "sfs"
    assert plan.azimuth_deg == pytest.approx(90.0, abs=0.01 if known else 4.0)
    resid, left = _residuals(after, before, plan, phot)
    # the shading part of the residual: the noise-free scene's, with the same prediction
    clean, clean_left = _residuals(clean_after, clean_before, plan, phot)
    ratio = _robust_var(clean_left[INNER]) / _robust_var(clean[INNER])
    # measured 0.48 (albedo texture and the across-sun directions shading cannot show stay)
    assert ratio < 0.6
    assert _robust_var(left[INNER]) < 0.8 * _robust_var(resid[INNER])
    summary = plan.as_dict()
    assert summary["method"] == "sfs" and 0.2 < summary["explained"] < 1
    assert summary["coefficients"]["across_sun"] > 0.1  # the sun turned by +15 degrees
    if known:
        assert summary["sun_change"]["azimuth_deg"] == 15.0
        assert summary["sun_before"]["source"] == "option"
    else:
        assert summary["azimuth_source"] == "estimated" and summary["sun_change"] is None


def test_no_model_when_the_sun_did_not_change():
    after, before = _scene(sun_after=SUN_BEFORE)
    same = Sun(SUN_BEFORE[1], SUN_BEFORE[0])
    assert _plan(after, before, (same, Sun(SUN_BEFORE[1] + 0.3, SUN_BEFORE[0])))[0] is None
    assert _plan(after, before)[0] is None  # nothing to explain: the fit removes under 5 %
    assert _plan(*_scene(), params=ShadingParams(enabled=False))[0] is None


def test_suns_apart_only_when_both_are_known_and_differ_enough():
    params = ShadingParams(min_change_deg=2.0)
    assert params.apart(2.0) and params.apart(15.0)
    assert not params.apart(1.9)
    assert not params.apart(None)  # unknown suns are not known to differ


@pytest.mark.parametrize("where", ["after", "before"])
def test_an_appeared_or_vanished_object_survives_the_prediction(where):
    objects = [(200.0, 300.0, 6.0, -0.5, where), (380.0, 150.0, 4.0, 0.6, where)]
    after, before = _scene(objects=objects)
    plan, phot = _plan(after, before)
    resid, left = _residuals(after, before, plan, phot)
    plain_after, plain_before = _scene()
    plain, plain_left = _residuals(plain_after, plain_before, plan, phot)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    for x, y, radius, _, _ in objects:
        disc = np.hypot(xx - x, yy - y) <= radius
        # the object's own residual: with it less without it, before and after the prediction
        kept = np.sum((left - plain_left)[disc] ** 2) / np.sum((resid - plain)[disc] ** 2)
        assert 0.75 < kept < 1.33, (where, x, y, kept)


def test_tiled_and_whole_runs_agree_with_reshading():
    objects = [(256.0, 256.0, 3.0, -0.6, "before"), (100.0, 400.0, 2.0, 0.8, "after")]
    after, before = _scene(objects=objects, noise=0.002)
    plan, phot = _plan(after, before)
    assert plan is not None

    tiled, whole = (
        tiles.detect_changes(
            _reader(after), _reader(before), phot, SIZE, SIZE, tile=tile, reshading=plan, threads=1
        ).regions
        for tile in (256, None)
    )
    assert whole.seeded.sum() >= 1 and whole.seeded.sum() == tiled.seeded.sum()
    # regions touching a tile's border are kept by the tiled run: compare the candidates
    found = [np.flatnonzero(r.seeded)[np.lexsort(r.bbox[r.seeded].T[::-1])] for r in (tiled, whole)]
    np.testing.assert_array_equal(tiled.bbox[found[0]], whole.bbox[found[1]])
    for key in ("n", "r", "rr", "wx"):
        np.testing.assert_allclose(tiled.sums[key][found[0]], whole.sums[key][found[1]], rtol=1e-5)
    np.testing.assert_allclose(tiled.peak[found[0]], whole.peak[found[1]], rtol=1e-5)


def _reader(image: np.ndarray):
    def read(w: Window) -> np.ndarray:
        return image[w.row_off : w.row_off + w.height, w.col_off : w.col_off + w.width].copy()

    return read


def test_changes_stand_out_more_once_the_shading_is_modelled():
    # two objects appeared and two vanished, 6 px across, 30 % albedo change
    objects = [
        (150.0, 150.0, 3.0, -0.3, "after"),
        (380.0, 360.0, 3.0, 0.3, "after"),
        (250.0, 300.0, 3.0, -0.3, "before"),
        (400.0, 100.0, 3.0, 0.3, "before"),
    ]
    after, before = _scene(seed=1, objects=objects, noise=0.002)
    plan, phot = _plan(after, before)
    # a little of the structure damping: the model, not kappa, carries the sun's change
    params = DetectParams(kappa=0.1)
    peaks = []
    for reshading in (None, plan):
        regions = tiles.detect_changes(
            _reader(after),
            _reader(before),
            phot,
            SIZE,
            SIZE,
            params=params,
            reshading=reshading,
            threads=1,
        ).regions
        boxes, found = regions.bbox[regions.seeded], regions.peak[regions.seeded]
        near = [
            [
                k
                for k, (x0, y0, x1, y1) in enumerate(boxes)
                if x0 - 2 <= x <= x1 + 2 and y0 - 2 <= y <= y1 + 2
            ]
            for x, y, *_ in objects
        ]
        peaks.append([float(found[k].max()) if k else 0.0 for k in near])
        assert len(boxes) == sum(map(bool, near))  # nothing else is found
    without, with_ = peaks
    # measured: 3 of 4 found without, all 4 with, 1.02-1.21 x as significant
    assert all(with_) and sum(map(bool, without)) < 4
    gains = [w / o for o, w in zip(without, with_, strict=True) if o]
    assert min(gains) > 1.0 and np.median(gains) > 1.1, peaks


@pytest.mark.parametrize("azimuth", [30.0, 75.0, 135.0, 160.0])
def test_sun_azimuth_estimated_from_the_image(azimuth):
    _, before = _scene(seed=3, sun_before=(55.0, azimuth))
    estimate, confidence = shading.estimate_sun_azimuth(before)
    error = (estimate - azimuth + 90.0) % 180.0 - 90.0
    assert abs(error) < 4.0 and confidence > 0.2
    # an isotropic texture has no direction to speak of
    flat = np.random.default_rng(0).normal(size=(SIZE, SIZE))
    assert shading.estimate_sun_azimuth(flat)[1] < 0.05


def test_kernels_are_symmetric_and_turn_shading_across_the_sun():
    along, across = shading.sun_kernels(90.0, 65, 0.3)
    np.testing.assert_array_equal(across, across[::-1, ::-1])
    np.testing.assert_array_equal(along, along[::-1, ::-1])
    # a sun in the east: the across-sun slope of a relief is its north-south slope
    rng = np.random.default_rng(1)
    height = _power_field(256, 4.0, rng)
    gy, gx = np.gradient(height)
    turned = cv2.filter2D((-gx).astype(np.float32), -1, across, borderType=cv2.BORDER_REFLECT)
    inner = (slice(48, -48), slice(48, -48))
    assert np.corrcoef(turned[inner].ravel(), -gy[inner].ravel())[0, 1] > 0.7


def test_a_dtm_predicts_the_reshading():
    rng = np.random.default_rng(5)
    height = _power_field(SIZE, 4.0, rng)
    gy, gx = np.gradient(height)
    height *= 0.1 / np.hypot(gx, gy).std()  # metres, at 1 m/px
    albedo = 0.25 * (1 + 0.07 * _power_field(SIZE, 3.0, rng))
    before = (_lambert(albedo, height, *SUN_BEFORE) * 4000).astype(np.float32)
    after = (_lambert(albedo, height, *SUN_AFTER) * 4800 + 30).astype(np.float32)
    suns = (Sun(SUN_BEFORE[1], SUN_BEFORE[0]), Sun(SUN_AFTER[1], SUN_AFTER[0]))
    a_small, b_small = _reduced(after), _reduced(before)
    phot = photometry.fit_photometry(a_small, b_small, COARSE)
    dtm_small = _reduced(height.astype(np.float32))
    plan = shading.plan_reshading(
        a_small,
        b_small,
        COARSE,
        *suns,
        True,
        ShadingParams(),
        phot=phot,
        dtm_small=dtm_small,
        gsd_m=1.0,
    )
    assert plan is not None and plan.method == "dtm"
    level = phot.level(before.copy(), Window(0, 0, SIZE, SIZE))
    resid = after - level
    left = resid - plan.predict(level, resid, Support(None), (0, 0), dtm=height)
    # measured 0.39: the photometry's block gain already took a share of the contrast change
    assert _robust_var(left[INNER]) < 0.5 * _robust_var(resid[INNER])
    assert plan.as_dict()["coefficients"]["hillshade_gain"] > 0.3


def _structure(image: np.ndarray) -> np.ndarray:
    """The image over its mean, less its blur over 10 px: relative shading structure."""
    relative = image / image.mean()
    return relative - cv2.GaussianBlur(relative, (0, 0), 10.0, borderType=cv2.BORDER_REFLECT)


@pytest.mark.parametrize(
    "sun_b, sun_a",
    [((40.0, 90.0), (50.0, 90.0)), ((50.0, 90.0), (50.0, 120.0)), ((55.0, 80.0), (40.0, 110.0))],
)
def test_shading_change_is_how_much_another_sun_redraws_relief(sun_b, sun_a):
    # gentle relief of one albedo: all its structure is shading
    height = _power_field(SIZE, 4.0, np.random.default_rng(4))
    gy, gx = np.gradient(height)
    height *= 0.03 / np.hypot(gx, gy).std()
    flat = np.ones((SIZE, SIZE))
    looks = [_structure(_lambert(flat, height, *sun))[INNER] for sun in (sun_b, sun_a)]
    weaker = looks[0] if sun_b[0] <= sun_a[0] else looks[1]
    measured = np.std(looks[1] - looks[0]) / np.std(weaker)
    predicted = shading.shading_change(Sun(sun_b[1], sun_b[0]), Sun(sun_a[1], sun_a[0]))
    assert predicted == pytest.approx(measured, rel=0.15)
    assert shading.shading_change(Sun(90.0, 50.0), Sun(90.0, 50.0)) == 0.0


def test_shading_share_tells_relief_from_albedo():
    rng = np.random.default_rng(5)
    height = _power_field(SIZE, 4.0, rng)
    gy, gx = np.gradient(height)
    height *= 0.05 / np.hypot(gx, gy).std()
    relief = _lambert(np.ones((SIZE, SIZE)), height, 50.0, 90.0)
    albedo = 1 + 0.05 * _power_field(SIZE, 3.0, rng)
    painted = _lambert(albedo, np.zeros((SIZE, SIZE)), 50.0, 90.0)
    assert shading.shading_share(relief, 90.0) > 0.7
    # the same relief with a sun from the north shows its shading across the east sun
    assert shading.shading_share(relief, 0.0) < 0.05
    # and lit from the north-east, its shading lies along that sun, across the south-east
    diagonal = _lambert(np.ones((SIZE, SIZE)), height, 50.0, 45.0)
    assert shading.shading_share(diagonal, 45.0) > 0.7
    assert shading.shading_share(diagonal, 135.0) < 0.05
    assert shading.shading_share(painted, 90.0) < 0.1
    both = shading.shading_share(relief + painted - 1.0, 90.0)
    assert 0.2 < both < shading.shading_share(relief, 90.0)
