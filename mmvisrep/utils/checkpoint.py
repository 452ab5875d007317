"""Let torch >= 2.6 ``weights_only`` loading accept mmengine checkpoints.

mmengine 0.10.7 calls ``torch.load`` without ``weights_only``; since torch 2.6 that means
``weights_only=True``, which rejects the message hub (``HistoryBuffer``) and the numpy values a
training checkpoint holds. We allow-list exactly those types instead of switching the safety
off (``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD``) for everyone.
"""
import collections
import pickle

import numpy as np
import torch
from mmengine.logging.history_buffer import HistoryBuffer

# ``HistoryBuffer.__getstate__`` pickles its statistics methods as
# ``getattr(HistoryBuffer, 'mean')`` and so on; these are the only attributes we resolve.
_HISTORY_BUFFER_METHODS = frozenset(('min', 'max', 'current', 'mean'))


def _history_buffer_getattr(obj, name):
    """A ``getattr`` that only resolves HistoryBuffer's statistics methods.

    Allow-listing the builtin ``getattr`` would let a malicious pickle walk to any object;
    this stand-in refuses everything a mmengine checkpoint does not need.
    """
    if obj is HistoryBuffer and name in _HISTORY_BUFFER_METHODS:
        return getattr(obj, name)
    raise pickle.UnpicklingError(
        f'refusing getattr({obj!r}, {name!r}) while loading with weights_only=True: '
        'mmvisrep only allows HistoryBuffer statistics methods')


def _numpy_globals() -> list:
    """numpy arrays, scalars and dtypes as pickled by numpy 1.x and 2.x."""
    types = [np.ndarray, np.dtype]
    types.extend(type(np.dtype(code)) for code in np.typecodes['All'] + 'OUS')
    for module in ('numpy._core.multiarray', 'numpy.core.multiarray'):
        try:
            multiarray = __import__(module, fromlist=['_reconstruct', 'scalar'])
        except ImportError:
            continue
        # pickles name the module they were written with: register both spellings
        types.append((multiarray._reconstruct, f'{module}._reconstruct'))
        types.append((multiarray.scalar, f'{module}.scalar'))
    return types


def checkpoint_safe_globals() -> list:
    """Everything besides tensors that mmengine/mmpretrain training checkpoints pickle."""
    return [
        HistoryBuffer,
        collections.OrderedDict,
        collections.defaultdict,
        (_history_buffer_getattr, '__builtin__.getattr'),
        (_history_buffer_getattr, 'builtins.getattr'),
        *_numpy_globals(),
    ]


def register_checkpoint_safe_globals() -> None:
    """Allow-list mmengine checkpoint types for ``torch.load(weights_only=True)``."""
    add = getattr(torch.serialization, 'add_safe_globals', None)
    if add is None:  # torch < 2.4: weights_only is not the default there
        return
    add(checkpoint_safe_globals())
