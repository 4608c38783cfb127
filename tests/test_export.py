"""tools/export_student.py: the student alone, as a plain MMYOLO checkpoint and config."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from conftest import ROOT, options_argv, tiny_options
from test_distill import CWD, DISTILL_CONFIGS
from test_train import logged, run_tool


def _distill_checkpoint(config, path):
    from mmengine.registry import DefaultScope
    from mmengine.runner import save_checkpoint
    from mmrazor.registry import MODELS
    with DefaultScope.overwrite_default_scope('mmyolo'):
        cfg = Config.fromfile(osp.join(ROOT, config))
        algorithm = MODELS.build(dict(cfg.model, teacher_ckpt=None))
    torch.manual_seed(0)
    with torch.no_grad():  # weights unlike any initialisation, BN statistics included
        for v in algorithm.state_dict().values():
            if v.is_floating_point():
                v.mul_(1 + 0.05 * torch.randn_like(v)).add_(0.001)
    save_checkpoint(dict(state_dict=algorithm.state_dict(), meta=dict(epoch=3)), str(path))
    return algorithm


@pytest.mark.parametrize('config', DISTILL_CONFIGS,
                         ids=[osp.basename(c)[:-3] for c in DISTILL_CONFIGS])
def test_export_is_exact_for_every_distillation_config(config, tmp_path):
    from kd_plugins.export import export_student
    algorithm = _distill_checkpoint(config, tmp_path / 'distill.pth')
    cfg_out, ckpt_out, diff = export_student(osp.join(ROOT, config), str(tmp_path / 'distill.pth'),
                                             str(tmp_path / 'out'), img_size=64)
    assert diff == 0
    state = torch.load(ckpt_out, weights_only=False)['state_dict']
    assert set(state) == set(algorithm.student.state_dict())
    assert not any(k.startswith(('teacher', 'distiller', 'architecture')) for k in state)
    exported = Config.fromfile(cfg_out)
    assert 'distiller' not in exported.model and exported.model.type == 'YOLODetector'


def test_export_refuses_a_plain_detector_checkpoint(tmp_path):
    from mmengine.runner import save_checkpoint

    from kd_plugins.export import export_student
    save_checkpoint(dict(state_dict={'backbone.stem.conv.weight': torch.zeros(1)}),
                    str(tmp_path / 'plain.pth'))
    with pytest.raises(ValueError, match='not a distillation checkpoint'):
        export_student(osp.join(ROOT, CWD), str(tmp_path / 'plain.pth'), str(tmp_path / 'o'))


@pytest.mark.slow
def test_exported_student_tests_like_the_distillation(tiny_data, tmp_path):
    from test_distill import _save_model
    teacher = tmp_path / 'teacher.pth'
    _save_model('configs/yolov8/yolov8_s_fast_1xb8-30e_demo.py', teacher)
    work = tmp_path / 'work'
    opts = dict(tiny_options(tiny_data), **{'model.teacher_ckpt': str(teacher)})
    run_tool(['tools/train.py', CWD, '--work-dir', str(work), '--cfg-options',
              *options_argv(opts)])
    val_map = logged(work, 'coco/bbox_mAP')[-1]
    out = run_tool(['tools/export_student.py', CWD, str(work / 'epoch_1.pth'), '--out-dir',
                    str(tmp_path / 'student')])
    assert 'max abs difference 0' in out
    test_opts = {k: v for k, v in tiny_options(tiny_data).items() if 'test' in k}
    out = run_tool(['tools/test.py', str(tmp_path / 'student' / 'yolov8_n_fast_1xb8-30e_demo.py'),
                    str(tmp_path / 'student' / 'student.pth'), '--work-dir',
                    str(tmp_path / 'test'), '--cfg-options', *options_argv(test_opts)])
    test_map = float(out.split('coco/bbox_mAP:')[1].split()[0])
    assert test_map == pytest.approx(val_map, abs=1e-3)
