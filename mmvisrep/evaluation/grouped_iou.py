"""mmseg's IoU metric plus the mean IoU of class groups (things vs. stuff).

On the toy scenes the stuff kinds are told apart by colour and texture while the things are told
apart only by their outline, so the 16-class mIoU can rise with no thing learned at all. Reporting
the groups' means next to it shows which part a fine-tuned backbone helps.
"""
from typing import Dict, Sequence

import numpy as np
from mmseg.evaluation.metrics import IoUMetric
from mmseg.registry import METRICS


@METRICS.register_module()
class GroupedIoUMetric(IoUMetric):
    """``IoUMetric`` (same ``aAcc``, ``mIoU``, ... and per-class table) plus ``mIoU_<group>``.

    Args:
        groups (dict): group name -> key of ``dataset_meta`` listing the group's class names
            (e.g. ``dict(things='thing_classes')``); classes the dataset does not use are
            ignored; the rest of the classes form ``rest_group``.
        rest_group (str, optional): name of the group of all other classes (e.g. ``'stuff'``).
        **kwargs: ``IoUMetric``'s arguments; ``iou_metrics`` must include ``'mIoU'``.
    """

    def __init__(self, groups: Dict[str, str], rest_group: str = None, **kwargs) -> None:
        super().__init__(**kwargs)
        if 'mIoU' not in self.metrics:
            raise ValueError(f'GroupedIoUMetric needs iou_metrics with mIoU, got {self.metrics}')
        self.groups = dict(groups)
        self.rest_group = rest_group

    def _group_indices(self) -> Dict[str, Sequence[int]]:
        classes = list(self.dataset_meta['classes'])
        out, used = {}, set()
        for name, meta_key in self.groups.items():
            if meta_key not in self.dataset_meta:
                raise KeyError(f'GroupedIoUMetric: group {name!r} needs dataset_meta[{meta_key!r}]'
                               f', which the dataset does not provide')
            members = set(self.dataset_meta[meta_key])
            out[name] = [i for i, c in enumerate(classes) if c in members]
            used.update(out[name])
        if self.rest_group:
            out[self.rest_group] = [i for i in range(len(classes)) if i not in used]
        return out

    def compute_metrics(self, results: list) -> Dict[str, float]:
        metrics = super().compute_metrics(results)
        if self.format_only:
            return metrics
        intersect, union = (sum(areas) for areas in tuple(zip(*results))[:2])
        iou = (intersect / union).numpy()  # nan for a class absent from labels and predictions
        for name, indices in self._group_indices().items():
            value = np.nanmean(iou[indices]) if indices else np.nan
            metrics[f'mIoU_{name}'] = float(np.round(value * 100, 2))
        return metrics
