"""tools/data/coco_captions_to_karpathy.py: COCO captions -> the Karpathy split format read by
mmpretrain's Flickr30kRetrieval (the toy scenes' val captions, a subset, bad records), and that
dataset class reading Karpathy's own dataset_coco.json layout (test split from val2014)."""
import importlib.util
import json
from pathlib import Path

import pytest
from mmpretrain.datasets import Flickr30kRetrieval

from mmvisrep.datasets.karpathy_captions import caption_tokens, coco_captions_to_karpathy

REPO = Path(__file__).resolve().parents[2]


def _tool():
    spec = importlib.util.spec_from_file_location('coco_captions_to_karpathy',
                                                  REPO / 'tools/data/coco_captions_to_karpathy.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_toy_val_captions_convert_and_load(toy_scenes, tmp_path, capsys):
    src = toy_scenes / 'annotations/captions_val2017.json'
    coco = json.loads(src.read_text())
    out = tmp_path / 'karpathy_val2017.json'
    stats = _tool().main([str(src), str(out)])
    assert stats == dict(images=6, captions=30, images_without_captions=0)
    assert "split 'test', filepath 'val2017'" in capsys.readouterr().out
    karpathy = json.loads(out.read_text())
    assert karpathy['dataset'] == 'coco' and len(karpathy['images']) == 6
    first = karpathy['images'][0]
    assert first['filename'] == coco['images'][0]['file_name']
    assert first['cocoid'] == coco['images'][0]['id'] and first['filepath'] == 'val2017'
    own = [a['caption'] for a in coco['annotations'] if a['image_id'] == first['cocoid']]
    assert [s['raw'] for s in first['sentences']] == own
    assert first['sentids'] == [0, 1, 2, 3, 4] and karpathy['images'][1]['sentids'][0] == 5
    assert {s['imgid'] for s in karpathy['images'][5]['sentences']} == {5}

    dataset = Flickr30kRetrieval(
        data_root=str(toy_scenes),
        data_prefix='val2017',
        ann_file=str(out),
        split='test',
        test_mode=True)
    assert (len(dataset), dataset.img_size, dataset.text_size) == (6, 6, 30)
    info = dataset.get_data_info(2)
    assert info['image_id'] == 2 and info['gt_text_id'] == [10, 11, 12, 13, 14]
    assert Path(info['img_path']).is_file() and info['text'] == [
        s['raw'] for s in karpathy['images'][2]['sentences']
    ]
    # --max-images: the first N captioned images; another split name
    _tool().main([str(src), str(out), '--max-images', '5', '--split', 'val'])
    dataset = Flickr30kRetrieval(
        data_root=str(toy_scenes),
        data_prefix='val2017',
        ann_file=str(out),
        split='val',
        test_mode=True)
    assert (dataset.img_size, dataset.text_size) == (5, 25)


def test_karpathy_coco_layout_is_read_by_flickr30k_retrieval(tmp_path):
    """Karpathy's dataset_coco.json: the test split's images live in val2014 (the layout of
    configs/_base_/datasets/coco_retrieval_svl.py); other splits are skipped."""
    images = []
    layout = [('train', 'train2014', 9), ('test', 'val2014', 391895), ('restval', 'val2014', 42),
              ('test', 'val2014', 522418), ('val', 'val2014', 7)]
    for imgid, (split, folder, cocoid) in enumerate(layout):
        raws = [f'caption {k} of {cocoid}.' for k in range(5)]
        images.append(
            dict(
                filepath=folder,
                filename=f'COCO_{folder}_{cocoid:012d}.jpg',
                imgid=imgid,
                cocoid=cocoid,
                split=split,
                sentids=list(range(5 * imgid, 5 * imgid + 5)),
                sentences=[
                    dict(tokens=caption_tokens(r), raw=r, imgid=imgid, sentid=5 * imgid + k)
                    for k, r in enumerate(raws)
                ]))
    ann = tmp_path / 'annotations/dataset_coco.json'
    ann.parent.mkdir()
    ann.write_text(json.dumps(dict(images=images, dataset='coco')))
    dataset = Flickr30kRetrieval(
        data_root=str(tmp_path),
        data_prefix='val2014',
        ann_file='annotations/dataset_coco.json',
        split='test',
        test_mode=True,
        lazy_init=False)
    assert (dataset.img_size, dataset.text_size) == (2, 10)
    info = dataset.get_data_info(1)
    assert info['img_path'] == str(tmp_path / 'val2014/COCO_val2014_000000522418.jpg')
    # indices are renumbered within the split (what the metric compares), not Karpathy's ids
    assert info['image_id'] == 1 and info['gt_text_id'] == [5, 6, 7, 8, 9]
    assert info['text'][0] == 'caption 0 of 522418.'


def test_bad_input_is_reported(toy_scenes, tmp_path, capsys):
    good = json.loads((toy_scenes / 'annotations/captions_val2017.json').read_text())

    def convert(coco, **kwargs):
        return coco_captions_to_karpathy(coco, 'test', 'val2017', source='caps.json', **kwargs)

    bad = json.loads(json.dumps(good))
    bad['annotations'][3]['image_id'] = 999
    with pytest.raises(ValueError, match=r'caps.json: annotations\[3\] .* image_id 999'):
        convert(bad)
    bad = json.loads(json.dumps(good))
    bad['annotations'][7]['caption'] = '  '
    with pytest.raises(ValueError, match=r'annotations\[7\] \(id \d+\) has no caption text'):
        convert(bad)
    bad = json.loads(json.dumps(good))
    bad['images'].append(dict(bad['images'][0]))
    with pytest.raises(ValueError, match=r'images\[6\] repeats image id'):
        convert(bad)
    with pytest.raises(ValueError, match='not a COCO captions file'):
        convert(dict(images=[]))
    with pytest.raises(ValueError, match='split must be one of'):
        coco_captions_to_karpathy(good, 'testing', 'val2017')
    # images without captions are left out and counted, the rest keeps its numbering
    bare = json.loads(json.dumps(good))
    bare['images'].insert(1, dict(id=12345, file_name='bare.jpg'))
    karpathy, stats = convert(bare)
    assert stats == dict(images=6, captions=30, images_without_captions=1)
    assert [img['imgid'] for img in karpathy['images']] == list(range(6))
    assert caption_tokens("A man's Red-kite, flying.") == ["a", "man's", 'red', 'kite', 'flying']

    # the tool: one-line errors, exit status 2, nothing written
    src = tmp_path / 'captions_val2017.json'
    bad = json.loads(json.dumps(good))
    bad['annotations'][0]['caption'] = ''
    src.write_text(json.dumps(bad))
    out = tmp_path / 'out.json'
    (tmp_path / 'caps.json').write_text(json.dumps(good))  # a name without the image folder
    cases = [
        ([src, out], 'has no caption text'),
        ([tmp_path / 'missing.json', out], 'not found'),
        ([src, src], 'overwrite the input'),
        ([tmp_path / 'caps.json', out], 'pass --filepath'),
    ]
    for argv, message in cases:
        with pytest.raises(SystemExit) as exit_info:
            _tool().main([str(a) for a in argv])
        assert exit_info.value.code == 2
        assert message in capsys.readouterr().err
    assert not out.exists()
