from .checkpoint import register_checkpoint_safe_globals
from .collect_env import collect_env
from .data_check import check_data_roots
from .dist import setup_cpu_distributed
from .setup_env import register_all_modules
from .weight_conversion import TARGETS, extract_weights, publish_checkpoint, save_weights

__all__ = [
    'TARGETS', 'check_data_roots', 'collect_env', 'extract_weights', 'publish_checkpoint',
    'register_all_modules', 'register_checkpoint_safe_globals', 'save_weights',
    'setup_cpu_distributed'
]
