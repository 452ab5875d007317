r"""Offline detector pseudo-labels for the SPL loss (semantic VLP) -> one label file.

Examples::

    # one process over a COCO json's images (score >= 0.2, 10..100 labels per image)
    python tools/data/extract_pseudo_labels.py extract DET_CONFIG DET_CKPT \
        --img-dir data/coco/train2017 \
        --ann-file data/coco/annotations/instances_train2017.json \
        --out data/coco/meta/pseudo_labels_train2017.json

    # 8 processes (torchrun RANK/WORLD_SIZE, slurm, or --shard i/N); the last to finish merges
    torchrun --nproc_per_node 8 tools/data/extract_pseudo_labels.py extract ...

    # merge alone (every shard finished)
    python tools/data/extract_pseudo_labels.py merge --out data/coco/meta/pseudo_labels.json

Any mmdet detector config + checkpoint. Per image: the detections with score >= --score-thr;
if fewer than --min-labels, the top --min-labels by score; at most --max-labels. Chunks of
--chunk-size images are written to OUT.parts/ as they finish, so a killed run resumes; an
unreadable image is listed as failed and the run goes on. See docs/pseudo_labels.md.
"""
import hashlib
import os
import os.path as osp
import time
import warnings

from mmengine.config import DictAction

from mmvisrep.utils.cli import (TOOL_ERRORS, add_chunk_size_arg, add_device_progress_args,
                                add_shard_arg, run_subcommand, subcommand_parser)

IMG_EXTS = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp')


def parse_args(argv=None):
    parser, sub = subcommand_parser(__doc__)
    ext = sub.add_parser(
        'extract', help='detect on the images of one shard (then merge once every shard is done)')
    ext.add_argument('config', help='mmdet detector config')
    ext.add_argument('checkpoint', help='detector checkpoint')
    ext.add_argument('--img-dir', required=True, help='image folder (keys are relative to it)')
    src = ext.add_mutually_exclusive_group()
    src.add_argument('--ann-file', help='COCO json whose "images" file_names are used, in order')
    src.add_argument(
        '--file-list',
        help='text file, one image path (first field) per line, relative to '
        '--img-dir')
    ext.add_argument('--out', required=True, help='output json (chunks go to OUT.parts/)')
    ext.add_argument('--score-thr', type=float, default=0.2, help='default: %(default)s')
    ext.add_argument('--min-labels', type=int, default=10, help='default: %(default)s')
    ext.add_argument('--max-labels', type=int, default=100, help='default: %(default)s')
    ext.add_argument('--batch-size', type=int, default=8, help='images per forward')
    add_shard_arg(ext)
    add_chunk_size_arg(ext, default=1000)
    ext.add_argument('--overwrite', action='store_true', help="recompute this shard's chunks")
    ext.add_argument('--no-merge', action='store_true', help='never merge, even when all done')
    ext.add_argument(
        '--cfg-options', nargs='+', action=DictAction, help='override detector config keys')
    add_device_progress_args(ext)
    mrg = sub.add_parser('merge', help='merge the finished chunks of OUT.parts/ into OUT')
    mrg.add_argument('--out', required=True, help='the --out of extract')
    return parser, parser.parse_args(argv)


def list_images(img_dir, ann_file=None, file_list=None):
    """Image keys (paths relative to ``img_dir``) from a COCO json, a file list or the folder."""
    from mmvisrep.utils.atomic_io import load_json
    if not osp.isdir(img_dir):
        raise NotADirectoryError(f'image folder not found: {img_dir}')
    if ann_file:
        images = load_json(ann_file, 'annotation file').get('images')
        if not isinstance(images, list):
            raise ValueError(f'{ann_file} has no "images" list')
        keys = [im['file_name'] for im in images]
    elif file_list:
        if not osp.isfile(file_list):
            raise FileNotFoundError(f'file list not found: {file_list}')
        with open(file_list) as f:
            keys = [line.split()[0] for line in f if line.strip()]
    else:
        keys = sorted(
            osp.relpath(osp.join(root, name), img_dir) for root, _, names in os.walk(img_dir)
            for name in names if name.lower().endswith(IMG_EXTS))
    if not keys:
        raise ValueError(f'no images to label in {ann_file or file_list or img_dir}')
    dup = len(keys) - len(set(keys))
    if dup:
        raise ValueError(f'{dup} duplicate image keys in {ann_file or file_list}')
    return keys


def _lower_detector_threshold(model_cfg, max_labels):
    """Let the detector return every box (score_thr 0, >= max_labels per image), so that the
    min-labels rule can fill up and the tool's own threshold decides."""
    test_cfg = model_cfg.get('test_cfg')
    if not test_cfg:
        return
    target = test_cfg['rcnn'] if 'rcnn' in test_cfg else test_cfg
    if 'score_thr' in target:
        target['score_thr'] = 0.0
    if 'max_per_img' in target:
        target['max_per_img'] = max(target['max_per_img'], max_labels)


def build_detector(config, checkpoint, device, max_labels, cfg_options=None):
    """``(model, pipeline, classes)``: the detector on ``device`` with its test pipeline
    reading arrays (annotation loading dropped) and the class names it was trained with."""
    from mmcv.transforms import Compose
    from mmdet.apis import init_detector
    from mmdet.utils import get_test_pipeline_cfg
    from mmengine.config import Config
    from mmengine.runner import load_checkpoint
    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    _lower_detector_threshold(cfg.model, max_labels)
    with warnings.catch_warnings():  # "checkpoint is None, use COCO classes": set below
        warnings.simplefilter('ignore')
        model = init_detector(cfg, None, device='cpu')
    ckpt = load_checkpoint(model, checkpoint, map_location='cpu')
    classes = ckpt.get('meta', {}).get('dataset_meta', {}).get('classes')
    if classes is None:
        classes = cfg.get('test_dataloader', {}).get('dataset', {}).get('metainfo',
                                                                        {}).get('classes')
    if classes is None:
        raise ValueError(f'cannot tell the classes of {checkpoint}: no meta.dataset_meta.classes '
                         f'in it and no test_dataloader.dataset.metainfo.classes in {config}')
    model.dataset_meta = dict(classes=tuple(classes))
    pipeline = [
        p for p in get_test_pipeline_cfg(cfg)
        if 'LoadAnnotations' not in p['type'] and 'LoadImage' not in p['type']
    ]
    pipeline = Compose([dict(type='mmdet.LoadImageFromNDArray')] + pipeline)
    return model.to(device).eval(), pipeline, list(classes)


class _Labeller:
    """Batched detection -> per-image label records (built on first use)."""

    def __init__(self, args):
        import torch
        self.args = args
        self.device = args.device or ('cuda' if torch.cuda.is_available() else 'cpu')
        self.model = None

    def __call__(self, images):
        import torch

        from mmvisrep.datasets.pseudo_labels import select_labels
        if self.model is None:
            self.model, self.pipeline, self.classes = build_detector(self.args.config,
                                                                     self.args.checkpoint,
                                                                     self.device,
                                                                     self.args.max_labels,
                                                                     self.args.cfg_options)
        data = [
            self.pipeline(dict(img=img[..., ::-1].copy(), img_id=i))
            for i, img in enumerate(images)
        ]  # BGR, as LoadImageFromFile
        batch = dict(
            inputs=[d['inputs'] for d in data], data_samples=[d['data_samples'] for d in data])
        with torch.no_grad():
            results = self.model.test_step(batch)
        records = []
        for res in results:
            inst = res.pred_instances
            scores = inst.scores.float().cpu().numpy()
            labels = inst.labels.cpu().numpy()
            boxes = inst.bboxes.float().cpu().numpy()
            if len(labels) and labels.max() >= len(self.classes):
                raise ValueError(f'detector predicts class {int(labels.max())} but has '
                                 f'{len(self.classes)} classes')
            keep = select_labels(scores, self.args.score_thr, self.args.min_labels,
                                 self.args.max_labels)
            records.append(
                dict(
                    labels=[int(labels[k]) for k in keep],
                    scores=[round(float(scores[k]), 4) for k in keep],
                    boxes=[[
                        round(float(boxes[k, 0]), 2),
                        round(float(boxes[k, 1]), 2),
                        round(float(boxes[k, 2] - boxes[k, 0]), 2),
                        round(float(boxes[k, 3] - boxes[k, 1]), 2)
                    ] for k in keep]))
        return records


def _parts_dir(out):
    return out + '.parts'


def _chunk_path(out, chunk):
    return osp.join(_parts_dir(out), f'chunk_{chunk:06d}.json')


def run_extract(args):
    from mmvisrep.correspondence.model import checkpoint_identity
    from mmvisrep.proposals.runner import resolve_shard, shard_bounds
    from mmvisrep.utils.atomic_io import atomic_write_json, load_json
    from mmvisrep.utils.image_io import read_rgb
    from mmvisrep.utils.resume import meta_mismatch, progress_bar
    if not 0 <= args.min_labels <= args.max_labels:
        raise ValueError(f'need 0 <= --min-labels <= --max-labels, got {args.min_labels}, '
                         f'{args.max_labels}')
    if args.chunk_size < 1 or args.batch_size < 1:
        raise ValueError('--chunk-size and --batch-size must be positive')
    if not osp.isfile(args.checkpoint):
        raise FileNotFoundError(f'checkpoint not found: {args.checkpoint}')
    index, count, source = resolve_shard(args.shard)
    keys = list_images(args.img_dir, args.ann_file, args.file_list)
    meta = dict(
        config=osp.basename(args.config),
        checkpoint=checkpoint_identity(args.checkpoint),
        score_thr=args.score_thr,
        min_labels=args.min_labels,
        max_labels=args.max_labels,
        num_images=len(keys),
        images_sha1=hashlib.sha1('\n'.join(keys).encode()).hexdigest(),
        chunk_size=args.chunk_size)
    num_chunks = -(-len(keys) // args.chunk_size)
    first, last = shard_bounds(num_chunks, index, count)
    print(f'Shard {index}/{count} (from {source}): chunks {first}..{last - 1} of {num_chunks}, '
          f'output {args.out}')
    todo, resumed = [], 0
    for chunk in range(first, last):
        path = _chunk_path(args.out, chunk)
        if osp.isfile(path) and not args.overwrite:
            why = meta_mismatch(load_json(path, 'chunk').get('meta', {}), meta)
            if why:
                raise ValueError(f'{path} is from another run ({why}); use --overwrite or '
                                 'another --out')
            resumed += 1
        else:
            todo.append(chunk)
    start, images_done, failed = time.time(), 0, 0
    if not todo:
        print(f'Shard {index}/{count} was already finished ({resumed} chunks); skipped')
    else:
        labeller = _Labeller(args)
        total = sum(len(keys[c * args.chunk_size:(c + 1) * args.chunk_size]) for c in todo)
        bar = progress_bar(total, f'pseudo-labels {index}/{count}', not args.no_progress)
        for chunk in todo:
            chunk_keys = keys[chunk * args.chunk_size:(chunk + 1) * args.chunk_size]
            records, failures = {}, []
            for b in range(0, len(chunk_keys), args.batch_size):
                batch_keys, images = [], []
                for key in chunk_keys[b:b + args.batch_size]:
                    try:
                        images.append(read_rgb(osp.join(args.img_dir, key)))
                        batch_keys.append(key)
                    except RuntimeError as err:
                        failures.append(dict(key=key, error=str(err)))
                        bar.write(f'failed: {err}')
                if images:
                    records.update(zip(batch_keys, labeller(images)))
                bar.update(len(chunk_keys[b:b + args.batch_size]))
            atomic_write_json(
                dict(meta=meta, classes=labeller.classes, images=records, failed=failures),
                _chunk_path(args.out, chunk))
            images_done += len(chunk_keys)
            failed += len(failures)
        bar.close()
        print(f'Shard {index}/{count}: {images_done} images labelled ({failed} failed), '
              f'{resumed} chunks resumed, in {time.time() - start:.1f}s')
    if args.no_merge:
        return
    missing = [c for c in range(num_chunks) if not osp.isfile(_chunk_path(args.out, c))]
    if missing:
        print(f'Not merging yet: {len(missing)} chunks unfinished (other shards); run "merge" '
              'when they are')
        return
    merge(args.out)


def merge(out):
    """Merge the chunks of ``out.parts/`` into the pseudo-label file ``out``; return its info."""
    from mmvisrep.datasets.pseudo_labels import write_pseudo_labels
    from mmvisrep.utils.atomic_io import load_json
    first = _chunk_path(out, 0)
    meta = load_json(first, 'chunk 0 of the run').get('meta')
    if not meta:
        raise ValueError(f'{first} has no "meta"')
    num_chunks = -(-meta['num_images'] // meta['chunk_size'])
    images, failed, classes = {}, [], None
    for chunk in range(num_chunks):
        path = _chunk_path(out, chunk)
        if not osp.isfile(path):
            raise FileNotFoundError(f'chunk {chunk} of {num_chunks} not finished: {path}')
        part = load_json(path, 'chunk')
        if part.get('meta') != meta:
            raise ValueError(f'{path} is from another run than {first}')
        if classes is None:
            classes = part['classes']
        images.update(part['images'])
        failed.extend(part['failed'])
    if len(images) + len(failed) != meta['num_images']:
        raise ValueError(f'{_parts_dir(out)} holds {len(images) + len(failed)} images, '
                         f'expected {meta["num_images"]}')
    info = dict(meta, classes=classes, failed=failed)
    write_pseudo_labels(out, info, images)
    counts = [len(r['labels']) for r in images.values()]
    print(f'Merged {len(images)} images ({len(failed)} failed) into {out}; labels per image '
          f'{min(counts, default=0)}..{max(counts, default=0)}')
    return info


def main(argv=None):
    parser, args = parse_args(argv)
    run_subcommand(parser, args, dict(extract=run_extract, merge=lambda a: merge(a.out)),
                   TOOL_ERRORS)


if __name__ == '__main__':
    main()
