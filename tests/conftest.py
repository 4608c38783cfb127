"""Fixtures and helpers shared by the test modules: the tiny generated dataset, options that
make a config train a few iterations on it, running a tool or loading one as a module, reading
its scalar log, and seeded random checkpoints of teachers."""
import glob
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)
os.environ.setdefault('OMP_NUM_THREADS', '2')

import kd_plugins  # noqa: E402,F401

CWD = 'configs/cwd/cwd_fpn_yolov8-s_yolov8-n_1xb8-30e_demo.py'
CWD_ATT = 'configs/cwd/cwd-att_fpn_yolov8-s_yolov8-n_1xb8-30e_demo.py'
TEACHER = 'configs/yolov8/yolov8_s_fast_1xb8-30e_demo.py'
STUDENT = 'configs/yolov8/yolov8_n_fast_1xb8-30e_demo.py'
DISTILL_CONFIGS = sorted(osp.relpath(p, ROOT) for d in ('cwd', 'ld')
                         for p in glob.glob(f'{ROOT}/configs/{d}/*.py'))
# COCO configs train on the tiny data through the demo pipeline of their model family.
DEMO_DATA_OF = {'yolov5': 'configs/yolov5/yolov5_s-v61_fast_1xb8-30e_demo.py',
                'yolov8': 'configs/yolov8/yolov8_n_fast_1xb8-30e_demo.py'}


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


# --- helpers shared by the test modules ------------------------------------------------------
def load_script(path: str, name: str):
    """The module of a script that is not in a package (``tools/distill.py``), by its path
    under the repository, so that a test can call its functions."""
    import importlib.util
    spec = importlib.util.spec_from_file_location(name, osp.join(ROOT, path))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_tool(args, env=None, timeout=600):
    """Run a tool of the repository (``args[0]``); fail with its output if it fails."""
    r = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True,
                       timeout=timeout, env=env)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-5000:]
    return r.stdout + r.stderr


def logged(work_dir, key):
    """Every value of ``key`` in the run's scalar log (:func:`kd_plugins.analysis.scalar_log`)."""
    from kd_plugins.analysis import scalar_log
    return [rec[key] for rec in scalar_log(str(work_dir)) if key in rec]


def save_model(config, path, seed=0):
    """A seeded, randomly initialised checkpoint of the model of ``config``."""
    from mmengine.runner import save_checkpoint
    from mmyolo.registry import MODELS as YOLO
    from mmyolo.utils import register_all_modules
    register_all_modules()
    torch.manual_seed(seed)
    model = YOLO.build(Config.fromfile(osp.join(ROOT, config)).model)
    save_checkpoint(dict(state_dict=model.state_dict(), meta=dict()), str(path))
    return model


def tiny_config(config, tiny_data, teacher_ckpt, tmp_path):
    """``config`` set up to train 2 iterations on the tiny data, written to a file."""
    cfg = Config.fromfile(osp.join(ROOT, config))
    if 'coco' in config:  # an 80-class model on the demo data and pipeline of its family
        family = osp.basename(config).split('_')[2].split('-')[0]
        demo = Config.fromfile(osp.join(ROOT, DEMO_DATA_OF[family]))
        for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
            cfg[key] = demo[key]
        for key in ('val_evaluator', 'test_evaluator'):  # COCO metric first, others kept
            if isinstance(cfg[key], list):
                cfg[key][0] = demo[key]
            else:
                cfg[key] = demo[key]
    opts = dict(tiny_options(tiny_data), **{'model.teacher_ckpt': teacher_ckpt})
    if isinstance(cfg.val_evaluator, list):  # COCO metric first, then others (e.g. P/R)
        for split in ('val', 'test'):
            opts[f'{split}_evaluator.0.ann_file'] = opts.pop(f'{split}_evaluator.ann_file')
    if 'pothole' in config:  # one class: train and validate on the circles of the tiny data
        for split in ('train', 'val', 'test'):
            opts[f'{split}_dataloader.dataset.metainfo'] = dict(classes=('circle', ))
            opts[f'{split}_dataloader.dataset.data_prefix'] = dict(img='')
        opts['train_dataloader.dataset.ann_file'] = 'annotations/train.json'
        for split in ('val', 'test'):
            opts[f'{split}_dataloader.dataset.ann_file'] = 'annotations/val.json'
    cfg.merge_from_dict(opts)
    path = tmp_path / osp.basename(config)
    cfg.dump(str(path))
    return str(path)


def distillation_and_batch(config, tiny_data, tmp_path, **model_options):
    """The distillation of ``config`` (teacher: a seeded random checkpoint of its config;
    ``model_options`` override its ``model``) and one pre-processed batch of 4 tiny images."""
    from mmengine.registry import DefaultScope
    from mmengine.runner import Runner
    from mmrazor.registry import MODELS
    cfg = Config.fromfile(osp.join(ROOT, config))
    teacher = str(tmp_path / 'teacher.pth')
    save_model(cfg.model.teacher.cfg_path, teacher, seed=3)
    cfg = Config.fromfile(tiny_config(config, tiny_data, teacher, tmp_path))
    with DefaultScope.overwrite_default_scope('mmyolo'):
        torch.manual_seed(0)
        model = MODELS.build(dict(cfg.model, **model_options))
        batch = next(iter(Runner.build_dataloader(cfg.train_dataloader, seed=0)))
    model.train()
    with torch.no_grad():
        data = model.data_preprocessor(batch, training=True)
    return model, data
