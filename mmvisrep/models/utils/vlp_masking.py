"""Random corruptions of vision-language pretraining, done inside the model on a batch.

* :func:`mask_tokens`: BERT masked language modelling: each real token is chosen with
  ``mask_prob`` (0.15); a chosen token becomes ``[MASK]`` (80%), a random token (10%) or stays
  (10%); labels keep the original id of chosen tokens and ``ignore_index`` elsewhere.
* :func:`sample_itm_negatives`: image-text matching: with ``neg_prob`` (0.5) a sample's caption is
  replaced by the caption of another sample of the batch showing a *different image*.
* :func:`mask_patches`: the SSUL input: the image is cut into ``patch_size`` (32) patches, each
  is masked with ``mask_prob`` (0.15) and the targets are the per-channel means of the
  unmasked patches (3 values for RGB).

Every function takes an optional ``torch.Generator`` (on the data's device) for reproducible
draws; without one the global RNG is used (seeded by mmengine's ``randomness`` config).
"""
from typing import Optional, Sequence, Tuple

import torch
import torch.nn.functional as F


def _rand(shape, generator: Optional[torch.Generator], device) -> torch.Tensor:
    return torch.rand(shape, generator=generator, device=device)


def mask_tokens(input_ids: torch.Tensor,
                attention_mask: torch.Tensor,
                mask_token_id: int,
                special_token_ids: Sequence[int],
                random_token_ids: torch.Tensor,
                mask_prob: float = 0.15,
                mask_ratio: float = 0.8,
                random_ratio: float = 0.1,
                ignore_index: int = -100,
                generator: Optional[torch.Generator] = None) -> Tuple[torch.Tensor, torch.Tensor]:
    """BERT-style masking of a ``(B, L)`` batch of token ids.

    Args:
        input_ids (Tensor): ``(B, L)`` int64 token ids.
        attention_mask (Tensor): ``(B, L)``, 0 on padding (never chosen).
        mask_token_id (int): id of ``[MASK]``.
        special_token_ids (Sequence[int]): ids never chosen (``[CLS]``, ``[SEP]``, ``[PAD]``...).
        random_token_ids (Tensor): 1-D pool the random replacements are drawn from uniformly
            (the vocabulary without the special tokens).
        mask_prob (float): probability of choosing a real token. Defaults to 0.15.
        mask_ratio (float): share of chosen tokens replaced by ``[MASK]``. Defaults to 0.8.
        random_ratio (float): share replaced by a random token. Defaults to 0.1 (the remaining
            ``1 - mask_ratio - random_ratio`` stay unchanged).
        ignore_index (int): label of tokens not chosen. Defaults to -100 (``F.cross_entropy``).
        generator (torch.Generator, optional): random source.

    Returns:
        tuple[Tensor, Tensor]: the corrupted ids and the labels, both ``(B, L)`` int64.
    """
    if input_ids.dim() != 2 or attention_mask.shape != input_ids.shape:
        raise ValueError(f'mask_tokens: input_ids {tuple(input_ids.shape)} and attention_mask '
                         f'{tuple(attention_mask.shape)} must both be (B, L)')
    if not 0 <= mask_prob <= 1 or mask_ratio < 0 or random_ratio < 0 or \
            mask_ratio + random_ratio > 1:
        raise ValueError(f'mask_tokens: need 0 <= mask_prob <= 1 and mask_ratio + random_ratio '
                         f'<= 1, got {mask_prob}, {mask_ratio}, {random_ratio}')
    if random_token_ids.numel() == 0 and random_ratio > 0:
        raise ValueError('mask_tokens: the pool of random replacement tokens is empty')
    device = input_ids.device
    special = torch.as_tensor(list(special_token_ids), dtype=input_ids.dtype, device=device)
    candidate = attention_mask.bool() & ~torch.isin(input_ids, special)
    chosen = candidate & (_rand(input_ids.shape, generator, device) < mask_prob)
    labels = torch.where(chosen, input_ids, torch.full_like(input_ids, ignore_index))
    action = _rand(input_ids.shape, generator, device)
    to_mask = chosen & (action < mask_ratio)
    to_random = chosen & (action >= mask_ratio) & (action < mask_ratio + random_ratio)
    out = input_ids.masked_fill(to_mask, mask_token_id)
    if random_token_ids.numel():
        pool = random_token_ids.to(device=device, dtype=input_ids.dtype)
        picks = torch.randint(pool.numel(), input_ids.shape, generator=generator, device=device)
        out = torch.where(to_random, pool[picks], out)
    return out, labels


def sample_itm_negatives(
        group_ids: torch.Tensor,
        neg_prob: float = 0.5,
        generator: Optional[torch.Generator] = None) -> Tuple[torch.Tensor, torch.Tensor]:
    """Pick, for each sample, its own caption or (with ``neg_prob``) one of a different image.

    Args:
        group_ids (Tensor): ``(B,)`` image identity of every sample; samples with equal ids show
            the same image (e.g. two captions of one COCO image) and are never each other's
            negatives.
        neg_prob (float): probability of a mismatched caption. Defaults to 0.5.
        generator (torch.Generator, optional): random source.

    Returns:
        tuple[Tensor, Tensor]: ``caption_index`` (B,) (the sample whose caption goes with image
        ``i``) and ``itm_labels`` (B,) (1 matched, 0 mismatched). A sample whose batch holds no
        other image keeps its caption (label 1).
    """
    if group_ids.dim() != 1:
        raise ValueError(f'sample_itm_negatives: group_ids must be (B,), got '
                         f'{tuple(group_ids.shape)}')
    if not 0 <= neg_prob <= 1:
        raise ValueError(f'sample_itm_negatives: neg_prob must be in [0, 1], got {neg_prob}')
    device = group_ids.device
    num = group_ids.numel()
    other = group_ids[:, None] != group_ids[None, :]
    # a uniform choice among the other images: the arg-max of random scores restricted to them
    scores = _rand((num, num), generator, device).masked_fill(~other, -1.)
    choice = scores.argmax(1)
    negative = (_rand((num, ), generator, device) < neg_prob) & other.any(1)
    caption_index = torch.where(negative, choice, torch.arange(num, device=device))
    return caption_index, (~negative).long()


def mask_patches(
    images: torch.Tensor,
    patch_size: int = 32,
    mask_prob: float = 0.15,
    fill_value: float = 0.,
    generator: Optional[torch.Generator] = None
) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Mask random square patches of a normalised image batch (SSUL input and targets).

    Args:
        images (Tensor): ``(B, C, H, W)`` normalised images, H and W multiples of
            ``patch_size`` (pad with the data preprocessor's ``pad_size_divisor``).
        patch_size (int): side of a patch in pixels. Defaults to 32.
        mask_prob (float): probability of masking a patch. Defaults to 0.15.
        fill_value (float): value of masked pixels. Defaults to 0 (the dataset mean colour after
            mean/std normalisation).
        generator (torch.Generator, optional): random source.

    Returns:
        tuple[Tensor, Tensor, Tensor]: the masked images ``(B, C, H, W)``, the patch mask
        ``(B, H/p, W/p)`` bool (True = masked) and the targets ``(B, C, H/p, W/p)``: the
        per-channel mean of every patch of the *original* images.
    """
    if images.dim() != 4:
        raise ValueError(f'mask_patches: images must be (B, C, H, W), got {tuple(images.shape)}')
    height, width = images.shape[-2:]
    if patch_size <= 0 or height % patch_size or width % patch_size:
        raise ValueError(f'mask_patches: the image size {height}x{width} is not a multiple of '
                         f'the SSUL patch size {patch_size}; pad the batch to a multiple (data '
                         'preprocessor pad_size_divisor) or change the patch size')
    if not 0 <= mask_prob <= 1:
        raise ValueError(f'mask_patches: mask_prob must be in [0, 1], got {mask_prob}')
    grid = (height // patch_size, width // patch_size)
    targets = F.avg_pool2d(images.detach(), patch_size)
    mask = _rand((images.size(0), ) + grid, generator, images.device) < mask_prob
    pixel_mask = mask.repeat_interleave(patch_size, 1).repeat_interleave(patch_size, 2)
    masked = images.masked_fill(pixel_mask[:, None], fill_value)
    return masked, mask, targets
