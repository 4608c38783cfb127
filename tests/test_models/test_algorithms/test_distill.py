"""Distillation configs train on tiny data; the teacher and the wiring are checked first."""
import glob
import os.path as osp
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config
from mmrazor.registry import MODELS
from torch import nn

from conftest import (CWD, CWD_ATT, DISTILL_CONFIGS, ROOT, STUDENT, TEACHER,
                      distillation_and_batch, logged, options_argv, run_tool, save_model,
                      tiny_config, tiny_options)


@pytest.fixture(scope='module')
def saved_teacher(tmp_path_factory):
    """A randomly initialised checkpoint of a teacher config, made once per config."""
    saved = {}

    def get(config):
        config = osp.abspath(config)
        if config not in saved:
            path = tmp_path_factory.mktemp('teacher') / 'teacher.pth'
            save_model(config, path)
            saved[config] = str(path)
        return saved[config]

    return get


@pytest.fixture(scope='module')
def teacher_ckpt(saved_teacher):
    return saved_teacher(osp.join(ROOT, TEACHER))


def test_every_distillation_config_is_trained_below():
    # 19 CWD, 5 YOLOv8 LD (one with CWD+attention, one with classification KD), 13 YOLOv5 LD
    # (5 temperatures, two with CWD+attention: one share, a share per part; one with the full
    # label loss; one with the objectness KD as a KL divergence)
    assert len(DISTILL_CONFIGS) == 37
    assert CWD in DISTILL_CONFIGS and CWD_ATT in DISTILL_CONFIGS
    for config in DISTILL_CONFIGS:  # and averages its student without copying the teacher
        hooks = Config.fromfile(osp.join(ROOT, config)).custom_hooks
        assert [h.get('ema_type') for h in hooks if h.type == 'EMAHook'] == \
            ['KDExpMomentumEMA'], config


@pytest.mark.parametrize('config', [
    c if c.endswith('_demo.py') else pytest.param(c, marks=pytest.mark.slow)  # COCO, pothole
    for c in DISTILL_CONFIGS], ids=[osp.basename(c)[:-3] for c in DISTILL_CONFIGS])
def test_distillation_trains_two_iterations(config, tiny_data, saved_teacher, tmp_path):
    cfg = Config.fromfile(osp.join(ROOT, config))
    ckpt = saved_teacher(cfg.model.teacher.cfg_path)
    work = tmp_path / 'work'
    out = run_tool(['tools/train.py', tiny_config(config, tiny_data, ckpt, tmp_path),
                    '--work-dir', str(work)])
    assert 'Epoch(train) [1][2/2]' in out
    for name in cfg.model.distiller.distill_losses:
        values = logged(work, f'distill.{name}')
        assert len(values) == 2 and all(v > 0 for v in values), (name, values)
    assert len(logged(work, 'student.loss_cls')) == 2
    cls_kd = cfg.model.distiller.distill_losses.get('loss_cls_kd')
    if cls_kd:  # gamma 0.5 splits loss_cls, unless the label part keeps its full weight
        assert ("loss_cls_kd: the student's own loss_cls weight x 0.5 -> " in out) is \
            cls_kd.get('scale_student_label_loss', True)
    assert 'Epoch(val) [1][1/1]' in out and 'Evaluating bbox' in out
    if config.startswith('configs/ld/'):  # precision and recall beside COCO mAP
        assert 'precision/recall at score >= 0.25, IoU >= 0.5' in out
        assert len(logged(work, 'pr/precision')) == 1 and len(logged(work, 'pr/recall')) == 1
    # (an untrained 80-class model predicts nothing above the score threshold: no mAP logged)
    if config.startswith('configs/cwd/') and 'coco' in config:  # the CWD paper's optimiser
        assert "type='Adam'" in open(glob.glob(f'{work}/*/vis_data/config.py')[0]).read()


def _algorithm(teacher_ckpt, **teacher):
    cfg = Config.fromfile(f'{ROOT}/{CWD_ATT}')
    model = dict(cfg.model, teacher_ckpt=teacher_ckpt)
    if teacher:
        model['teacher'] = teacher
    return MODELS.build(model)


def test_teacher_is_loaded_frozen_and_in_eval_mode(teacher_ckpt):
    algorithm = _algorithm(teacher_ckpt)
    saved = torch.load(teacher_ckpt, weights_only=False)['state_dict']
    for k, v in algorithm.teacher.state_dict().items():
        assert torch.equal(v, saved[k]), k
    algorithm.train()
    assert all(not p.requires_grad for p in algorithm.teacher.parameters())
    assert all(not m.training for m in algorithm.teacher.modules()
               if isinstance(m, nn.BatchNorm2d))
    assert any(p.requires_grad for p in algorithm.distiller.parameters())


def test_missing_teacher_checkpoint_stops_clearly(tmp_path):
    with pytest.raises(FileNotFoundError, match='teacher_ckpt .*missing.pth does not exist: '
                       'train the teacher first'):
        _algorithm(str(tmp_path / 'missing.pth'))


def test_truncated_or_foreign_teacher_checkpoint_stops_clearly(teacher_ckpt, tmp_path):
    truncated = tmp_path / 'truncated.pth'
    data = open(teacher_ckpt, 'rb').read()
    truncated.write_bytes(data[:len(data) // 3])  # an interrupted copy
    text = tmp_path / 'notes.pth'
    text.write_text('teacher: see the shared drive\n')
    for path in (truncated, text):
        with pytest.raises(ValueError, match=f'teacher_ckpt {path} could not be read as a '
                           'checkpoint .*truncated .*or not a PyTorch checkpoint'):
            _algorithm(str(path))


def test_teacher_checkpoint_that_would_run_code_is_refused(tmp_path):
    from test_compat import _RunsCode

    import kd_plugins
    marker = tmp_path / 'pwned'
    evil = tmp_path / 'teacher.pth'
    torch.save({'state_dict': {}, 'evil': _RunsCode(str(marker))}, str(evil))
    with pytest.raises(kd_plugins.compat.UnsafeCheckpointError, match='refused to load'):
        _algorithm(str(evil))
    assert not marker.exists()


def test_teacher_checkpoint_of_another_model_stops_clearly(tmp_path):
    wrong = tmp_path / 'yolov8n.pth'
    save_model(STUDENT, wrong)  # a YOLOv8-N checkpoint given as the YOLOv8-S teacher
    with pytest.raises(ValueError, match='does not fit the teacher config: different shapes: '
                       r'backbone\.'):
        _algorithm(str(wrong))


def test_teacher_with_other_classes_stops_clearly(teacher_ckpt):
    teacher = Config.fromfile(f'{ROOT}/{TEACHER}').model
    teacher.bbox_head.head_module.num_classes = 80
    teacher._scope_ = 'mmyolo'
    with pytest.raises(ValueError, match='teacher predicts 80 classes and the student 5'):
        _algorithm(teacher_ckpt, **teacher)


def test_spatial_mismatch_names_the_recorders():
    distiller = MODELS.build(dict(
        type='KDConfigurableDistiller', _scope_='mmrazor',
        student_recorders=dict(p3=dict(type='ModuleOutputs', source='0')),
        teacher_recorders=dict(p4=dict(type='ModuleOutputs', source='1')),
        distill_losses=dict(loss_cwd0=dict(type='KDChannelWiseDivergence')),
        loss_forward_mappings=dict(loss_cwd0=dict(
            preds_S=dict(from_student=True, recorder='p3'),
            preds_T=dict(from_student=False, recorder='p4')))))
    student = nn.Sequential(nn.Conv2d(3, 4, 1), nn.Identity())
    teacher = nn.Sequential(nn.Identity(), nn.Conv2d(3, 4, 3, stride=2, padding=1))
    distiller.prepare_from_student(student)
    distiller.prepare_from_teacher(teacher)
    x = torch.randn(1, 3, 8, 8)
    with distiller.student_recorders, distiller.teacher_recorders:
        student(x)
        teacher(x)
    with pytest.raises(ValueError) as e:
        distiller.compute_distill_losses()
    msg = str(e.value)
    assert "distillation loss 'loss_cwd0' failed" in msg and 'spatial size' in msg
    assert "preds_S = student recorder 'p3', shape (1, 4, 8, 8)" in msg
    assert "preds_T = teacher recorder 'p4', shape (1, 4, 4, 4)" in msg


def test_teacher_checkpoint_may_be_a_url(monkeypatch):
    # The YOLOv5 COCO configs point teacher_ckpt at MMYOLO's released weights: a URL is handed
    # to the checkpoint loader, not rejected as a missing file.
    from kd_plugins.models.algorithms import KDYOLOTeacherDistill
    asked = []
    monkeypatch.setattr(KDYOLOTeacherDistill, 'load_teacher', lambda self, p: asked.append(p))
    url = 'https://download.openmmlab.com/mmyolo/v0/yolov5/x.pth'
    _algorithm(url)
    assert asked == [url]


class _Toy(nn.Module):
    """neck.out_layers.{0,1} run in forward; head does not."""

    def __init__(self):
        super().__init__()
        self.neck = nn.Module()
        self.neck.out_layers = nn.ModuleList([nn.Conv2d(3, 4, 1), nn.Conv2d(3, 4, 1)])
        self.head = nn.Conv2d(4, 4, 1)

    def forward(self, x):
        return [layer(x) for layer in self.neck.out_layers]


def _toy_distiller(student_source, teacher_source='neck.out_layers.0'):
    return MODELS.build(dict(
        type='KDConfigurableDistiller', _scope_='mmrazor',
        student_recorders=dict(p3=dict(type='ModuleOutputs', source=student_source)),
        teacher_recorders=dict(p3=dict(type='ModuleOutputs', source=teacher_source)),
        distill_losses=dict(loss_cwd0=dict(type='KDChannelWiseDivergence')),
        loss_forward_mappings=dict(loss_cwd0=dict(
            preds_S=dict(from_student=True, recorder='p3'),
            preds_T=dict(from_student=False, recorder='p3')))))


def test_recorder_source_that_names_no_module_lists_the_closest():
    distiller = _toy_distiller('neck.out_layer.1')
    with pytest.raises(ValueError, match=r"student recorder 'p3': source 'neck.out_layer.1' "
                       r'names no module of the student \(_Toy\); closest: neck.out_layers.1'):
        distiller.prepare_from_student(_Toy())
    distiller = _toy_distiller('neck.out_layers.0', teacher_source='backbone')
    with pytest.raises(ValueError, match="teacher recorder 'p3'.*top-level modules: neck, head"):
        distiller.prepare_from_teacher(_Toy())


def test_recorder_on_a_module_that_never_runs_stops_clearly():
    distiller = _toy_distiller('head')
    student, teacher = _Toy(), _Toy()
    distiller.prepare_from_student(student)
    distiller.prepare_from_teacher(teacher)
    x = torch.randn(1, 3, 8, 8)
    with distiller.student_recorders, distiller.teacher_recorders:
        student(x)
        teacher(x)
    with pytest.raises(RuntimeError, match="loss 'loss_cwd0': student recorder 'p3' \\(source "
                       "'head'\\) recorded nothing in this forward pass: that module never runs"):
        distiller.compute_distill_losses()
    distiller = _toy_distiller('neck.out_layers.1')  # the same wiring on modules that run
    distiller.prepare_from_student(student)
    distiller.prepare_from_teacher(teacher)
    with distiller.student_recorders, distiller.teacher_recorders:
        student(x)
        teacher(x)
    assert distiller.compute_distill_losses()['loss_cwd0'] > 0


def test_kd_ema_averages_the_student_as_mmyolo_does_and_shares_the_teacher(teacher_ckpt):
    from mmyolo.registry import MODELS as YOLO
    algorithm = _algorithm(teacher_ckpt)
    stock = YOLO.build(dict(type='ExpMomentumEMA', model=algorithm, momentum=0.1,
                            update_buffers=True))
    kd = YOLO.build(dict(type='KDExpMomentumEMA', model=algorithm, momentum=0.1,
                         update_buffers=True))
    assert kd.module.teacher is algorithm.teacher  # shared, not copied
    assert not any(k.startswith('teacher.') for k in kd.avg_parameters)
    assert any(k.startswith('teacher.') for k in stock.avg_parameters)
    torch.manual_seed(0)
    for _ in range(3):  # "training": the student and connectors move, the teacher does not
        with torch.no_grad():
            for p in algorithm.architecture.parameters():
                p.add_(torch.randn_like(p) * 0.01)
            for p in algorithm.distiller.parameters():
                p.add_(torch.randn_like(p) * 0.01)
        stock.update_parameters(algorithm)
        kd.update_parameters(algorithm)
    averaged = kd.module.state_dict()
    reference = stock.module.state_dict()
    assert averaged.keys() == reference.keys()
    for k, v in averaged.items():
        assert torch.equal(v, reference[k]), k
    student = dict(algorithm.architecture.named_parameters())
    assert not torch.equal(kd.module.architecture.backbone.stem.conv.weight,
                           student['backbone.stem.conv.weight'])  # an average, not a copy


def test_plain_detector_ema_is_unchanged():
    from mmyolo.registry import MODELS as YOLO
    model = nn.Sequential(nn.Conv2d(3, 4, 1), nn.BatchNorm2d(4))
    kd = YOLO.build(dict(type='KDExpMomentumEMA', model=model, update_buffers=True))
    assert set(kd.avg_parameters) == set(model.state_dict())


def test_ld_teacher_runs_its_head_without_gradients(teacher_ckpt, tiny_data):
    from mmengine.registry import DefaultScope
    from mmengine.runner import Runner
    cfg = Config.fromfile(osp.join(ROOT, 'configs/ld/ld_yolov8-s_yolov8-n_1xb8-30e_demo.py'))
    cfg.merge_from_dict({k: v for k, v in tiny_options(tiny_data, batch_size=2).items()
                         if 'evaluator' not in k})
    with DefaultScope.overwrite_default_scope('mmyolo'):
        algorithm = MODELS.build(dict(cfg.model, teacher_ckpt=teacher_ckpt))
        batch = next(iter(Runner.build_dataloader(cfg.train_dataloader, seed=0)))
    algorithm.train()
    data = algorithm.data_preprocessor(batch, training=True)
    losses = algorithm(**data, mode='loss')
    assert losses['distill.loss_ld'] > 0
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    assert all(p.grad is None for p in algorithm.teacher.parameters())
    head = algorithm.student.bbox_head.head_module
    assert all(p.grad is not None for p in head.reg_preds.parameters())
    # KDR = the positives of the student's own assignment
    recorded = algorithm.distiller.student_recorders.get_recorder('assign_out').data_buffer[0]
    assert recorded['fg_mask_pre_prior'].any()
    with pytest.raises(ValueError, match="teacher_runs must be 'neck' or 'head', got 'all'"):
        MODELS.build(dict(cfg.model, teacher_ckpt=None, teacher_runs='all'))


def _totals(losses):
    """(student total, distillation total) of one step's losses, as MMEngine sums them."""
    return tuple(float(sum(v.detach() for k, v in losses.items()
                           if k.startswith(who) and 'loss' in k))
                 for who in ('student.', 'distill.'))


def test_distill_share_balances_the_distillation_to_its_share(tiny_data, tmp_path):
    """YOLOv8 CWD+attention: with its loss weights alone the distillation is a few per cent
    of the total loss (MMYOLO's YOLOv8 losses grow with the batch); ``distill_share=0.3``
    (its config's default) scales every distillation loss by one detached factor from
    bias-corrected running means of the two totals, hand-computed here over two steps."""
    cfg = Config.fromfile(f'{ROOT}/{CWD_ATT}').model
    assert cfg.distill_share == 0.3
    model, data = distillation_and_batch(CWD_ATT, tiny_data, tmp_path, distill_share=None)
    assert model.distill_share is None and 'share_steps' not in model.state_dict()
    plain = model(**data, mode='loss')
    s0, d0 = _totals(plain)
    assert float(plain['kd_share']) == pytest.approx(d0 / (s0 + d0), rel=1e-5)
    assert float(plain['kd_share']) < 0.1 and 'kd_balance' not in plain

    balanced, _ = distillation_and_batch(CWD_ATT, tiny_data, tmp_path, share_momentum=0.5)
    assert balanced.distill_share == 0.3 and int(balanced.share_steps) == 0
    first = balanced(**data, mode='loss')
    s1, d1 = _totals(first)
    factor = 0.3 / 0.7 * s0 / d0  # the first step's means are its own totals
    assert s1 == pytest.approx(s0, rel=1e-5) and d1 == pytest.approx(d0 * factor, rel=1e-4)
    assert float(first['kd_balance']) == pytest.approx(factor, rel=1e-4)
    assert float(first['kd_share']) == pytest.approx(0.3, rel=1e-4) == d1 / (s1 + d1)
    assert not first['kd_balance'].requires_grad and first['distill.loss_cwd0'].requires_grad
    # MMRazor's StopDistillHook: the student's losses alone; the distillation keys logged as
    # zeros (a key no longer logged would keep its last value in MMEngine's printed means)
    balanced.distillation_stopped = True
    calls = []
    balanced.teacher.extract_feat = lambda *a, **k: calls.append(1)  # the teacher no longer runs
    stopped = balanced(**data, mode='loss')
    assert calls == []
    del balanced.teacher.extract_feat
    assert _totals(stopped) == (pytest.approx(s0, rel=1e-5), 0.0)
    assert {k for k in stopped if not k.startswith('student.')} == {k for k in first if not
                                                                    k.startswith('student.')}
    assert all(float(v) == 0 and not v.requires_grad for k, v in stopped.items()
               if not k.startswith('student.'))
    assert int(balanced.share_steps) == 1  # the running means stay as they were
    balanced.distillation_stopped = False
    flipped = dict(data, inputs=data['inputs'].flip(-1))  # other totals at the second step
    s2, d2 = _totals(model(**flipped, mode='loss'))
    second = balanced(**flipped, mode='loss')
    means = [(0.5 * 0.5 * a + 0.5 * b) / (1 - 0.5**2) for a, b in ((s0, s2), (d0, d2))]
    assert float(second['kd_balance']) == pytest.approx(0.3 / 0.7 * means[0] / means[1],
                                                        rel=1e-4)
    state = balanced.state_dict()  # a checkpoint keeps the means: --resume continues them
    assert int(state['share_steps']) == 2
    assert state['share_running_totals'].tolist() == pytest.approx(
        [0.5 * 0.5 * s0 + 0.5 * s2, 0.5 * 0.5 * d0 + 0.5 * d2], rel=1e-5)
    built = MODELS.build(dict(cfg, teacher_ckpt=None, distill_share=0.3))
    assert {'share_running_totals', 'share_steps'} <= set(built.state_dict())
    for bad in (0.0, 1.0, -0.2):
        with pytest.raises(ValueError, match=f'distill_share must be in \\(0, 1\\) or None, '
                           f'got {bad}'):
            MODELS.build(dict(cfg, distill_share=bad))
    with pytest.raises(ValueError, match='share_momentum must be in'):
        MODELS.build(dict(cfg, distill_share=0.3, share_momentum=1.0))


LD_CWD_PARTS = 'configs/ld/ld-cwd-att-parts_yolov5-s_yolov5-n_1xb8-30e_demo.py'


def test_distill_share_per_part_keeps_each_part_at_its_share(tiny_data, tmp_path):
    """YOLOv5 LD + CWD+attention with a share per part: the head part (LD, classification and
    objectness KD) at LD's own 0.3 and the neck part (CWD) at 0.1, each scaled by its own
    factor ``share / (1 - 0.4) * S / D_part``, hand-computed from the same step with the loss
    weights as configured."""
    from kd_plugins.models.algorithms.yolo_teacher_distill import share_groups
    cfg = Config.fromfile(f'{ROOT}/{LD_CWD_PARTS}').model
    ld_share = Config.fromfile(f'{ROOT}/configs/ld/ld_yolov5-s_yolov5-n_1xb8-30e_demo.py')
    assert cfg.distill_share.head.share == ld_share.model.distill_share == 0.3
    assert cfg.distill_share.neck.share == 0.1
    plain, data = distillation_and_batch(LD_CWD_PARTS, tiny_data, tmp_path, distill_share=None)
    raw = plain(**data, mode='loss')
    head = ('loss_ld', 'loss_cls_kd', 'loss_obj_kd')
    assert {k[len('distill.'):] for k in raw if k.startswith('distill.')} == {
        *head, 'loss_cwd0', 'loss_cwd1', 'loss_cwd2'}
    s0 = _totals(raw)[0]
    h0 = sum(float(raw[f'distill.{k}']) for k in head)
    n0 = sum(float(raw[f'distill.loss_cwd{i}']) for i in range(3))
    assert h0 > 0 and n0 > 0

    parts, _ = distillation_and_batch(LD_CWD_PARTS, tiny_data, tmp_path)
    assert parts.state_dict()['share_running_totals'].shape == (3,)  # student, head, neck
    out = parts(**data, mode='loss')
    f_head, f_neck = 0.3 / 0.6 * s0 / h0, 0.1 / 0.6 * s0 / n0  # first step: means = totals
    assert _totals(out)[0] == pytest.approx(s0, rel=1e-5)  # the student's own losses as they were
    for k in head:
        expected = float(raw[f'distill.{k}']) * f_head
        assert float(out[f'distill.{k}']) == pytest.approx(expected, rel=1e-4, abs=1e-9), k
    for i in range(3):
        k = f'distill.loss_cwd{i}'
        assert float(out[k]) == pytest.approx(float(raw[k]) * f_neck, rel=1e-4), k
    assert float(out['kd_balance_head']) == pytest.approx(f_head, rel=1e-4)
    assert float(out['kd_balance_neck']) == pytest.approx(f_neck, rel=1e-4)
    assert float(out['kd_share_head']) == pytest.approx(0.3, rel=1e-4)
    assert float(out['kd_share_neck']) == pytest.approx(0.1, rel=1e-4)
    assert float(out['kd_share']) == pytest.approx(0.4, rel=1e-4)
    assert 'kd_balance' not in out and out['distill.loss_ld'].requires_grad
    assert not out['kd_balance_head'].requires_grad
    parts.distillation_stopped = True  # StopDistillHook: every part's keys at zero
    stopped = parts(**data, mode='loss')
    assert {k for k in stopped if not k.startswith('student.')} == {k for k in out if not
                                                                    k.startswith('student.')}
    assert all(float(v) == 0 for k, v in stopped.items() if not k.startswith('student.'))
    assert _totals(stopped)[0] == pytest.approx(s0, rel=1e-5)

    # a distillation loss that no part names, or two parts do, stops the first step
    for shares, words in (
            (dict(head=dict(share=0.3, losses=['loss_ld'])), 'loss_cls_kd is in no part'),
            (dict(all=dict(share=0.3, losses=['loss_']), neck=dict(share=0.1, losses='loss_cwd')),
             'loss_cwd0 is in 2 parts \\(all, neck\\)')):
        model, _ = distillation_and_batch(LD_CWD_PARTS, tiny_data, tmp_path,
                                          distill_share=shares)
        with pytest.raises(ValueError, match=words):
            model(**data, mode='loss')
    # what a part must be
    assert share_groups(0.3) == [('', 0.3, None)] and share_groups(None) is None
    assert share_groups(dict(a=dict(share=0.2, losses='loss_x'))) == [('a', 0.2, ('loss_x',))]
    for bad, words in ((dict(a=dict(share=0.6, losses=['x']), b=dict(share=0.4, losses=['y'])),
                        'add up to 1'),
                       (dict(a=dict(share=0.0, losses=['x'])), 'share must be in \\(0, 1\\)'),
                       (dict(a=dict(share=0.2, losses=[])), 'losses must be loss name prefixes'),
                       (dict(a=dict(share=0.2)), "part 'a': a name"),
                       ({'a b': dict(share=0.2, losses=['x'])}, "part 'a b': a name"),
                       ({}, 'or a dict'), ('0.3', 'or a dict'), (1.0, 'in \\(0, 1\\) or None')):
        with pytest.raises(ValueError, match=words):
            share_groups(bad)


def test_non_finite_loss_stops_training_before_the_step(tmp_path, tiny_data):
    # A teacher with a NaN weight makes the distillation loss NaN at the first iteration.
    nan_teacher = tmp_path / 'nan_teacher.pth'
    model = save_model(TEACHER, nan_teacher)
    state = model.state_dict()
    state['backbone.stem.conv.weight'][0, 0, 0, 0] = float('nan')
    from mmengine.runner import save_checkpoint
    save_checkpoint(dict(state_dict=state, meta=dict()), str(nan_teacher))
    work = tmp_path / 'work'
    opts = dict(tiny_options(tiny_data), **{'model.teacher_ckpt': str(nan_teacher)})
    r = subprocess.run([sys.executable, 'tools/train.py', CWD, '--work-dir', str(work),
                        '--cfg-options', *options_argv(opts)], cwd=ROOT, capture_output=True,
                       text=True, timeout=600)
    assert r.returncode != 0
    assert ('NonFiniteLossError: loss distill.loss_cwd0 is [nan] at iteration 1 (epoch 1): '
            'training stopped before this step, no checkpoint written after it. Last '
            'checkpoint: none yet.') in r.stderr
    assert not glob.glob(str(work / '*.pth'))


def test_non_finite_loss_names_the_last_checkpoint():
    from mmengine.logging import MessageHub

    from kd_plugins.models.algorithms.yolo_teacher_distill import (NonFiniteLossError,
                                                                   _stop_if_not_finite)
    hub = MessageHub.get_instance('kd_nan_test')
    hub.update_info('iter', 41)
    hub.update_info('epoch', 3)
    hub.update_info('last_ckpt', 'work_dirs/x/epoch_3.pth')
    ok = {'student.loss_cls': torch.tensor(1.), 'distill.loss_cwd0': torch.tensor(0.5)}
    _stop_if_not_finite(ok)
    with pytest.raises(NonFiniteLossError, match=r'loss distill.loss_cwd1 is \[inf\] at '
                       r'iteration 42 \(epoch 4\).*Last checkpoint: work_dirs/x/epoch_3.pth'):
        _stop_if_not_finite(dict(ok, **{'distill.loss_cwd1': torch.tensor(float('inf'))}))


@pytest.mark.skipif(torch.cuda.is_available(), reason='exercises the CPU (gloo) path')
@pytest.mark.parametrize('config', [CWD_ATT, 'configs/ld/ld_yolov5-s_yolov5-n_1xb8-30e_demo.py'],
                         ids=['cwd_att_yolov8', 'ld_yolov5'])
@pytest.mark.slow
def test_two_process_distillation(config, tiny_data, saved_teacher, tmp_path):
    """Distillation across 2 CPU processes (gloo, DDP): every distillation loss is computed
    and non-zero on both ranks, both ranks end with the same student and connector weights,
    and the teacher is exactly its checkpoint."""
    import os
    cfg = Config.fromfile(osp.join(ROOT, config))
    ckpt = saved_teacher(cfg.model.teacher.cfg_path)
    tiny = Config.fromfile(tiny_config(config, tiny_data, ckpt, tmp_path))
    tiny.merge_from_dict({'train_dataloader.batch_size': 2, 'train_cfg.max_epochs': 2,
                          'default_hooks.param_scheduler.max_epochs': 2})
    tiny.custom_imports.imports.append('kd_test_hooks')
    tiny.custom_hooks.append(dict(type='KDTestRankDumpHook'))
    path = tmp_path / 'ddp.py'
    tiny.dump(str(path))
    work = tmp_path / 'work'
    env = dict(os.environ, PYTHON=sys.executable, PORT='29617', OMP_NUM_THREADS='1',
               PYTHONPATH=os.pathsep.join([osp.join(ROOT, 'tests', 'helpers'),
                                           os.environ.get('PYTHONPATH', '')]))
    r = subprocess.run(['bash', 'tools/dist_train.sh', str(path), '2', '--work-dir', str(work)],
                       cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out[-6000:]
    assert 'Distributed training: True' in out and 'GPU number: 2' in out
    # 8 images, 2 processes x 2 images: 2 iterations per epoch, 2 epochs
    assert 'Epoch(train) [2][2/2]' in out
    ranks = [torch.load(str(work / f'rank{r}.pt'), weights_only=True) for r in (0, 1)]
    names = {f'distill.{n}' for n in cfg.model.distiller.distill_losses}
    for rank in ranks:
        assert len(rank['losses']) == 4
        for it in rank['losses']:
            assert set(it) == names and all(v > 0 for v in it.values()), it
    # each rank distils its own images: different values, so both computed their own
    assert ranks[0]['losses'] != ranks[1]['losses']
    teacher = torch.load(ckpt, weights_only=False)['state_dict']
    learned = 0
    for name, p0 in ranks[0]['params'].items():
        assert torch.equal(p0, ranks[1]['params'][name]), name
        if name.startswith('teacher.'):
            assert torch.equal(p0, teacher[name[len('teacher.'):]]), name
        else:
            learned += 1
    assert learned > 0 and any(n.startswith('distiller.') for n in ranks[0]['params']) == \
        config.startswith('configs/cwd/')  # connectors: CWD projects and attends; LD has none
