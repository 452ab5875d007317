"""Atomic writers: all-or-nothing replacement and ordinary file permissions."""
import json
import os

import numpy as np
import pytest

from mmvisrep.utils.atomic_io import atomic_open, atomic_save_npy, atomic_write_json, load_json


def test_failed_write_keeps_the_previous_file(tmp_path):
    path = tmp_path / 'out.json'
    atomic_write_json({'a': 1}, str(path))
    with pytest.raises(RuntimeError):
        with atomic_open(str(path)) as f:
            f.write('{"a": 2')
            raise RuntimeError('killed mid-write')
    assert load_json(str(path)) == {'a': 1}
    assert os.listdir(tmp_path) == ['out.json']  # no temporary file left behind


def test_permissions_follow_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        atomic_write_json([1], str(tmp_path / 'a.json'))
        atomic_save_npy(np.arange(3), str(tmp_path / 'a.npy'))
    finally:
        os.umask(old)
    assert oct((tmp_path / 'a.json').stat().st_mode & 0o777) == oct(0o644)
    assert oct((tmp_path / 'a.npy').stat().st_mode & 0o777) == oct(0o644)
    assert np.load(tmp_path / 'a.npy').tolist() == [0, 1, 2]
    assert json.loads((tmp_path / 'a.json').read_text()) == [1]


def test_load_json_names_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match='proposal file not found: .*missing.json'):
        load_json(str(tmp_path / 'missing.json'), 'proposal file')
    (tmp_path / 'bad.json').write_text('{')
    with pytest.raises(ValueError, match='bad.json is not valid JSON'):
        load_json(str(tmp_path / 'bad.json'))
