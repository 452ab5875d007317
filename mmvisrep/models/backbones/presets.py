"""Visual-branch configs of the semantic-visual-loss VLP (Yang et al., TMM 2023, section IV-A1).

Both branches are stock mmpretrain backbones at 384x384 input with a 12x12 output grid:

* ViT-B/32 with 9 layers (``VisionTransformer``, ``out_type='featmap'``: the 144 patch tokens
  as a (B, 768, 12, 12) map; its own position embeddings).
* ResNet-50 C5 (``ResNet``, ``out_indices=(3,)``: (B, 2048, 12, 12)) plus the learned 2-D
  :class:`GridPositionEmbedding2D` (``visual_pos_embed`` of ``SemanticVLP``). For SEGL the
  paper resizes the R50 feature map to 24x24 (``segl.feature_size=(24, 24)``).

Configs are data, so text configs copy these dicts; the functions serve tests and benchmarks.
"""
import copy

VIT_B32_L9_384 = dict(
    type='VisionTransformer',
    arch=dict(embed_dims=768, num_layers=9, num_heads=12, feedforward_channels=3072),
    img_size=384,
    patch_size=32,
    out_type='featmap',
    final_norm=True)

RESNET50_GRID = dict(type='ResNet', depth=50, out_indices=(3, ))

RESNET50_GRID_POS = dict(type='GridPositionEmbedding2D', channels=2048)


def vit_b32_l9_384(**overrides) -> dict:
    """The 9-layer ViT-B/32 visual branch at 384 px (a copy; keys in ``overrides`` replace)."""
    cfg = copy.deepcopy(VIT_B32_L9_384)
    cfg.update(overrides)
    return cfg


def resnet50_grid(**overrides) -> dict:
    """The ResNet-50 C5 grid visual branch (a copy; keys in ``overrides`` replace)."""
    cfg = copy.deepcopy(RESNET50_GRID)
    cfg.update(overrides)
    return cfg
