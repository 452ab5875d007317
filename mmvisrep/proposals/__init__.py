"""Offline object proposals for SoCo and ORL: selective search, SoCo's filters, a sharded runner.

Nothing here registers into a registry; ``tools/data/selective_search.py`` is the command line.
The numba backend (``felzenszwalb``, ``hierarchical_grouping``) is imported on first use.
"""
from .filters import FilterReport, FilterRule, filter_boxes, filter_proposals, parse_strategy
from .io import atomic_write_json, list_images, load_json
from .runner import filter_file, make_params, merge_shards, resolve_shard, run_shard, shard_bounds
from .selective_search import (SOCO_SS_PARAMS, ProposalError, selective_search,
                               selective_search_numba, selective_search_opencv,
                               selective_search_opencv_preset)

__all__ = [
    'SOCO_SS_PARAMS', 'FilterReport', 'FilterRule', 'ProposalError', 'atomic_write_json',
    'filter_boxes', 'filter_file', 'filter_proposals', 'list_images', 'load_json', 'make_params',
    'merge_shards', 'parse_strategy', 'resolve_shard', 'run_shard', 'selective_search',
    'selective_search_numba', 'selective_search_opencv', 'selective_search_opencv_preset',
    'shard_bounds'
]
