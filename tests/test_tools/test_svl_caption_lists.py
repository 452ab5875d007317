"""tools/data/svl_caption_lists.py: Karpathy COCO / Flickr30k, Visual Genome and COCO-caption
sources -> JSONL lists (retrieval val/test images never included), skips counted, errors naming
file and record, the image lists and the pseudo-label check."""
import importlib.util
import json
from pathlib import Path

import pytest

from mmvisrep.datasets.pseudo_labels import write_pseudo_labels

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope='module')
def tool():
    spec = importlib.util.spec_from_file_location('svl_caption_lists',
                                                  REPO / 'tools/data/svl_caption_lists.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _dump(path, obj):
    path.write_text(json.dumps(obj))
    return str(path)


def _read(path):
    return [json.loads(line) for line in Path(path).read_text().splitlines()]


def _sent(*texts):
    return [dict(raw=t, tokens=t.split()) for t in texts]


def _karpathy_coco(tmp_path):
    images = [
        dict(
            filepath='train2014',
            filename='COCO_train2014_000000000009.jpg',
            cocoid=9,
            split='train',
            sentences=_sent('A plate  of food. ', '  ', 'Broccoli.')),
        dict(
            filepath='val2014',
            filename='COCO_val2014_000000000042.jpg',
            cocoid=42,
            split='restval',
            sentences=_sent('A dog on the left.')),
        dict(
            filepath='val2014',
            filename='COCO_val2014_000000000139.jpg',
            cocoid=139,
            split='restval',
            sentences=_sent('A living room.')),
        dict(
            filepath='val2014',
            filename='COCO_val2014_000000000077.jpg',
            cocoid=77,
            split='test',
            sentences=_sent('A test image caption.')),
        dict(
            filepath='val2014',
            filename='COCO_val2014_000000000088.jpg',
            cocoid=88,
            split='val',
            sentences=_sent('A val image caption.')),
    ]
    return _dump(tmp_path / 'dataset_coco.json', dict(images=images, dataset='coco'))


def _karpathy_flickr(tmp_path):
    images = [
        dict(filename='1000092795.jpg', split='train', sentences=_sent('Two men outside.')),
        dict(filename='2000.jpg', split='test', sentences=_sent('A test caption.')),
        dict(filename='3000.jpg', split='val', sentences=_sent('A val caption.')),
    ]
    return _dump(tmp_path / 'dataset_flickr30k.json', dict(images=images))


def test_coco_karpathy_2017_layout(tool, tmp_path):
    src = _karpathy_coco(tmp_path)
    val = _dump(tmp_path / 'captions_val2017.json', dict(images=[dict(id=139)], annotations=[]))
    out = str(tmp_path / 'meta/coco.jsonl')
    tool.main(['coco-karpathy', src, '--val2017-ann', val, '--out', out, '--no-progress'])
    assert _read(out) == [
        dict(image='train2017/000000000009.jpg', caption='A plate of food.', img_id='coco:9'),
        dict(image='train2017/000000000009.jpg', caption='Broccoli.', img_id='coco:9'),
        dict(image='train2017/000000000042.jpg', caption='A dog on the left.', img_id='coco:42'),
        dict(image='val2017/000000000139.jpg', caption='A living room.', img_id='coco:139'),
    ]
    assert Path(tmp_path / 'meta/coco.images.txt').read_text().split() == [
        'train2017/000000000009.jpg', 'train2017/000000000042.jpg', 'val2017/000000000139.jpg'
    ]
    out14 = str(tmp_path / 'coco14.jsonl')
    tool.main(['coco-karpathy', src, '--layout', '2014', '--out', out14, '--no-progress'])
    assert _read(out14)[0]['image'] == 'train2014/COCO_train2014_000000000009.jpg'
    # the list reads back through ImageTextFileDataset with the image root prefix
    from mmvisrep.datasets import ImageTextFileDataset
    ds = ImageTextFileDataset(out, data_root=str(tmp_path), data_prefix='coco/', index_cache=None)
    assert len(ds) == 4 and ds[3]['img_path'] == str(tmp_path / 'coco/val2017/000000000139.jpg')
    # errors name the file and the record
    with pytest.raises(SystemExit):
        tool.main(['coco-karpathy', src, '--out', out])  # 2017 layout needs --val2017-ann
    bad = _dump(tmp_path / 'bad.json', dict(images=[dict(split='train', sentences=[])]))
    with pytest.raises(ValueError, match=r'bad\.json images\[0\]: no integer "cocoid"'):
        list(tool.coco_karpathy_records(bad, tool.Skips(tool._logger()), layout='2014'))


def test_flickr_karpathy_train_only(tool, tmp_path):
    out = str(tmp_path / 'f.jsonl')
    tool.main(['flickr30k-karpathy', _karpathy_flickr(tmp_path), '--out', out, '--no-progress'])
    assert _read(out) == [
        dict(image='1000092795.jpg', caption='Two men outside.', img_id='flickr:1000092795')
    ]


def test_vg_regions_exclude_eval_images(tool, tmp_path):
    coco = _karpathy_coco(tmp_path)
    flickr = _karpathy_flickr(tmp_path)
    url = 'https://cs.stanford.edu/people/rak248/{}/{}.jpg'
    image_data = [
        dict(image_id=1, url=url.format('VG_100K', 1), coco_id=None, flickr_id=None),
        dict(image_id=2, url=url.format('VG_100K_2', 2), coco_id=77, flickr_id=None),  # test
        dict(image_id=3, url=url.format('VG_100K', 3), coco_id=9, flickr_id=None),  # train ok
        dict(image_id=4, url=url.format('VG_100K', 4), coco_id=None, flickr_id=2000),  # test
    ]

    def region(vid, phrase):
        return dict(region_id=0, image_id=vid, phrase=phrase, x=0, y=0, width=1, height=1)

    regions = [
        dict(
            id=1,
            regions=[
                region(1, 'a green clock'),
                region(1, 'A green clock.'),
                region(1, ' '),
                region(1, 'man  on a bike')
            ]),
        dict(id=2, regions=[region(2, 'excluded phrase')]),
        dict(id=3, regions=[region(3, 'broccoli on a plate')]),
        dict(id=4, regions=[region(4, 'flickr test phrase')]),
        dict(id=5, regions=[region(5, 'image not in image_data')]),
    ]
    src = _dump(tmp_path / 'region_descriptions.json', regions)
    meta = _dump(tmp_path / 'image_data.json', image_data)
    skips = tool.Skips(tool._logger())
    records = list(
        tool.vg_records(
            src,
            meta,
            skips,
            tool.karpathy_eval_coco_ids(coco),
            tool.karpathy_eval_flickr_ids(flickr),
            progress=False))
    assert records == [('VG_100K/1.jpg', 'a green clock', 'vg:1'),
                       ('VG_100K/1.jpg', 'man on a bike', 'vg:1'),
                       ('VG_100K/3.jpg', 'broccoli on a plate', 'vg:3')]
    assert skips.counts == {
        'repeated phrase of the image': 1,
        'empty caption': 1,
        'COCO Karpathy val/test image': 1,
        'Flickr30k Karpathy val/test image': 1,
        'image not in image_data.json': 1
    }
    out = str(tmp_path / 'vg.jsonl')
    tool.main([
        'vg', src, '--image-data', meta, '--coco-karpathy', coco, '--flickr-karpathy', flickr,
        '--out', out, '--keep-duplicates', '--no-progress'
    ])
    assert [r['caption'] for r in _read(out)
            ] == ['a green clock', 'A green clock.', 'man on a bike', 'broccoli on a plate']
    bad = _dump(tmp_path / 'bad_regions.json', [dict(id=1, regions='nope')])
    with pytest.raises(ValueError, match=r'bad_regions\.json \[0\]: image 1: no "regions" list'):
        list(tool.vg_records(bad, meta, skips, progress=False))


def test_coco_captions_and_check_labels(tool, tmp_path, capsys):
    caps = dict(
        images=[dict(id=1, file_name='a.jpg'),
                dict(id=77, file_name='b.jpg')],
        annotations=[
            dict(id=1, image_id=1, caption='One.'),
            dict(id=2, image_id=77, caption='Held out.'),
            dict(id=3, image_id=5, caption='No image.'),
            dict(id=4, image_id=1, caption=''),
        ])
    src = _dump(tmp_path / 'captions.json', caps)
    out = str(tmp_path / 'c.jsonl')
    tool.main([
        'coco-captions', src, '--out', out, '--img-prefix', 'train2017/',
        '--exclude-coco-karpathy',
        _karpathy_coco(tmp_path), '--no-progress'
    ])
    assert _read(out) == [dict(image='train2017/a.jpg', caption='One.', img_id='coco:1')]
    # pseudo-label check: complete -> fine; missing -> exit 2 naming the images
    info = dict(classes=['x'], score_thr=0.2, min_labels=0, max_labels=100)
    labels = str(tmp_path / 'pl.json')
    write_pseudo_labels(labels, info,
                        {'train2017/a.jpg': dict(labels=[0], scores=[1.], boxes=[[0, 0, 1, 1]])})
    tool.main(['check-labels', out, '--labels', labels])
    write_pseudo_labels(labels, info, {})
    with pytest.raises(SystemExit) as err:
        tool.main(['check-labels', out, '--labels', labels])
    assert err.value.code == 2
    assert '1 of the 1 images' in capsys.readouterr().err
    with pytest.raises(SystemExit):
        tool.main(['coco-captions', src, '--out', str(tmp_path / 'c.txt')])  # not .jsonl
