"""Hand the runner's epoch to datasets with ``set_epoch`` (``ImageTextShardDataset``).

mmengine calls ``set_epoch`` only on samplers, and an ``IterableDataset`` takes none. Without
this hook the shard dataset still moves to the next epoch on each pass when it is iterated in
the main process or by persistent workers; the hook is needed for non-persistent workers
(fresh dataset copies each epoch) and to restore the shard order after a resume.
"""
from mmengine.hooks import Hook
from mmpretrain.registry import HOOKS


@HOOKS.register_module()
class DatasetEpochHook(Hook):
    """Before each training epoch, call ``train_dataloader.dataset.set_epoch(runner.epoch)``
    when the dataset has that method."""

    priority = 'NORMAL'

    def before_train_epoch(self, runner) -> None:
        dataset = getattr(runner.train_loop.dataloader, 'dataset', None)
        if hasattr(dataset, 'set_epoch'):
            dataset.set_epoch(runner.epoch)
