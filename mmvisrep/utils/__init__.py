from .checkpoint import register_checkpoint_safe_globals
from .collect_env import collect_env
from .setup_env import register_all_modules

__all__ = ['collect_env', 'register_all_modules', 'register_checkpoint_safe_globals']
