"""Zero-shot image<->text retrieval of :class:`SemanticVLP` (its ITM head scores every pair).

mmpretrain's ``RetrievalValLoop`` / ``RetrievalTestLoop`` call ``forward(mode='tensor')`` per
batch of ``Flickr30kRetrieval`` test-mode samples (one per image, its captions in ``text``, their
ids in ``gt_text_id``, the image index as ``image_id``) -> :meth:`retrieval_features`, then
:meth:`predict_all` on the concatenated features of the rank.
"""
import math
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
from mmengine.dist import all_gather, get_rank, get_world_size
from mmpretrain.structures import DataSample
from mmpretrain.utils import track_on_main_process


class SemanticVLPRetrievalMixin:
    """Retrieval features, chunked all-pair scoring and DDP-aware ``predict_all``.

    Needs from the host class: ``tokenizer``, ``retrieval_max_length``, ``retrieval_chunk_size``,
    ``_caption_drops``, ``text_encoder``, ``_image_batch``, ``image_tokens``, ``text_features``,
    ``cross_modal`` and ``match_probability``.
    """

    def tokenize_captions(self, captions: Sequence[str],
                          device: torch.device) -> Tuple[torch.Tensor, torch.Tensor]:
        """``input_ids`` and ``attention_mask`` ``(T, retrieval_max_length)`` of raw captions:
        [CLS] caption [SEP], truncated (counted and logged) and padded with the tokenizer."""
        if self.tokenizer is None:
            raise ValueError('SemanticVLP: retrieval tokenises the captions itself and needs '
                             "`tokenizer` in the model config, e.g. dict(type='AutoTokenizer', "
                             "name_or_path='bert-base-uncased') (the text encoder's vocabulary)")
        length = self.retrieval_max_length
        if not captions:
            empty = torch.zeros(0, length, dtype=torch.long, device=device)
            return empty, empty.clone()
        captions = list(captions)
        enc = self.tokenizer(
            captions,
            max_length=length,
            truncation=True,
            padding='max_length',
            return_attention_mask=True,
            return_tensors='pt')
        full = self.tokenizer(captions, truncation=False)['input_ids']
        self._caption_drops.add('captions truncated', sum(len(ids) > length for ids in full),
                                f' (retrieval_max_length={length})')
        return enc['input_ids'].to(device), enc['attention_mask'].to(device)

    def retrieval_features(self, inputs: Union[torch.Tensor, List[torch.Tensor]],
                           data_samples: List[DataSample]) -> Dict[str, torch.Tensor]:
        """Per-image visual tokens and per-caption text features of one batch of images.

        Each data sample is one image with all its captions (``Flickr30kRetrieval`` in test
        mode; the pipeline ends with ``PackInputs(algorithm_keys=['text', 'gt_text_id'],
        meta_keys=['image_id'])``): ``text`` (list of str, or one str), ``gt_text_id`` (their
        caption indices in the split) and ``image_id`` (the image index in the split).

        Returns:
            dict: float32 ``visual_tokens`` (B, V, C') (:meth:`image_tokens`), ``image_index``
            (B,), float32 ``text_feats`` (T_b, retrieval_max_length, d_text), ``text_mask``
            (T_b, retrieval_max_length), ``text_index`` (T_b,) and ``text_image_index`` (T_b,)
            the image of each caption. The loops concatenate these over batches.
        """
        img = self._image_batch(inputs)
        if len(data_samples) != img.size(0):
            raise ValueError(f'SemanticVLP: {img.size(0)} images but {len(data_samples)} data '
                             'samples')
        device = img.device
        captions, text_index, text_image, image_index = [], [], [], []
        for i, sample in enumerate(data_samples):
            missing = [k for k in ('text', 'gt_text_id', 'image_id') if k not in sample]
            if missing:
                raise KeyError(f'SemanticVLP: retrieval data sample {i} has no {missing}; use '
                               "Flickr30kRetrieval(test_mode=True) and end the pipeline with "
                               "PackInputs(algorithm_keys=['text', 'gt_text_id'], "
                               "meta_keys=['image_id'])")
            texts = sample.get('text')
            texts = [texts] if isinstance(texts, str) else list(texts)
            ids = torch.as_tensor(sample.get('gt_text_id')).long().reshape(-1).tolist()
            if len(ids) != len(texts) or not all(isinstance(t, str) for t in texts):
                raise ValueError(f'SemanticVLP: retrieval data sample {i} (image_id '
                                 f'{sample.get("image_id")}) needs one caption string per '
                                 f'gt_text_id, got {len(texts)} texts for {len(ids)} ids')
            image = int(torch.as_tensor(sample.get('image_id')).reshape(-1)[0])
            image_index.append(image)
            captions += texts
            text_index += ids
            text_image += [image] * len(ids)
        visual = self.image_tokens(img)['tokens'].float()
        input_ids, text_mask = self.tokenize_captions(captions, device)
        if input_ids.size(0):
            text = self.text_features(input_ids, text_mask).float()
        else:
            text = visual.new_zeros(0, input_ids.size(1), self.text_encoder.hidden_size)
        return dict(
            visual_tokens=visual,
            image_index=torch.tensor(image_index, dtype=torch.long, device=device),
            text_feats=text,
            text_mask=text_mask,
            text_index=torch.tensor(text_index, dtype=torch.long, device=device),
            text_image_index=torch.tensor(text_image, dtype=torch.long, device=device))

    def score_pairs(self, visual_tokens: torch.Tensor, text_feats: torch.Tensor,
                    text_mask: torch.Tensor) -> torch.Tensor:
        """ITM match probability ``(n, T)`` of every image (visual tokens ``(n, V, C')``) with
        every caption (features ``(T, L, d_text)``, mask ``(T, L)``).

        One image meets ``retrieval_chunk_size`` captions per cross-modal pass (a chunk never
        mixes images, so a pair's score does not depend on which other images are scored);
        each chunk is cut to its longest caption.
        """
        num, total = visual_tokens.size(0), text_feats.size(0)
        scores = torch.empty(num, total, dtype=torch.float32, device=visual_tokens.device)
        step = self.retrieval_chunk_size
        for i in track_on_main_process(
                range(num), 'SemanticVLP: scoring image-caption pairs', total=num):
            for start in range(0, total, step):
                stop = min(start + step, total)
                mask = text_mask[start:stop]
                length = max(int(mask.sum(1).max()), 1)
                tokens = visual_tokens[i:i + 1].expand(stop - start, -1, -1)
                enc = self.cross_modal(text_feats[start:stop, :length], mask[:, :length], tokens)
                scores[i, start:stop] = self.match_probability(enc['pooled'])
        return scores

    @torch.no_grad()
    def predict_all(self,
                    feats: Dict[str, torch.Tensor],
                    data_samples: Optional[List[DataSample]] = None,
                    num_images: Optional[int] = None,
                    num_texts: Optional[int] = None) -> Tuple[List[DataSample], List[DataSample]]:
        """Score every image-caption pair of the split; the i2t and t2i queries of this rank.

        Called by mmpretrain's ``RetrievalValLoop`` / ``RetrievalTestLoop`` with this rank's
        concatenated :meth:`retrieval_features` (``data_samples`` is not needed: the features
        carry their image / caption indices). The score is the ITM head's match probability.
        There is no cheaper first stage whose top-k could be re-ranked (the model has no
        contrastive head), so all N x T pairs pass the cross-modal encoder: 5k x 25k = 125M on
        the COCO 5k test, 1k x 5k = 5M on Flickr30k.

        Under DDP each rank scores the images it loaded (each image once, whatever the sampler
        padded), after gathering every caption's features; the score rows are gathered too, so
        every rank holds the N x T matrix. Rank r of W then returns the queries r, r + W, ...
        (images for i2t, captions for t2i), padded by wrapping to ceil(N / W): mmengine's
        ``collect_results`` interleaves the ranks and cuts at the dataset size, so the metric
        sees every query once, in split order, and the metrics equal one process's.

        Args:
            feats (dict): :meth:`retrieval_features` of this rank's batches, concatenated.
            data_samples (list, optional): unused.
            num_images (int, optional): N (``dataset.img_size``); checked against the images
                seen. Defaults to the images seen.
            num_texts (int, optional): T (``dataset.text_size``), likewise.

        Returns:
            tuple: ``(i2t, t2i)`` lists of :class:`DataSample`: ``pred_score`` the (T,) scores
            of an image's captions / the (N,) scores of a caption's images, ``gt_label`` the
            matching caption indices / image index, ``pred_label`` the best one, and metainfo
            ``image_id`` / ``text_id``.
        """
        missing = [k for k in RETRIEVAL_FEATURES if k not in feats]
        if missing:
            raise KeyError(f'SemanticVLP.predict_all: the features have no {missing} (they come '
                           "from forward(inputs, data_samples, mode='tensor'))")
        # every caption, from every rank, once, in caption-index order
        text_index = torch.cat(_gather_rows(feats['text_index'].long()))
        keep = _first_occurrences(text_index)
        text_index = text_index[keep]
        num_texts = _check_cover(text_index, num_texts, 'caption')
        text_feats = torch.cat(_gather_rows(feats['text_feats']))[keep]
        text_mask = torch.cat(_gather_rows(feats['text_mask']))[keep]
        text_image = torch.cat(_gather_rows(feats['text_image_index'].long()))[keep]

        # this rank scores its images that no earlier rank (or batch) holds already
        image_index = feats['image_index'].long()
        held = _gather_rows(image_index)
        offset = sum(int(h.numel()) for h in held[:get_rank()])
        first = _first_occurrences(torch.cat(held))
        mine = first[(first >= offset) & (first < offset + image_index.numel())] - offset
        rows = self.score_pairs(feats['visual_tokens'][mine], text_feats, text_mask)
        scored = torch.cat(_gather_rows(image_index[mine]))
        order = torch.argsort(scored)
        num_images = _check_cover(scored[order], num_images, 'image')
        scores = torch.cat(_gather_rows(rows))[order]
        if text_image.numel() and not 0 <= int(text_image.min()) <= int(
                text_image.max()) < num_images:
            raise ValueError(f'SemanticVLP.predict_all: captions of image indices outside '
                             f'0..{num_images - 1}')

        rank, world = get_rank(), get_world_size()
        owner_order = torch.argsort(text_image, stable=True)
        counts = torch.bincount(text_image, minlength=num_images).tolist()
        starts = [0] + torch.tensor(counts).cumsum(0).tolist()
        i2t, t2i = [], []
        for i in _rank_share(num_images, rank, world):
            sample = DataSample(metainfo=dict(image_id=i))
            sample.set_pred_score(scores[i])
            sample.set_pred_label(scores[i].argmax().reshape(1))
            sample.set_gt_label(owner_order[starts[i]:starts[i + 1]])
            i2t.append(sample)
        for t in _rank_share(num_texts, rank, world):
            sample = DataSample(metainfo=dict(text_id=t))
            sample.set_pred_score(scores[:, t])
            sample.set_pred_label(scores[:, t].argmax().reshape(1))
            sample.set_gt_label(int(text_image[t]))
            t2i.append(sample)
        return i2t, t2i


RETRIEVAL_FEATURES = ('visual_tokens', 'image_index', 'text_feats', 'text_mask', 'text_index',
                      'text_image_index')


def _gather_rows(data: torch.Tensor) -> List[torch.Tensor]:
    """Every rank's ``data`` (first dimensions may differ), in rank order (mmengine.dist)."""
    if get_world_size() == 1:
        return [data]
    sizes = [int(s) for s in all_gather(torch.tensor([data.size(0)], device=data.device))]
    pad = max(sizes) - data.size(0)
    if pad:
        data = torch.cat([data, data.new_zeros((pad, ) + tuple(data.shape[1:]))])
    return [part[:size] for part, size in zip(all_gather(data.contiguous()), sizes)]


def _first_occurrences(values: torch.Tensor) -> torch.Tensor:
    """Positions of the first occurrence of each distinct value, ordered by value."""
    order = torch.argsort(values, stable=True)
    ordered = values[order]
    first = torch.ones_like(ordered, dtype=torch.bool)
    first[1:] = ordered[1:] != ordered[:-1]
    return order[first]


def _check_cover(indices: torch.Tensor, expected: Optional[int], what: str) -> int:
    """Check that the sorted distinct ``indices`` are exactly 0..n-1; return n."""
    num = int(indices[-1]) + 1 if expected is None and indices.numel() else int(expected or 0)
    if indices.numel() != num or (num and not torch.equal(indices.cpu(), torch.arange(num))):
        absent = sorted(set(range(num)) - set(indices.tolist()))
        extra = sorted(set(indices.tolist()) - set(range(num)))
        raise ValueError(f'SemanticVLP.predict_all: the split has {num} {what}s but features of '
                         f'{indices.numel()} distinct ones arrived (missing {absent[:10]}, out '
                         f'of range {extra[:10]}); the dataloader must visit every {what} '
                         "(Flickr30kRetrieval test_mode=True: one sample per image)")
    return num


def _rank_share(num: int, rank: int, world: int) -> List[int]:
    """Queries r, r + W, ... of rank r, wrapped to ceil(num / W) entries: mmengine's
    ``collect_results`` interleaves the ranks' lists and keeps the first ``num``."""
    if num == 0:
        return []
    return [(rank + j * world) % num for j in range(math.ceil(num / world))]
