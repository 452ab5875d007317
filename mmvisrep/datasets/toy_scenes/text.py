"""Captions and Localized Narratives for a toy scene, generated from its annotated objects.

Captions name classes, colours, positions and pairwise relations; a narrative is a timed
transcript whose mouse trace scribbles over each mentioned object while it is being named.
"""
from typing import List

import numpy as np

from .annotations import VisibleObject
from .classes import STUFF_CLASSES, STUFF_NOUNS, THING_PLURALS
from .render import Scene

# Recorded trace points lie in the image plus a band of this width (normalised units) around
# it; the pointer leaving the band ends a trace segment (as in Localized Narratives).
TRACE_BAND = 0.1
# Phrase used when a stuff kind is the upper region of a two-region scene.
_UPPER_PHRASES = {'sea': 'by the sea'}
_NUMBERS = ('no', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine')
_INTROS = ('In this image we can see', 'In this picture I can see', 'This image shows',
           'Here we can see')
_BACKGROUND = ('In the background there is', 'Behind them we can see', 'At the back there is')


def _article(words: str) -> str:
    return ('an ' if words[0] in 'aeiou' else 'a ') + words


def object_phrase(obj: VisibleObject) -> str:
    """'a red circle', 'an orange star'."""
    return _article(f'{obj.colour} {obj.name}')


def scene_phrase(scene: Scene) -> str:
    """Where the objects are: 'on grass', 'on sand under a blue sky'."""
    names = [STUFF_CLASSES[k]['name'] for k in scene.stuff]
    if len(names) == 1:
        return STUFF_CLASSES[scene.stuff[0]]['phrase']
    upper, lower = names
    upper_phrase = _UPPER_PHRASES.get(upper, STUFF_CLASSES[scene.stuff[0]]['phrase'])
    return f"{STUFF_CLASSES[scene.stuff[1]]['phrase']} {upper_phrase}"


def position_phrase(obj: VisibleObject, size: int) -> str:
    """Coarse position of an object's centroid in a 3x3 grid, e.g. 'in the top left'."""
    col = min(int(3 * obj.centroid[0] / size), 2)
    row = min(int(3 * obj.centroid[1] / size), 2)
    horizontal = ('left', 'middle', 'right')[col]
    vertical = ('top', 'middle', 'bottom')[row]
    if row == 1 and col == 1:
        return 'in the middle'
    if row == 1:
        return f'on the {horizontal}'
    if col == 1:
        return f'at the {vertical}'
    return f'in the {vertical} {horizontal}'


def relation(a: VisibleObject, b: VisibleObject) -> str:
    """Spatial relation of ``a`` to ``b`` from their centroids (image y axis points down)."""
    dx = b.centroid[0] - a.centroid[0]
    dy = b.centroid[1] - a.centroid[1]
    if abs(dx) >= abs(dy):
        return 'to the left of' if dx > 0 else 'to the right of'
    return 'above' if dy > 0 else 'below'


def _grouped(objects: List[VisibleObject]) -> List[str]:
    """Object phrases with identical colour and class merged: 'two red circles'."""
    counts = {}
    for o in objects:
        counts[(o.colour, o.name)] = counts.get((o.colour, o.name), 0) + 1
    return [
        _article(f'{c} {n}') if k == 1 else f'{_NUMBERS[k]} {c} {THING_PLURALS[n]}'
        for (c, n), k in counts.items()
    ]


def _join(items: List[str]) -> str:
    if len(items) == 1:
        return items[0]
    return ', '.join(items[:-1]) + ' and ' + items[-1]


def _sentence(text: str) -> str:
    return text[0].upper() + text[1:] + '.'


def _occlusions(scene: Scene, objects: List[VisibleObject]):
    """Pairs (front, back) of annotated objects where ``front`` hides part of ``back``."""
    pairs = []
    for back in objects:
        for front in objects:
            if front.index > back.index and (scene.objects[back.index].mask & front.mask).any():
                pairs.append((front, back))
    return pairs


def make_captions(scene: Scene,
                  objects: List[VisibleObject],
                  rng: np.random.Generator,
                  num: int = 5) -> List[str]:
    """``num`` captions naming classes, colours, positions and relations of the objects."""
    size = scene.image.shape[0]
    where = scene_phrase(scene)
    order = sorted(objects, key=lambda o: o.centroid[0])
    phrases = _grouped(order)
    largest = max(objects, key=lambda o: o.area)
    counts = {}
    for o in objects:
        counts[o.name] = counts.get(o.name, 0) + 1
    count_text = _join([
        _article(name) if n == 1 else f'{_NUMBERS[n]} {THING_PLURALS[name]}'
        for name, n in counts.items()
    ])
    n = len(objects)
    captions = [
        f'{_join(phrases)} {where}',
        f"{_NUMBERS[n]} {'shape' if n == 1 else 'shapes'} {where}: {count_text}",
        f'a large {largest.colour} {largest.name} {position_phrase(largest, size)} '
        f'of the image {where}',
    ]
    pairs = [(a, b) for a in objects for b in objects if a is not b]
    perm = rng.permutation(len(pairs)) if pairs else []
    for k in perm[:2]:
        a, b = pairs[k]
        captions.append(f'{object_phrase(a)} {relation(a, b)} {object_phrase(b)} {where}')
    occluded = _occlusions(scene, objects)
    if occluded:
        front, back = occluded[int(rng.integers(len(occluded)))]
        captions.append(f'{object_phrase(front)} partly covering {object_phrase(back)}')
    for o in objects:
        captions.append(f'{object_phrase(o)} {position_phrase(o, size)} of the picture {where}')
    captions.append(f'a picture of {_join(phrases[::-1])} {where}')
    captions.append(f'{where}, {_join(sorted(phrases))}')
    # Keep the first three, then a random pick of the relation/occlusion/position sentences.
    extra = captions[3:]
    pick = [extra[i] for i in rng.permutation(len(extra))[:max(num - 3, 0)]]
    return [_sentence(c) for c in (captions[:3] + pick)[:num]]


def _chunks(text: str, rng) -> List[str]:
    """Split filler words into utterances of 1-3 words."""
    words = text.split()
    out = []
    while words:
        k = int(rng.integers(1, 4))
        out.append(' '.join(words[:k]))
        words = words[k:]
    return out


def _narrative_script(scene: Scene, objects: List[VisibleObject], rng):
    """Utterances of a narrative with their targets: None, ('obj', i) or ('stuff', position)."""
    size = scene.image.shape[0]
    script = [(u, None) for u in _chunks(str(rng.choice(_INTROS)), rng)]
    order = sorted(range(len(objects)), key=lambda i: objects[i].centroid[0])
    if rng.random() < 0.3:
        order = order[::-1]
    for k, i in enumerate(order):
        last = k == len(order) - 1
        if last and k > 0:
            script.append(('and', None))
        say_where = rng.random() < 0.5
        text = object_phrase(objects[i])
        if any(object_phrase(objects[j]) == text for j in order[:k]):
            text = 'another ' + text.split(' ', 1)[1]
        if not say_where:
            text += '.' if last else ','
        script.append((text, ('obj', i)))
        if say_where:
            where = position_phrase(objects[i], size) + ('.' if last else ',')
            script += [(u, None) for u in _chunks(where, rng)]
    script += [(u, 'gap') for u in _chunks(str(rng.choice(_BACKGROUND)), rng)]
    if len(scene.stuff) == 1:
        script.append((STUFF_NOUNS[STUFF_CLASSES[scene.stuff[0]]['name']] + '.', ('stuff', 0)))
    else:
        script.append((STUFF_NOUNS[STUFF_CLASSES[scene.stuff[1]]['name']], ('stuff', 1)))
        script.append(('and', None))
        script.append((STUFF_NOUNS[STUFF_CLASSES[scene.stuff[0]]['name']] + '.', ('stuff', 0)))
    return script


def _scribble(rng, centre, radius, t):
    """Looping mouse motion around ``centre`` with per-point jitter (normalised coords)."""
    w = 2 * np.pi * rng.uniform(0.8, 1.6)
    phase = rng.uniform(0, 2 * np.pi)
    tt = t - t[0] if len(t) else t
    x = centre[0] + radius[0] * np.cos(w * tt + phase)
    y = centre[1] + radius[1] * np.sin(1.3 * w * tt + phase)
    return np.stack([x, y], 1) + rng.normal(0, 0.006, (len(t), 2))


def _exit_point(start, rng):
    """A point well outside the recorded band, beyond the image edge nearest to ``start``."""
    x, y = start
    dists = np.array([x, 1 - x, y, 1 - y])
    edge = int(np.argmin(dists))
    far = 1 + TRACE_BAND + rng.uniform(0.1, 0.3)
    return [(1 - far, y), (far, y), (x, 1 - far), (x, far)][edge]


def make_narrative(scene: Scene, objects: List[VisibleObject], rng: np.random.Generator):
    """Return (caption, timed_caption, traces) of a synthetic Localized Narrative.

    While an object's utterance is spoken, the trace scribbles inside its box; between mentions
    the pointer glides to the next target, and before the background is named it leaves the
    image (beyond the recorded band), which starts a new trace segment.
    """
    size = scene.image.shape[0]
    script = _narrative_script(scene, objects, rng)
    timed, cursor = [], 0.0
    for text, _ in script:
        duration = sum(rng.uniform(0.22, 0.42) for _ in text.split())
        start, end = round(cursor, 3), round(cursor + duration, 3)
        timed.append(dict(utterance=text, start_time=start, end_time=end))
        cursor = end + (rng.uniform(0.3, 0.7) if rng.random() < 0.15 else rng.uniform(0, 0.2))
    caption = ' '.join(u['utterance'] for u in timed)

    dt = rng.uniform(0.035, 0.055)
    t_end = timed[-1]['end_time'] + rng.uniform(0.3, 0.8)
    times = np.arange(rng.uniform(0.0, 0.03), t_end, dt)
    times = np.round(times + rng.uniform(-0.2, 0.2, len(times)) * dt, 3)
    points = np.full((len(times), 2), np.nan)

    # Targets: scribbles over mentioned objects / stuff regions during their utterances.
    windows = []
    for (text, target), u in zip(script, timed):
        if not isinstance(target, tuple):
            continue
        sel = (times >= u['start_time']) & (times <= u['end_time'])
        if sel.any():
            windows.append(np.nonzero(sel)[0])
        if target[0] == 'obj':
            obj = objects[target[1]]
            w, h = obj.bbox[2] / size, obj.bbox[3] / size
            centre = (obj.centroid[0] / size, obj.centroid[1] / size)
            radius = (0.3 * w, 0.3 * h)
        else:
            top = 0.0 if (target[1] == 0 or len(scene.stuff) == 1) else scene.horizon
            bottom = 1.0 if (target[1] == 1 or len(scene.stuff) == 1) else scene.horizon
            centre = (0.5, (top + bottom) / 2)
            radius = (0.35, 0.25 * (bottom - top))
        points[sel] = _scribble(rng, centre, radius, times[sel])

    # Start just outside the top edge (inside the band), like real recordings often do.
    start = (rng.uniform(0.2, 0.8), -rng.uniform(0.02, 0.08))
    gap_start = min((u['start_time'] for (_, tg), u in zip(script, timed) if tg == 'gap'))
    known = np.nonzero(~np.isnan(points[:, 0]))[0]
    anchors_t = [times[0]] + list(times[known])
    anchors_p = [start] + [tuple(p) for p in points[known]]
    # Excursions: the pointer always leaves the image (beyond the band) while the background
    # filler is spoken, and sometimes between two other mentions that are far enough apart.
    for prev, nxt in zip(windows[:-1], windows[1:]):
        t0, t1 = times[prev[-1]], times[nxt[0]]
        if (t0 < gap_start < t1) or (t1 - t0 > 0.5 and rng.random() < 0.35):
            anchors_t.append((t0 + t1) / 2)
            anchors_p.append(_exit_point(points[prev[-1]], rng))
    # The end: drift off the image after the last word.
    anchors_t.append(times[-1] + dt)
    anchors_p.append(_exit_point(points[known[-1]], rng))
    order = np.argsort(anchors_t, kind='stable')
    at = np.asarray(anchors_t)[order]
    ap = np.asarray(anchors_p)[order]
    free = np.isnan(points[:, 0])
    points[free, 0] = np.interp(times[free], at, ap[:, 0])
    points[free, 1] = np.interp(times[free], at, ap[:, 1])
    points[free] += rng.normal(0, 0.004, (int(free.sum()), 2))
    points[0] = start

    inside = np.all((points >= -TRACE_BAND) & (points <= 1 + TRACE_BAND), axis=1)
    traces, current = [], []
    for p, t, ok in zip(points, times, inside):
        if ok:
            current.append(dict(x=round(float(p[0]), 4), y=round(float(p[1]), 4), t=float(t)))
        elif current:
            traces.append(current)
            current = []
    if current:
        traces.append(current)
    return caption, timed, traces
