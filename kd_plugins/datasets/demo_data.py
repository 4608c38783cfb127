"""The built-in demo dataset: synthetic detection scenes written as COCO json, no download.

Each image shows 0-6 objects of five shape classes (circle, square, triangle, ring, cross) in random
colours and textures (solid, stripes, checker, speckle), sizes from tiny (8 px) to large, on a noisy
gradient background with grey clutter shapes that are not objects. Objects may overlap, but each
keeps at least ``min_visible`` of its area; its box is the box of its visible pixels. Everything is
drawn from one ``numpy.random.Generator`` seeded by ``seed``, so the same arguments give the same
bytes.

Layout written under ``out_dir``::

    out_dir/
      train/000000.jpg ...
      val/000000.jpg ...
      annotations/train.json, annotations/val.json   (COCO format, category ids 0..4)
      meta.json                                        (the arguments, to skip re-generation)
"""
import json
import math
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np

DEMO_CLASSES = ('circle', 'square', 'triangle', 'ring', 'cross')

_PALETTE = np.array([
    (230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48),
    (145, 30, 180), (70, 240, 240), (240, 50, 230), (210, 245, 60), (250, 190, 190),
    (0, 128, 128), (170, 110, 40), (128, 0, 0), (0, 0, 128)], dtype=np.float32)


def _rotate(points: np.ndarray, angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    return points @ np.array([[c, s], [-s, c]], dtype=np.float64)


def _shape_mask(cls: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """A filled ``size x size`` uint8 mask (0/1) of shape class ``cls``."""
    mask = np.zeros((size, size), np.uint8)
    r = (size - 1) / 2.0
    centre = np.array([r, r])
    angle = rng.uniform(0, 2 * math.pi)
    name = DEMO_CLASSES[cls]
    shift = 4  # sub-pixel precision for cv2 drawing
    scale = 1 << shift

    def poly(pts):
        pts = np.round((pts + centre) * scale).astype(np.int32)
        cv2.fillPoly(mask, [pts], 1, lineType=cv2.LINE_8, shift=shift)

    if name == 'circle':
        cv2.circle(mask, (int(round(r * scale)),) * 2, int(r * scale), 1, -1, shift=shift)
    elif name == 'ring':
        cv2.circle(mask, (int(round(r * scale)),) * 2, int(r * scale), 1, -1, shift=shift)
        cv2.circle(mask, (int(round(r * scale)),) * 2, int(0.55 * r * scale), 0, -1, shift=shift)
    elif name == 'square':
        h = r / math.sqrt(2)
        poly(_rotate(np.array([[-h, -h], [h, -h], [h, h], [-h, h]]), angle))
    elif name == 'triangle':
        k = np.arange(3) * 2 * math.pi / 3 + angle
        poly(np.stack([np.cos(k), np.sin(k)], 1) * r)
    elif name == 'cross':
        a, b = r * 0.3, r * 0.95
        bar = np.array([[-b, -a], [b, -a], [b, a], [-b, a]])
        poly(_rotate(bar, angle))
        poly(_rotate(bar, angle + math.pi / 2))
    return mask


def _texture(size: int, rng: np.random.Generator) -> np.ndarray:
    """A ``size x size x 3`` float texture in one of four styles."""
    base = _PALETTE[rng.integers(len(_PALETTE))]
    style = rng.integers(4)
    tex = np.broadcast_to(base, (size, size, 3)).copy()
    if style == 1 or style == 2:  # stripes or checker in a second colour
        other = _PALETTE[rng.integers(len(_PALETTE))]
        period = max(2, int(rng.integers(3, 8)))
        yy, xx = np.mgrid[:size, :size]
        on = (yy // period) % 2 == 0 if style == 1 else ((yy // period + xx // period) % 2 == 0)
        tex[on] = other
    elif style == 3:  # speckle
        tex += rng.normal(0, 35, (size, size, 1)).astype(np.float32)
    return tex


def _background(img_size: int, rng: np.random.Generator) -> np.ndarray:
    c0 = rng.uniform(40, 215, 3)
    c1 = rng.uniform(40, 215, 3)
    t = np.linspace(0, 1, img_size)[:, None, None]
    grad = c0 * (1 - t) + c1 * t
    if rng.random() < 0.5:
        grad = grad.transpose(1, 0, 2)
    img = np.broadcast_to(grad, (img_size, img_size, 3)).astype(np.float32)
    return img + rng.normal(0, rng.uniform(4, 18), (img_size, img_size, 3)).astype(np.float32)


def _draw_clutter(img: np.ndarray, rng: np.random.Generator) -> None:
    """Grey (unlabelled) polygons and lines: objects' shapes without their colour."""
    size = img.shape[0]
    for _ in range(int(rng.integers(2, 9))):
        grey = float(rng.uniform(30, 225))
        if rng.random() < 0.5:
            n = int(rng.integers(3, 7))
            c = rng.uniform(0, size, 2)
            rad = rng.uniform(4, size / 6)
            k = np.sort(rng.uniform(0, 2 * math.pi, n))
            pts = c + np.stack([np.cos(k), np.sin(k)], 1) * rad * rng.uniform(0.5, 1, (n, 1))
            cv2.fillPoly(img, [pts.astype(np.int32)], (grey, grey, grey))
        else:
            p0, p1 = rng.uniform(0, size, 2), rng.uniform(0, size, 2)
            cv2.line(img, tuple(int(v) for v in p0), tuple(int(v) for v in p1), (grey, grey, grey),
                     int(rng.integers(1, 4)))


def render_scene(img_size: int, rng: np.random.Generator, max_objects: int = 6,
                 min_size: int = 8, max_size: Optional[int] = None,
                 min_visible: float = 0.5) -> Tuple[np.ndarray, List[Tuple[int, List[float]]]]:
    """Draw one scene.

    Returns:
        tuple: the ``img_size x img_size x 3`` uint8 BGR image and a list of
        ``(class_index, [x, y, w, h])`` boxes of the visible part of each object.
    """
    max_size = max_size or int(img_size * 0.43)
    img = _background(img_size, rng)
    _draw_clutter(img, rng)
    owner = np.full((img_size, img_size), -1, np.int32)  # which object each pixel shows
    areas, classes = [], []
    for _ in range(int(rng.integers(0, max_objects + 1))):
        for _attempt in range(10):
            size = int(round(math.exp(rng.uniform(math.log(min_size), math.log(max_size)))))
            cls = int(rng.integers(len(DEMO_CLASSES)))
            mask = _shape_mask(cls, size, rng).astype(bool)
            x0, y0 = (int(v) for v in rng.integers(0, img_size - size + 1, 2))
            covered = owner[y0:y0 + size, x0:x0 + size][mask]
            # Reject a placement that would hide too much of an object already drawn.
            ok = all(
                (np.count_nonzero(owner == k) - np.count_nonzero(covered == k)) >=
                min_visible * areas[k] for k in np.unique(covered[covered >= 0]))
            if ok:
                break
        else:
            continue
        k = len(areas)
        areas.append(int(mask.sum()))
        classes.append(cls)
        region = owner[y0:y0 + size, x0:x0 + size]
        region[mask] = k
        img[y0:y0 + size, x0:x0 + size][mask] = _texture(size, rng)[mask]
    boxes = []
    for k, cls in enumerate(classes):
        ys, xs = np.nonzero(owner == k)
        if len(xs) == 0:
            continue
        x1, y1 = int(xs.min()), int(ys.min())
        boxes.append((cls, [float(x1), float(y1), float(xs.max() + 1 - x1),
                            float(ys.max() + 1 - y1)]))
    img = cv2.GaussianBlur(img, (3, 3), 0.6)
    return np.clip(img, 0, 255).astype(np.uint8), boxes


def _write_split(out_dir: str, split: str, num: int, img_size: int,
                 rng: np.random.Generator) -> str:
    os.makedirs(osp.join(out_dir, split), exist_ok=True)
    images, annotations = [], []
    for i in range(num):
        img, boxes = render_scene(img_size, rng)
        name = f'{split}/{i:06d}.jpg'
        cv2.imwrite(osp.join(out_dir, name), img, [cv2.IMWRITE_JPEG_QUALITY, 95])
        images.append(dict(id=i, file_name=name, width=img_size, height=img_size))
        for cls, (x, y, w, h) in boxes:
            annotations.append(dict(id=len(annotations) + 1, image_id=i, category_id=cls,
                                    bbox=[x, y, w, h], area=w * h, iscrowd=0))
    coco = dict(images=images, annotations=annotations,
                categories=[dict(id=i, name=n) for i, n in enumerate(DEMO_CLASSES)])
    ann = osp.join(out_dir, 'annotations', f'{split}.json')
    os.makedirs(osp.dirname(ann), exist_ok=True)
    with open(ann, 'w') as f:
        json.dump(coco, f)
    return ann


def generate_demo_dataset(out_dir: str, num_train: int = 400, num_val: int = 100,
                          img_size: int = 256, seed: int = 0,
                          force: bool = False) -> Dict[str, str]:
    """Write the demo dataset (see the module docstring) and return its annotation files.

    Args:
        out_dir (str): Where to write it.
        num_train (int): Training images. Defaults to 400.
        num_val (int): Validation images. Defaults to 100.
        img_size (int): Side of the square images in pixels. Defaults to 256.
        seed (int): Random seed; the output is a function of all arguments. Defaults to 0.
        force (bool): Re-generate even if ``out_dir`` already holds this exact dataset.

    Returns:
        dict: ``{'train': path, 'val': path}`` of the COCO annotation files.
    """
    if num_train < 1 or num_val < 1 or img_size < 32:
        raise ValueError('need num_train >= 1, num_val >= 1 and img_size >= 32, got '
                         f'{num_train}, {num_val}, {img_size}')
    meta = dict(num_train=num_train, num_val=num_val, img_size=img_size, seed=seed,
                classes=list(DEMO_CLASSES), version=1)
    meta_file = osp.join(out_dir, 'meta.json')
    anns = {s: osp.join(out_dir, 'annotations', f'{s}.json') for s in ('train', 'val')}
    if not force and osp.isfile(meta_file) and all(osp.isfile(a) for a in anns.values()):
        with open(meta_file) as f:
            if json.load(f) == meta:
                return anns
    rng = np.random.default_rng(seed)
    _write_split(out_dir, 'train', num_train, img_size, rng)
    _write_split(out_dir, 'val', num_val, img_size, rng)
    with open(meta_file, 'w') as f:
        json.dump(meta, f, indent=1)
    return anns


def count_boxes(ann_file: str, thresholds: Sequence[int] = (16, 32, 96)) -> Dict[str, int]:
    """Objects per size bucket (by sqrt of box area), for docs and sanity checks."""
    with open(ann_file) as f:
        anns = json.load(f)['annotations']
    edges = [0, *thresholds, float('inf')]
    out = {}
    for lo, hi in zip(edges[:-1], edges[1:]):
        out[f'{lo}-{hi}'] = sum(lo <= math.sqrt(a['area']) < hi for a in anns)
    return out
