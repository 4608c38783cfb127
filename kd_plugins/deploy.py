"""ONNX export of an exported student, its parity with PyTorch, and its speed.

Two forms of one MMYOLO detector (YOLOv5, YOLOv8, and the YOLOv5 LD head of this package) at a
fixed input size, batch 1:

* ``raw``: the head's outputs per level (``cls_scores_<i>``, ``bbox_preds_<i>`` and, for
  YOLOv5, ``objectnesses_<i>``), what ``model(x, mode='tensor')`` returns;
* ``end2end``: boxes decoded and non-maximum suppression done inside the graph (ONNX
  ``NonMaxSuppression``, per class), so that a runtime gets ``num_dets`` (1,), ``boxes``
  (1, max_det, 4: x1, y1, x2, y2 in the input image's pixels), ``scores`` (1, max_det) and
  ``labels`` (1, max_det), padded with zeros (score 0, label -1) after ``num_dets``.

The end-to-end graph follows MMYOLO's post-processing of these heads (``predict_by_feat``):
sigmoid class scores (times the sigmoid objectness for YOLOv5), the head's own box coder on
the head's own priors, every (box, class) pair above ``score_thr`` (or the best class of each
box when the test config sets ``multi_label=False``), NMS per class at ``iou_thr``, the
``max_det`` best. MMYOLO's ``nms_pre`` (the best 30000 pairs before NMS) is not applied: at 640
pixels and 80 classes more pairs than that can pass a score threshold of 0.001, and the two
can then differ in the lowest-scored detections. Mapping boxes back to the original image
(letterbox padding and scale) is left to the caller, as :func:`rescale_detections` does.
"""
import io
import os
import os.path as osp
import time
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import Tensor, nn

#: the ONNX opset written by default (onnxruntime >= 1.14 and torch's exporter both support it)
DEFAULT_OPSET = 17
FORMS = ('raw', 'end2end')


def _head_output_names(model: nn.Module, outputs: Sequence[Sequence[Tensor]]) -> List[str]:
    """``cls_scores_0, cls_scores_1, ..., bbox_preds_0, ...``: the argument names of the head's
    ``predict_by_feat`` for each group of per-level outputs."""
    groups = ('cls_scores', 'bbox_preds', 'objectnesses')[:len(outputs)]
    return [f'{g}_{i}' for g, level in zip(groups, outputs) for i in range(len(level))]


class RawHead(nn.Module):
    """The detector up to its head's outputs, as a flat tuple of tensors."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        outputs = self.model.bbox_head(self.model.extract_feat(x))
        return tuple(t for level in outputs for t in level)


class _NMS(torch.autograd.Function):
    """Per-class NMS with ONNX ``NonMaxSuppression``'s inputs and output: boxes (B, N, 4)
    xyxy, scores (B, C, N) -> selected (K, 3) rows (batch, class, box), by batch, class and
    falling score, at most ``max_out`` per class, scores above ``score_thr`` only. In PyTorch
    it runs mmcv's NMS; exported, the ONNX operator."""

    @staticmethod
    def forward(ctx, boxes: Tensor, scores: Tensor, max_out: int, iou_thr: float,
                score_thr: float) -> Tensor:
        from mmcv.ops import nms
        rows = []
        for b in range(scores.shape[0]):
            for c in range(scores.shape[1]):
                idx = (scores[b, c] > score_thr).nonzero().squeeze(1)
                if not idx.numel():
                    continue
                _, keep = nms(boxes[b, idx], scores[b, c, idx], iou_thr)
                keep = idx[keep[:max_out]]
                rows.append(torch.stack([torch.full_like(keep, b), torch.full_like(keep, c),
                                         keep], dim=1))
        return torch.cat(rows) if rows else boxes.new_zeros((0, 3), dtype=torch.long)

    @staticmethod
    def symbolic(g, boxes, scores, max_out, iou_thr, score_thr):
        return g.op('NonMaxSuppression', boxes, scores,
                    g.op('Constant', value_t=torch.tensor([max_out], dtype=torch.long)),
                    g.op('Constant', value_t=torch.tensor([iou_thr], dtype=torch.float)),
                    g.op('Constant', value_t=torch.tensor([score_thr], dtype=torch.float)),
                    center_point_box_i=0)


class End2End(nn.Module):
    """The detector with box decoding and NMS, for one fixed input size and batch 1 (see the
    module docstring). Priors and strides are constants of that size."""

    def __init__(self, model: nn.Module, img_size: int, score_thr: Optional[float] = None,
                 iou_thr: Optional[float] = None, max_det: Optional[int] = None):
        super().__init__()
        self.model = model
        head = model.bbox_head
        test_cfg = head.test_cfg or {}
        self.score_thr = float(test_cfg.get('score_thr', 0.001) if score_thr is None
                               else score_thr)
        self.iou_thr = float(test_cfg.get('nms', {}).get('iou_threshold', 0.65)
                             if iou_thr is None else iou_thr)
        self.max_det = int(test_cfg.get('max_per_img', 300) if max_det is None else max_det)
        self.multi_label = bool(test_cfg.get('multi_label', True))
        check_img_size(model, img_size)  # so that each level is img_size / stride square
        levels = [int(_stride(st)) for st in head.featmap_strides]
        sizes = [(img_size // st, img_size // st) for st in levels]
        priors = head.prior_generator.grid_priors(sizes, dtype=torch.float32, device='cpu')
        strides = [torch.full((h * w * head.num_base_priors,), float(st))
                   for (h, w), st in zip(sizes, levels)]
        self.register_buffer('priors', torch.cat(priors), persistent=False)
        self.register_buffer('strides', torch.cat(strides), persistent=False)

    def forward(self, x: Tensor) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
        head = self.model.bbox_head
        outs = head(self.model.extract_feat(x))
        cls_scores, bbox_preds = outs[0], outs[1]
        objectnesses = outs[2] if len(outs) > 2 else None
        if hasattr(head, 'edge_distances'):  # the LD head: expected edges of distributions
            bbox_preds = [head.edge_distances(p) for p in bbox_preds]
        c = head.num_classes
        scores = torch.cat([s.permute(0, 2, 3, 1).reshape(1, -1, c) for s in cls_scores],
                           1).sigmoid()
        boxes = torch.cat([b.permute(0, 2, 3, 1).reshape(1, -1, 4) for b in bbox_preds], 1)
        boxes = head.bbox_coder.decode(self.priors[None], boxes, self.strides)
        if objectnesses is not None:
            obj = torch.cat([o.permute(0, 2, 3, 1).reshape(1, -1) for o in objectnesses], 1)
            scores = scores * obj.sigmoid()[..., None]
        if not self.multi_label:  # the best class of each box only
            best = scores.max(-1, keepdim=True)[0]
            scores = scores * (scores >= best)
        selected = _NMS.apply(boxes, scores.transpose(1, 2).contiguous(), self.max_det,
                              self.iou_thr, self.score_thr)
        labels, index = selected[:, 1], selected[:, 2]
        det_scores = scores[0, index, labels]
        det_boxes = boxes[0, index]
        # the max_det best, padded to a fixed size (score 0, label -1)
        pad = det_scores.new_zeros(self.max_det)
        top, order = torch.cat([det_scores, pad]).topk(self.max_det)
        num = (top > 0).sum().reshape(1)
        det_boxes = torch.cat([det_boxes, det_boxes.new_zeros(self.max_det, 4)])[order]
        labels = torch.cat([labels, labels.new_full((self.max_det,), -1)])[order]
        return num, det_boxes[None], top[None], labels[None]


def _stride(s) -> float:
    return s[0] if isinstance(s, (tuple, list)) else s


def check_img_size(model: nn.Module, img_size: int) -> None:
    """The input size must be a positive multiple of the model's largest stride."""
    largest = int(max(_stride(s) for s in model.bbox_head.featmap_strides))
    if img_size <= 0 or img_size % largest:
        below = max(largest, img_size // largest * largest)
        raise ValueError(f'--img-size {img_size} is not a multiple of the largest stride of '
                         f'this model ({largest}): use e.g. {below} or '
                         f'{(img_size // largest + 1) * largest}')


def check_opset(opset: int) -> None:
    """An opset that torch's exporter and the installed onnx can write (and onnx and
    onnxruntime installed)."""
    try:
        import onnx
        import onnxruntime  # noqa: F401
    except ImportError as e:
        raise ImportError(f'ONNX export needs onnx and onnxruntime ({e}): pip install -e '
                          '".[onnx]" (scripts/setup_env.sh installs them)') from e
    from torch.onnx._constants import ONNX_MAX_OPSET, ONNX_MIN_OPSET
    top = min(ONNX_MAX_OPSET, onnx.defs.onnx_opset_version())
    low = max(ONNX_MIN_OPSET, 11)  # NonMaxSuppression as used here needs opset 11
    if not low <= opset <= top:
        raise ValueError(f'ONNX opset {opset} is not supported here: torch '
                         f'{torch.__version__} and onnx {onnx.__version__} write opsets '
                         f'{low}-{top}; the default is {DEFAULT_OPSET}')


def _session(model_bytes: bytes):
    import onnxruntime as ort
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = torch.get_num_threads()
    opts.log_severity_level = 3
    return ort.InferenceSession(model_bytes, opts, providers=['CPUExecutionProvider'])


def export_onnx(model: nn.Module, out_path: str, img_size: int, form: str = 'end2end',
                opset: int = DEFAULT_OPSET, score_thr: Optional[float] = None,
                iou_thr: Optional[float] = None, max_det: Optional[int] = None) -> str:
    """Write ``model`` (an MMYOLO detector in eval mode) as ONNX in ``form`` (``'raw'`` or
    ``'end2end'``) for input (1, 3, img_size, img_size). The input size, the opset and the
    model itself (onnxruntime must load it) are checked before the file is written."""
    if form not in FORMS:
        raise ValueError(f'form must be one of {FORMS}, got {form!r}')
    check_img_size(model, img_size)
    check_opset(opset)
    model = model.eval()
    net = RawHead(model) if form == 'raw' else End2End(model, img_size, score_thr, iou_thr,
                                                       max_det)
    # eval before export: torch's exporter puts the wrapper back in the mode it found it in,
    # and a new module is in training mode, which would leave the detector's BatchNorm
    # layers training (batch statistics) after the export
    net.eval()
    x = torch.zeros(1, 3, img_size, img_size)
    if form == 'raw':
        with torch.no_grad():
            names = _head_output_names(model, model.bbox_head(model.extract_feat(x)))
    else:
        names = ['num_dets', 'boxes', 'scores', 'labels']
    buffer = io.BytesIO()
    try:
        with torch.no_grad():
            torch.onnx.export(net, (x, ), buffer, dynamo=False, opset_version=opset,
                              input_names=['images'], output_names=names,
                              do_constant_folding=True)
    except Exception as e:  # the exporter raises many types (unsupported op at this opset, ...)
        raise ValueError(f'torch could not export the {form} model at opset {opset} '
                         f'({type(e).__name__}: {str(e).splitlines()[0][:200]}): try the '
                         f'default --opset {DEFAULT_OPSET}') from e
    data = buffer.getvalue()
    try:
        _session(data)
    except Exception as e:  # onnxruntime raises its own exception types
        raise ValueError(f'onnxruntime cannot load the {form} model at opset {opset} '
                         f'({type(e).__name__}: {str(e).splitlines()[0][:200]}): try another '
                         f'--opset (default {DEFAULT_OPSET})') from e
    os.makedirs(osp.dirname(osp.abspath(out_path)), exist_ok=True)
    with open(out_path, 'wb') as f:
        f.write(data)
    return out_path


def _array(inputs: Tensor) -> np.ndarray:
    """A C-contiguous float32 array: onnxruntime reads the buffer as if it were one, so a
    tensor in another memory layout (the data pre-processor's batches can be) would be read
    scrambled."""
    return np.ascontiguousarray(inputs.detach().float().cpu().numpy())


def run_onnx(path: str, inputs: Tensor) -> List[np.ndarray]:
    """The outputs of the ONNX model at ``path`` for ``inputs`` (1, 3, H, W)."""
    with open(path, 'rb') as f:
        return _session(f.read()).run(None, {'images': _array(inputs)})


def raw_max_difference(model: nn.Module, path: str, inputs: Tensor) -> float:
    """Largest |onnxruntime - PyTorch| over the raw outputs, relative to the largest |output|
    of each tensor."""
    with torch.no_grad():
        ref = RawHead(model.eval())(inputs)
    got = run_onnx(path, inputs)
    return max(float(np.abs(g - r.numpy()).max() / max(float(r.abs().max()), 1e-12))
               for g, r in zip(got, ref))


def end2end_detections(outputs: Sequence) -> Dict[str, np.ndarray]:
    """``num_dets, boxes, scores, labels`` of the end-to-end model (one image) without the
    padding."""
    num, boxes, scores, labels = (np.asarray(o) for o in outputs)
    n = int(num.reshape(-1)[0])
    return dict(bboxes=boxes[0, :n], scores=scores[0, :n], labels=labels[0, :n])


def rescale_detections(det: Dict[str, np.ndarray], meta: dict) -> Dict[str, np.ndarray]:
    """Boxes from the network input back to the original image, as MMYOLO's heads do:
    minus the letterbox padding, divided by the scale factor, clipped to the image."""
    boxes = det['bboxes'].astype(np.float32).copy()
    pad = meta.get('pad_param')
    if pad is not None:
        boxes -= np.array([pad[2], pad[0], pad[2], pad[0]], dtype=np.float32)
    boxes /= np.tile(np.asarray(meta['scale_factor'], dtype=np.float32), 2)
    h, w = meta['ori_shape'][:2]
    boxes[:, 0::2] = boxes[:, 0::2].clip(0, w)
    boxes[:, 1::2] = boxes[:, 1::2].clip(0, h)
    return dict(det, bboxes=boxes)


def match_detections(a: Dict[str, np.ndarray], b: Dict[str, np.ndarray],
                     min_iou: float = 0.99, max_score_diff: float = 1e-3,
                     tie: float = 1e-4) -> Tuple[int, int, int]:
    """Greedy one-to-one matching of two detection sets of one image (same label, IoU >=
    ``min_iou``, |score difference| <= ``max_score_diff``), best scores first. Returns
    ``(matched, ties, unmatched)``: ``ties`` pairs up what is left of each side with the same
    label and scores equal within ``tie``: boxes of near-equal score (flat image regions give
    neighbouring cells near-identical features) that two runtimes' rounding (about 1e-6) can
    put in another order, so that NMS keeps another of them; ``unmatched`` counts the rest of
    both sides (0 when the sets are the same)."""
    from mmdet.structures.bbox import bbox_overlaps
    na, nb = len(a['scores']), len(b['scores'])
    if not na or not nb:
        return 0, 0, na + nb
    iou = bbox_overlaps(torch.as_tensor(a['bboxes']).float(),
                        torch.as_tensor(b['bboxes']).float()).numpy()
    same_label = a['labels'][:, None] == b['labels'][None]
    score_diff = np.abs(a['scores'][:, None] - b['scores'][None])
    used_a, used_b = np.zeros(na, bool), np.zeros(nb, bool)

    def pair(ok, order):
        count = 0
        for i in order:
            free = np.nonzero(ok[i] & ~used_b)[0]
            if not used_a[i] and len(free):
                used_b[free[np.argmax(iou[i, free])]] = used_a[i] = True
                count += 1
        return count

    order = np.argsort(-a['scores'])
    matched = pair((iou >= min_iou) & same_label & (score_diff <= max_score_diff), order)
    ties = pair(same_label & (score_diff <= tie), order)
    return matched, ties, na + nb - 2 * (matched + ties)


def images_per_second(fn: Callable[[], object], warmup: int = 3, iters: int = 20) -> float:
    """1 / the median time of ``fn`` (one image) after ``warmup`` untimed calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(iters):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1.0 / sorted(times)[len(times) // 2]


def compare_on_dataset(model: nn.Module, onnx_path: str, dataset_cfg: dict, evaluator_cfg,
                       img_size: int, max_images: Optional[int] = None,
                       warmup: int = 3) -> Dict[str, float]:
    """PyTorch (MMYOLO's own ``test_step``) against the end-to-end ONNX model at
    ``onnx_path`` on the images of ``dataset_cfg`` (built without YOLOv5's rectangular batch
    shapes, so that every input is ``img_size`` square as the ONNX model needs), one image at
    a time: COCO mAP of each through ``evaluator_cfg`` (the config's ``val_evaluator``),
    detections matched one to one (:func:`match_detections`: matched, equal-score ties, the
    rest unmatched) and images per second of each
    (pre-processing, forward and NMS timed; the first ``warmup`` images untimed)."""
    import copy

    from mmengine.dataset import pseudo_collate
    from mmengine.evaluator import Evaluator
    from mmengine.registry import DefaultScope
    from mmengine.structures import InstanceData
    from mmyolo.registry import DATASETS
    ds_cfg = copy.deepcopy(dataset_cfg)
    ds_cfg.pop('batch_shapes_cfg', None)
    with DefaultScope.overwrite_default_scope('mmyolo'):
        dataset = DATASETS.build(ds_cfg)
        evaluators = {k: Evaluator(copy.deepcopy(evaluator_cfg)) for k in ('torch', 'onnx')}
    for ev in evaluators.values():
        ev.dataset_meta = dataset.metainfo
    count = len(dataset) if max_images is None else min(len(dataset), max_images)
    with open(onnx_path, 'rb') as f:
        session = _session(f.read())
    model = model.eval()
    elapsed = {'torch': 0.0, 'onnx': 0.0}
    matched = ties = unmatched = 0
    with torch.no_grad():
        for k in range(count):
            batch = pseudo_collate([dataset[k]])
            start = time.perf_counter()
            torch_sample = model.test_step(batch)[0]
            t_torch = time.perf_counter() - start
            start = time.perf_counter()
            data = model.data_preprocessor(batch, False)
            inputs, sample = data['inputs'], data['data_samples'][0]
            if tuple(inputs.shape[2:]) != (img_size, img_size):
                raise ValueError(f'the test pipeline gave a {tuple(inputs.shape[2:])} input, the '
                                 f'ONNX model takes {img_size}x{img_size}: export it at the '
                                 "size of the config's test pipeline")
            det = rescale_detections(end2end_detections(session.run(
                None, {'images': _array(inputs)})), sample.metainfo)
            t_onnx = time.perf_counter() - start
            if k >= warmup:
                elapsed['torch'] += t_torch
                elapsed['onnx'] += t_onnx
            pred = torch_sample.pred_instances
            ref = dict(bboxes=pred.bboxes.numpy(), scores=pred.scores.numpy(),
                       labels=pred.labels.numpy())
            m, t, u = match_detections(ref, det)
            matched, ties, unmatched = matched + m, ties + t, unmatched + u
            onnx_sample = copy.deepcopy(torch_sample)
            onnx_sample.pred_instances = InstanceData(
                bboxes=torch.from_numpy(det['bboxes']), scores=torch.from_numpy(det['scores']),
                labels=torch.from_numpy(det['labels']))
            evaluators['torch'].process([torch_sample], batch)
            evaluators['onnx'].process([onnx_sample], batch)
    out: Dict[str, float] = dict(images=count, matched=matched, ties=ties, unmatched=unmatched)
    for key, ev in evaluators.items():
        metrics = ev.evaluate(count)
        out[f'{key}_mAP'] = metrics['coco/bbox_mAP']
        out[f'{key}_mAP50'] = metrics['coco/bbox_mAP_50']
        timed = count - warmup
        out[f'{key}_images_per_s'] = timed / elapsed[key] if timed > 0 else float('nan')
    return out
