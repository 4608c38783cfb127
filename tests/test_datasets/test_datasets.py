"""The demo data generator, the YOLO / VOC converters and the split tool, bad inputs included."""
import hashlib
import json
import os
import os.path as osp

import cv2
import numpy as np
import pytest

from kd_plugins.datasets import DEMO_CLASSES, generate_demo_dataset, render_scene
from kd_plugins.datasets.converters import split_coco, voc_to_coco, yolo_to_coco


def _digest(root):
    h = hashlib.sha256()
    for dirpath, _, files in sorted(os.walk(root)):
        for name in sorted(files):
            with open(osp.join(dirpath, name), 'rb') as f:
                h.update(name.encode() + f.read())
    return h.hexdigest()


# ---------------------------------------------------------------- demo data
def test_demo_data_is_deterministic_and_seeded(tmp_path):
    a = generate_demo_dataset(str(tmp_path / 'a'), 6, 3, img_size=96, seed=3)
    generate_demo_dataset(str(tmp_path / 'b'), 6, 3, img_size=96, seed=3)
    generate_demo_dataset(str(tmp_path / 'c'), 6, 3, img_size=96, seed=4)
    assert _digest(tmp_path / 'a') == _digest(tmp_path / 'b')
    assert _digest(tmp_path / 'a') != _digest(tmp_path / 'c')
    with open(a['train']) as f:
        coco = json.load(f)
    assert [c['name'] for c in coco['categories']] == list(DEMO_CLASSES)
    assert len(coco['images']) == 6
    # Same arguments again: nothing is rewritten.
    mtime = os.stat(a['train']).st_mtime_ns
    generate_demo_dataset(str(tmp_path / 'a'), 6, 3, img_size=96, seed=3)
    assert os.stat(a['train']).st_mtime_ns == mtime


def test_demo_boxes_cover_visible_objects():
    rng = np.random.default_rng(0)
    n_objects, sizes, classes = 0, [], set()
    for _ in range(40):
        img, boxes = render_scene(128, rng)
        assert img.shape == (128, 128, 3) and img.dtype == np.uint8
        for cls, (x, y, w, h) in boxes:
            assert 0 <= cls < len(DEMO_CLASSES)
            assert x >= 0 and y >= 0 and x + w <= 128 and y + h <= 128 and w >= 1 and h >= 1
            sizes.append(max(w, h))
            classes.add(cls)
        n_objects += len(boxes)
    assert n_objects > 60
    assert classes == set(range(len(DEMO_CLASSES)))
    # a wide range of scales, small objects included
    assert min(sizes) <= 12 and max(sizes) >= 40


def test_demo_bad_arguments():
    with pytest.raises(ValueError, match='num_train'):
        generate_demo_dataset('/tmp/never', 0, 1)


# ---------------------------------------------------------------- YOLO txt -> COCO
def _img(path, w=100, h=80):
    cv2.imwrite(str(path), np.full((h, w, 3), 127, np.uint8))


@pytest.fixture
def yolo_dir(tmp_path):
    img, lab = tmp_path / 'images', tmp_path / 'labels'
    img.mkdir()
    lab.mkdir()
    _img(img / 'a.jpg')
    (lab / 'a.txt').write_text('0 0.5 0.5 0.2 0.25\n1 0.1 0.2 0.1 0.1\n')
    return tmp_path


def test_yolo_to_coco_golden(yolo_dir):
    out = yolo_dir / 'out.json'
    rep = yolo_to_coco(str(yolo_dir / 'images'), str(yolo_dir / 'labels'), ['a', 'b'], str(out))
    coco = json.loads(out.read_text())
    assert coco['images'] == [dict(id=0, file_name='a.jpg', width=100, height=80)]
    assert [a['bbox'] for a in coco['annotations']] == [[40.0, 30.0, 20.0, 20.0],
                                                        [5.0, 12.0, 10.0, 8.0]]
    assert [a['category_id'] for a in coco['annotations']] == [0, 1]
    assert rep.images == 1 and rep.boxes == 2 and not any(rep.warnings.values())


@pytest.mark.parametrize('case,kind', [
    ('missing_image', 'missing_image'), ('unreadable', 'unreadable_image'),
    ('outside', 'box_outside'), ('crossing', 'clipped_box'), ('zero_area', 'zero_area_box'),
    ('empty', 'empty_label'), ('no_label', 'missing_label')])
def test_yolo_bad_inputs_are_counted_and_named(yolo_dir, case, kind, caplog):
    img, lab = yolo_dir / 'images', yolo_dir / 'labels'
    if case == 'missing_image':
        (lab / 'ghost.txt').write_text('0 0.5 0.5 0.1 0.1\n')
        bad = 'ghost.txt'
    elif case == 'unreadable':
        (img / 'broken.jpg').write_bytes(b'not a jpeg')
        (lab / 'broken.txt').write_text('0 0.5 0.5 0.1 0.1\n')
        bad = 'broken.jpg'
    else:
        _img(img / 'b.jpg')
        bad = 'b.jpg' if case == 'no_label' else 'b.txt'
        lines = {'outside': '0 1.5 1.5 0.2 0.2\n', 'crossing': '0 0.95 0.5 0.2 0.2\n',
                 'zero_area': '0 0.5 0.5 0.0 0.2\n', 'empty': '\n'}
        if case != 'no_label':
            (lab / 'b.txt').write_text(lines[case])
    out = yolo_dir / 'out.json'
    rep = yolo_to_coco(str(img), str(lab), ['a', 'b'], str(out))
    assert rep.count(kind) == 1
    assert bad in rep.warnings[kind][0]
    assert bad in caplog.text
    coco = json.loads(out.read_text())
    if case == 'crossing':
        x, y, w, h = coco['annotations'][-1]['bbox']
        assert (x, x + w) == (85.0, 100.0)
    with pytest.raises(ValueError, match=bad.split('.')[0]):
        yolo_to_coco(str(img), str(lab), ['a', 'b'], str(out), strict=True)


def test_yolo_unknown_class_and_malformed_line_are_errors(yolo_dir):
    lab = yolo_dir / 'labels'
    (lab / 'a.txt').write_text('5 0.5 0.5 0.2 0.2\n')
    with pytest.raises(ValueError, match=r'a.txt:1: class id 5 is out of range for the 2 classes'):
        yolo_to_coco(str(yolo_dir / 'images'), str(lab), ['a', 'b'], str(yolo_dir / 'o.json'))
    for bad in ('0 0.5 0.5\n', '0 0.1 0.1 0.2 0.2 0.3\n', '0 a b c d\n'):
        (lab / 'a.txt').write_text(bad)  # 2 numbers; an odd polygon; not numbers
        with pytest.raises(ValueError, match='a.txt:1: expected "class cx cy w h", or a '
                           'polygon'):
            yolo_to_coco(str(yolo_dir / 'images'), str(lab), ['a', 'b'],
                         str(yolo_dir / 'o.json'))


def test_yolo_no_images_is_an_error(tmp_path):
    (tmp_path / 'i').mkdir()
    (tmp_path / 'l').mkdir()
    with pytest.raises(ValueError, match='no images'):
        yolo_to_coco(str(tmp_path / 'i'), str(tmp_path / 'l'), ['a'], str(tmp_path / 'o.json'))


# ---------------------------------------------------------------- VOC xml -> COCO
def _voc(path, filename, objects):
    objs = ''.join(
        f'<object><name>{n}</name><difficult>{d}</difficult><bndbox><xmin>{b[0]}</xmin>'
        f'<ymin>{b[1]}</ymin><xmax>{b[2]}</xmax><ymax>{b[3]}</ymax></bndbox></object>'
        for n, d, b in objects)
    path.write_text(f'<annotation><filename>{filename}</filename>{objs}</annotation>')


def test_voc_to_coco_golden_and_bad_inputs(tmp_path):
    xml, img = tmp_path / 'xml', tmp_path / 'img'
    xml.mkdir()
    img.mkdir()
    _img(img / 'a.jpg')
    _voc(xml / 'a.xml', 'a.jpg', [('helmet', 0, (11, 21, 30, 40)), ('head', 1, (1, 1, 10, 10)),
                                  ('head', 0, (50, 5, 49, 9)), ('head', 0, (90, 70, 120, 90))])
    _voc(xml / 'b.xml', 'missing.jpg', [('head', 0, (1, 1, 5, 5))])
    out = tmp_path / 'o.json'
    rep = voc_to_coco(str(xml), str(img), ['helmet', 'head'], str(out), skip_difficult=True)
    coco = json.loads(out.read_text())
    assert [a['bbox'] for a in coco['annotations']] == [[10.0, 20.0, 20.0, 20.0],
                                                        [89.0, 69.0, 11.0, 11.0]]
    assert rep.count('zero_area_box') == 1 and 'a.xml object 2' in rep.warnings[
        'zero_area_box'][0]
    assert rep.count('clipped_box') == 1 and rep.count('missing_image') == 1
    assert 'missing.jpg' in rep.warnings['missing_image'][0]
    _voc(xml / 'b.xml', 'a.jpg', [('dog', 0, (1, 1, 5, 5))])
    with pytest.raises(ValueError, match="b.xml object 0: class 'dog' is not in"):
        voc_to_coco(str(xml), str(img), ['helmet', 'head'], str(out))


# ---------------------------------------------------------------- split
def _coco_with(names, path):
    coco = dict(images=[dict(id=i, file_name=n, width=10, height=10) for i, n in
                        enumerate(names)],
                annotations=[dict(id=i + 1, image_id=i, category_id=0, bbox=[0, 0, 5, 5],
                                  area=25, iscrowd=0) for i in range(len(names))],
                categories=[dict(id=0, name='pothole')])
    path.write_text(json.dumps(coco))
    return str(path)


def test_split_ratios_disjoint_and_seeded(tmp_path):
    ann = _coco_with([f'{i}.jpg' for i in range(100)], tmp_path / 'all.json')
    out = split_coco(ann, str(tmp_path / 's'), seed=1)
    parts = {k: json.loads(open(v).read()) for k, v in out.items()}
    sizes = {k: len(v['images']) for k, v in parts.items()}
    assert sizes == {'train': 80, 'val': 10, 'test': 10}
    ids = [im['id'] for p in parts.values() for im in p['images']]
    assert sorted(ids) == list(range(100))
    for p in parts.values():
        assert {a['image_id'] for a in p['annotations']} == {im['id'] for im in p['images']}
    again = split_coco(ann, str(tmp_path / 's2'), seed=1)
    assert open(again['val']).read() == open(out['val']).read()
    other = split_coco(ann, str(tmp_path / 's3'), seed=2)
    assert open(other['val']).read() != open(out['val']).read()


def test_split_keeps_roboflow_copies_together_and_subsets(tmp_path):
    names = [f'img-{i}_jpg.rf.{h}.jpg' for i in range(30) for h in ('aa11', 'bb22', 'cc33')]
    ann = _coco_with(names, tmp_path / 'all.json')
    out = split_coco(ann, str(tmp_path / 's'), ratios=(8, 1, 1), seed=0)
    source_split = {}
    for name, path in out.items():
        for im in json.loads(open(path).read())['images']:
            src = im['file_name'].split('_jpg.rf.')[0]
            assert source_split.setdefault(src, name) == name
    assert len(source_split) == 30
    sub = split_coco(ann, str(tmp_path / 'sub'), ratios=(1, 1), names=('a', 'b'), subset=30,
                     seed=0)
    n = sum(len(json.loads(open(p).read())['images']) for p in sub.values())
    assert n == 30
    with pytest.raises(ValueError, match='subset=1000'):
        split_coco(ann, str(tmp_path / 'x'), subset=1000)


# ---- CheckedYOLOv5CocoDataset: the data is checked while it loads -------------------------------

def _coco_set(root, images=None, annotations=None, categories=None):
    """Two 100x80 images with one box each (classes 'a' = id 1, 'b' = id 2) in ``root``."""
    os.makedirs(osp.join(root, 'img'), exist_ok=True)
    for name in ('x.jpg', 'y.jpg'):
        _img(osp.join(root, 'img', name))
    coco = dict(
        images=images if images is not None else [
            dict(id=1, file_name='x.jpg', width=100, height=80),
            dict(id=2, file_name='y.jpg', width=100, height=80)],
        annotations=annotations if annotations is not None else [
            dict(id=10, image_id=1, category_id=1, bbox=[10, 10, 30, 20], area=600, iscrowd=0),
            dict(id=11, image_id=2, category_id=2, bbox=[50, 40, 20, 30], area=600, iscrowd=0)],
        categories=categories or [dict(id=1, name='a'), dict(id=2, name='b')])
    with open(osp.join(root, 'ann.json'), 'w') as f:
        json.dump(coco, f)
    return str(root)


def _load(root, dataset='CheckedYOLOv5CocoDataset', classes=('a', 'b'), **kwargs):
    from mmyolo.registry import DATASETS
    from mmyolo.utils import register_all_modules
    register_all_modules()
    return DATASETS.build(dict(type=dataset, data_root=root + '/', ann_file='ann.json',
                               data_prefix=dict(img='img/'), metainfo=dict(classes=classes),
                               pipeline=[], **kwargs))


def test_checked_dataset_loads_what_mmyolo_loads(tmp_path):
    root = _coco_set(tmp_path)
    ours, theirs = _load(root), _load(root, dataset='YOLOv5CocoDataset')
    assert len(ours) == 2
    assert [ours.get_data_info(i) for i in range(2)] == \
        [theirs.get_data_info(i) for i in range(2)]
    assert ours.get_data_info(1)['instances'][0]['bbox'] == [50, 40, 70, 70]
    assert ours.get_data_info(1)['instances'][0]['bbox_label'] == 1


def _two_boxes(first, second_bbox=(50, 40, 20, 30), second_area=600, category_id=2):
    return [first, dict(id=11, image_id=2, category_id=category_id, bbox=list(second_bbox),
                        area=second_area, iscrowd=0)]


GOOD = dict(id=10, image_id=1, category_id=1, bbox=[10, 10, 30, 20], area=600, iscrowd=0)


def bad_set(root, case):
    """The two-image set of ``_coco_set`` in ``root`` spoilt as ``case`` says; returns
    ``_load``'s keyword arguments (tests/helpers/bad_inputs.py uses it too)."""
    annotations, images, kwargs = None, None, {}
    if case == 'no_images':
        images, annotations = [], []
    elif case == 'zero_area':
        annotations = _two_boxes(GOOD, (50, 40, 0, 30), 0)
    elif case == 'sub_pixel':
        annotations = _two_boxes(GOOD, (50, 40, 0.5, 30), 15)
    elif case == 'outside':
        annotations = _two_boxes(GOOD, (120, 40, 20, 30))
    elif case == 'class_out_of_range':
        annotations = _two_boxes(GOOD, category_id=7)
    elif case == 'classes_not_in_file':
        kwargs['classes'] = ('pothole', )
    root = _coco_set(root, images=images, annotations=annotations)
    if case == 'no_file':
        os.remove(osp.join(root, 'ann.json'))
    elif case == 'missing_image':
        os.remove(osp.join(root, 'img', 'y.jpg'))
    elif case == 'unreadable_image':
        with open(osp.join(root, 'img', 'y.jpg'), 'w') as f:
            f.write('<html>not an image</html>')
    return kwargs


@pytest.mark.parametrize('case,expected', [
    ('no_file', r'annotation file .*/ann.json does not exist: check data_root and ann_file'),
    ('no_images', r'ann.json lists no images'),
    ('missing_image', r'1 image\(s\) missing or unreadable: .*img/y.jpg \(missing\)\. Check '
                      r'data_root and data_prefix.img'),
    ('unreadable_image', r'img/y.jpg \(unreadable \(UnidentifiedImageError'),
    ('zero_area', r'1 box\(es\) of zero area, under 1 px or outside their image: annotation '
                  r'id 11 of y.jpg: bbox \[50, 40, 0, 30\] area 0.*bad_boxes=\'warn\''),
    ('sub_pixel', r'annotation id 11 of y.jpg: bbox \[50, 40, 0.5, 30\]'),
    ('outside', r'annotation id 11 of y.jpg: bbox \[120, 40, 20, 30\] outside the 100x80 image'),
    ('class_out_of_range', r'1 annotation\(s\) with a category_id that is not a category of '
                           r'the file \(class id out of range; the file\'s category ids are '
                           r'\[1, 2\]\): annotation id 11 of y.jpg: category_id 7'),
    ('classes_not_in_file', r"metainfo.classes \('pothole',\) are not categories of the file, "
                            r"whose categories are \('a', 'b'\)"),
])
def test_bad_data_stops_at_load_naming_the_file(tmp_path, case, expected):
    from kd_plugins.datasets import DatasetCheckError
    kwargs = bad_set(tmp_path, case)
    with pytest.raises(DatasetCheckError, match=expected):
        _load(str(tmp_path), **kwargs)


def test_image_checks_and_bad_box_opt_out(tmp_path):
    root = _coco_set(tmp_path, annotations=_two_boxes(GOOD, (50, 40, 0, 30), 0))
    with open(osp.join(root, 'img', 'x.jpg'), 'r+b') as f:  # a JPEG cut after its header
        f.truncate(f.read().index(b'\xff\xda') + 20)  # start of scan + a few bytes
    from kd_plugins.datasets import image_problem
    path = osp.join(root, 'img', 'x.jpg')
    assert image_problem(path, 'exists') == '' and image_problem(path, 'header') == ''
    assert image_problem(path, 'decode').startswith('unreadable (OSError')
    assert image_problem(path + '.gone', 'none') == ''
    # bad_boxes='warn': the degenerate box is dropped as MMDetection drops it; loading goes on.
    ds = _load(root, bad_boxes='warn', check_images='exists')
    assert [len(ds.get_data_info(i)['instances']) for i in range(2)] == [1, 0]
    with pytest.raises(ValueError, match="check_images must be one of"):
        _load(root, check_images='full')
    with pytest.raises(ValueError, match="bad_boxes must be one of"):
        _load(root, bad_boxes='skip')


def test_classes_left_out_on_purpose_load_and_no_box_at_all_stops(tmp_path):
    from kd_plugins.datasets import DatasetCheckError
    root = _coco_set(tmp_path)
    ds = _load(root, classes=('b', ))  # a subset of the file's classes: 'a' is left out
    assert [len(ds.get_data_info(i)['instances']) for i in range(len(ds))] == [0, 1]
    root2 = _coco_set(tmp_path / 'only_a',
                      annotations=[GOOD, dict(GOOD, id=11, image_id=2)])
    with pytest.raises(DatasetCheckError, match=r"no image has a box of the classes \('b',\)"):
        _load(root2, classes=('b', ))
