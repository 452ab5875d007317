"""Tests of SoCoProposalDataset: image sources, proposal conversion and bad input."""
import json

import cv2
import numpy as np
import pytest

import mmvisrep  # noqa: F401
from mmvisrep.datasets import SoCoProposalDataset


def _write_images(root, names, size=(40, 60)):
    """Tiny images (h, w) = size under ``root``; returns their relative paths."""
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(path), np.full((*size, 3), 128, np.uint8))
    return names


def _write_json(path, obj):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj))
    return path


@pytest.fixture
def folder(tmp_path):
    _write_images(tmp_path / 'imgs', ['a/x1.png', 'a/x2.png', 'b/y1.jpg'])
    return tmp_path


def _info(dataset, basename):
    for i in range(len(dataset)):
        info = dataset.get_data_info(i)
        if info['img_path'].rsplit('/', 1)[-1].startswith(basename + '.'):
            return info
    raise KeyError(basename)


def test_folder_mode_conversion_and_ids(folder):
    props = {
        'x1': [[0, 0, 10, 10], [5, 5, 0, 3], [1, 1, 4, 4], [2, 2, 3, float('nan')]],
        'x2': [],
        'y1': [[3, 4, 5, 6, 0.9]],  # an extra score column is ignored
    }
    _write_json(folder / 'props.json', props)
    ds = SoCoProposalDataset(data_root=str(folder), data_prefix='imgs', proposal_file='props.json')
    assert len(ds) == 3
    x1 = _info(ds, 'x1')
    # x2 = x + w - 1; the zero-width and the NaN box are dropped, ids keep list positions.
    np.testing.assert_array_equal(x1['proposals'], [[0, 0, 9, 9], [1, 1, 4, 4]])
    np.testing.assert_array_equal(x1['proposal_ids'], [1, 3])
    assert x1['proposals'].dtype == np.float32 and x1['proposal_ids'].dtype == np.int64
    assert _info(ds, 'x2')['proposals'].shape == (0, 4)
    np.testing.assert_array_equal(_info(ds, 'y1')['proposals'], [[3, 4, 7, 9]])
    assert ds.proposal_stats['degenerate boxes dropped'] == 2
    assert ds.proposal_stats['images without proposals (whole image used)'] == 1
    assert ds.proposal_stats['proposals'] == 3


def test_coco_json_mode_clips_with_known_sizes(tmp_path):
    _write_images(tmp_path / 'train', ['001.jpg', '002.jpg'])
    _write_json(
        tmp_path / 'ann.json',
        dict(
            images=[
                dict(id=1, file_name='001.jpg', height=40, width=60),
                dict(id=2, file_name='002.jpg', height=40, width=60)
            ],
            annotations=[],
            categories=[]))
    # [50, 0, 59 + 10, 9] crosses the right edge; [70, 0, ...] is fully outside.
    _write_json(tmp_path / 'p.json', {
        '001': [[50, 0, 20, 10], [70, 0, 5, 5]],
        '002': [[1, 1, 2, 2]]
    })
    ds = SoCoProposalDataset(
        data_root=str(tmp_path), ann_file='ann.json', data_prefix='train', proposal_file='p.json')
    info = ds.get_data_info(0)
    np.testing.assert_array_equal(info['proposals'], [[50, 0, 59, 9]])
    np.testing.assert_array_equal(info['proposal_ids'], [1])
    assert ds.proposal_stats['boxes clipped to the image'] == 1
    assert ds.proposal_stats['boxes outside the image dropped'] == 1


def test_file_list_mode_with_optional_labels(folder):
    (folder / 'list.txt').write_text('a/x1.png 3\nb/y1.jpg\t7\n\na/x2.png\n')
    _write_json(folder / 'p.json', {'x1': [[0, 0, 5, 5]], 'x2': [], 'y1': []})
    ds = SoCoProposalDataset(
        data_root=str(folder), ann_file='list.txt', data_prefix='imgs', proposal_file='p.json')
    assert [ds.get_data_info(i)['img_path'][len(str(folder)) + 1:]
            for i in range(3)] == ['imgs/a/x1.png', 'imgs/b/y1.jpg', 'imgs/a/x2.png']
    assert 'gt_label' not in ds.get_data_info(0)


def test_official_key_rule_and_missing_keys(tmp_path):
    _write_images(tmp_path / 'i', ['n01.part.JPEG', 'n02.JPEG', 'n03.JPEG'])
    # 'n01' is the official key (split at the first dot); 'n03' is not in the file.
    _write_json(tmp_path / 'p.json', {'n01': [[0, 0, 4, 4]], 'n02': [[1, 1, 4, 4]]})
    ds = SoCoProposalDataset(data_root=str(tmp_path), data_prefix='i', proposal_file='p.json')
    assert len(_info(ds, 'n01')['proposals']) == 1
    assert _info(ds, 'n03')['proposals'].shape == (0, 4)
    assert ds.proposal_stats['images missing from the proposal file (whole image used)'] == 1
    with pytest.raises(KeyError, match=r"n03\.JPEG.*'n03'.*p\.json"):
        SoCoProposalDataset(
            data_root=str(tmp_path),
            data_prefix='i',
            proposal_file='p.json',
            missing_proposals='error')
    _write_json(tmp_path / 'other.json', {'zzz': [[0, 0, 4, 4]]})
    with pytest.raises(ValueError, match='none of the 3 images.*other.json'):
        SoCoProposalDataset(data_root=str(tmp_path), data_prefix='i', proposal_file='other.json')


def test_bad_proposal_files(folder):
    with pytest.raises(FileNotFoundError, match='proposal file .*nope.json'):
        SoCoProposalDataset(data_root=str(folder), data_prefix='imgs', proposal_file='nope.json')
    (folder / 'broken.json').write_text('{"x1": [[0, 0, 1')
    with pytest.raises(ValueError, match='broken.json is not valid json'):
        SoCoProposalDataset(data_root=str(folder), data_prefix='imgs', proposal_file='broken.json')
    _write_json(folder / 'list.json', [[0, 0, 1, 1]])
    with pytest.raises(ValueError, match='list.json must hold a dict'):
        SoCoProposalDataset(data_root=str(folder), data_prefix='imgs', proposal_file='list.json')
    _write_json(folder / 'short.json', {'x1': [[0, 0, 1]], 'x2': [], 'y1': []})
    with pytest.raises(ValueError, match=r"short.json record 'x1'.*\(1, 3\)"):
        SoCoProposalDataset(data_root=str(folder), data_prefix='imgs', proposal_file='short.json')
    _write_json(folder / 'ragged.json', {'x1': [[0, 0, 1, 1], [0, 1]], 'x2': [], 'y1': []})
    with pytest.raises(ValueError, match=r"ragged.json record 'x1'"):
        SoCoProposalDataset(data_root=str(folder), data_prefix='imgs', proposal_file='ragged.json')
    _write_json(folder / 'scalar.json', {'x1': 5, 'x2': [], 'y1': []})
    with pytest.raises(ValueError, match=r"scalar.json record 'x1': expected a list"):
        SoCoProposalDataset(data_root=str(folder), data_prefix='imgs', proposal_file='scalar.json')
    with pytest.raises(FileNotFoundError, match='ann_file .*missing.txt'):
        SoCoProposalDataset(
            data_root=str(folder),
            ann_file='missing.txt',
            data_prefix='imgs',
            proposal_file='scalar.json')
    _write_json(folder / 'notcoco.json', dict(annotations=[]))
    with pytest.raises(ValueError, match="notcoco.json is not a COCO json"):
        SoCoProposalDataset(
            data_root=str(folder),
            ann_file='notcoco.json',
            data_prefix='imgs',
            proposal_file='scalar.json')


def test_missing_image_names_record(folder):
    (folder / 'list.txt').write_text('a/x1.png\na/gone.png\n')
    _write_json(folder / 'p.json', {'x1': [[0, 0, 5, 5]], 'gone': [[0, 0, 5, 5]]})
    ds = SoCoProposalDataset(
        data_root=str(folder),
        ann_file='list.txt',
        data_prefix='imgs',
        proposal_file='p.json',
        pipeline=[dict(type='LoadImageFromFile')])
    assert ds[0]['img'].shape == (40, 60, 3)
    with pytest.raises(FileNotFoundError, match=r'record 1 \(gone\) not found: .*a/gone.png'):
        ds[1]


def test_empty_proposals_whole_image_through_views(folder):
    _write_json(folder / 'p.json', {'x1': [], 'x2': [[100, 100, 5, 5]], 'y1': [[0, 0, 30, 20]]})
    ds = SoCoProposalDataset(
        data_root=str(folder),
        data_prefix='imgs',
        proposal_file='p.json',
        pipeline=[
            dict(type='LoadImageFromFile'),
            dict(type='SoCoViews', variant='c4', view_sizes=(32, 32), flip_prob=0.),
            dict(type='PackInputs', algorithm_keys=['soco_boxes', 'soco_ids'])
        ])
    for i in range(len(ds)):
        name = ds.get_data_info(i)['img_path'].rsplit('/', 1)[-1]
        sample = ds[i]['data_samples']
        if name.startswith('x'):  # no proposal / only one outside the 60 x 40 image
            np.testing.assert_allclose(
                sample.soco_boxes[0, 0], np.tile([0, 0, 59 / 60, 39 / 40], (4, 1)), rtol=1e-6)
            np.testing.assert_array_equal(sample.soco_ids[0], np.ones((2, 4)))
        else:
            assert set(sample.soco_ids[0, 0].tolist()) == {1}
            np.testing.assert_allclose(
                sample.soco_boxes[0, 0, 0], [0, 0, 29 / 60, 19 / 40], rtol=1e-6)
