"""SoCo's LARS and its ndim==1 constructor against hand-computed steps and the official rule."""
import math

import pytest
import torch
from mmpretrain.registry import OPTIM_WRAPPER_CONSTRUCTORS
from torch import nn

import mmvisrep  # noqa: F401
from mmvisrep.engine.optimizers import SoCoLARS


def test_trust_ratio_hand_computed():
    """|w| = 5, |g| = 1, eta = 0.1 -> ratio 0.5; lr 1, first momentum step = the scaled grad."""
    w = nn.Parameter(torch.tensor([[3., 0.], [0., 4.]]))
    w.grad = torch.tensor([[1., 0.], [0., 0.]])
    opt = SoCoLARS([w], lr=1., momentum=0.9, weight_decay=0., eta=0.1, eps=0.)
    opt.step()
    assert torch.allclose(w.detach(), torch.tensor([[2.5, 0.], [0., 4.]]))
    # second step: same grad; |w| = sqrt(2.5^2 + 16) -> ratio 0.1 * |w|; buf = 0.9 * 0.5 + r
    w.grad = torch.tensor([[1., 0.], [0., 0.]])
    opt.step()
    ratio = 0.1 * math.sqrt(2.5**2 + 16)
    assert w[0, 0].item() == pytest.approx(2.5 - (0.9 * 0.5 + ratio), abs=1e-6)
    assert w[1, 1].item() == pytest.approx(4.)


def test_trust_ratio_uses_decayed_gradient():
    """wd 0.5: g' = g + 0.5 w = [1.5, 2]; |g'| = 2.5, |w| = 5, eta 0.1 -> ratio 0.2."""
    w = nn.Parameter(torch.tensor([3., 4.]).reshape(1, 2))
    w.grad = torch.tensor([[0., 0.]])
    opt = SoCoLARS([w], lr=1., momentum=0., weight_decay=0.5, eta=0.1, eps=0.)
    opt.step()
    # g' = 0.5 * [3, 4] = [1.5, 2] (|g'| = 2.5); step = 0.2 * g' = [0.3, 0.4]
    assert torch.allclose(w.detach(), torch.tensor([[2.7, 3.6]]))
    # the optimizer's own weight decay is restored after the step
    assert opt.param_groups[0]['weight_decay'] == 0.5


def test_zero_norms_leave_gradient_unscaled():
    """A zero parameter (or zero gradient) keeps ratio 1, as the official."""
    w = nn.Parameter(torch.zeros(1, 2))
    w.grad = torch.tensor([[1., -2.]])
    opt = SoCoLARS([w], lr=0.5, momentum=0.9, weight_decay=0.1, eta=0.001)
    opt.step()
    assert torch.allclose(w.detach(), torch.tensor([[-0.5, 1.]]))


def _official_reference(params, grads_seq, lr, wd, eta, eps, momentum):
    """Official contrast/lars.py + torch SGD, written out: groups (ndim==1 ignored, rest)."""
    params = [p.clone() for p in params]
    bufs = [None] * len(params)
    for grads in grads_seq:
        for i, (p, g) in enumerate(zip(params, grads)):
            if p.ndim != 1:
                g = g + wd * p
                pn, gn = p.norm(), g.norm()
                if pn > 0 and gn > 0:
                    g = g * (eta * pn / (gn + eps))
            bufs[i] = g.clone() if bufs[i] is None else momentum * bufs[i] + g
            params[i] = p - lr * bufs[i]
    return params


def test_constructor_groups_and_parity_with_official_rule():
    """ndim==1 params: no decay, no trust ratio; frozen params left out; 3 steps match."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3), nn.Linear(3, 2))
    frozen = nn.Linear(2, 2)
    frozen.requires_grad_(False)
    model.add_module('frozen', frozen)
    constructor = OPTIM_WRAPPER_CONSTRUCTORS.build(
        dict(
            type='SoCoLARSOptimWrapperConstructor',
            optim_wrapper_cfg=dict(
                type='OptimWrapper',
                optimizer=dict(type='SoCoLARS', lr=0.3, weight_decay=0.05, eta=0.02))))
    optim_wrapper = constructor(model)
    excluded, decayed = optim_wrapper.optimizer.param_groups
    assert excluded['lars_exclude'] and excluded['weight_decay'] == 0.
    assert not decayed['lars_exclude'] and decayed['weight_decay'] == 0.05
    assert {id(p)
            for p in excluded['params']
            } == {id(model[0].bias),
                  id(model[1].weight),
                  id(model[1].bias),
                  id(model[2].bias)}
    assert {id(p) for p in decayed['params']} == {id(model[0].weight), id(model[2].weight)}

    trainable = [p for p in model.parameters() if p.requires_grad]
    start = [p.detach().clone() for p in trainable]
    grads_seq = [[torch.randn_like(p) for p in trainable] for _ in range(3)]
    for grads in grads_seq:
        for p, g in zip(trainable, grads):
            p.grad = g.clone()
        optim_wrapper.step()
    expected = _official_reference(start, grads_seq, 0.3, 0.05, 0.02, 1e-8, 0.9)
    for p, e in zip(trainable, expected):
        assert torch.allclose(p.detach(), e, atol=1e-6)
    # the 1-D bias moved exactly by plain SGD momentum (no decay, no trust ratio)
    bias_idx = [i for i, p in enumerate(trainable) if p is model[0].bias][0]
    g = [gs[bias_idx] for gs in grads_seq]
    buf = g[0]
    manual = start[bias_idx] - 0.3 * buf
    for gi in g[1:]:
        buf = 0.9 * buf + gi
        manual = manual - 0.3 * buf
    assert torch.allclose(model[0].bias.detach(), manual, atol=1e-6)


def test_constructor_rejects_paramwise_cfg():
    with pytest.raises(ValueError, match='paramwise_cfg'):
        OPTIM_WRAPPER_CONSTRUCTORS.build(
            dict(
                type='SoCoLARSOptimWrapperConstructor',
                optim_wrapper_cfg=dict(optimizer=dict(type='SoCoLARS', lr=1.)),
                paramwise_cfg=dict(norm_decay_mult=0.)))
