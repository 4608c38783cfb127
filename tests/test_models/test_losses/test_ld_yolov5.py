"""The YOLOv5 LD head (edge distributions) and the YOLOv5 distillation losses on hand-built
cases: decoding, DFL targets, YOLOv5's positives, KDR/ELR, gamma / epsilon extremes."""
import math

import pytest
import torch
from mmengine.config import Config, ConfigDict
from mmengine.registry import init_default_scope
from mmrazor.registry import MODELS as RAZOR_MODELS
from mmyolo.registry import MODELS as YOLO_MODELS

import kd_plugins  # noqa: F401
from kd_plugins.models.task_modules import anchor_boxes, yolov5_positive_masks

ANCHORS = [[(10, 13), (16, 30), (33, 23)], [(30, 61), (62, 45), (59, 119)],
           [(116, 90), (156, 198), (373, 326)]]
STRIDES = [8, 16, 32]
META = dict(ori_shape=(64, 64), scale_factor=(1., 1.), batch_input_shape=(64, 64),
            img_shape=(64, 64))


def ld_head(num_classes=3, num_bins=16, edge_range=(-1., 14.)):
    init_default_scope('mmyolo')
    head = YOLO_MODELS.build(dict(
        type='KDYOLOv5LDHead', num_bins=num_bins, edge_range=edge_range,
        head_module=dict(type='KDYOLOv5LDHeadModule', num_classes=num_classes,
                         in_channels=[16, 32, 64], num_bins=num_bins),
        test_cfg=ConfigDict(multi_label=False, nms_pre=100, score_thr=0.1,
                            nms=dict(type='nms', iou_threshold=0.6), max_per_img=10)))
    head.init_weights()
    return head


def feats(b=1, size=64):
    return [torch.randn(b, c, size // s, size // s) for c, s in zip([16, 32, 64], STRIDES)]


def one_hot_edges(head, b, hw, bins_per_edge):
    """Edge logits (per level) that put all mass on the given bin index of each edge."""
    out = []
    for h in hw:
        x = torch.full((b, 3, 4, head.num_bins, h, h), -30.)
        for e, k in enumerate(bins_per_edge):
            x[:, :, e, k] = 30.
        out.append(x.view(b, -1, h, h))
    return out


# ----------------------------------------------------------------------------- the head
def test_expectation_decoding_of_a_known_distribution():
    head = ld_head().eval()
    with torch.no_grad():
        cls, _, obj = head(feats())
    hw = [c.shape[-1] for c in cls]
    # left / top: one-hot on bins 4 and 2 (3 and 1 strides); right / bottom: half on bins 3
    # and 4 (2.5 strides, the expectation between two bins)
    bb = one_hot_edges(head, 1, hw, [4, 2, 3, 3])
    for x, h in zip(bb, hw):
        x = x.view(1, 3, 4, head.num_bins, h, h)
        x[:, :, 2:, 3] = x[:, :, 2:, 4] = 0.
    obj = [torch.full_like(o, -30.) for o in obj]
    cls = [torch.full_like(c, -30.) for c in cls]
    obj[0][0, 1, 2, 3] = 30.  # level 0 (stride 8), anchor 1, cell (x=3, y=2)
    cls[0][0, 1 * 3 + 2, 2, 3] = 30.  # class 2
    res = head.predict_by_feat(cls, bb, obj, [META], rescale=True)[0]
    assert res.labels.tolist() == [2]
    cx, cy = 3.5 * 8, 2.5 * 8  # the anchor point of that cell: (28, 20)
    assert res.bboxes[0].tolist() == pytest.approx(
        [cx - 3 * 8, cy - 1 * 8, cx + 2.5 * 8, cy + 2.5 * 8], abs=1e-3)  # 4, 12, 48, 40


def test_edge_distances_are_the_expectation():
    head = ld_head(num_bins=4, edge_range=(0., 3.))
    logits = torch.tensor([0., math.log(3.), 0., 0.])  # p = (1, 3, 1, 1) / 6
    x = logits.view(1, 1, 1, 4, 1, 1).expand(1, 3, 4, 4, 1, 1).reshape(1, 48, 1, 1)
    d = head.edge_distances(x)
    assert d.shape == (1, 12, 1, 1)
    assert d.flatten().tolist() == pytest.approx([(0 + 3 + 2 + 3) / 6] * 12, abs=1e-6)


def test_box_loss_targets_match_the_decoding():
    """A distribution that interpolates the target between two bins decodes to the target
    box (CIoU loss 0) and minimises DFL (its value is then the interpolation's entropy)."""
    head = ld_head()
    # target in YOLOv5's frame: centre (0.7, 0.4) from the cell corner, size 3.2 x 2.0 cells
    tgt = torch.tensor([[0.7, 0.4, 3.2, 2.0]])
    ltrb = torch.tensor([0.5 - (0.7 - 1.6), 0.5 - (0.4 - 1.0), 0.7 + 1.6 - 0.5,
                         0.4 + 1.0 - 0.5])  # 1.4, 1.1, 1.8, 0.9
    pos = ltrb + 1.0  # bin coordinates: range starts at -1, one stride per bin
    probs = torch.zeros(4, 16)
    lo = pos.floor().long()
    probs[range(4), lo] = 1 - (pos - lo)
    probs[range(4), lo + 1] = pos - lo
    logits = probs.clamp(min=1e-12).log().view(1, 64)
    decoded = head._decode_bbox_to_xywh(logits, None)
    assert decoded[0].tolist() == pytest.approx(tgt[0].tolist(), abs=1e-5)
    head.loss_bbox.dfl_terms = []
    loss, iou = head.loss_bbox(decoded, tgt)
    assert iou.item() == pytest.approx(1., abs=1e-5) and loss.item() == pytest.approx(0., abs=1e-5)
    frac = pos - lo
    entropy = -(frac * frac.log() + (1 - frac) * (1 - frac).log()).mean()
    assert head.loss_bbox.dfl_terms[0].item() == pytest.approx(0.01 * entropy.item(), rel=1e-4)
    # the logits travel with the boxes decoded from them; boxes without them are refused
    assert decoded.edge_logits is logits
    with pytest.raises(RuntimeError, match='without their edge logits'):
        head.loss_bbox(decoded.clone(), tgt)


def test_head_loss_has_dfl_and_keeps_the_recorded_ground_truth():
    head = ld_head().train()
    gt = torch.tensor([[0, 1, 8., 8., 40., 30.], [0, 2, 30., 20., 60., 60.]])
    keep = gt.clone()
    losses = head.loss_by_feat(*head(feats()), gt, [META])
    assert set(losses) == {'loss_cls', 'loss_obj', 'loss_bbox', 'loss_dfl'}
    assert losses['loss_dfl'].item() > 0
    assert torch.equal(gt, keep)  # MMYOLO's parent rewrites its copy in place
    sum(losses.values()).backward()


def test_head_trains_alone_on_one_image():
    torch.manual_seed(0)
    head = ld_head().train()
    x = feats()
    gt = torch.tensor([[0, 1, 10., 12., 44., 40.]])
    opt = torch.optim.Adam(head.parameters(), lr=0.01)
    first = None
    for _ in range(40):
        losses = head.loss_by_feat(*head(x), gt, [META])
        total = losses['loss_bbox'] + losses['loss_dfl']
        first = first if first is not None else total.item()
        opt.zero_grad()
        sum(losses.values()).backward()
        opt.step()
    assert total.item() < 0.5 * first


def test_num_bins_must_agree():
    with pytest.raises(ValueError, match='num_bins'):
        YOLO_MODELS.build(dict(type='KDYOLOv5LDHead', num_bins=16, head_module=dict(
            type='KDYOLOv5LDHeadModule', num_classes=2, num_bins=8)))
    with pytest.raises(ValueError, match='edge_range'):
        ld_head(edge_range=(3., 3.))


def test_ignore_regions_are_refused_at_build():
    module = dict(type='KDYOLOv5LDHeadModule', num_classes=2, in_channels=[16, 32, 64])
    with pytest.raises(ValueError, match='does not support ignore_iof_thr=0.5.*set it to -1'):
        YOLO_MODELS.build(dict(type='KDYOLOv5LDHead', ignore_iof_thr=0.5, head_module=module))
    head = YOLO_MODELS.build(dict(type='KDYOLOv5LDHead', ignore_iof_thr=-1.0,
                                  head_module=module))
    assert head.ignore_iof_thr == -1.0


# ----------------------------------------------------------------------------- regions
def test_positive_masks_equal_mmyolo_yolov5_assignment():
    """Where MMYOLO's YOLOv5Head puts objectness targets is exactly our KDR."""
    init_default_scope('mmyolo')
    head = YOLO_MODELS.build(dict(type='YOLOv5Head', head_module=dict(
        type='YOLOv5HeadModule', num_classes=3, in_channels=[16, 32, 64], widen_factor=1.0)))
    captured = []

    class CaptureObj(torch.nn.Module):
        def __init__(self, loss):
            super().__init__()
            self.loss = loss

        def forward(self, pred, target):
            captured.append(target.clone())
            return self.loss(pred, target)

    class IoUOne(torch.nn.Module):  # IoU 1 for every positive: its objectness target is 1
        def forward(self, decoded, target):
            return decoded.sum() * 0, torch.ones(len(target))

    head.loss_obj, head.loss_bbox = CaptureObj(head.loss_obj), IoUOne()
    size = 128
    torch.manual_seed(1)
    xy = torch.rand(12, 2) * 100 + 4
    wh = torch.rand(12, 2) * 60 + 3
    gt = torch.cat([torch.randint(0, 2, (12, 1)).float(), torch.zeros(12, 1),
                    xy, (xy + wh).clamp(max=size - 1)], dim=1)
    f = [torch.randn(2, c, size // s, size // s) for c, s in zip([16, 32, 64], STRIDES)]
    meta = dict(META, batch_input_shape=(size, size))
    head.loss_by_feat(*head(f), gt.clone(), [meta, meta])
    masks = yolov5_positive_masks(gt, 2, [t.shape[-2:] for t in captured], STRIDES, ANCHORS)
    assert sum(int(m.sum()) for m in masks) > 12
    for m, t in zip(masks, captured):
        assert torch.equal(m, t > 0)


def test_kdr_and_elr_for_yolov5_on_a_hand_built_example():
    loss = RAZOR_MODELS.build(dict(type='KDYOLOv5LDLoss', _scope_='mmrazor', base_sizes=ANCHORS,
                                   strides=STRIDES, prior_match_thr=4.0, near_neighbor_thr=0.5,
                                   kdr_weight=1.0, elr_weight=0.25, elr_iou_thr=0.5))
    # a 10 x 13 box centred at (20.5, 20.5) on a 64 x 64 input: at stride 8 the centre is cell
    # (2, 2) at fraction (0.5625, 0.5625): no left / up neighbour, right and bottom ones
    gt = torch.tensor([[0, 0, 15.5, 14., 25.5, 27.]])
    w = loss.regions.weights(gt, 1, [(8, 8), (4, 4), (2, 2)])
    kdr = (w[0][0] == 1.0).nonzero().tolist()
    # anchors 0 (10x13) and 1 (16x30, ratio 3 / 2.3 < 4) and 2 (33x23, ratio 3.3 < 4) match
    assert sorted(kdr) == sorted([a, y, x] for a in range(3)
                                 for y, x in [(2, 2), (2, 3), (3, 2)])
    # ELR: anchor 0 at the cell whose 10 x 13 anchor box overlaps the box by IoU >= 0.5:
    # the anchor at cell (2, 2) is centred (20, 20), IoU = (10*13 - ...) high but positive
    elr = (w[0][0] == 0.25).nonzero().tolist()
    boxes = anchor_boxes((8, 8), 8, ANCHORS[0])
    from mmdet.structures.bbox import bbox_overlaps
    iou = bbox_overlaps(boxes.reshape(-1, 4), gt[:, 2:]).view(3, 8, 8)
    expected = [[a, y, x] for a, y, x in (iou[..., 0] >= 0.5).nonzero().tolist()
                if [a, y, x] not in kdr]
    assert sorted(elr) == sorted(expected)
    # neither on the coarse levels: 10 x 13 is < 1/4 of the 30 x 61 .. 373 x 326 anchors
    assert w[1].sum() == 0 and w[2].sum() == 0


def test_batched_region_weights_equal_the_per_image_rule():
    """The batched KDR/ELR weights (one IoU matrix for the batch, reduced per image) equal
    ld_region_weights applied image by image; image 2 has no boxes (all zero)."""
    from kd_plugins.models.task_modules import ld_region_weights
    loss = RAZOR_MODELS.build(dict(type='KDYOLOv5LDLoss', _scope_='mmrazor', base_sizes=ANCHORS,
                                   strides=STRIDES, prior_match_thr=4.0, near_neighbor_thr=0.5,
                                   kdr_weight=1.0, elr_weight=0.25, elr_iou_thr=0.3))
    g = torch.Generator().manual_seed(3)
    xy = torch.rand(20, 2, generator=g) * 50
    wh = torch.rand(20, 2, generator=g) * 40 + 4
    img = torch.tensor([0] * 8 + [1] * 8 + [3] * 4).float()[:, None]
    gt = torch.cat([img, torch.zeros(20, 1), xy, (xy + wh).clamp(max=63)], dim=1)
    sizes = [(8, 8), (4, 4), (2, 2)]
    w = loss.regions.weights(gt, 4, sizes)
    pos = yolov5_positive_masks(gt, 4, sizes, STRIDES, ANCHORS)
    n_elr = 0
    for lvl, (size, stride) in enumerate(zip(sizes, STRIDES)):
        boxes = anchor_boxes(size, stride, ANCHORS[lvl]).reshape(-1, 4)
        for b in range(4):
            expected, region = ld_region_weights(boxes, gt[gt[:, 0] == b, 2:],
                                                 pos[lvl][b].reshape(-1), 0.3, 1.0, 0.25)
            assert torch.equal(w[lvl][b].reshape(-1), expected)
            n_elr += int((region == 2).sum())
    assert n_elr > 10 and w[0][2].sum() == 0


# ----------------------------------------------------------------------------- losses
def _loss(type_, **kw):
    loss = RAZOR_MODELS.build(dict(type=type_, _scope_='mmrazor', **kw))
    if hasattr(loss, 'bind_student_head'):
        loss.bind_student_head(ld_head())
    return loss


def _binary_kl(p, q):
    """KL(p || q) of Bernoulli probabilities, elementwise, written out (= BCE(q; p) - H(p))."""
    return p * (p / q).log() + (1 - p) * ((1 - p) / (1 - q)).log()


def _levels(b, per_anchor, sizes=(8, 4, 2), seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(b, 3 * per_anchor, s, s, generator=g) for s in sizes]


GT = torch.tensor([[0, 0, 15.5, 14., 25.5, 27.], [1, 1, 10., 10., 60., 50.]])


def test_yolov5_ld_loss_zero_for_identical_and_t_squared_kl_on_regions():
    loss = _loss('KDYOLOv5LDLoss', temperature=25., loss_weight=1.0)
    s, t = _levels(2, 64), _levels(2, 64, seed=1)
    assert loss(s, [x.clone() for x in s], GT).item() == pytest.approx(0., abs=1e-6)
    value = loss(s, t, GT)
    # by hand: gather the weighted locations, full KL over bins summed over edges, x T^2, mean
    w = loss.regions.weights(GT, 2, [(8, 8), (4, 4), (2, 2)])
    num, den = 0., 0.
    for a, b, wl in zip(s, t, w):
        ps = torch.log_softmax(a.view(2, 3, 4, 16, *a.shape[2:]) / 25., 3)
        pt = torch.log_softmax(b.view(2, 3, 4, 16, *b.shape[2:]) / 25., 3)
        kl = (pt.exp() * (pt - ps)).sum(3).sum(2)  # (B, A, H, W)
        num, den = num + (kl * wl).sum(), den + wl.sum()
    assert den > 0
    assert value.item() == pytest.approx((625 * num / den * 2).item(), rel=1e-4)


def test_cls_kd_gamma_extremes_and_value():
    s, t = _levels(2, 3), _levels(2, 3, seed=1)
    assert _loss('KDYOLOv5ClsKDLoss', gamma=0.)(s, t, GT).item() == 0.
    assert _loss('KDYOLOv5ClsKDLoss', gamma=1., temperature=4.)(
        s, [x.clone() for x in s], GT).item() == pytest.approx(0., abs=1e-5)
    loss = _loss('KDYOLOv5ClsKDLoss', gamma=0.5, temperature=2., loss_weight=0.5)
    masks = loss.regions.weights(GT, 2, [(8, 8), (4, 4), (2, 2)])
    total = 0.
    for a, b, m in zip(s, t, masks):
        if not (m > 0).any():
            continue
        za = a.view(2, 3, 3, *a.shape[2:]).permute(0, 1, 3, 4, 2)[m > 0] / 2
        zb = b.view(2, 3, 3, *b.shape[2:]).permute(0, 1, 3, 4, 2)[m > 0] / 2
        total += 4 * _binary_kl(torch.sigmoid(zb), torch.sigmoid(za)).mean()
    assert loss(s, t, GT).item() == pytest.approx((0.5 * 0.5 * total * 2).item(), rel=1e-4)


def test_obj_kd_epsilon_extremes_and_value():
    s, t = _levels(2, 1), _levels(2, 1, seed=1)
    assert _loss('KDYOLOv5ObjKDLoss', epsilon=0.)(s, t).item() == 0.
    loss = _loss('KDYOLOv5ObjKDLoss', epsilon=2., loss_weight=0.5)
    expected = sum(w * ((a.sigmoid() - b.sigmoid())**2).mean()
                   for w, a, b in zip([4., 1., 0.4], s, t)) * 2. * 0.5 * 2
    assert loss(s, t).item() == pytest.approx(expected.item(), rel=1e-5)
    # the KL form: binary KL(teacher || student) per element, the same weights
    loss = _loss('KDYOLOv5ObjKDLoss', epsilon=2., loss_weight=0.5, form='kl')
    expected = sum(w * _binary_kl(b.sigmoid(), a.sigmoid()).mean()
                   for w, a, b in zip([4., 1., 0.4], s, t))
    assert loss(s, t).item() == pytest.approx((expected * 2. * 0.5 * 2).item(), rel=1e-5)


def test_yolov5_kd_gradients_reach_the_student_only():
    cases = [('KDYOLOv5LDLoss', 64, True, {}), ('KDYOLOv5ClsKDLoss', 3, True, {}),
             ('KDYOLOv5ObjKDLoss', 1, False, {}), ('KDYOLOv5ObjKDLoss', 1, False, {'form': 'kl'})]
    for type_, per_anchor, with_gt, kw in cases:
        s = [x.requires_grad_() for x in _levels(2, per_anchor)]
        t = [x.requires_grad_() for x in _levels(2, per_anchor, seed=1)]
        loss = _loss(type_, **kw)
        out = loss(s, t, GT) if with_gt else loss(s, t)
        out.backward()
        assert all(x.grad is None for x in t), type_
        assert sum(float(x.grad.abs().sum()) for x in s) > 0, type_


def test_yolov5_losses_need_anchors_and_check_channels():
    loss = RAZOR_MODELS.build(dict(type='KDYOLOv5LDLoss', _scope_='mmrazor'))
    with pytest.raises(ValueError, match='anchors unknown'):
        loss(_levels(1, 64), _levels(1, 64), GT)
    cls_kd = RAZOR_MODELS.build(dict(type='KDYOLOv5ClsKDLoss', gamma=0.5, loss_weight=0.5,
                                     _scope_='mmrazor'))
    with pytest.raises(ValueError, match='anchors unknown'):  # before any use of the anchors
        cls_kd(_levels(1, 4), _levels(1, 4), GT)
    loss = _loss('KDYOLOv5LDLoss')
    with pytest.raises(ValueError, match='channels'):
        loss(_levels(1, 40), _levels(1, 40), GT)
    with pytest.raises(ValueError, match='bins per edge'):
        _loss('KDYOLOv5LDLoss', num_bins=8)
    for kw in (dict(gamma=1.5), dict(temperature=0.), dict(loss_weight=-1.)):
        with pytest.raises(ValueError):
            _loss('KDYOLOv5ClsKDLoss', **kw)
    with pytest.raises(ValueError, match='epsilon'):
        _loss('KDYOLOv5ObjKDLoss', epsilon=-0.1)
    with pytest.raises(ValueError, match="form must be 'mse' or 'kl', got 'bce'"):
        _loss('KDYOLOv5ObjKDLoss', form='bce')


@pytest.mark.parametrize('gamma', [0.0, 0.25, 1.0])
def test_algorithm_scales_the_student_label_loss_by_one_minus_gamma(gamma, tmp_path):
    cfg = Config.fromfile('configs/ld/ld_yolov5-s_yolov5-n_1xb8-30e_demo.py')
    cfg.model.teacher_ckpt = None
    cfg.model.distiller.distill_losses.loss_cls_kd.gamma = gamma
    plain = Config.fromfile('configs/yolov5/yolov5_n-ld-v61_fast_1xb8-30e_demo.py')
    base = plain.model.bbox_head.loss_cls.loss_weight
    init_default_scope('mmrazor')
    algo = RAZOR_MODELS.build(cfg.model)
    head = algo.student.bbox_head
    assert head.loss_cls.loss_weight == pytest.approx(base * (1 - gamma))
    # the losses took the student head's anchors, strides and objectness level weights
    ld = algo.distiller.distill_losses['loss_ld']
    assert ld.regions.base_sizes == ANCHORS and ld.regions.strides == STRIDES
    assert algo.distiller.distill_losses['loss_obj_kd'].level_weights == [4.0, 1.0, 0.4]
    # and the KD terms' weights are the student's own (unscaled) label-loss weights
    assert algo.distiller.distill_losses['loss_cls_kd'].loss_weight == pytest.approx(base)
    assert algo.distiller.distill_losses['loss_obj_kd'].loss_weight == pytest.approx(
        plain.model.bbox_head.loss_obj.loss_weight)


def test_scale_student_label_loss_false_keeps_the_label_weight(tmp_path):
    """configs/ld/ld-full-labels_... (`tools/distill.py --methods ld_full_labels`): the
    student's own loss_cls keeps its full weight, the classification KD is added at that weight
    (gamma 0.5 of it), and everything else is the ld config's."""
    cfg = Config.fromfile('configs/ld/ld-full-labels_yolov5-s_yolov5-n_1xb8-30e_demo.py')
    cfg.model.teacher_ckpt = None
    ld = Config.fromfile('configs/ld/ld_yolov5-s_yolov5-n_1xb8-30e_demo.py')
    plain = Config.fromfile('configs/yolov5/yolov5_n-ld-v61_fast_1xb8-30e_demo.py')
    init_default_scope('mmrazor')
    algo = RAZOR_MODELS.build(cfg.model)
    base = plain.model.bbox_head.loss_cls.loss_weight
    assert algo.student.bbox_head.loss_cls.loss_weight == pytest.approx(base)
    cls_kd = algo.distiller.distill_losses['loss_cls_kd']
    assert cls_kd.loss_weight == pytest.approx(base) and cls_kd.gamma == 0.5
    assert cls_kd.student_loss_scales == {}
    ld.model.distiller.distill_losses.loss_cls_kd.scale_student_label_loss = False
    ld.model.teacher_ckpt = None
    assert cfg.model.to_dict() == ld.model.to_dict()


def test_objectness_kl_config_changes_the_objectness_kd_form_only():
    """configs/ld/ld-obj-kl_... (`tools/distill.py --methods ld_obj_kl`): the objectness KD in
    its KL form, at the weight the ld config gives it, and the distillation at 0.5 of the loss
    (the ld config's 0.3); everything else is the ld config's."""
    cfg = Config.fromfile('configs/ld/ld-obj-kl_yolov5-s_yolov5-n_1xb8-30e_demo.py')
    cfg.model.teacher_ckpt = None
    ld = Config.fromfile('configs/ld/ld_yolov5-s_yolov5-n_1xb8-30e_demo.py')
    init_default_scope('mmrazor')
    algo = RAZOR_MODELS.build(cfg.model)
    obj_kd = algo.distiller.distill_losses['loss_obj_kd']
    assert obj_kd.form == 'kl' and obj_kd.epsilon == 1.0
    assert obj_kd.loss_weight == pytest.approx(algo.student.bbox_head.loss_obj.loss_weight)
    assert (cfg.model.distill_share, ld.model.distill_share) == (0.5, 0.3)
    ld.model.distiller.distill_losses.loss_obj_kd.form = 'kl'
    ld.model.distill_share = 0.5
    ld.model.teacher_ckpt = None
    assert cfg.model.to_dict() == ld.model.to_dict()


def test_literal_objectness_config_trains_the_student_with_mse_on_probabilities():
    """configs/ld/ld-mse-obj_...: Huang et al.'s MSE(O_S, y) as the student's objectness label
    loss, set through the architecture's cfg_path overrides; the teacher keeps its BCE and the
    objectness KD takes the new loss's weight."""
    cfg = Config.fromfile('configs/ld/ld-mse-obj_yolov5-s_yolov5-n_1xb8-30e_demo.py')
    cfg.model.teacher_ckpt = None
    init_default_scope('mmrazor')
    algo = RAZOR_MODELS.build(cfg.model)
    own = algo.student.bbox_head.loss_obj
    assert type(own).__name__ == 'SigmoidMSELoss'
    assert own.loss_weight == pytest.approx((256 / 640)**2)
    assert type(algo.teacher.bbox_head.loss_obj).__name__ == 'CrossEntropyLoss'
    assert algo.distiller.distill_losses['loss_obj_kd'].loss_weight == pytest.approx(
        own.loss_weight)
    # the rest of the student is the plain demo student's
    plain = Config.fromfile('configs/ld/ld_yolov5-s_yolov5-n_1xb8-30e_demo.py')
    plain.model.teacher_ckpt = None
    ref = RAZOR_MODELS.build(plain.model)
    assert type(ref.student.bbox_head.loss_obj).__name__ == 'CrossEntropyLoss'
    assert ref.student.bbox_head.loss_cls.loss_weight == pytest.approx(
        algo.student.bbox_head.loss_cls.loss_weight)
    # MSE of the probability against the target: 0.75 vs 1 -> 0.0625, times the weight
    pred, target = torch.full((1, 3, 2, 2), math.log(3.)), torch.ones(1, 3, 2, 2)
    assert own(pred, target).item() == pytest.approx(0.0625 * own.loss_weight, rel=1e-6)


def test_cfg_path_overrides_merge_and_pretrained_is_handled():
    from kd_plugins.models.algorithms.yolo_teacher_distill import model_cfg
    path = 'configs/yolov5/yolov5_n-ld-v61_fast_1xb8-30e_demo.py'
    plain = model_cfg(dict(cfg_path=path, pretrained=False), 'student')
    changed = model_cfg(dict(cfg_path=path, bbox_head=dict(loss_obj=dict(loss_weight=0.5))),
                        'student')
    assert plain.bbox_head.loss_obj.loss_weight == pytest.approx((256 / 640)**2)
    assert changed.bbox_head.loss_obj.loss_weight == 0.5
    # merged, not replaced: the rest of the loss and of the head stay
    assert changed.bbox_head.loss_obj.type == plain.bbox_head.loss_obj.type
    assert changed.bbox_head.loss_cls == plain.bbox_head.loss_cls
    assert 'pretrained' not in plain
    with pytest.raises(ValueError, match=r'pretrained=True\) is not supported'):
        model_cfg(dict(cfg_path=path, pretrained=True), 'teacher')
