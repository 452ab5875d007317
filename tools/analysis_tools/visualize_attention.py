"""Render LocTex's learned utterance attention next to the rendered mouse trace (Figure A1).

For each selected Localized Narratives record the config's test pipeline (resize, trace rendering,
tokenisation; no augmentation) prepares the image and the per-utterance trace maps, the model
computes the attention of every utterance over its C5 grid, and one PNG per record shows, for
each utterance with a trace, the image with the learned attention and the image with the trace
target side by side.

Example (COCO val2017, the supplementary's setting: random records with >= 6 traced utterances)::

    python tools/analysis_tools/visualize_attention.py \\
        configs/loctex/loctex_resnet50_8xb32-coslr-600e_coco.py work_dirs/loctex/epoch_600.pth \\
        --out-dir work_dirs/loctex/attention --num 8 --shuffle --min-utterances 6
"""
import argparse
import os
import os.path as osp
import random
import sys
import tempfile
from typing import List, Optional, Sequence

import cv2
import numpy as np
import torch
from mmengine.config import Config, DictAction
from mmengine.dataset import default_collate
from mmengine.registry import init_default_scope
from mmengine.runner import load_checkpoint

PANEL = 224
LABEL_H = 22
GAP = 4


def parse_args(argv: Optional[Sequence[str]] = None):
    parser = argparse.ArgumentParser(
        description='Learned LocTex attention maps next to the rendered traces (PNG per record)')
    parser.add_argument('config', help='LocTex config (its test_pipeline renders the traces)')
    parser.add_argument('checkpoint', help='LocTex checkpoint (a training checkpoint)')
    parser.add_argument('--out-dir', required=True, help='where the PNG files go')
    parser.add_argument(
        '--ann-file',
        nargs='+',
        help='Localized Narratives JSONL file(s) (default: the config\'s val_dataset_coco)')
    parser.add_argument(
        '--data-root', help='root of --ann-file and the images (default: the config\'s)')
    parser.add_argument('--indices', type=int, nargs='+', help='record indices to render')
    parser.add_argument(
        '--num', type=int, default=4, help='records to render without --indices (default 4)')
    parser.add_argument('--shuffle', action='store_true', help='pick records at random')
    parser.add_argument('--seed', type=int, default=0, help='seed of --shuffle')
    parser.add_argument(
        '--min-utterances',
        type=int,
        default=1,
        help='skip records with fewer traced utterances (the supplementary shows images with '
        '>= 6 entities)')
    parser.add_argument(
        '--max-utterances', type=int, default=8, help='utterances shown per record (default 8)')
    parser.add_argument('--panel-size', type=int, default=PANEL, help='panel side in pixels')
    parser.add_argument('--alpha', type=float, default=0.5, help='heat-map opacity')
    parser.add_argument(
        '--save-arrays',
        action='store_true',
        help='also write <name>.npz with the attention and trace maps and the utterances')
    parser.add_argument('--device', default='cpu', help='e.g. cpu or cuda:0')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction, help='override config settings')
    return parser.parse_args(argv)


def build_dataset(cfg: Config, ann_files: Optional[List[str]], data_root: Optional[str]):
    """The config's ``val_dataset_coco`` (or train dataset) with the test pipeline."""
    from mmpretrain.registry import DATASETS
    if cfg.get('val_dataset_coco') is not None:
        ds_cfg = cfg.val_dataset_coco.copy()
    else:
        ds_cfg = cfg.train_dataloader.dataset.copy()
        if ds_cfg.get('type') == 'ConcatDataset':
            ds_cfg = ds_cfg.datasets[0].copy()
        if ann_files is None:
            raise ValueError(f'{cfg.filename}: no val_dataset_coco in the config; pass --ann-file')
    if cfg.get('test_pipeline') is None:
        raise ValueError(f'{cfg.filename}: the config has no test_pipeline (resize, '
                         'RenderTraceMaps, TokenizeUtterances, PackInputs)')
    ds_cfg.pipeline = cfg.test_pipeline
    ds_cfg.test_mode = True
    if ann_files is not None:
        ds_cfg.ann_file = ann_files[0] if len(ann_files) == 1 else list(ann_files)
    if data_root is not None:
        ds_cfg.data_root = data_root
    return DATASETS.build(ds_cfg)


def build_model(cfg: Config, checkpoint: str, device: str):
    from mmpretrain.registry import MODELS
    model_cfg = cfg.model.copy()
    if cfg.get('data_preprocessor') is not None:
        model_cfg.setdefault('data_preprocessor', cfg.data_preprocessor.copy())
    model = MODELS.build(model_cfg)
    if not getattr(model, 'with_attention', False):
        raise ValueError(f'{cfg.filename}: the model has no attention branch (a contrastive-only '
                         'config?); nothing to visualise')
    load_checkpoint(model, checkpoint, map_location='cpu', strict=True)
    return model.to(device).eval()


def heat_overlay(img: np.ndarray, heat: np.ndarray, alpha: float) -> np.ndarray:
    """``img`` (S, S, 3) BGR uint8 with ``heat`` (h, w) upsampled, max-normalised, JET."""
    size = img.shape[1], img.shape[0]
    heat = cv2.resize(heat.astype(np.float32), size, interpolation=cv2.INTER_LINEAR)
    peak = float(heat.max())
    heat = heat / peak if peak > 0 else heat
    colour = cv2.applyColorMap(np.uint8(np.clip(heat, 0, 1) * 255), cv2.COLORMAP_JET)
    return cv2.addWeighted(img, 1 - alpha, colour, alpha, 0)


def _label(text: str, width: int) -> np.ndarray:
    band = np.full((LABEL_H, width, 3), 255, np.uint8)
    scale, thick = 0.45, 1
    while text and cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)[0][0] > width - 6:
        text = text[:-4] + '...' if len(text) > 4 else ''
    cv2.putText(band, text, (3, LABEL_H - 7), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), thick,
                cv2.LINE_AA)
    return band


def compose(img: np.ndarray, rows: List[tuple], caption: str, alpha: float) -> np.ndarray:
    """A figure: the image on top, then per utterance [attention | trace] with its text."""
    size = img.shape[0]
    width = 2 * size + GAP
    top = np.full((size, width, 3), 255, np.uint8)
    top[:, :size] = img
    blocks = [_label(caption, width), top]
    head = np.full((LABEL_H, width, 3), 255, np.uint8)
    head[:, :size] = _label('learned attention', size)
    head[:, size + GAP:] = _label('rendered trace', size)
    blocks.append(head)
    for text, attn, trace in rows:
        row = np.full((size, width, 3), 255, np.uint8)
        row[:, :size] = heat_overlay(img, attn, alpha)
        row[:, size + GAP:] = heat_overlay(img, trace, alpha)
        blocks += [_label(text, width), row]
    return np.concatenate(blocks, axis=0)


def _atomic_imwrite(path: str, image: np.ndarray) -> None:
    """PNG-encode ``image`` and move it onto ``path`` in one step (no partial files)."""
    ok, buf = cv2.imencode('.png', image)
    if not ok:
        raise RuntimeError(f'cannot encode {path}')
    fd, tmp = tempfile.mkstemp(
        prefix=osp.basename(path) + '.', suffix='.tmp', dir=osp.dirname(path))
    with os.fdopen(fd, 'wb') as f:
        f.write(buf.tobytes())
    os.replace(tmp, path)


def render_record(model, dataset, idx: int, args) -> Optional[dict]:
    """Compute and write one record's figure; None when it has too few traced utterances."""
    sample = dataset[idx]
    data = model.data_preprocessor(default_collate([sample]), training=False)
    attn = model.attention_maps(data['inputs'], data['data_samples'])[0].cpu().numpy()
    ds = data['data_samples'][0]
    trace = torch.as_tensor(ds.trace_maps).cpu().numpy()
    valid = torch.as_tensor(ds.utterance_valid).cpu().numpy().astype(bool)
    utterances = list(ds.get('utterances', []))
    shown = [k for k in np.nonzero(valid)[0] if k < len(utterances)]
    if len(shown) < args.min_utterances:
        return None
    shown = shown[:args.max_utterances]
    # the image the model saw (after the test pipeline), BGR (C, H, W) uint8
    img = sample['inputs'].permute(1, 2, 0).cpu().numpy().astype(np.uint8).copy()
    img = cv2.resize(img, (args.panel_size, args.panel_size), interpolation=cv2.INTER_AREA)
    rows = [(f'{k}: {utterances[k]}', attn[k], trace[k]) for k in shown]
    image_id = str(ds.get('image_id', idx))
    caption = f'#{idx} image {image_id}: ' + ' '.join(utterances)
    figure = compose(img, rows, caption, args.alpha)
    name = f'{idx:06d}_{image_id}_{ds.get("annotator_id", 0)}'
    _atomic_imwrite(osp.join(args.out_dir, name + '.png'), figure)
    if args.save_arrays:
        with open(osp.join(args.out_dir, name + '.npz'), 'wb') as f:
            np.savez(
                f,
                attention=attn,
                trace=trace,
                valid=valid,
                shown=np.asarray(shown, np.int64),
                utterances=np.asarray(utterances, dtype=object).astype(str))
    return dict(index=idx, file=name + '.png', utterances=len(shown))


def main(argv: Optional[Sequence[str]] = None) -> List[dict]:
    args = parse_args(argv)
    from tqdm import tqdm

    import mmvisrep  # noqa: F401
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    dataset = build_dataset(cfg, args.ann_file, args.data_root)
    model = build_model(cfg, args.checkpoint, args.device)
    os.makedirs(args.out_dir, exist_ok=True)

    if args.indices:
        bad = [i for i in args.indices if not 0 <= i < len(dataset)]
        if bad:
            raise IndexError(f'--indices {bad} out of range: the dataset has {len(dataset)} '
                             'records')
        order, wanted = list(args.indices), len(args.indices)
    else:
        order, wanted = list(range(len(dataset))), args.num
        if args.shuffle:
            random.Random(args.seed).shuffle(order)
    done, skipped = [], 0
    with tqdm(total=wanted, desc='attention maps', unit='record') as bar:
        for idx in order:
            if len(done) == wanted:
                break
            result = render_record(model, dataset, idx, args)
            if result is None:
                skipped += 1
                continue
            done.append(result)
            bar.update(1)
    msg = f'wrote {len(done)} figure(s) to {args.out_dir}'
    if skipped:
        msg += f'; skipped {skipped} record(s) with < {args.min_utterances} traced utterances'
    print(msg)
    if len(done) < wanted:
        print(f'only {len(done)} of {wanted} records qualified', file=sys.stderr)
    return done


if __name__ == '__main__':
    main()
