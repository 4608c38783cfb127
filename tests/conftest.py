import os
import os.path as osp
import sys

import pytest

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)
os.environ.setdefault('OMP_NUM_THREADS', '2')

import kd_plugins  # noqa: E402,F401


@pytest.fixture(scope='session')
def tiny_data(tmp_path_factory):
    """A tiny demo dataset: 8 train / 4 val images of 128 px."""
    from kd_plugins.datasets import generate_demo_dataset
    root = str(tmp_path_factory.mktemp('tiny_demo'))
    generate_demo_dataset(root, num_train=8, num_val=4, img_size=128, seed=1)
    return root


def tiny_options(data_root, batch_size=4, epochs=1):
    """--cfg-options that make a demo config train ``8 / batch_size * epochs`` iterations on
    the tiny dataset, validate once at the end and checkpoint every epoch."""
    data_root = osp.abspath(data_root) + '/'
    opts = {
        'train_dataloader.dataset.data_root': data_root,
        'val_dataloader.dataset.data_root': data_root,
        'test_dataloader.dataset.data_root': data_root,
        'val_evaluator.ann_file': data_root + 'annotations/val.json',
        'test_evaluator.ann_file': data_root + 'annotations/val.json',
        'train_dataloader.batch_size': batch_size,
        'train_dataloader.num_workers': 0,
        'train_dataloader.persistent_workers': False,
        'val_dataloader.num_workers': 0,
        'val_dataloader.persistent_workers': False,
        'test_dataloader.num_workers': 0,
        'test_dataloader.persistent_workers': False,
        'train_cfg.max_epochs': epochs,
        'train_cfg.val_interval': epochs,
        'default_hooks.param_scheduler.max_epochs': epochs,
        'default_hooks.checkpoint.interval': 1,
        'default_hooks.logger.interval': 1,
        'default_hooks.checkpoint.save_best': None,
        'randomness.seed': 0,
    }
    return opts


def options_argv(opts):
    out = []
    for k, v in opts.items():
        out.append(f'{k}={v}')
    return out
