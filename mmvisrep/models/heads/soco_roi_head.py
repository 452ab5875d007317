"""SoCo's box head: mmdet's 4conv1fc head without its classifier, so its weights transfer.

SoCo pretrains the detector's ``Shared4Conv1FCBBoxHead`` shared part (4 x [conv3x3 - BN - ReLU],
flatten, fc 12544 -> 1024 - ReLU). The state-dict keys under ``roi_head.bbox_head.`` are those of
mmdet's head (``shared_convs.i.conv|bn``, ``shared_fcs.0``), so a Mask R-CNN loads them as is.
"""
from typing import Optional, Union

import torch
from mmdet.models.roi_heads.bbox_heads import Shared4Conv1FCBBoxHead
from mmdet.registry import MODELS as MMDET_MODELS
from mmengine.model import BaseModule
from mmengine.registry import DefaultScope
from mmpretrain.registry import MODELS
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm


@MMDET_MODELS.register_module()
class SoCoSharedConvFCBBoxHead(Shared4Conv1FCBBoxHead):
    """mmdet's ``Shared4Conv1FCBBoxHead`` reduced to its shared convs and fc.

    mmdet's ``BBoxHead`` insists on a classifier or a regressor; this subclass builds the head
    with the classifier, then drops it (SoCo has neither), so only ``shared_convs`` and
    ``shared_fcs`` hold weights. ``forward`` returns the 1024-d RoI embedding.

    Without an explicit ``init_cfg`` the layers keep PyTorch's default initialisation, as the
    official ``FastRCNNConvFCHead`` does (it never re-initialises its layers).
    """

    def __init__(self,
                 in_channels: int = 256,
                 roi_feat_size: int = 7,
                 conv_out_channels: int = 256,
                 fc_out_channels: int = 1024,
                 norm_cfg: Optional[dict] = dict(type='BN'),
                 init_cfg: Optional[Union[dict, list]] = None,
                 **kwargs) -> None:
        for key in ('with_cls', 'with_reg'):
            if kwargs.pop(key, False):
                raise ValueError(f'SoCoSharedConvFCBBoxHead has no classifier/regressor: '
                                 f'got {key}=True')
        super().__init__(
            in_channels=in_channels,
            roi_feat_size=roi_feat_size,
            conv_out_channels=conv_out_channels,
            fc_out_channels=fc_out_channels,
            norm_cfg=norm_cfg,
            with_cls=True,
            with_reg=False,
            init_cfg=init_cfg,
            **kwargs)
        del self.fc_cls
        self.with_cls = False
        self.init_cfg = init_cfg

    def init_weights(self) -> None:
        """PyTorch default init (the official head's) unless an ``init_cfg`` is given."""
        if self.init_cfg is not None:
            super().init_weights()
            return
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                m.reset_parameters()
            elif isinstance(m, _BatchNorm):
                m.reset_parameters()
        self._is_init = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(R, C, 7, 7) RoI features -> (R, fc_out_channels) embeddings (shared part only)."""
        for conv in self.shared_convs:
            x = conv(x)
        x = x.flatten(1)
        for fc in self.shared_fcs:
            x = self.relu(fc(x))
        return x


@MODELS.register_module()
class SoCoRoIHead(BaseModule):
    """Holder of SoCo's box head, so its keys read ``roi_head.bbox_head.*`` as in mmdet.

    Args:
        bbox_head (dict): config of the box head, built from mmdet's registry (default
            :class:`SoCoSharedConvFCBBoxHead`).
    """

    def __init__(self, bbox_head: dict, init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        bbox_head = dict(bbox_head)
        bbox_head.setdefault('type', 'SoCoSharedConvFCBBoxHead')
        # mmdet's head builds its losses and box coder from mmdet's registries
        with DefaultScope.overwrite_default_scope('mmdet'):
            self.bbox_head = MMDET_MODELS.build(bbox_head)

    def forward(self, roi_feats: torch.Tensor) -> torch.Tensor:
        """(R, C, S, S) pooled RoI features -> (R, D) box embeddings."""
        return self.bbox_head(roi_feats)
