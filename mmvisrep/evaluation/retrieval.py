"""Image<->text retrieval recall (R@k) that runs on our stack and on galleries of any size.

mmpretrain's ``RetrievalRecall`` is the metric of its ``RetrievalValLoop`` /
``RetrievalTestLoop``; ours keeps its interface, its metric names (``retrieval/Recall@k``, the
loops add ``i2t/`` and ``t2i/``) and its averaging (one 0/100 result per query, averaged), and
fixes two failures of mmpretrain 1.2.0: ``np.in1d`` no longer exists in numpy 2.4, and
``torch.topk`` raises when ``k`` exceeds the gallery (R@10 over the 6 images of a toy split).
"""
from typing import List, Optional, Sequence, Union

import torch
from mmengine.logging import print_log
from mmengine.structures import BaseDataElement
from mmpretrain.evaluation import RetrievalRecall
from mmpretrain.registry import METRICS


@METRICS.register_module()
class ImageTextRecall(RetrievalRecall):
    """Recall@k of a query's ranked gallery: 100 if a ground-truth item is among its top k.

    Every data sample is one query (an image for i2t, a caption for t2i) with ``pred_score``
    ``(G,)``, the scores of the G gallery items, and ``gt_label`` (the indices of its matches) or
    ``gt_score`` (nonzero = match). With k >= G the whole gallery counts (logged once), where
    mmpretrain's metric raises. The results equal mmpretrain's wherever that one runs.

    Args:
        topk (int | Sequence[int]): the k of each reported recall, e.g. ``(1, 5, 10)``.
        collect_device (str): ``'cpu'`` or ``'gpu'``, to collect per-rank results.
        prefix (str, optional): metric name prefix. Defaults to ``'retrieval'``.
        collect_dir (str, optional): shared folder of the ``'cpu'`` collection (mmengine makes
            ``.dist_test/`` in the working directory otherwise).
    """

    def __init__(self,
                 topk: Union[int, Sequence[int]],
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None,
                 collect_dir: Optional[str] = None) -> None:
        super().__init__(topk=topk, collect_device=collect_device, prefix=prefix)
        if collect_dir is not None and collect_device != 'cpu':
            raise ValueError('ImageTextRecall: collect_dir is only used with collect_device='
                             f"'cpu', got {collect_device!r}")
        self.collect_dir = collect_dir
        self._capped_warned = False

    def query_recalls(self, score: torch.Tensor, positives: torch.Tensor) -> List[torch.Tensor]:
        """``[R@k for k in topk]`` of one query, each a 0-d float tensor equal to 0 or 100."""
        score = score.reshape(-1)
        num = score.numel()
        if max(self.topk) > num and not self._capped_warned:
            print_log(
                f'ImageTextRecall: a gallery of {num} items is smaller than k={max(self.topk)}; '
                f'Recall@k for k >= {num} counts the whole gallery',
                'current',
                level=30)
            self._capped_warned = True
        ranked = score.topk(min(max(self.topk), num)).indices
        hit = torch.isin(ranked, positives.to(ranked.device).reshape(-1))
        return [(hit[:k].any().float() * 100).cpu() for k in self.topk]

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            if isinstance(sample, BaseDataElement):  # the Evaluator passes dicts already
                sample = sample.to_dict()
            score = sample['pred_score']
            if 'gt_score' in sample:
                positives = sample['gt_score'].reshape(-1).nonzero().reshape(-1)
            else:
                positives = torch.as_tensor(sample['gt_label']).long().reshape(-1)
            self.results.append(self.query_recalls(score, positives))
