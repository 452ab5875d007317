from . import backbones  # noqa: F401
from . import algorithms, heads, losses, necks, utils  # noqa: F401
