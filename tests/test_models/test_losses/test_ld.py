"""Localization-distillation losses and KDR/ELR regions on hand-computed cases."""
import math

import pytest
import torch
from mmrazor.registry import MODELS

import kd_plugins  # noqa: F401
from kd_plugins.models.task_modules import ELR, KDR, NONE, ld_region_weights, point_prior_boxes


def build(cfg):
    return MODELS.build(dict(cfg, _scope_='mmrazor'))


def _ld(**kw):
    return build(dict(type='KDLocalizationDistillLoss', **kw))


# ----------------------------------------------------------------------------- LD loss
def test_ld_golden_value():
    # one location, one edge, two bins: p_S = (1/2, 1/2), p_T = (3/4, 1/4) at T = 1
    s = torch.zeros(1, 1, 2)
    t = torch.tensor([[[math.log(3.), 0.]]])
    kl = 0.75 * math.log(1.5) + 0.25 * math.log(0.5)  # 0.130812
    assert _ld(temperature=1.)(s, t).item() == pytest.approx(kl, abs=1e-6)
    # T = 2 softens the teacher to (sqrt3, 1) / (sqrt3 + 1), times T^2
    p = math.sqrt(3) / (math.sqrt(3) + 1)
    kl2 = p * math.log(2 * p) + (1 - p) * math.log(2 * (1 - p))
    assert _ld(temperature=2.)(s, t).item() == pytest.approx(4 * kl2, abs=1e-6)
    assert (kl, 4 * kl2) == pytest.approx((0.130812, 0.145363), abs=1e-6)


def test_ld_zero_for_identical_distributions():
    x = torch.randn(5, 4, 17)
    assert _ld(temperature=30.)(x, x.clone()).item() == pytest.approx(0., abs=1e-6)


@pytest.mark.parametrize('T', [1., 4., 25., 45.])
def test_ld_is_t_squared_times_kl_of_softened_and_sums_edges(T):
    torch.manual_seed(0)
    s, t = torch.randn(6, 4, 8) * 5, torch.randn(6, 4, 8) * 5
    kl = torch.nn.functional.kl_div(torch.log_softmax(s / T, -1), torch.softmax(t / T, -1),
                                    reduction='sum') / 6  # summed over bins and edges
    assert _ld(temperature=T)(s, t).item() == pytest.approx(T * T * kl.item(), rel=1e-5)


def test_ld_equals_mmdet_kd_loss_up_to_its_bin_and_edge_mean():
    from mmdet.models.losses import KnowledgeDistillationKLDivLoss
    torch.manual_seed(1)
    n, T = 17, 10.
    s, t = torch.randn(3, 4, n), torch.randn(3, 4, n)
    theirs = KnowledgeDistillationKLDivLoss(T=T)(s.reshape(-1, n), t.reshape(-1, n))
    ours = _ld(temperature=T)(s, t)
    assert ours.item() == pytest.approx(theirs.item() * 4 * n, rel=1e-5)


def test_ld_region_weights_and_flat_input():
    torch.manual_seed(2)
    s, t = torch.randn(3, 4, 8), torch.randn(3, 4, 8)
    loss = _ld(temperature=1.)
    per = [loss(s[i:i + 1], t[i:i + 1]).item() for i in range(3)]
    w = torch.tensor([2., 1., 0.])
    assert loss(s, t, weight=w).item() == pytest.approx((2 * per[0] + per[1]) / 3, rel=1e-5)
    assert loss(s, t, weight=w, avg_factor=1.).item() == pytest.approx(2 * per[0] + per[1],
                                                                       rel=1e-5)
    assert loss(s, t, weight=torch.zeros(3)).item() == 0.  # empty region
    flat = _ld(temperature=1., num_bins=8)
    assert flat(s.reshape(3, 32), t.reshape(3, 32)).item() == pytest.approx(
        loss(s, t).item(), rel=1e-6)


# ------------------------------------------------- cls / obj KD terms, objectness label MSE
def test_sigmoid_kd_golden_value_and_relative_form():
    from kd_plugins.models.losses.ld_loss import sigmoid_kd
    s, t = torch.tensor([[math.log(3.)]]), torch.zeros(1, 1)
    kd = -(0.5 * math.log(0.75) + 0.5 * math.log(0.25))  # BCE(0.75, 0.5)
    assert sigmoid_kd(s, t, 1.).item() == pytest.approx(kd, abs=1e-6)
    # relative: minus the teacher's own entropy H(0.5) = log 2 -> the binary KL
    kl = kd - math.log(2.)
    assert sigmoid_kd(s, t, 1., relative=True).item() == pytest.approx(kl, abs=1e-6)
    assert sigmoid_kd(s, s.clone(), 7., relative=True).item() == pytest.approx(0., abs=1e-6)


def test_sigmoid_kd_t_squared_and_class_mean():
    from kd_plugins.models.losses.ld_loss import sigmoid_kd
    torch.manual_seed(4)
    s, t = torch.randn(4, 3), torch.randn(4, 3)
    T = 25.
    per = torch.nn.functional.binary_cross_entropy_with_logits(s / T, torch.sigmoid(t / T),
                                                               reduction='none').mean(1)
    assert torch.allclose(sigmoid_kd(s, t, T), T * T * per, rtol=1e-5)


def test_objectness_kd_golden_value():
    from kd_plugins.models.losses.ld_loss import objectness_kd
    s, t = torch.tensor([math.log(3.)]), torch.zeros(1)
    assert objectness_kd(s, t).item() == pytest.approx(0.0625, abs=1e-7)  # (0.75 - 0.5)^2


def test_objectness_kl_golden_value_and_gradient():
    from kd_plugins.models.losses.ld_loss import objectness_kd, objectness_kl

    # teacher 0.8, student 0.01: KL = 0.8 ln(0.8 / 0.01) + 0.2 ln(0.2 / 0.99)
    s = torch.logit(torch.tensor([[0.01, 0.5]])).requires_grad_()
    t = torch.logit(torch.tensor([[0.8, 0.5]]))
    kl = objectness_kl(s, t)
    assert kl.shape == (1, 2)
    assert kl[0, 0].item() == pytest.approx(0.8 * math.log(80) + 0.2 * math.log(0.2 / 0.99),
                                            rel=1e-5)
    assert kl[0, 1].item() == pytest.approx(0.0, abs=1e-6)  # matching: 0
    kl.sum().backward()
    assert s.grad[0, 0].item() == pytest.approx(0.01 - 0.8, rel=1e-4)  # sigmoid(s) - sigmoid(t)
    s2 = s.detach().clone().requires_grad_()
    objectness_kd(s2, t).sum().backward()  # the squared error: 2 (q - p) q (1 - q)
    assert s2.grad[0, 0].item() == pytest.approx(2 * (0.01 - 0.8) * 0.01 * 0.99, rel=1e-4)


def test_sigmoid_mse_loss_golden_values_weight_and_avg_factor():
    from mmyolo.registry import MODELS as YOLO_MODELS
    loss = YOLO_MODELS.build(dict(type='mmyolo.SigmoidMSELoss', loss_weight=2.))
    s, y = torch.tensor([math.log(3.), 0.]), torch.tensor([1., 0.])
    # (0.75 - 1)^2 = 0.0625 and (0.5 - 0)^2 = 0.25, mean 0.15625, x 2
    assert loss(s, y).item() == pytest.approx(0.3125, abs=1e-6)
    assert loss(s, y, weight=torch.tensor([1., 0.]), avg_factor=1.).item() == pytest.approx(
        0.125, abs=1e-6)
    assert loss(s, y, reduction_override='sum').item() == pytest.approx(0.625, abs=1e-6)
    with pytest.raises(ValueError, match='differ in shape'):
        loss(s, y[:1])
    with pytest.raises(ValueError, match="reduction must be 'none', 'mean' or 'sum'"):
        YOLO_MODELS.build(dict(type='mmyolo.SigmoidMSELoss', reduction='avg'))
    assert YOLO_MODELS.get('SigmoidMSELoss').__module__.startswith('kd_plugins.')


def test_gradients_reach_the_student_only():
    from kd_plugins.models.losses.ld_loss import objectness_kd, objectness_kl, sigmoid_kd
    torch.manual_seed(6)
    cases = [(_ld(temperature=30.), (4, 4, 16)),
             (lambda s, t: sigmoid_kd(s, t, 30.).sum(), (4, 5)),
             (lambda s, t: objectness_kd(s, t).sum(), (2, 3, 4, 4)),
             (lambda s, t: objectness_kl(s, t).sum(), (2, 3, 4, 4))]
    for loss, shape in cases:
        s = torch.randn(*shape, requires_grad=True)
        t = torch.randn(*shape, requires_grad=True)
        loss(s, t).backward()
        assert s.grad is not None and s.grad.abs().sum() > 0
        assert t.grad is None


def test_bad_arguments_say_what_is_wrong():
    with pytest.raises(ValueError, match='temperature must be > 0, got 0'):
        _ld(temperature=0)
    with pytest.raises(ValueError, match='loss_weight must be >= 0.0, got -1'):
        _ld(loss_weight=-1)
    with pytest.raises(ValueError, match='same number of bins per edge'):
        _ld()(torch.zeros(2, 4, 16), torch.zeros(2, 4, 17))


def test_names_do_not_shadow_upstream():
    for name in ('KDLocalizationDistillLoss', 'KDDenseLDLoss', 'KDDenseClsKDLoss'):
        assert MODELS.get(name).__module__.startswith('kd_plugins.')


def test_kdr_and_elr_on_a_hand_built_example():
    gt = torch.tensor([[0., 0., 10., 10.]])
    priors = torch.tensor([
        [0., 0., 10., 10.],  # assigned positive: KDR
        [1., 0., 11., 10.],  # IoU 90/110 = 0.82 with the box, not positive: ELR
        [5., 0., 15., 10.],  # IoU 50/150 = 0.33: neither at threshold 0.5
        [100., 100., 110., 110.],  # far away: neither
        [20., 20., 30., 30.],  # positive (the assigner's choice) without overlap: still KDR
    ])
    positive = torch.tensor([True, False, False, False, True])
    w, region = ld_region_weights(priors, gt, positive, elr_iou_thr=0.5, kdr_weight=1.,
                                  elr_weight=0.25)
    assert region.tolist() == [KDR, ELR, NONE, NONE, KDR]
    assert w.tolist() == [1., 0.25, 0., 0., 1.]
    _, region = ld_region_weights(priors, gt, positive, elr_iou_thr=0.3)
    assert region.tolist() == [KDR, ELR, ELR, NONE, KDR]
    w, region = ld_region_weights(priors, torch.zeros(0, 4), torch.zeros(5, dtype=torch.bool))
    assert region.tolist() == [NONE] * 5 and w.sum() == 0


def test_point_priors_and_region_errors():
    boxes = point_prior_boxes(torch.tensor([[8., 8.], [16., 16.]]), torch.tensor([8., 16.]),
                              scale=5.)
    assert boxes.tolist() == [[-12., -12., 28., 28.], [-24., -24., 56., 56.]]
    priors = torch.zeros(3, 4)
    with pytest.raises(ValueError, match=r'elr_iou_thr must be in \(0, 1\], got 0'):
        ld_region_weights(priors, priors, torch.zeros(3, dtype=torch.bool), elr_iou_thr=0)
    with pytest.raises(ValueError, match='elr_weight must be >= 0'):
        ld_region_weights(priors, priors, torch.zeros(3, dtype=torch.bool), elr_weight=-1)
    with pytest.raises(ValueError, match='one flag per prior'):
        ld_region_weights(priors, priors, torch.zeros(2, dtype=torch.bool))


def test_dense_ld_loss_weights_regions_from_the_assigner_call():
    loss = build(dict(type='KDDenseLDLoss', temperature=1., kdr_weight=1., elr_weight=0.5,
                      elr_iou_thr=0.5, prior_scale=1.))
    # four 8-px priors of one 16x16 level: (x, y, stride_w, stride_h)
    priors = torch.tensor([[4., 4., 8., 8.], [12., 4., 8., 8.], [4., 12., 8., 8.],
                           [12., 12., 8., 8.]])
    # one real box, and one padding row (flag 0) that must be ignored although it would
    # match prior 3 exactly
    gt = torch.tensor([[[0., 0., 12., 8.], [8., 8., 16., 16.]]])
    pad = torch.tensor([[[1.], [0.]]])
    fg = torch.tensor([[False, True, False, False]])  # the assigner made prior 1 positive
    w = loss.region_weights(priors, gt, pad, fg)
    # prior 0: box [0, 0, 8, 8], IoU 64/96 = 0.67 with the box, not positive -> ELR
    assert w.tolist() == [[0.5, 1., 0., 0.]]
    torch.manual_seed(7)
    s, t = torch.randn(1, 4, 4, 16), torch.randn(1, 4, 4, 16)
    levels_s, levels_t = [s[:, :2], s[:, 2:]], [t[:, :2], t[:, 2:]]  # per-level lists
    expected = _ld(temperature=1.)(s, t, weight=w)
    got = loss(levels_s, levels_t, priors, gt, pad, dict(fg_mask_pre_prior=fg))
    assert got.item() == pytest.approx(expected.item(), rel=1e-6)
    with pytest.raises(ValueError, match='record the head_module outputs and the assigner'):
        loss(s[:, :3], t[:, :3], priors, gt, pad, dict(fg_mask_pre_prior=fg))


def test_dense_cls_kd_in_the_student_positives_by_hand():
    """YOLOv8 classification KD: the binary KL summed over classes, averaged over the
    positives of the batch, times the batch size, gamma and the weight; nothing elsewhere."""
    from types import SimpleNamespace
    loss = build(dict(type='KDDenseClsKDLoss', gamma=0.5, temperature=1.))
    head = SimpleNamespace(loss_cls=SimpleNamespace(loss_weight=2.0))
    loss.bind_student_head(head)
    assert loss.loss_weight == 2.0 and loss.student_loss_scales == {'loss_cls': 0.5}
    # 2 images, 2 classes; level 0 is 2x2 (priors 0-3), level 1 is 1x1 (prior 4)
    s0, s1 = torch.zeros(2, 2, 2, 2), torch.zeros(2, 2, 1, 1)
    t0, t1 = torch.zeros(2, 2, 2, 2), torch.zeros(2, 2, 1, 1)
    s0[0, 0, 0, 1] = math.log(3.)  # image 0, prior 1 (row 0, column 1), class 0
    s1[1, 1, 0, 0] = math.log(3.)  # image 1, prior 4, class 1
    s0[1, :, 0, 0] = 5.  # image 1, prior 0: far from the teacher but not a positive
    fg = torch.tensor([[False, True, False, True, False], [False, False, False, False, True]])
    s0.requires_grad_(True)
    s1.requires_grad_(True)
    got = loss([s0, s1], [t0, t1], dict(fg_mask_pre_prior=fg))
    kl = -(0.5 * math.log(0.75) + 0.5 * math.log(0.25)) - math.log(2.)  # KL(0.5 || 0.75)
    # (kl + 0 + kl) / 3 positives, x 2 images x gamma 0.5 x weight 2
    assert got.item() == pytest.approx(2 * kl / 3 * 2 * 0.5 * 2.0, rel=1e-6)
    got.backward()
    assert s0.grad[1, :, 0, 0].abs().sum() == 0 and s0.grad[0, 0, 0, 1] > 0
    assert s0.grad[0, :, 1, 1].abs().sum() == 0  # a positive that matches its teacher
    off = build(dict(type='KDDenseClsKDLoss', gamma=0., loss_weight=1.))
    zero = off([s0, s1], [t0, t1], dict(fg_mask_pre_prior=fg))
    assert zero.item() == 0 and zero.requires_grad
    assert build(dict(type='KDDenseClsKDLoss', gamma=0.3, scale_student_label_loss=False)
                 ).student_loss_scales == {}
    with pytest.raises(ValueError, match='loss_weight unknown'):
        build(dict(type='KDDenseClsKDLoss'))([s0, s1], [t0, t1], dict(fg_mask_pre_prior=fg))
    with pytest.raises(ValueError, match='record the head_module outputs and the assigner'):
        loss([s0], [t0], dict(fg_mask_pre_prior=fg))
    with pytest.raises(ValueError, match='same classes and strides'):
        loss([s0, s1], [t0, t1[:, :1]], dict(fg_mask_pre_prior=fg))
    with pytest.raises(ValueError, match='gamma must be in'):
        build(dict(type='KDDenseClsKDLoss', gamma=1.5))


@pytest.mark.parametrize('config', ['configs/ld/ld_yolov8-s_yolov8-n_1xb8-30e_demo.py',
                                    'configs/ld/ld_yolov5-s_yolov5-n_1xb8-30e_demo.py'])
def test_draw_ld_regions_on_tiny_data(config, tiny_data, tmp_path):
    import subprocess
    import sys

    from mmengine.config import Config

    from conftest import ROOT, options_argv, tiny_options
    opts = {k: v for k, v in tiny_options(tiny_data).items() if 'dataloader.dataset' in k}
    sys.path.insert(0, f'{ROOT}/tools/analysis')
    from draw_ld_regions import region_maps
    cfg = Config.fromfile(f'{ROOT}/{config}')
    cfg.merge_from_dict(opts)
    rgb, boxes, maps, loss = region_maps(cfg, index=0)
    assert rgb.shape == (256, 256, 3) and len(boxes) > 0
    assert [s for s, _ in maps] == [8, 16, 32]
    assert [tuple(m.shape) for _, m in maps] == [(32, 32), (16, 16), (8, 8)]
    weights = torch.cat([m.flatten() for _, m in maps])
    assert set(weights.unique().tolist()) <= {0., 0.5, 1.}
    assert (weights == 1.).sum() > 0  # the student's positives for these boxes
    if 'yolov5' in config:  # KDR cells: YOLOv5's positives of any anchor for these boxes
        from kd_plugins.models.task_modules import yolov5_positive_masks
        gt = torch.cat([torch.zeros(len(boxes), 2), torch.as_tensor(boxes)], 1)
        pos = yolov5_positive_masks(gt, 1, [(32, 32), (16, 16), (8, 8)], [8, 16, 32],
                                    loss.regions.base_sizes)
        for (_, m), p in zip(maps, pos):
            assert torch.equal(m == 1., p[0].any(0))
    out = tmp_path / 'regions.png'
    r = subprocess.run([sys.executable, f'{ROOT}/tools/analysis/draw_ld_regions.py', config,
                        '--out', str(out), '--cfg-options', *options_argv(opts)], cwd=ROOT,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    assert out.read_bytes()[:4] == b'\x89PNG' and out.stat().st_size > 20000
