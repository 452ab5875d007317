"""GroupedIoUMetric: mmseg's IoUMetric unchanged, plus hand-checked group means."""
import numpy as np
import pytest
import torch
from mmengine.structures import PixelData
from mmseg.evaluation.metrics import IoUMetric
from mmseg.structures import SegDataSample

from mmvisrep.evaluation import GroupedIoUMetric

META = dict(classes=['circle', 'square', 'grass', 'sky'], thing_classes=['circle', 'square'])


def _sample(pred, gt):
    sample = SegDataSample()
    sample.pred_sem_seg = PixelData(data=torch.tensor(pred)[None])
    sample.gt_sem_seg = PixelData(data=torch.tensor(gt)[None])
    return sample.to_dict()


def _evaluate(metric, samples):
    metric.dataset_meta = META
    metric.process([{}] * len(samples), samples)
    return metric.evaluate(len(samples))


def test_group_means_by_hand_and_stock_metrics_unchanged():
    # 1 x 8 image: circle pixels 0-1, square 2-3, grass 4-5, sky 6-7; the model calls every
    # thing pixel grass and gets the stuff right
    gt = [[0, 0, 1, 1, 2, 2, 3, 3]]
    pred = [[2, 2, 2, 2, 2, 2, 3, 3]]
    ours = _evaluate(
        GroupedIoUMetric(groups=dict(things='thing_classes'), rest_group='stuff'),
        [_sample(pred, gt)])
    stock = _evaluate(IoUMetric(), [_sample(pred, gt)])
    # IoU: circle 0/2, square 0/2, grass 2/6, sky 2/2
    assert ours['mIoU_things'] == 0.0
    assert ours['mIoU_stuff'] == pytest.approx(np.round((1 / 3 + 1) / 2 * 100, 2))
    assert ours['mIoU'] == stock['mIoU'] == pytest.approx(np.round((1 / 3 + 1) / 4 * 100, 2))
    assert {k: v for k, v in ours.items() if not k.startswith('mIoU_')} == stock


def test_absent_class_is_left_out_and_missing_meta_is_named():
    # no square anywhere: its IoU is nan and the things' mean is the circle's alone
    gt = [[0, 0, 2, 2]]
    pred = [[0, 2, 2, 2]]
    res = _evaluate(GroupedIoUMetric(groups=dict(things='thing_classes')), [_sample(pred, gt)])
    assert res['mIoU_things'] == 50.0 and 'mIoU_stuff' not in res
    metric = GroupedIoUMetric(groups=dict(things='no_such_key'))
    with pytest.raises(KeyError, match='no_such_key'):
        _evaluate(metric, [_sample(pred, gt)])
    with pytest.raises(ValueError, match='mIoU'):
        GroupedIoUMetric(groups={}, iou_metrics=['mDice'])
