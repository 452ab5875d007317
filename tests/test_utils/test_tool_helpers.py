"""Helpers shared by the offline tools: CLI options, run stamps, progress bars, image decoding."""
import cv2
import numpy as np
import pytest

from mmvisrep.correspondence.data import ImageReadError, load_rgb
from mmvisrep.correspondence.store import ChunkStore, plan_shard
from mmvisrep.proposals.runner import load_image
from mmvisrep.proposals.selective_search import ProposalError
from mmvisrep.utils.cli import (SHARD_HELP, add_chunk_size_arg, add_device_progress_args,
                                add_shard_arg, run_subcommand, subcommand_parser)
from mmvisrep.utils.image_io import read_rgb
from mmvisrep.utils.resume import meta_mismatch, progress_bar


def test_meta_mismatch_names_the_first_differing_key():
    expected = dict(version=1, crop=224, chunk=3)
    assert meta_mismatch(dict(expected, extra='ignored'), expected) is None
    assert meta_mismatch(dict(version=1, crop=96, chunk=4), expected) == 'crop: 96 there, 224 now'
    assert meta_mismatch({}, dict(name='a')) == "name: None there, 'a' now"


def test_progress_bar_starts_at_the_resumed_count():
    bar = progress_bar(10, 'x', progress=True, initial=4)
    assert (bar.total, bar.n, bar.desc, bar.unit, bar.disable) == (10, 4, 'x', 'img', False)
    bar.update(6)
    assert bar.n == 10
    bar.close()
    assert progress_bar(10, 'x', progress=False).disable


def test_plan_shard_counts_and_overwrite(tmp_path):
    store = ChunkStore(str(tmp_path), dict(kind='t'), num_items=10, chunk_size=3)  # 4 chunks
    todo, items, summary = plan_shard(store, 1, 2)  # chunks 2, 3 -> items 6..9
    assert todo == [2, 3] and items == [6, 7, 8, 9]
    assert summary == dict(shard='1/2', images=4, chunks=2, computed=4, resumed=0, seconds=0.0)
    store.save(2, dict(n=3))
    todo, items, summary = plan_shard(store, 1, 2)
    assert todo == [3] and items == [9] and (summary['computed'], summary['resumed']) == (1, 3)
    todo, items, summary = plan_shard(store, 1, 2, overwrite=True)
    assert todo == [2, 3] and summary['resumed'] == 0 and store.load(2) is None


def test_read_rgb_decodes_and_names_bad_files(tmp_path):
    bgr = np.zeros((4, 6, 3), np.uint8)
    bgr[..., 2] = 255  # red in OpenCV's BGR
    path = str(tmp_path / 'red.png')
    cv2.imwrite(path, bgr)
    img = read_rgb(path)
    assert img.shape == (4, 6, 3) and img[0, 0].tolist() == [255, 0, 0]
    assert np.array_equal(load_rgb(path), img) and np.array_equal(load_image(path), img)
    broken = tmp_path / 'broken.jpg'
    broken.write_bytes(b'not an image')
    with pytest.raises(ImageReadError, match='cannot decode image .*broken.jpg'):
        load_rgb(str(broken))
    with pytest.raises(ProposalError, match='image file not found: .*missing.jpg'):
        load_image(str(tmp_path / 'missing.jpg'))
    with pytest.raises(RuntimeError, match='image file not found'):
        read_rgb(str(tmp_path / 'missing.jpg'))


def _parser():
    parser, sub = subcommand_parser('Tool.', epilog='see docs')
    run = sub.add_parser('run')
    add_shard_arg(run)
    add_chunk_size_arg(run, default=64)
    add_chunk_size_arg(sub.add_parser('other'), default=8, help='custom (%(default)s)')
    add_device_progress_args(run)
    return parser, sub


def test_shared_options_parse_and_document():
    parser, sub = _parser()
    args = parser.parse_args(['run', '--shard', '1/4', '--device', 'cpu', '--no-progress'])
    assert (args.command, args.shard, args.chunk_size, args.device, args.no_progress) == \
        ('run', '1/4', 64, 'cpu', True)
    assert parser.parse_args(['other']).chunk_size == 8
    helps = {a.dest: a.help for a in sub.choices['run']._actions}
    assert helps['shard'] == SHARD_HELP
    text = ' '.join(sub.choices['run'].format_help().split())
    assert 'images per resume point (must be the same for all shards; default: 64)' in text
    assert 'custom (8)' in ' '.join(sub.choices['other'].format_help().split())
    with pytest.raises(SystemExit):
        parser.parse_args([])  # a subcommand is required


def test_run_subcommand_reports_errors_like_argparse(capsys):
    parser, _ = _parser()
    args = parser.parse_args(['run'])
    run_subcommand(parser, args, dict(run=lambda a: print('ran')))
    assert capsys.readouterr().out.startswith('ran\nDone in ')

    def fail(exc):

        def command(a):
            raise exc

        return dict(run=command)

    with pytest.raises(SystemExit) as info:
        run_subcommand(parser, args, fail(KeyError('no such key')))
    assert info.value.code == 2
    assert capsys.readouterr().err == f'{parser.prog} run: error: no such key\n'
    with pytest.raises(SystemExit):
        run_subcommand(parser, args, fail(ImportError('x')), errors=(ImportError, ))
    assert 'run: error: x' in capsys.readouterr().err
    with pytest.raises(RuntimeError):  # not one of the expected errors: a traceback
        run_subcommand(parser, args, fail(RuntimeError('boom')))
