"""Convert what users bring (YOLO txt, Pascal VOC xml) to COCO json, and split COCO datasets.

Bad input is never dropped silently. Each problem is either an error naming the file (when the
data cannot be trusted: an unknown class id, a malformed line or xml) or a warning that names the
file, is logged, and is counted in the returned :class:`ConversionReport`:

===========================  ==============================================================
problem                      what happens
===========================  ==============================================================
label without image          warning ``missing_image``; the label is skipped
unreadable image             warning ``unreadable_image``; the image is skipped (decoded as
                             training decodes it, so a file cut short is caught here)
polygon row (YOLO)           counted in ``polygons``; the polygon's bounding box is the box
box partly outside image     warning ``clipped_box``; the box is clipped to the image
box entirely outside image   warning ``box_outside``; the box is skipped
zero-area box                warning ``zero_area_box``; the box is skipped
box under 1 px wide or high  warning ``tiny_box``; the box is skipped
empty label file             warning ``empty_label``; the image is kept with no objects
image without label file     warning ``missing_label``; the image is kept with no objects
unknown class id / name      ``ValueError``
malformed line / xml         ``ValueError``
===========================  ==============================================================

With ``strict=True`` every warning becomes a ``ValueError``.
"""
import collections
import json
import logging
import os
import os.path as osp
import random
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

IMG_EXTS = ('.jpg', '.jpeg', '.png', '.bmp', '.webp', '.tif', '.tiff')
logger = logging.getLogger('kd_plugins.datasets')

# Roboflow names augmented copies '<source>_jpg.rf.<hash>.jpg'; the copies share '<source>'.
ROBOFLOW_GROUP = r'^(.+?)_(?:jpe?g|png|bmp)\.rf\.[0-9a-fA-F]+'


@dataclass
class ConversionReport:
    """Counts of what a conversion kept and of each kind of problem, with the files involved."""
    images: int = 0
    boxes: int = 0
    polygons: int = 0  # YOLO rows with a polygon (segmentation exports), kept as their box
    warnings: Dict[str, List[str]] = field(default_factory=lambda: collections.defaultdict(list))

    def warn(self, kind: str, message: str, strict: bool) -> None:
        if strict:
            raise ValueError(message)
        self.warnings[kind].append(message)
        logger.warning(message)

    def count(self, kind: str) -> int:
        return len(self.warnings.get(kind, []))

    def summary(self) -> str:
        parts = [f'{self.images} images', f'{self.boxes} boxes']
        if self.polygons:
            parts.append(f'{self.polygons} of them from polygon rows')
        parts += [f'{len(v)} {k}' for k, v in sorted(self.warnings.items()) if v]
        return ', '.join(parts)


def _add_image(coco: dict, report: ConversionReport, path: str, image_root: str,
               strict: bool) -> Tuple[Optional[int], Optional[Tuple[int, int]]]:
    """Append the image at ``path`` to ``coco``; ``(None, None)`` if it cannot be read."""
    img = decode_image(path)
    if img is None:
        report.warn('unreadable_image', f'{path}: cannot be decoded as an image (a file cut '
                    'short, or not an image), skipped', strict)
        return None, None
    image_id, size = len(coco['images']), (img.shape[1], img.shape[0])
    coco['images'].append(dict(id=image_id, file_name=osp.relpath(path, image_root),
                               width=size[0], height=size[1]))
    report.images += 1
    return image_id, size


def decode_image(path: str):
    """The image as training decodes it (``mmcv.imfrombytes``), or None.

    ``cv2.imread`` returns a partial picture for a JPEG cut short, which MMCV then refuses at
    the training iteration that loads it; decoding the bytes the same way catches it here.
    """
    import mmcv
    import numpy as np
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError:
        return None
    if data.size == 0:
        return None
    return mmcv.imfrombytes(data.tobytes())


def _add_box(coco: dict, report: ConversionReport, image_id: int, cat: int,
             box: Tuple[float, float, float, float], size: Tuple[int, int], where: str,
             strict: bool) -> None:
    """Validate an ``x1, y1, x2, y2`` box against the image and append it to ``coco``."""
    x1, y1, x2, y2 = box
    w, h = size
    if x2 - x1 <= 0 or y2 - y1 <= 0:
        report.warn('zero_area_box', f'{where}: zero-area box {box} skipped', strict)
        return
    cx1, cy1, cx2, cy2 = max(0., x1), max(0., y1), min(float(w), x2), min(float(h), y2)
    if cx2 - cx1 <= 0 or cy2 - cy1 <= 0:
        report.warn('box_outside', f'{where}: box {box} lies outside the {w}x{h} image, skipped',
                    strict)
        return
    if (cx1, cy1, cx2, cy2) != (x1, y1, x2, y2):
        report.warn('clipped_box', f'{where}: box {box} crosses the {w}x{h} image border, '
                    'clipped', strict)
    bw, bh = cx2 - cx1, cy2 - cy1
    if bw < 1 or bh < 1:  # MMDetection drops these when it loads (CheckedYOLOv5CocoDataset stops)
        report.warn('tiny_box', f'{where}: box {box} is under 1 px wide or high in the {w}x{h} '
                    'image, skipped', strict)
        return
    coco['annotations'].append(
        dict(id=len(coco['annotations']) + 1, image_id=image_id, category_id=cat,
             bbox=[round(cx1, 3), round(cy1, 3), round(bw, 3), round(bh, 3)],
             area=round(bw * bh, 3), iscrowd=0))
    report.boxes += 1


def _new_coco(class_names: Sequence[str]) -> dict:
    if not class_names:
        raise ValueError('class_names is empty: give the dataset\'s class names in id order')
    return dict(images=[], annotations=[],
                categories=[dict(id=i, name=n) for i, n in enumerate(class_names)])


def _write(coco: dict, out_file: str) -> None:
    os.makedirs(osp.dirname(osp.abspath(out_file)), exist_ok=True)
    with open(out_file, 'w') as f:
        json.dump(coco, f)


def yolo_to_coco(image_dir: str, label_dir: str, class_names: Sequence[str], out_file: str,
                 image_root: Optional[str] = None,
                 strict: bool = False) -> ConversionReport:
    """Convert YOLO txt labels (``class cx cy w h``, normalised; Roboflow/Ultralytics) to COCO.

    Args:
        image_dir (str): Folder of images.
        label_dir (str): Folder of ``<image stem>.txt`` label files.
        class_names (Sequence[str]): Class names in id order (id 0 first).
        out_file (str): The COCO json to write.
        image_root (str, optional): ``file_name`` in the json is relative to this folder (the
            config's ``data_root`` + ``data_prefix``). Defaults to ``image_dir``.
        strict (bool): Turn warnings into errors. Defaults to False.

    Returns:
        ConversionReport: what was kept and what was wrong.
    """
    image_root = image_dir if image_root is None else image_root
    coco, report = _new_coco(class_names), ConversionReport()
    if not osp.isdir(image_dir):
        raise FileNotFoundError(f'image folder {image_dir} does not exist')
    if not osp.isdir(label_dir):
        raise FileNotFoundError(f'label folder {label_dir} does not exist')
    images = {osp.splitext(n)[0]: n for n in sorted(os.listdir(image_dir))
              if n.lower().endswith(IMG_EXTS)}
    labels = {osp.splitext(n)[0]: n for n in sorted(os.listdir(label_dir)) if n.endswith('.txt')}
    for stem in sorted(set(labels) - set(images)):
        report.warn('missing_image', f'{osp.join(label_dir, labels[stem])}: no image named '
                    f'{stem}.* in {image_dir}, label skipped', strict)
    if not images:
        raise ValueError(f'no images ({"/".join(IMG_EXTS)}) in {image_dir}')
    for stem, name in images.items():
        path = osp.join(image_dir, name)
        image_id, size = _add_image(coco, report, path, image_root, strict)
        if image_id is None:
            continue
        if stem not in labels:
            report.warn('missing_label', f'{path}: no label file {stem}.txt in {label_dir}, '
                        'kept as an image with no objects', strict)
            continue
        label_path = osp.join(label_dir, labels[stem])
        with open(label_path) as f:
            lines = [ln.strip() for ln in f if ln.strip()]
        if not lines:
            report.warn('empty_label', f'{label_path}: empty label file, kept as an image with '
                        'no objects', strict)
        for no, line in enumerate(lines, 1):
            where = f'{label_path}:{no}'
            parts = line.split()
            shape = ('"class cx cy w h", or a polygon "class x1 y1 x2 y2 x3 y3 ..." (at least '
                     'three points)')
            try:
                cls, values = int(parts[0]), [float(v) for v in parts[1:]]
            except ValueError:
                raise ValueError(f'{where}: expected {shape}, got {line!r}') from None
            if len(values) != 4 and (len(values) < 6 or len(values) % 2):
                raise ValueError(f'{where}: expected {shape}, got {len(values)} numbers after '
                                 f'the class ({line!r})')
            if not 0 <= cls < len(class_names):
                raise ValueError(f'{where}: class id {cls} is out of range for the '
                                 f'{len(class_names)} classes {list(class_names)} (ids 0 to '
                                 f'{len(class_names) - 1})')
            w, h = size
            if len(values) == 4:
                cx, cy, bw, bh = values
                box = ((cx - bw / 2) * w, (cy - bh / 2) * h, (cx + bw / 2) * w,
                       (cy + bh / 2) * h)
            else:  # a segmentation export's polygon: its bounding box
                xs, ys = values[0::2], values[1::2]
                box = (min(xs) * w, min(ys) * h, max(xs) * w, max(ys) * h)
                report.polygons += 1
            _add_box(coco, report, image_id, cls, box, size, where, strict)
    _write(coco, out_file)
    logger.info(f'{out_file}: {report.summary()}')
    return report


def voc_to_coco(xml_dir: str, image_dir: str, class_names: Sequence[str], out_file: str,
                image_root: Optional[str] = None, skip_difficult: bool = False,
                strict: bool = False, stems: Optional[Sequence[str]] = None) -> ConversionReport:
    """Convert Pascal VOC xml annotations to COCO.

    Args:
        xml_dir (str): Folder of ``.xml`` files.
        image_dir (str): Folder of the images named by each xml's ``<filename>``.
        class_names (Sequence[str]): Class names; the COCO category id is the index.
        out_file (str): The COCO json to write.
        image_root (str, optional): ``file_name`` is relative to it. Defaults to ``image_dir``.
        skip_difficult (bool): Leave out objects marked ``<difficult>1``. Defaults to False.
        strict (bool): Turn warnings into errors. Defaults to False.
        stems (Sequence[str], optional): Convert only these xml files (names without
            ``.xml``, as listed in ``ImageSets/Main/<split>.txt``). Defaults to all.

    Returns:
        ConversionReport: what was kept and what was wrong.
    """
    image_root = image_dir if image_root is None else image_root
    coco, report = _new_coco(class_names), ConversionReport()
    cat_ids = {n: i for i, n in enumerate(class_names)}
    if not osp.isdir(xml_dir):
        raise FileNotFoundError(f'annotation folder {xml_dir} does not exist')
    xmls = sorted(n for n in os.listdir(xml_dir) if n.endswith('.xml'))
    if not xmls:
        raise ValueError(f'no .xml files in {xml_dir}')
    if stems is not None:
        missing = sorted(set(stems) - {n[:-4] for n in xmls})
        if missing:
            raise ValueError(f'{len(missing)} listed images have no xml in {xml_dir}: '
                             f'{missing[:5]}')
        wanted = set(stems)
        xmls = [n for n in xmls if n[:-4] in wanted]
    for name in xmls:
        xml_path = osp.join(xml_dir, name)
        try:
            root = ET.parse(xml_path).getroot()
        except ET.ParseError as e:
            raise ValueError(f'{xml_path}: not valid xml ({e})') from None
        filename = root.findtext('filename') or osp.splitext(name)[0] + '.jpg'
        path = osp.join(image_dir, filename)
        if not osp.isfile(path):
            report.warn('missing_image', f'{xml_path}: image {path} does not exist, skipped',
                        strict)
            continue
        image_id, size = _add_image(coco, report, path, image_root, strict)
        if image_id is None:
            continue
        objects = root.findall('object')
        if not objects:
            report.warn('empty_label', f'{xml_path}: no <object>, kept as an image with no '
                        'objects', strict)
        for k, obj in enumerate(objects):
            where = f'{xml_path} object {k}'
            cls = (obj.findtext('name') or '').strip()
            if cls not in cat_ids:
                raise ValueError(f'{where}: class {cls!r} is not in {list(class_names)}')
            if skip_difficult and (obj.findtext('difficult') or '0').strip() == '1':
                continue
            bnd = obj.find('bndbox')
            try:
                # VOC pixel coordinates are 1-based and inclusive.
                x1, y1, x2, y2 = (float(bnd.findtext(t)) for t in ('xmin', 'ymin', 'xmax', 'ymax'))
            except (AttributeError, TypeError, ValueError):
                raise ValueError(f'{where}: <bndbox> needs numeric xmin/ymin/xmax/ymax') from None
            _add_box(coco, report, image_id, cat_ids[cls], (x1 - 1, y1 - 1, x2, y2), size, where,
                     strict)
    _write(coco, out_file)
    logger.info(f'{out_file}: {report.summary()}')
    return report


def split_coco(ann_file: str, out_dir: str, ratios: Sequence[float] = (0.8, 0.1, 0.1),
               names: Sequence[str] = ('train', 'val', 'test'), seed: int = 0,
               subset: Optional[int] = None,
               group_pattern: Optional[str] = ROBOFLOW_GROUP) -> Dict[str, str]:
    """Split a COCO json at random by ratio, keeping augmented copies of one source together.

    Args:
        ann_file (str): The COCO json to split (images are not moved).
        out_dir (str): Where ``<name>.json`` files go.
        ratios (Sequence[float]): Fraction per split; normalised to sum to 1. The 8:1:1 of
            Huang et al. (arXiv:2410.12259) is the default.
        names (Sequence[str]): One name per ratio.
        seed (int): Random seed.
        subset (int, optional): First draw this many images at random (whole groups), e.g. the
            6000-image COCO subset of Huang et al..
        group_pattern (str, optional): A regex whose first group, matched on the file's base
            name, names the source image; images with the same source land in one split. The
            default recognises Roboflow's ``<source>_jpg.rf.<hash>.jpg``; files it does not match
            are their own group. None: every image is its own group.

    Returns:
        dict: split name -> json path.
    """
    if len(ratios) != len(names):
        raise ValueError(f'{len(ratios)} ratios for {len(names)} split names')
    if any(r < 0 for r in ratios) or sum(ratios) <= 0:
        raise ValueError(f'ratios must be >= 0 with a positive sum, got {list(ratios)}')
    with open(ann_file) as f:
        coco = json.load(f)
    regex = re.compile(group_pattern) if group_pattern else None
    groups = collections.OrderedDict()
    for img in coco['images']:
        base = osp.basename(img['file_name'])
        m = regex.match(base) if regex else None
        groups.setdefault(m.group(1) if m else base, []).append(img)
    keys = list(groups)
    rng = random.Random(seed)
    rng.shuffle(keys)
    if subset is not None:
        if subset > len(coco['images']):
            raise ValueError(f'subset={subset} but {ann_file} has {len(coco["images"])} images')
        chosen, n = [], 0
        for k in keys:
            if n >= subset:
                break
            chosen.append(k)
            n += len(groups[k])
        keys = chosen
    total = sum(len(groups[k]) for k in keys)
    norm = [r / sum(ratios) for r in ratios]
    # Fill splits in order by image count, so ratios hold even with groups of several images.
    targets = [round(total * sum(norm[:i + 1])) for i in range(len(norm))]
    assign, done, split = {}, 0, 0
    for k in keys:
        while split < len(names) - 1 and done >= targets[split]:
            split += 1
        assign[k] = split
        done += len(groups[k])
    by_image = {}
    for k, s in assign.items():
        for img in groups[k]:
            by_image[img['id']] = s
    os.makedirs(out_dir, exist_ok=True)
    out = {}
    for s, name in enumerate(names):
        ids = {i for i, v in by_image.items() if v == s}
        part = dict(coco, images=[im for im in coco['images'] if im['id'] in ids],
                    annotations=[a for a in coco['annotations'] if a['image_id'] in ids])
        out[name] = osp.join(out_dir, f'{name}.json')
        _write(part, out[name])
        logger.info(f'{out[name]}: {len(part["images"])} images, '
                    f'{len(part["annotations"])} boxes')
    return out
