"""Localized Narratives mouse traces: geometry with the image augmentation, and rendering.

Trace points travel through the pipeline as arrays in *normalised image coordinates* of the
current image (x right, y down, the image is [0, 1]^2; LN records points in a band around it):
``trace_xy`` float64 (N, 2), ``trace_t`` float64 (N,) seconds, ``trace_seg`` int32 (N,)
segment index, next to ``utterances`` (list of K str) and ``utterance_times`` float64 (K, 2).
A plain resize leaves normalised coordinates unchanged; crops and flips do not, so they must be
the LN-aware subclasses below (``LNRandomResizedCrop``, ``LNRandomFlip``). They reuse the stock
mmpretrain/mmcv code and randomness and move the points with the image;
``check_trace_pipeline`` refuses a pipeline that mixes traces with stock crops/flips.

``RenderTraceMaps`` implements spec 2.5 (time window, drop points outside the image, lines,
Gaussian blur, area pooling to the attention grid, normalisation). Blur and pooling are linear
and separable, so they are folded into two small matrices ``A_y`` (h, R_h) and ``A_x`` (w, R_w)
and each map is ``A_y @ M_k @ A_x.T`` evaluated on the drawn pixels of ``M_k`` only: the same
numbers as ``cv2.GaussianBlur`` (reflect-101 border) followed by ``cv2.resize(INTER_AREA)`` on
the full raster (tested), at a fraction of the cost.
"""
import functools
import math
from typing import Iterable, Sequence, Tuple, Union

import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmcv.transforms import RandomFlip as MMCVRandomFlip
from mmpretrain.datasets.transforms import RandomResizedCrop
from mmpretrain.registry import TRANSFORMS

from .captions import DropCounter, merge_utterance_valid, swap_left_right

TRACE_KEYS = ('trace_xy', 'trace_t', 'trace_seg')

# ---------------------------------------------------------------------------- point geometry


def crop_points(xy: np.ndarray, box: Sequence[float], img_wh: Sequence[float]) -> np.ndarray:
    """Normalised points of a W x H image -> normalised points of the crop ``(x0, y0, cw, ch)``.

    ``x' = (x * W - x0) / cw`` and ``y' = (y * H - y0) / ch`` (spec 2.5 item 2); the crop covers
    pixels ``x0 .. x0 + cw - 1``, i.e. the continuous span ``[x0, x0 + cw)``.
    """
    x0, y0, cw, ch = (float(v) for v in box)
    if cw <= 0 or ch <= 0:
        raise ValueError(f'crop_points: empty crop box {tuple(box)}')
    xy = np.asarray(xy, dtype=np.float64)
    out = np.empty_like(xy)
    out[:, 0] = (xy[:, 0] * float(img_wh[0]) - x0) / cw
    out[:, 1] = (xy[:, 1] * float(img_wh[1]) - y0) / ch
    return out


def flip_points(xy: np.ndarray, direction: str = 'horizontal') -> np.ndarray:
    """Mirror normalised points like ``mmcv.imflip``: x -> 1 - x (horizontal), y -> 1 - y
    (vertical), both (diagonal)."""
    if direction not in ('horizontal', 'vertical', 'diagonal'):
        raise ValueError(f"flip_points: direction must be 'horizontal', 'vertical' or "
                         f"'diagonal', got {direction!r}")
    out = np.array(xy, dtype=np.float64, copy=True)
    if direction in ('horizontal', 'diagonal'):
        out[:, 0] = 1.0 - out[:, 0]
    if direction in ('vertical', 'diagonal'):
        out[:, 1] = 1.0 - out[:, 1]
    return out


def select_utterance_points(t: np.ndarray,
                            utterance_times: np.ndarray,
                            pad: float = 0.0) -> np.ndarray:
    """(K, N) bool: point n was recorded while utterance k was spoken, ``s_k - pad <= t_n <=
    e_k + pad`` (spec 2.5 item 1; a point on a shared boundary belongs to both utterances)."""
    times = np.asarray(utterance_times, dtype=np.float64).reshape(-1, 2)
    t = np.asarray(t, dtype=np.float64).reshape(-1)
    return (t[None, :] >= times[:, :1] - pad) & (t[None, :] <= times[:, 1:] + pad)


# ---------------------------------------------------------------------------- linear operators


def _reflect101(idx: np.ndarray, n: int) -> np.ndarray:
    """OpenCV's BORDER_REFLECT_101 index map (``gfedcb|abcdefgh|gfedcba``), any distance."""
    if n == 1:
        return np.zeros_like(idx)
    period = 2 * (n - 1)
    idx = np.mod(idx, period)
    return np.where(idx > n - 1, period - idx, idx)


def gaussian_kernel_1d(sigma: float) -> np.ndarray:
    """The 1-D kernel ``cv2.GaussianBlur`` uses for float images: size round(8 sigma + 1) | 1,
    weights exp(-x^2 / 2 sigma^2) normalised to sum 1 (``cv2.getGaussianKernel``)."""
    ksize = int(round(sigma * 8 + 1)) | 1
    x = np.arange(ksize, dtype=np.float64) - (ksize - 1) / 2
    k = np.exp(-x * x / (2 * sigma * sigma))
    return k / k.sum()


def blur_matrix(n: int, sigma: float) -> np.ndarray:
    """(n, n) matrix of a 1-D Gaussian blur with reflect-101 borders (identity if sigma <= 0)."""
    if sigma <= 0:
        return np.eye(n)
    k = gaussian_kernel_1d(sigma)
    r = (len(k) - 1) // 2
    rows = np.repeat(np.arange(n), len(k))
    cols = _reflect101(rows + np.tile(np.arange(len(k)) - r, n), n)
    mat = np.zeros((n, n))
    np.add.at(mat, (rows, cols), np.tile(k, n))
    return mat


def area_pool_matrix(n: int, out: int) -> np.ndarray:
    """(out, n) matrix of area averaging from n cells to out cells (``cv2.INTER_AREA``
    shrinking): cell a averages the input span [a n / out, (a + 1) n / out)."""
    if out > n:
        raise ValueError(f'area_pool_matrix: cannot pool {n} pixels to a larger grid of {out}')
    edges = np.arange(out + 1) * (n / out)
    lo = np.maximum(edges[:-1, None], np.arange(n)[None, :])
    hi = np.minimum(edges[1:, None], np.arange(n)[None, :] + 1)
    return np.clip(hi - lo, 0, None) / (n / out)


@functools.lru_cache(maxsize=32)
def _render_operator(n: int, out: int, sigma: float) -> np.ndarray:
    op = area_pool_matrix(n, out) @ blur_matrix(n, sigma)
    op.setflags(write=False)
    return op


def render_operator(n: int, out: int, sigma: float) -> np.ndarray:
    """(out, n) read-only matrix = area pooling after Gaussian blur along one axis (cached)."""
    return _render_operator(int(n), int(out), float(sigma))


# ---------------------------------------------------------------------------- renderer


def _pair(value, name) -> Tuple:
    if isinstance(value, (int, float, np.integer, np.floating)):
        return (value, value)
    value = tuple(value)
    if len(value) != 2:
        raise ValueError(f'{name} must be a number or a (h, w) pair, got {value}')
    return value


class TraceRenderer:
    """Per-utterance attention targets from one narrative's trace (spec 2.5), pure numpy.

    Raster model (render size ``R_h x R_w``): a point ``(x, y)`` lies in pixel
    ``(floor(y R_h), floor(x R_w))`` (1.0 goes to the last pixel). Points outside [0, 1]^2 are
    dropped. An utterance's points are those of its time window; two consecutive points of the
    same segment that are both kept are joined by a line, drawn as the pixels of samples taken
    every ``sample_step`` px along it (both ends included); a point with no kept neighbour is
    drawn alone. A pixel is drawn once however many strokes cross it (a binary raster, as
    ``cv2.polylines``). With ``line_width`` w > 1 each drawn pixel grows to the w x w block
    rows/cols ``[p - (w - 1) // 2, p + w // 2]`` clipped to the raster. The raster is blurred
    (sigma in raster pixels, reflect-101 border), area-pooled to ``grid`` and normalised to sum
    1; an utterance with no drawn pixel gets an all-zero map and ``valid = False``.

    Args:
        grid (int | tuple): Attention grid (h, w), e.g. 7 for a ResNet C5 at 224 px.
        sigma (float | tuple | None): Blur sigma in raster pixels per axis (h, w); None:
            ``R / 32`` per axis (one stride-32 cell); 0: no blur.
        line_width (int): Stroke width in raster pixels.
        pad (float): Seconds added on both sides of every utterance window.
        sample_step (float): Spacing of the samples along a line, raster pixels (<= 1).
    """

    def __init__(self,
                 grid: Union[int, Sequence[int]] = 7,
                 sigma: Union[None, float, Sequence[float]] = None,
                 line_width: int = 1,
                 pad: float = 0.0,
                 sample_step: float = 0.5):
        self.grid = tuple(int(g) for g in _pair(grid, 'grid'))
        if min(self.grid) < 1:
            raise ValueError(f'TraceRenderer: grid must be positive, got {grid}')
        self.sigma = None if sigma is None else tuple(float(s) for s in _pair(sigma, 'sigma'))
        if self.sigma is not None and min(self.sigma) < 0:
            raise ValueError(f'TraceRenderer: sigma must be >= 0, got {sigma}')
        if int(line_width) != line_width or line_width < 1:
            raise ValueError(f'TraceRenderer: line_width must be an integer >= 1, got '
                             f'{line_width}')
        self.line_width = int(line_width)
        if pad < 0:
            raise ValueError(f'TraceRenderer: pad must be >= 0 seconds, got {pad}')
        self.pad = float(pad)
        if not 0 < sample_step <= 1:
            raise ValueError(f'TraceRenderer: sample_step must be in (0, 1], got {sample_step}')
        self.sample_step = float(sample_step)
        self._scratch = np.empty(0, np.int32)

    def operators(self, size: Tuple[int, int]) -> Tuple[np.ndarray, np.ndarray]:
        """``(A_y (h, R_h), A_x (w, R_w))`` for a raster of ``size = (R_h, R_w)``."""
        rh, rw = size
        sh, sw = self.sigma if self.sigma is not None else (rh / 32, rw / 32)
        return render_operator(rh, self.grid[0], sh), render_operator(rw, self.grid[1], sw)

    def rasterize(self, xy: np.ndarray, t: np.ndarray, seg: np.ndarray,
                  utterance_times: np.ndarray, size: Tuple[int, int]) -> np.ndarray:
        """Unique int64 keys ``(k * R_h + row) * R_w + col`` of the drawn pixels."""
        rh, rw = int(size[0]), int(size[1])
        times = np.asarray(utterance_times, dtype=np.float64).reshape(-1, 2)
        xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
        num_utt = len(times)
        if num_utt == 0 or len(xy) == 0:
            return np.zeros(0, np.int64)
        seg = np.asarray(seg).reshape(-1)
        inside = np.all((xy >= 0) & (xy <= 1), axis=1)
        kept = select_utterance_points(t, times, self.pad) & inside[None, :]
        px = xy[:, 0] * rw
        py = xy[:, 1] * rh
        # Every kept point is drawn (it is also the end of any line through it).
        pk, pn = np.nonzero(kept)
        sx, sy, sk = [px[pn]], [py[pn]], [pk]
        # Lines between consecutive kept points of the same segment.
        link = kept[:, :-1] & kept[:, 1:] & (seg[1:] == seg[:-1])[None, :]
        lk, ln = np.nonzero(link)
        if len(lk):
            dx = px[ln + 1] - px[ln]
            dy = py[ln + 1] - py[ln]
            steps = np.ceil(np.hypot(dx, dy) / self.sample_step).astype(np.int64)
            inner = np.maximum(steps - 1, 0)
            total = int(inner.sum())
            if total:
                rep = np.repeat(np.arange(len(lk)), inner)
                first = np.repeat(np.cumsum(inner) - inner, inner)
                frac = (np.arange(total) - first + 1) / steps[rep]
                sx.append(px[ln[rep]] + frac * dx[rep])
                sy.append(py[ln[rep]] + frac * dy[rep])
                sk.append(lk[rep])
        sx, sy, sk = np.concatenate(sx), np.concatenate(sy), np.concatenate(sk)
        cols = np.minimum(np.floor(sx).astype(np.int64), rw - 1)
        rows = np.minimum(np.floor(sy).astype(np.int64), rh - 1)
        if self.line_width > 1:
            off = np.arange(-((self.line_width - 1) // 2), self.line_width // 2 + 1)
            dr, dc = np.meshgrid(off, off, indexing='ij')
            rows = (rows[:, None] + dr.ravel()[None, :]).ravel()
            cols = (cols[:, None] + dc.ravel()[None, :]).ravel()
            sk = np.repeat(sk, off.size * off.size)
            ok = (rows >= 0) & (rows < rh) & (cols >= 0) & (cols < rw)
            rows, cols, sk = rows[ok], cols[ok], sk[ok]
        keys = (sk * rh + rows) * rw + cols
        return self._unique(keys, num_utt * rh * rw)

    def _unique(self, keys: np.ndarray, space: int) -> np.ndarray:
        """Unique keys without sorting: a reused scratch array marks each key's last writer."""
        if len(keys) == 0:
            return keys
        if self._scratch.size < space:
            self._scratch = np.empty(max(space, 2 * self._scratch.size), np.int32)
        order = np.arange(len(keys), dtype=np.int32)
        self._scratch[keys] = order
        return keys[self._scratch[keys] == order]

    def render(self, xy: np.ndarray, t: np.ndarray, seg: np.ndarray, utterance_times: np.ndarray,
               size: Tuple[int, int]) -> Tuple[np.ndarray, np.ndarray]:
        """``(maps float32 (K, h, w), valid bool (K,))`` for the K utterances."""
        rh, rw = int(size[0]), int(size[1])
        num_utt = len(np.asarray(utterance_times).reshape(-1, 2))
        gh, gw = self.grid
        if rh < gh or rw < gw:
            raise ValueError(f'TraceRenderer: render size {(rh, rw)} is smaller than the grid '
                             f'{self.grid}')
        keys = self.rasterize(xy, t, seg, utterance_times, (rh, rw))
        if len(keys) == 0:
            return np.zeros((num_utt, gh, gw), np.float32), np.zeros(num_utt, bool)
        a_y, a_x = self.operators((rh, rw))
        k_row, cols = np.divmod(keys, rw)  # k_row = k * R_h + row
        # B[k, row, j] = sum over drawn pixels of A_x[j, col]; maps = A_y @ B.
        b = np.empty((gw, num_utt * rh))
        for j in range(gw):
            b[j] = np.bincount(k_row, weights=a_x[j, cols], minlength=num_utt * rh)
        maps = np.matmul(a_y, b.reshape(gw, num_utt, rh).transpose(1, 2, 0))
        total = maps.sum(axis=(1, 2))
        valid = np.zeros(num_utt, bool)
        valid[np.unique(k_row // rh)] = True
        maps[valid] /= total[valid, None, None]
        maps[~valid] = 0
        return maps.astype(np.float32), valid


# ---------------------------------------------------------------------------- transforms


def _trace_arrays(results: dict, owner: str):
    missing = [k for k in TRACE_KEYS + ('utterance_times', ) if k not in results]
    if missing:
        raise KeyError(f'{owner}: results lack {missing}; load samples with '
                       'LocalizedNarrativesDataset')
    return (results['trace_xy'], results['trace_t'], results['trace_seg'],
            results['utterance_times'])


@TRANSFORMS.register_module()
class LNRandomResizedCrop(RandomResizedCrop):
    """mmpretrain ``RandomResizedCrop`` that also moves the trace points into the crop.

    Same arguments, randomness and image output as the stock transform: the crop is drawn
    once and handed to the stock transform for the call. (mmcv's ``cache_random_params`` is
    not used: mmpretrain lists ``rand_crop_params`` twice in ``_methods_with_randomness``, so
    the context wraps it twice and restores it once, and the wrappers pile up until Python's
    recursion limit, about 1,000 calls per data worker.) Adds
    ``crop_bbox`` = ``[x0, y0, x0 + cw, y0 + ch]`` (pixels of the input image) and maps
    ``trace_xy`` with ``crop_points``; points that fall outside stay and are dropped when
    rendering. Without traces in ``results`` it is the stock transform.
    """

    def transform(self, results: dict) -> dict:
        img = results['img']
        height, width = img.shape[:2]
        params = self.rand_crop_params(img)
        top, left, crop_h, crop_w = params
        self.rand_crop_params = lambda *args, **kwargs: params
        try:
            results = super().transform(results)
        finally:
            del self.rand_crop_params
        results['crop_bbox'] = np.array([left, top, left + crop_w, top + crop_h], np.float32)
        if 'trace_xy' in results:
            results['trace_xy'] = crop_points(results['trace_xy'], (left, top, crop_w, crop_h),
                                              (width, height))
        return results


@TRANSFORMS.register_module()
class LNRandomFlip(MMCVRandomFlip):
    """mmcv ``RandomFlip`` that also mirrors the trace points and, on a horizontal (or
    diagonal) flip, swaps the words left <-> right in ``text_keys`` (as VirTex does).

    Args:
        text_keys (Sequence[str]): Keys holding a str or a list of str to rewrite. Defaults to
            ``('utterances', 'caption')``.
        swap_words (bool): Swap left/right words. Defaults to True.
        **kwargs: mmcv ``RandomFlip`` arguments (``prob``, ``direction``...).
    """

    def __init__(self,
                 *args,
                 text_keys: Sequence[str] = ('utterances', 'caption'),
                 swap_words: bool = True,
                 **kwargs):
        super().__init__(*args, **kwargs)
        self.text_keys = tuple(text_keys)
        self.swap_words = swap_words

    def _flip(self, results: dict) -> None:
        super()._flip(results)
        direction = results['flip_direction']
        if 'trace_xy' in results:
            results['trace_xy'] = flip_points(results['trace_xy'], direction)
        if self.swap_words and direction in ('horizontal', 'diagonal'):
            for key in self.text_keys:
                value = results.get(key)
                if isinstance(value, str):
                    results[key] = swap_left_right(value)
                elif isinstance(value, (list, tuple)):
                    results[key] = [swap_left_right(v) for v in value]


@TRANSFORMS.register_module()
class RenderTraceMaps(BaseTransform):
    """Render one attention target per utterance (spec 2.5) with ``TraceRenderer``.

    Reads ``trace_xy``, ``trace_t``, ``trace_seg``, ``utterance_times`` (and ``img`` for the
    default render size). Adds ``trace_maps`` torch.float32 (U, h, w) -- row k < K is
    utterance k's map (sums to 1) or zeros, rows >= K are zeros -- ``trace_valid`` np.bool (U,)
    and ``utterance_valid`` torch.bool (U,), AND-ed with what ``TokenizeUtterances`` put there.
    Utterances beyond ``max_utterances`` are dropped and counted (logged per process).

    Args:
        grid (int | tuple): Attention grid (h, w). Defaults to 7 (C5 at 224 px).
        render_size (int | tuple | None): Raster size (R_h, R_w); None: the current image size.
        sigma (float | tuple | None): Blur sigma in raster pixels; None: R / 32 per axis.
        line_width (int): Stroke width in raster pixels. Defaults to 1.
        pad (float): Seconds added to both ends of each utterance window. Defaults to 0.
        max_utterances (int): U, the number of rows. Defaults to 32.
        sample_step (float): Spacing of line samples in raster pixels. Defaults to 0.5.
    """

    def __init__(self,
                 grid: Union[int, Sequence[int]] = 7,
                 render_size: Union[None, int, Sequence[int]] = None,
                 sigma: Union[None, float, Sequence[float]] = None,
                 line_width: int = 1,
                 pad: float = 0.0,
                 max_utterances: int = 32,
                 sample_step: float = 0.5):
        self.renderer = TraceRenderer(
            grid=grid, sigma=sigma, line_width=line_width, pad=pad, sample_step=sample_step)
        self.render_size = None if render_size is None else tuple(
            int(s) for s in _pair(render_size, 'render_size'))
        if max_utterances < 1:
            raise ValueError(f'RenderTraceMaps: max_utterances must be >= 1, got '
                             f'{max_utterances}')
        self.max_utterances = int(max_utterances)
        self.drops = DropCounter('RenderTraceMaps')

    def transform(self, results: dict) -> dict:
        xy, t, seg, times = _trace_arrays(results, 'RenderTraceMaps')
        times = np.asarray(times, dtype=np.float64).reshape(-1, 2)
        num = len(times)
        keep = min(num, self.max_utterances)
        self.drops.add('utterances beyond max_utterances dropped', num - keep,
                       f' (max_utterances={self.max_utterances})')
        size = self.render_size or tuple(results['img'].shape[:2])
        maps, valid = self.renderer.render(xy, t, seg, times[:keep], size)
        out = np.zeros((self.max_utterances, ) + self.renderer.grid, np.float32)
        out[:keep] = maps
        trace_valid = np.zeros(self.max_utterances, bool)
        trace_valid[:keep] = valid
        results['trace_maps'] = torch.from_numpy(out)
        results['trace_valid'] = trace_valid
        results['num_utterances'] = num
        merge_utterance_valid(results, trace_valid, 'RenderTraceMaps')
        return results

    def __repr__(self) -> str:
        r = self.renderer
        return (f'{self.__class__.__name__}(grid={r.grid}, render_size={self.render_size}, '
                f'sigma={r.sigma}, line_width={r.line_width}, pad={r.pad}, '
                f'max_utterances={self.max_utterances})')


# ---------------------------------------------------------------------------- pipeline check


def _stock_geometry_types() -> Tuple[type, ...]:
    """Stock transforms that move image content and know nothing about trace points."""
    from mmcv.transforms import CenterCrop as MMCVCenterCrop
    from mmcv.transforms import RandomFlip
    from mmpretrain.datasets import transforms as T
    names = ('RandomCrop', 'CenterCrop', 'RandomResizedCrop', 'EfficientNetRandomCrop',
             'EfficientNetCenterCrop', 'RandomResizedCropAndInterpolationWithTwoPic', 'Rotate',
             'Shear', 'Translate')
    return tuple(getattr(T, n) for n in names if hasattr(T, n)) + (MMCVCenterCrop, RandomFlip)


def _walk(transforms: Iterable) -> Iterable:
    for t in transforms:
        yield t
        inner = getattr(t, 'transforms', None)
        if isinstance(inner, (list, tuple)):
            yield from _walk(inner)
        elif inner is not None and hasattr(inner, 'transforms'):
            yield from _walk(inner.transforms)


def check_trace_pipeline(transforms: Iterable, owner: str = 'pipeline') -> None:
    """Raise if a pipeline that renders traces also uses a stock crop/flip (exact class, not an
    LN-aware subclass): the image would move and the trace maps would not."""
    transforms = list(_walk(transforms))
    if not any(isinstance(t, RenderTraceMaps) for t in transforms):
        return
    stock = _stock_geometry_types()
    bad = [type(t).__name__ for t in transforms if type(t) in stock]
    if bad:
        raise ValueError(f'{owner}: the pipeline renders trace maps but uses {bad}, which move '
                         'the image without the trace points; use LNRandomResizedCrop / '
                         'LNRandomFlip (or a plain Resize, which needs no change)')


def grid_for(size: int, stride: int = 32) -> int:
    """Attention grid side of a backbone of output ``stride`` at input ``size`` (a ResNet's C5
    is ceil(size / 32): 7 at 224, 3 at 96, 2 at 64)."""
    return int(math.ceil(size / stride))
