"""Preview figure of generated toy scenes read back from disk: instance overlays, stuff maps,
a Localized Narratives trace coloured by utterance, and a caption per sample."""
import json
import textwrap
from pathlib import Path
from typing import Sequence, Union

import cv2
import numpy as np
from pycocotools.coco import COCO

from .classes import SEG_PALETTE, THING_NAMES, UNLABELED, seg_class_names, stuffthingmap_values


def _stuff_colours(label):
    """Colour a raw stuffthingmap with the segmentation palette (unlabeled = black)."""
    lut = np.zeros((256, 3), np.uint8)
    for i, raw in enumerate(stuffthingmap_values()):
        lut[raw] = SEG_PALETTE[i]
    lut[UNLABELED] = (0, 0, 0)
    return lut[label]


def plot_toy_scenes(root: Union[str, Path],
                    out_file: Union[str, Path],
                    split: str = 'val',
                    indices: Sequence[int] = (0, 1, 2, 3)):
    """Save a grid (samples x [overlay, stuff map, trace]) of ``split`` images to ``out_file``.

    Everything is read from the files in ``root``, so the figure checks the written formats.
    """
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    root = Path(root)
    coco = COCO(str(root / 'annotations' / f'instances_{split}2017.json'))
    with open(root / 'annotations' / f'captions_{split}2017.json') as f:
        captions = json.load(f)['annotations']
    with open(root / 'annotations' / f'coco_{split}_localized_narratives.jsonl') as f:
        narratives = {r['image_id']: r for r in map(json.loads, f)}
    img_ids = sorted(coco.getImgIds())
    cols = len(indices)
    fig, axes = plt.subplots(3, cols, figsize=(3.6 * cols, 11.5), squeeze=False)
    thing_colours = np.array(SEG_PALETTE[:len(THING_NAMES)], np.float32) / 255
    for col, index in enumerate(indices):
        info = coco.loadImgs(img_ids[index])[0]
        image = cv2.imread(str(root / f'{split}2017' / info['file_name']))[..., ::-1]
        h, w = image.shape[:2]
        overlay = image.astype(np.float32) / 255
        ax = axes[0][col]
        anns = coco.loadAnns(coco.getAnnIds(imgIds=[info['id']]))
        for ann in anns:
            mask = coco.annToMask(ann).astype(bool)
            colour = thing_colours[ann['category_id'] - 1]
            overlay[mask] = 0.7 * overlay[mask] + 0.3 * colour
            edge = mask & ~cv2.erode(mask.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
            overlay[edge] = colour
        ax.imshow(overlay)
        for ann in anns:
            x, y, bw, bh = ann['bbox']
            colour = thing_colours[ann['category_id'] - 1]
            ax.add_patch(plt.Rectangle((x, y), bw, bh, fill=False, lw=1.5, ec=colour))
            ax.text(
                x,
                y - 1,
                THING_NAMES[ann['category_id'] - 1],
                fontsize=7,
                color='white',
                va='bottom',
                bbox=dict(fc=colour, ec='none', pad=0.5, alpha=0.9))
        caption = next(c['caption'] for c in captions if c['image_id'] == info['id'])
        ax.set_title('\n'.join(textwrap.wrap(caption, 42)), fontsize=8)

        label = cv2.imread(
            str(root / 'stuffthingmaps' / f'{split}2017' / f"{info['id']:012d}.png"),
            cv2.IMREAD_UNCHANGED)
        axes[1][col].imshow(_stuff_colours(label))
        names = dict(zip(stuffthingmap_values(), seg_class_names()))
        values = [int(v) for v in np.unique(label) if v != UNLABELED]
        axes[1][col].set_xlabel(
            '\n'.join(textwrap.wrap(', '.join(f'{v} {names[v]}'
                                              for v in values), 44)) + ', 255 unlabeled',
            fontsize=8)

        ln = narratives[str(info['id'])]
        ax = axes[2][col]
        ax.imshow(image, alpha=0.45, extent=(0, 1, 1, 0))
        cmap = plt.get_cmap('tab10')
        handles = []
        windows = [(u['start_time'], u['end_time']) for u in ln['timed_caption']]
        named = [
            k for k, u in enumerate(ln['timed_caption'])
            if any(n in u['utterance'] for n in THING_NAMES)
        ]
        for seg in ln['traces']:
            pts = np.array([[p['x'], p['y'], p['t']] for p in seg])
            ax.plot(pts[:, 0], pts[:, 1], '-', color='0.35', lw=0.6)
            for rank, k in enumerate(named):
                s, e = windows[k]
                sel = (pts[:, 2] >= s) & (pts[:, 2] <= e)
                ax.plot(pts[sel, 0], pts[sel, 1], '.', ms=3.5, color=cmap(rank % 10))
        for rank, k in enumerate(named):
            handles.append(
                Line2D([], [],
                       ls='',
                       marker='o',
                       color=cmap(rank % 10),
                       label=ln['timed_caption'][k]['utterance'].rstrip('.,')))
        ax.add_patch(plt.Rectangle((0, 0), 1, 1, fill=False, ls='--', ec='k', lw=0.8))
        ax.set_xlim(-0.12, 1.12)
        ax.set_ylim(1.12, -0.12)
        ax.legend(
            handles=handles,
            fontsize=6.5,
            loc='upper center',
            bbox_to_anchor=(0.5, -0.08),
            ncol=2,
            frameon=False)
        ax.set_xlabel(f"trace: {len(ln['traces'])} segments, dashed = image border", fontsize=8)
        for row in range(3):
            axes[row][col].set_xticks([])
            axes[row][col].set_yticks([])
    axes[0][0].set_ylabel('instances (polygons, boxes)')
    axes[1][0].set_ylabel('stuffthingmap (COCO-Stuff)')
    axes[2][0].set_ylabel('narrative trace by utterance')
    fig.tight_layout(h_pad=1.5)
    out_file = Path(out_file)
    out_file.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_file, dpi=90, bbox_inches='tight')
    plt.close(fig)
    return out_file
