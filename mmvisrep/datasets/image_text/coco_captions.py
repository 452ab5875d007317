"""COCO Captions (``captions_{train,val}2017.json``) as image-caption pairs.

By default one sample per image with one of its captions drawn at random each time the sample
is visited (``sample_per='image'``), as VirTex does for COCO captioning: an epoch then is one
pass over the images -- the unit image-side recipes such as MAE count in -- each image keeps the
same weight whatever its number of captions, and the text side still sees every caption over
the epochs. ``sample_per='caption'`` gives one sample per annotation (5x the samples on COCO).
"""
import logging
from collections import OrderedDict
from typing import List, Union

import numpy as np
from mmengine.dataset import BaseDataset
from mmengine.fileio import join_path, load
from mmengine.logging import print_log
from mmpretrain.registry import DATASETS

from .skips import EMPTY_CAPTION, MALFORMED_RECORD, SkipCounter, SkipUnreadableMixin


@DATASETS.register_module()
class CocoCaptionsDataset(SkipUnreadableMixin, BaseDataset):
    """Image-caption pairs from a COCO captions file (official 2014/2017 layout).

    Each sample has ``img_path`` (``data_prefix['img_path']`` + ``file_name``), ``img_id``,
    ``caption`` (str) and ``ann_source`` (``file image_id N``); with ``sample_per='image'``
    also ``captions`` (all captions of the image) and with ``'caption'`` ``ann_id``.

    Skips, counted and logged (see ``skips.py``): captions that are empty or only whitespace,
    annotations whose ``image_id`` is not in ``images`` or whose caption is not a string
    (malformed), images without any caption left; at load time, unreadable images (training:
    replaced by another sample; ``test_mode``: error). In ``test_mode`` the first caption of an
    image is used instead of a random one.

    Args:
        ann_file (str): The captions json, relative to ``data_root`` unless absolute.
        data_root (str): Root of ``ann_file`` and ``data_prefix``.
        data_prefix (str | dict): Image folder (``dict(img_path=...)``), e.g. 'train2017/'.
        sample_per (str): 'image' (default) or 'caption', see the module docstring.
        max_reported_errors (int): Skips of one reason logged one by one. Defaults to 20.
        **kwargs: Other ``BaseDataset`` arguments (``pipeline``, ``test_mode``, ``indices``...).
    """

    METAINFO = dict(dataset_name='COCO Captions')

    def __init__(self,
                 ann_file: str,
                 data_root: str = '',
                 data_prefix: Union[str, dict] = '',
                 sample_per: str = 'image',
                 max_reported_errors: int = 20,
                 **kwargs):
        if sample_per not in ('image', 'caption'):
            raise ValueError(f"CocoCaptionsDataset: sample_per must be 'image' or 'caption', "
                             f'got {sample_per!r}')
        if isinstance(data_prefix, str):
            data_prefix = dict(img_path=data_prefix)
        self.sample_per = sample_per
        self.skips = SkipCounter('CocoCaptionsDataset', max_reported=max_reported_errors)
        super().__init__(ann_file=ann_file, data_root=data_root, data_prefix=data_prefix, **kwargs)

    def load_data_list(self) -> List[dict]:
        path = self.ann_file
        data = load(path, file_format='json')
        if not isinstance(data, dict) or not isinstance(data.get('images'), list) or \
                not isinstance(data.get('annotations'), list):
            raise ValueError(f'CocoCaptionsDataset: {path} is not a COCO captions file (needs '
                             '"images" and "annotations" lists)')
        images = OrderedDict()
        for i, img in enumerate(data['images']):
            if not isinstance(img, dict) or 'id' not in img or \
                    not isinstance(img.get('file_name'), str):
                raise ValueError(f'CocoCaptionsDataset: {path}: images[{i}] needs "id" and a '
                                 f'"file_name" string, got {str(img)[:200]}')
            if img['id'] in images:
                raise ValueError(f'CocoCaptionsDataset: {path}: image id {img["id"]} appears '
                                 'twice in "images"')
            images[img['id']] = (img['file_name'], [], [])
        for i, ann in enumerate(data['annotations']):
            where = f'{path} annotations[{i}]'
            if not isinstance(ann, dict):
                self.skips.add(MALFORMED_RECORD, where, f'not an object: {str(ann)[:100]}')
                continue
            where += f' (id {ann.get("id")}, image_id {ann.get("image_id")})'
            if ann.get('image_id') not in images:
                self.skips.add(MALFORMED_RECORD, where, 'image_id not in "images"')
                continue
            caption = ann.get('caption')
            if not isinstance(caption, str):
                self.skips.add(MALFORMED_RECORD, where, f'caption is {type(caption).__name__}')
                continue
            if not caption.strip():
                self.skips.add(EMPTY_CAPTION, where)
                continue
            entry = images[ann['image_id']]
            entry[1].append(caption.strip())
            entry[2].append(ann.get('id'))
        prefix = self.data_prefix.get('img_path', '')
        data_list, no_caption = [], 0
        for img_id, (file_name, captions, ann_ids) in images.items():
            if not captions:
                no_caption += 1
                continue
            img_path = join_path(prefix, file_name) if prefix else file_name
            if self.sample_per == 'image':
                data_list.append(
                    dict(img_path=img_path, img_id=img_id, captions=captions, ann_ids=ann_ids))
            else:
                data_list.extend(
                    dict(img_path=img_path, img_id=img_id, caption=c, ann_id=a)
                    for c, a in zip(captions, ann_ids))
        self.num_images_without_caption = no_caption
        self.index_skips = dict(self.skips.counts)
        if not data_list:
            raise ValueError(f'CocoCaptionsDataset: no image with a caption in {path} '
                             f'(skipped: {self.skips.summary()})')
        print_log(
            f'CocoCaptionsDataset: {len(data_list)} samples (one per {self.sample_per}) from '
            f'{path}; {len(images)} images, {no_caption} without a usable caption left out; '
            f'skipped annotations: {self.skips.summary()}',
            logger='current',
            level=logging.WARNING if (no_caption or self.skips.total()) else logging.INFO)
        return data_list

    def get_data_info(self, idx: int) -> dict:
        info = super().get_data_info(idx)
        if 'captions' in info:
            captions = info['captions']
            # np.random: seeded per dataloader worker by mmengine (reproducible with a seed).
            pick = 0 if self.test_mode else int(np.random.randint(len(captions)))
            info['caption'] = captions[pick]
            info['ann_id'] = info['ann_ids'][pick]
        info['ann_source'] = f'{self.ann_file} image_id {info["img_id"]}'
        return info

    def sample_source(self, idx: int) -> str:
        return f'{self.ann_file} sample {idx}'
