# mmpretrain's runtime (default_scope='mmpretrain', hooks, visualizer) plus the mmvisrep plugin.
_base_ = 'mmpretrain::_base_/default_runtime.py'

custom_imports = dict(imports=['mmvisrep'], allow_failed_imports=False)
