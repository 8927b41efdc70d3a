"""Photometric normalisation: block fits, their smoothing and the interpolated fields."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from rasterio.windows import Window

from orbitscout.core.registration import Registration
from orbitscout.detect import photometry, register


def _pair(shape, gain, offset, seed=0):
    rng = np.random.default_rng(seed)
    before = rng.normal(500, 80, shape).astype(np.float32)
    after = (gain * before + offset + rng.normal(0, 2, shape)).astype(np.float32)
    return after, before


def test_gain_and_offset_recovered_despite_changes():
    after, before = _pair((256, 320), 1.37, -42.0)
    rng = np.random.default_rng(1)
    changed = rng.random(after.shape) < 0.1  # a tenth of the ground changed, strongly
    after[changed] += rng.choice([-300.0, 300.0], int(changed.sum()))
    phot = photometry.fit_photometry(after, before, factor=8)
    assert phot.gain.shape == (8, 10)
    assert np.allclose(phot.gain, 1.37, atol=0.005)
    assert np.allclose(phot.offset, -42.0, atol=3.0)


def test_a_block_taken_over_by_change_is_outvoted():
    after, before = _pair((96, 96), 1.0, 0.0)
    after[32:64, 32:64] = 2.0 * before[32:64, 32:64] + 900  # the centre block changed whole
    phot = photometry.fit_photometry(after, before, factor=8)
    assert phot.gain[1, 1] == pytest.approx(1.0, abs=0.01)


def test_the_fields_do_not_depend_on_where_zero_brightness_is():
    # bland blocks at different levels: each block's gain and offset trade off, so its fit
    # scatters along that line; a constant added to both images (a dark level) must shift
    # the mapped BEFORE by that constant and change nothing else (separate medians of the
    # blocks' gains and offsets did not: 7 and 26 DN here)
    rng = np.random.default_rng(1)
    levels = rng.uniform(3000.0, 6000.0, (6, 6))
    before = (np.kron(levels, np.ones((32, 32))) + rng.normal(0, 8, (192, 192))).astype(np.float32)
    after = (before + rng.normal(0, 8, before.shape)).astype(np.float32)
    window = Window(0, 0, 192, 192)
    mapped = []
    for dark in (0.0, 1000.0, -2500.0):
        phot = photometry.fit_photometry(after + dark, before + dark, 8)
        assert np.ptp(phot.gain) > 0.02  # the fits do scatter
        mapped.append(phot.level(before + dark, window) - dark)
    for shifted in mapped[1:]:
        assert np.abs(shifted - mapped[0]).max() < 0.05


def test_blocks_without_data_take_their_neighbours_fit():
    after, before = _pair((96, 96), 0.8, 10.0)
    before[:, 64:] = np.nan
    phot = photometry.fit_photometry(after, before, factor=8)
    assert np.isfinite(phot.gain).all()
    assert np.allclose(phot.gain, 0.8, atol=0.01)


def test_rows_too_short_or_flat_fall_back():
    x = np.ones((2, 40), np.float32)
    y = 3.0 * x + 5.0
    ok = np.ones((2, 40), bool)
    ok[0, 10:] = False  # ten points: below MIN_POINTS
    gain, offset = photometry._robust_lines(x, y, ok)
    assert gain[0] == 1.0 and offset[0] == pytest.approx(7.0)  # median of y - x
    assert offset[1] == pytest.approx(7.0)  # no spread in x: the offset at gain 1


def test_fields_are_bilinear_between_block_centres():
    phot = photometry.Photometry(np.array([[1.0, 3.0], [5.0, 7.0]]), np.zeros((2, 2)), block=4)
    gain, _ = phot.fields(Window(0, 0, 8, 8))
    # centres at pixels 1.5 and 5.5; constant beyond them
    assert gain[0, 0] == pytest.approx(1.0)
    assert gain[0, 7] == pytest.approx(3.0)
    assert gain[7, 0] == pytest.approx(5.0)
    assert gain[3, 3] == pytest.approx(1.0 + 2.0 * 0.375 + 4.0 * 0.375)  # (3 - 1.5) / 4
    # a window gets the same values as the whole
    part, _ = phot.fields(Window(3, 2, 4, 5))
    assert np.allclose(part, gain[2:7, 3:7])


def _textured_pair(scales, gain=1.3, offset=40.0, shift=(5.3, -3.6), seed=3):
    """BEFORE: texture summed over Gaussian ``scales`` (px); AFTER: the same ground moved by
    ``shift`` (a sub-pixel, sub-cell misregistration), through a gain and an offset; both
    reduced 8 x by block means, as ``find`` reads them."""
    noise = np.random.default_rng(seed).normal(size=(1024, 1024)).astype(np.float32)
    ground = sum(cv2.GaussianBlur(noise, (0, 0), s) * s for s in scales)
    before = (1000 + 60 * ground / ground.std()).astype(np.float32)
    reg = Registration(*shift, 0.0, 0.0, (511.5, 511.5), 9)
    matrix = np.array(reg.after_to_before().column_vectors).T
    moved = cv2.warpAffine(
        before,
        matrix,
        (1024, 1024),
        flags=cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_REFLECT,
    )
    after = gain * moved + offset

    def reduce(image):
        return image.reshape(128, 8, 128, 8).mean(axis=(1, 3)).astype(np.float32)

    return reg, reduce(after), reduce(before)


def test_reduced_before_registered_by_interpolation_keeps_the_gain():
    reg, after_small, before_small = _textured_pair((2.0, 6.0, 24.0))
    assert register.reduced_is_smooth(before_small)
    phot = photometry.fit_photometry(after_small, reg.apply_reduced(before_small, 8), 8)
    assert np.median(phot.gain) == pytest.approx(1.3, rel=0.01)


def test_texture_too_fine_to_interpolate_is_recognised():
    # texture independent from pixel to pixel: interpolated cells lose most of it, and the
    # gain fitted against them comes out far too low; find reads BEFORE registered instead
    reg, after_small, before_small = _textured_pair((0.5,))
    assert not register.reduced_is_smooth(before_small)
    phot = photometry.fit_photometry(after_small, reg.apply_reduced(before_small, 8), 8)
    assert np.median(phot.gain) < 1.3 * 0.9
