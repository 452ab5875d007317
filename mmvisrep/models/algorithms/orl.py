"""ORL stage 3: object-level BYOL on image, intra-RoI and inter-RoI view pairs.

"Unsupervised Object-Level Representation Learning from Scene Images" (Xie et al., NeurIPS
2021; official ``openselfsup/models/orl.py``, spec 2.5). mmpretrain's ``BYOL`` with two more
predictor heads: one shared online backbone + projector and its ``CosineEMA`` target embed six
views (two 224 px images, the intra-RoI patch pair and the inter-RoI patch pair, 96 px), and
each pair gets its own ``LatentPredictHead`` and the symmetrised BYOL loss.
"""
import copy
from typing import Dict, List, Optional, Union

import torch
from mmpretrain.models.selfsup import BYOL
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample
from torch import nn

# Input order: the views that MultiView packs (configs/_base_/datasets/coco_orl_stage3.py).
VIEW_PAIRS = dict(global_=(0, 1), intra=(2, 3), inter=(4, 5))


@MODELS.register_module()
class ORL(BYOL):
    """ORL's object-level BYOL (stage 3).

    ``inputs`` holds six batches: ``[img1, img2, ipatch1, ipatch2, kpatch1, kpatch2]``.
    Every view goes through the online backbone + neck and, under ``no_grad``, the EMA target
    (updated once per iteration before the target forward, as in ``BYOL``). Each pair's loss is
    mmpretrain BYOL's ``2 * (head(o1, t2) + head(o2, t1))`` with that pair's head:
    ``head`` (global, same keys as ``BYOL`` so a stage-1 checkpoint fills it), ``intra_head``
    and ``inter_head`` (built from ``head``'s config when None, as the official code does).

    Starting from stage 1 (the official stage 3 trains from scratch): set
    ``init_cfg=dict(type='Pretrained', checkpoint=STAGE1_CKPT)`` (or ``pretrained``). The
    online and target weights are loaded, then the EMA step counter is reset so that the first
    update copies the online network into the target and the tau schedule starts at
    ``base_momentum``.

    Args:
        backbone (dict): Backbone config (mmpretrain ``ResNet``).
        neck (dict): Projector config (``NonLinearNeck``).
        head (dict): Global ``LatentPredictHead`` config.
        intra_head (dict, optional): Intra-RoI head config; ``head`` when None.
        inter_head (dict, optional): Inter-RoI head config; ``head`` when None.
        global_loss_weight, intra_loss_weight, inter_loss_weight (float): Loss weights
            (official 1 : 1 : 1).
        base_momentum (float): 1 - tau at the first iteration (mmpretrain ``CosineEMA``
            convention: tau 0.99 -> 1 is ``base_momentum=0.01, end_momentum=0``).
        end_momentum (float): 1 - tau at the last iteration.
    """

    def __init__(self,
                 backbone: dict,
                 neck: dict,
                 head: dict,
                 intra_head: Optional[dict] = None,
                 inter_head: Optional[dict] = None,
                 global_loss_weight: float = 1.,
                 intra_loss_weight: float = 1.,
                 inter_loss_weight: float = 1.,
                 base_momentum: float = 0.01,
                 end_momentum: float = 0.,
                 pretrained: Optional[str] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[Union[List[dict], dict]] = None) -> None:
        if pretrained is not None:
            init_cfg = dict(type='Pretrained', checkpoint=pretrained)
        super().__init__(
            backbone=backbone,
            neck=neck,
            head=head,
            base_momentum=base_momentum,
            data_preprocessor=data_preprocessor,
            init_cfg=init_cfg)
        self.target_net.end_momentum = end_momentum
        self.intra_head = MODELS.build(copy.deepcopy(intra_head or head))
        self.inter_head = MODELS.build(copy.deepcopy(inter_head or head))
        self.loss_weights = dict(
            global_=float(global_loss_weight),
            intra=float(intra_loss_weight),
            inter=float(inter_loss_weight))

    def init_weights(self) -> None:
        """Initialise; after loading a pretrained (stage-1) checkpoint, restart the EMA."""
        super().init_weights()
        cfgs = self.init_cfg if isinstance(self.init_cfg, list) else [self.init_cfg]
        if any(isinstance(c, dict) and c.get('type') == 'Pretrained' for c in cfgs):
            self.target_net.steps.zero_()

    def _heads(self) -> Dict[str, nn.Module]:
        return dict(global_=self.head, intra=self.intra_head, inter=self.inter_head)

    def loss(self, inputs: List[torch.Tensor], data_samples: List[DataSample],
             **kwargs) -> Dict[str, torch.Tensor]:
        """``loss_global``, ``loss_intra`` and ``loss_inter`` (weighted, each symmetrised)."""
        if not isinstance(inputs, (list, tuple)) or len(inputs) != 6:
            raise ValueError('ORL expects six input views [img1, img2, ipatch1, ipatch2, '
                             f'kpatch1, kpatch2], got {type(inputs).__name__} of length '
                             f'{len(inputs) if isinstance(inputs, (list, tuple)) else "?"}')
        online_net = nn.Sequential(self.backbone, self.neck)
        online = [online_net(view)[0] for view in inputs]
        with torch.no_grad():
            self.target_net.update_parameters(online_net)
            target = [self.target_net(view)[0] for view in inputs]
        losses = dict()
        for name, head in self._heads().items():
            a, b = VIEW_PAIRS[name]
            loss = 2. * (head.loss(online[a], target[b]) + head.loss(online[b], target[a]))
            losses[f'loss_{name.rstrip("_")}'] = self.loss_weights[name] * loss
        return losses
