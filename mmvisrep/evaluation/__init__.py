from .grouped_iou import GroupedIoUMetric  # noqa: F401
from .retrieval import ImageTextRecall  # noqa: F401
from .svm import run_svm_benchmark, voc07_svm_ap  # noqa: F401
