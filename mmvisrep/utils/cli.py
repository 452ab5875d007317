"""Command-line pieces shared by the sharded offline tools (``tools/data/selective_search.py``,
``tools/data/orl_knn.py``, ``tools/data/orl_correspondence.py``): the same options read the same
way, and a failing subcommand reports ``PROG COMMAND: error: ...`` with exit status 2."""
import argparse
import sys
import time
from typing import Callable, Dict, Optional, Tuple, Type

SHARD_HELP = ('process shard I of N (0-based). Default: torchrun RANK/WORLD_SIZE, else slurm '
              '(SLURM_ARRAY_TASK_ID/COUNT x SLURM_PROCID/NTASKS), else 0/1')
#: errors that end a tool with a one-line message (bad input, missing files), not a traceback
TOOL_ERRORS = (ValueError, KeyError, FileNotFoundError, NotADirectoryError)


def subcommand_parser(description: str, **kwargs):
    """``(parser, subparsers)`` of a tool with subcommands; ``description`` (the module
    docstring, with its examples) is shown as written."""
    parser = argparse.ArgumentParser(
        description=description, formatter_class=argparse.RawDescriptionHelpFormatter, **kwargs)
    return parser, parser.add_subparsers(dest='command', required=True, metavar='COMMAND')


def add_shard_arg(parser):
    """``--shard I/N`` (resolved by ``mmvisrep.proposals.runner.resolve_shard``)."""
    parser.add_argument('--shard', metavar='I/N', help=SHARD_HELP)


def add_chunk_size_arg(parser, default: int, help: Optional[str] = None):
    """``--chunk-size``: images per resume point (a chunk is written as soon as it is done)."""
    parser.add_argument(
        '--chunk-size',
        type=int,
        default=default,
        help=help or 'images per resume point (must be the same for all shards; default: '
        '%(default)s)')


def add_device_progress_args(parser):
    """``--device`` (of the network) and ``--no-progress``."""
    parser.add_argument('--device', help='cuda or cpu (default: cuda when available)')
    parser.add_argument('--no-progress', action='store_true', help='hide progress bars')


def run_subcommand(parser,
                   args,
                   commands: Dict[str, Callable],
                   errors: Tuple[Type[BaseException], ...] = TOOL_ERRORS):
    """Run ``commands[args.command](args)`` and print its run time.

    One of ``errors`` ends the tool like an argparse error: ``PROG COMMAND: error: MESSAGE`` on
    stderr and exit status 2 (a KeyError shows its message without the quotes).
    """
    start = time.time()
    try:
        commands[args.command](args)
    except errors as err:
        message = err.args[0] if isinstance(err, KeyError) and err.args else str(err)
        print(f'{parser.prog} {args.command}: error: {message}', file=sys.stderr)
        sys.exit(2)
    print(f'Done in {time.time() - start:.1f}s')
