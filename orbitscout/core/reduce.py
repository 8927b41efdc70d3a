"""Images reduced by whole blocks of pixels."""

from __future__ import annotations

import warnings

import cv2
import numpy as np


def block_means(image: np.ndarray, factor: int) -> np.ndarray:
    """Mean of each whole ``factor`` x ``factor`` cell of ``image`` over its valid pixels
    (NaN where it has none)."""
    h, w = (image.shape[0] // factor) * factor, (image.shape[1] // factor) * factor
    if np.isfinite(image[:h, :w]).all():  # the same means by OpenCV, a fraction of nanmean
        return cv2.resize(image[:h, :w], (w // factor, h // factor), interpolation=cv2.INTER_AREA)
    blocks = image[:h, :w].reshape(h // factor, factor, w // factor, factor)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN cells stay NaN
        return np.nanmean(blocks, axis=(1, 3))
