"""MUG end to end on toy scenes: tools/train.py with the toy config, then the caption tool
(greedy / beam, shards, resume, failures), the reconstruction figures, the transfer configs
loading the trained encoder, and the MUG-vs-MAE iteration benchmark."""
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config

REPO = Path(__file__).resolve().parents[2]
TOY = REPO / 'configs/mug/mug_vit-tiny-p16_1xb16-toy-10e_toyscenes.py'
BENCH = REPO / 'configs/mug/benchmarks'
PY_ENV = dict(os.environ, OMP_NUM_THREADS='1', MKL_NUM_THREADS='1')


def _tool(rel):
    path = REPO / rel
    spec = importlib.util.spec_from_file_location('_tool_' + path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def trained(toy_scenes, tmp_path_factory):
    """One epoch of the toy config through tools/train.py (12 images, batch 4: 3 iterations)."""
    work = tmp_path_factory.mktemp('mug_toy')
    cmd = [
        sys.executable, 'tools/train.py',
        str(TOY), '--work-dir',
        str(work), '--cfg-options', f'train_dataloader.dataset.data_root={toy_scenes}/',
        'train_dataloader.batch_size=4', 'train_dataloader.num_workers=0',
        'train_cfg.max_epochs=1', 'default_hooks.logger.interval=1'
    ]
    result = subprocess.run(cmd, cwd=REPO, env=PY_ENV, capture_output=True, text=True, timeout=600)
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-3000:]
    assert 'loss_rec' in log and 'loss_cap' in log
    ckpt = work / 'epoch_1.pth'
    assert torch.load(ckpt, map_location='cpu')['meta']['iter'] == 3
    return ckpt


def _caption_args(ckpt, toy_scenes, out_dir, *extra):
    return [
        str(TOY),
        str(ckpt), '--img-dir',
        str(toy_scenes / 'val2017'), '--out-dir',
        str(out_dir), '--no-progress', *extra
    ]


def test_caption_tool_greedy_beam_shards_resume(trained, toy_scenes, tmp_path):
    tool = _tool('tools/analysis_tools/mug_caption.py')
    one = tool.main(
        _caption_args(trained, toy_scenes, tmp_path / 'one', '--batch-size', '4', '--chunk-size',
                      '2'))
    assert one['computed'] == 6 and one['failed'] == 0
    captions = json.loads((tmp_path / 'one/captions.json').read_text())
    assert len(captions) == 6 and all(isinstance(c, str) for c in captions.values())
    shard = json.loads((tmp_path / 'one/shards/shard-00000-of-00001.json').read_text())
    assert shard['meta']['num_beams'] == 1 and shard['meta']['mask_ratio'] == 0.75
    assert not (tmp_path / 'one/shards/shard-00000-of-00001.chunks').exists()

    # the tool's caption is the model's greedy caption of the seeded masked view
    cfg = tool.load_config(tool.parse_args(_caption_args(trained, toy_scenes, tmp_path)))
    model = tool.build_model(cfg, str(trained), 'cpu')
    key, rec = sorted(shard['images'].items())[2]
    batch, _, _ = tool.load_batch(tool.build_pipeline(64), [(2, key, rec['path'])])
    inputs = tool.preprocess(model, batch)
    torch.manual_seed(0 + 2)
    ids = model.generate_captions(inputs, max_length=cfg.max_length)[0]
    assert ids == rec['tokens']
    tokenizer = tool.build_tokenizer(cfg)
    assert tokenizer.decode(ids, skip_special_tokens=True) == rec['caption']
    assert rec['logprob'] < 0

    # two shards (per-image mask seeds): the same captions, merged once both are done
    for i in range(2):
        tool.main(_caption_args(trained, toy_scenes, tmp_path / 'two', '--shard', f'{i}/2'))
        merged = tmp_path / 'two/captions.json'
        assert merged.exists() == (i == 1)
    assert json.loads(merged.read_text()) == captions

    # rerun: nothing recomputed; other settings: refused
    again = tool.main(_caption_args(trained, toy_scenes, tmp_path / 'one'))
    assert again['resumed'] == 6 and again['computed'] == 0
    with pytest.raises(ValueError, match='other settings'):
        tool.main(_caption_args(trained, toy_scenes, tmp_path / 'one', '--num-beams', '2'))

    # beam search and conditioning on all patches run too
    beam = tool.main(
        _caption_args(trained, toy_scenes, tmp_path / 'beam', '--num-beams', '3', '--mask-ratio',
                      '0', '--num', '2'))
    assert beam['computed'] == 2
    data = json.loads((tmp_path / 'beam/shards/shard-00000-of-00001.json').read_text())
    assert data['meta']['num_beams'] == 3 and data['meta']['mask_ratio'] == 0


def test_caption_tool_reports_unreadable_images(trained, toy_scenes, tmp_path):
    tool = _tool('tools/analysis_tools/mug_caption.py')
    listing = tmp_path / 'list.txt'
    broken = tmp_path / 'broken.jpg'
    broken.write_bytes(b'not a jpeg')
    good = sorted((toy_scenes / 'val2017').glob('*.jpg'))[0]
    listing.write_text(f'{good}\n{broken}\n')
    out = tool.main([
        str(TOY),
        str(trained), '--file-list',
        str(listing), '--out-dir',
        str(tmp_path / 'out'), '--no-progress'
    ])
    assert out['failed'] == 1 and out['computed'] == 2
    shard = json.loads((tmp_path / 'out/shards/shard-00000-of-00001.json').read_text())
    assert list(shard['images']) == [good.stem] and list(shard['failures']) == ['broken']
    assert 'broken.jpg' in shard['failures']['broken']['path']
    assert shard['failures']['broken']['error']


def test_reconstruction_figures(trained, toy_scenes, tmp_path):
    tool = _tool('tools/analysis_tools/mug_reconstruction.py')
    ann = toy_scenes / 'annotations/captions_val2017.json'
    args = [
        str(TOY),
        str(trained), '--ann-file',
        str(ann), '--img-root',
        str(toy_scenes / 'val2017'), '--num', '2', '--out-dir',
        str(tmp_path / 'fig'), '--panel-size', '64', '--no-progress'
    ]
    out = tool.main(args)
    assert len(out['images']) == 2 and not out['failures']
    key, entry = sorted(out['images'].items())[0]
    fig = cv2.imread(str(tmp_path / 'fig' / entry['file']))
    assert fig.shape[1] == 4 * 64 + 3 * tool.GAP
    first = json.loads(ann.read_text())
    ref = [a['caption'] for a in first['annotations'] if a['image_id'] == int(key)][0]
    assert entry['reference'] == ref.strip() and entry['caption']

    # panel 1 = the input the model saw (64 px centre crop, nearest-upscaled to the panel)
    cap = _tool('tools/analysis_tools/mug_caption.py')
    crop = cap.build_pipeline(64)(dict(img_path=entry['path']))['img']
    panel = fig[tool.LABEL_H:tool.LABEL_H + 64, :64].astype(int)
    assert np.abs(panel - crop.astype(int)).max() <= 1  # PNG is lossless; rounding only
    # panel 2: masked patches grey, 12 of the 16 16-px patches at ratio 0.75
    masked = fig[tool.LABEL_H:tool.LABEL_H + 64, 64 + tool.GAP:2 * 64 + tool.GAP]
    grey = [(masked[y:y + 16, x:x + 16] == 128).all() for y in range(0, 64, 16)
            for x in range(0, 64, 16)]
    assert sum(grey) == 12

    # the figure's caption is the caption tool's for the same seed and view
    cap.main(_caption_args(trained, toy_scenes, tmp_path / 'caps', '--num', '2'))
    captions = json.loads((tmp_path / 'caps/captions.json').read_text())
    assert captions[key] == entry['caption']

    again = tool.main(args)  # existing figures are kept
    assert again['images'] == out['images']


def test_transfer_configs_load_the_trained_encoder(trained, tmp_path):
    from mmengine.registry import MODELS, init_default_scope
    state = torch.load(trained, map_location='cpu')['state_dict']
    encoder = {k[len('backbone.'):]: v for k, v in state.items() if k.startswith('backbone.')}
    paper = sorted(p for p in BENCH.glob('*.py'))
    assert [p.name for p in paper] == [
        'upernet_mae-base_8xb2-amp-160k_ade20k-512x512.py',
        'vit-base-p16_8xb128-coslr-100e_in1k.py', 'vit-base-p16_8xb2048-linear-coslr-90e_in1k.py'
    ]
    for path in paper:
        cfg = Config.fromfile(str(path))
        assert cfg.custom_imports == dict(imports=['mmvisrep'], allow_failed_imports=False)
        assert cfg.model.backbone.init_cfg.checkpoint == ''
        assert cfg.model.get('pretrained') is None

    bare = tmp_path / 'mug_encoder_bare.pth'
    torch.save({'state_dict': encoder}, bare)
    for name, ckpt in (('vit-tiny-p16_1xb32-finetune-toy_toyscenes',
                        trained), ('vit-tiny-p16_1xb32-linear-coslr-toy_toyscenes', trained),
                       ('upernet_mae-tiny_1xb4-toy_toyscenes', bare)):
        cfg = Config.fromfile(str(BENCH / 'toy' / f'{name}.py'))
        cfg.model.backbone.init_cfg.checkpoint = str(ckpt)
        init_default_scope(cfg.default_scope)
        import mmvisrep  # noqa: F401
        model_cfg = cfg.model.copy()
        if cfg.get('data_preprocessor') is not None:
            model_cfg.setdefault('data_preprocessor', cfg.data_preprocessor)
        model = MODELS.build(model_cfg)
        model.init_weights()
        loaded = model.backbone.state_dict()
        for key, value in encoder.items():
            if key == 'pos_embed' or (key.startswith('ln1.') and key not in loaded):
                continue  # resized to the new grid / final norm unused by the recipe
            assert torch.equal(loaded[key], value), (name, key)
        rest = set(loaded) - set(encoder)
        # what the MUG encoder does not hold: identity-valued extras of mmseg's MAE, and the
        # norm after average pooling of the fine-tuning recipe (new, as in MAE's fc_norm)
        new = ('gamma_1', 'gamma_2', 'relative_position_bias_table', 'relative_position_index')
        if cfg.model.backbone.get('out_type') == 'avg_featmap':
            assert {'ln2.weight', 'ln2.bias'} <= rest
            rest -= {'ln2.weight', 'ln2.bias'}
        assert all(k.rsplit('.', 1)[-1] in new for k in rest), rest
        if 'gamma_1' in ' '.join(rest):
            assert all((v == 1).all() for k, v in loaded.items() if 'gamma' in k)
        size = cfg.model.backbone.img_size
        size = size[0] if isinstance(size, (tuple, list)) else size
        assert loaded['pos_embed'].shape[1] == 1 + (size // 16)**2  # resized from 4 x 4


def test_iteration_benchmark_tool(tmp_path):
    tool = _tool('tools/benchmarks/mug_vs_mae_iteration.py')
    out = tmp_path / 'bench.json'
    result = tool.main([
        '--toy', '--batch', '2', '--iters', '1', '--warmup', '0', '--threads', '1', '--out',
        str(out)
    ])
    assert result['cpu_ratio'] > 0 and result['wall_ratio'] > 0
    assert len(result['cpu_s']['mug']) == len(result['cpu_s']['mae']) == 1
    assert json.loads(out.read_text())['batch'] == 2
    assert result['caption_length'] == Config.fromfile(str(TOY)).max_length


def _train(config, work_dir, *options):
    """``tools/train.py CONFIG`` with overrides; return its log."""
    cmd = [
        sys.executable, 'tools/train.py',
        str(config), '--work-dir',
        str(work_dir), '--cfg-options', *options
    ]
    result = subprocess.run(cmd, cwd=REPO, env=PY_ENV, capture_output=True, text=True, timeout=900)
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-3000:]
    return log


def test_linear_probe_and_upernet_train_from_the_encoder(trained, toy_scenes, tmp_path):
    """The toy chain's last step: a linear probe and a toy UperNet (mmseg ``MAE`` backbone, the
    encoder exported with ``--target mmseg-mae``) train from the MUG encoder and report top-1 /
    mIoU."""
    root = f'{toy_scenes}/'
    loaders = ('train_dataloader', 'val_dataloader', 'test_dataloader')
    data = [f'{name}.dataset.data_root={root}' for name in loaders]
    workers = [f'{name}.num_workers=0' for name in loaders]
    log = _train(BENCH / 'toy/vit-tiny-p16_1xb32-linear-coslr-toy_toyscenes.py', tmp_path / 'lin',
                 *data, *workers, f'model.backbone.init_cfg.checkpoint={trained}',
                 'train_cfg.max_epochs=1', 'train_cfg.val_interval=1')
    assert 'accuracy/top1' in log

    seg_cfg = BENCH / 'toy/upernet_mae-tiny_1xb4-toy_toyscenes.py'
    exported = tmp_path / 'mug_mmseg_mae.pth'
    subprocess.run([
        sys.executable, 'tools/model_converters/extract_weights.py',
        str(trained),
        str(exported), '--target', 'mmseg-mae', '--seg-config',
        str(seg_cfg)
    ],
                   cwd=REPO,
                   env=PY_ENV,
                   check=True,
                   capture_output=True)
    log = _train(seg_cfg, tmp_path / 'seg', *data, *workers,
                 f'model.backbone.init_cfg.checkpoint={exported}', 'train_cfg.max_iters=4',
                 'train_cfg.val_interval=4', 'default_hooks.checkpoint.interval=4')
    assert 'mIoU' in log
