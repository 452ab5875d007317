"""SEGL: the semantic segmentation loss of the semantic-visual-loss VLP (Yang et al., TMM 2023).

A 1x1 convolution maps the visual feature map to the COCO-Stuff classes; the ground-truth label
map is *down*-sampled to the feature size (the paper resizes the annotation, not the features, to
save memory) and a pixel-wise cross-entropy ignores the unlabeled value 255. Samples without a
label map (images outside COCO-Stuff) contribute nothing.

Down-sampling (our choice, ``downsample='mode'``): every feature cell takes the most frequent
value among the label pixels that fall in it (pixel ``(y, x)`` belongs to cell
``(y * h // H, x * w // W)``); 255 takes part in the vote like a class, so a cell that is mostly
unlabeled is ignored, and ties go to the smallest value (255 loses them). ``'nearest'`` picks one
pixel per cell (``F.interpolate(mode='nearest')``), which is cheaper but noisier at 32x
reduction. A map smaller than the feature grid is always resized with ``'nearest'``.

Label values are the training ids of the dataset (e.g. the 171 contiguous COCO-Stuff ids of the
mmseg LUT, or the raw 0..181 PNG values with ``num_classes=182``) plus ``ignore_index``; any
other value raises an error naming the sample.
"""
from typing import Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmpretrain.registry import MODELS
from torch import nn

from .ssul_loss import average_over_valid

DOWNSAMPLE_MODES = ('mode', 'nearest')


def downsample_label_map(label_map: torch.Tensor,
                         size: Tuple[int, int],
                         mode: str = 'mode',
                         num_values: int = 256) -> torch.Tensor:
    """Down-sample an ``(H, W)`` integer label map (values < ``num_values``) to ``size``.

    ``'mode'``: the most frequent value of each cell's pixels (smallest value on ties);
    ``'nearest'``: nearest-neighbour sampling. Returns an int64 ``(h, w)`` tensor.
    """
    if mode not in DOWNSAMPLE_MODES:
        raise ValueError(f'downsample_label_map: mode {mode!r} not in {DOWNSAMPLE_MODES}')
    if label_map.dim() != 2:
        raise ValueError(f'downsample_label_map: expected an (H, W) map, got '
                         f'{tuple(label_map.shape)}')
    height, width = label_map.shape
    h, w = int(size[0]), int(size[1])
    label_map = label_map.long()
    if (height, width) == (h, w):
        return label_map.clone()
    if mode == 'nearest' or height < h or width < w:
        return F.interpolate(
            label_map[None, None].float(), size=(h, w), mode='nearest')[0, 0].long()
    device = label_map.device
    rows = torch.arange(height, device=device) * h // height
    cols = torch.arange(width, device=device) * w // width
    cell = rows[:, None] * w + cols[None, :]
    counts = torch.bincount(
        (cell * num_values + label_map).flatten(), minlength=h * w * num_values)
    return counts.view(h * w, num_values).argmax(1).view(h, w)


@MODELS.register_module()
class SEGLLoss(nn.Module):
    """Cross-entropy of segmentation logits against down-sampled label maps, ignoring unlabeled.

    The loss is the mean over the labelled cells of the global batch (rank-averaged count, see
    :func:`average_over_valid`); a batch without any labelled cell gives 0 in the graph.

    Args:
        num_classes (int): logits per cell. Defaults to 172 (the paper's COCO-Stuff classes:
            with the mmseg LUT the values 0..170 are used and logit 171 stays unused unless
            ``unlabeled_class=171``).
        ignore_index (int): the unlabeled value. Defaults to 255.
        downsample (str): ``'mode'`` (default) or ``'nearest'`` (module docstring).
        unlabeled_class (int, optional): when set, unlabeled pixels are trained as this class
            (e.g. 171: all 172 logits used) instead of being ignored.
        loss_weight (float): lambda_segl. Defaults to 1.0 (the paper's value is not known).
    """

    def __init__(self,
                 num_classes: int = 172,
                 ignore_index: int = 255,
                 downsample: str = 'mode',
                 unlabeled_class: Optional[int] = None,
                 loss_weight: float = 1.0) -> None:
        super().__init__()
        if downsample not in DOWNSAMPLE_MODES:
            raise ValueError(f'SEGLLoss: downsample {downsample!r} not in {DOWNSAMPLE_MODES}')
        if 0 <= ignore_index < num_classes:
            raise ValueError(f'SEGLLoss: ignore_index {ignore_index} is one of the '
                             f'{num_classes} classes')
        if unlabeled_class is not None and not 0 <= unlabeled_class < num_classes:
            raise ValueError(f'SEGLLoss: unlabeled_class {unlabeled_class} outside '
                             f'[0, {num_classes})')
        self.num_classes = num_classes
        self.ignore_index = ignore_index
        self.downsample = downsample
        self.unlabeled_class = unlabeled_class
        self.loss_weight = loss_weight

    def targets(self, label_maps: Sequence[Optional[torch.Tensor]], size: Tuple[int, int],
                device: torch.device) -> torch.Tensor:
        """``(B, h, w)`` int64 targets; a ``None`` map gives an all-``ignore_index`` target."""
        out = torch.full(
            (len(label_maps), ) + tuple(size), self.ignore_index, dtype=torch.long, device=device)
        num_values = max(self.num_classes, self.ignore_index + 1)
        for i, label_map in enumerate(label_maps):
            if label_map is None:
                continue
            label_map = torch.as_tensor(label_map, device=device).long()
            if label_map.dim() == 3 and label_map.size(0) == 1:
                label_map = label_map[0]
            if label_map.dim() != 2:
                raise ValueError(f'SEGLLoss: sample {i}: the label map must be (H, W), got '
                                 f'{tuple(label_map.shape)}')
            bad = ((label_map < 0) | (label_map >= self.num_classes)) & \
                (label_map != self.ignore_index)
            if bad.any():
                values = torch.unique(label_map[bad])[:10].tolist()
                raise ValueError(f'SEGLLoss: sample {i}: label values {values} are neither '
                                 f'classes [0, {self.num_classes}) nor the ignore value '
                                 f'{self.ignore_index}; map the dataset ids to training ids '
                                 '(e.g. the mmseg COCO-Stuff LUT) or raise num_classes')
            if self.unlabeled_class is not None:
                label_map = label_map.masked_fill(label_map == self.ignore_index,
                                                  self.unlabeled_class)
            out[i] = downsample_label_map(label_map, size, self.downsample, num_values)
        return out

    def forward(self, logits: torch.Tensor,
                label_maps: Sequence[Optional[torch.Tensor]]) -> torch.Tensor:
        """Args: ``logits`` (B, num_classes, h, w); ``label_maps`` B maps (H_i, W_i) or None."""
        if logits.dim() != 4 or logits.size(1) != self.num_classes:
            raise ValueError(f'SEGLLoss: logits must be (B, {self.num_classes}, h, w), got '
                             f'{tuple(logits.shape)}')
        if len(label_maps) != logits.size(0):
            raise ValueError(f'SEGLLoss: {logits.size(0)} logit maps but {len(label_maps)} label '
                             'maps (use None for a sample without one)')
        target = self.targets(label_maps, logits.shape[2:], logits.device)
        total = F.cross_entropy(
            logits.float(), target, ignore_index=self.ignore_index, reduction='sum')
        count = (target != self.ignore_index).sum()
        return self.loss_weight * average_over_valid(total, count)
