"""Registry set-up: import every mmvisrep module and choose the default scope."""
import datetime
import warnings

from mmengine import DefaultScope


def register_all_modules(init_default_scope: bool = True) -> None:
    """Register mmpretrain's and mmvisrep's modules into mmpretrain's registries.

    Args:
        init_default_scope: set the default scope to ``'mmpretrain'`` (the scope our
            pretraining configs use) so that bare type names resolve there.
    """
    import mmpretrain.datasets  # noqa: F401,F811
    import mmpretrain.engine  # noqa: F401,F811
    import mmpretrain.evaluation  # noqa: F401,F811
    import mmpretrain.models  # noqa: F401,F811
    import mmpretrain.structures  # noqa: F401,F811
    import mmpretrain.visualization  # noqa: F401,F811

    import mmvisrep  # noqa: F401

    if not init_default_scope:
        return
    current = DefaultScope.get_current_instance()
    if current is None:
        DefaultScope.get_instance('mmpretrain', scope_name='mmpretrain')
    elif current.scope_name != 'mmpretrain':
        warnings.warn(f'The current default scope "{current.scope_name}" is not '
                      '"mmpretrain"; `register_all_modules` forces it to "mmpretrain".')
        stamp = datetime.datetime.now().strftime('%Y%m%d-%H%M%S.%f')
        DefaultScope.get_instance(f'mmpretrain-{stamp}', scope_name='mmpretrain')
