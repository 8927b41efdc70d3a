"""The thresholds of change detection and deblending, as values passed in and recorded.

``DetectParams()`` is what ``find`` uses unless told otherwise; ``find`` writes
``DetectParams.as_dict()`` into ``summary.json`` under ``"parameters": {"detect": ...}``, so
every run says how it was made.

Not parameters here, and why:

- the tiling's structure, module constants of ``significance``: ``BLOCK`` (256 px noise
  blocks; tile cores lie on their grid, so a tiled and a whole-image run use the same blocks),
  ``PYRAMID`` (4: the reduction of wide blurs; tile windows start on its grid), ``COARSE``
  (8: the reduction registration and photometry work on), and the least ``HALO`` and
  ``STRUCTURE_REACH`` (64 px). Changing any of them changes how the image is cut, not what
  counts as a change. The halo a run actually uses grows with the filters named here
  (``significance.halo``), so tiled and whole-image runs agree for any parameters.
- the photometry's fit (``photometry.CLIP``, ``photometry.MIN_POINTS``): not threaded yet;
  they stay module constants of ``photometry``.
- how a region is measured (the 2-sigma soft threshold of its weights, the 2.5-sigma pixels of
  its area): definitions of the measured quantities, not thresholds of what is found.

Where the values come from: none is fitted. They were chosen by hand, on the synthetic pairs of
``tests/test_find.py``, ``tests/test_chunked.py`` and ``tests/test_deblend.py``, on the
simulated scenes of ``bench/identify_table.py`` (tuning seeds) and on the real HiRISE crop of
the shared data, as docs/algorithms.md ("Detect", "Objects that touch") records;
each field says which.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class DeblendParams:
    """How a candidate holding several objects joined by faint change is split
    (``orbitscout.detect.deblend``).

    Chosen on HiRISE tuning seeds 0-43 of ``bench/identify_table.py`` (recall 304 -> 309 of
    316 against no deblending, CaSSIS, CTX and NAC unchanged; docs/algorithms.md, "Objects
    that touch"),
    after the multi-threshold deblending of astronomical source extractors (SExtractor,
    Bertin & Arnouts 1996, A&AS 117, 393), whose thresholds these are not.

    Attributes
    ----------
    enabled : bool
        Whether candidates are split at all (False: every candidate stays whole).
    saddle : float
        Objects are split only where nothing stronger than ``saddle * t_low`` sigma joins
        them (dimensionless multiple of ``DetectParams.t_low``; 2 gives 6 sigma). Stronger
        joins (the debris of one crash fan, a crater and its rays) stay one candidate.
    peak : float
        Each object split off reaches ``peak * t_high`` sigma (multiple of
        ``DetectParams.t_high``; 4 gives 22 sigma); a weaker candidate is not tried.
    prominence : float
        ... and rises this many times above the level that joins it to the others
        (dimensionless ratio of significances); an object also keeps the pixels of its
        watershed basin down to ``1 / prominence`` of its peak.
    step : float
        Ratio between successive cut levels (dimensionless, > 1).
    min_core_px : int
        Pixels an object has at the level where it parts from the others (px, count).
    separation : float
        Objects nearer than this times the sum of their radii are one (dimensionless; 2 split
        a crash fan's bright debris from the fan on the tuning seeds).
    centre : float
        An object within this fraction of the faint ground's radius from its centre is part
        of it (a vehicle at the centre of its blast zone; dimensionless).
    min_side : int
        A candidate smaller than this on both sides is left whole (px).
    max_side : int
        Nor is one larger than this on a side (a long track): the memory stays a tile's (px).
    """

    enabled: bool = True
    saddle: float = 2.0
    peak: float = 4.0
    prominence: float = 4.0
    step: float = 1.15
    min_core_px: int = 4
    separation: float = 3.0
    centre: float = 0.75
    min_side: int = 16
    max_side: int = 2048

    def __post_init__(self) -> None:
        if not self.step > 1.0:
            raise ValueError(f"deblend step must exceed 1 (got {self.step})")
        if not self.prominence >= 1.0:
            raise ValueError(f"deblend prominence must be at least 1 (got {self.prominence})")
        if not (self.saddle > 0 and self.peak > 0 and self.separation >= 0 and self.centre >= 0):
            raise ValueError("deblend saddle and peak must be positive, separation and centre >= 0")
        if not 0 < self.min_side <= self.max_side or self.min_core_px < 1:
            raise ValueError("deblend needs 0 < min_side <= max_side and min_core_px >= 1")


@dataclass(frozen=True)
class ShadingParams:
    """How a changed sun's re-shading of unchanged relief is modelled
    (``orbitscout.detect.shading``; docs/algorithms.md, "Re-shading").

    Chosen on the synthetic power-law relief of ``tests/test_shading.py`` (tuning data, not
    held out); none is fitted.

    Attributes
    ----------
    enabled : bool
        Whether a changed sun is modelled at all (False: the residual is tested as it is).
    scale : float
        Gaussian sigma separating BEFORE's shading structure from its level (px): relief
        narrower than this is modelled. Wider than ``DetectParams.structure`` because the
        photometry's 256-px blocks leave shading up to about this scale in the residual.
    kernel : int
        Side of the across-sun kernel (px, odd): how far the slope across BEFORE's sun is
        integrated from its shading.
    eps : float
        Tikhonov regularisation of that integration (dimensionless): spatial frequencies
        within about ``atan(eps)`` of running across the sun, where shading shows no relief,
        are damped.
    relit_kernel : int
        Side of the sun kernels with which ``relit`` predicts a candidate's re-shading at full
        resolution (px, odd). That prediction has no reduced band to carry the long reach, as
        the tile loop's has, so its kernels must reach across the relief the structure keeps
        themselves (about 3 ``scale`` either side; the taper halves a kernel's reach): with
        ``kernel``'s 65 px the slope across the sun of crater bowls 30-60 px wide was not
        recovered and their re-shading was kept as change. Chosen on the fitting families
        (seeds 0-1, sun changes 5-15 degrees, 24 scenes a camera; not fitted): false
        detections 139 at 65 px, 109 at 257, recall the same but one vanished boulder
        (HiRISE, 5 degrees).
    relit_gain : float
        Largest gain on AFTER's structure as ``relit`` predicts it (dimensionless, >= 1; 1: the
        linear prediction as it is). The prediction is a floor of the re-shading: the slope
        across BEFORE's sun is damped where its shading shows little of it, and walls turned
        from a low sun darken faster than linearly; the gain that fits best, between 1 and
        this, is used. Chosen on the fitting families (seeds 0-3 and 4-7, sun changes 5-15
        degrees, every camera; not fitted): false detections at 10 and 15 degrees, seeds 0-3,
        193 with the prediction as it is, 172 up to a gain of 1.4, 168 up to 2, 167 up to 3;
        seeds 4-7, 5-15 degrees, 313 -> 286 at 2; recall the same in every row.
    min_change_deg : float
        Suns known and nearer than this (degrees between their directions): nothing is
        modelled.
    min_explained : float
        Least share of the reduced residual's robust variance the model must remove to be used
        (dimensionless, 0-1); below it the pair is treated as having no re-shading.
    kappa_from_suns : bool
        With both suns known and apart, whether ``DetectParams.kappa`` is raised to
        ``hypot(kappa, change * sqrt(share))``: ``change`` how much the other sun changes the
        shading of relief (``shading.shading_change``, an amplitude), ``share`` how much of the
        less shaded image's structure power is shading (``shading.shading_share``, measured on
        a window of it). Only with ``enabled`` and not with a DTM (whose prediction models
        the re-shading itself).
    equal_kappa, equal_novelty : float
        With both suns known and nearer than ``min_change_deg`` (and ``enabled``,
        ``kappa_from_suns``), ``DetectParams.kappa`` and ``DetectParams.novelty`` lowered to
        these (dimensionless): the same sun does not re-shade relief, and what unchanged
        ground leaves in the residual in proportion to its structure is resampling and
        compression (measured on fitting-family pairs at the same sun, 0.05-0.15 of the
        structure at single pixels, under 0.07 at 1-2 px; docs/validation.md). Chosen on the
        fitting families (seeds 0-7, the same sun, 16 scenes a camera), not fitted; with the
        photometry's medians at each block's level and ``regions.split_by_sign`` (the same
        change), appeared, vanished and false detections before -> after: CaSSIS 107 -> 110
        of 114, 43 -> 44 of 44, 0 -> 0; CTX 80 -> 90 of 99, 34 -> 36 of 36, 0 -> 1; HiRISE
        122 -> 121 of 132, 47 -> 45 of 48, 13 -> 19; NAC 112 -> 113 of 114, 45 -> 44 of 48,
        4 -> 8.
    """

    enabled: bool = True
    scale: float = 24.0
    kernel: int = 65
    eps: float = 0.3
    relit_kernel: int = 257
    relit_gain: float = 2.0
    min_change_deg: float = 1.0
    min_explained: float = 0.05
    kappa_from_suns: bool = True
    equal_kappa: float = 0.3
    equal_novelty: float = 0.5

    def __post_init__(self) -> None:
        if not (self.equal_kappa >= 0 and self.equal_novelty > 0):
            raise ValueError("shading equal_kappa must be >= 0 and equal_novelty positive")
        if not (self.scale > 0 and self.eps > 0):
            raise ValueError("shading scale and eps must be positive")
        if not self.relit_gain >= 1.0:
            raise ValueError(f"shading relit_gain must be at least 1 (got {self.relit_gain})")
        for name, side in (("kernel", self.kernel), ("relit_kernel", self.relit_kernel)):
            if side < 3 or side % 2 == 0:
                raise ValueError(f"shading {name} must be odd and at least 3 (got {side})")
        if not (self.min_change_deg >= 0 and 0.0 <= self.min_explained < 1.0):
            raise ValueError("need min_change_deg >= 0 and 0 <= min_explained < 1")

    def apart(self, angle_deg: float | None) -> bool:
        """Whether two suns ``angle_deg`` degrees apart (None: not both known) are known to
        differ enough to re-shade relief: at least ``min_change_deg``."""
        return angle_deg is not None and angle_deg >= self.min_change_deg


@dataclass(frozen=True)
class DetectParams:
    """The thresholds of change detection (``orbitscout.detect``): significance, regions,
    candidates and, nested, deblending.

    Attributes
    ----------
    t_high : float
        Significance a candidate must reach somewhere (sigma of the local noise). Also where
        the detection score is 0 (0.95 at twice). Chosen with the first pipeline on the
        synthetic pairs of ``tests/test_find.py`` (docs/algorithms.md, "Detect").
    t_low : float
        Significance that joins a pixel to a candidate (sigma). Same source as ``t_high``.
    scales : tuple of float
        Gaussian sigmas of the matched filters the residual is tested at (px; 0 is the pixel
        itself). A wider one (3 px) left the faintest simulated target's peak unchanged
        (docs/development.md).
    structure : float
        Gaussian sigma separating the BEFORE image's local structure from its level (px):
        structure is the level less its blur over this. Chosen with ``kappa`` against the
        real HiRISE crop's terrain (commit "change: structure at 10 px scale as clutter").
    clutter : float
        Gaussian sigma over which the energy of that structure is averaged (px), at the
        pixel scale.
    clutter_growth : float
        How much wider that average is per px of a matched filter's sigma: the energy seen
        through the filter of sigma ``s`` is averaged over ``clutter + clutter_growth * s`` px
        (dimensionless, >= 0; ``significance.energy_sigma``). Another sun re-shades relief
        where its slopes are, a filter's width beside the structure the filter sees there, so
        the wider filters' allowance must reach as far. 2 chosen on the fitting families
        (seeds 0-5, 0/10/15 deg; 1 and 3 measured too: docs/development.md).
    kappa : float
        Share of the images' local structure that unchanged ground can leave in the residual
        (dimensionless); the energy of the structure of whichever image has less there, times
        ``kappa ** 2``, adds to the noise variance (unchanged relief has structure in both
        images, an object that appeared or vanished in one only). 0.2-0.3 and a per-image
        estimate were tried and lost (docs/development.md). With both suns known it is
        raised by what their difference predicts (``ShadingParams.kappa_from_suns``).
    displacement : float
        The farthest the sharp structure of unchanged ground may seem to have moved between
        the two looks (px): the sampling phase of an undersampled image, the shading of small
        relief turning with the sun, jitter or local misregistration. How far it did is
        measured per noise block (``significance.block_displacement``, 0 up to this); such a
        move leaves a residual of about that times the structure's gradient, whose energy
        through each matched filter adds to the noise variance with the ``kappa`` term (of
        whichever image would leave less there). One pixel: set by hand, not fitted.
    novelty : float
        A candidate's change energy (less what a rescaling of either image's structure
        explains) over the smaller of the two images' local structure energies there, below
        which it is dropped (dimensionless ratio; ``candidates.change_novelty``;
        docs/algorithms.md, "Detect").
    change_ratio : float
        How many times more of a candidate's change structure one image must hold than the
        other for the change to be called ``appeared`` (AFTER holds more) or ``vanished``
        (BEFORE holds more); nearer than that it is ``altered`` (dimensionless, >= 1;
        ``candidates.appeared_share`` splits the change's structure between the images). Set
        by hand, not fitted: a change is one-sided when one image holds at least half as much
        again as the other; objects planted in one image of the synthetic pairs of
        ``tests/test_detect_directions.py`` give ratios above 20, the real HiRISE rover crop
        painted out of either image about 2 (the revealed ground has texture of its own).
    p_intercept, p_sigma, p_novelty : float
        Coefficients of ``candidates.change_probability``, the probability that the ground
        changed: logistic of ``p_intercept + p_sigma * ln(peak / t_high) + p_novelty *
        ln(n / p_novelty_ref) + p_sun * angle / 10``, ``peak`` and ``n`` the candidate's peak
        significance and novelty (dimensionless), ``angle`` the angle between the suns (deg).
        Fitted (maximum likelihood; whether the detection lies on a real change) on 2,101
        detections of 192 scenes of the four fitting scene families, seeds 0-5, every
        camera, sun changes 0-15 deg / 0-30 deg: ``python bench/change_table.py --families
        dusty_plains,rocky_crater_floor,lunar_highlands,lunar_maria --seeds 0,1,2,3,4,5
        --fit-change-score``, with ``kappa`` raised by the suns (``ShadingParams.
        kappa_from_suns``), lowered for equal suns (``equal_kappa``, ``equal_novelty``),
        re-lit relief dropped (``relit_share``, ``ShadingParams.relit_kernel``) and the
        structure's energy averaged wider for the wider filters (``clutter_growth``)
        (docs/validation.md gives the holdout family's figures). With the suns the same, a
        candidate just at ``t_high`` and ``p_novelty_ref`` gets 0.42, one peaking at twice
        ``t_high`` 0.90; 15 degrees between the suns lowers those to 0.31 and 0.84; each
        doubling of novelty raises the odds 1.6 times.
    p_novelty_ref : float
        The novelty at which ``change_probability``'s novelty term is zero (dimensionless):
        the default gate (``novelty``), kept when the suns lower the gate
        (``ShadingParams.equal_novelty``), so that a candidate's score does not depend on
        which gate it passed.
    p_sun : float
        Coefficient of ``change_probability``'s third term, the angle between the two suns
        in tens of degrees: a changed sun re-shades relief, so a candidate of the same
        strength is less likely a change of the ground (fitted with the three above).
    p_sun_unknown_deg : float
        The angle between the suns (degrees) that ``change_probability`` assumes when either
        sun is unknown: the largest of the fit's range, so that such scores err low. Set by
        hand, not fitted.
    p_novelty_cap : float
        Novelty above which ``change_probability`` gains nothing more (dimensionless; a
        change on ground with no structure has novelty infinity).
    move_max_m, move_max_px : float
        Farthest a vanished and an appeared detection may lie apart to be linked as a
        possible move (``moves.link_moves``): in metres where the pixel size is known, else
        in pixels. Set by hand for boulders rolled and parachutes shifted by wind (tens of
        metres), not fitted.
    move_size_ratio : float
        Largest ratio of the two ends' areas (larger over smaller, dimensionless).
    move_contrast_ratio : float
        Largest ratio of the two ends' contrast magnitudes (mean absolute relative change,
        larger over smaller, dimensionless).
    move_polarity_tol : float
        Largest difference between one end's bright share and the other's dark share (an
        object moved darkens where it arrived as much as it brightens where it left;
        dimensionless, 0-1).
    move_sun_stretch_max : float
        Under two suns the three tolerances above are widened by the ratio of their tan *i*
        (an object's change is mostly its cast shadow, whose length goes with tan *i*), by at
        most this factor (dimensionless, >= 1; 3 spans 30 deg to 60 deg). Set by hand.
    move_min_change_score : float
        Least ``change_score`` either end of a move must have (0-1; 0.5: each end more
        probably a change than not). Set by hand.
    edge : int
        Pixels ignored along no-data edges, where interpolation leaves artefacts (px).
    merge_gap : int
        Gap between two regions' boxes within which they are parts of one object (px; a
        bright core and its dark halo meet at a line of zero change).
    line_gap : int
        Gap within which two thin, aligned regions are fragments of one track (px).
    line_angle_deg : float
        Largest difference of direction between two such fragments (degrees); also the
        largest angle between a fragment of a path and the chord to the next (degrees).
    line_gap_ratio : float
        Largest gap between the nearest ends of two thin regions on one path, as a share of
        the shorter one's length (dimensionless; set by hand: a fragment is evidence of the
        path for half its length on).
    line_gap_max : int
        Largest such gap whatever the fragments' lengths (px).
    thin_length_px : float
        Least length of a thin region, a track rather than a spot (px).
    thin_aspect : float
        Least length over width of a thin region (dimensionless).
    shadows : bool
        Whether candidates that are cast shadows moved by another sun are dropped
        (``shadows.py``; ``find`` turns it off when both suns are known and within 1 deg).
    shadow_sigma : float
        How far below the level of the ground around it a pixel is dark enough to be shadow
        (robust standard deviations of that ground).
    shadow_core_sigma : float
        How far below that level a dark patch must reach somewhere to be a shadow, not a dip
        of the ground's texture (robust standard deviations).
    shadow_share : float
        Least share of a candidate's change energy on such dark pixels of either image for
        it to be a shadow change (dimensionless, 0-1).
    shadow_depth : float
        How much darker than the ground's level a shadow's core is at least, as a share of
        that level (dimensionless: a shadow is lit by the sky alone, a fraction of the sun's
        light on Mars, almost none on the Moon; a brightness in DN must be proportional to
        radiance).
    shadow_area_ratio : float
        Largest ratio of the two images' shadow areas (larger over smaller; tan 60 deg over
        tan 45 deg is 1.7, tan 75 deg over tan 60 deg 2.2).
    shadow_overlap_min : float
        Least overlap of those patches (intersection over union): one obstacle's shadows
        share its foot.
    shadow_overlap : float
        The two images' dark patches carrying the change must overlap less than this
        (intersection over union): more, and it is one dark patch that darkened or faded.
    shadow_margin : int
        Ground around a candidate's box that sets the level (px; at least the box's side).
    shadow_place : bool
        Whether a candidate whose change is mostly an appeared or vanished object's own cast
        shadow is placed at the object, up-sun of the shadow (``shadows.object_under_shadow``;
        only with both suns known).
    shadow_lit_share : float
        Share of such a candidate's change energy from the object's sunlit part above which
        that part must lie up-sun of the shadow, else it is a hollow's far wall and nothing
        is moved (dimensionless, 0-1; set by hand, not fitted).
    shadow_elongation : float
        Least ratio of such a shadow's spread down-sun to its spread across for it to be
        moved for (dimensionless; a boulder half as high as wide under a sun 70 deg from the
        zenith gives 1.5-2, a round dark spot 1; set by hand, not fitted).
    relit_share : float
        With both suns known and apart, a candidate is dropped as re-lit relief when at most
        this share of its change energy is left once the re-shading that the suns predict for
        BEFORE's relief (no fitted coefficient; ``relit.unexplained_share``) is taken off
        (0: none dropped). Set by hand, not fitted.
    bright_share : float
        Least share of a candidate's summed absolute residual that is bright for it to be
        called ``bright`` (dimensionless, 0-1).
    dark_share : float
        Largest bright share for it to be called ``dark``; between the two it is ``mixed``
        (dimensionless, below ``bright_share``).
    deblend : DeblendParams
        How candidates holding several objects are split.
    shading : ShadingParams
        How a changed sun's re-shading of unchanged relief is modelled.
    """

    t_high: float = 5.5
    t_low: float = 3.0
    scales: tuple[float, ...] = (0.0, 1.0, 2.0)
    structure: float = 10.0
    clutter: float = 2.0
    clutter_growth: float = 2.0
    kappa: float = 0.5
    displacement: float = 1.0
    novelty: float = 2.0
    change_ratio: float = 1.5
    p_intercept: float = -0.31
    p_sigma: float = 3.6
    p_novelty: float = 0.639
    p_sun: float = -0.337
    p_sun_unknown_deg: float = 15.0
    p_novelty_cap: float = 1000.0
    p_novelty_ref: float = 2.0
    move_max_m: float = 100.0
    move_max_px: float = 100.0
    move_size_ratio: float = 2.0
    move_contrast_ratio: float = 2.0
    move_polarity_tol: float = 0.3
    move_sun_stretch_max: float = 3.0
    move_min_change_score: float = 0.5
    edge: int = 2
    merge_gap: int = 2
    line_gap: int = 8
    line_angle_deg: float = 20.0
    line_gap_ratio: float = 0.5
    line_gap_max: int = 64
    thin_length_px: float = 8.0
    thin_aspect: float = 3.0
    shadows: bool = True
    shadow_sigma: float = 2.0
    shadow_core_sigma: float = 4.0
    shadow_share: float = 0.7
    shadow_depth: float = 0.2
    shadow_area_ratio: float = 3.0
    shadow_overlap_min: float = 0.1
    shadow_overlap: float = 0.7
    shadow_margin: int = 16
    shadow_place: bool = True
    shadow_lit_share: float = 0.1
    shadow_elongation: float = 1.25
    relit_share: float = 0.3
    bright_share: float = 0.8
    dark_share: float = 0.2
    deblend: DeblendParams = field(default_factory=DeblendParams)
    shading: ShadingParams = field(default_factory=ShadingParams)

    def __post_init__(self) -> None:
        object.__setattr__(self, "scales", tuple(float(s) for s in self.scales))
        if isinstance(self.deblend, dict):
            object.__setattr__(self, "deblend", DeblendParams(**self.deblend))
        if isinstance(self.shading, dict):
            object.__setattr__(self, "shading", ShadingParams(**self.shading))
        if not 0 < self.t_low <= self.t_high:
            raise ValueError(f"need 0 < t_low <= t_high (got {self.t_low}, {self.t_high})")
        if not self.scales or min(self.scales) < 0:
            raise ValueError(f"scales must be one or more sigmas >= 0 (got {self.scales})")
        if not (self.structure > 0 and self.clutter > 0 and self.kappa >= 0):
            raise ValueError("structure and clutter must be positive, kappa >= 0")
        if not self.clutter_growth >= 0:
            raise ValueError("clutter_growth must be >= 0")
        if min(self.edge, self.merge_gap, self.line_gap, self.line_gap_max) < 0:
            raise ValueError("edge, merge_gap, line_gap and line_gap_max must be >= 0")
        if not self.line_gap_ratio >= 0:
            raise ValueError("line_gap_ratio must be >= 0")
        if not (0 < self.shadow_sigma <= self.shadow_core_sigma and self.shadow_margin >= 1):
            raise ValueError("need 0 < shadow_sigma <= shadow_core_sigma, shadow_margin >= 1")
        if not (0 <= self.shadow_share <= 1 and 0 <= self.shadow_lit_share <= 1):
            raise ValueError("need 0 <= shadow_share <= 1 and 0 <= shadow_lit_share <= 1")
        if not self.shadow_elongation > 0:
            raise ValueError("need shadow_elongation > 0")
        if not 0 <= self.relit_share < 1:
            raise ValueError("need 0 <= relit_share < 1")
        if not 0 <= self.shadow_depth < 1:
            raise ValueError("need 0 <= shadow_depth < 1")
        if not (0 <= self.shadow_overlap_min <= self.shadow_overlap <= 1):
            raise ValueError("need 0 <= shadow_overlap_min <= shadow_overlap <= 1")
        if not self.shadow_area_ratio >= 1:
            raise ValueError("need shadow_area_ratio >= 1")
        if not 0.0 <= self.dark_share < self.bright_share <= 1.0:
            raise ValueError("need 0 <= dark_share < bright_share <= 1")
        if not (self.change_ratio >= 1.0 and self.novelty > 0):
            raise ValueError("need change_ratio >= 1 and novelty > 0")
        if not self.displacement >= 0:
            raise ValueError("need displacement >= 0")
        if not self.p_novelty_cap >= max(self.novelty, self.p_novelty_ref):
            raise ValueError("p_novelty_cap must be at least novelty and p_novelty_ref")
        if not self.p_novelty_ref > 0:
            raise ValueError("p_novelty_ref must be positive")
        if not (self.move_max_m >= 0 and self.move_max_px >= 0):
            raise ValueError("move_max_m and move_max_px must be >= 0")
        if not (self.move_size_ratio >= 1 and self.move_contrast_ratio >= 1):
            raise ValueError("move_size_ratio and move_contrast_ratio must be at least 1")
        if not 0.0 <= self.move_polarity_tol <= 1.0:
            raise ValueError("move_polarity_tol must lie in 0-1")
        if not self.move_sun_stretch_max >= 1:
            raise ValueError("move_sun_stretch_max must be at least 1")
        if not 0.0 <= self.move_min_change_score <= 1.0:
            raise ValueError("move_min_change_score must lie in 0-1")

    @property
    def saddle_sigma(self) -> float:
        """The strongest join (sigma) at which objects are still split: ``deblend.saddle``
        times ``t_low``."""
        return self.deblend.saddle * self.t_low

    @property
    def peak_sigma(self) -> float:
        """The significance (sigma) each object split off must reach: ``deblend.peak`` times
        ``t_high``."""
        return self.deblend.peak * self.t_high

    def as_dict(self) -> dict[str, Any]:
        """The fields as plain JSON values (``scales`` a list, ``deblend`` and ``shading``
        dicts); the inverse of ``DetectParams(**d)``."""
        out = asdict(self)
        out["scales"] = list(self.scales)
        return out


DEFAULT = DetectParams()
"""The parameters ``find`` uses unless given others."""
