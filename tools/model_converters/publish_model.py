"""Slim a training checkpoint for release: keep ``state_dict`` and a plain ``meta``.

Drops optimizer, scheduler and message-hub state, then renames the file to
``<OUT stem>_<YYYYMMDD>-<sha256[:8]>.pth`` like mmpretrain's publish_model.py.
"""
import argparse

import mmvisrep  # noqa: F401  (allow-lists mmengine checkpoint types for torch.load)
from mmvisrep.utils.weight_conversion import publish_checkpoint


def parse_args(argv=None):
    """Parse the command line."""
    parser = argparse.ArgumentParser(description='Publish a checkpoint (drop training state, '
                                     'add a sha256 suffix)')
    parser.add_argument('in_file', help='input training checkpoint')
    parser.add_argument('out_file', help='output file name; the date and hash are appended')
    return parser.parse_args(argv)


def main(argv=None):
    """Publish and print the final path."""
    args = parse_args(argv)
    try:
        final = publish_checkpoint(args.in_file, args.out_file)
    except (OSError, ValueError, TypeError, RuntimeError) as err:
        raise SystemExit(f'publish_model: error: {err}')
    print(final)
    return final


if __name__ == '__main__':
    main()
