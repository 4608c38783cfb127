"""Precision / recall at a stated threshold, on hand-built detections."""
import pytest
import torch

import kd_plugins  # noqa: F401
from kd_plugins.evaluation import DetPrecisionRecallMetric


def _sample(pred, gt):
    from mmdet.structures.bbox import HorizontalBoxes
    return dict(
        pred_instances=dict(bboxes=torch.tensor(pred[0], dtype=torch.float).reshape(-1, 4),
                            scores=torch.tensor(pred[1]), labels=torch.tensor(pred[2])),
        gt_instances=dict(bboxes=HorizontalBoxes(torch.tensor(gt[0], dtype=torch.float)
                                                 .reshape(-1, 4)),
                          labels=torch.tensor(gt[1], dtype=torch.long)))


def test_precision_recall_on_a_hand_built_case():
    metric = DetPrecisionRecallMetric(score_thr=0.25, iou_thr=0.5)
    box0, box1 = [0, 0, 10, 10], [20, 0, 30, 10]
    image1 = _sample(
        ([box0, box0, [24, 0, 34, 10], box1],  # exact, duplicate, IoU 6/14 = 0.43, exact
         [0.9, 0.8, 0.7, 0.1],  # the last is below the score threshold
         [0, 0, 1, 1]),
        ([box0, box1], [0, 1]))
    image2 = _sample(([[5, 5, 9, 9]], [0.5], [1]), ([], []))  # no ground truth
    metric.process({}, [image1, image2])
    # TP: box0 (0.9). FP: duplicate, the 0.43-IoU box, image 2's box. 2 ground-truth boxes.
    assert metric.compute_metrics(metric.results) == dict(precision=pytest.approx(0.25),
                                                          recall=pytest.approx(0.5))
    # a lower IoU threshold makes the 0.43 box a match; the wrong class never matches
    metric = DetPrecisionRecallMetric(score_thr=0.25, iou_thr=0.4)
    metric.process({}, [image1, image2])
    assert metric.compute_metrics(metric.results) == dict(precision=pytest.approx(0.5),
                                                          recall=pytest.approx(1.0))
    metric = DetPrecisionRecallMetric(score_thr=0.0, iou_thr=0.5)
    metric.process({}, [_sample(([box1], [0.9], [0]), ([box1], [1]))])
    assert metric.compute_metrics(metric.results) == dict(precision=0.0, recall=0.0)


def test_precision_recall_bad_thresholds():
    with pytest.raises(ValueError, match='score_thr must be in'):
        DetPrecisionRecallMetric(score_thr=1.5)
    with pytest.raises(ValueError, match=r'iou_thr in \(0, 1\]'):
        DetPrecisionRecallMetric(iou_thr=0)
