"""Precision and recall at one score and IoU threshold, beside COCO mAP."""
from typing import Any, Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine.evaluator import BaseMetric
from mmyolo.registry import METRICS


def match_image(pred_bboxes: np.ndarray, pred_scores: np.ndarray, pred_labels: np.ndarray,
                gt_bboxes: np.ndarray, gt_labels: np.ndarray, score_thr: float,
                iou_thr: float) -> Tuple[int, int, int]:
    """(true positives, false positives, ground-truth count) of one image.

    Predictions with score >= ``score_thr`` are taken in decreasing score order; each matches
    the unmatched ground-truth box of its class with the highest IoU if that IoU >= ``iou_thr``
    (a true positive), else it is a false positive.
    """
    from mmdet.evaluation.functional import bbox_overlaps
    keep = pred_scores >= score_thr
    pred_bboxes, pred_scores, pred_labels = pred_bboxes[keep], pred_scores[keep], \
        pred_labels[keep]
    order = np.argsort(-pred_scores, kind='stable')
    ious = bbox_overlaps(pred_bboxes[order], gt_bboxes) if len(gt_bboxes) and len(order) \
        else np.zeros((len(order), len(gt_bboxes)))
    matched = np.zeros(len(gt_bboxes), dtype=bool)
    tp = 0
    for row, i in enumerate(order):
        candidates = (gt_labels == pred_labels[i]) & ~matched
        if not candidates.any():
            continue
        iou = np.where(candidates, ious[row], -1.)
        j = int(iou.argmax())
        if iou[j] >= iou_thr:
            matched[j] = True
            tp += 1
    return tp, len(order) - tp, len(gt_bboxes)


@METRICS.register_module()
class DetPrecisionRecallMetric(BaseMetric):
    """Detection precision and recall over the dataset at a stated score and IoU threshold.

    ``precision = TP / (TP + FP)`` and ``recall = TP / #ground truth`` with the greedy
    class-aware matching of :func:`match_image`, summed over all images. Logged as
    ``pr/precision`` and ``pr/recall`` (the thresholds are in the log line and the config).
    Use it beside COCO mAP: ``val_evaluator = [dict(type='mmdet.CocoMetric', ...),
    dict(type='DetPrecisionRecallMetric', score_thr=0.25, iou_thr=0.5)]``. Ground truth comes
    from the data samples (``LoadAnnotations`` in the test pipeline, after the resize, so in
    original image coordinates like the predictions); ignored boxes are not used.

    Args:
        score_thr (float): Predictions below it are dropped. Defaults to 0.25.
        iou_thr (float): IoU for a match. Defaults to 0.5.
    """
    default_prefix: Optional[str] = 'pr'

    def __init__(self, score_thr: float = 0.25, iou_thr: float = 0.5, **kwargs):
        super().__init__(**kwargs)
        if not 0 <= score_thr <= 1 or not 0 < iou_thr <= 1:
            raise ValueError(f'score_thr must be in [0, 1] and iou_thr in (0, 1], got '
                             f'{score_thr} and {iou_thr}')
        self.score_thr, self.iou_thr = score_thr, iou_thr

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        def arr(x):
            x = getattr(x, 'tensor', x)  # mmdet box structures (HorizontalBoxes) hold a tensor
            return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)

        for sample in data_samples:
            pred, gt = sample['pred_instances'], sample['gt_instances']
            gt_bboxes = arr(gt['bboxes']).reshape(-1, 4)
            self.results.append(match_image(
                arr(pred['bboxes']).reshape(-1, 4), arr(pred['scores']), arr(pred['labels']),
                gt_bboxes, arr(gt['labels']), self.score_thr, self.iou_thr))

    def compute_metrics(self, results: list) -> dict:
        tp, fp, n_gt = (sum(r[k] for r in results) for k in range(3))
        from mmengine.logging import print_log
        print_log(f'precision/recall at score >= {self.score_thr}, IoU >= {self.iou_thr}: '
                  f'TP {tp}, FP {fp}, ground truth {n_gt}', logger='current')
        return dict(precision=tp / (tp + fp) if tp + fp else 0.,
                    recall=tp / n_gt if n_gt else 0.)
