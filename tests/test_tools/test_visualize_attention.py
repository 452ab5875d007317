"""tools/analysis_tools/visualize_attention.py on the toy LocTex config with a random model: one
PNG per record with [attention | trace] rows, and the saved maps equal the model's attention and
the pipeline's trace maps."""
import importlib.util
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import default_collate
from mmengine.registry import init_default_scope

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / 'configs/loctex/loctex_resnet18_1xb16-toy-10e_toyscenes.py'
TOOL = REPO / 'tools/analysis_tools/visualize_attention.py'


def _tool():
    spec = importlib.util.spec_from_file_location('_visualize_attention', TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def random_checkpoint(tmp_path_factory):
    """A randomly initialised toy LocTex model saved as a training checkpoint."""
    from mmpretrain.registry import MODELS

    import mmvisrep  # noqa: F401
    init_default_scope('mmpretrain')
    cfg = Config.fromfile(str(CONFIG))
    cfg.model.data_preprocessor = cfg.data_preprocessor
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    path = tmp_path_factory.mktemp('ckpt') / 'loctex_random.pth'
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, path)
    return path


def test_visualize_attention_writes_figures_and_exact_maps(toy_scenes, random_checkpoint, tmp_path,
                                                           monkeypatch):
    monkeypatch.chdir(REPO)  # the toy tokenizer path is relative to the repository
    tool = _tool()
    out = tmp_path / 'vis'
    common = [
        str(CONFIG),
        str(random_checkpoint),
        '--data-root',
        f'{toy_scenes}/',
        '--out-dir',
        str(out),
        '--panel-size',
        '96',
        '--cfg-options',
        f'val_dataset_coco.index_cache={tmp_path}'  # the fixture stays read-only
    ]
    done = tool.main(common + ['--indices', '0', '3', '--save-arrays', '--max-utterances', '3'])
    assert [d['index'] for d in done] == [0, 3]

    # the maps in the npz are the model's attention and the pipeline's traces
    args = tool.parse_args(common)
    cfg = Config.fromfile(str(CONFIG))
    cfg.val_dataset_coco.index_cache = str(tmp_path)
    dataset = tool.build_dataset(cfg, None, f'{toy_scenes}/')
    model = tool.build_model(cfg, str(random_checkpoint), 'cpu')
    assert args.min_utterances == 1
    for result in done:
        png = cv2.imread(str(out / result['file']))
        rows = result['utterances']
        assert 1 <= rows <= 3
        # caption band, image, column titles, then a label band and a panel row per utterance
        assert png.shape == (22 + 96 + 22 + rows * (22 + 96), 2 * 96 + 4, 3)
        arrays = np.load(str(out / result['file'].replace('.png', '.npz')))
        sample = dataset[result['index']]
        data = model.data_preprocessor(default_collate([sample]), training=False)
        expected = model.attention_maps(data['inputs'], data['data_samples'])[0].numpy()
        np.testing.assert_allclose(arrays['attention'], expected, rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(arrays['attention'].sum((1, 2)), 1, rtol=1e-5)
        np.testing.assert_array_equal(arrays['trace'], sample['data_samples'].trace_maps.numpy())
        valid = sample['data_samples'].utterance_valid.numpy()
        np.testing.assert_array_equal(arrays['shown'], np.nonzero(valid)[0][:3])
        assert arrays['attention'].shape[1:] == (3, 3)  # C5 of a ResNet-18 at 96 px
        assert list(arrays['utterances']) == list(sample['data_samples'].utterances)

    # --min-utterances skips records: nothing qualifies with an impossible threshold
    assert tool.main(common + ['--num', '2', '--min-utterances', '1000']) == []
    # random picks: two records, reproducible for a seed
    shuffled = common + ['--num', '2', '--shuffle', '--seed', '3']
    picks = [d['index'] for d in tool.main(shuffled)]
    assert len(set(picks)) == 2 and picks == [d['index'] for d in tool.main(shuffled)]
    with pytest.raises(IndexError, match='out of range'):
        tool.main(common + ['--indices', '999'])


def test_visualize_attention_refuses_a_contrastive_only_model(toy_scenes, random_checkpoint,
                                                              tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    tool = _tool()
    with pytest.raises(ValueError, match='no attention branch'):
        tool.main([
            str(REPO / 'configs/loctex/loctex-contrastive_resnet18_1xb16-toy-10e_toyscenes.py'),
            str(random_checkpoint), '--data-root', f'{toy_scenes}/', '--out-dir',
            str(tmp_path), '--cfg-options', f'val_dataset_coco.index_cache={tmp_path}'
        ])
