"""MUG reconstructions with generated captions (the paper's Figure 4), one PNG per image.

Each figure has four panels -- the input, the masked input (masked patches grey), the pixel
decoder's reconstruction of every patch, and the reconstruction with the visible patches pasted
back (MAE's presentation) -- and under them the caption the text decoder generates from the same
masked view (and the first reference caption when the images come from a COCO captions json).
With ``norm_pix`` the decoder predicts per-patch normalised pixels; they are mapped back with each
patch's mean and variance in the input, as MAE's own visualisations do. The mask of image i is
drawn with seed ``--seed + i``. Besides the PNGs, ``OUT_DIR/index-shard-i-of-N.json`` lists the
files and captions; existing PNGs are kept (a rerun continues), ``--overwrite`` redraws.

Example (COCO val2017, 8 images, beam search)::

    python tools/analysis_tools/mug_reconstruction.py \\
        configs/mug/mug_vit-base-p16_8xb512-amp-coslr-400e_cc3m.py work_dirs/mug/epoch_400.pth \\
        --ann-file data/coco/annotations/captions_val2017.json --img-root data/coco/val2017 \\
        --num 8 --num-beams 3 --out-dir work_dirs/mug_figure4
"""
import argparse
import os
import os.path as osp
import sys
from typing import Dict, List, Optional, Sequence

import cv2
import numpy as np
import torch

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
import mug_caption  # noqa: E402  (tools/ is not a package)

LABEL_H = 22
GAP = 4
PANELS = ('original', 'masked', 'reconstruction', 'recon. + visible')


def parse_args(argv: Optional[Sequence[str]] = None):
    parser = argparse.ArgumentParser(
        description='MUG original / masked / reconstructed images with generated captions')
    mug_caption.add_common_args(parser)
    parser.add_argument('--out-dir', required=True, help='where the PNG files go')
    parser.add_argument('--panel-size', type=int, default=224, help='panel side in pixels')
    parser.add_argument(
        '--overwrite', action='store_true', help='redraw figures whose PNG already exists')
    args = parser.parse_args(argv)
    if args.mask_ratio is not None and not 0 < args.mask_ratio < 1:
        parser.error('--mask-ratio must be in (0, 1): the figure shows a masked view')
    return args


def reference_captions(ann_file: Optional[str]) -> Dict[str, str]:
    """``{image key: first caption}`` of a COCO captions json (empty for other sources)."""
    if ann_file is None:
        return {}
    from mmvisrep.proposals.io import image_key, load_json
    data = load_json(ann_file, 'COCO annotation file')
    names = {img['id']: image_key(img['file_name']) for img in data.get('images', [])}
    refs = {}
    for ann in data.get('annotations', []):
        if isinstance(ann, dict) and isinstance(ann.get('caption'), str):
            key = names.get(ann.get('image_id'))
            if key is not None and key not in refs:
                refs[key] = ann['caption'].strip()
    return refs


def to_bgr_uint8(model, img: torch.Tensor) -> np.ndarray:
    """A preprocessed (normalised, RGB) (3, H, W) tensor back to a BGR uint8 image."""
    pre = model.data_preprocessor
    img = img * pre.std.to(img) + pre.mean.to(img)
    if getattr(pre, '_channel_conversion', False):
        img = img.flip(0)  # the preprocessor swapped BGR -> RGB; undo for OpenCV
    return img.clamp(0, 255).round().byte().permute(1, 2, 0).cpu().numpy()


def wrap(text: str, width: int, scale: float = 0.45) -> List[str]:
    """Greedy word wrap of ``text`` to lines that fit ``width`` pixels."""
    lines, line = [], ''
    for word in text.split():
        trial = f'{line} {word}'.strip()
        if line and cv2.getTextSize(trial, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)[0][0] > width - 6:
            lines.append(line)
            line = word
        else:
            line = trial
    return lines + ([line] if line else [])


def text_band(lines: Sequence[str], width: int) -> np.ndarray:
    band = np.full((LABEL_H * max(1, len(lines)), width, 3), 255, np.uint8)
    for i, line in enumerate(lines):
        cv2.putText(band, line, (3, LABEL_H * (i + 1) - 7), cv2.FONT_HERSHEY_SIMPLEX, 0.45,
                    (0, 0, 0), 1, cv2.LINE_AA)
    return band


def compose(panels: Sequence[np.ndarray], caption: str, reference: Optional[str]) -> np.ndarray:
    """The figure: panel titles, the four panels side by side, the captions below."""
    size = panels[0].shape[0]
    width = len(panels) * size + (len(panels) - 1) * GAP
    row = np.full((size, width, 3), 255, np.uint8)
    titles = np.full((LABEL_H, width, 3), 255, np.uint8)
    for i, (panel, title) in enumerate(zip(panels, PANELS)):
        x = i * (size + GAP)
        row[:, x:x + size] = panel
        titles[:, x:x + size] = text_band([title], size)
    lines = wrap('MUG: ' + caption, width)
    if reference:
        lines += wrap('reference: ' + reference, width)
    return np.concatenate([titles, row, text_band(lines, width)], axis=0)


def figure_panels(model, inputs: torch.Tensor, rec: dict, i: int, size: int) -> List[np.ndarray]:
    """The four panels of image ``i`` of a batch, resized to ``size`` (nearest: patch edges)."""
    original = to_bgr_uint8(model, inputs[i])
    pred = to_bgr_uint8(model, rec['pred'][i])
    mask = rec['mask'][i, 0].cpu().numpy().astype(bool)[..., None]
    masked = np.where(mask, np.uint8(128), original)
    pasted = np.where(mask, pred, original)
    return [
        cv2.resize(p, (size, size), interpolation=cv2.INTER_NEAREST)
        for p in (original, masked, pred, pasted)
    ]


def main(argv: Optional[Sequence[str]] = None) -> dict:
    args = parse_args(argv)
    from tqdm import tqdm

    from mmvisrep.proposals.io import atomic_open, atomic_write_json, load_json
    from mmvisrep.proposals.runner import resolve_shard, shard_bounds
    cfg = mug_caption.load_config(args)
    images = mug_caption.select_images(args)
    index, count, _ = resolve_shard(args.shard)
    model = mug_caption.build_model(cfg, args.checkpoint, args.device)
    tokenizer = mug_caption.build_tokenizer(cfg, args.tokenizer)
    max_length = mug_caption.default_max_length(cfg, args.max_length)
    pipeline = mug_caption.build_pipeline(mug_caption.image_size(model))
    ratio = args.mask_ratio if args.mask_ratio is not None else float(model.backbone.mask_ratio)
    refs = reference_captions(args.ann_file)
    os.makedirs(args.out_dir, exist_ok=True)

    start, stop = shard_bounds(len(images), index, count)
    mine = [(start + i, k, p) for i, (k, p) in enumerate(images[start:stop])]
    index_file = osp.join(args.out_dir, f'index-shard-{index:05d}-of-{count:05d}.json')
    meta = dict(
        checkpoint=osp.abspath(args.checkpoint),
        mask_ratio=ratio,
        seed=args.seed,
        num_beams=args.num_beams,
        length_penalty=args.length_penalty,
        max_length=max_length)
    entries, failures = {}, {}
    if osp.isfile(index_file) and not args.overwrite:
        previous = load_json(index_file, 'figure index')
        if previous.get('meta') != meta:
            raise SystemExit(f'{index_file} was written with other settings '
                             f'({previous.get("meta")} there, {meta} now): use another '
                             '--out-dir, the same arguments, or --overwrite')
        entries = {
            k: v
            for k, v in previous.get('images', {}).items()
            if osp.isfile(osp.join(args.out_dir, v['file']))
        }
    todo = [item for item in mine if item[1] not in entries]
    with tqdm(
            total=len(mine),
            initial=len(mine) - len(todo),
            desc='MUG figures',
            unit='img',
            disable=args.no_progress,
            dynamic_ncols=True) as bar:
        for b in range(0, len(todo), args.batch_size):
            batch, kept, fails = mug_caption.load_batch(pipeline, todo[b:b + args.batch_size])
            failures.update(fails)
            if kept:
                inputs = mug_caption.preprocess(model, batch.to(args.device))
                indices = [i for i, _, _ in kept]
                latent, mask, ids_restore = mug_caption.encode_per_image(
                    model, inputs, indices, ratio, args.seed)
                with torch.no_grad():
                    pred = model.neck(latent, ids_restore)
                rec = model.unpatchify_prediction(inputs, pred, mask)
                outs = mug_caption.caption_batch(
                    model, tokenizer, inputs, indices, args, max_length, latent=latent)
                for j, ((_, key, path), out) in enumerate(zip(kept, outs)):
                    panels = figure_panels(model, inputs, rec, j, args.panel_size)
                    figure = compose(panels, out['caption'], refs.get(key))
                    name = f'{key}.png'
                    ok, buf = cv2.imencode('.png', figure)
                    if not ok:
                        raise RuntimeError(f'cannot encode the figure of {path}')
                    with atomic_open(osp.join(args.out_dir, name), 'wb') as f:
                        f.write(buf.tobytes())
                    entries[key] = dict(
                        path=path, file=name, caption=out['caption'], reference=refs.get(key))
            bar.update(len(todo[b:b + args.batch_size]))
            atomic_write_json(dict(meta=meta, images=entries, failures=failures), index_file)
    if not todo:
        atomic_write_json(dict(meta=meta, images=entries, failures=failures), index_file)
    for key, fail in failures.items():
        print(f'could not render {fail["path"]}: {fail["error"]}')
    print(f'{len(entries)} figure(s) in {args.out_dir} ({len(mine) - len(todo)} kept from '
          f'before, {len(failures)} failed); index: {index_file}')
    return dict(images=entries, failures=failures, index=index_file)


if __name__ == '__main__':
    main()
