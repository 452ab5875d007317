"""Sharded, resumable proposal runner: partition, resume, merge, failures, input errors, CLI."""
import importlib.util
import json
import os
import os.path as osp
import shutil

import numpy as np
import pytest

from mmvisrep.proposals import list_images, merge_shards, resolve_shard, run_shard
from mmvisrep.proposals import runner as runner_mod
from mmvisrep.proposals import shard_bounds
from mmvisrep.proposals.io import chunk_dir, chunk_path, shard_path

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


@pytest.fixture(scope='module')
def images(toy_scenes, tmp_path_factory):
    """6 readable val toy scenes plus one corrupt and one missing image, as (key, path)."""
    pairs = list_images(osp.join(toy_scenes, 'val2017'))
    bad_dir = tmp_path_factory.mktemp('bad')
    corrupt = bad_dir / 'corrupt.jpg'
    corrupt.write_bytes(b'\xff\xd8\xff\xe0 this is not a jpeg')
    return sorted(pairs + [('corrupt', str(corrupt)), ('missing', str(bad_dir / 'missing.jpg'))])


@pytest.fixture
def counter(monkeypatch):
    """Count compute_proposals calls (inline runs, workers=1) and optionally fail after N."""
    calls = []
    state = dict(fail_after=None)
    real = runner_mod.compute_proposals

    def counting(path, params):
        if state['fail_after'] is not None and len(calls) >= state['fail_after']:
            raise KeyboardInterrupt('simulated kill')
        calls.append(path)
        return real(path, params)

    monkeypatch.setattr(runner_mod, 'compute_proposals', counting)
    return calls, state


def _final(out_dir):
    return json.load(open(osp.join(out_dir, 'train_ratio3size0308post.json')))


def test_shards_partition_the_images_exactly():
    for n in (1, 7, 10, 101):
        for count in (1, 2, 3, 8, 16):
            ranges = [range(*shard_bounds(n, i, count)) for i in range(count)]
            flat = [j for r in ranges for j in r]
            assert flat == list(range(n))  # union = all, disjoint, in order
            sizes = [len(r) for r in ranges]
            assert max(sizes) - min(sizes) <= 1


def test_resolve_shard_from_arguments_and_environment():
    assert resolve_shard('2/5', {}) == (2, 5, '--shard')
    assert resolve_shard(None, {}) == (0, 1, 'single shard')
    assert resolve_shard(None, dict(RANK='3', WORLD_SIZE='4'))[:2] == (3, 4)
    assert resolve_shard(None, dict(SLURM_PROCID='1', SLURM_NTASKS='2'))[:2] == (1, 2)
    env = dict(SLURM_ARRAY_TASK_ID='5', SLURM_ARRAY_TASK_COUNT='4', SLURM_ARRAY_TASK_MIN='3')
    assert resolve_shard(None, env)[:2] == (2, 4)
    env.update(SLURM_PROCID='1', SLURM_NTASKS='2')  # array x tasks
    assert resolve_shard(None, env)[:2] == (5, 8)
    # torchrun wins over slurm, --shard over everything.
    assert resolve_shard(None, dict(env, RANK='0', WORLD_SIZE='3'))[:2] == (0, 3)
    assert resolve_shard('1/2', dict(env, RANK='0', WORLD_SIZE='3'))[:2] == (1, 2)
    for bad in ('3/3', '1', 'a/b', '-1/2'):
        with pytest.raises(ValueError, match='--shard'):
            resolve_shard(bad, {})


def test_single_run_resume_and_failures(images, tmp_path, counter):
    calls, state = counter
    out = str(tmp_path)
    summary = run_shard(images, out, chunk_size=3, progress=False)
    assert len(calls) == 8 and summary['computed'] == 8
    # Unreadable images do not stop the run; they are listed with their error.
    assert summary['failed'] == 2
    data = json.load(open(shard_path(out, 0, 1)))
    assert sorted(data['failures']) == ['corrupt', 'missing']
    assert 'not found' in data['failures']['missing']['error']
    assert 'corrupt.jpg' in data['failures']['corrupt']['error']
    assert len(data['images']) == 6 and not osp.exists(chunk_dir(out, 0, 1))
    mtime = os.stat(shard_path(out, 0, 1)).st_mtime_ns
    # Second run: nothing recomputed, file untouched.
    summary = run_shard(images, out, chunk_size=3, progress=False)
    assert summary['skipped'] and len(calls) == 8
    assert os.stat(shard_path(out, 0, 1)).st_mtime_ns == mtime

    result = merge_shards(out)
    stats = result['stats']
    assert stats['images'] == 6 and stats['images_failed'] == 2
    assert sum(stats['images_by_rule'].values()) + stats['images_empty'] == 6
    failures = json.load(open(osp.join(out, 'train_ss_failures.json')))
    assert sorted(failures) == ['corrupt', 'missing']
    assert len(open(osp.join(out, 'train_ss_failures.txt')).readlines()) == 2
    raw = json.load(open(osp.join(out, 'train_ss_raw.json')))
    sizes = json.load(open(osp.join(out, 'train_ss_sizes.json')))
    assert sorted(raw) == sorted(sizes) == sorted(data['images'])
    assert all(v == [128, 128] for v in sizes.values())
    final = _final(out)
    # Filtered boxes are a subset of the raw ones and obey the strict or a fallback rule.
    for key, boxes in final.items():
        assert all(b in raw[key] for b in boxes)
        assert all(b[2] >= 32 and b[3] >= 32 for b in boxes)


def test_killed_shard_resumes_from_its_last_chunk(images, tmp_path, counter):
    calls, state = counter
    out = str(tmp_path)
    state['fail_after'] = 4  # dies inside the second chunk of 3 images
    with pytest.raises(KeyboardInterrupt):
        run_shard(images, out, 0, 1, chunk_size=3, progress=False)
    assert osp.isfile(chunk_path(out, 0, 1, 0)) and not osp.exists(chunk_path(out, 0, 1, 1))
    assert not osp.exists(shard_path(out, 0, 1))
    # No temporary files are left behind by the atomic writes.
    assert [f for f in os.listdir(chunk_dir(out, 0, 1)) if f.endswith('.tmp')] == []
    state['fail_after'] = None
    done_before = list(calls)
    summary = run_shard(images, out, 0, 1, chunk_size=3, progress=False)
    assert summary['resumed'] == 3 and summary['computed'] == 5
    assert calls[len(done_before):] == [p for _, p in images[3:]]
    # Same result as an uninterrupted run.
    merge_shards(out)
    ref = str(tmp_path / 'ref')
    run_shard(images, ref, chunk_size=100, progress=False)
    merge_shards(ref)
    assert _final(out) == _final(ref)


def test_resume_refuses_other_parameters(images, tmp_path):
    out = str(tmp_path)
    run_shard(images[:2], out, progress=False)
    params = runner_mod.make_params(min_size=50)
    with pytest.raises(ValueError, match='different run'):
        run_shard(images[:2], out, params=params, progress=False)
    # --overwrite recomputes.
    assert run_shard(
        images[:2], out, params=params, overwrite=True, progress=False)['computed'] == 2


def test_sharded_merge_equals_single_run(images, tmp_path):
    single, sharded = str(tmp_path / 'single'), str(tmp_path / 'sharded')
    run_shard(images, single, progress=False)
    merge_shards(single)
    run_shard(images, sharded, 0, 3, progress=False)
    run_shard(images, sharded, 2, 3, workers=2, progress=False)  # a pool of 2 processes
    with pytest.raises(FileNotFoundError, match=r'1 of 3 shards.*shard-00001-of-00003'):
        merge_shards(sharded)
    run_shard(images, sharded, 1, 3, progress=False)
    merge_shards(sharded)
    for name in ('train_ratio3size0308post.json', 'train_ratio3size0308.json', 'train_ss_raw.json',
                 'train_ss_sizes.json', 'train_ss_failures.json',
                 'train_ratio3size0308postno_props_images.txt'):
        assert open(osp.join(single, name)).read() == open(osp.join(sharded, name)).read()
    a = json.load(open(osp.join(single, 'train_ratio3size0308post_stats.json')))
    b = json.load(open(osp.join(sharded, 'train_ratio3size0308post_stats.json')))
    assert b.pop('num_shards') == 3 and a.pop('num_shards') == 1 and a == b


def test_missing_inputs_are_named(tmp_path, toy_scenes):
    with pytest.raises(FileNotFoundError, match='nowhere/dir'):
        list_images(str(tmp_path / 'nowhere' / 'dir'))
    with pytest.raises(FileNotFoundError, match='instances_x.json'):
        list_images(ann_file=str(tmp_path / 'instances_x.json'))
    with pytest.raises(FileNotFoundError, match='list.txt'):
        list_images(file_list=str(tmp_path / 'list.txt'))
    bad = tmp_path / 'bad.json'
    bad.write_text(json.dumps({'images': [{'id': 1}]}))
    with pytest.raises(ValueError, match=r'bad.json: images\[0\] has no file_name'):
        list_images(ann_file=str(bad))
    # Two files with the same basename cannot share one key.
    for sub in ('a', 'b'):
        os.makedirs(tmp_path / 'dup' / sub)
        shutil.copy(
            osp.join(toy_scenes, 'val2017', '000000000013.jpg'), tmp_path / 'dup' / sub / 'x.jpg')
    with pytest.raises(ValueError, match="share the key 'x'"):
        list_images(str(tmp_path / 'dup'))
    with pytest.raises(FileNotFoundError, match='no finished shard files'):
        merge_shards(str(tmp_path))


def test_three_image_sources_agree(toy_scenes, tmp_path):
    img_dir = osp.join(toy_scenes, 'val2017')
    from_dir = list_images(img_dir)
    from_coco = list_images(
        img_dir, ann_file=osp.join(toy_scenes, 'annotations', 'instances_val2017.json'))
    lst = tmp_path / 'train_map.txt'
    lst.write_text(''.join(f'{osp.basename(p)}\t{i}\n' for i, (_, p) in enumerate(from_dir)))
    assert from_dir == from_coco == list_images(img_dir, file_list=str(lst))
    lst.write_text(''.join(f'{p} 3\n' for _, p in from_dir))  # mmpretrain "path label"
    assert list_images(file_list=str(lst)) == from_dir


def _tool():
    path = osp.join(REPO, 'tools', 'data', 'selective_search.py')
    spec = importlib.util.spec_from_file_location('selective_search_tool', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cli_generate_merge_filter(toy_scenes, tmp_path, capsys, monkeypatch):
    tool = _tool()
    out = str(tmp_path / 'out')
    ann = osp.join(toy_scenes, 'annotations', 'instances_val2017.json')
    monkeypatch.setenv('RANK', '0')
    monkeypatch.setenv('WORLD_SIZE', '2')
    base = [
        'generate', '--ann-file', ann, '--img-dir',
        osp.join(toy_scenes, 'val2017'), '--out-dir', out, '--no-progress', '--chunk-size', '2'
    ]
    tool.main(base)
    assert 'Not merging yet' in capsys.readouterr().out
    tool.main(base + ['--shard', '1/2'])
    text = capsys.readouterr().out
    assert 'shard 1/2 (from --shard)' in text and 'Filter ratio3size0308post: 6 images' in text
    final = _final(out)
    assert len(final) == 6 and all(isinstance(v, list) for v in final.values())
    tool.main(['filter', osp.join(out, 'train_ss_raw.json'), '--filter', 'nonepost'])
    assert 'images per rule: none: ' in capsys.readouterr().out
    kept = json.load(open(osp.join(out, 'train_none.json')))
    assert all(np.all(np.array(v)[:, 2:] >= 32) for v in kept.values() if v)
    with pytest.raises(SystemExit) as err:
        tool.main(['generate', '--img-dir', str(tmp_path / 'absent'), '--out-dir', out])
    assert err.value.code == 2
    assert f'image directory not found: {tmp_path / "absent"}' in capsys.readouterr().err


def test_orl_layout_keeps_the_json_order_and_failed_places(toy_scenes, tmp_path, capsys):
    """--preset orl: {"bbox": [boxes per image]} in the COCO json's image order (here reversed,
    with a missing image in the middle that keeps its place as []); shards, a pool, resume and
    merge give the same file, and each entry equals OpenCV's fast mode on that image."""
    from mmvisrep.proposals import selective_search_opencv_preset
    from mmvisrep.proposals.runner import load_image
    tool = _tool()
    ann = json.load(open(osp.join(toy_scenes, 'annotations', 'instances_val2017.json')))
    images = ann['images'][::-1]
    images.insert(3, dict(id=999, file_name='absent.jpg', width=128, height=128))
    ann_file = tmp_path / 'instances_val2017.json'
    ann_file.write_text(json.dumps(dict(images=images, annotations=[], categories=[])))
    img_dir = osp.join(toy_scenes, 'val2017')
    base = [
        'generate', '--preset', 'orl', '--ann-file',
        str(ann_file), '--img-dir', img_dir, '--no-progress', '--chunk-size', '2'
    ]
    sharded, single = str(tmp_path / 'sharded'), str(tmp_path / 'single')
    tool.main(base + ['--out-dir', sharded, '--shard', '0/2'])
    tool.main(base + ['--out-dir', sharded, '--shard', '1/2'])
    assert 'ORL proposals: 7 images' in capsys.readouterr().out
    tool.main(base + ['--out-dir', single, '--workers', '2'])
    name = 'train2017_selective_search_proposal.json'
    text = open(osp.join(sharded, name)).read()
    assert text == open(osp.join(single, name)).read()
    data = json.loads(text)
    assert list(data) == ['bbox'] and len(data['bbox']) == 7
    for record, boxes in zip(images, data['bbox']):
        if record['id'] == 999:
            assert boxes == []
            continue
        img = load_image(osp.join(img_dir, record['file_name']))
        assert boxes == selective_search_opencv_preset(img, 'fast', seed=0).tolist()
        assert len(boxes) > 10 and all(len(b) == 4 for b in boxes)
    failures = json.load(open(osp.join(sharded, 'train2017_ss_failures.json')))
    assert list(failures) == ['absent']
    stats = json.load(open(osp.join(sharded, 'train2017_selective_search_proposal_stats.json')))
    assert stats['images'] == 7 and stats['images_failed'] == 1
    assert stats['boxes'] == sum(map(len, data['bbox']))
    assert stats['params'] == dict(
        backend='opencv', method='fast', base_k=150, inc_k=150, sigma=0.8, seed=0)
    assert not osp.exists(osp.join(sharded, 'train2017_ss_raw.json'))
    # Rerun: the finished shard is skipped; merge alone rewrites the same file.
    tool.main(base + ['--out-dir', sharded, '--shard', '1/2'])
    assert 'already finished' in capsys.readouterr().out
    os.unlink(osp.join(sharded, name))
    tool.main(['merge', '--out-dir', sharded])
    assert open(osp.join(sharded, name)).read() == text
    # Options that contradict the preset stop with a clear error.
    for extra, message in ((['--backend', 'numba'], 'drop --backend numba'),
                           (['--filter',
                             'none'], 'drop --filter'), (['--neighbours',
                                                          'bbox'], 'neighbours do(es) not apply')):
        with pytest.raises(SystemExit):
            tool.main(base + ['--out-dir', str(tmp_path / 'x')] + extra)
        assert message in capsys.readouterr().err
