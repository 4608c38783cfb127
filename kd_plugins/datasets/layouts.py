"""Recognise what a user brings (a YOLO export, Pascal VOC, COCO json) and turn it into COCO json
splits that the project's configs read.

Three layouts, recognised in this order:

=============  ===============================================================================
``yolo``       Ultralytics / Roboflow YOLO export: ``data.yaml`` (``names``; ``train``/``val``/
               ``test`` image folders) with ``<split>/images`` + ``<split>/labels``; without a
               yaml, every ``<split>/images`` folder that has a ``<split>/labels`` beside it
               (class names from ``--classes``). Polygon rows (segmentation exports) become
               their bounding box and are counted.
``voc``        Pascal VOC: ``Annotations/*.xml`` + ``JPEGImages/``; splits from
               ``ImageSets/Main/{train,val,test}.txt`` when present (``trainval.txt`` alone is
               split into train and val). Class names: the xml ``<name>`` values, sorted.
``coco``       COCO json: ``annotations/*.json`` (the split is the word train / val / test in
               the file name) with the images in a folder under the dataset; also Roboflow's
               ``<split>/_annotations.coco.json`` beside the images. Class names: the json's
               categories.
=============  ===============================================================================

A dataset without a validation split is split 8:1:1 (train / val / test) with
:func:`~kd_plugins.datasets.converters.split_coco`, which keeps Roboflow's augmented copies of
one photograph in one split. Every image is decoded as training decodes it, so a file that is
cut short is named here, not at the training iteration that loads it.
"""
import glob
import json
import os
import os.path as osp
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

from .converters import (ConversionReport, _new_coco, _write, decode_image, split_coco,
                         voc_to_coco, yolo_to_coco)

SPLIT_WORDS = {'train': ('train', 'training'), 'val': ('val', 'valid', 'validation', 'eval'),
               'test': ('test', 'testing')}
LAYOUTS = ('yolo', 'voc', 'coco')
# Bumped when the conversion changes what it writes, so that an earlier conversion is redone.
CONVERSION_VERSION = 2


class DatasetLayoutError(ValueError):
    """The folder is none of the recognised layouts, or one of them with a part missing."""


@dataclass
class PreparedData:
    """COCO json splits of a user's dataset, ready for a config."""
    source: str  # the user's folder (absolute)
    layout: str  # one of LAYOUTS
    classes: List[str]
    image_root: str  # file_name in every json is relative to this folder
    ann_files: Dict[str, str]  # 'train' / 'val' / 'test' (when the data has one) -> json
    split_made: bool = False  # True: the val (and test) split was drawn from the data here
    summary: Dict[str, str] = field(default_factory=dict)  # split -> what its conversion kept
    warnings: Dict[str, int] = field(default_factory=dict)  # kind -> count, over all splits
    polygons: int = 0
    fingerprint: str = ''  # of the source files (names, sizes, times): a change redoes it
    version: int = 0  # CONVERSION_VERSION of the code that wrote it

    def save(self, path: str) -> None:
        with open(path, 'w') as f:
            json.dump(asdict(self), f, indent=1, ensure_ascii=False)

    @classmethod
    def load(cls, path: str) -> 'PreparedData':
        with open(path) as f:
            return cls(**json.load(f))


def fingerprint(root: str) -> str:
    """A digest of every file's path, size and modification time under ``root``."""
    import hashlib
    h = hashlib.sha1()
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(files):
            st = os.stat(osp.join(folder, name))
            h.update(f'{osp.relpath(osp.join(folder, name), root)}\0{st.st_size}\0'
                     f'{st.st_mtime_ns}\n'.encode('utf-8', errors='surrogateescape'))
    return h.hexdigest()


def _split_of(name: str) -> Optional[str]:
    """'train' / 'val' / 'test' for a folder or file name, by its words."""
    words = [w for w in name.lower().replace('-', '_').replace('.', '_').split('_') if w]
    for split, names in SPLIT_WORDS.items():
        if any(w in names or w.rstrip('0123456789') in names for w in words):
            return split
    return None


def _yaml_names(data: dict, where: str) -> List[str]:
    names = data.get('names')
    if isinstance(names, dict):  # Ultralytics: {0: name, 1: name}
        return [str(names[k]) for k in sorted(names, key=int)]
    if isinstance(names, list) and names:
        return [str(n) for n in names]
    raise DatasetLayoutError(f'{where} has no class names ("names: [...]")')


def _data_yaml(root: str) -> Tuple[Optional[str], dict]:
    """The first ``*.yaml`` / ``*.yml`` of a YOLO export and its content ((None, {}) if none)."""
    import yaml
    for yf in sorted(glob.glob(osp.join(root, '*.yaml')) + glob.glob(osp.join(root, '*.yml'))):
        with open(yf) as f:
            return yf, yaml.safe_load(f) or {}
    return None, {}


def _yolo_split_dirs(root: str) -> Dict[str, str]:
    """split -> image folder of a YOLO export (from data.yaml when there is one)."""
    found = {}
    _, data = _data_yaml(root)
    base = osp.join(root, data['path']) if isinstance(data.get('path'), str) else root
    for key in ('train', 'val', 'test'):
        rel = data.get(key)
        if not isinstance(rel, str):
            continue
        # Roboflow writes '../train/images' relative to a folder above the yaml's
        candidates = [osp.join(base, rel), osp.join(root, rel)]
        while rel.startswith('../'):
            rel = rel[3:]
            candidates.append(osp.join(root, rel))
        hit = next((c for c in candidates if osp.isdir(c)), None)
        if hit:
            found[key] = osp.normpath(hit)
    if found:
        return found
    for name in sorted(os.listdir(root)):
        images = osp.join(root, name, 'images')
        split = _split_of(name)
        if split and split not in found and osp.isdir(images) and osp.isdir(
                osp.join(root, name, 'labels')):
            found[split] = images
    return found


def _labels_dir(image_dir: str) -> str:
    head, tail = osp.split(image_dir)
    return osp.join(head, 'labels') if tail == 'images' else image_dir


def detect_layout(root: str) -> str:
    """The layout of the dataset folder ``root``: one of :data:`LAYOUTS`.

    Raises:
        DatasetLayoutError: none fits; the message says what each layout needs.
    """
    if not osp.isdir(root):
        raise DatasetLayoutError(f'dataset folder {root} does not exist')
    if osp.isdir(osp.join(root, 'Annotations')) and osp.isdir(osp.join(root, 'JPEGImages')):
        return 'voc'
    if _coco_jsons(root):
        return 'coco'
    if _yolo_split_dirs(root):
        return 'yolo'
    entries = sorted(os.listdir(root))[:10]
    raise DatasetLayoutError(
        f'{root} is none of the dataset layouts this tool reads; it holds {entries}. '
        'Expected one of: a YOLO export (data.yaml with <split>/images and <split>/labels, or '
        'those folders without the yaml and --classes), Pascal VOC (Annotations/ and '
        'JPEGImages/, optionally ImageSets/Main/<split>.txt), or COCO json '
        '(annotations/<split>.json with the images in a folder beside it, or '
        '<split>/_annotations.coco.json beside the images)')


def _coco_jsons(root: str) -> Dict[str, str]:
    """split -> COCO json of the dataset (unsplit data: key 'all')."""
    found = {}
    files = sorted(glob.glob(osp.join(root, 'annotations', '*.json')))
    files += sorted(glob.glob(osp.join(root, '*', '_annotations.coco.json')))
    for path in files:
        name = (osp.basename(osp.dirname(path)) if osp.basename(path).startswith('_annotations')
                else osp.splitext(osp.basename(path))[0])
        split = _split_of(name) or 'all'
        found.setdefault(split, path)
    if set(found) - {'all'}:
        found.pop('all', None)
    return found


def _write_coco_split(json_file: str, root: str, out_file: str,
                      report: ConversionReport) -> List[str]:
    """Copy one COCO json with file names relative to ``root``, dropping images that do not
    decode (each named in ``report``); returns the class names."""
    with open(json_file) as f:
        coco = json.load(f)
    cats = sorted(coco.get('categories', []), key=lambda c: c['id'])
    names = [c['name'] for c in cats]
    if not coco.get('images'):
        raise DatasetLayoutError(f'{json_file} lists no images')
    # where the images are: the first folder under which the first file name exists
    first = coco['images'][0]['file_name']
    stem = osp.splitext(osp.basename(json_file))[0]
    bases = [osp.dirname(json_file), osp.join(root, 'images'), root,
             osp.join(root, stem), osp.join(root, stem.replace('instances_', ''))]
    bases += [osp.join(root, d) for d in sorted(os.listdir(root))]
    image_dir = next((b for b in bases if osp.isfile(osp.join(b, first))), None)
    if image_dir is None:
        raise DatasetLayoutError(f'{json_file}: its first image {first!r} is in none of '
                                 f'{sorted(set(bases))[:6]}...; put the images in a folder '
                                 f'under {root}')
    keep = []
    for img in coco['images']:
        path = osp.join(image_dir, img['file_name'])
        if not osp.isfile(path) or decode_image(path) is None:
            report.warn('unreadable_image' if osp.isfile(path) else 'missing_image',
                        f'{path}: listed in {json_file} but ' +
                        ('cannot be decoded' if osp.isfile(path) else 'does not exist') +
                        ', skipped', strict=False)
            continue
        keep.append(dict(img, file_name=osp.relpath(path, root)))
    ids = {img['id'] for img in keep}
    anns = [a for a in coco.get('annotations', []) if a['image_id'] in ids]
    report.images, report.boxes = len(keep), len(anns)
    out = _new_coco(names)
    out.update(images=keep, annotations=anns, categories=cats)
    _write(out, out_file)
    return names


def _voc_names(xml_dir: str) -> List[str]:
    names = set()
    for path in glob.glob(osp.join(xml_dir, '*.xml')):
        try:
            root = ET.parse(path).getroot()
        except ET.ParseError as e:
            raise ValueError(f'{path}: not valid xml ({e})') from None
        names.update((o.findtext('name') or '').strip() for o in root.findall('object'))
    names.discard('')
    if not names:
        raise DatasetLayoutError(f'no <object><name> in the xml files of {xml_dir}')
    return sorted(names)


def prepare_dataset(root: str, out_dir: str, classes: Optional[Sequence[str]] = None,
                    seed: int = 0, log=print) -> PreparedData:
    """Convert the dataset at ``root`` to COCO json splits in ``out_dir``.

    Args:
        root (str): The user's dataset folder (any of :data:`LAYOUTS`).
        out_dir (str): Where ``train.json``, ``val.json`` (and ``test.json``) and
            ``dataset.json`` (this function's result) go.
        classes (Sequence[str], optional): Class names in id order: needed by a YOLO export
            without data.yaml; otherwise they override the data's own list (checked to be as
            long).
        seed (int): Seed of the 8:1:1 split of data that has no validation split.
        log (callable): Where progress lines go.

    Returns:
        PreparedData: the splits and what their conversion found.
    """
    root = osp.abspath(root)
    layout = detect_layout(root)
    os.makedirs(out_dir, exist_ok=True)
    reports, files = {}, {}
    names = list(classes) if classes else None
    if layout == 'yolo':
        dirs = _yolo_split_dirs(root)
        yaml_file, yaml_data = _data_yaml(root)
        if yaml_file:
            data_names = _yaml_names(yaml_data, yaml_file)
            if names and len(names) != len(data_names):
                raise DatasetLayoutError(
                    f'--classes gives {len(names)} names but {yaml_file} has {len(data_names)} '
                    f'({data_names})')
            names = names or data_names
        if not names:
            raise DatasetLayoutError(f'{root} is a YOLO export without data.yaml: give the '
                                     'class names in id order with --classes')
        for split, image_dir in dirs.items():
            label_dir = _labels_dir(image_dir)
            out = osp.join(out_dir, f'{split}.json')
            log(f'  {split}: {image_dir} + {label_dir} -> {out}')
            reports[split] = yolo_to_coco(image_dir, label_dir, names, out, image_root=root)
            files[split] = out
    elif layout == 'voc':
        xml_dir, image_dir = osp.join(root, 'Annotations'), osp.join(root, 'JPEGImages')
        names = names or _voc_names(xml_dir)
        lists = {osp.splitext(osp.basename(p))[0]: p
                 for p in glob.glob(osp.join(root, 'ImageSets', 'Main', '*.txt'))}
        stems = {}
        for name, path in lists.items():
            if name in ('train', 'val', 'test', 'trainval'):
                with open(path) as f:
                    stems[name] = [ln.split()[0] for ln in f if ln.strip()]
        if 'train' not in stems and 'trainval' in stems:
            stems['all_trainval'] = stems.pop('trainval')
        stems.pop('trainval', None)
        if not stems:
            stems = {'all': None}
        for split, listed in stems.items():
            out = osp.join(out_dir, f'{split}.json')
            log(f'  {split}: {xml_dir} ({"all" if listed is None else len(listed)} xml) -> {out}')
            reports[split] = voc_to_coco(xml_dir, image_dir, names, out, image_root=root,
                                         stems=listed)
            files[split] = out
    else:
        jsons = _coco_jsons(root)
        for split, json_file in jsons.items():
            out = osp.join(out_dir, f'{split}.json')
            log(f'  {split}: {json_file} -> {out}')
            reports[split] = ConversionReport()
            data_names = _write_coco_split(json_file, root, out, reports[split])
            if names and len(names) != len(data_names):
                raise DatasetLayoutError(f'--classes gives {len(names)} names but {json_file} '
                                         f'has {len(data_names)} categories ({data_names})')
            if not names:
                names = data_names
            elif not classes and data_names != names:
                raise DatasetLayoutError(f'{json_file}: categories {data_names} differ from '
                                         f'those of the other splits ({names})')
            files[split] = out

    for split, rep in reports.items():
        if rep.images == 0:
            raise DatasetLayoutError(f'the {split} split of {root} has no usable image')
    split_made = False
    if 'all' in files or 'all_trainval' in files:
        whole = files.pop('all', None) or files.pop('all_trainval')
        names_ratios = ((('train', 'val', 'test'), (8, 1, 1)) if 'test' not in files
                        else (('train', 'val'), (8, 1)))
        log(f'  no validation split: {whole} split {":".join(map(str, names_ratios[1]))} into '
            f'{"/".join(names_ratios[0])} (seed {seed}; augmented copies kept together)')
        files.update(split_coco(whole, out_dir, names_ratios[1], names_ratios[0], seed=seed))
        split_made = True
    elif 'val' not in files:
        if 'train' not in files:
            raise DatasetLayoutError(f'{root}: found the splits {sorted(files)}, no train split')
        log(f'  no validation split: {files["train"]} split 8:1:1 into train/val/test '
            f'(seed {seed}; augmented copies kept together)')
        test = files.pop('test', None)
        made = split_coco(files['train'], osp.join(out_dir, 'split'), (8, 1, 1),
                          ('train', 'val', 'test'), seed=seed)
        files.update(train=made['train'], val=made['val'])
        files['test'] = test or made['test']
        split_made = True
    if 'train' not in files:
        raise DatasetLayoutError(f'{root}: found the splits {sorted(files)}, no train split')
    for split, path in files.items():
        with open(path) as f:
            coco = json.load(f)
        if not coco['images']:
            raise DatasetLayoutError(f'the {split} split ({path}) has no images')
        if split in ('train', 'val') and not coco['annotations']:
            raise DatasetLayoutError(f'the {split} split ({path}) has no labelled object: '
                                     'check that the label files belong to these images')
    warnings: Dict[str, int] = {}
    for rep in reports.values():
        for kind, items in rep.warnings.items():
            warnings[kind] = warnings.get(kind, 0) + len(items)
    data = PreparedData(
        source=root, layout=layout, classes=list(names), image_root=root,
        ann_files={k: osp.abspath(v) for k, v in files.items() if k in ('train', 'val', 'test')},
        split_made=split_made, summary={k: r.summary() for k, r in reports.items()},
        warnings=warnings, polygons=sum(r.polygons for r in reports.values()),
        fingerprint=fingerprint(root), version=CONVERSION_VERSION)
    data.save(osp.join(out_dir, 'dataset.json'))
    return data


__all__ = ['CONVERSION_VERSION', 'DatasetLayoutError', 'LAYOUTS', 'PreparedData', 'detect_layout',
           'fingerprint', 'prepare_dataset']
