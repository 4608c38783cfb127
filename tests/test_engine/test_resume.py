"""An interrupted distillation resumes to the same weights as an uninterrupted run."""
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config

from conftest import CWD_ATT, ROOT, TEACHER, logged, run_tool, save_model, tiny_config

HELPERS = osp.join(ROOT, 'tests', 'helpers')


def _resume_config(tiny_data, teacher, tmp_path, kill_at=None):
    """CWD + attention (projector and attention connectors, KD EMA) for 4 epochs of 2
    iterations in deterministic mode; distillation stops at the 4th epoch (MMRazor's
    StopDistillHook) and the pipeline switches (close mosaic) there too."""
    cfg = Config.fromfile(tiny_config(CWD_ATT, tiny_data, teacher, tmp_path))
    cfg.merge_from_dict({
        'train_cfg.max_epochs': 4, 'train_cfg.val_interval': 4,
        'default_hooks.param_scheduler.max_epochs': 4,
        'randomness.deterministic': True,
        'log_processor.window_size': 1})  # log each iteration's values, not running means
    cfg.custom_hooks[1].switch_epoch = 3
    cfg.custom_hooks.append(dict(type='mmrazor.StopDistillHook', stop_epoch=3))
    assert cfg.default_hooks.epoch_seed.type == 'EpochSeedHook'  # from the configs
    if kill_at is not None:
        cfg.custom_imports.imports.append('kd_test_hooks')
        cfg.custom_hooks.append(dict(type='KDTestKillHook', at_iter=kill_at))
    path = tmp_path / ('killed.py' if kill_at is not None else 'whole.py')
    cfg.dump(str(path))
    return str(path)


def _checkpoint(path):
    from kd_plugins.compat import safe_torch_load
    return safe_torch_load(str(path))


def _assert_same(a, b, where=''):
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and torch.equal(a, b), where
    elif isinstance(a, dict):
        assert set(a) == set(b), where
        for k in a:
            _assert_same(a[k], b[k], f'{where}.{k}')
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            _assert_same(x, y, f'{where}[{i}]')
    else:
        assert a == b, where


def _records_after(work, iteration):
    """The run's log records after ``iteration`` (and its validations), without timings."""
    from kd_plugins.analysis import scalar_log
    timing = ('time', 'data_time', 'eta', 'memory')
    return [{k: v for k, v in r.items() if k not in timing}
            for r in scalar_log(str(work))
            if r.get('iter', 0) > iteration or 'coco/bbox_mAP' in r]


@pytest.mark.slow
def test_killed_distillation_resumes_to_identical_weights(tiny_data, tmp_path):
    teacher = str(tmp_path / 'teacher.pth')
    save_model(TEACHER, teacher)
    whole, cut = tmp_path / 'whole', tmp_path / 'cut'
    run_tool(['tools/train.py', _resume_config(tiny_data, teacher, tmp_path),
              '--work-dir', str(whole)])
    # Killed (SIGKILL) one iteration into epoch 3, after epoch 2's checkpoint.
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [HELPERS, os.environ.get('PYTHONPATH', '')]))
    r = subprocess.run([sys.executable, 'tools/train.py',
                        _resume_config(tiny_data, teacher, tmp_path, kill_at=5),
                        '--work-dir', str(cut)], cwd=ROOT, env=env, capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == -9, r.stderr[-3000:]
    assert 'Epoch(train) [3][1/2]' in r.stdout + r.stderr
    assert not (cut / 'epoch_3.pth').exists()
    out = run_tool(['tools/train.py', _resume_config(tiny_data, teacher, tmp_path),
                    '--work-dir', str(cut), '--resume'])
    assert 'resumed epoch: 2, iter: 4' in out
    assert 'Distillation has been stopped!' in out
    a, b = _checkpoint(whole / 'epoch_4.pth'), _checkpoint(cut / 'epoch_4.pth')
    # student, teacher, projectors and attention modules; the EMA average; the optimiser
    # (momentum buffers, step counts).
    assert any('connectors.s0' in k for k in a['state_dict'])
    assert any('connectors' in k for k in a['ema_state_dict'])
    for key in ('state_dict', 'ema_state_dict', 'optimizer'):
        _assert_same(a[key], b[key], key)
    assert (a['meta']['epoch'], a['meta']['iter']) == (b['meta']['epoch'], b['meta']['iter'])
    # Same losses at every iteration after the resume point, same final metrics.
    after = _records_after(whole, 4)
    assert len(after) == 5 and after == _records_after(cut, 4)  # 4 iterations + validation
    assert logged(whole, 'coco/bbox_mAP') == logged(cut, 'coco/bbox_mAP')
    # Distillation ran in epoch 3 and had stopped in epoch 4, in both runs: from then on the
    # total loss is the student's alone (the logged distill.* value is the last one, stale).
    for work in (whole, cut):
        for rec in _records_after(work, 0):
            if rec.get('epoch') in (3, 4):
                student = sum(v for k, v in rec.items() if k.startswith('student.loss'))
                gap = rec['loss'] - student
                assert (gap > 1e-3) if rec['epoch'] == 3 else abs(gap) < 1e-4, (work, rec)


def _runner(epoch, workers, persistent, seed=7):
    from functools import partial
    from types import SimpleNamespace

    from mmengine.dataset import worker_init_fn
    from torch.utils.data import DataLoader
    loader = DataLoader(list(range(4)), num_workers=workers, persistent_workers=persistent,
                        worker_init_fn=partial(worker_init_fn, num_workers=workers, rank=0,
                                               seed=seed))
    messages = []
    logger = SimpleNamespace(warning=messages.append)
    return SimpleNamespace(seed=seed, epoch=epoch, train_dataloader=loader,
                           logger=logger), messages


def test_epoch_seed_hook_seeds_every_generator_and_the_workers():
    import random

    import numpy as np

    from kd_plugins.engine import EpochSeedHook, epoch_seed
    seeds = {epoch_seed(7, e) for e in range(100)} | {epoch_seed(8, e) for e in range(100)}
    assert len(seeds) == 200 and all(0 <= s < 2**32 for s in seeds)
    hook = EpochSeedHook()
    runner, _ = _runner(epoch=3, workers=2, persistent=False)
    hook.before_train_epoch(runner)
    drawn = (random.random(), np.random.rand(), torch.rand(1).item())
    s = epoch_seed(7, 3)
    random.seed(s)
    np.random.seed(s)
    torch.manual_seed(s)
    assert drawn == (random.random(), np.random.rand(), torch.rand(1).item())
    init = runner.train_dataloader.worker_init_fn
    assert init.keywords == dict(num_workers=2, rank=0, seed=s)
    # Persistent workers keep their seed (they are not recreated) and a resume says so.
    runner, messages = _runner(epoch=3, workers=2, persistent=True)
    hook.before_train_epoch(runner)
    hook.before_train(runner)
    assert runner.train_dataloader.worker_init_fn.keywords['seed'] == 7
    assert len(messages) == 1 and 'persistent_workers=False or num_workers=0' in messages[0]
    runner, messages = _runner(epoch=0, workers=2, persistent=True)  # not a resume: silent
    hook.before_train(runner)
    assert messages == []
