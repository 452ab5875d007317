"""The weights_only allow-list accepts mmengine checkpoints and nothing else."""
import collections
import pickle

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer, MessageHub

import mmvisrep  # noqa: F401


class _Arbitrary:
    """A class nobody allow-listed: weights_only loading must still refuse it."""

    def __init__(self, value):
        self.value = value


def test_message_hub_and_numpy_meta_load_weights_only(tmp_path):
    hub = MessageHub.get_instance('test_allowlist')
    hub.update_scalar('train/loss', 1.5)
    hub.update_scalar('train/loss', 0.5)
    hub.update_info('max_iters', np.int64(7))
    ckpt = dict(
        meta=dict(epoch=1, seed=np.int64(3), hist=np.arange(4, dtype=np.float32)),
        message_hub=hub.state_dict(),
        state_dict=collections.OrderedDict(w=torch.ones(2)))
    path = tmp_path / 'ckpt.pth'
    torch.save(ckpt, path)
    loaded = torch.load(path, map_location='cpu')  # torch >= 2.6 default: weights_only=True
    buffer = loaded['message_hub']['log_scalars']['train/loss']
    assert isinstance(buffer, HistoryBuffer)
    assert buffer.mean() == pytest.approx(1.0)
    assert loaded['meta']['seed'] == 3
    np.testing.assert_array_equal(loaded['meta']['hist'], np.arange(4, dtype=np.float32))
    assert torch.equal(loaded['state_dict']['w'], torch.ones(2))


def test_unknown_types_still_refused(tmp_path):
    path = tmp_path / 'evil.pth'
    torch.save({'x': _Arbitrary(1)}, path)
    with pytest.raises(pickle.UnpicklingError, match='Weights only load failed'):
        torch.load(path, map_location='cpu')
    assert torch.load(path, map_location='cpu', weights_only=False)['x'].value == 1


def test_getattr_restricted_to_history_buffer_methods(tmp_path):
    """Pickles may resolve HistoryBuffer.mean, but not an arbitrary attribute via getattr."""

    class _Evil:

        def __reduce__(self):
            return getattr, (HistoryBuffer, '__init__')

    path = tmp_path / 'getattr.pth'
    torch.save({'x': _Evil()}, path)
    with pytest.raises(pickle.UnpicklingError, match='refusing getattr'):
        torch.load(path, map_location='cpu')
