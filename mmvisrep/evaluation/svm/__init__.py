"""VOC07 linear-SVM benchmark on frozen features (full and low-shot), usable for every method."""
from .benchmark import format_full, format_low_shot, load_or_extract_features, run_svm_benchmark
from .features import backbone_state_dict, build_extractor, extract_features, load_backbone_weights
from .labels import label_matrix, labels_from_data_info, sample_low_shot
from .metrics import interpolated_ap, mean_ap, precision_recall, voc07_svm_ap
from .svm import (PROTOCOL_COSTS, PROTOCOL_K, normalize_features, run_full, run_low_shot,
                  svm_settings)

__all__ = [
    'PROTOCOL_COSTS', 'PROTOCOL_K', 'backbone_state_dict', 'build_extractor', 'extract_features',
    'format_full', 'format_low_shot', 'interpolated_ap', 'label_matrix', 'labels_from_data_info',
    'load_backbone_weights', 'load_or_extract_features', 'mean_ap', 'normalize_features',
    'precision_recall', 'run_full', 'run_low_shot', 'run_svm_benchmark', 'sample_low_shot',
    'svm_settings', 'voc07_svm_ap'
]
