"""Missing data roots fail before any model is built, naming the config key."""
import pytest
from mmengine.config import Config

from mmvisrep.utils.data_check import check_data_roots


def test_missing_nested_data_root_is_named(tmp_path):
    cfg = Config(
        dict(
            train_dataloader=dict(
                dataset=dict(type='RepeatDataset', dataset=dict(data_root=str(tmp_path)))),
            val_dataloader=dict(
                dataset=dict(
                    type='ConcatDataset',
                    datasets=[
                        dict(data_root=str(tmp_path)),
                        dict(data_root=str(tmp_path / 'gone'))
                    ]))))
    with pytest.raises(FileNotFoundError) as err:
        check_data_roots(cfg, 'my_config.py')
    message = str(err.value)
    assert message.startswith('my_config.py: val_dataloader.dataset.datasets.1.data_root')
    assert str(tmp_path / 'gone') in message


def test_existing_roots_and_absent_loaders_pass(tmp_path):
    cfg = Config(
        dict(train_dataloader=dict(dataset=dict(data_root=str(tmp_path))), val_dataloader=None))
    check_data_roots(cfg)  # raises nothing
