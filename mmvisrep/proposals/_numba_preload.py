"""Imported by the proposal runner's fork server only: loads the numba backend once there, so
that every worker forked from it starts with the compiled selective search."""
from .selective_search import warmup_numba

warmup_numba()
