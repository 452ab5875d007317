from .infonce_loss import InfoNCELoss, gather_with_grad
from .soco_correspondence_loss import SoCoCorrespondenceLoss, soco_correspondence
from .trace_attention_loss import TraceAttentionLoss, trace_attention_loss_per_map

__all__ = [
    'SoCoCorrespondenceLoss', 'soco_correspondence', 'InfoNCELoss', 'gather_with_grad',
    'TraceAttentionLoss', 'trace_attention_loss_per_map'
]
