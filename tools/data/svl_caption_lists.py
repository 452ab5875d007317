r"""Caption lists of semantic VLP (SVL) pretraining -> JSONL read by ``ImageTextFileDataset``.

One line per image-caption pair, ``{"image": ..., "caption": ..., "img_id": ...}``; ``image`` is
relative to the source's image root (the dataset's ``data_prefix`` and the ``--img-dir`` of
``tools/data/extract_pseudo_labels.py``), ``img_id`` ("coco:391895", "vg:1", "flickr:1000092795")
records provenance only. Next to OUT, ``OUT-stem.images.txt`` lists the distinct images, ready
for ``extract_pseudo_labels.py extract ... --file-list``. Zero-shot retrieval is evaluated on the
COCO and Flickr30k Karpathy val/test images, so none of them ever enters a list.

Examples::

    # COCO Karpathy train + restval (113,287 images), COCO 2017 layout (train2017/, val2017/)
    python tools/data/svl_caption_lists.py coco-karpathy data/coco/annotations/dataset_coco.json \
        --val2017-ann data/coco/annotations/captions_val2017.json \
        --out data/coco/meta/svl_coco_karpathy_train.jsonl
    # Visual Genome region phrases, minus the COCO / Flickr30k Karpathy val+test images
    python tools/data/svl_caption_lists.py vg data/vg/annotations/region_descriptions.json \
        --image-data data/vg/annotations/image_data.json \
        --coco-karpathy data/coco/annotations/dataset_coco.json \
        --flickr-karpathy data/flickr30k/annotations/dataset_flickr30k.json \
        --out data/vg/meta/svl_vg_regions.jsonl
    # Flickr30k Karpathy train (29,000 images)
    python tools/data/svl_caption_lists.py flickr30k-karpathy \
        data/flickr30k/annotations/dataset_flickr30k.json \
        --out data/flickr30k/meta/svl_flickr30k_train.jsonl
    # any COCO-format captions json (the toy scenes' second, map-less part)
    python tools/data/svl_caption_lists.py coco-captions \
        data/toy_scenes/annotations/captions_train2017.json \
        --out data/toy_scenes/meta/svl_captions_train2017.jsonl
    # every image of a list has pseudo-labels? (also builds the label file's .spl.npz cache)
    python tools/data/svl_caption_lists.py check-labels data/vg/meta/svl_vg_regions.jsonl \
        --labels data/vg/meta/svl_pseudo_labels_vg.json

Empty or non-string captions, VG regions of images absent from image_data.json and repeated
phrases of one VG image (unless --keep-duplicates) are skipped, counted and logged (the first
20 of each reason with file and record); a malformed record (missing keys, wrong types) stops
the tool with an error naming the file and the record. Outputs are written atomically.
"""
import json
import logging
import os.path as osp
from collections import Counter
from typing import Dict, Iterable, Iterator, List, Optional, Sequence, Set, Tuple

from mmengine.logging import MMLogger

from mmvisrep.utils.cli import TOOL_ERRORS, run_subcommand, subcommand_parser

Record = Tuple[str, str, str]  # (image, caption, img_id)
EVAL_SPLITS = ('val', 'test')


class Skips:
    """Skipped records per reason; the first ``max_reported`` of each are logged."""

    def __init__(self, logger, max_reported: int = 20):
        self.logger = logger
        self.max_reported = max_reported
        self.counts: Counter = Counter()

    def add(self, reason: str, where: str) -> None:
        self.counts[reason] += 1
        if self.counts[reason] <= self.max_reported:
            self.logger.warning(f'skipped ({reason}): {where}')

    def summary(self) -> str:
        return ', '.join(f'{n} {r}' for r, n in sorted(self.counts.items())) or 'none'


def _logger():
    if MMLogger.check_instance_created('svl_caption_lists'):
        return MMLogger.get_instance('svl_caption_lists')
    return MMLogger.get_instance('svl_caption_lists', log_level=logging.INFO)


def _load(path: str, what: str):
    from mmvisrep.utils.atomic_io import load_json
    return load_json(path, what)


def _require(cond: bool, path: str, where: str, what: str) -> None:
    if not cond:
        raise ValueError(f'{path} {where}: {what}')


def _progress(items, desc: str, enabled: bool):
    from tqdm import tqdm
    return tqdm(items, desc=desc, unit='img', disable=not enabled, mininterval=1.0)


# ---------------------------------------------------------------------------------------------
# Karpathy splits (dataset_coco.json / dataset_flickr30k.json)
# ---------------------------------------------------------------------------------------------
def karpathy_images(path: str) -> List[dict]:
    """The ``images`` list of a Karpathy split file, each checked for ``split`` and
    ``sentences``."""
    data = _load(path, 'Karpathy split file')
    _require(
        isinstance(data, dict) and isinstance(data.get('images'), list), path, '',
        'not a Karpathy split file (needs an "images" list, as dataset_coco.json)')
    for i, img in enumerate(data['images']):
        where = f'images[{i}]'
        _require(isinstance(img, dict), path, where, 'not an object')
        _require(
            isinstance(img.get('split'), str), path, where,
            f'no "split" string (filename {img.get("filename")!r})')
        _require(
            isinstance(img.get('sentences'), list), path, where,
            f'no "sentences" list (filename {img.get("filename")!r})')
    return data['images']


def _coco_id(img: dict, path: str, i: int) -> int:
    cocoid = img.get('cocoid')
    _require(
        isinstance(cocoid, int) and not isinstance(cocoid, bool), path, f'images[{i}]',
        f'no integer "cocoid" (filename {img.get("filename")!r}); is this dataset_coco.json?')
    return cocoid


def karpathy_eval_coco_ids(path: str, splits: Sequence[str] = EVAL_SPLITS) -> Set[int]:
    """COCO ids of the Karpathy ``splits`` images (val + test: the retrieval benchmark)."""
    return {
        _coco_id(img, path, i)
        for i, img in enumerate(karpathy_images(path)) if img['split'] in splits
    }


def flickr_photo_id(filename: str) -> Optional[int]:
    """Flickr photo id of a Flickr30k file name ('1000092795.jpg' -> 1000092795)."""
    stem = osp.splitext(osp.basename(filename))[0]
    return int(stem) if stem.isdigit() else None


def karpathy_eval_flickr_ids(path: str, splits: Sequence[str] = EVAL_SPLITS) -> Set[int]:
    """Flickr photo ids of the Flickr30k Karpathy ``splits`` images."""
    ids = set()
    for i, img in enumerate(karpathy_images(path)):
        if img['split'] not in splits:
            continue
        photo = flickr_photo_id(str(img.get('filename', '')))
        _require(photo is not None, path, f'images[{i}]',
                 f'file name {img.get("filename")!r} is not a Flickr photo id')
        ids.add(photo)
    return ids


def _sentences(img: dict, path: str, i: int, skips: Skips) -> Iterator[str]:
    for j, sent in enumerate(img['sentences']):
        where = f'{path} images[{i}].sentences[{j}] (filename {img.get("filename")})'
        raw = sent.get('raw') if isinstance(sent, dict) else None
        if not isinstance(raw, str):
            skips.add('malformed sentence (no "raw" string)', where)
        elif not raw.strip():
            skips.add('empty caption', where)
        else:
            yield ' '.join(raw.split())


def coco_karpathy_records(path: str,
                          skips: Skips,
                          splits: Sequence[str] = ('train', 'restval'),
                          layout: str = '2017',
                          val2017_ids: Optional[Set[int]] = None,
                          progress: bool = True) -> Iterator[Record]:
    """Captions of the Karpathy ``splits`` of ``dataset_coco.json``.

    ``layout='2017'``: ``train2017/<id:012d>.jpg`` or ``val2017/...`` (``val2017_ids``), the
    names of the COCO 2017 images and of the COCO-Stuff maps; ``'2014'``: Karpathy's own
    ``filepath/filename`` (``train2014/COCO_train2014_....jpg``).
    """
    if layout not in ('2017', '2014'):
        raise ValueError(f"layout must be '2017' or '2014', got {layout!r}")
    if layout == '2017' and val2017_ids is None:
        raise ValueError('the 2017 layout needs the COCO ids of val2017 (--val2017-ann)')
    images = karpathy_images(path)
    leak = set(splits) & set(EVAL_SPLITS)
    if leak:
        _logger().warning(f'{path}: the splits {sorted(leak)} are the retrieval benchmark; '
                          'pretraining on them makes zero-shot retrieval meaningless')
    for i, img in enumerate(_progress(images, osp.basename(path), progress)):
        if img['split'] not in splits:
            continue
        cocoid = _coco_id(img, path, i)
        if layout == '2017':
            folder = 'val2017' if cocoid in val2017_ids else 'train2017'
            image = f'{folder}/{cocoid:012d}.jpg'
        else:
            _require(
                isinstance(img.get('filepath'), str) and isinstance(img.get('filename'), str),
                path, f'images[{i}]', 'no "filepath"/"filename" strings')
            image = f'{img["filepath"]}/{img["filename"]}'
        for caption in _sentences(img, path, i, skips):
            yield image, caption, f'coco:{cocoid}'


def flickr_karpathy_records(path: str,
                            skips: Skips,
                            splits: Sequence[str] = ('train', ),
                            progress: bool = True) -> Iterator[Record]:
    """Captions of the Karpathy ``splits`` of ``dataset_flickr30k.json`` (image = file name)."""
    images = karpathy_images(path)
    for i, img in enumerate(_progress(images, osp.basename(path), progress)):
        if img['split'] not in splits:
            continue
        name = img.get('filename')
        _require(isinstance(name, str) and name, path, f'images[{i}]', 'no "filename" string')
        photo = flickr_photo_id(name)
        for caption in _sentences(img, path, i, skips):
            yield name, caption, f'flickr:{photo if photo is not None else name}'


# ---------------------------------------------------------------------------------------------
# Visual Genome region descriptions
# ---------------------------------------------------------------------------------------------
def _vg_id(rec: dict) -> Optional[int]:
    value = rec.get('image_id', rec.get('id'))
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def vg_image_table(path: str) -> Dict[int, dict]:
    """``{image_id: {"image": "VG_100K/1.jpg", "coco_id", "flickr_id"}}`` from
    ``image_data.json`` (the folder comes from the record's url)."""
    data = _load(path, 'Visual Genome image_data.json')
    _require(isinstance(data, list), path, '', 'expected a list of image records')
    table = {}
    for i, rec in enumerate(data):
        where = f'[{i}]'
        _require(isinstance(rec, dict), path, where, 'not an object')
        vid = _vg_id(rec)
        _require(vid is not None, path, where, 'no integer "image_id"')
        url = rec.get('url')
        _require(
            isinstance(url, str) and '/' in url, path, where,
            f'image {vid}: no "url" to take the image folder from')
        parts = url.rstrip('/').split('/')
        _require(vid not in table, path, where, f'image {vid} listed twice')
        table[vid] = dict(
            image=f'{parts[-2]}/{parts[-1]}',
            coco_id=rec.get('coco_id'),
            flickr_id=rec.get('flickr_id'))
    return table


def vg_records(path: str,
               image_data: str,
               skips: Skips,
               exclude_coco_ids: Set[int] = frozenset(),
               exclude_flickr_ids: Set[int] = frozenset(),
               keep_duplicates: bool = False,
               progress: bool = True) -> Iterator[Record]:
    """Region phrases of ``region_descriptions.json`` as captions of their images.

    Images whose ``coco_id`` / ``flickr_id`` is in the exclusion sets are left out whole
    (counted per image); a phrase repeated within an image is kept once unless
    ``keep_duplicates``.
    """
    images = vg_image_table(image_data)
    data = _load(path, 'Visual Genome region_descriptions.json')
    _require(isinstance(data, list), path, '', 'expected a list of per-image records')
    for i, rec in enumerate(_progress(data, osp.basename(path), progress)):
        where = f'[{i}]'
        _require(isinstance(rec, dict), path, where, 'not an object')
        vid = _vg_id(rec)
        _require(vid is not None, path, where, 'no integer "id"/"image_id"')
        regions = rec.get('regions')
        _require(isinstance(regions, list), path, where, f'image {vid}: no "regions" list')
        info = images.get(vid)
        if info is None:
            skips.add('image not in image_data.json', f'{path}{where} (image {vid})')
            continue
        if info['coco_id'] in exclude_coco_ids:
            skips.add('COCO Karpathy val/test image', f'{path}{where} (image {vid}, coco_id '
                      f'{info["coco_id"]})')
            continue
        if info['flickr_id'] is not None and _int_or_none(info['flickr_id']) in \
                exclude_flickr_ids:
            skips.add('Flickr30k Karpathy val/test image', f'{path}{where} (image {vid}, '
                      f'flickr_id {info["flickr_id"]})')
            continue
        seen = set()
        for j, region in enumerate(regions):
            rwhere = f'{path}{where}.regions[{j}] (image {vid})'
            phrase = region.get('phrase') if isinstance(region, dict) else None
            if not isinstance(phrase, str):
                skips.add('malformed region (no "phrase" string)', rwhere)
                continue
            caption = ' '.join(phrase.split())
            if not caption:
                skips.add('empty caption', rwhere)
                continue
            if not keep_duplicates:
                norm = caption.lower().rstrip('.')
                if norm in seen:
                    skips.add('repeated phrase of the image', rwhere)
                    continue
                seen.add(norm)
            yield info['image'], caption, f'vg:{vid}'


def _int_or_none(value) -> Optional[int]:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


# ---------------------------------------------------------------------------------------------
# COCO-format captions
# ---------------------------------------------------------------------------------------------
def coco_captions_records(path: str,
                          skips: Skips,
                          img_prefix: str = '',
                          exclude_coco_ids: Set[int] = frozenset(),
                          progress: bool = True) -> Iterator[Record]:
    """Captions of a COCO captions json (image = ``img_prefix`` + ``file_name``), in
    annotation order, without the images of ``exclude_coco_ids``."""
    data = _load(path, 'COCO captions file')
    _require(
        isinstance(data, dict) and isinstance(data.get('images'), list)
        and isinstance(data.get('annotations'), list), path, '',
        'not a COCO captions file (needs "images" and "annotations" lists)')
    files = {}
    for i, img in enumerate(data['images']):
        _require(
            isinstance(img, dict) and 'id' in img and isinstance(img.get('file_name'), str), path,
            f'images[{i}]', 'needs "id" and a "file_name" string')
        files[img['id']] = img['file_name']
    excluded = set()
    for i, ann in enumerate(_progress(data['annotations'], osp.basename(path), progress)):
        where = f'{path} annotations[{i}]'
        _require(isinstance(ann, dict), path, f'annotations[{i}]', 'not an object')
        img_id = ann.get('image_id')
        if img_id not in files:
            skips.add('image_id not in "images"', f'{where} (image_id {img_id})')
            continue
        if img_id in exclude_coco_ids:
            if img_id not in excluded:
                excluded.add(img_id)
                skips.add('COCO Karpathy val/test image', f'{where} (image_id {img_id})')
            continue
        caption = ann.get('caption')
        if not isinstance(caption, str):
            skips.add('malformed caption (not a string)', f'{where} (image_id {img_id})')
        elif not caption.strip():
            skips.add('empty caption', f'{where} (image_id {img_id})')
        else:
            yield img_prefix + files[img_id], ' '.join(caption.split()), f'coco:{img_id}'


# ---------------------------------------------------------------------------------------------
# Output and checks
# ---------------------------------------------------------------------------------------------
def images_list_path(out: str) -> str:
    """``data/x.jsonl`` -> ``data/x.images.txt``."""
    return osp.splitext(out)[0] + '.images.txt'


def write_list(records: Iterable[Record], out: str) -> Tuple[int, int]:
    """Write the JSONL and its image list atomically; ``(num_pairs, num_images)``."""
    from mmvisrep.utils.atomic_io import atomic_open, atomic_write_text
    if not out.endswith(('.jsonl', '.ndjson')):
        raise ValueError(f'--out must end with .jsonl (ImageTextFileDataset reads the format '
                         f'from it), got {out}')
    images: Dict[str, None] = {}
    num = 0
    with atomic_open(out) as f:
        for image, caption, img_id in records:
            if any(c in image for c in ' \t\r\n'):
                raise ValueError(f'image path {image!r} ({img_id}) has white space; '
                                 'extract_pseudo_labels.py --file-list cannot list it')
            f.write(
                json.dumps(dict(image=image, caption=caption, img_id=img_id), ensure_ascii=False) +
                '\n')
            images.setdefault(image)
            num += 1
    if not num:
        raise ValueError(f'no image-caption pair left for {out}')
    atomic_write_text(''.join(k + '\n' for k in images), images_list_path(out))
    return num, len(images)


def list_images(path: str) -> List[str]:
    """Distinct ``image`` values of a JSONL list, in order; a bad line names file:line."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'caption list not found: {path}')
    images: Dict[str, None] = {}
    with open(path, encoding='utf-8') as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
                image = rec['image']
            except (ValueError, KeyError, TypeError) as e:
                raise ValueError(f'{path}:{lineno}: not a {{"image": ..., "caption": ...}} '
                                 f'line ({e})') from None
            images.setdefault(image)
    return list(images)


def check_labels(list_file: str, label_file: str, show: int = 20) -> Tuple[int, List[str]]:
    """``(num_images, missing)``: the images of ``list_file`` without pseudo-labels."""
    from mmvisrep.datasets.transforms.svl import PseudoLabelTable, load_pseudo_label_table
    table = PseudoLabelTable(label_file, load_pseudo_label_table(label_file))
    images = list_images(list_file)
    return len(images), table.missing(images)


def run_check(args) -> None:
    num, missing = check_labels(args.list, args.labels)
    logger = _logger()
    if missing:
        shown = ''.join(f'\n  {k}' for k in missing[:20])
        raise KeyError(f'{len(missing)} of the {num} images of {args.list} have no pseudo-labels '
                       f'in {args.labels}; rerun tools/data/extract_pseudo_labels.py with '
                       f'--file-list {images_list_path(args.list)}. First ones:{shown}')
    logger.info(f'all {num} images of {args.list} have pseudo-labels in {args.labels}')


def run_convert(args) -> None:
    logger = _logger()
    skips = Skips(logger, args.max_reported)
    progress = not args.no_progress
    if args.command == 'coco-karpathy':
        val_ids = None
        if args.layout == '2017':
            if not args.val2017_ann:
                raise ValueError('--val2017-ann (captions_val2017.json or instances_val2017.json'
                                 ') is needed to place images in train2017/ or val2017/; or '
                                 'use --layout 2014')
            val = _load(args.val2017_ann, 'COCO val2017 annotation file')
            _require(
                isinstance(val, dict) and isinstance(val.get('images'), list), args.val2017_ann,
                '', 'needs an "images" list')
            val_ids = {img['id'] for img in val['images']}
        records = coco_karpathy_records(args.src, skips, args.splits, args.layout, val_ids,
                                        progress)
    elif args.command == 'flickr30k-karpathy':
        records = flickr_karpathy_records(args.src, skips, args.splits, progress)
    elif args.command == 'vg':
        coco_ids = karpathy_eval_coco_ids(args.coco_karpathy) if args.coco_karpathy else set()
        flickr_ids = (
            karpathy_eval_flickr_ids(args.flickr_karpathy) if args.flickr_karpathy else set())
        if not args.coco_karpathy:
            logger.warning('no --coco-karpathy: VG images of the COCO Karpathy val/test split '
                           'stay in the list (zero-shot COCO retrieval would see them)')
        records = vg_records(args.src, args.image_data, skips, coco_ids, flickr_ids,
                             args.keep_duplicates, progress)
    else:
        coco_ids = (
            karpathy_eval_coco_ids(args.exclude_coco_karpathy)
            if args.exclude_coco_karpathy else set())
        records = coco_captions_records(args.src, skips, args.img_prefix, coco_ids, progress)
    num, num_images = write_list(records, args.out)
    logger.info(f'{args.out}: {num} image-caption pairs of {num_images} images (image list '
                f'{images_list_path(args.out)}); skipped: {skips.summary()}')


def parse_args(argv=None):
    parser, sub = subcommand_parser(__doc__)

    def add_common(p, src_help):
        p.add_argument('src', help=src_help)
        p.add_argument('--out', required=True, help='output .jsonl (+ .images.txt beside it)')
        p.add_argument('--max-reported', type=int, default=20, help='skips logged one by one')
        p.add_argument('--no-progress', action='store_true', help='hide the progress bar')

    coco = sub.add_parser('coco-karpathy', help='COCO Karpathy dataset_coco.json')
    add_common(coco, 'dataset_coco.json')
    coco.add_argument('--splits', nargs='+', default=['train', 'restval'])
    coco.add_argument(
        '--layout',
        choices=('2017', '2014'),
        default='2017',
        help='image names: COCO 2017 (default, as the stuff maps) or 2014')
    coco.add_argument('--val2017-ann', help='a COCO val2017 json (its "images" are val2017/)')
    flickr = sub.add_parser('flickr30k-karpathy', help='Flickr30k Karpathy dataset_flickr30k.json')
    add_common(flickr, 'dataset_flickr30k.json')
    flickr.add_argument('--splits', nargs='+', default=['train'])
    vg = sub.add_parser('vg', help='Visual Genome region_descriptions.json')
    add_common(vg, 'region_descriptions.json')
    vg.add_argument('--image-data', required=True, help='image_data.json (folders, coco ids)')
    vg.add_argument('--coco-karpathy', help='dataset_coco.json: drop its val/test images')
    vg.add_argument('--flickr-karpathy', help='dataset_flickr30k.json: drop its val/test images')
    vg.add_argument('--keep-duplicates', action='store_true', help='keep repeated phrases')
    cap = sub.add_parser('coco-captions', help='a COCO-format captions json')
    add_common(cap, 'captions_*.json')
    cap.add_argument('--img-prefix', default='', help='prepended to file_name (e.g. train2017/)')
    cap.add_argument('--exclude-coco-karpathy', help='dataset_coco.json: drop its val/test images')
    chk = sub.add_parser('check-labels', help='every image of a list has pseudo-labels?')
    chk.add_argument('list', help='a .jsonl list written by this tool')
    chk.add_argument('--labels', required=True, help='pseudo-label file of these images')
    return parser, parser.parse_args(argv)


def main(argv=None):
    parser, args = parse_args(argv)
    commands = {
        k: run_convert
        for k in ('coco-karpathy', 'flickr30k-karpathy', 'vg', 'coco-captions')
    }
    commands['check-labels'] = run_check
    run_subcommand(parser, args, commands, TOOL_ERRORS)


if __name__ == '__main__':
    main()
