"""Let torch >= 2.6 ``weights_only`` loading accept mmengine checkpoints.

mmengine 0.10.7 calls ``torch.load`` without ``weights_only``; since torch 2.6 that means
``weights_only=True``, which rejects the message hub (``HistoryBuffer``), numpy meta and a few
other plain types a training checkpoint holds. We allow-list exactly those types instead of
switching the safety off (``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD``) for everyone.
"""
import collections
import logging

import numpy as np
import torch


def _checkpoint_globals() -> list:
    """Types that an mmengine/mmpretrain training checkpoint pickles besides tensors."""
    from mmengine.logging.history_buffer import HistoryBuffer

    types = [
        HistoryBuffer,
        np.ndarray,
        np.dtype,
        collections.OrderedDict,
        collections.defaultdict,
        logging.Logger,
    ]
    # numpy arrays unpickle through ``_reconstruct`` and concrete dtype classes
    # (``numpy.dtypes.Float64DType`` ...) in numpy >= 1.25.
    from numpy.core.multiarray import _reconstruct  # noqa: F401
    types.append(_reconstruct)
    try:
        from numpy._core.multiarray import _reconstruct as _reconstruct2
        types.append(_reconstruct2)
    except ImportError:  # numpy 1.x
        pass
    types.extend(type(np.dtype(name)) for name in (
        'bool', 'int8', 'int16', 'int32', 'int64', 'uint8', 'uint16', 'uint32', 'uint64',
        'float16', 'float32', 'float64', 'complex64', 'complex128', 'U', 'S', 'O'))
    # numpy scalars (e.g. np.float64 in message-hub runtime info)
    types.append(np.core.multiarray.scalar)
    return types


def register_checkpoint_safe_globals() -> None:
    """Allow-list mmengine checkpoint types for ``torch.load(weights_only=True)``."""
    add = getattr(torch.serialization, 'add_safe_globals', None)
    if add is None:  # torch < 2.4: weights_only is not the default there
        return
    add(_checkpoint_globals())
