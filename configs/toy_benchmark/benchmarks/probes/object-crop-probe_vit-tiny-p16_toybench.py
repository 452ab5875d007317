# Object probes of a frozen toy-benchmark ViT (4 layers, 192 wide, 16 px patches). A 128 px scene
# gives 8x8 tokens, so an object of the benchmark (30-64 px) spans 2-4 tokens a side, too few for
# its outline; each ground-truth object is therefore cropped on its own (a square of 1.3 x its
# longer side around its centre, reflected at the image border) and resized to the ViT's 128 px
# input, the scale range of MAE's random-resized crops. The 8x8 token maps of all four blocks are
# pooled into 3x3 bins, kept, and concatenated (4 x 192 x 9 = 6,912-d), as the ResNet probe keeps
# the bins of C2 and C3; then the same linear probe and kNN as the ResNet probe, on the same
# labelled and test objects. docs/toy_benchmark.md.
#   python tools/benchmarks/object_probe.py THIS_CONFIG CHECKPOINT|random|pixel-stats
_base_ = ['./object-probe_resnet18-w32_toybench.py']

model = dict(
    backbone=dict(
        _delete_=True,
        type='VisionTransformer',
        arch=_base_.toybench_vit_arch,
        img_size=_base_.toybench_img_size,
        patch_size=_base_.toybench_vit_patch,
        out_type='featmap',
        out_indices=(0, 1, 2, 3),
        final_norm=True))

object_probe = dict(
    crop=dict(size=_base_.toybench_img_size, margin=1.3), roi_size=3, keep_bins=True)
