"""mmcv's adjust_hue under numpy 2: the patched version matches the intended uint8 wrap."""
import numpy as np
import pytest
from PIL import Image

import mmvisrep  # noqa: F401
from mmvisrep.utils.compat import adjust_hue


def _reference_pillow_hue(img_bgr, shift):
    """Shift PIL's HSV hue channel by ``shift`` modulo 256, by hand."""
    h, s, v = Image.fromarray(img_bgr[..., ::-1]).convert('HSV').split()
    h = Image.fromarray(((np.array(h, np.int64) + shift) % 256).astype(np.uint8), 'L')
    return np.array(Image.merge('HSV', (h, s, v)).convert('RGB'))[..., ::-1]


@pytest.mark.parametrize('factor', [-0.5, -0.2, -0.01, 0.0, 0.13, 0.5])
def test_adjust_hue_pillow_matches_reference(factor):
    img = np.random.RandomState(0).randint(0, 256, (8, 9, 3)).astype(np.uint8)
    expected = _reference_pillow_hue(img, int(factor * 255) % 256)
    np.testing.assert_array_equal(adjust_hue(img, factor, backend='pillow'), expected)


def test_adjust_hue_cv2_positive_matches_cv2_hsv_shift():
    import cv2
    img = np.random.RandomState(1).randint(0, 256, (8, 9, 3)).astype(np.uint8)
    hsv = cv2.cvtColor(img, cv2.COLOR_BGR2HSV_FULL)
    hsv[..., 0] = (hsv[..., 0].astype(np.int64) + int(-0.3 * 255) % 256) % 256
    expected = cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR_FULL)
    np.testing.assert_array_equal(adjust_hue(img, -0.3, backend='cv2'), expected)


def test_mmpretrain_color_jitter_runs_with_negative_hue():
    """The stock BYOL ColorJitter used to crash on every negative hue draw under numpy 2."""
    from mmpretrain.datasets.transforms import ColorJitter
    jitter = ColorJitter(brightness=0.4, contrast=0.4, saturation=0.2, hue=0.5)
    img = np.random.RandomState(2).randint(0, 256, (16, 16, 3)).astype(np.uint8)
    for seed in range(20):  # both signs of hue are drawn
        np.random.seed(seed)
        out = jitter(dict(img=img.copy()))['img']
        assert out.shape == img.shape and out.dtype == np.uint8


def test_adjust_hue_rejects_bad_factor():
    with pytest.raises(ValueError, match='not in'):
        adjust_hue(np.zeros((2, 2, 3), np.uint8), 0.7, backend='pillow')
