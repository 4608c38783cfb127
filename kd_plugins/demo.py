"""Inference-side helpers of the main job (``tools/run_demo.py``): load a trained detector
safely, time its inference, and draw its detections on chosen validation images."""
import time
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np


def load_detector(config, checkpoint: str):
    """The MMYOLO detector of ``config`` (a path or a Config of a plain MMYOLO model, e.g. one
    written by ``tools/export_student.py``) with the weights of ``checkpoint``, in eval mode.
    The checkpoint is read with :func:`~kd_plugins.compat.checkpoint.safe_torch_load` (no
    pickled code runs) and must match the model exactly."""
    from mmengine.config import Config
    from mmengine.registry import DefaultScope
    from mmengine.runner import load_state_dict
    from mmyolo.registry import MODELS
    from mmyolo.utils import register_all_modules

    from .compat.checkpoint import safe_torch_load
    register_all_modules(init_default_scope=False)
    cfg = Config.fromfile(config) if isinstance(config, str) else config
    if 'distiller' in cfg.model:
        raise ValueError('a distillation config: export the student first '
                         '(tools/export_student.py) and pass the exported config')
    with DefaultScope.overwrite_default_scope('mmyolo'):
        model = MODELS.build(cfg.model)
    ckpt = safe_torch_load(checkpoint, map_location='cpu')
    load_state_dict(model, ckpt.get('state_dict', ckpt), strict=True)
    model.cfg = cfg
    return model.eval()


def val_dataset(cfg, data_root: Optional[str] = None):
    """The validation dataset of ``cfg`` (test pipeline, ground truth kept), optionally
    re-rooted at ``data_root`` (which holds ``annotations/val.json``)."""
    import copy

    from mmengine.registry import DefaultScope
    from mmyolo.registry import DATASETS
    ds_cfg = copy.deepcopy(cfg.val_dataloader.dataset)
    if data_root is not None:
        ds_cfg.data_root = data_root.rstrip('/') + '/'
    with DefaultScope.overwrite_default_scope('mmyolo'):
        return DATASETS.build(ds_cfg)


def predict(model, dataset, indices: Sequence[int], warmup: int = 3
            ) -> Tuple[List, float]:
    """Run ``model`` on ``dataset[i]`` one image at a time (batch 1, the edge-camera case):
    pre-processing on the model (normalisation, padding), forward pass and NMS are timed, data
    loading is not. The first ``warmup`` images are run and not timed, so at least
    ``warmup + 1`` indices are needed.

    Returns:
        tuple: the predicted data samples of ``indices`` and images per second over the timed
        ones.
    """
    import torch
    from mmengine.dataset import pseudo_collate
    if len(indices) <= warmup:
        raise ValueError(f'{len(indices)} images for {warmup} warm-up ones: give more indices')
    batches = [pseudo_collate([dataset[i]]) for i in indices]
    outputs, elapsed = [], 0.0
    with torch.no_grad():
        for k, batch in enumerate(batches):
            t0 = time.perf_counter()
            out = model.test_step(batch)
            if k >= warmup:
                elapsed += time.perf_counter() - t0
            outputs.extend(out)
    return outputs, (len(batches) - warmup) / elapsed


def draw_detections(samples, classes: Sequence[str], palette: Sequence[Tuple[int, int, int]],
                    title: str, score_thr: float = 0.3, tile: int = 256) -> np.ndarray:
    """One BGR image: the images of ``samples`` side by side, ground truth in thin white boxes,
    detections with score >= ``score_thr`` in their class colour with name and score, and
    ``title`` above."""
    import cv2
    tiles = []
    for s in samples:
        img = cv2.imread(s.img_path)
        if img is None:
            raise FileNotFoundError(f'cannot read {s.img_path}')
        scale = tile / max(img.shape[:2])
        img = cv2.resize(img, (round(img.shape[1] * scale), round(img.shape[0] * scale)))
        canvas = np.full((tile, tile, 3), 114, np.uint8)
        canvas[:img.shape[0], :img.shape[1]] = img
        for box in s.gt_instances.bboxes.tolist() if 'gt_instances' in s else []:
            x1, y1, x2, y2 = (round(v * scale) for v in box)
            cv2.rectangle(canvas, (x1, y1), (x2, y2), (255, 255, 255), 1)
        pred = s.pred_instances
        for box, label, score in zip(pred.bboxes.tolist(), pred.labels.tolist(),
                                     pred.scores.tolist()):
            if score < score_thr:
                continue
            colour = tuple(int(c) for c in palette[label][::-1])  # RGB -> BGR
            x1, y1, x2, y2 = (round(v * scale) for v in box)
            cv2.rectangle(canvas, (x1, y1), (x2, y2), colour, 2)
            cv2.putText(canvas, f'{classes[label]} {score:.2f}', (x1, max(y1 - 3, 9)),
                        cv2.FONT_HERSHEY_SIMPLEX, 0.35, colour, 1, cv2.LINE_AA)
        tiles.append(canvas)
    row = np.concatenate(tiles, axis=1)
    header = np.full((24, row.shape[1], 3), 255, np.uint8)
    cv2.putText(header, title, (6, 17), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1,
                cv2.LINE_AA)
    return np.concatenate([header, row], axis=0)


def stack_rows(rows: Dict[str, np.ndarray]) -> np.ndarray:
    """Stack the per-model pictures of :func:`draw_detections` vertically (same width)."""
    width = max(r.shape[1] for r in rows.values())
    padded = [np.pad(r, ((0, 4), (0, width - r.shape[1]), (0, 0)), constant_values=255)
              for r in rows.values()]
    return np.concatenate(padded, axis=0)
