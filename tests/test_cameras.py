"""Camera models: GSD against published figures, geometry on a sphere, PSF, noise, visibility."""

from __future__ import annotations

import math

import numpy as np
import pytest

from orbitscout.core.bodies import MARS, MOON
from orbitscout.core.errors import OrbitscoutError
from orbitscout.observe.cameras import CAMERAS, get_camera

# (camera, published GSD m/px, altitude m, source) -- docs/facts.md
PUBLISHED = [
    ("cassis", 4.6, 400e3, "Thomas et al. 2017: ~4.5-4.6 m/px from 400 km"),
    ("hirise", 0.30, 300e3, "McEwen et al. 2007: 0.3 m/px from 300 km"),
    ("ctx", 6.0, 300e3, "Malin et al. 2007: ~6 m/px from ~300 km"),
    ("nac", 0.5, 50e3, "Robinson et al. 2010: 0.5 m/px from 50 km"),
]


@pytest.mark.parametrize("name,gsd,alt,source", PUBLISHED)
def test_gsd_at_published_altitude(name, gsd, alt, source):
    cam = get_camera(name)
    assert cam.gsd(alt) == pytest.approx(gsd, rel=0.05), source
    assert cam.gsd(cam.nominal_altitude_m) == pytest.approx(cam.published_gsd_m, rel=0.05)


def test_public_api_and_bodies():
    assert set(CAMERAS) == {"cassis", "hirise", "ctx", "nac"}
    assert get_camera("CaSSIS").body is MARS
    assert get_camera("hirise").body is MARS and get_camera("ctx").body is MARS
    assert get_camera("nac").body is MOON
    assert get_camera("hirise").ifov_rad == pytest.approx(1.0e-6, rel=1e-3)  # 1 urad
    assert get_camera("nac").ifov_rad == pytest.approx(10.0e-6, rel=0.01)  # 10 urad
    assert get_camera("cassis").detector_cols == 2048
    # CaSSIS swath ~9.4 km from 400 km (docs/facts.md)
    assert get_camera("cassis").swath_m() == pytest.approx(9.4e3, rel=0.03)
    with pytest.raises(OrbitscoutError):
        get_camera("mastcam")


def test_off_nadir_stretch_on_a_sphere():
    cam = get_camera("cassis")
    rng0 = cam.slant_range_m(400e3, 0.0)
    assert rng0 == pytest.approx(400e3)
    r20 = cam.slant_range_m(400e3, 20.0)
    assert r20 > 400e3 / math.cos(math.radians(20.0))  # the ground curves away
    cross, along = cam.footprint(r20, 20.0)
    assert along == pytest.approx(r20 * cam.ifov_rad)
    e = cam.emission_deg(r20, 20.0)
    assert e > 20.0  # emission on a sphere exceeds the off-nadir angle
    assert cross == pytest.approx(along / math.cos(math.radians(e)))
    assert cam.gsd(r20, 20.0) == cross > cam.gsd(400e3)
    with pytest.raises(OrbitscoutError):
        cam.slant_range_m(400e3, 80.0)  # misses Mars from 400 km


@pytest.mark.parametrize("name", list(CAMERAS))
def test_psf_kernel(name):
    cam = get_camera(name)
    k1 = cam.psf_kernel(1)
    k4 = cam.psf_kernel(4)
    for k in (k1, k4):
        assert k.sum() == pytest.approx(1.0)
        assert k.shape[0] % 2 == 1 and np.allclose(k, k.T) and np.allclose(k, k[::-1, ::-1])
        assert k.max() == k[k.shape[0] // 2, k.shape[1] // 2]
    # sampled 4x finer, the same PSF spans ~4x more kernel cells
    w1 = (k1 > 0.01 * k1.max()).sum(axis=0).max()
    w4 = (k4 > 0.01 * k4.max()).sum(axis=0).max()
    assert 2.5 * w1 <= w4 <= 5 * w1 + 2
    # HiRISE is near the diffraction limit (lambda/D ~ 1.4 IFOV), CaSSIS is not
    if name == "hirise":
        assert cam.airy_first_zero_px() > 1.5
    if name == "cassis":
        assert cam.airy_first_zero_px() < 0.6


def test_noise_statistics_and_quantisation():
    cam = get_camera("cassis")
    rng = np.random.default_rng(1)
    sig = np.full((256, 256), 10_000.0, dtype=np.float32)
    dn = cam.noise(sig, rng)
    assert dn.dtype == np.uint16
    expected_sd = math.sqrt(10_000 + cam.read_noise_e**2) / cam.gain_e_per_dn
    assert dn.astype(float).std() == pytest.approx(expected_sd, rel=0.05)
    assert dn.astype(float).mean() == pytest.approx(10_000 / cam.gain_e_per_dn, rel=0.01)
    ctx = get_camera("ctx")
    bright = ctx.noise(np.full((8, 8), 1e9, dtype=np.float32), rng)
    assert bright.dtype == np.uint8 and bright.max() == 255  # saturates, never wraps


def test_visibility():
    cassis, hirise, nac = get_camera("cassis"), get_camera("hirise"), get_camera("nac")
    rover = cassis.visibility(3.0, contrast=2.0)  # white rover on 0.2-albedo ground
    assert rover.visible and not rover.resolved  # a pale speck about a pixel wide
    assert rover.pixels_covered == pytest.approx((3.0 / cassis.gsd(400e3)) ** 2, rel=1e-6)
    assert not cassis.visibility(0.3, contrast=1.0).visible
    assert hirise.visibility(3.0, contrast=2.0).resolved
    assert hirise.visibility(3.0).pixels_across == pytest.approx(10.0, rel=0.01)
    # Vikram's largest debris, ~1 m: ~2 x 2 NAC pixels (docs/facts.md)
    assert nac.visibility(1.0).pixels_across == pytest.approx(2.0, rel=0.01)
    # the higher the orbit, the fewer pixels
    assert (
        cassis.visibility(20.0, altitude_m=800e3).pixels_covered
        < cassis.visibility(20.0).pixels_covered
    )
