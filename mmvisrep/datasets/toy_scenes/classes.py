"""Class tables of the toy scenes: thing shapes, stuff kinds with their COCO-Stuff ids, colours.

The tables are the single source of truth for the generator, the docs and the dataset classes.
"""

# The 91 stuff names of COCO-Stuff 164k in label-id order. Label ids 1..91 are the COCO thing
# ids (including the 11 ids unused by COCO detection) and the stuff ids follow them: banner is
# 92 and wood is 182 (labels.txt of nightrome/cocostuff; mmseg's COCOStuffDataset lists the
# same names in the same order). The stuffthingmaps PNGs store ``label id - 1``.
COCOSTUFF_STUFF_NAMES = (
    'banner', 'blanket', 'branch', 'bridge', 'building-other', 'bush', 'cabinet', 'cage',
    'cardboard', 'carpet', 'ceiling-other', 'ceiling-tile', 'cloth', 'clothes', 'clouds',
    'counter', 'cupboard', 'curtain', 'desk-stuff', 'dirt', 'door-stuff', 'fence', 'floor-marble',
    'floor-other', 'floor-stone', 'floor-tile', 'floor-wood', 'flower', 'fog', 'food-other',
    'fruit', 'furniture-other', 'grass', 'gravel', 'ground-other', 'hill', 'house', 'leaves',
    'light', 'mat', 'metal', 'mirror-stuff', 'moss', 'mountain', 'mud', 'napkin', 'net', 'paper',
    'pavement', 'pillow', 'plant-other', 'plastic', 'platform', 'playingfield',
    'railing', 'railroad', 'river', 'road', 'rock', 'roof', 'rug', 'salad', 'sand', 'sea', 'shelf',
    'sky-other', 'skyscraper', 'snow', 'solid-other', 'stairs', 'stone', 'straw',
    'structural-other', 'table', 'tent', 'textile-other', 'towel', 'tree', 'vegetable',
    'wall-brick', 'wall-concrete', 'wall-other', 'wall-panel', 'wall-stone', 'wall-tile',
    'wall-wood', 'water-other', 'waterdrops', 'window-blind', 'window-other', 'wood')
COCOSTUFF_FIRST_STUFF_ID = 92
COCOSTUFF_NUM_LABELS = 182
# Value of unlabeled pixels in the stuffthingmaps PNGs (COCO-Stuff convention).
UNLABELED = 255


def cocostuff_label_id(name: str) -> int:
    """Return the COCO-Stuff 164k label id (92..182) of a stuff name, e.g. 'grass' -> 124."""
    try:
        return COCOSTUFF_FIRST_STUFF_ID + COCOSTUFF_STUFF_NAMES.index(name)
    except ValueError:
        raise KeyError(f'{name!r} is not a COCO-Stuff stuff class') from None


# Thing categories: COCO-style ids 1..K. ``texture`` selects the class-specific surface pattern
# drawn by render.py, so that shape and texture both identify the class (colour does not: it is
# drawn per instance and named in the captions).
THING_CLASSES = (
    dict(id=1, name='circle', supercategory='round', texture='radial'),
    dict(id=2, name='square', supercategory='polygon', texture='checker'),
    dict(id=3, name='triangle', supercategory='polygon', texture='stripes'),
    dict(id=4, name='star', supercategory='figure', texture='glow'),
    dict(id=5, name='ring', supercategory='round', texture='speckle'),
    dict(id=6, name='cross', supercategory='figure', texture='diagonal'),
    dict(id=7, name='hexagon', supercategory='polygon', texture='dots'),
    dict(id=8, name='ellipse', supercategory='round', texture='gradient'),
)
THING_NAMES = tuple(c['name'] for c in THING_CLASSES)
THING_PLURALS = {name: name + ('es' if name.endswith('s') else 's') for name in THING_NAMES}

# Stuff kinds drawn as backgrounds. ``cocostuff_id`` is the real COCO-Stuff label id
# (verified by cocostuff_label_id at import time below); ``phrase`` is how captions name it.
# ``place`` says where the kind may appear in a two-region scene: 'upper', 'lower' or 'both'.
STUFF_CLASSES = (
    dict(name='grass', cocostuff_id=124, place='lower', phrase='on grass'),
    dict(name='sky-other', cocostuff_id=157, place='upper', phrase='under a blue sky'),
    dict(name='sand', cocostuff_id=154, place='lower', phrase='on sand'),
    dict(name='sea', cocostuff_id=155, place='both', phrase='on the sea'),
    dict(name='wall-brick', cocostuff_id=171, place='upper', phrase='in front of a brick wall'),
    dict(name='snow', cocostuff_id=159, place='lower', phrase='on snow'),
    dict(name='dirt', cocostuff_id=111, place='lower', phrase='on dirt'),
    dict(name='floor-wood', cocostuff_id=118, place='lower', phrase='on a wooden floor'),
)
STUFF_NAMES = tuple(s['name'] for s in STUFF_CLASSES)
# Short nouns used by the narratives ("In the background there is grass and the sky.").
STUFF_NOUNS = {
    'grass': 'grass',
    'sky-other': 'the sky',
    'sand': 'sand',
    'sea': 'water',
    'wall-brick': 'a brick wall',
    'snow': 'snow',
    'dirt': 'dirt',
    'floor-wood': 'a wooden floor',
}

for _stuff in STUFF_CLASSES:
    assert cocostuff_label_id(_stuff['name']) == _stuff['cocostuff_id'], _stuff

# Per-instance colours (RGB) named in captions and narratives.
COLOURS = {
    'red': (215, 40, 40),
    'orange': (245, 140, 25),
    'yellow': (240, 215, 40),
    'green': (40, 165, 60),
    'blue': (40, 80, 215),
    'purple': (135, 55, 185),
    'pink': (240, 120, 175),
    'cyan': (40, 200, 210),
}
COLOUR_NAMES = tuple(COLOURS)


def stuffthingmap_values():
    """Return the stuffthingmap pixel values (label id - 1) of things then stuff, in order."""
    return tuple(c['id'] - 1 for c in THING_CLASSES) + tuple(s['cocostuff_id'] - 1
                                                             for s in STUFF_CLASSES)


def seg_class_names():
    """Return the contiguous segmentation class names: the things, then the stuff kinds."""
    return THING_NAMES + STUFF_NAMES


# Display palette (RGB) of the segmentation classes: things first, then stuff.
SEG_PALETTE = (
    (220, 20, 60),
    (0, 130, 200),
    (255, 180, 0),
    (145, 30, 180),
    (0, 190, 120),
    (240, 50, 230),
    (170, 110, 40),
    (70, 240, 240),
    (60, 150, 50),
    (130, 190, 240),
    (225, 200, 140),
    (20, 70, 160),
    (150, 60, 45),
    (235, 235, 245),
    (110, 80, 50),
    (190, 140, 90),
)
assert len(SEG_PALETTE) == len(THING_CLASSES) + len(STUFF_CLASSES)
