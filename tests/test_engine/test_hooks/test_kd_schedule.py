"""KDLossScheduleHook: a distillation weight that decays from 1 to a floor (cosine), after an
optional linear warm-up from 0."""
import math
import os.path as osp
from types import SimpleNamespace

import pytest
import torch
from mmengine.config import Config

from conftest import CWD, ROOT, distillation_and_batch, logged, run_tool, save_model, tiny_config


def test_cosine_scale_golden_values():
    from kd_plugins.engine.kd_schedule import cosine_scale
    assert cosine_scale(0.0, 0.1) == 1.0
    assert cosine_scale(1.0, 0.1) == pytest.approx(0.1)
    assert cosine_scale(0.5, 0.1) == pytest.approx(0.55)  # half way between 1 and the floor
    assert cosine_scale(0.25, 0.0) == pytest.approx((1 + math.cos(math.pi / 4)) / 2)
    assert cosine_scale(2.0, 0.2) == pytest.approx(0.2) and cosine_scale(-1, 0.2) == 1.0


class _Hub:
    def __init__(self):
        self.scalars = {}

    def update_scalar(self, key, value):
        self.scalars[key] = value


def _factors(hook, runner):
    """The factor the hook sets at each iteration of ``runner``'s training."""
    hook.before_train(runner)
    seen = []
    for it in range(runner.max_iters):
        runner.iter = it
        hook.before_train_iter(runner, it)
        seen.append(runner.model.distill_loss_scale)
    return seen


def test_hook_sets_the_scale_from_the_iteration():
    from kd_plugins.engine import KDLossScheduleHook
    model = SimpleNamespace(distill_loss_scale=1.0)
    runner = SimpleNamespace(model=model, iter=0, max_iters=11, train_dataloader=[0] * 5,
                             message_hub=_Hub())
    seen = _factors(KDLossScheduleHook(floor=0.2), runner)
    assert seen[0] == 1.0 and seen[-1] == pytest.approx(0.2) and seen[5] == pytest.approx(0.6)
    assert all(a > b for a, b in zip(seen, seen[1:]))
    assert runner.message_hub.scalars['train/kd_scale'] == seen[-1]
    # end_epoch 1 of 5 iterations per epoch: the floor from iteration 4 on
    hook = KDLossScheduleHook(floor=0.2, end_epoch=1)
    for it, expected in ((0, 1.0), (2, 0.6), (4, 0.2), (9, 0.2)):
        runner.iter = it
        hook.before_train_iter(runner, it)
        assert model.distill_loss_scale == pytest.approx(expected)


def test_warmup_rises_from_zero_then_decays():
    from kd_plugins.engine import KDLossScheduleHook
    model = SimpleNamespace(distill_loss_scale=1.0)
    # 3 epochs of 4 iterations; warm-up over 1.5 epochs = 6 iterations, decay over the rest
    runner = SimpleNamespace(model=model, iter=0, max_iters=12, max_epochs=3,
                             train_dataloader=[0] * 4, message_hub=_Hub())
    # warm-up alone (floor 1): 0, 1/6, ..., 5/6, then 1 to the end
    assert _factors(KDLossScheduleHook(floor=1.0, warmup_epochs=1.5), runner) == pytest.approx(
        [0, 1 / 6, 2 / 6, 3 / 6, 4 / 6, 5 / 6, 1, 1, 1, 1, 1, 1])
    # with a floor: the cosine runs over iterations 6..11 (progress (it - 6) / 5)
    seen = _factors(KDLossScheduleHook(floor=0.2, warmup_epochs=1.5), runner)
    assert seen[:7] == pytest.approx([0, 1 / 6, 2 / 6, 3 / 6, 4 / 6, 5 / 6, 1])
    assert seen[11] == pytest.approx(0.2)
    assert seen[8] == pytest.approx(0.2 + 0.8 * 0.5 * (1 + math.cos(math.pi * 2 / 5)))
    # no warm-up: as before, 1 at the first iteration
    assert _factors(KDLossScheduleHook(floor=0.2, warmup_epochs=0), runner)[0] == 1.0


def test_hook_refuses_bad_settings_and_a_plain_detector():
    from kd_plugins.engine import KDLossScheduleHook
    with pytest.raises(ValueError, match=r'floor must be in \[0, 1\]'):
        KDLossScheduleHook(floor=1.5)
    with pytest.raises(ValueError, match='end_epoch must be >= 1'):
        KDLossScheduleHook(end_epoch=0)
    with pytest.raises(ValueError, match='warmup_epochs must be >= 0'):
        KDLossScheduleHook(warmup_epochs=-1)
    with pytest.raises(ValueError, match=r'warmup_epochs \(2\) must end before end_epoch'):
        KDLossScheduleHook(warmup_epochs=2, end_epoch=2)
    model = SimpleNamespace(distill_loss_scale=1.0)
    with pytest.raises(ValueError, match=r'must end before the last epoch \(3\)'):
        KDLossScheduleHook(warmup_epochs=3).before_train(
            SimpleNamespace(model=model, max_epochs=3))
    runner = SimpleNamespace(model=torch.nn.Linear(1, 1))
    with pytest.raises(TypeError, match='needs a KDYOLOTeacherDistill model, got Linear'):
        KDLossScheduleHook().before_train(runner)


def test_scale_multiplies_the_distillation_losses_only(tiny_data, tmp_path):
    from mmengine.registry import DefaultScope
    model, data = distillation_and_batch(CWD, tiny_data, tmp_path)

    def step():
        torch.manual_seed(0)
        with DefaultScope.overwrite_default_scope('mmyolo'):
            return {k: v.detach().clone() for k, v in
                    model.loss(data['inputs'], data['data_samples']).items()}

    full = step()
    model.distill_loss_scale = 0.25
    scaled = step()
    distill = [k for k in full if k.startswith('distill.')]
    assert distill
    for k in full:
        if k == 'kd_share':
            continue
        factor = 0.25 if k.startswith('distill.') else 1.0
        assert torch.allclose(scaled[k], full[k] * factor, rtol=1e-6), k
    # the logged share is the distillation's part of the scaled total
    s = sum(v for k, v in full.items() if k.startswith('student.'))
    d = sum(full[k] for k in distill)
    assert float(full['kd_share']) == pytest.approx(float(d / (s + d)), rel=1e-5)
    assert float(scaled['kd_share']) == pytest.approx(float(0.25 * d / (s + 0.25 * d)), rel=1e-5)


@pytest.mark.slow
def test_schedule_in_a_training_run(tiny_data, tmp_path):
    cfg = Config.fromfile(osp.join(ROOT, CWD))
    teacher = str(tmp_path / 'teacher.pth')
    save_model(cfg.model.teacher.cfg_path, teacher)
    tiny = tiny_config(CWD, tiny_data, teacher, tmp_path)
    config = tmp_path / 'scheduled.py'
    config.write_text(f"_base_ = [{tiny!r}]\n"
                      "custom_hooks = _base_.custom_hooks + "
                      "[dict(type='KDLossScheduleHook', floor=0.1)]\n")
    work = tmp_path / 'work'
    run_tool(['tools/train.py', str(config), '--work-dir', str(work)])
    assert logged(work, 'kd_scale') == pytest.approx([1.0, 0.1])  # 2 iterations
    assert all(v > 0 for v in logged(work, 'distill.loss_cwd0'))
