"""register_all_modules sets the mmpretrain scope and exposes mmvisrep's registered modules."""
from mmengine import DefaultScope


def test_register_all_modules_sets_scope_and_registers():
    from mmvisrep.utils import register_all_modules
    register_all_modules()
    assert DefaultScope.get_current_instance().scope_name == 'mmpretrain'

    from mmdet.registry import MODELS as DET_MODELS
    from mmpretrain.registry import DATASETS, MODELS, TRANSFORMS
    from mmseg.registry import DATASETS as SEG_DATASETS
    assert MODELS.get('SoCo').__module__ == 'mmvisrep.models.algorithms.soco'
    assert MODELS.get('BYOL').__module__.startswith('mmpretrain.')  # upstream names untouched
    assert TRANSFORMS.get('SoCoViews') is not None
    assert DATASETS.get('SoCoProposalDataset') is not None
    assert DET_MODELS.get('SoCoSharedConvFCBBoxHead') is not None
    assert SEG_DATASETS.get('ToySceneStuffDataset') is not None
