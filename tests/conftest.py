"""Shared pytest fixtures of the mmvisrep test suite."""
from pathlib import Path

import pytest

# Parameters of the shared toy-scene set: 12 train + 6 val images of 128 px, seed 0.
TOY_SCENES_ARGS = dict(num_train=12, num_val=6, img_size=128, seed=0)


@pytest.fixture(scope='session')
def toy_scenes(tmp_path_factory) -> Path:
    """Root of a small generated toy-scene set in the COCO layout, built once per session.

    Layout: ``train2017/``, ``val2017/``, ``annotations/``, ``stuffthingmaps/``, ``meta/``
    (see docs/toy_scenes.md). Tests must treat it as read-only.
    """
    from mmvisrep.datasets.toy_scenes import generate_toy_scenes
    return generate_toy_scenes(tmp_path_factory.mktemp('toy_scenes') / 'coco', **TOY_SCENES_ARGS)
