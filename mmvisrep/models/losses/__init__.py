from .infonce_loss import InfoNCELoss, gather_with_grad
from .segl_loss import SEGLLoss, downsample_label_map
from .set_prediction_loss import SetPredictionLoss
from .soco_correspondence_loss import SoCoCorrespondenceLoss, soco_correspondence
from .ssul_loss import SSULLoss, average_over_valid
from .trace_attention_loss import TraceAttentionLoss, trace_attention_loss_per_map

__all__ = [
    'SoCoCorrespondenceLoss', 'soco_correspondence', 'InfoNCELoss', 'gather_with_grad',
    'TraceAttentionLoss', 'trace_attention_loss_per_map', 'SSULLoss', 'average_over_valid',
    'SEGLLoss', 'downsample_label_map', 'SetPredictionLoss'
]
