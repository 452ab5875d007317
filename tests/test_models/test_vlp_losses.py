"""SVL corruptions and losses: MLM 15% / 80-10-10 statistics, ITM negatives from other images,
SSUL patch masking and mean-colour targets, SEGL label down-sampling and ignore handling, SPL
matched / no-object cross-entropy against hand computations."""
import itertools

import pytest
import torch
import torch.nn.functional as F

from mmvisrep.models.losses import SEGLLoss, SetPredictionLoss, SSULLoss, downsample_label_map
from mmvisrep.models.utils import mask_patches, mask_tokens, sample_itm_negatives

PAD, UNK, CLS, SEP, MASK = 0, 1, 2, 3, 4
VOCAB = 40
SPECIAL = [PAD, UNK, CLS, SEP, MASK]
POOL = torch.arange(5, VOCAB)


def caption_batch(batch=400, length=30, seed=0):
    """[CLS] words [SEP] + padding, lengths 10..length."""
    gen = torch.Generator().manual_seed(seed)
    ids = torch.zeros(batch, length, dtype=torch.long)
    mask = torch.zeros(batch, length, dtype=torch.long)
    for i in range(batch):
        n = int(torch.randint(10, length + 1, (1, ), generator=gen))
        ids[i, :n] = torch.randint(5, VOCAB, (n, ), generator=gen)
        ids[i, 0], ids[i, n - 1] = CLS, SEP
        mask[i, :n] = 1
    return ids, mask


# ---------------------------------------------------------------- MLM
def test_mlm_masking_statistics_fixed_seed():
    ids, mask = caption_batch()
    gen = torch.Generator().manual_seed(1234)
    out, labels = mask_tokens(ids, mask, MASK, SPECIAL, POOL, generator=gen)
    candidate = mask.bool() & (ids > MASK)
    chosen = labels != -100
    # never special tokens or padding; labels are the original ids
    assert not (chosen & ~candidate).any()
    assert torch.equal(labels[chosen], ids[chosen])
    assert torch.equal(out[~chosen], ids[~chosen])
    rate = chosen.sum().item() / candidate.sum().item()
    assert abs(rate - 0.15) < 0.012, rate  # ~8.4k candidates: 3 sigma ~ 0.012
    n = chosen.sum().item()
    to_mask = (out[chosen] == MASK).sum().item() / n
    kept = (out[chosen] == ids[chosen]).sum().item() / n
    replaced = ((out[chosen] != MASK) & (out[chosen] != ids[chosen])).sum().item() / n
    assert abs(to_mask - 0.8) < 0.035 and abs(kept - 0.1) < 0.03 and abs(replaced - 0.1) < 0.03
    # random replacements come from the pool (no special token other than the real [MASK])
    assert (out[chosen & (out != MASK)] > MASK).all()
    # fixed seed: reproducible; another seed: different
    again = mask_tokens(
        ids, mask, MASK, SPECIAL, POOL, generator=torch.Generator().manual_seed(1234))
    assert torch.equal(again[0], out) and torch.equal(again[1], labels)
    other = mask_tokens(ids, mask, MASK, SPECIAL, POOL, generator=torch.Generator().manual_seed(1))
    assert not torch.equal(other[1], labels)


def test_mlm_ratios_are_configurable_and_checked():
    ids, mask = caption_batch(50)
    out, labels = mask_tokens(
        ids,
        mask,
        MASK,
        SPECIAL,
        POOL,
        mask_prob=1.,
        mask_ratio=1.,
        random_ratio=0.,
        generator=torch.Generator().manual_seed(0))
    candidate = mask.bool() & (ids > MASK)
    assert torch.equal(labels != -100, candidate) and (out[candidate] == MASK).all()
    with pytest.raises(ValueError, match='mask_ratio'):
        mask_tokens(ids, mask, MASK, SPECIAL, POOL, mask_ratio=0.95, random_ratio=0.1)
    with pytest.raises(ValueError, match='both be'):
        mask_tokens(ids, mask[:, :3], MASK, SPECIAL, POOL)


# ---------------------------------------------------------------- ITM
def test_itm_negatives_never_from_the_same_image():
    groups = torch.tensor([0, 0, 1, 1, 1, 2, 3, 3, 4, 5])  # several captions per image
    gen = torch.Generator().manual_seed(0)
    negatives = total = 0
    chosen = torch.zeros(10, 10)
    for _ in range(500):
        index, labels = sample_itm_negatives(groups, 0.5, generator=gen)
        neg = labels == 0
        assert torch.equal(index[~neg], torch.arange(10)[~neg])  # matched: own caption
        assert (groups[index[neg]] != groups[neg]).all()  # mismatched: another image
        chosen[torch.arange(10)[neg], index[neg]] += 1
        negatives += neg.sum().item()
        total += 10
    assert abs(negatives / total - 0.5) < 0.03
    # every other image's captions are drawn (uniform choice), same-image ones never
    same = groups[:, None] == groups[None, :]
    assert (chosen[same] == 0).all() and (chosen[~same] > 0).all()


def test_itm_without_other_images_stays_matched():
    for groups in (torch.tensor([7, 7, 7]), torch.tensor([3])):
        index, labels = sample_itm_negatives(groups, 1.0, torch.Generator().manual_seed(0))
        assert labels.tolist() == [1] * len(groups)
        assert index.tolist() == list(range(len(groups)))
    index, labels = sample_itm_negatives(torch.arange(4), 1.0)
    assert labels.tolist() == [0] * 4 and (index != torch.arange(4)).all()


# ---------------------------------------------------------------- SSUL
def test_ssul_mask_rate_and_three_value_targets():
    gen = torch.Generator().manual_seed(0)
    images = torch.randn(64, 3, 128, 96, generator=gen)
    masked, mask, targets = mask_patches(
        images, 32, 0.15, generator=torch.Generator().manual_seed(3))
    assert mask.shape == (64, 4, 3) and mask.dtype == torch.bool
    assert targets.shape == (64, 3, 4, 3)
    assert abs(mask.float().mean().item() - 0.15) < 0.03  # 768 patches
    # targets: per-channel mean of the original patch (3 values)
    assert torch.allclose(targets[5, :, 2, 1], images[5, :, 64:96, 32:64].mean((1, 2)), atol=1e-6)
    pixel = mask.repeat_interleave(32, 1).repeat_interleave(32, 2)[:, None].expand_as(images)
    assert (masked[pixel] == 0).all() and torch.equal(masked[~pixel], images[~pixel])
    with pytest.raises(ValueError, match='multiple'):
        mask_patches(torch.zeros(1, 3, 100, 64), 32)


def test_ssul_loss_by_hand():
    pred = torch.zeros(1, 3, 1, 2, requires_grad=True)
    target = torch.tensor([[[[1., 2.]], [[2., 0.]], [[2., 1.]]]])
    mask = torch.tensor([[[True, False]]])
    loss = SSULLoss(loss_weight=2.)(pred, target, mask)
    assert loss.item() == pytest.approx(2. * (1 + 4 + 4))  # only the masked patch
    loss.backward()
    assert pred.grad[..., 1].abs().sum() == 0
    empty = SSULLoss()(pred, target, torch.zeros_like(mask))
    assert empty.item() == 0.
    empty.backward()
    with pytest.raises(ValueError, match='do not match'):
        SSULLoss()(pred, target[:, :2], mask)


# ---------------------------------------------------------------- SEGL
def test_downsample_mode_and_nearest():
    label = torch.tensor([
        [1, 1, 2, 255],
        [1, 3, 255, 255],
        [4, 4, 5, 6],
        [255, 255, 6, 5],
    ],
                         dtype=torch.uint8)
    # top-left: 1 x3; top-right: 255 x3 -> ignored; bottom-left: tie 4/255 -> 4; bottom-right:
    # tie 5/6 -> 5 (smallest)
    assert downsample_label_map(label, (2, 2)).tolist() == [[1, 255], [4, 5]]
    assert torch.equal(
        downsample_label_map(label, (2, 2), 'nearest'),
        F.interpolate(label[None, None].float(), (2, 2), mode='nearest')[0, 0].long())
    assert torch.equal(downsample_label_map(label, (4, 4)), label.long())
    up = downsample_label_map(label[:2, :2], (4, 4))  # smaller map: nearest
    assert up.shape == (4, 4) and up[0, 0] == 1
    # non-integer ratio: 5x5 -> 2x2 cells of 3+2 rows/cols
    odd = torch.zeros(5, 5, dtype=torch.long)
    odd[3:, 3:] = 7
    assert downsample_label_map(odd, (2, 2)).tolist() == [[0, 0], [0, 7]]


def test_segl_ignores_unlabeled_and_skips_samples_without_maps():
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(3, 5, 2, 2, generator=gen, requires_grad=True)
    map0 = torch.tensor([[0, 255], [3, 4]])
    map2 = torch.tensor([[255, 255], [1, 1]])
    loss_fn = SEGLLoss(num_classes=5)
    loss = loss_fn(logits, [map0, None, map2])
    cells = [(0, 0, 0, 0), (0, 1, 0, 3), (0, 1, 1, 4), (2, 1, 0, 1), (2, 1, 1, 1)]
    manual = torch.stack(
        [F.cross_entropy(logits[b, :, y, x][None], torch.tensor([c])) for b, y, x, c in cells])
    assert loss.item() == pytest.approx(manual.mean().item(), rel=1e-5)
    loss.backward()
    assert logits.grad[1].abs().sum() == 0  # the sample without a map contributes nothing
    assert logits.grad[0, :, 0, 1].abs().sum() == 0  # unlabeled cell ignored
    # nothing labeled at all: 0, still differentiable
    zero = loss_fn(logits, [None, None, torch.full((2, 2), 255)])
    assert zero.item() == 0.
    zero.backward()
    # unlabeled trained as its own class
    loss_u = SEGLLoss(num_classes=5, unlabeled_class=2)(logits, [map0, None, None])
    manual_u = F.cross_entropy(logits[0].permute(1, 2, 0).reshape(4, 5), torch.tensor([0, 2, 3,
                                                                                       4]))
    assert loss_u.item() == pytest.approx(manual_u.item(), rel=1e-5)


def test_segl_downsamples_full_resolution_maps():
    logits = torch.zeros(1, 4, 2, 2)
    logits[0, 2] = 5.
    label = torch.full((64, 64), 2, dtype=torch.uint8)
    label[:40, :40] = 255  # the top-left cell is mostly unlabeled
    loss = SEGLLoss(num_classes=4)(logits, [label])
    expected = F.cross_entropy(torch.tensor([[0., 0., 5., 0.]]), torch.tensor([2]))
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)
    target = SEGLLoss(num_classes=4).targets([label], (2, 2), torch.device('cpu'))
    assert target[0].tolist() == [[255, 2], [2, 2]]


def test_segl_rejects_bad_values():
    with pytest.raises(ValueError, match='sample 1'):
        SEGLLoss(num_classes=4)(torch.zeros(2, 4, 2, 2), [None, torch.tensor([[0, 9], [1, 1]])])
    with pytest.raises(ValueError, match=r'\(B, 4, h, w\)'):
        SEGLLoss(num_classes=4)(torch.zeros(1, 3, 2, 2), [None])
    with pytest.raises(ValueError, match='ignore_index'):
        SEGLLoss(num_classes=300)


# ---------------------------------------------------------------- SPL
def _best_matching(probs, labels):
    n, m = len(probs), len(labels)
    best = None
    for perm in itertools.permutations(range(n), min(n, m)):
        pairs = list(zip(perm, range(m))) if m <= n else None
        if pairs is None:
            continue
        cost = -sum(probs[q, labels[t]] for q, t in pairs)
        if best is None or cost < best[0]:
            best = (cost, pairs)
    if m > n:
        for perm in itertools.permutations(range(m), n):
            pairs = list(zip(range(n), perm))
            cost = -sum(probs[q, labels[t]] for q, t in pairs)
            if best is None or cost < best[0]:
                best = (cost, pairs)
    return best[1]


@pytest.mark.parametrize('num_labels', [0, 2, 4, 6])
def test_spl_matched_only_cross_entropy(num_labels):
    gen = torch.Generator().manual_seed(num_labels)
    logits = torch.randn(2, 4, 6, generator=gen, requires_grad=True)
    labels = [torch.randint(0, 6, (num_labels, ), generator=gen), torch.tensor([5])]
    loss = SetPredictionLoss(num_classes=6)(logits, labels)
    terms = []
    for b in range(2):
        probs = logits[b].detach().softmax(-1)
        for q, t in _best_matching(probs, labels[b].tolist()):
            terms.append(F.cross_entropy(logits[b, q][None], labels[b][t][None]))
    assert len(terms) == min(4, num_labels) + 1
    assert loss.item() == pytest.approx(torch.stack(terms).mean().item(), rel=1e-5)
    loss.backward()
    assert torch.isfinite(logits.grad).all()


def test_spl_zero_labels_is_finite():
    logits = torch.randn(3, 5, 7, requires_grad=True)
    empty = [torch.zeros(0, dtype=torch.long)] * 3
    loss = SetPredictionLoss(num_classes=7)(logits, empty)
    assert torch.isfinite(loss) and loss.item() == 0.
    loss.backward()
    assert logits.grad is not None and logits.grad.abs().sum() == 0
    no_obj = torch.randn(3, 5, 8, requires_grad=True)
    loss = SetPredictionLoss(num_classes=7, no_object=True)(no_obj, empty)
    expected = F.cross_entropy(no_obj.detach().reshape(15, 8), torch.full((15, ), 7))
    assert torch.isfinite(loss) and loss.item() == pytest.approx(expected.item(), rel=1e-5)
    loss.backward()
    assert no_obj.grad.abs().sum() > 0


def test_spl_no_object_weighted_cross_entropy():
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(1, 3, 5, generator=gen)  # 4 classes + no-object
    labels = [torch.tensor([2])]
    loss_fn = SetPredictionLoss(num_classes=4, no_object=True, eos_coef=0.1)
    (q, t), = loss_fn.match(logits, labels)
    probs = logits[0].softmax(-1)
    assert q.tolist() == [int(probs[:, 2].argmax())]
    target = torch.full((3, ), 4)
    target[q] = 2
    weight = torch.tensor([1., 1., 1., 1., 0.1])
    per = F.cross_entropy(logits[0], target, reduction='none') * weight[target]
    assert loss_fn(logits, labels).item() == pytest.approx(
        (per.sum() / weight[target].sum()).item(), rel=1e-5)


def test_spl_rejects_bad_input():
    loss_fn = SetPredictionLoss(num_classes=4)
    with pytest.raises(ValueError, match='outside'):
        loss_fn(torch.zeros(1, 2, 4), [torch.tensor([4])])
    with pytest.raises(ValueError, match=r'\(B, N, 4\)'):
        loss_fn(torch.zeros(1, 2, 5), [torch.tensor([1])])
    with pytest.raises(ValueError, match='label sets'):
        loss_fn(torch.zeros(2, 2, 4), [torch.tensor([1])])
