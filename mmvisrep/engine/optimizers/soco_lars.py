"""SoCo's LARS: trust ratio on the weight-decayed gradient, then plain SGD with momentum.

The official ``contrast/lars.py`` wraps ``torch.optim.SGD``: for every parameter of a group
that is not ``ignore``-d it adds ``wd * p`` to the gradient and scales it by
``eta * |p| / (|g| + eps)`` (left as is when either norm is 0), then runs SGD's momentum step
with SGD's own weight decay switched off. Parameters with ``ndim == 1`` (biases, BN) form the
ignored group: no weight decay, no trust ratio (``add_weight_decay``). mmpretrain's ``LARS``
uses a different ratio (``|g| + wd |p|`` in the denominator) and folds the lr into the momentum
buffer, hence this optimizer and its constructor.
"""
from typing import Callable, List, Optional

import torch
from mmengine.optim import DefaultOptimWrapperConstructor, OptimWrapper
from mmpretrain.registry import OPTIM_WRAPPER_CONSTRUCTORS, OPTIM_WRAPPERS, OPTIMIZERS
from torch import nn


@OPTIMIZERS.register_module()
class SoCoLARS(torch.optim.SGD):
    """SGD with SoCo's layer-wise trust ratio (official ``LARS(SGD(momentum=0.9))``).

    A param group with ``lars_exclude=True`` gets neither the trust ratio nor (if its
    ``weight_decay`` is 0, as :class:`SoCoLARSOptimWrapperConstructor` sets) weight decay.

    Args:
        params: parameters or param groups.
        lr (float): learning rate.
        momentum (float): SGD momentum (0.9 in SoCo).
        weight_decay (float): decay added to the gradient before the trust ratio.
        eta (float): trust coefficient (official ``trust_coef`` 0.001).
        eps (float): added to the gradient norm (1e-8).
        dampening (float), nesterov (bool): passed to SGD (the official uses the defaults).
    """

    def __init__(self,
                 params,
                 lr: float,
                 momentum: float = 0.9,
                 weight_decay: float = 0.,
                 eta: float = 0.001,
                 eps: float = 1e-8,
                 dampening: float = 0.,
                 nesterov: bool = False) -> None:
        if eta < 0:
            raise ValueError(f'invalid trust coefficient eta: {eta}')
        if eps < 0:
            raise ValueError(f'invalid eps: {eps}')
        # read by add_param_group, which SGD's __init__ calls before `defaults` has them
        self._lars_defaults = dict(eta=eta, eps=eps, lars_exclude=False)
        super().__init__(
            params,
            lr=lr,
            momentum=momentum,
            dampening=dampening,
            weight_decay=weight_decay,
            nesterov=nesterov)
        self.defaults.update(self._lars_defaults)

    def add_param_group(self, param_group: dict) -> None:
        """Add a group, filling SoCo's LARS keys from the defaults."""
        super().add_param_group(param_group)
        for key, value in self._lars_defaults.items():
            self.param_groups[-1].setdefault(key, value)

    @torch.no_grad()
    def step(self, closure: Optional[Callable] = None):
        """Decay and trust-scale the gradients in place (as the official), then SGD's step."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            weight_decay = group['weight_decay']
            for p in group['params']:
                if p.grad is None:
                    continue
                grad = p.grad
                if weight_decay > 0:
                    grad = grad.add(p, alpha=weight_decay)
                if not group['lars_exclude']:
                    param_norm = torch.linalg.vector_norm(p)
                    grad_norm = torch.linalg.vector_norm(grad)
                    ratio = torch.where((param_norm > 0) & (grad_norm > 0),
                                        group['eta'] * param_norm / (grad_norm + group['eps']),
                                        torch.ones_like(param_norm))
                    grad = grad.mul(ratio)
                p.grad = grad
        saved = [group['weight_decay'] for group in self.param_groups]
        for group in self.param_groups:
            group['weight_decay'] = 0.
        try:
            super().step()
        finally:
            for group, weight_decay in zip(self.param_groups, saved):
                group['weight_decay'] = weight_decay
        return loss


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class SoCoLARSOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """SoCo's two param groups: ``ndim == 1`` params excluded from weight decay and LARS.

    Only trainable parameters are passed (the EMA target is frozen), as the official
    ``add_weight_decay`` does. mmengine's ``paramwise_cfg`` cannot select by ndim, so this
    constructor takes none.
    """

    def __init__(self, optim_wrapper_cfg: dict, paramwise_cfg: Optional[dict] = None) -> None:
        if paramwise_cfg:
            raise ValueError('SoCoLARSOptimWrapperConstructor builds its own param groups '
                             f'(ndim == 1 excluded); paramwise_cfg={paramwise_cfg} is not '
                             'supported')
        super().__init__(optim_wrapper_cfg, paramwise_cfg=None)

    def __call__(self, model: nn.Module) -> OptimWrapper:
        """Build the optim wrapper with the (excluded, decayed) groups."""
        if hasattr(model, 'module'):
            model = model.module
        weight_decay = self.optimizer_cfg.get('weight_decay', 0.)
        excluded: List[nn.Parameter] = []
        decayed: List[nn.Parameter] = []
        for param in model.parameters():
            if not param.requires_grad:
                continue
            (excluded if param.ndim == 1 else decayed).append(param)
        optimizer_cfg = self.optimizer_cfg.copy()
        optimizer_cfg['params'] = [
            dict(params=excluded, weight_decay=0., lars_exclude=True),
            dict(params=decayed, weight_decay=weight_decay, lars_exclude=False),
        ]
        optimizer = OPTIMIZERS.build(optimizer_cfg)
        optim_wrapper_cfg = self.optim_wrapper_cfg.copy()
        optim_wrapper_cfg.setdefault('type', 'OptimWrapper')
        return OPTIM_WRAPPERS.build(optim_wrapper_cfg, default_args=dict(optimizer=optimizer))
