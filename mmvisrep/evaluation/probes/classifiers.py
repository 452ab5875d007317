"""Classifiers of the frozen-feature probes: a cross-validated linear (logistic) probe and a
weighted cosine kNN, both deterministic so that a probe adds no spread of its own.

The regularisation of the linear probe is chosen by stratified k-fold cross-validation on the
training features only; the evaluation split is touched once, for the final accuracy.
"""
from typing import Dict, Sequence

import numpy as np


def _check(train_x, train_y, test_x, test_y):
    for name, x, y in (('train', train_x, train_y), ('test', test_x, test_y)):
        if x.ndim != 2 or y.ndim != 1 or len(x) != len(y):
            raise ValueError(f'{name}: features must be (N, D) and labels (N,), got '
                             f'{x.shape} and {y.shape}')
    if train_x.shape[1] != test_x.shape[1]:
        raise ValueError(f'feature sizes differ: {train_x.shape[1]} vs {test_x.shape[1]}')
    if not (np.isfinite(train_x).all() and np.isfinite(test_x).all()):
        raise ValueError('features contain NaN or inf')


def _standardise(train_x, test_x):
    """Centre and scale by the training statistics (constant dimensions are left at 0)."""
    mean = train_x.mean(0)
    std = train_x.std(0)
    std[std < 1e-8] = 1.0
    return (train_x - mean) / std, (test_x - mean) / std


def linear_probe(train_x: np.ndarray,
                 train_y: np.ndarray,
                 test_x: np.ndarray,
                 test_y: np.ndarray,
                 cs: Sequence[float] = (0.01, 0.1, 1.0, 10.0, 100.0),
                 folds: int = 3,
                 max_iter: int = 1000) -> Dict:
    """Multinomial logistic regression on standardised features; ``C`` picked from ``cs`` by
    stratified ``folds``-fold cross-validation accuracy on the training set (ties: the smaller
    ``C``). Returns ``dict(accuracy, C, cv_accuracy)``; accuracy in percent."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    _check(train_x, train_y, test_x, test_y)
    train_x, test_x = _standardise(train_x.astype(np.float64), test_x.astype(np.float64))
    counts = np.bincount(train_y)
    if (counts > 0).sum() < 2:
        raise ValueError('linear probe: the training objects must cover at least 2 classes')
    # a rare class may miss some folds (sklearn warns); C is still chosen on training data only
    folds = int(min(folds, counts.max()))
    if folds < 2:
        raise ValueError('linear probe: cross-validation needs a class with at least 2 '
                         'training samples')
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=0)

    def fit(x, y, c):
        clf = LogisticRegression(C=c, max_iter=max_iter, tol=1e-4)
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', ConvergenceWarning)
            return clf.fit(x, y)

    with warnings.catch_warnings():
        warnings.filterwarnings('ignore', message='The least populated class')
        splits = list(splitter.split(train_x, train_y))
    cv = {}
    for c in cs:
        scores = []
        for tr, va in splits:
            pred = _fit_predict(fit, train_x[tr], train_y[tr], train_x[va], c)
            scores.append((pred == train_y[va]).mean())
        cv[c] = float(np.mean(scores))
    best = max(cs, key=lambda c: (cv[c], -c))
    pred = fit(train_x, train_y, best).predict(test_x)
    return dict(
        accuracy=100.0 * float((pred == test_y).mean()),
        C=float(best),
        cv_accuracy={
            str(c): 100.0 * v
            for c, v in cv.items()
        })


def _fit_predict(fit, x, y, test_x, c):
    """Predictions of the probe fitted on ``(x, y)``; a fold whose training part holds one
    class (a rare class missing) predicts that class."""
    classes = np.unique(y)
    if len(classes) == 1:
        return np.full(len(test_x), classes[0])
    return fit(x, y, c).predict(test_x)


def knn_probe(train_x: np.ndarray,
              train_y: np.ndarray,
              test_x: np.ndarray,
              test_y: np.ndarray,
              k: int = 20,
              temperature: float = 0.07) -> Dict:
    """Weighted cosine kNN (the InstDisc / DINO rule): each of the ``k`` nearest training
    features votes for its class with weight ``exp(cos / temperature)``. Features are centred by
    the training mean first, so a shared offset does not dominate the cosine. Accuracy in percent.
    """
    _check(train_x, train_y, test_x, test_y)
    mean = train_x.mean(0, keepdims=True)

    def unit(x):
        x = x.astype(np.float64) - mean
        return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)

    train_n, test_n = unit(train_x), unit(test_x)
    k = min(k, len(train_n))
    num_classes = int(max(train_y.max(), test_y.max())) + 1
    correct = 0
    for start in range(0, len(test_n), 1024):
        sim = test_n[start:start + 1024] @ train_n.T
        idx = np.argsort(-sim, axis=1, kind='stable')[:, :k]
        top = np.take_along_axis(sim, idx, 1)
        votes = np.zeros((len(sim), num_classes))
        np.add.at(votes, (np.arange(len(sim))[:, None], train_y[idx]), np.exp(top / temperature))
        correct += int((votes.argmax(1) == test_y[start:start + 1024]).sum())
    return dict(accuracy=100.0 * correct / len(test_n), k=k, temperature=temperature)
