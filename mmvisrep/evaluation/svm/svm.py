"""Linear SVMs on frozen features: the VOC07 full and low-shot protocols of the FAIR benchmark.

What each step does and where it comes from (FAIR ``fair_self_supervision_benchmark``, copied
into OpenSelfSup/mmselfsup 0.x ``tools/benchmarks/classification/svm_voc07/``) is written out in
``docs/svm_voc07.md``. In short:

* features are L2-normalised per image (``x / (||x|| + 1e-5)``);
* one-vs-rest ``LinearSVC(C, class_weight={1: 2, -1: 1}, penalty='l2', loss='squared_hinge',
  dual=True, tol=1e-4, max_iter=2000, intercept_scaling=1)`` per class;
* costs 1, 10, 100 and 2^-4 ... 2^-19;
* full: the cost of each class is the one with the best 3-fold cross-validated AP
  (scikit-learn's ``average_precision``) on trainval, the SVM is refit on all of trainval
  with it and scored on test by the interpolated VOC AP, difficult test images left out;
* low-shot: per run and k, k positives and (C-1)k negatives per class, one SVM per cost; the cost
  is chosen per k by the test mAP averaged over the runs (the benchmark's own rule).

scikit-learn and joblib are imported lazily so that ``import mmvisrep`` stays light.
"""
import hashlib
import json
import os.path as osp
import warnings
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np

from .labels import NEGATIVE, POSITIVE, check_low_shot_feasible, sample_low_shot
from .metrics import IGNORE, mean_ap, voc07_svm_ap

# svm_helper.parse_cost_list: the given costs ("1.0,10.0,100.0" in eval_svm_*.sh) + 0.5**4..19
PROTOCOL_COSTS = (1.0, 10.0, 100.0) + tuple(0.5**n for n in range(4, 20))
PROTOCOL_K = (1, 2, 4, 8, 16, 32, 64, 96)

DEFAULT_SVM_CFG = dict(
    costs=list(PROTOCOL_COSTS),
    cv=3,
    positive_weight=2.0,  # class_weight={1: 2, -1: 1}
    tol=1e-4,
    max_iter=2000,
    random_state=0,
    difficult_in_train='negative',
    low_shot=dict(k=list(PROTOCOL_K), runs=5, seed=0),
)
DIFFICULT_MODES = ('negative', 'ignore')


def svm_settings(cfg: Optional[dict] = None) -> dict:
    """The protocol defaults updated with ``cfg`` (e.g. a config's ``svm`` dict); validated."""
    out = json.loads(json.dumps(DEFAULT_SVM_CFG))
    cfg = dict(cfg or {})
    low_shot = dict(cfg.pop('low_shot', None) or {})
    unknown = set(cfg) - set(out) | set(low_shot) - set(out['low_shot'])
    if unknown:
        raise ValueError(f'unknown SVM settings {sorted(unknown)}; known: {sorted(out)} and '
                         f'low_shot.{sorted(DEFAULT_SVM_CFG["low_shot"])}')
    out.update(cfg)
    out['low_shot'].update(low_shot)
    out['costs'] = [float(c) for c in out['costs']]
    out['low_shot']['k'] = [int(k) for k in out['low_shot']['k']]
    if not out['costs'] or min(out['costs']) <= 0:
        raise ValueError(f'SVM costs must be a non-empty list of positive numbers: {out["costs"]}')
    if len(set(out['costs'])) != len(out['costs']):
        raise ValueError(f'SVM costs must be distinct: {out["costs"]}')
    if out['cv'] < 2:
        raise ValueError(f'cv must be >= 2 folds, got {out["cv"]}')
    if out['difficult_in_train'] not in DIFFICULT_MODES:
        raise ValueError(f'difficult_in_train must be one of {DIFFICULT_MODES}, got '
                         f'{out["difficult_in_train"]!r}')
    if out['low_shot']['runs'] < 1 or not out['low_shot']['k']:
        raise ValueError(f'low_shot needs runs >= 1 and at least one k: {out["low_shot"]}')
    return out


def normalize_features(features: np.ndarray) -> np.ndarray:
    """Per-image L2 normalisation in float64, ``x / (||x|| + 1e-5)`` (``svm_helper``)."""
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2:
        raise ValueError(f'features must be (images, dims), got shape {features.shape}')
    if not np.all(np.isfinite(features)):
        bad = np.flatnonzero(~np.all(np.isfinite(features), axis=1))
        raise ValueError(f'features of {len(bad)} image(s) are not finite (first rows: '
                         f'{bad[:5].tolist()})')
    return features / (np.linalg.norm(features, axis=1) + 1e-5)[:, None]


def build_svm(cost: float, settings: dict):
    """The benchmark's ``LinearSVC`` for one cost (labels +1 / -1)."""
    from sklearn.svm import LinearSVC
    return LinearSVC(
        C=cost,
        class_weight={
            1: settings['positive_weight'],
            -1: 1.0
        },
        intercept_scaling=1.0,
        penalty='l2',
        loss='squared_hinge',
        tol=settings['tol'],
        dual=True,
        max_iter=settings['max_iter'],
        random_state=settings['random_state'])


def _log_convergence(logger, what: str, count: int, settings: dict) -> None:
    if count:
        logger.info(f'{what}: {count} LinearSVC fits stopped at max_iter={settings["max_iter"]} '
                    '(ConvergenceWarning; the benchmark has the same limit)')


def _count_convergence(record: list) -> int:
    from sklearn.exceptions import ConvergenceWarning
    return sum(issubclass(w.category, ConvergenceWarning) for w in record)


# --------------------------------------------------------------------------- full protocol
def full_train_labels(column: np.ndarray,
                      difficult: str = 'negative') -> Tuple[np.ndarray, np.ndarray]:
    """``(rows, y)`` of one class for full training: y = +1 present, -1 absent.

    ``difficult='negative'`` keeps difficult (-1) images as negatives, which is what the
    benchmark's ``train_svm_kfold.py`` does (it only maps 0 to -1); ``'ignore'`` drops them.
    """
    column = np.asarray(column)
    rows = np.ones(len(column), bool) if difficult == 'negative' else column != IGNORE
    y = np.where(column[rows] == POSITIVE, 1, -1).astype(np.int32)
    return rows, y


def train_full_class(cls: int, x_train: np.ndarray, t_train: np.ndarray, x_test: np.ndarray,
                     t_test: np.ndarray, settings: dict) -> dict:
    """Cross-validate every cost on trainval, refit the best one, score the test images."""
    from sklearn.model_selection import cross_val_score

    rows, y = full_train_labels(t_train, settings['difficult_in_train'])
    num_pos, num_neg = int((y == 1).sum()), int((y == -1).sum())
    out = dict(cls=cls, num_pos=num_pos, num_neg=num_neg, num_test_pos=int((t_test > 0).sum()))
    cv = settings['cv']
    if min(num_pos, num_neg) < cv:
        out['skipped'] = (f'{num_pos} positive / {num_neg} negative training images, '
                          f'{cv}-fold cross-validation needs at least {cv} of each')
        out['ap'] = float('nan')
        return out
    costs = settings['costs']
    x_rows = x_train if rows.all() else x_train[rows]
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter('always')
        cv_ap = [
            float(
                cross_val_score(
                    build_svm(c, settings),
                    x_rows,
                    y,
                    cv=cv,
                    scoring='average_precision',
                    error_score='raise').mean()) for c in costs
        ]
        best = int(np.argmax(cv_ap))  # first maximum, in the order of the cost list
        clf = build_svm(costs[best], settings).fit(x_rows, y)
        scores = clf.decision_function(x_test)
    out.update(
        cv_ap=cv_ap,
        cost_index=best,
        cost=costs[best],
        ap=voc07_svm_ap(scores, t_test),
        convergence_warnings=_count_convergence(record))
    return out


# --------------------------------------------------------------------------- low-shot protocol
def low_shot_seed(seed: int, run: int, k: int) -> List[int]:
    """Seed of the (run, k) low-shot sample: independent numpy ``SeedSequence`` streams."""
    return [int(seed), int(run), int(k)]


def train_low_shot_sample(run: int, k: int, x_train: np.ndarray, t_train: np.ndarray,
                          x_test: np.ndarray, t_test: np.ndarray, settings: dict,
                          class_names: Sequence[str]) -> dict:
    """Draw the (run, k) sample, train one SVM per class and cost, score the test images.

    Returns the test AP matrix ``ap[class][cost]`` (``nan`` for a class without test positives)
    and the indices of the sampled positives per class.
    """
    sample = sample_low_shot(t_train, k, low_shot_seed(settings['low_shot']['seed'], run, k),
                             class_names)
    costs = settings['costs']
    num_classes = t_train.shape[1]
    ap = np.full((num_classes, len(costs)), np.nan)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter('always')
        for c in range(num_classes):
            rows = sample[:, c] != IGNORE
            y = np.where(sample[rows, c] == POSITIVE, 1, -1).astype(np.int32)
            if not np.any(t_test[:, c] > 0):
                continue  # AP undefined: no SVM needed
            for j, cost in enumerate(costs):
                clf = build_svm(cost, settings).fit(x_train[rows], y)
                ap[c, j] = voc07_svm_ap(clf.decision_function(x_test), t_test[:, c])
    positives = [np.flatnonzero(sample[:, c] == POSITIVE).tolist() for c in range(num_classes)]
    return dict(
        run=run,
        k=k,
        ap=[[None if np.isnan(v) else float(v) for v in row] for row in ap],
        positives=positives,
        num_neg=int((sample == NEGATIVE).sum(0).min()),
        convergence_warnings=_count_convergence(record))


def aggregate_low_shot(per_sample: Dict[Tuple[int, int], dict], ks: Sequence[int], runs: int,
                       costs: Sequence[float], class_names: Sequence[str]) -> dict:
    """mAP per run, k and cost; the cost of each k maximises the mean over runs (benchmark's
    ``aggregate_low_shot_svm_stats.py``); mean / min / max / std over runs at that cost."""
    maps = np.full((runs, len(ks), len(costs)), np.nan)
    excluded = []
    for (run, k), res in per_sample.items():
        ap = np.array([[np.nan if v is None else v for v in row] for row in res['ap']])
        for j in range(len(costs)):
            maps[run, ks.index(k), j], excluded = mean_ap(ap[:, j], class_names)
    mean = maps.mean(0)
    table = []
    for i, k in enumerate(ks):
        best = int(np.nanargmax(mean[i])) if np.any(np.isfinite(mean[i])) else 0
        at = maps[:, i, best]
        table.append(
            dict(
                k=int(k),
                mAP=float(at.mean()),
                std=float(at.std()),
                min=float(at.min()),
                max=float(at.max()),
                cost=float(costs[best]),
                runs=[float(v) for v in at]))
    return dict(
        table=table,
        mean_map_per_cost=[[float(v) for v in row] for row in mean],
        excluded_classes=excluded)


# --------------------------------------------------------------------------- running and caching
def settings_key(settings: dict, features_key: str = '') -> str:
    """Digest of everything that decides an SVM result (settings + which features)."""
    text = json.dumps(dict(settings=settings, features=features_key), sort_keys=True)
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def _cached(path: Optional[str], key: str) -> Optional[dict]:
    """A finished task result written under ``key``, else None (missing, other key or corrupt)."""
    if path is None or not osp.isfile(path):
        return None
    try:
        with open(path) as f:
            data = json.load(f)
    except (OSError, ValueError):
        return None
    return data['result'] if data.get('key') == key else None


def _run_tasks(fn: Callable, tasks: List[tuple], n_jobs: int, desc: str,
               progress: bool) -> Iterable[dict]:
    """Yield ``fn(*task)`` for every task, in parallel processes when ``n_jobs != 1``."""
    from tqdm import tqdm
    if not tasks:
        return
    if n_jobs == 1:
        results = (fn(*t) for t in tasks)
    else:
        from joblib import Parallel, delayed
        results = Parallel(
            n_jobs=n_jobs, return_as='generator_unordered')(
                delayed(fn)(*t) for t in tasks)
    yield from tqdm(results, total=len(tasks), desc=desc, disable=not progress)


def _save(path: Optional[str], key: str, result: dict):
    if path is not None:
        from mmvisrep.utils.atomic_io import atomic_write_json
        atomic_write_json(dict(key=key, result=result), path)


def _check_inputs(x_train, t_train, x_test, t_test, class_names):
    if x_train.shape[0] != t_train.shape[0] or x_test.shape[0] != t_test.shape[0]:
        raise ValueError(f'features and labels disagree: train {x_train.shape[0]} vs '
                         f'{t_train.shape[0]}, test {x_test.shape[0]} vs {t_test.shape[0]}')
    if x_train.shape[1] != x_test.shape[1]:
        raise ValueError(f'train ({x_train.shape[1]}-d) and test ({x_test.shape[1]}-d) features '
                         'differ in dimension')
    if not t_train.shape[1] == t_test.shape[1] == len(class_names):
        raise ValueError(f'label matrices have {t_train.shape[1]} / {t_test.shape[1]} classes, '
                         f'class names {len(class_names)}')


def run_full(x_train: np.ndarray,
             t_train: np.ndarray,
             x_test: np.ndarray,
             t_test: np.ndarray,
             class_names: Sequence[str],
             settings: Optional[dict] = None,
             n_jobs: int = 1,
             cache_dir: Optional[str] = None,
             features_key: str = '',
             progress: bool = True,
             logger=None) -> dict:
    """VOC07 SVM, full protocol. Features are raw (normalised here); labels in {1, 0, -1}.

    With ``cache_dir`` every finished class is written there and reused by a rerun with the same
    settings and features.
    """
    settings = svm_settings(settings)
    t_train, t_test = np.asarray(t_train), np.asarray(t_test)
    _check_inputs(x_train, t_train, x_test, t_test, class_names)
    x_train, x_test = normalize_features(x_train), normalize_features(x_test)
    full_settings = {k: v for k, v in settings.items() if k != 'low_shot'}
    key = settings_key(full_settings, features_key)
    num_classes = len(class_names)
    paths = [
        osp.join(cache_dir, f'class{c:03d}.json') if cache_dir else None
        for c in range(num_classes)
    ]
    results = {c: _cached(paths[c], key) for c in range(num_classes)}
    todo = [(c, x_train, t_train[:, c], x_test, t_test[:, c], settings) for c in range(num_classes)
            if results[c] is None]
    if logger and len(todo) < num_classes:
        logger.info(f'full SVM: {num_classes - len(todo)} of {num_classes} classes reused from '
                    f'{cache_dir}')
    for res in _run_tasks(train_full_class, todo, n_jobs, 'SVM full (classes)', progress):
        results[res['cls']] = res
        _save(paths[res['cls']], key, res)

    ordered = [results[c] for c in range(num_classes)]
    aps = [r['ap'] for r in ordered]
    mAP, excluded = mean_ap(aps, class_names)
    skipped = {class_names[r['cls']]: r['skipped'] for r in ordered if 'skipped' in r}
    no_test_pos = [
        class_names[r['cls']] for r in ordered if 'skipped' not in r and r['num_test_pos'] == 0
    ]
    if logger:
        for name, reason in skipped.items():
            logger.warning(f'full SVM: class {name!r} not evaluated: {reason}')
        if no_test_pos:
            logger.warning(f'full SVM: no positive test image (AP undefined, left out of the mAP) '
                           f'for {no_test_pos}')
        _log_convergence(logger, 'full SVM',
                         sum(r.get('convergence_warnings', 0) for r in ordered), settings)
    return dict(
        mAP=mAP,
        classes=list(class_names),
        ap=[None if np.isnan(a) else float(a) for a in aps],
        cost=[r.get('cost') for r in ordered],
        cv_ap=[r.get('cv_ap') for r in ordered],
        num_train_pos=[r['num_pos'] for r in ordered],
        num_test_pos=[r['num_test_pos'] for r in ordered],
        excluded_classes=excluded,
        skipped=skipped,
        convergence_warnings=int(sum(r.get('convergence_warnings', 0) for r in ordered)),
        num_train=int(x_train.shape[0]),
        num_test=int(x_test.shape[0]),
        dims=int(x_train.shape[1]),
        settings=full_settings)


def run_low_shot(x_train: np.ndarray,
                 t_train: np.ndarray,
                 x_test: np.ndarray,
                 t_test: np.ndarray,
                 class_names: Sequence[str],
                 settings: Optional[dict] = None,
                 n_jobs: int = 1,
                 cache_dir: Optional[str] = None,
                 features_key: str = '',
                 progress: bool = True,
                 logger=None) -> dict:
    """VOC07 SVM, low-shot protocol over ``settings['low_shot']`` (k values, runs, seed).

    With ``cache_dir`` every finished (run, k) sample is written there and reused by a rerun.
    """
    settings = svm_settings(settings)
    t_train, t_test = np.asarray(t_train), np.asarray(t_test)
    _check_inputs(x_train, t_train, x_test, t_test, class_names)
    ks, runs = settings['low_shot']['k'], settings['low_shot']['runs']
    check_low_shot_feasible(t_train, ks, class_names)
    x_train, x_test = normalize_features(x_train), normalize_features(x_test)
    key = settings_key({k: v for k, v in settings.items() if k != 'cv'}, features_key)
    samples = [(r, k) for r in range(runs) for k in ks]
    paths = {
        (r, k): osp.join(cache_dir, f'run{r}_k{k}.json') if cache_dir else None
        for r, k in samples
    }
    results = {s: _cached(paths[s], key) for s in samples}
    todo = [(r, k, x_train, t_train, x_test, t_test, settings, list(class_names))
            for r, k in samples if results[(r, k)] is None]
    if logger and len(todo) < len(samples):
        logger.info(f'low-shot SVM: {len(samples) - len(todo)} of {len(samples)} (run, k) '
                    f'samples reused from {cache_dir}')
    for res in _run_tasks(train_low_shot_sample, todo, n_jobs, 'SVM low-shot (run x k)', progress):
        results[(res['run'], res['k'])] = res
        _save(paths[(res['run'], res['k'])], key, res)
    out = aggregate_low_shot(results, ks, runs, settings['costs'], class_names)
    if logger and out['excluded_classes']:
        logger.warning('low-shot SVM: no positive test image (AP undefined, left out of the '
                       f'mAP) for {out["excluded_classes"]}')
    if logger:
        _log_convergence(logger, 'low-shot SVM',
                         sum(r['convergence_warnings'] for r in results.values()), settings)
    out.update(
        runs=runs,
        seed=settings['low_shot']['seed'],
        convergence_warnings=int(sum(r['convergence_warnings'] for r in results.values())),
        settings={
            k: v
            for k, v in settings.items() if k != 'cv'
        })
    return out
