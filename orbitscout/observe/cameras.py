"""Camera models of the orbital imagers orbitscout simulates and plans for: CaSSIS (ExoMars TGO),
HiRISE and CTX (MRO) and the LROC Narrow Angle Camera (LRO).

Each camera knows its optics (focal length, pixel pitch, aperture), its detector (size, full well,
read noise, gain, bits) and its target body, and answers:

- ``gsd(range_m, off_nadir_deg)``: metres per pixel on the ground (the coarser, cross-track one);
- ``footprint(range_m, off_nadir_deg)``: cross- and along-track pixel footprint on a sphere;
- ``psf_kernel(sampling)``: the point-spread function (diffraction + detector diffusion + jitter);
- ``noise(signal_e, rng)``: shot and read noise, then gain and quantisation;
- ``visibility(size_m, ...)``: is an object of that size visible, how many pixels does it cover?

Numbers come from ``docs/facts.md`` and the papers it cites; where a figure was not
found in a public source it is marked *assumption* and chosen to be typical of such detectors.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from orbitscout.core.bodies import MARS, MOON, Body
from orbitscout.core.errors import OrbitscoutError


@dataclass(frozen=True)
class Visibility:
    """The answer to "is an object of this size visible from here?"."""

    size_m: float
    gsd_m: float  # cross-track (coarser) metres per pixel
    pixels_across: float  # object size over GSD
    pixels_covered: float  # object area over pixel footprint area
    peak_fraction: float  # fraction of the object's signal in the brightest pixel (after PSF)
    snr: float  # contrast-to-noise ratio in the brightest pixel
    visible: bool  # snr >= the Rose criterion (5)
    resolved: bool  # at least ~3 pixels across (shape can be told)


@dataclass(frozen=True)
class Camera:
    """An orbital camera. Lengths in metres, angles in radians unless the name says otherwise."""

    name: str
    title: str
    spacecraft: str
    body: Body
    focal_length_m: float
    pixel_pitch_m: float
    aperture_m: float
    wavelength_m: float  # effective centre wavelength of the band simulated
    detector_cols: int  # cross-track pixels
    detector_rows: int  # along-track rows (1 for a pure line scanner; TDI rows for HiRISE)
    nominal_altitude_m: float
    published_gsd_m: float  # published figure, with the altitude it holds at
    published_altitude_m: float
    full_well_e: float
    read_noise_e: float
    adc_bits: int  # bits the detector digitises to
    product_bits: int  # bits of the delivered product (8 for companded CTX/NAC EDRs)
    typical_snr: float  # SNR of average terrain in a typical image (sets the exposure)
    diffusion_sigma_px: float  # detector charge diffusion / optics aberration, Gaussian sigma
    jitter_sigma_px: float  # spacecraft pointing jitter and TDI/line-rate smear, Gaussian sigma
    product_dtype: str  # numpy dtype of the delivered product
    filters: dict[str, float] = field(default_factory=dict)  # name -> centre wavelength (m)
    framelet_rows: int = 0  # push-frame framelet height (CaSSIS) or 0
    sources: str = ""

    @property
    def ifov_rad(self) -> float:
        """Instantaneous field of view of one pixel (rad): pixel pitch over focal length."""
        return self.pixel_pitch_m / self.focal_length_m

    @property
    def fov_deg(self) -> float:
        """Cross-track field of view (degrees)."""
        return math.degrees(self.detector_cols * self.ifov_rad)

    @property
    def gain_e_per_dn(self) -> float:
        """Electrons per DN of the delivered product. Exposure and gain are set, as operations
        teams do, so that average terrain sits near 30% of the product's range; bright hardware
        can saturate (InSight's hardware did in HiRISE colour, docs/facts.md)."""
        return self.typical_signal_e() / (0.3 * (2**self.product_bits - 1))

    @property
    def f_number(self) -> float:
        return self.focal_length_m / self.aperture_m

    def swath_m(self, range_m: float | None = None, off_nadir_deg: float = 0.0) -> float:
        """Cross-track swath on the ground (m), flat approximation at the given slant range."""
        rng = self.nominal_altitude_m if range_m is None else range_m
        cross, _ = self.footprint(rng, off_nadir_deg)
        return self.detector_cols * cross

    def emission_deg(self, range_m: float, off_nadir_deg: float = 0.0) -> float:
        """Emission angle at the ground (from the local vertical) for a spacecraft seen at slant
        range ``range_m`` looking ``off_nadir_deg`` from its nadir, on the body's sphere."""
        theta = math.radians(off_nadir_deg)
        radius = self.body.radius_m
        if range_m <= 0:
            raise OrbitscoutError(f"slant range must be positive, got {range_m}")
        # Triangle body centre C, ground G, spacecraft S: |CG| = R, |GS| = range, angle at S =
        # theta. Law of cosines at S gives |CS|; law of sines gives the emission angle at G.
        disc = radius**2 - (range_m * math.sin(theta)) ** 2
        if disc < 0:
            raise OrbitscoutError(
                f"a {off_nadir_deg:g} deg off-nadir look at {range_m:g} m misses the body"
            )
        r_s = range_m * math.cos(theta) + math.sqrt(disc)
        sin_e = min(1.0, r_s * math.sin(theta) / radius)
        return math.degrees(math.asin(sin_e))

    def footprint(self, range_m: float, off_nadir_deg: float = 0.0) -> tuple[float, float]:
        """(cross-track, along-track) ground size of one pixel (m) at slant range ``range_m``.

        Along track the pixel is ``range * IFOV``; across track, looking ``off_nadir_deg``
        sideways, the pixel is stretched by 1/cos(emission) where the emission angle comes from
        the spherical triangle (body centre, ground point, spacecraft). On a flat ground the
        emission would equal the off-nadir angle; the sphere makes it a little larger."""
        along = range_m * self.ifov_rad
        e = math.radians(self.emission_deg(range_m, off_nadir_deg))
        return along / math.cos(e), along

    def gsd(self, range_m: float, off_nadir_deg: float = 0.0) -> float:
        """Ground sample distance (m/px) at slant range ``range_m`` and ``off_nadir_deg``: the
        coarser, cross-track pixel footprint (the scale a map-projected product is made at)."""
        return self.footprint(range_m, off_nadir_deg)[0]

    def slant_range_m(self, altitude_m: float, off_nadir_deg: float = 0.0) -> float:
        """Slant range to the ground from altitude ``altitude_m`` looking ``off_nadir_deg``
        (sphere)."""
        theta = math.radians(off_nadir_deg)
        radius = self.body.radius_m
        r_s = radius + altitude_m
        disc = radius**2 - (r_s * math.sin(theta)) ** 2
        if disc < 0:
            raise OrbitscoutError(f"a {off_nadir_deg:g} deg off-nadir look misses the body")
        return r_s * math.cos(theta) - math.sqrt(disc)

    # --- point-spread function -------------------------------------------------------------
    def psf_kernel(self, sampling: int = 1, radius_px: float | None = None) -> np.ndarray:
        """The PSF as a normalised kernel sampled ``sampling`` times per pixel.

        Diffraction of a filled circular aperture (Airy pattern, first zero at 1.22 lambda/D)
        convolved with a Gaussian for detector diffusion/aberration and pointing jitter, each
        kernel element integrated over its own sample cell (so ``sampling=1`` also contains one
        pixel box: that extra blur stands in for the resampling a map-projected product
        carries). Sums to 1."""
        return _psf_kernel_cached(
            self.wavelength_m / self.aperture_m / self.ifov_rad,
            math.hypot(self.diffusion_sigma_px, self.jitter_sigma_px),
            int(sampling),
            radius_px,
        ).copy()

    def airy_first_zero_px(self) -> float:
        """Radius of the Airy pattern's first dark ring, in pixels."""
        return 1.22 * self.wavelength_m / self.aperture_m / self.ifov_rad

    # --- radiometry ------------------------------------------------------------------------
    def typical_signal_e(self) -> float:
        """Electrons collected from average terrain: SNR^2 in the shot-noise limit."""
        return self.typical_snr**2

    def noise(
        self, signal_e: np.ndarray, rng: np.random.Generator, gain_scale: float = 1.0
    ) -> np.ndarray:
        """Digitise an image of expected electrons: shot noise (Poisson, as a Gaussian of
        variance = signal), read noise, full-well clipping, gain (e-/DN, times ``gain_scale``)
        and quantisation to the product's integer type."""
        signal_e = np.asarray(signal_e, dtype=np.float32)
        noisy = signal_e + rng.standard_normal(signal_e.shape, dtype=np.float32) * np.sqrt(
            np.maximum(signal_e, 0.0) + np.float32(self.read_noise_e**2)
        )
        np.clip(noisy, 0.0, self.full_well_e, out=noisy)
        dn = noisy / np.float32(self.gain_e_per_dn * gain_scale)
        top = 2**self.product_bits - 1
        np.clip(np.rint(dn, out=dn), 0, top, out=dn)
        return dn.astype(self.product_dtype)

    # --- what can it see? ------------------------------------------------------------------
    def visibility(
        self,
        size_m: float,
        altitude_m: float | None = None,
        off_nadir_deg: float = 0.0,
        contrast: float = 1.0,
        snr: float | None = None,
    ) -> Visibility:
        """Is a square object of ``size_m`` with fractional ``contrast`` against its background
        ((object - ground) / ground: about 2 for a white rover, 0.6 albedo, on 0.2-albedo ground)
        visible from ``altitude_m`` (the nominal one by default)? Visible when the contrast
        signal in the brightest pixel, after the PSF, reaches 5 times the noise of the
        background (Rose criterion)."""
        alt = self.nominal_altitude_m if altitude_m is None else altitude_m
        rng = self.slant_range_m(alt, off_nadir_deg)
        cross, along = self.footprint(rng, off_nadir_deg)
        covered = (size_m / cross) * (size_m / along)
        peak = _peak_fraction(self, size_m / cross, size_m / along)
        snr_bg = self.typical_snr if snr is None else snr
        signal = covered * peak * abs(contrast)
        s = signal * snr_bg
        return Visibility(
            size_m=size_m,
            gsd_m=cross,
            pixels_across=size_m / cross,
            pixels_covered=covered,
            peak_fraction=peak,
            snr=s,
            visible=s >= 5.0,
            resolved=size_m / cross >= 3.0,
        )


def _peak_fraction(cam: Camera, w_px: float, h_px: float) -> float:
    """Fraction of a w x h pixel box's total flux that lands in its brightest pixel, after the
    PSF; the box is centred on a pixel."""
    s = 8
    kernel = cam.psf_kernel(sampling=s)
    n = int(math.ceil(max(w_px, h_px))) + 2 * (kernel.shape[0] // (2 * s) + 2) + 1
    n += 1 - n % 2
    yy, xx = (np.mgrid[0 : n * s, 0 : n * s] + 0.5) / s - n / 2
    box = ((np.abs(xx) <= w_px / 2) & (np.abs(yy) <= h_px / 2)).astype(float)
    if box.sum() == 0:
        box[n * s // 2, n * s // 2] = 1.0
    from scipy.signal import fftconvolve

    img = fftconvolve(box, kernel, mode="same")
    pix = img.reshape(n, s, n, s).sum(axis=(1, 3))
    return float(pix.max() / pix.sum())


@lru_cache(maxsize=64)
def _psf_kernel_cached(
    lambda_over_d_px: float, sigma_px: float, sampling: int, radius_px: float | None
) -> np.ndarray:
    from scipy.special import j1

    if radius_px is None:
        # the Airy core out to its third ring, or 3 sigma of the Gaussian, whichever is wider
        radius_px = max(3.24 * lambda_over_d_px, 3.0 * sigma_px, 1.0)
    half = int(math.ceil(radius_px * sampling))
    fine = 8  # sub-samples per kernel cell for the cell integration
    n = (2 * half + 1) * fine
    coords = (np.arange(n) + 0.5) / fine - (2 * half + 1) / 2  # in kernel cells
    coords = coords / sampling  # in pixels
    xx, yy = np.meshgrid(coords, coords)
    r = np.hypot(xx, yy)
    # Airy intensity [2 J1(v)/v]^2 with v = pi r / (lambda/D)
    v = np.pi * r / max(lambda_over_d_px, 1e-9)
    with np.errstate(invalid="ignore", divide="ignore"):
        airy = np.where(v > 1e-8, (2.0 * j1(v) / v) ** 2, 1.0)
    from scipy.ndimage import gaussian_filter

    if sigma_px > 0:
        airy = gaussian_filter(airy, sigma_px * sampling * fine, mode="constant")
    kernel = airy.reshape(2 * half + 1, fine, 2 * half + 1, fine).sum(axis=(1, 3))
    kernel /= kernel.sum()
    return kernel.astype(np.float64)


# ---------------------------------------------------------------------------------------------
# The cameras. Sources are docs/facts.md's unless noted.

# CaSSIS: Thomas et al. 2017, Space Sci. Rev. 212:1897 -- f/6.5, 135 mm primary, 10 um pixels,
# 2048 x 2048 hybrid CMOS, 14-bit; focal length 874.9 mm from the NAIF em16_tgo_cassis IK v7;
# GSD ~4.5-4.6 m/px from 400 km; filters from the same paper; framelets 2048 x 256 (PAN strip
# 280 rows, detector rows 354-633). SNR > 100 in at least three colours is the requirement.
# Full well 90,000 e- and read noise 60 e- are *assumptions* (typical of 10 um hybrid CMOS;
# not found in a public source here).
CASSIS = Camera(
    name="cassis",
    title="CaSSIS (Colour and Stereo Surface Imaging System)",
    spacecraft="ExoMars Trace Gas Orbiter",
    body=MARS,
    focal_length_m=0.8749,
    pixel_pitch_m=10e-6,
    aperture_m=0.135,
    wavelength_m=677.4e-9,  # PAN centre (ISIS3 CaSSIS test data, docs/facts.md)
    detector_cols=2048,
    detector_rows=2048,
    nominal_altitude_m=400e3,
    published_gsd_m=4.6,
    published_altitude_m=400e3,
    full_well_e=90_000.0,
    read_noise_e=60.0,
    adc_bits=14,
    product_bits=14,
    typical_snr=100.0,
    diffusion_sigma_px=0.35,  # assumption: CMOS diffusion + aberration
    jitter_sigma_px=0.25,  # assumption: push-frame smear residual and TGO pointing jitter
    product_dtype="uint16",
    filters={"BLU": 497.4e-9, "PAN": 677.4e-9, "RED": 835.4e-9, "NIR": 940.2e-9},
    framelet_rows=280,
    sources="Thomas et al. 2017 SSR 212:1897; NAIF em16_tgo_cassis IK v7; ISIS3 CaSSIS tests",
)

# HiRISE: McEwen et al. 2007, JGR 112:E05S02; Bergstrom et al. 2004 -- 12 m focal length,
# 12 um pixels (1.0 urad IFOV), 0.5 m primary, 14 CCDs x 2048 px with up to 128 TDI lines,
# "0.3 m/pixel from 300 km", SNR > 150:1 with full TDI, 14-bit ADC. Full well (TDI-summed)
# 150,000 e- and read noise 50 e- are *assumptions*.
HIRISE = Camera(
    name="hirise",
    title="HiRISE (High Resolution Imaging Science Experiment)",
    spacecraft="Mars Reconnaissance Orbiter",
    body=MARS,
    focal_length_m=12.0,
    pixel_pitch_m=12e-6,
    aperture_m=0.5,
    wavelength_m=700e-9,  # RED band centre ~700 nm (McEwen et al. 2007, 570-830 nm)
    detector_cols=20_048,
    detector_rows=128,
    nominal_altitude_m=300e3,  # McEwen et al. 2007 quote 0.3 m/px "from 300 km"
    published_gsd_m=0.30,
    published_altitude_m=300e3,
    full_well_e=150_000.0,
    read_noise_e=50.0,
    adc_bits=14,
    product_bits=14,
    typical_snr=150.0,
    diffusion_sigma_px=0.3,  # assumption
    jitter_sigma_px=0.35,  # assumption: MRO jitter is a known HiRISE blur source
    product_dtype="uint16",
    filters={"RED": 700e-9, "BG": 500e-9, "NIR": 900e-9},
    sources="McEwen et al. 2007 JGR 112:E05S02; Bergstrom et al. 2004",
)

# CTX: Malin et al. 2007, JGR 112:E05S04 -- 350 mm, f/3.25, 5,064-pixel line of 7 um pixels,
# 500-700 nm, ~6 m/px from ~290 km, 12-bit samples companded to 8 bits in the EDRs. Full well
# 200,000 e-, read noise 80 e- and typical SNR 80 are *assumptions*.
CTX = Camera(
    name="ctx",
    title="CTX (Context Camera)",
    spacecraft="Mars Reconnaissance Orbiter",
    body=MARS,
    focal_length_m=0.350,
    pixel_pitch_m=7e-6,
    aperture_m=0.350 / 3.25,
    wavelength_m=600e-9,
    detector_cols=5064,
    detector_rows=1,
    nominal_altitude_m=300e3,
    published_gsd_m=6.0,
    published_altitude_m=300e3,
    full_well_e=200_000.0,
    read_noise_e=80.0,
    adc_bits=12,
    product_bits=8,
    typical_snr=80.0,
    diffusion_sigma_px=0.4,  # assumption: CTX images are a little soft at full resolution
    jitter_sigma_px=0.2,
    product_dtype="uint8",
    sources="Malin et al. 2007 JGR 112:E05S04; PDS MROCTX instrument catalogue",
)

# LROC NAC: Robinson et al. 2010, SSR 150:81 and the PDS LROLRC INST.CAT -- effective focal
# length 699.62 mm (NAC-L), IFOV 10.0042 urad, f/3.577, 198 mm primary, 5,064-pixel line of
# 7 um pixels, 0.5 m/px from 50 km, read noise "better than 76 e-", 12-bit samples companded to
# 8 bits. Full well 150,000 e- and typical SNR 100 are *assumptions*.
NAC = Camera(
    name="nac",
    title="LROC NAC (Lunar Reconnaissance Orbiter Camera, Narrow Angle Camera)",
    spacecraft="Lunar Reconnaissance Orbiter",
    body=MOON,
    focal_length_m=0.69962,
    pixel_pitch_m=7e-6,
    aperture_m=0.198,
    wavelength_m=600e-9,
    detector_cols=5064,
    detector_rows=1,
    nominal_altitude_m=50e3,
    published_gsd_m=0.5,
    published_altitude_m=50e3,
    full_well_e=150_000.0,
    read_noise_e=76.0,
    adc_bits=12,
    product_bits=8,
    typical_snr=100.0,
    diffusion_sigma_px=0.35,  # assumption
    jitter_sigma_px=0.25,  # assumption
    product_dtype="uint8",
    sources="Robinson et al. 2010 SSR 150:81; PDS LROLRC_0004 CATALOG/INST.CAT",
)

CAMERAS: dict[str, Camera] = {c.name: c for c in (CASSIS, HIRISE, CTX, NAC)}
_ALIASES = {"lroc": "nac", "lroc_nac": "nac", "lroc-nac": "nac", "mro_ctx": "ctx"}


def get_camera(name: str) -> Camera:
    """A camera by name: ``cassis``, ``hirise``, ``ctx`` or ``nac``."""
    key = name.strip().lower()
    key = _ALIASES.get(key, key)
    try:
        return CAMERAS[key]
    except KeyError:
        raise OrbitscoutError(f"unknown camera {name!r}; known: {', '.join(CAMERAS)}") from None
