"""The custom albumentations ops: pad-and-random-crop, person-aspect crop, erasing, FitInside."""
from __future__ import annotations

import albumentations as A
import numpy as np
import pytest

from reidfw.data.augment.ops import PERSON_CROP_RATIO, FitInside, PadRandomCrop, PersonRandomCrop, RandomErasing
from reidfw.model_input import fit


def test_pad_random_crop_shifts_by_at_most_pad_with_gray():
    img = np.full((50, 30, 3), 7, np.uint8)
    t = A.Compose([PadRandomCrop(pad=10, fill=(128, 128, 128))], seed=1)
    for _ in range(20):
        out = t(image=img)["image"]
        assert out.shape == img.shape
        gray_rows = np.all(out == 128, axis=(1, 2)).sum()
        gray_cols = np.all(out == 128, axis=(0, 2)).sum()
        assert gray_rows <= 10 and gray_cols <= 10
        assert (out == 7).all(axis=2).sum() >= (50 - 10) * (30 - 10)
    with pytest.raises(ValueError, match="pad must be >= 0"):
        PadRandomCrop(pad=-1)


@pytest.mark.parametrize("shape", [(200, 100), (100, 200), (300, 60), (40, 40)])
def test_person_crop_keeps_person_aspect_and_area(shape):
    t = A.Compose([PersonRandomCrop(scale=(0.2, 1.0))], seed=2)
    img = np.zeros((*shape, 3), np.uint8)
    lo, hi = PERSON_CROP_RATIO
    for _ in range(30):
        h, w = t(image=img)["image"].shape[:2]
        # rounding to whole pixels moves the ratio by at most ~1 px on either side
        assert lo - 1 / h - 1 / w <= w / h <= hi + 1 / h + 1 / w
        assert h <= shape[0] and w <= shape[1]


def test_person_crop_rejects_bad_ranges():
    with pytest.raises(ValueError, match="scale"):
        PersonRandomCrop(scale=(0.0, 1.5))
    with pytest.raises(ValueError, match="ratio"):
        PersonRandomCrop(ratio=(0.7, 0.3))


def test_fit_inside_is_the_model_input_fit():
    img = np.random.default_rng(0).integers(0, 255, (70, 50, 3), dtype=np.uint8)
    out = A.Compose([FitInside((96, 32))])(image=img)["image"]
    assert np.array_equal(out, fit(img, (96, 32))) and out.shape == (45, 32, 3)


def test_random_erasing_reaches_large_areas_on_tall_images():
    img = np.full((96, 32, 3), 200, np.uint8)
    t = A.Compose([RandomErasing(scale=(0.3, 0.4), ratio=(0.3, 3.3), fill=0, p=1.0)], seed=3)
    fractions = [(t(image=img)["image"] == 0).all(axis=2).mean() for _ in range(20)]
    # every draw either erases 30-40 % (up to pixel rounding) or, when no box fits, nothing
    assert all(f == 0 or 0.27 <= f <= 0.43 for f in fractions)
    assert sum(f > 0 for f in fractions) >= 10
