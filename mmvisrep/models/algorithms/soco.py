"""SoCo: object-level BYOL on selective-search boxes pooled from FPN levels (or C4).

"Aligning Pretraining for Detection via Object-Level Contrastive Learning" (Wei et al., NeurIPS
2021). Per view pair (V1, Vj), every box of each view is RoI-aligned at every feature level, run
through the box head, projector (and predictor on the online side), and the BYOL cosine loss is
averaged over the box slots whose proposal ids match across the two views (spec 1.4-1.6).
"""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
from mmpretrain.models.selfsup.base import BaseSelfSupervisor
from mmpretrain.models.utils import CosineEMA
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample
from torch import nn

from ..losses.soco_correspondence_loss import soco_correspondence
from ..utils.soco_roi_pool import multilevel_roi_align


@MODELS.register_module()
class SoCo(BaseSelfSupervisor):
    """SoCo self-supervised detector pretraining (FPN, SoCo* and C4 variants).

    The variant follows from the configuration and the data:

    * FPN / SoCo*: ``backbone`` returns C2..C5, ``neck`` (mmdet ``FPN``) gives P2..P5,
      ``roi_head`` (:class:`SoCoRoIHead`, mmdet's 4conv1fc keys) embeds 7x7 RoIs. The number of
      view pairs (2 for SoCo, 3 for SoCo*) is read from the data samples.
    * C4 (``res5_roi_head=True``): the backbone runs up to C4, RoIs are pooled 14x14 and the
      backbone's own last stage (res5) plus average pooling embeds them, so ``backbone.*`` keys
      stay a complete ResNet.
    * With ``neck=None`` and ``roi_head=None`` the pooled RoI features are average-pooled; with
      one whole-image box this is BYOL (the paper's "Whole Image" row).

    Each data sample carries ``soco_boxes`` (num_pairs, 2, K, 4) normalised xyxy boxes and
    ``soco_ids`` (num_pairs, 2, L*K) level-major slot ids; pair ``p`` uses views (0, p + 1).

    Args:
        backbone (dict): mmpretrain ``ResNet`` config.
        neck (dict, optional): feature pyramid (``mmdet.FPN``).
        roi_head (dict, optional): box head (:class:`SoCoRoIHead`).
        projector (dict): MLP after the box head (``NonLinearNeck``, no pooling).
        predictor (dict): online-only MLP after the projector.
        loss (dict): the per-direction loss (:class:`SoCoCorrespondenceLoss`).
        roi_align (dict): ``output_size`` (7, or 14 for C4), ``sampling_ratio`` (0 = adaptive,
            as the official) and ``aligned``.
        res5_roi_head (bool): C4 variant, the backbone's last stage is the box head.
        base_momentum (float): 1 - tau at the first iteration (mmpretrain ``CosineEMA``
            convention: tau 0.99 -> 1 is ``base_momentum=0.01, end_momentum=0``).
        end_momentum (float): 1 - tau at the last iteration.
    """

    def __init__(self,
                 backbone: dict,
                 projector: dict,
                 predictor: dict,
                 neck: Optional[dict] = None,
                 roi_head: Optional[dict] = None,
                 loss: dict = dict(type='SoCoCorrespondenceLoss'),
                 roi_align: dict = dict(output_size=7, sampling_ratio=0, aligned=True),
                 res5_roi_head: bool = False,
                 base_momentum: float = 0.01,
                 end_momentum: float = 0.,
                 pretrained: Optional[str] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[Union[List[dict], dict]] = None) -> None:
        super().__init__(
            backbone=backbone,
            neck=neck,
            head=None,
            pretrained=pretrained,
            data_preprocessor=data_preprocessor,
            init_cfg=init_cfg)
        self.roi_head = MODELS.build(roi_head) if roi_head is not None else None
        self.projector = MODELS.build(projector)
        self.predictor = MODELS.build(predictor)
        self.loss_module = MODELS.build(loss)
        self.roi_align_cfg = dict(output_size=7, sampling_ratio=0, aligned=True)
        self.roi_align_cfg.update(roi_align)
        self.res5_roi_head = res5_roi_head
        if res5_roi_head:
            if self.neck is not None or self.roi_head is not None:
                raise ValueError('SoCo C4 (res5_roi_head=True) uses the backbone\'s last stage '
                                 'as the box head: set neck=None and roi_head=None')
            if len(getattr(self.backbone, 'res_layers', [])) < 2:
                raise ValueError('res5_roi_head=True needs an mmpretrain ResNet-style backbone '
                                 'with `res_layers`')
        # EMA target over backbone + neck + box head + projector (not the predictor),
        # updated every iteration before the target features are computed (spec 1.6).
        self.target = CosineEMA(
            self._online_nets(), momentum=base_momentum, end_momentum=end_momentum)

    def _online_nets(self) -> nn.ModuleDict:
        """The online modules that the target averages, keyed like the target's."""
        nets = nn.ModuleDict(dict(backbone=self.backbone, projector=self.projector))
        if self.neck is not None:
            nets['neck'] = self.neck
        if self.roi_head is not None:
            nets['roi_head'] = self.roi_head
        return nets

    def _feature_levels(self, nets: nn.ModuleDict, img: torch.Tensor) -> Tuple[torch.Tensor]:
        """Feature maps that boxes are pooled from: P2..P5 (FPN), C4 (C4 variant) or the
        backbone's outputs."""
        backbone = nets['backbone']
        if self.res5_roi_head:
            # stem + res2..res4 only; res5 runs on the RoIs (contrast/resnet.py)
            if backbone.deep_stem:
                x = backbone.stem(img)
            else:
                x = backbone.relu(backbone.norm1(backbone.conv1(img)))
            x = backbone.maxpool(x)
            for name in backbone.res_layers[:-1]:
                x = getattr(backbone, name)(x)
            return (x, )
        feats = backbone(img)
        if 'neck' in nets:
            feats = nets['neck'](feats)
        return tuple(feats)

    def _embed_boxes(self, nets: nn.ModuleDict, feats: Sequence[torch.Tensor], boxes: torch.Tensor,
                     predict: bool) -> torch.Tensor:
        """(N, K, 4) boxes -> (N, L*K, D) embeddings, level-major (slot ``l*K + k``).

        Each level's N*K RoIs go through the head/projector/predictor as one batch, as in the
        official code, so BN statistics are per level.
        """
        num_imgs, num_boxes = boxes.shape[:2]
        rois_per_level = multilevel_roi_align(feats, boxes, **self.roi_align_cfg)
        outs = []
        for rois in rois_per_level:
            if self.res5_roi_head:
                backbone = nets['backbone']
                x = getattr(backbone, backbone.res_layers[-1])(rois).mean((2, 3))
            elif 'roi_head' in nets:
                x = nets['roi_head'](rois)
            else:
                x = rois.mean((2, 3))
            x = nets['projector']([x])[0]
            if predict:
                x = self.predictor([x])[0]
            outs.append(x.reshape(num_imgs, num_boxes, -1))
        return torch.cat(outs, dim=1)

    def _embed_pairs(self, nets: nn.ModuleDict, inputs: List[torch.Tensor], boxes: torch.Tensor,
                     predict: bool) -> List[Tuple[torch.Tensor, torch.Tensor]]:
        """Per view pair p: embeddings of (V1's boxes of pair p, view p+1's boxes).

        V1's feature maps are computed once and pooled with each pair's V1 boxes.
        """
        feats_v1 = self._feature_levels(nets, inputs[0])
        out = []
        for p in range(boxes.size(1)):
            emb_v1 = self._embed_boxes(nets, feats_v1, boxes[:, p, 0], predict)
            feats_vj = self._feature_levels(nets, inputs[p + 1])
            emb_vj = self._embed_boxes(nets, feats_vj, boxes[:, p, 1], predict)
            out.append((emb_v1, emb_vj))
        return out

    @staticmethod
    def _stack_field(data_samples: List[DataSample], key: str,
                     device: torch.device) -> torch.Tensor:
        """Stack one per-sample array field into a batch tensor, with a clear error."""
        values = []
        for i, sample in enumerate(data_samples):
            if key not in sample:
                raise KeyError(f'SoCo: data sample {i} has no `{key}`; the pipeline must end '
                               f"with PackInputs(algorithm_keys=['soco_boxes', 'soco_ids'])")
            values.append(torch.as_tensor(sample.get(key)))
        return torch.stack(values).to(device)

    def loss(self, inputs: List[torch.Tensor], data_samples: List[DataSample],
             **kwargs) -> Dict[str, torch.Tensor]:
        """Sum over view pairs of the symmetrised correspondence loss (spec 1.5).

        Args:
            inputs (list[Tensor]): views (B, 3, H_v, W_v), V1 first.
            data_samples (list[DataSample]): with ``soco_boxes`` and ``soco_ids``.

        Returns:
            dict: ``loss`` and ``pos_pairs`` (mean matched slot pairs per image and pair,
            logged only).
        """
        if not isinstance(inputs, (list, tuple)):
            raise TypeError('SoCo expects a list of view tensors as inputs')
        device = inputs[0].device
        boxes = self._stack_field(data_samples, 'soco_boxes', device).float()
        ids = self._stack_field(data_samples, 'soco_ids', device).long()
        if boxes.dim() != 5 or boxes.shape[2] != 2 or boxes.shape[-1] != 4:
            raise ValueError('soco_boxes must be (num_pairs, 2, K, 4) per sample, got '
                             f'{tuple(boxes.shape[1:])}')
        num_pairs, num_boxes = boxes.shape[1], boxes.shape[3]
        if ids.shape[1:3] != (num_pairs, 2) or ids.shape[-1] % num_boxes:
            raise ValueError(f'soco_ids {tuple(ids.shape[1:])} does not fit soco_boxes '
                             f'{tuple(boxes.shape[1:])}: expected (num_pairs, 2, L*K)')
        if len(inputs) != num_pairs + 1:
            raise ValueError(f'{len(inputs)} views but boxes for {num_pairs} view pairs '
                             f'(expected {num_pairs + 1} views)')

        online = self._embed_pairs(self._online_nets(), inputs, boxes, predict=True)
        if online[0][0].size(1) != ids.size(-1):
            raise ValueError(f'the model pools {online[0][0].size(1)} slots per view '
                             f'(levels x K) but soco_ids has {ids.size(-1)}: check that the '
                             'transform\'s aware_range matches the number of feature levels')
        with torch.no_grad():
            self.target.update_parameters(self._online_nets())
            target = self._embed_pairs(self.target.module, inputs, boxes, predict=False)

        loss = 0.
        pos_pairs = 0.
        for p in range(num_pairs):
            corr = soco_correspondence(ids[:, p, 0], ids[:, p, 1])
            loss = loss + self.loss_module(online[p][0], target[p][1], corr) + \
                self.loss_module(online[p][1], target[p][0], corr.transpose(1, 2))
            pos_pairs = pos_pairs + corr.sum((1, 2)).mean()
        return dict(loss=loss, pos_pairs=pos_pairs / num_pairs)
