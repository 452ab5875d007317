"""COCO-format caption files -> the Karpathy split format (``dataset_coco.json`` /
``dataset_flickr30k.json``), so that any captioned image set (e.g. the toy scenes) is read by
mmpretrain's ``Flickr30kRetrieval``, the dataset of the COCO and Flickr30k retrieval configs.

Karpathy format (``caption_datasets.zip`` of "Deep Visual-Semantic Alignments")::

    {"dataset": "coco",
     "images": [{"filepath": "val2014", "filename": "COCO_val2014_000000391895.jpg",
                 "imgid": 0, "cocoid": 391895, "split": "test", "sentids": [0, 1, ...],
                 "sentences": [{"raw": "A man ...", "tokens": ["a", "man", ...],
                                "imgid": 0, "sentid": 0}, ...]}, ...]}

``Flickr30kRetrieval`` reads ``split``, ``filename`` (joined to its ``data_prefix``; it ignores
``filepath``), ``imgid`` and each sentence's ``raw`` and ``sentid``.
"""
import re
from typing import Optional, Tuple

KARPATHY_SPLITS = ('train', 'val', 'test', 'restval')
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


def caption_tokens(caption: str):
    """Karpathy-style tokens: lower-case words, punctuation dropped."""
    return _WORD.findall(caption.lower())


def coco_captions_to_karpathy(coco: dict,
                              split: str,
                              filepath: str,
                              source: str = 'captions file',
                              max_images: Optional[int] = None,
                              dataset: str = 'coco') -> Tuple[dict, dict]:
    """Convert a loaded COCO captions json (``images`` + ``annotations`` with ``caption``).

    Images keep the file's order and captions the annotation order; every image gets
    ``split``. Images without captions are left out (counted in the stats): a retrieval query
    without a match would only count as a miss. Bad records raise a ``ValueError`` naming
    ``source`` and the record.

    Args:
        coco (dict): the loaded COCO captions json.
        split (str): split name written on every image (one of ``KARPATHY_SPLITS``).
        filepath (str): the ``filepath`` field (the image folder, e.g. ``'val2017'``).
        source (str): the file name used in error messages.
        max_images (int, optional): keep only the first N captioned images.
        dataset (str): the top-level ``dataset`` field.

    Returns:
        tuple: the Karpathy dict and stats ``dict(images, captions, images_without_captions)``.
    """
    if split not in KARPATHY_SPLITS:
        raise ValueError(f'split must be one of {KARPATHY_SPLITS}, got {split!r}')
    if max_images is not None and max_images < 1:
        raise ValueError(f'max_images must be >= 1, got {max_images}')
    if not isinstance(coco, dict) or not isinstance(coco.get('images'), list) or \
            not isinstance(coco.get('annotations'), list):
        raise ValueError(f'{source}: not a COCO captions file (needs "images" and '
                         '"annotations" lists)')
    images, order = {}, []
    for k, img in enumerate(coco['images']):
        if not isinstance(img, dict) or not isinstance(img.get('id'), int) or \
                not isinstance(img.get('file_name'), str) or not img['file_name']:
            raise ValueError(f'{source}: images[{k}] needs an integer "id" and a "file_name", '
                             f'got {img!r}')
        if img['id'] in images:
            raise ValueError(f'{source}: images[{k}] repeats image id {img["id"]}')
        images[img['id']] = img
        order.append(img['id'])
    captions = {}
    for k, ann in enumerate(coco['annotations']):
        if not isinstance(ann, dict) or 'image_id' not in ann:
            raise ValueError(f'{source}: annotations[{k}] has no "image_id": {ann!r}')
        where = f'{source}: annotations[{k}] (id {ann.get("id")})'
        if ann['image_id'] not in images:
            raise ValueError(f'{where} refers to image_id {ann["image_id"]}, which is not in '
                             '"images"')
        caption = ann.get('caption')
        if not isinstance(caption, str) or not caption.strip():
            raise ValueError(f'{where} has no caption text: {caption!r}')
        captions.setdefault(ann['image_id'], []).append(caption.strip())

    out, sentid = [], 0
    without = sum(1 for image_id in order if image_id not in captions)
    for image_id in order:
        if image_id not in captions:
            continue
        if max_images is not None and len(out) == max_images:
            break
        imgid = len(out)
        sentences = []
        for raw in captions[image_id]:
            sentences.append(dict(tokens=caption_tokens(raw), raw=raw, imgid=imgid, sentid=sentid))
            sentid += 1
        out.append(
            dict(
                filepath=filepath,
                filename=images[image_id]['file_name'],
                imgid=imgid,
                cocoid=image_id,
                split=split,
                sentids=[s['sentid'] for s in sentences],
                sentences=sentences))
    stats = dict(images=len(out), captions=sentid, images_without_captions=without)
    return dict(images=out, dataset=dataset), stats
