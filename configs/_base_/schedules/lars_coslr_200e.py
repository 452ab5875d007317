# BYOL/SoCo-style schedule: LARS, 10-epoch linear warm-up then cosine decay (mmpretrain's
# imagenet_lars_coslr_200e, re-exported so method configs inherit from one place).
_base_ = 'mmpretrain::_base_/schedules/imagenet_lars_coslr_200e.py'
