"""mmseg dataset over the toy scenes' COCO-Stuff ``stuffthingmaps`` (value = label id - 1).

The raw maps are remapped to contiguous class ids (toy things, then toy stuff kinds; any other
value -> 255) through mmseg's own ``label_map``, which ``LoadAnnotations`` applies per image.
"""
from typing import Dict, Optional, Sequence

from mmseg.datasets import BaseSegDataset
from mmseg.registry import DATASETS

from .toy_scenes.classes import (COCOSTUFF_NUM_LABELS, SEG_PALETTE, THING_NAMES, UNLABELED,
                                 seg_class_names, stuffthingmap_values)


@DATASETS.register_module()
class ToySceneStuffDataset(BaseSegDataset):
    """Semantic segmentation on toy scenes: 8 thing shapes + 8 stuff kinds (16 classes).

    Reads ``stuffthingmaps/{split}2017/<id>.png`` next to ``{split}2017/<id>.jpg`` as written by
    ``tools/data/make_toy_scenes.py``. ``metainfo=dict(classes=[...])`` may pick a subset of the
    classes, as with any mmseg dataset; the dropped ones become 255.
    """

    # thing_classes: for metrics that report things and stuff apart (GroupedIoUMetric)
    METAINFO = dict(
        classes=seg_class_names(),
        palette=[list(c) for c in SEG_PALETTE],
        thing_classes=list(THING_NAMES))

    def __init__(self,
                 img_suffix: str = '.jpg',
                 seg_map_suffix: str = '.png',
                 data_prefix: dict = dict(
                     img_path='train2017', seg_map_path='stuffthingmaps/train2017'),
                 reduce_zero_label: bool = False,
                 **kwargs) -> None:
        if reduce_zero_label:
            raise ValueError('ToySceneStuffDataset: reduce_zero_label must be False; raw value 0 '
                             'is a thing class (circle) in the COCO-Stuff convention')
        super().__init__(
            img_suffix=img_suffix,
            seg_map_suffix=seg_map_suffix,
            data_prefix=data_prefix,
            reduce_zero_label=False,
            **kwargs)

    @classmethod
    def get_label_map(cls, new_classes: Optional[Sequence] = None) -> Dict[int, int]:
        """Map every raw COCO-Stuff value (0..181) to a contiguous class id or 255.

        Composes the raw -> toy-class mapping with mmseg's usual old -> new class mapping when
        ``metainfo`` selects a subset of the classes.
        """
        subset = super().get_label_map(new_classes)
        raw_to_class = {v: i for i, v in enumerate(stuffthingmap_values())}
        label_map = {}
        for raw in range(COCOSTUFF_NUM_LABELS):
            cls_id = raw_to_class.get(raw, UNLABELED)
            if subset is not None and cls_id != UNLABELED:
                cls_id = subset[cls_id]
            label_map[raw] = cls_id
        return label_map

    def _update_palette(self) -> list:
        """Palette of the selected classes (mmseg's default indexes it by the label map keys,
        which here are raw map values, not class ids)."""
        classes = list(self._metainfo.get('classes', []))
        palette = self._metainfo.get('palette', [])
        if len(palette) == len(classes):
            return palette
        names = list(self.METAINFO['classes'])
        unknown = [c for c in classes if c not in names]
        if unknown:
            raise ValueError(f'ToySceneStuffDataset: unknown classes {unknown}; '
                             f'choose from {names}')
        return [list(SEG_PALETTE[names.index(c)]) for c in classes]
