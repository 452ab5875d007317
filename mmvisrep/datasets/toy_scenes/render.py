"""Procedural drawing of one toy scene: textured stuff regions and overlapping textured shapes.

Everything is vectorised numpy/cv2 on whole arrays (no per-pixel Python loops), and every random
draw comes from the ``numpy.random.Generator`` passed in, so a scene is a pure function of it.
"""
from dataclasses import dataclass, field
from typing import List, Tuple

import cv2
import numpy as np

from .classes import COLOUR_NAMES, COLOURS, STUFF_CLASSES, THING_CLASSES

# Sub-pixel precision of cv2.fillPoly (coordinates are multiplied by 2**_SHIFT).
_SHIFT = 4
# Object radius range (before the per-class area equalising factor) and centre range, as
# fractions of the image size.
RADIUS_RANGE = (0.07, 0.22)
CENTRE_RANGE = (0.12, 0.88)
MAX_OBJECTS = 6


@dataclass
class SceneObject:
    """One drawn shape: class index (0-based), colour name, geometry and its full mask."""

    label: int
    colour: str
    centre: Tuple[float, float]
    radius: float
    angle: float
    mask: np.ndarray = field(repr=False)  # bool (H, W), before occlusion


@dataclass
class Scene:
    """A rendered scene: RGB image, objects in drawing order, stuff layout."""

    image: np.ndarray  # uint8 (H, W, 3) RGB
    objects: List[SceneObject]
    stuff: List[int]  # indices into STUFF_CLASSES: [kind] or [upper, lower]
    stuff_index: np.ndarray  # uint8 (H, W): position in ``stuff`` of each pixel's region
    boundary: np.ndarray  # bool (H, W): thin band between two stuff regions (unlabeled)
    horizon: float = 1.0  # mean y (fraction of height) of the region boundary; 1 = no split


def _smooth_noise(rng, h, w, cells):
    """Low-frequency noise in [0, 1]: a random ``cells`` grid upsampled bicubically."""
    grid = rng.random((cells + 1, cells + 1)).astype(np.float32)
    return np.clip(cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC), 0, 1)


def _grid(h, w):
    """Float pixel coordinate grids (y, x)."""
    return np.mgrid[0:h, 0:w].astype(np.float32)


def _mix(base, amount):
    """Broadcast an (H, W) modulation onto an RGB base colour."""
    return np.asarray(base, np.float32)[None, None, :] + amount[..., None]


def _texture_grass(rng, h, w):
    blades = cv2.blur(rng.normal(0, 1, (h, w)).astype(np.float32), (1, 7)) * 40
    patches = (_smooth_noise(rng, h, w, 5) - 0.5) * 50
    return _mix((60, 140, 50), blades + patches) * np.array([0.9, 1.0, 0.8], np.float32)


def _texture_sky(rng, h, w):
    y, _ = _grid(h, w)
    t = (y / max(h - 1, 1))[..., None]
    top = np.array([80, 140, 225], np.float32)
    bottom = np.array([185, 215, 250], np.float32)
    sky = top * (1 - t) + bottom * t
    n = 0.65 * _smooth_noise(rng, h, w, 4) + 0.35 * _smooth_noise(rng, h, w, 9)
    cloud = np.clip((n - 0.55) * 3.0, 0, 1)[..., None]
    return sky * (1 - cloud) + 245 * cloud


def _texture_sand(rng, h, w):
    y, x = _grid(h, w)
    period = max(h, w) / 16
    ripple = np.sin(2 * np.pi * (y / period + 1.5 * _smooth_noise(rng, h, w, 3))) * 12
    return _mix((220, 195, 140), ripple + rng.normal(0, 7, (h, w)).astype(np.float32))


def _texture_sea(rng, h, w):
    y, x = _grid(h, w)
    period = max(h, w) / 14
    phase = 2 * np.pi * (y / period + x / (6 * period) + 2 * _smooth_noise(rng, h, w, 3))
    crest = np.clip(np.sin(phase), 0.6, 1.0) - 0.6
    return _mix((30, 90, 165), crest * 200 + rng.normal(0, 5, (h, w)).astype(np.float32))


def _texture_brick(rng, h, w):
    y, x = _grid(h, w)
    bh = max(4.0, max(h, w) / 12)
    bw = 2.2 * bh
    row = np.floor(y / bh)
    xs = x + (row % 2) * bw / 2
    col = np.floor(xs / bw)
    shade = rng.normal(0, 18, (int(h / bh) + 2, int(w / bw) + 3)).astype(np.float32)
    brick = _mix((160, 65, 45), shade[row.astype(int), col.astype(int)])
    mortar = ((y % bh) < 1.0) | ((xs % bw) < 1.0)
    brick[mortar] = (200, 195, 185)
    return brick + rng.normal(0, 5, (h, w, 1)).astype(np.float32)


def _texture_snow(rng, h, w):
    shade = (_smooth_noise(rng, h, w, 4) - 0.5) * 25
    img = _mix((238, 242, 250), rng.normal(0, 3, (h, w)).astype(np.float32))
    img[..., :2] += shade[..., None]
    return img


def _texture_dirt(rng, h, w):
    blotch = (_smooth_noise(rng, h, w, 6) - 0.5) * 60
    return _mix((120, 85, 55), blotch + rng.normal(0, 12, (h, w)).astype(np.float32))


def _texture_wood(rng, h, w):
    y, x = _grid(h, w)
    pw = max(6.0, max(h, w) / 6)
    plank = np.floor(x / pw)
    tone = rng.normal(0, 15, int(w / pw) + 2).astype(np.float32)[plank.astype(int)]
    grain = np.sin(2 * np.pi * (x / 3.0 + 3 * _smooth_noise(rng, h, w, 5))) * 10
    wood = _mix((185, 135, 85), tone + grain)
    wood[(x % pw) < 1.0] = (90, 60, 35)
    return wood


STUFF_TEXTURES = {
    'grass': _texture_grass,
    'sky-other': _texture_sky,
    'sand': _texture_sand,
    'sea': _texture_sea,
    'wall-brick': _texture_brick,
    'snow': _texture_snow,
    'dirt': _texture_dirt,
    'floor-wood': _texture_wood,
}


def _unit_polygon(name, n=48):
    """Return (outer, hole) vertices of a class shape with unit radius (hole may be None)."""
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    circle = np.stack([np.cos(t), np.sin(t)], 1)
    if name == 'circle':
        return circle, None
    if name == 'ellipse':
        return circle * [1.0, 0.55], None
    if name == 'ring':
        return circle, circle * 0.55
    if name in ('square', 'triangle', 'hexagon'):
        k = dict(square=4, triangle=3, hexagon=6)[name]
        a = -np.pi / 2 + 2 * np.pi * np.arange(k) / k
        return np.stack([np.cos(a), np.sin(a)], 1), None
    if name == 'star':
        a = -np.pi / 2 + np.pi * np.arange(10) / 5
        rad = np.where(np.arange(10) % 2 == 0, 1.0, 0.42)
        return np.stack([np.cos(a) * rad, np.sin(a) * rad], 1), None
    if name == 'cross':
        q = 0.33
        pts = [(q, -1), (q, -q), (1, -q), (1, q), (q, q), (q, 1), (-q, 1), (-q, q), (-1, q),
               (-1, -q), (-q, -q), (-q, -1)]
        return np.asarray(pts, np.float64), None
    raise KeyError(f'unknown shape {name!r}')


def _polygon_area(pts):
    x, y = pts[:, 0], pts[:, 1]
    return 0.5 * abs(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1)))


def _size_factor(name):
    """Radius factor giving every class the area of a unit-radius square (2 r^2), so that no
    class dominates the images by shape alone."""
    outer, hole = _unit_polygon(name)
    area = _polygon_area(outer) - (_polygon_area(hole) if hole is not None else 0.0)
    return float(np.sqrt(2.0 / area))


def _place(pts, centre, radius, angle):
    """Rotate, scale and translate unit-shape vertices into image coordinates."""
    c, s = np.cos(angle), np.sin(angle)
    rot = np.array([[c, -s], [s, c]])
    return pts @ rot.T * radius + np.asarray(centre)


def _fill(mask, pts, value):
    """Fill a polygon into ``mask`` with sub-pixel vertex precision."""
    poly = np.round((pts - 0.5) * (1 << _SHIFT)).astype(np.int32)
    cv2.fillPoly(mask, [poly], value, lineType=cv2.LINE_8, shift=_SHIFT)


def shape_mask(name, centre, radius, angle, size):
    """Rasterise one class shape into a boolean (size, size) mask."""
    outer, hole = _unit_polygon(name)
    mask = np.zeros((size, size), np.uint8)
    _fill(mask, _place(outer, centre, radius, angle), 1)
    if hole is not None:
        _fill(mask, _place(hole, centre, radius, angle), 0)
    return mask.astype(bool)


def _object_texture(texture, colour, centre, radius, angle, rng, size):
    """Class-specific surface pattern (float RGB, whole image) for one object."""
    y, x = _grid(size, size)
    c, s = np.cos(angle), np.sin(angle)
    u = ((x - centre[0]) * c + (y - centre[1]) * s) / radius
    v = (-(x - centre[0]) * s + (y - centre[1]) * c) / radius
    d = np.sqrt(u * u + v * v)
    if texture == 'radial':
        factor = 1.2 - 0.5 * d
    elif texture == 'checker':
        factor = np.where((np.floor(u * 2.5) + np.floor(v * 2.5)) % 2 == 0, 1.0, 0.62)
    elif texture == 'stripes':
        factor = np.where(np.sin(v * 3 * np.pi) > 0, 1.0, 0.62)
    elif texture == 'glow':
        factor = 1.25 - 0.45 * d
    elif texture == 'speckle':
        factor = 1.0 + rng.normal(0, 0.12, (size, size))
    elif texture == 'diagonal':
        factor = np.where(np.sin((u + v) * 2.5 * np.pi) > 0, 1.0, 0.65)
    elif texture == 'dots':
        p = 0.45
        du, dv = (u % p) - p / 2, (v % p) - p / 2
        factor = np.where(du * du + dv * dv < (p / 3.5)**2, 0.55, 1.0)
    elif texture == 'gradient':
        factor = 0.7 + 0.25 * (u + 1)
    else:
        raise KeyError(f'unknown texture {texture!r}')
    factor = factor.astype(np.float32)
    return np.asarray(COLOURS[colour], np.float32)[None, None, :] * factor[..., None]


_SIZE_FACTOR = {c['name']: _size_factor(c['name']) for c in THING_CLASSES}


def _stuff_layout(rng, size):
    """Choose one or two stuff kinds and return (kinds, region index map, boundary, horizon)."""
    names = [s['name'] for s in STUFF_CLASSES]
    upper = [i for i, s in enumerate(STUFF_CLASSES) if s['place'] in ('upper', 'both')]
    lower = [i for i, s in enumerate(STUFF_CLASSES) if s['place'] in ('lower', 'both')]
    if rng.random() < 0.35:
        kind = int(rng.integers(len(names)))
        return [kind], np.zeros((size, size), np.uint8), np.zeros((size, size), bool), 1.0
    top = int(rng.choice(upper))
    bottom = int(rng.choice([i for i in lower if i != top]))
    h0 = rng.uniform(0.3, 0.6) * size
    amp = rng.uniform(0, 0.04) * size
    wavelength = rng.uniform(0.5, 1.5) * size
    phase = rng.uniform(0, 2 * np.pi)
    y, x = _grid(size, size)
    line = h0 + amp * np.sin(2 * np.pi * x / wavelength + phase)
    region = (y + 0.5 >= line).astype(np.uint8)
    boundary = np.abs(y + 0.5 - line) < 0.75
    return [top, bottom], region, boundary, float(h0 / size)


TEXTURE_MODES = ('class', 'random')
OBJECT_TEXTURES = tuple(c['texture'] for c in THING_CLASSES)


def render_scene(rng: np.random.Generator,
                 size: int,
                 textures: str = 'class',
                 max_objects: int = MAX_OBJECTS,
                 radius_range: Tuple[float, float] = RADIUS_RANGE) -> Scene:
    """Draw one random scene of ``size`` x ``size`` pixels from ``rng``: 1..``max_objects``
    shapes whose radius is drawn from ``radius_range`` (fractions of ``size``, before the
    per-class area factor).

    ``textures='class'`` gives every shape its class's surface pattern (shape and texture both
    identify the class); ``'random'`` draws the pattern per object, independent of the class, so
    that only the outline identifies it (colour and texture become nuisances to be ignored).
    """
    if textures not in TEXTURE_MODES:
        raise ValueError(
            f'render_scene: textures must be one of {TEXTURE_MODES}, got {textures!r}')
    stuff, region, boundary, horizon = _stuff_layout(rng, size)
    canvas = np.zeros((size, size, 3), np.float32)
    for pos, kind in enumerate(stuff):
        tex = STUFF_TEXTURES[STUFF_CLASSES[kind]['name']](rng, size, size)
        sel = region == pos
        canvas[sel] = tex[sel]

    objects = []
    for _ in range(int(rng.integers(1, max_objects + 1))):
        label = int(rng.integers(len(THING_CLASSES)))
        cls = THING_CLASSES[label]
        colour = COLOUR_NAMES[int(rng.integers(len(COLOUR_NAMES)))]
        radius = float(rng.uniform(*radius_range) * size * _SIZE_FACTOR[cls['name']])
        centre = (float(rng.uniform(*CENTRE_RANGE) * size),
                  float(rng.uniform(*CENTRE_RANGE) * size))
        angle = 0.0 if cls['name'] == 'circle' else float(rng.uniform(0, 2 * np.pi))
        mask = shape_mask(cls['name'], centre, radius, angle, size)
        if not mask.any():
            continue
        texture = cls['texture'] if textures == 'class' else \
            OBJECT_TEXTURES[int(rng.integers(len(OBJECT_TEXTURES)))]
        tex = _object_texture(texture, colour, centre, radius, angle, rng, size)
        # A dark one-pixel outline separates touching shapes of the same colour.
        inner = cv2.erode(mask.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
        tex[mask & ~inner] *= 0.45
        canvas[mask] = tex[mask]
        objects.append(SceneObject(label, colour, centre, radius, angle, mask))

    canvas += rng.normal(0, 3, canvas.shape).astype(np.float32)
    canvas = cv2.GaussianBlur(canvas, (3, 3), 0.6)
    image = np.clip(np.round(canvas), 0, 255).astype(np.uint8)
    return Scene(image, objects, stuff, region, boundary, horizon)
