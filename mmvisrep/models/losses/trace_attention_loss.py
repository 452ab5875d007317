"""Loss between the cross-modal attention maps and the rendered mouse-trace maps (LocTex).

For utterance k with target distribution ``m_k`` over the h*w grid and predicted attention
``a_k`` (spec 2.3): KL ``sum_j m_kj (log m_kj - log a_kj)`` (default), CE ``-sum_j m_kj log a_kj``
(same gradient as KL) or MSE between the max-normalised maps, averaged over the valid utterances
of the global batch.
"""
import torch
from mmengine.dist import all_reduce, get_world_size
from mmpretrain.registry import MODELS
from torch import nn

MODES = ('kl', 'ce', 'mse')


def trace_attention_loss_per_map(log_attn: torch.Tensor,
                                 target: torch.Tensor,
                                 mode: str = 'kl') -> torch.Tensor:
    """Per-map loss ``(K,)`` of ``(K, P)`` attention log-probabilities against ``(K, P)`` targets.

    Rows whose target is all zero give 0 (KL, CE) or a finite value (MSE); the caller masks them.
    """
    if mode == 'kl':
        return (torch.xlogy(target, target) - target * log_attn).sum(-1)
    if mode == 'ce':
        return -(target * log_attn).sum(-1)
    if mode == 'mse':
        attn = log_attn.exp()
        attn = attn / attn.amax(-1, keepdim=True).clamp_min(1e-12)
        tgt = target / target.amax(-1, keepdim=True).clamp_min(1e-12)
        return (attn - tgt).pow(2).mean(-1)
    raise ValueError(f'unknown trace attention loss mode {mode!r}; choose one of {MODES}')


@MODELS.register_module()
class TraceAttentionLoss(nn.Module):
    """Attention-vs-trace loss averaged over valid utterances (KL by default).

    The number of valid utterances is averaged over ranks (``all_reduce``, as mmdet's
    ``reduce_mean`` of positive samples), so the mean over ranks of the per-rank losses -- what
    DDP optimises -- is the average over all valid utterances of the global batch.

    Args:
        mode (str): ``'kl'``, ``'ce'`` or ``'mse'``. Defaults to ``'kl'``.
        loss_weight (float): lambda_att. Defaults to 1.0 (spec 2.3 proposal; the paper's value
            is not known).
    """

    def __init__(self, mode: str = 'kl', loss_weight: float = 1.0) -> None:
        super().__init__()
        if mode not in MODES:
            raise ValueError(f'TraceAttentionLoss: mode {mode!r} not in {MODES}')
        self.mode = mode
        self.loss_weight = loss_weight

    def forward(self, log_attn: torch.Tensor, target: torch.Tensor,
                valid: torch.Tensor) -> torch.Tensor:
        """Args: ``log_attn`` and ``target`` (..., P), ``valid`` (...) bool; returns a scalar."""
        if log_attn.shape != target.shape or valid.shape != log_attn.shape[:-1]:
            raise ValueError(f'TraceAttentionLoss: log_attn {tuple(log_attn.shape)}, target '
                             f'{tuple(target.shape)} and valid {tuple(valid.shape)} do not '
                             'match (expected (..., P), (..., P) and (...))')
        per_map = trace_attention_loss_per_map(log_attn, target, self.mode)
        valid = valid.bool()
        total = torch.where(valid, per_map, per_map.new_zeros(())).sum()
        count = valid.sum().to(per_map.dtype)
        if get_world_size() > 1:
            count = count.clone()
            all_reduce(count, op='mean')
        # no valid utterance anywhere: the sum is 0 and stays in the graph (DDP sees every
        # parameter of the attention branch used)
        count = torch.where(count > 0, count, count.new_ones(()))
        return self.loss_weight * total / count
