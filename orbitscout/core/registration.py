"""The fitted misregistration of BEFORE relative to AFTER, and how to apply it."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from affine import Affine


@dataclass
class Registration:
    """The fitted misregistration of BEFORE relative to AFTER."""

    dx: float
    dy: float
    rotation_deg: float
    residual_px: float
    centre: tuple[float, float]
    n_tiles: int

    def after_to_before(self) -> Affine:
        """Map AFTER pixel coordinates to BEFORE-on-AFTER-grid pixel coordinates."""
        cx, cy = self.centre
        return (
            Affine.translation(cx, cy)
            @ Affine.rotation(-self.rotation_deg)
            @ Affine.translation(-cx - self.dx, -cy - self.dy)
        )

    def apply_reduced(self, before_small: np.ndarray, factor: int) -> np.ndarray:
        """Register a BEFORE image reduced by ``factor`` on the AFTER grid (cell (u, v) the mean
        of AFTER pixels [factor * u, factor * (u + 1))), NaN outside it: no second read of BEFORE.
        Lanczos, not bilinear: a bilinear shift smooths the cells, and a gain fitted against
        them came out 1.7 % high on textured ground (bench/find_vs_read.py's 16k pair)."""
        cell = Affine.translation((factor - 1) / 2, (factor - 1) / 2) @ Affine.scale(factor)
        to_source = ~cell @ self.after_to_before() @ cell
        matrix = np.array(to_source.column_vectors, dtype=np.float64).T
        return cv2.warpAffine(
            before_small,
            matrix,
            (before_small.shape[1], before_small.shape[0]),
            flags=cv2.INTER_LANCZOS4 | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=float("nan"),
        )

    def as_dict(self) -> dict:
        return {
            "dx": round(self.dx, 4),
            "dy": round(self.dy, 4),
            "rotation_deg": round(self.rotation_deg, 5),
            "residual_px": round(self.residual_px, 4),
            "centre": [round(c, 2) for c in self.centre],
            "tiles": self.n_tiles,
        }
