"""Aggregation of the toy benchmark's per-seed probe results into ``results.json``.

Format (higher is better for every probe)::

    {"seeds": [0, 1, 2],
     "probes": {PROBE: {METHOD: {"seeds": [v0, v1, v2], "mean": m, "std": s}}},
     "reference": {PROBE: {"pixel-stats": v}},
     "gains": {PROBE: {METHOD: {"gain": m - m_random, "spread": max(s, s_random),
                                "ratio": gain / spread}}}}

``std`` is the sample standard deviation over seeds (ddof=1). A method *beats random init* on a
probe when its gain exceeds 3 x the larger of the two seed spreads.
"""
import math
from typing import Dict, Iterable, List, Mapping, Optional, Sequence

#: gain over random init, in seed standard deviations, that counts as a real improvement
SIGNIFICANT_RATIO = 3.0


def summarise(values: Sequence[float]) -> Dict:
    """``{"seeds": values, "mean": m, "std": s}`` (sample std; 0.0 for a single value)."""
    values = [float(v) for v in values]
    if not values:
        raise ValueError('summarise: no values')
    if not all(math.isfinite(v) for v in values):
        raise ValueError(f'summarise: non-finite values {values}')
    mean = sum(values) / len(values)
    var = sum((v - mean)**2 for v in values) / (len(values) - 1) if len(values) > 1 else 0.0
    return dict(seeds=values, mean=mean, std=math.sqrt(var))


def gain_over(entry: Mapping, baseline: Mapping) -> Dict:
    """Gain of ``entry`` over ``baseline`` (two :func:`summarise` dicts) in seed spreads."""
    gain = entry['mean'] - baseline['mean']
    spread = max(entry['std'], baseline['std'])
    ratio = math.inf if spread == 0 and gain > 0 else (gain / spread if spread else 0.0)
    return dict(gain=gain, spread=spread, ratio=ratio)


def aggregate(per_seed: Mapping[str, Mapping[str, Mapping[int, float]]],
              seeds: Iterable[int],
              baseline: str = 'random',
              reference: Optional[Mapping[str, Mapping[str, float]]] = None) -> Dict:
    """``per_seed[probe][method][seed] -> value`` into the results.json structure.

    A method that lacks some seeds is summarised over the seeds it has and listed under
    ``incomplete`` with them; only complete rows get a gain, so a partial run is never counted
    as beating random init.
    """
    seeds = list(seeds)
    probes, gains, incomplete = {}, {}, {}
    for probe, methods in per_seed.items():
        rows = {}
        for method, values in methods.items():
            have = [s for s in seeds if s in values]
            if not have:
                continue
            if len(have) < len(seeds):
                incomplete.setdefault(probe, {})[method] = have
            rows[method] = summarise([values[s] for s in have])
        if not rows:
            continue
        probes[probe] = rows
        partial = incomplete.get(probe, {})
        if baseline in rows and baseline not in partial:
            gains[probe] = {
                m: gain_over(r, rows[baseline])
                for m, r in rows.items() if m != baseline and m not in partial
            }
    out = dict(seeds=seeds, probes=probes, gains=gains)
    if reference:
        out['reference'] = {k: dict(v) for k, v in reference.items()}
    if incomplete:
        out['incomplete'] = incomplete
    return out


def significant(results: Mapping, probe: str, method: str) -> bool:
    """Whether ``method`` beats random init on ``probe`` by more than 3 seed spreads."""
    gain = results.get('gains', {}).get(probe, {}).get(method)
    return bool(gain) and gain['ratio'] > SIGNIFICANT_RATIO


def methods_beating_random(results: Mapping) -> Dict[str, List[str]]:
    """``{method: [probes on which it beats random init by > 3 spreads]}``."""
    out: Dict[str, List[str]] = {}
    for probe, rows in results.get('gains', {}).items():
        for method in rows:
            if significant(results, probe, method):
                out.setdefault(method, []).append(probe)
    return out
