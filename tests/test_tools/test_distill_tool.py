"""tools/distill.py: the three dataset layouts, the written configs, bad input, and the whole
command on tiny generated data (resumed, report read back from the runs)."""
import csv
import json
import os
import os.path as osp
import shutil
import subprocess
import sys

import cv2
import numpy as np
import pytest

from conftest import ROOT, load_script, save_model

CLASSES = ['helmet', 'head']


def _scene(path, boxes, size=96):
    """An image of ``size`` px with a filled rectangle per box (x1, y1, x2, y2 in pixels)."""
    img = np.full((size, size, 3), 90, np.uint8)
    for k, (x1, y1, x2, y2) in enumerate(boxes):
        cv2.rectangle(img, (int(x1), int(y1)), (int(x2), int(y2)), (40 + 150 * k % 255, 200, 60),
                      -1)
    os.makedirs(osp.dirname(path), exist_ok=True)
    assert cv2.imwrite(str(path), img)


BOXES = [[(10, 10, 40, 50)], [(50, 20, 90, 60), (5, 60, 30, 90)], [(30, 30, 70, 70)]]


def make_yolo(root, splits=('train', 'valid'), n=6, yaml=True, polygon=True):
    """A Roboflow-like YOLO export; the first train label holds a polygon row."""
    for split in splits:
        for i in range(n):
            boxes = BOXES[i % 3]
            name = f'img{i}_jpg.rf.{i:08x}'
            _scene(osp.join(root, split, 'images', name + '.jpg'), boxes)
            rows = [f'{k % 2} {(x1 + x2) / 192:.6f} {(y1 + y2) / 192:.6f} {(x2 - x1) / 96:.6f} '
                    f'{(y2 - y1) / 96:.6f}' for k, (x1, y1, x2, y2) in enumerate(boxes)]
            if polygon and split == 'train' and i == 0:
                # a triangle whose bounding box is (12, 24) - (48, 72) px
                rows.append('1 0.125 0.25 0.5 0.5 0.25 0.75')
            os.makedirs(osp.join(root, split, 'labels'), exist_ok=True)
            with open(osp.join(root, split, 'labels', name + '.txt'), 'w') as f:
                f.write('\n'.join(rows) + '\n')
    if yaml:
        with open(osp.join(root, 'data.yaml'), 'w') as f:
            f.write('train: ../train/images\nval: ../valid/images\n\nnc: 2\n'
                    f'names: {CLASSES}\n')
    return root


def make_voc(root, n=8, lists=True):
    for i in range(n):
        boxes = BOXES[i % 3]
        _scene(osp.join(root, 'JPEGImages', f'{i:04d}.jpg'), boxes)
        objects = ''.join(
            f'<object><name>{CLASSES[k % 2]}</name><bndbox><xmin>{x1 + 1}</xmin>'
            f'<ymin>{y1 + 1}</ymin><xmax>{x2}</xmax><ymax>{y2}</ymax></bndbox></object>'
            for k, (x1, y1, x2, y2) in enumerate(boxes))
        os.makedirs(osp.join(root, 'Annotations'), exist_ok=True)
        with open(osp.join(root, 'Annotations', f'{i:04d}.xml'), 'w') as f:
            f.write(f'<annotation><filename>{i:04d}.jpg</filename>{objects}</annotation>')
    if lists:
        os.makedirs(osp.join(root, 'ImageSets', 'Main'), exist_ok=True)
        for split, ids in (('train', range(0, n - 3)), ('val', range(n - 3, n))):
            with open(osp.join(root, 'ImageSets', 'Main', f'{split}.txt'), 'w') as f:
                f.write(''.join(f'{i:04d}\n' for i in ids))
    return root


def make_coco(root, n=6):
    for split in ('train', 'val'):
        coco = dict(images=[], annotations=[],
                    categories=[dict(id=1, name='helmet'), dict(id=2, name='head')])
        for i in range(n):
            name = f'{split}_{i}.jpg'
            _scene(osp.join(root, 'images', name), BOXES[i % 3])
            coco['images'].append(dict(id=i, file_name=name, width=96, height=96))
            for k, (x1, y1, x2, y2) in enumerate(BOXES[i % 3]):
                coco['annotations'].append(dict(
                    id=len(coco['annotations']) + 1, image_id=i, category_id=1 + k % 2,
                    bbox=[x1, y1, x2 - x1, y2 - y1], area=(x2 - x1) * (y2 - y1), iscrowd=0))
        os.makedirs(osp.join(root, 'annotations'), exist_ok=True)
        with open(osp.join(root, 'annotations', f'instances_{split}.json'), 'w') as f:
            json.dump(coco, f)
    return root


def _load(path):
    with open(path) as f:
        return json.load(f)


def test_yolo_export_with_spaces_polygons_and_roboflow_paths(tmp_path):
    from kd_plugins.datasets.layouts import detect_layout, prepare_dataset
    root = make_yolo(str(tmp_path / 'Helmets på bygget.v3i.yolov8'))
    assert detect_layout(root) == 'yolo'
    data = prepare_dataset(root, str(tmp_path / 'out'), log=lambda m: None)
    assert data.classes == CLASSES and not data.split_made
    assert sorted(data.ann_files) == ['train', 'val']
    train = _load(data.ann_files['train'])
    assert len(train['images']) == 6 and data.polygons == 1
    assert '1 of them from polygon rows' in data.summary['train']
    # the polygon's bounding box, in pixels of the 96 px image
    first = next(im['id'] for im in train['images'] if 'img0_' in im['file_name'])
    boxes = [a['bbox'] for a in train['annotations'] if a['image_id'] == first]
    assert [12.0, 24.0, 36.0, 48.0] in boxes
    # file names are relative to the data folder, whose name has a space and a non-ASCII letter
    assert train['images'][0]['file_name'].startswith('train/images/img')
    assert osp.isfile(osp.join(data.image_root, train['images'][0]['file_name']))


def test_voc_and_coco_layouts(tmp_path):
    from kd_plugins.datasets.layouts import detect_layout, prepare_dataset
    voc = make_voc(str(tmp_path / 'voc'))
    assert detect_layout(voc) == 'voc'
    data = prepare_dataset(voc, str(tmp_path / 'voc_out'), log=lambda m: None)
    assert data.classes == sorted(CLASSES)  # the xml names, sorted
    assert [len(_load(data.ann_files[s])['images']) for s in ('train', 'val')] == [5, 3]
    box = _load(data.ann_files['train'])['annotations'][0]['bbox']
    assert box == [10.0, 10.0, 30.0, 40.0]  # VOC's 1-based inclusive corners

    coco = make_coco(str(tmp_path / 'coco'))
    assert detect_layout(coco) == 'coco'
    data = prepare_dataset(coco, str(tmp_path / 'coco_out'), log=lambda m: None)
    assert data.classes == CLASSES
    val = _load(data.ann_files['val'])
    assert len(val['images']) == 6 and val['images'][0]['file_name'] == 'images/val_0.jpg'


def test_data_without_a_validation_split_is_split_8_1_1(tmp_path):
    from kd_plugins.datasets.layouts import prepare_dataset
    root = make_voc(str(tmp_path / 'voc'), n=20, lists=False)
    data = prepare_dataset(root, str(tmp_path / 'out'), log=lambda m: None)
    assert data.split_made
    sizes = [len(_load(data.ann_files[s])['images']) for s in ('train', 'val', 'test')]
    assert sizes == [16, 2, 2]


@pytest.mark.parametrize('case,message', [
    ('unknown', r'none of the dataset layouts this tool reads; it holds \[\'notes.txt\'\]'),
    ('class_id', r'img1_jpg.*\.txt:1: class id 7 is out of range for the 2 classes'),
    ('no_names', r'YOLO export without data.yaml: give the class names in id order with '
                 r'--classes'),
    ('no_labels', r'the val split \(.*val.json\) has no labelled object'),
])
def test_bad_datasets_name_the_problem(tmp_path, case, message):
    from kd_plugins.datasets.layouts import prepare_dataset
    root = str(tmp_path / 'data')
    if case == 'unknown':
        os.makedirs(root)
        open(osp.join(root, 'notes.txt'), 'w').close()
    else:
        make_yolo(root, yaml=case != 'no_names')
        if case == 'class_id':
            label = sorted(os.listdir(osp.join(root, 'train', 'labels')))[1]
            with open(osp.join(root, 'train', 'labels', label), 'w') as f:
                f.write('7 0.5 0.5 0.2 0.2\n')
        elif case == 'no_labels':
            for name in os.listdir(osp.join(root, 'valid', 'labels')):
                open(osp.join(root, 'valid', 'labels', name), 'w').close()
    with pytest.raises(ValueError, match=message):
        prepare_dataset(root, str(tmp_path / 'out'), log=lambda m: None)


def test_an_image_cut_short_is_named_and_left_out(tmp_path):
    from kd_plugins.datasets.layouts import prepare_dataset
    root = make_yolo(str(tmp_path / 'data'))
    path = osp.join(root, 'train', 'images', sorted(os.listdir(osp.join(root, 'train',
                                                                        'images')))[2])
    with open(path, 'r+b') as f:  # cut after the start of scan: the header still reads
        f.truncate(f.read().index(b'\xff\xda') + 40)
    assert cv2.imread(path) is not None  # what a header check or cv2.imread lets through
    data = prepare_dataset(root, str(tmp_path / 'out'), log=lambda m: None)
    assert data.warnings == {'unreadable_image': 1}
    assert len(_load(data.ann_files['train'])['images']) == 5


def test_a_box_under_one_pixel_is_skipped_at_conversion(tmp_path):
    """A polygon a hair wide (as in the hard-hat export) must not reach the dataset check."""
    from kd_plugins.datasets.layouts import prepare_dataset
    root = make_yolo(str(tmp_path / 'data'))
    label = osp.join(root, 'train', 'labels', sorted(os.listdir(osp.join(root, 'train',
                                                                         'labels')))[1])
    with open(label, 'a') as f:
        f.write('0 0.5 0.5 0.505 0.5 0.505 0.55\n')  # 0.48 px wide
    data = prepare_dataset(root, str(tmp_path / 'out'), log=lambda m: None)
    assert data.warnings == {'tiny_box': 1}


def test_configs_only_writes_and_checks_without_training(tmp_path):
    root = make_yolo(str(tmp_path / 'd'))
    r = _distill([root, '--out', str(tmp_path / 'o'), '--configs-only', '--seeds', '3',
                  '--distill-share', '0.25', '--precision', 'fp32',
                  '--distill-options', 'model.share_momentum=0.9'], timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    assert 'train: 6 images load and check' in r.stdout
    assert 'precision: fp32: every model trains in fp32, teachers run in fp32' in r.stdout
    lines = [ln for ln in r.stdout.splitlines() if 'tools/train.py' in ln]
    # teacher, baseline and YOLOv8's two default methods (CWD+attention, LD)
    assert len(lines) == 4 and all(ln.endswith('randomness.seed=3') for ln in lines)
    # what the trainings would be given: the distillations their teacher's precision and
    # --distill-options, the teacher and the baseline neither
    teacher_fp32 = ('--cfg-options model.teacher_precision=fp32 model.share_momentum=0.9 '
                    'randomness.seed=3')
    assert [ln.split('--work-dir ')[1].split(' ', 1)[1] for ln in lines] == [
        '--cfg-options randomness.seed=3'] * 2 + [teacher_fp32] * 2
    assert '--amp' not in r.stdout
    assert not osp.isdir(str(tmp_path / 'o' / 'runs'))
    from mmengine.config import Config
    configs = tmp_path / 'o' / 'configs'
    for method in ('cwd_att', 'ld'):  # every distillation, and only they
        assert Config.fromfile(str(configs / f'{method}.py')).model.distill_share == 0.25
    assert not (configs / 'cwd.py').exists()  # plain CWD: opt-in by name
    assert 'distill_share' not in Config.fromfile(str(configs / 'baseline.py')).model


def test_written_configs_follow_the_schedule_and_input_size(tmp_path):
    from mmengine.config import Config

    from kd_plugins.datasets.layouts import prepare_dataset
    from kd_plugins.recipe import write_configs
    data = prepare_dataset(make_yolo(str(tmp_path / 'data')), str(tmp_path / 'out'),
                           log=lambda m: None)
    v8 = write_configs(str(tmp_path / 'v8'), data, 'yolov8', 'm', 'n',
                       ['cwd_att', 'ld', 'ld_cwd_att', 'ld_clskd'], 320, 12, 18, '/x/teacher.pth',
                       val_interval=4, lr=0.02)
    cfg = Config.fromfile(v8['cwd_att'])
    assert cfg.train_cfg.max_epochs == 12 and cfg.train_cfg.val_interval == 4
    assert cfg.default_hooks.param_scheduler.max_epochs == 12
    switch = [h for h in cfg.custom_hooks if h.type == 'mmdet.PipelineSwitchHook'][0]
    assert switch.switch_epoch == 12 - 2  # mosaic off for the last sixth
    assert [t.scale for t in switch.switch_pipeline if 'scale' in t] == [(320, 320)] * 2
    mosaic = cfg.train_dataloader.dataset.pipeline[2]
    assert mosaic.type == 'Mosaic' and mosaic.img_scale == (320, 320)
    assert cfg.train_dataloader.dataset.pipeline[3].border == (-160, -160)
    assert cfg.optim_wrapper.optimizer.lr == 0.02
    assert cfg.model.teacher_ckpt == '/x/teacher.pth'
    # YOLOv8-M neck (widen 0.75, last stage 768) -> YOLOv8-N: the projector and attention widths
    chain = cfg.model.distiller.connectors.s2  # MMRazor's list: projector, attention, ...
    assert (chain[0].student_channels, chain[0].teacher_channels, chain[1].channels) == (
        256, 576, 576)
    both = Config.fromfile(v8['ld_cwd_att']).model  # LD and CWD+attention in one student
    chain = both.distiller.connectors.s2
    assert (chain[0].student_channels, chain[0].teacher_channels, chain[1].channels) == (
        256, 576, 576)
    assert sorted(both.distiller.distill_losses) == [
        'loss_cwd0', 'loss_cwd1', 'loss_cwd2', 'loss_ld']
    assert both.teacher_runs == 'head'
    clskd = Config.fromfile(v8['ld_clskd']).model.distiller.distill_losses
    assert clskd.loss_cls_kd.type == 'KDDenseClsKDLoss' and 'loss_ld' in clskd
    teacher = Config.fromfile(v8['teacher'])
    assert teacher.train_cfg.max_epochs == 18
    assert teacher.model.bbox_head.head_module.num_classes == 2
    assert teacher.model.train_cfg.assigner.num_classes == 2
    # the LD config keeps its precision/recall metric beside the COCO one, on this data
    ld = Config.fromfile(v8['ld'])
    assert ld.val_evaluator[0].ann_file == data.ann_files['val']
    assert ld.val_evaluator[1].type == 'DetPrecisionRecallMetric'

    v5 = write_configs(str(tmp_path / 'v5'), data, 'yolov5', 's', 'n',
                       ['ld', 'cwd_tatt', 'ld_obj_kl'], 416, 7, 9, '/x/t.pth')
    base = Config.fromfile(v5['baseline'])
    # --methods ld_obj_kl: the ld distiller but for the objectness KD's form
    obj_kl, plain_ld = (Config.fromfile(v5[m]).model.distiller for m in ('ld_obj_kl', 'ld'))
    assert obj_kl.distill_losses.loss_obj_kd.form == 'kl'
    plain_ld.distill_losses.loss_obj_kd.form = 'kl'
    assert obj_kl.to_dict() == plain_ld.to_dict()
    # attention from the teacher: projectors of this pair's widths, masks in the losses
    tatt = Config.fromfile(v5['cwd_tatt']).model.distiller
    assert (tatt.connectors.s0.student_channels, tatt.connectors.s0.teacher_channels) == (64, 128)
    assert all(loss.teacher_attention and loss.attention_tau == 2.0
               for loss in tatt.distill_losses.values())
    # MMYOLO's YOLOv5 loss weights follow the class count and the input size
    assert base.model.bbox_head.loss_cls.loss_weight == pytest.approx(0.5 * 2 / 80)
    assert base.model.bbox_head.loss_obj.loss_weight == pytest.approx((416 / 640)**2)
    assert base.val_dataloader.dataset.batch_shapes_cfg.img_size == 416
    assert base.optim_wrapper.optimizer.lr == 0.01  # the family recipe when lr is not given
    with pytest.raises(ValueError, match='input size 300 is not a multiple of 32'):
        write_configs(str(tmp_path / 'x'), data, 'yolov5', 's', 'n', [], 300, 7, 9, '/x')


def _distill(args, timeout=1200):
    r = subprocess.run([sys.executable, 'tools/distill.py', *args], cwd=ROOT,
                       capture_output=True, text=True, timeout=timeout)
    return r


TINY = ['--epochs', '1', '--teacher-epochs', '1', '--img-size', '64', '--batch-size', '4',
        '--speed-images', '2', '--val-interval', '1']


@pytest.fixture(scope='module')
def yolo_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('distill')
    data = make_yolo(str(tmp / 'My hats ü.v2i.yolov8'))
    out = str(tmp / 'out')
    r = _distill([data, '--out', out, '--methods', 'ld', *TINY])
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return data, out, r


@pytest.mark.slow
def test_the_whole_command_on_a_yolo_export(yolo_run):
    data, out, r = yolo_run
    for k in range(1, 9):
        assert f' {k}/8 ' in r.stdout
    assert '1 of them from polygon rows' in r.stdout
    assert 'teacher: epoch 1/1, loss' in r.stdout and 'ld seed 0: epoch 1/1, loss' in r.stdout
    lead = r.stdout.index(', baseline seed 0 0.')  # said before the first distillation trains
    assert r.stdout.index('baseline seed 0: training') < lead < r.stdout.index('ld seed 0: ')
    assert 'val mAP50-95 0.' in r.stdout
    # a screenful (per training a line as each epoch begins and one per validation): the
    # MMEngine logs are in the runs
    assert len(r.stdout.splitlines()) < 70
    assert osp.isfile(osp.join(out, 'runs', 'teacher', 'train.log'))
    # the report's numbers are the runs' last validations
    from kd_plugins.analysis import last_metrics
    with open(osp.join(out, 'runs.csv')) as f:
        runs = {row['method']: row for row in csv.DictReader(f)}
    assert sorted(runs) == ['baseline', 'ld', 'teacher']
    # the logged share of the loss: the distillation's runs only
    assert runs['teacher']['kd_share'] == runs['baseline']['kd_share'] == ''
    assert 0 < float(runs['ld']['kd_share']) < 1
    for method, row in runs.items():
        work = osp.join(out, 'runs', method) if method == 'teacher' else osp.join(
            out, 'runs', method, 'seed0')
        m = last_metrics(work)
        assert float(row['val_mAP50-95']) == pytest.approx(m['coco/bbox_mAP'])
        assert float(row['val_mAP50']) == pytest.approx(m['coco/bbox_mAP_50'])
    report = open(osp.join(out, 'report.md')).read()
    assert '| LD | 1 |' in report and 'one seed: not evidence either way' in report
    assert '## The student to use\n\nOne seed: no choice is made' in report
    assert '`runs/baseline/seed0/' in report  # the student alone, relative to --out
    d = (float(runs['ld']['val_mAP50-95']) - float(runs['baseline']['val_mAP50-95'])) * 100
    assert f'| {d:+.1f} |' in report  # the paired difference, in points
    exported = osp.join(out, 'runs', 'ld', 'seed0', 'student')
    # named for what it is: the student's architecture config is OUT/configs/baseline.py
    assert sorted(f for f in os.listdir(exported) if f != 'export.log') == [
        'student.pth', 'student.py']
    assert cv2.imread(osp.join(out, 'curves.png')) is not None
    assert cv2.imread(osp.join(out, 'detections.png')) is not None


@pytest.mark.slow
def test_a_rerun_skips_what_is_done(yolo_run):
    data, out, _ = yolo_run
    r = _distill([data, '--out', out, '--methods', 'ld', *TINY], timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    assert 'converted before' in r.stdout
    assert r.stdout.count('trained before') == 3 and ': training ' not in r.stdout
    # the first run's training plan, not timed again
    assert f'(planned at the first run here: {osp.join(out, "runs", "plan.json")})' in r.stdout
    # another distillation share (0: the configured weights, where LD's default is 0.3): the old
    # LD run is not reported as if trained with it
    r = _distill([data, '--out', out, '--methods', 'ld', '--distill-share', '0', *TINY],
                 timeout=600)
    assert r.returncode == 1 and 'baseline seed 0: trained before' in r.stdout
    assert 'ld seed 0: ' in r.stderr and '(model.distill_share: 0.3 -> None)' in r.stderr


@pytest.mark.slow
def test_voc_and_coco_with_a_given_teacher_and_a_wrong_one(yolo_run, tmp_path):
    _, out, _ = yolo_run
    teacher = osp.join(out, 'runs', 'teacher', 'epoch_1.pth')
    for make, name in ((make_voc, 'voc'), (make_coco, 'coco')):
        data = make(str(tmp_path / name))
        r = _distill([data, '--out', str(tmp_path / f'{name}_out'), '--methods', 'cwd',
                      '--teacher-ckpt', teacher, *TINY])
        assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
        assert f'{name} layout, 2 classes' in r.stdout and 'fits the teacher config' in r.stdout
        assert 'cwd seed 0: epoch 1/1' in r.stdout
    # a teacher of another class count stops the run before any training
    root = make_yolo(str(tmp_path / 'three'), yaml=False)
    r = _distill([root, '--classes', 'a', 'b', 'c', '--out', str(tmp_path / 'three_out'),
                  '--teacher-ckpt', teacher, *TINY], timeout=300)
    assert r.returncode == 1
    assert 'does not fit the teacher config' in r.stderr and '(3 classes)' in r.stderr
    assert 'Was it trained on another class count' in r.stderr
    assert not osp.isdir(str(tmp_path / 'three_out' / 'runs'))


@pytest.mark.slow
def test_a_given_teacher_is_evaluated_on_the_val_split_for_its_lead(yolo_run, tmp_path):
    """With --teacher-ckpt the teacher has no training here: it is evaluated once on the val
    split, so the report keeps its row, its lead and the share of it closed. The output folder
    copied and its own teacher given: the students are re-used, and the teacher's evaluation
    equals its final validation in training."""
    from kd_plugins.analysis import last_metrics
    data, out, _ = yolo_run
    copy = str(tmp_path / 'copy')
    shutil.copytree(out, copy)
    teacher = osp.join(copy, 'runs', 'teacher', 'epoch_1.pth')
    r = _distill([data, '--out', copy, '--methods', 'ld', '--teacher-ckpt', teacher, *TINY],
                 timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert r.stdout.count('trained before') == 2 and ': training ' not in r.stdout
    trained = last_metrics(osp.join(out, 'runs', 'teacher'))
    assert (f'teacher: given, {teacher}: val mAP50-95 {trained["coco/bbox_mAP"]:.3f}, mAP50 '
            f'{trained["coco/bbox_mAP_50"]:.3f}') in r.stdout
    assert 'baseline seed 0 0.' in r.stdout and ': the teacher is ' in r.stdout
    with open(osp.join(copy, 'runs.csv')) as f:
        runs = {row['method']: row for row in csv.DictReader(f)}
    assert sorted(runs) == ['baseline', 'ld', 'teacher']
    assert runs['teacher']['work_dir'] == osp.join(copy, 'runs', 'teacher_given')
    assert float(runs['teacher']['val_mAP50-95']) == pytest.approx(
        trained['coco/bbox_mAP'], abs=1e-3)
    lead = (float(runs['teacher']['val_mAP50-95'])
            - float(runs['baseline']['val_mAP50-95'])) * 100
    report = open(osp.join(copy, 'report.md')).read()
    assert '| teacher | 1 |' in report and f'| {lead:+.1f} |' in report
    assert cv2.imread(osp.join(copy, 'curves.png')) is not None


def test_a_given_teachers_evaluation_is_kept_for_its_checkpoint(tmp_path, monkeypatch):
    """A rerun reads the kept metrics; another checkpoint at the same path is evaluated
    again."""
    tool = _tool()
    ckpt, work = tmp_path / 't.pth', tmp_path / 'teacher_given'
    ckpt.write_bytes(b'one teacher')
    calls = []

    def fake_test(cmd, log_file, *args, **kwargs):  # tools/test.py writes its metrics json
        calls.append(cmd)
        folder = osp.join(cmd[cmd.index('--work-dir') + 1], '20260101_000000')
        os.makedirs(folder, exist_ok=True)
        with open(osp.join(folder, '20260101_000000.json'), 'w') as f:
            json.dump({'coco/bbox_mAP': 0.1 * len(calls), 'coco/bbox_mAP_50': 0.5}, f)

    monkeypatch.setattr(tool, 'run_logged', fake_test)
    first = tool.tested('teacher.py', str(ckpt), str(work), 'val')
    assert first == {'coco/bbox_mAP': 0.1, 'coco/bbox_mAP_50': 0.5}
    assert calls[0][-2:] == ['--split', 'val'] and calls[0][2:4] == ['teacher.py', str(ckpt)]
    assert tool.tested('teacher.py', str(ckpt), str(work), 'val') == first and len(calls) == 1
    ckpt.write_bytes(b'another teacher')
    assert tool.tested('teacher.py', str(ckpt), str(work), 'val')['coco/bbox_mAP'] == 0.2


def test_bad_options_are_refused_before_any_work(tmp_path):
    root = make_yolo(str(tmp_path / 'd'))
    r = _distill([root, '--img-size', '300'], timeout=120)
    assert r.returncode == 2 and 'is not a multiple of 32' in r.stderr
    r = _distill([root, '--family', 'yolov5', '--methods', 'ld', 'dfl'], timeout=120)
    assert r.returncode == 2 and "--methods ['dfl']: yolov5 has" in r.stderr
    r = _distill([str(tmp_path / 'nothing')], timeout=120)
    assert r.returncode == 2 and 'does not exist' in r.stderr
    r = _distill([root, '--distill-share', '1'], timeout=120)
    assert r.returncode == 2 and ('--distill-share must be in (0, 1), or 0 for the configured '
                                  'loss weights, got 1.0') in r.stderr


def test_a_resumed_run_reads_as_one_log(tmp_path):
    """MMEngine starts a new vis_data/scalars.json at each launch: the curves and the last
    metrics of a run stopped in epoch 3 and resumed there read both logs (the stopped epoch
    from the resumed one); a run started again from epoch 1 replaces the older log."""
    from kd_plugins.analysis import last_metrics, scalar_log, training_curves

    def log(stamp, records):
        folder = tmp_path / stamp / 'vis_data'
        folder.mkdir(parents=True)
        (folder / 'scalars.json').write_text(''.join(json.dumps(r) + '\n' for r in records))

    def train(epoch, loss):
        return dict(epoch=epoch, iter=epoch * 2, step=epoch * 2, loss=loss)

    def val(epoch, mean):
        return {'coco/bbox_mAP': mean, 'coco/bbox_mAP_50': 2 * mean, 'step': epoch}

    log('20260101_000000', [train(1, 9.0), train(2, 8.0), val(2, 0.1), train(3, 99.0)])
    log('20260101_010000', [train(3, 7.0), train(4, 6.0), val(4, 0.2)])
    val_curve, loss_curve = training_curves(scalar_log(str(tmp_path)))
    assert val_curve == [(2, 0.1, 0.2), (4, 0.2, 0.4)]
    assert loss_curve == [(1, 9.0), (2, 8.0), (3, 7.0), (4, 6.0)]  # epoch 3 of the resume
    assert last_metrics(str(tmp_path)) == {'coco/bbox_mAP_50': 0.4, 'coco/bbox_mAP': 0.2}
    log('20260101_020000', [train(1, 5.0), val(1, 0.3)])  # trained again from the start
    assert training_curves(scalar_log(str(tmp_path))) == ([(1, 0.3, 0.6)], [(1, 5.0)])


def test_a_stopped_and_resumed_training_keeps_its_log_and_wall_time(tmp_path):
    """tools/distill.py writes a training's wall time while it runs (a launch stopped by hand
    or killed still counts); a resumed launch adds to it and its output follows the earlier
    launch's in the same train.log; a training begun again starts both afresh."""
    tool = _tool()
    log, wall = tmp_path / 'run' / 'train.log', tmp_path / 'run' / 'train_wall_s.txt'

    def launch(text, sleep=0.0, resume=False):
        # the child prints what the wall file holds after `sleep` s: written while it runs
        code = (f'import time; time.sleep({sleep}); print({text!r}, '
                f'open({str(wall)!r}).read().strip())')
        tool.run_logged([sys.executable, '-c', code], str(log), resume=resume,
                        wall_file=str(wall))
        return float(wall.read_text())

    first = launch('first', sleep=5)
    seen_running = float(log.read_text().split('first ')[1].split()[0])
    assert 1.5 <= seen_running < first and first >= 5  # written at the looks every 2 s
    both = launch('second', resume=True)
    assert first < both < first + 30
    text = log.read_text()
    assert text.index('first') < text.index('\n$ (resumed) ') < text.index('second')
    assert text.startswith('$ ') and text.count('$ ') == 2
    again = launch('third')  # begun again: a new log, a new wall time
    assert again < first and 'first' not in log.read_text() and 'third' in log.read_text()


def test_progress_in_a_log_file_is_a_line_per_epoch_and_per_validation(capsys):
    """Off a terminal (CI, ``nohup``, a log file) a training says where it is as each epoch
    begins and at each validation, not only at validations (minutes apart on real data)."""
    tool = _tool()
    head = '12/04 07:58:46 - mmengine - INFO - '
    lines = [head + f'Epoch(train)  [{e}][{i:>3}/174]  base_lr: 8.0000e-02 lr: 7.2080e-02  '
             f'eta: 0:{20 - e:02d}:00  time: 0.7464  data_time: 0.0075  loss: {2 - e / 10:.4f}  '
             'loss_cls: 0.0000' for e in (1, 2) for i in (10, 20, 170)]
    lines.insert(3, head + 'Epoch(val) [1][17/17]    coco/bbox_mAP: 0.0120  coco/bbox_mAP_50: '
                 '0.0410  coco/bbox_mAP_75: 0.0030')
    lines.insert(1, head + 'Epoch 1 host memory: main 1269 MiB')  # not a progress line
    state = {}
    for line in lines:
        tool._progress(line, state, 'teacher', 10)
    assert capsys.readouterr().out.splitlines() == [
        '    teacher: epoch 1/10, loss 1.900, eta 0:19:00',
        '    teacher: epoch 1/10, loss 1.900, eta 0:19:00, val mAP50-95 0.0120, mAP50 0.0410',
        '    teacher: epoch 2/10, loss 1.800, eta 0:18:00, val mAP50-95 0.0120, mAP50 0.0410']
    # a distillation's line says its share of the loss, as the MMEngine line logs it
    state = {}
    tool._progress(lines[0].replace('loss_cls: 0.0000', 'loss_cls: 0.0000  distill.loss_ld: '
                                    '0.8071  kd_share: 0.2703  kd_balance: 0.4101'),
                   state, 'ld seed 0', 10)
    assert capsys.readouterr().out == ('    ld seed 0: epoch 1/10, loss 1.900, kd_share 0.27, '
                                       'eta 0:19:00\n')


def test_the_teachers_lead_is_said_once_the_first_baseline_is_trained(tmp_path):
    """Before the distillations start, the console says how far the teacher is above the first
    student alone, and a lead under 5 points is flagged (the Zen 2 pothole run of session 17:
    a 10-epoch YOLOv5-S teacher at 0.137, its 8-epoch student at 0.127)."""
    tool = _tool()

    def run(name, mean):
        folder = tmp_path / name / '20260101_000000' / 'vis_data'
        folder.mkdir(parents=True)
        folder.joinpath('scalars.json').write_text(json.dumps(
            {'coco/bbox_mAP': mean, 'coco/bbox_mAP_50': 2 * mean, 'step': 8}) + '\n')
        return str(tmp_path / name)

    teacher = dict(work_dir=run('teacher', 0.137))
    weak = tool.teacher_lead_words(teacher, run('baseline', 0.127), 0)
    assert weak == ('    teacher 0.137 mAP50-95, baseline seed 0 0.127: the teacher is only 1.0 '
                    'points above the students alone: little to teach (under 5); train it '
                    'longer (--teacher-epochs) or use a larger one')
    strong = tool.teacher_lead_words(teacher, run('baseline1', 0.078), 1)
    assert strong.endswith('baseline seed 1 0.078: the teacher is 5.9 points above the '
                           'students alone')
    assert tool.teacher_lead_words(teacher, str(tmp_path / 'never_trained'), 2) == ''
    # a teacher given by --teacher-ckpt has no log: its evaluated val metrics count
    given = dict(work_dir=str(tmp_path / 'teacher_given'), val={'coco/bbox_mAP': 0.137})
    assert tool.teacher_lead_words(given, str(tmp_path / 'baseline'), 0) == weak


def test_report_rows_by_hand():
    """Two paired seeds: mean [min, max], per-seed differences, gap closed and the verdict."""
    from kd_plugins.report import method_rows

    def run(method, seed, m):
        return dict(method=method, seed=seed, val={'coco/bbox_mAP': m, 'coco/bbox_mAP_50': 2 * m})
    runs = [run('teacher', 0, 0.30), run('baseline', 0, 0.10), run('baseline', 1, 0.14),
            run('ld', 0, 0.12), run('ld', 1, 0.15), run('cwd', 0, 0.09), run('cwd', 1, 0.16)]
    runs[3]['kd_share'], runs[4]['kd_share'] = 0.2, 0.3
    rows = {r['method']: r for r in method_rows(runs, 'val', ['ld', 'cwd'])}
    assert rows['baseline (no KD)']['mAP50-95'] == '0.120 [0.100, 0.140]'
    ld = rows['LD']
    assert ld['mAP50-95'] == '0.135 [0.120, 0.150]' and ld['mAP50'] == '0.270 [0.240, 0.300]'
    assert ld['d_mAP50-95_points'] == '+1.5 (+2.0, +1.0)'
    assert ld['gap_closed'] == '8%'  # 1.5 points of the teacher's 18-point lead
    assert ld['verdict'] == ('better than the baseline at every seed, but by less than the '
                             "baseline's own seed spread (4.0 points)")
    assert rows['CWD']['d_mAP50-95_points'] == '+0.5 (-1.0, +2.0)'
    assert rows['CWD']['verdict'] == 'within the seed spread: not better at every seed'
    # the logged share: the mean of the runs' means; none for runs that log none
    assert ld['kd_share'] == 0.25 and rows['CWD']['kd_share'] is None
    assert rows['teacher']['kd_share'] is None and rows['baseline (no KD)']['kd_share'] is None
    # the teacher's row: its lead over each seed's baseline
    assert rows['teacher']['d_mAP50-95_points'] == '+18.0 (+20.0, +16.0)'
    assert rows['teacher']['verdict'] == '18.0 points above the students alone'
    close = [run('teacher', 0, 0.15), run('baseline', 0, 0.10), run('baseline', 1, 0.12)]
    teacher, = [r for r in method_rows(close, 'val', []) if r['method'] == 'teacher']
    assert teacher['d_mAP50-95_points'] == '+4.0 (+5.0, +3.0)'
    assert teacher['verdict'] == ('only 4.0 points above the students alone: little to teach '
                                  '(under 5); train it longer (--teacher-epochs) or use a '
                                  'larger one')


def test_logged_share_reads_training_steps_only():
    """The report's kd_share of one run: the mean over the training records that log it;
    validation records and steps without a distillation do not count."""
    from kd_plugins.report import logged_share
    log = [dict(loss=3.0, kd_share=0.28, kd_balance=0.4, step=10),
           dict(loss=2.0, kd_share=0.22, step=20),
           {'coco/bbox_mAP': 0.1, 'kd_share': 0.9, 'step': 1},  # not a training step
           dict(loss=1.5, kd_share=0.10, step=30)]
    assert abs(logged_share(log) - 0.2) < 1e-9
    assert logged_share([dict(loss=3.0, step=10), {'coco/bbox_mAP': 0.1}]) is None
    assert logged_share([]) is None


def test_the_student_to_use_is_never_one_below_its_baseline_at_a_seed():
    """The report's choice: the largest mean gain among the methods above the student alone at
    every seed, its best seed's exported student; none such -> the student alone; one seed -> no
    choice; the choice reads the val split only."""
    from kd_plugins.report import choose_student, pick_student

    def run(method, seed, val, test=None):
        r = dict(method=method, seed=seed, val={'coco/bbox_mAP': val},
                 eval_config=f'/o/runs/{method}/seed{seed}/student/model.py',
                 eval_ckpt=f'/o/runs/{method}/seed{seed}/student/model.pth')
        if test is not None:
            r['test'] = {'coco/bbox_mAP': test}
        return r
    base = [run('baseline', 0, 0.10), run('baseline', 1, 0.14), run('baseline', 2, 0.12)]
    # cwd: the largest mean (+3.0) but below its baseline at seed 2; ld: +1.0 at every seed;
    # cwd_att: +2.0 at every seed, with a test split that favours ld (never read)
    runs = base + [run('cwd', 0, 0.16, 0.5), run('cwd', 1, 0.18), run('cwd', 2, 0.11),
                   run('ld', 0, 0.11, 0.9), run('ld', 1, 0.15), run('ld', 2, 0.13),
                   run('cwd_att', 0, 0.12, 0.1), run('cwd_att', 1, 0.17), run('cwd_att', 2, 0.13)]
    text = choose_student(runs, ['cwd', 'cwd_att', 'ld'], 'val', '/o')
    assert text.startswith('**CWD+attention**: above the student alone at every one of 3 paired '
                           'seeds, +2.0 points mAP50-95 on average on the val split (also at '
                           'every seed: LD +1.0)')
    assert text.endswith('its best student: seed 1, 0.170 mAP50-95: '
                         '`runs/cwd_att/seed1/student/model.py` + '
                         '`runs/cwd_att/seed1/student/model.pth`.')
    # a method below its baseline at one seed is never chosen, whatever its mean
    worse = base + [run('cwd', 0, 0.16), run('cwd', 1, 0.18), run('cwd', 2, 0.11)]
    assert choose_student(worse, ['cwd'], 'val', '/o') == (
        'No method was above the student alone at every seed (3 paired seeds, val split): keep '
        'the student alone, seed 1, 0.140 mAP50-95: `runs/baseline/seed1/student/model.py` + '
        '`runs/baseline/seed1/student/model.pth`.')
    one = [run('baseline', 0, 0.10), run('ld', 0, 0.20)]
    assert choose_student(one, ['ld'], 'val', '/o').startswith('One seed: no choice is made')
    # a method not trained at every seed is not chosen on the seeds it has
    partial = base + [run('ld', 0, 0.20), run('ld', 1, 0.20)]
    assert choose_student(partial, ['ld'], 'val', '/o').startswith('No method was above')
    # level at a seed is not above it
    level = base + [run('ld', 0, 0.10), run('ld', 1, 0.15), run('ld', 2, 0.13)]
    assert choose_student(level, ['ld'], 'val', '/o').startswith('No method was above')
    assert pick_student(runs, ['cwd', 'cwd_att', 'ld'])[:2] == ('cwd_att', runs[10])
    assert pick_student(worse, ['cwd'])[:2] == ('baseline', base[1])
    assert pick_student(one, ['ld']) == (None, None, {}, 1)


def test_the_student_to_use_is_copied_to_out_student(tmp_path):
    """The report copies the chosen student to OUT/student (here the student alone: no method
    above it at every seed) and says so; with one seed it chooses none, and removes what an
    earlier report copied there."""
    from kd_plugins.report import save_chosen_student
    config = osp.join(ROOT, 'configs/yolov8/yolov8_n_fast_1xb8-30e_demo.py')
    save_model(config, tmp_path / 'b1.pth', seed=1)

    def run(method, seed, val):
        return dict(method=method, seed=seed, val={'coco/bbox_mAP': val}, eval_config=config,
                    eval_ckpt=str(tmp_path / 'b1.pth'))
    runs = [run('baseline', 0, 0.10), run('baseline', 1, 0.14), run('ld', 0, 0.12),
            run('ld', 1, 0.13)]
    words = save_chosen_student(runs, ['ld'], str(tmp_path))
    assert words.startswith('Copied to `student/student.py` + `student/student.pth` (a plain '
                            'MMYOLO model')
    info = json.load(open(tmp_path / 'student' / 'chosen.json'))
    assert (info['method'], info['seed'], info['val_mAP50_95']) == ('baseline', 1, 0.14)
    assert save_chosen_student(runs[:1] + runs[2:3], ['ld'], str(tmp_path)) == ''
    assert os.listdir(tmp_path / 'student') == []
    # a copy that cannot be made is said, and leaves nothing behind
    save_chosen_student(runs, ['ld'], str(tmp_path))
    runs[1]['eval_ckpt'] = str(tmp_path / 'missing.pth')
    words = save_chosen_student(runs, ['ld'], str(tmp_path))
    assert words.startswith('Not copied to `student/`: ') and 'missing.pth' in words
    assert os.listdir(tmp_path / 'student') == []


def _tool():
    return load_script('tools/distill.py', 'distill_tool')


def test_a_run_of_other_settings_is_neither_reused_nor_resumed(tmp_path):
    """A run is re-used or resumed only when the config gives the settings it began with (its
    settings.json): another --distill-share must not be reported with the old runs; an
    unfinished run of other settings is moved aside."""
    from kd_plugins.datasets.layouts import prepare_dataset
    from kd_plugins.recipe import write_configs
    tool = _tool()
    data = prepare_dataset(make_yolo(str(tmp_path / 'data')), str(tmp_path / 'out'),
                           log=lambda m: None)

    def ld(**kw):  # the LD config as tools/distill.py writes it, in the same folder
        return write_configs(str(tmp_path / 'cfg'), data, 'yolov5', 's', 'n', ['ld'], 64, 1,
                             1, '/x/t.pth', lr=0.02, **kw)['ld']

    before = tool.settings_of(ld())
    assert before['model.teacher_ckpt'] == '/x/t.pth' and before['base_lr'] == 0.02
    assert before['model.distill_share'] == 0.3  # the YOLOv5 LD default
    work = tmp_path / 'run'
    work.mkdir()
    (work / 'epoch_1.pth').write_bytes(b'')
    # no record (a run of an older kd_plugins): re-used as it is
    assert tool.train(ld(), str(work), 'ld seed 0', 1, 0, []) == str(work / 'epoch_1.pth')
    with open(work / tool.SETTINGS_FILE, 'w') as f:
        json.dump(before, f)
    assert tool.train(ld(), str(work), 'ld seed 0', 1, 0, []) == str(work / 'epoch_1.pth')
    # a helper variable the runner does not read, added or gone in an upgrade: the same run
    helpers = {k: v for k, v in before.items() if k != 'base_lr'}
    with open(work / tool.SETTINGS_FILE, 'w') as f:
        json.dump(dict(helpers, cwd_yolov8_distill_share=0.3), f)
    assert tool.train(ld(), str(work), 'ld seed 0', 1, 0, []) == str(work / 'epoch_1.pth')
    with open(work / tool.SETTINGS_FILE, 'w') as f:
        json.dump(before, f)
    assert tool.settings_of(ld(distill_share=0.3)) == before  # the default, given
    new = ld(distill_share=0)  # 0: the loss weights as configured
    assert tool.settings_changes(before, tool.settings_of(new)) == [
        'model.distill_share: 0.3 -> None']
    assert tool.settings_changes({'p': list(range(40))}, {}) == [
        'p: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16... -> -']  # 57 + ...
    with pytest.raises(SystemExit, match=r'ld seed 0: .* was trained with other settings .*'
                       r'\(model.distill_share: 0.3 -> None\)\. Use --out'):
        tool.train(new, str(work), 'ld seed 0', 1, 0, [])
    (work / 'epoch_1.pth').unlink()  # unfinished: not resumed but moved aside, begun again
    (work / 'last_checkpoint').write_text('x')
    tool.check_settings(new, str(work), 'ld seed 0')
    assert not work.exists()
    aside, = [p for p in tmp_path.iterdir() if p.name.startswith('run-')]
    assert (aside / 'last_checkpoint').read_text() == 'x'


def test_a_run_in_another_precision_is_neither_reused_nor_resumed(tmp_path, monkeypatch, capsys):
    """The record holds the tools/train.py flags that change the arithmetic (--amp, not the
    layout) and the --cfg-options of the run (the teacher's precision): a rerun with another
    --precision must not report the old runs as its own; records from before the flags are
    re-used whatever the flags."""
    from kd_plugins.datasets.layouts import prepare_dataset
    from kd_plugins.recipe import write_configs
    tool = _tool()
    data = prepare_dataset(make_yolo(str(tmp_path / 'data')), str(tmp_path / 'out'),
                           log=lambda m: None)
    config = write_configs(str(tmp_path / 'cfg'), data, 'yolov5', 's', 'n', ['ld'], 64, 1, 1,
                           '/x/t.pth', lr=0.02)['ld']
    work = tmp_path / 'run'
    launched = []

    def fake_training(cmd, log_file, *args, **kw):  # what tools/train.py leaves
        launched.append(cmd)
        (work / 'epoch_1.pth').write_bytes(b'')

    monkeypatch.setattr(tool, 'run_logged', fake_training)
    bf16 = ['--amp', '--channels-last'], ['model.teacher_precision=auto']
    assert tool.train(config, str(work), 'ld seed 0', 1, 0, *bf16) == str(work / 'epoch_1.pth')
    assert launched[0][-5:] == ['--amp', '--channels-last', '--cfg-options',
                                'randomness.seed=0', 'model.teacher_precision=auto']
    with open(work / tool.SETTINGS_FILE) as f:
        record = json.load(f)
    assert record[tool.FLAGS_KEY] == ['--amp'] and record['model.teacher_precision'] == 'auto'
    assert record.pop(tool.SEED_KEY) == 0  # given on the command line, not in the config
    assert record == tool.settings_of(config, *bf16)
    del record[tool.FLAGS_KEY], record['model.teacher_precision']
    assert record == tool.settings_of(config)  # the config's settings besides
    # the same arithmetic in the ordinary layout: re-used, not trained again
    tool.train(config, str(work), 'ld seed 0', 1, 0, ['--amp'], bf16[1])
    assert len(launched) == 1
    assert capsys.readouterr().out.rstrip().endswith('trained before, ' + str(work / 'epoch_1.pth'))
    # the seed is recorded, not compared: a teacher of seed 0 is re-used by --seeds 1 0 2,
    # and says so
    tool.train(config, str(work), 'teacher', 1, 1, ['--amp'], bf16[1])
    assert len(launched) == 1
    assert 'trained before, ' + str(work / 'epoch_1.pth') + ' (with seed 0, not 1: re-used' \
        in capsys.readouterr().out
    for flags, options, change in [
            ([], bf16[1], r"tools/train.py flags: \['--amp'\] -> \[\]"),
            (['--amp'], ['model.teacher_precision=fp32'], 'model.teacher_precision: auto -> fp32')]:
        with pytest.raises(SystemExit, match=rf'ld seed 0: .* other settings .*\({change}\)\. '):
            tool.train(config, str(work), 'ld seed 0', 1, 0, flags, options)
    assert len(launched) == 1
    # a record written before the flags: re-used as it is in any precision
    with open(work / tool.SETTINGS_FILE, 'w') as f:
        json.dump(tool.settings_of(config), f)
    tool.train(config, str(work), 'ld seed 0', 1, 0, [], ['model.teacher_precision=fp32'])
    assert len(launched) == 1
    # unfinished in bf16, resumed in fp32: moved aside and trained again, recorded in fp32
    with open(work / tool.SETTINGS_FILE, 'w') as f:
        json.dump(tool.settings_of(config, *bf16), f)
    (work / 'epoch_1.pth').unlink()
    (work / 'last_checkpoint').write_text('x')
    tool.train(config, str(work), 'ld seed 0', 1, 0, [], ['model.teacher_precision=fp32'])
    assert len(launched) == 2 and '--resume' not in launched[1] and '--amp' not in launched[1]
    aside, = [p for p in tmp_path.iterdir() if p.name.startswith('run-')]
    assert (aside / 'last_checkpoint').read_text() == 'x'
    with open(work / tool.SETTINGS_FILE) as f:
        record = json.load(f)
    assert record[tool.FLAGS_KEY] == [] and record['model.teacher_precision'] == 'fp32'


def test_settings_follow_a_moved_output_folder_and_the_content_of_its_files(tmp_path):
    """Paths inside the output folder are recorded as {out}/..., so a moved or copied output
    folder keeps its runs; the annotation files and the teacher are recorded by content too,
    so a teacher trained again at the same path is another run. Records written before the
    digests (full paths, no sha1) are still read."""
    import hashlib
    import shutil

    from kd_plugins.datasets.layouts import prepare_dataset
    from kd_plugins.recipe import write_configs
    tool = _tool()
    src = make_yolo(str(tmp_path / 'src'))

    def ld(out):  # what tools/distill.py writes under --out OUT
        data = prepare_dataset(src, str(out / 'data'), log=lambda m: None)
        return write_configs(str(out / 'configs'), data, 'yolov5', 's', 'n', ['ld'], 64, 1, 1,
                             str(out / 'runs' / 'teacher' / 'epoch_1.pth'), lr=0.02)['ld']

    a, b = tmp_path / 'a', tmp_path / 'b'
    (a / 'runs' / 'teacher').mkdir(parents=True)
    (a / 'runs' / 'teacher' / 'epoch_1.pth').write_bytes(b'teacher 1')
    before = tool.settings_of(ld(a))
    assert before['val_dataloader.dataset.ann_file'] == '{out}/data/val.json'
    assert before['model.teacher_ckpt'] == '{out}/runs/teacher/epoch_1.pth'
    assert before['model.teacher_ckpt sha1'] == hashlib.sha1(b'teacher 1').hexdigest()
    with open(a / 'data' / 'val.json', 'rb') as f:
        assert before['val_dataloader.dataset.ann_file sha1'] == hashlib.sha1(
            f.read()).hexdigest()
    shutil.copytree(a, b)
    config = ld(b)
    assert tool.settings_of(config) == before  # the copy: the same settings
    work = b / 'runs' / 'ld'
    work.mkdir()
    (work / 'epoch_1.pth').write_bytes(b'')
    with open(work / tool.SETTINGS_FILE, 'w') as f:
        json.dump(before, f)
    assert tool.train(config, str(work), 'ld seed 0', 1, 0, []) == str(work / 'epoch_1.pth')
    (b / 'runs' / 'teacher' / 'epoch_1.pth').write_bytes(b'teacher 2')  # trained again
    with pytest.raises(SystemExit, match=r'\(model.teacher_ckpt sha1: [0-9a-f]{40} -> '
                       r'[0-9a-f]{40}\)\. Use --out'):
        tool.train(config, str(work), 'ld seed 0', 1, 0, [])
    # a record of the format before: full paths of this folder and no digests
    old = {k: json.loads(json.dumps(v).replace('{out}', str(b)))
           for k, v in before.items() if not k.endswith(' sha1')}
    assert old['model.teacher_ckpt'] == str(b / 'runs' / 'teacher' / 'epoch_1.pth')
    with open(work / tool.SETTINGS_FILE, 'w') as f:
        json.dump(old, f)
    assert tool.train(config, str(work), 'ld seed 0', 1, 0, []) == str(work / 'epoch_1.pth')


def test_a_copied_output_folder_converts_its_data_again_into_itself(tmp_path, capsys):
    """The record of a converted dataset names its json files by full path: in a copy of the
    output folder they are the original's, so the copy converts again into its own data/
    (and its configs and runs' settings read {out}/data/...), then re-uses that."""
    import argparse
    import shutil

    from kd_plugins.datasets.layouts import PreparedData
    tool = _tool()
    src = make_yolo(str(tmp_path / 'src'))
    a, b = tmp_path / 'a', tmp_path / 'b'

    def prepare(out):
        return tool.prepare(argparse.Namespace(data=src, out=str(out), classes=None, seeds=[0]))

    data = prepare(a)
    assert data.ann_files['val'] == str(a / 'data' / 'val.json')
    assert 'converted before' in (prepare(a), capsys.readouterr().out)[1]
    shutil.copytree(a, b)
    data = prepare(b)
    out = capsys.readouterr().out
    assert f'names the annotation files of another folder ({a / "data" / "train.json"})' in out
    assert data.ann_files == {k: str(b / 'data' / f'{k}.json') for k in ('train', 'val')}
    assert PreparedData.load(str(b / 'data' / 'dataset.json')).ann_files == data.ann_files
    with open(a / 'data' / 'val.json') as fa, open(b / 'data' / 'val.json') as fb:
        assert fa.read() == fb.read()  # the same content, so runs recorded by digest still match
    assert 'converted before' in (prepare(b), capsys.readouterr().out)[1]
    # the same files copied again (new modification times: a re-download, a cp without -p)
    label = next((tmp_path / 'src' / 'valid' / 'labels').iterdir())
    os.utime(label, ns=(label.stat().st_atime_ns, label.stat().st_mtime_ns + 10 ** 9))
    prepare(b)
    assert ("data/dataset.json does not match " + src + " (the data's file names, sizes or "
            'modification times changed): converting again') in capsys.readouterr().out
    assert 'converted before' in (prepare(b), capsys.readouterr().out)[1]


def test_distillation_share_defaults_and_what_the_log_and_report_say(tmp_path):
    """LD of both families (and LD + CWD+attention, which inherits it) and YOLOv8's CWD
    methods keep the distillation at 0.3 of the loss by default, YOLOv5's CWD+attention and LD
    with the objectness KD as KL at 0.5; YOLOv5's plain CWD keeps its loss weights;
    --distill-share 0 turns the share off everywhere; the stage line and the report say which
    is which."""
    import argparse

    from kd_plugins.datasets.layouts import prepare_dataset
    from kd_plugins.recipe import write_configs
    from kd_plugins.report import _share_words
    tool = _tool()
    data = prepare_dataset(make_yolo(str(tmp_path / 'data')), str(tmp_path / 'out'),
                           log=lambda m: None)
    methods = ['cwd', 'cwd_att', 'ld', 'ld_cwd_att']

    def shares(name, family='yolov5', **kw):
        return tool.distill_shares(write_configs(str(tmp_path / name), data, family, 's', 'n',
                                                 methods, 64, 1, 1, '/x/t.pth', **kw), methods)

    default = shares('v5')
    # YOLOv5 CWD+attention at 0.5 of the loss (its config), plain CWD at its weights
    assert default == {'cwd': None, 'cwd_att': 0.5, 'ld': 0.3, 'ld_cwd_att': 0.3}
    assert tool.share_words(default) == ('cwd as configured, cwd_att 0.5, ld 0.3, '
                                         'ld_cwd_att 0.3')
    assert shares('off', distill_share=0) == dict.fromkeys(methods)
    assert shares('given', distill_share=0.25) == dict.fromkeys(methods, 0.25)
    assert shares('v8', 'yolov8') == dict(default, cwd=0.3, cwd_att=0.3)
    # YOLOv5 LD with the objectness KD as KL (a default method) at 0.5, the ld config's 0.3 below
    kl = tool.distill_shares(write_configs(str(tmp_path / 'kl'), data, 'yolov5', 's', 'n',
                                           ['ld_obj_kl'], 64, 1, 1, '/x/t.pth'), ['ld_obj_kl'])
    assert kl == {'ld_obj_kl': 0.5}
    args = argparse.Namespace(distill_share=None)
    assert _share_words(args, default) == (
        'distillation kept at a share of the total loss (`distill_share`): cwd_att 0.5, '
        'ld 0.3, ld_cwd_att 0.3; cwd at the configured loss weights; ')
    assert _share_words(args, dict.fromkeys(methods)) == \
        'every distillation at its configured loss weights; '
    assert _share_words(argparse.Namespace(distill_share=0.25), None) == \
        'distillation kept at 0.25 of the total loss (`distill_share`); '
    assert tool.parse_args([str(tmp_path), '--distill-share', '0']).distill_share == 0
    # a share per part (YOLOv5's ld_cwd_att_parts) in words; --distill-share makes it one share
    parts = ['ld_cwd_att_parts']

    def part_shares(name, **kw):
        return tool.distill_shares(write_configs(str(tmp_path / name), data, 'yolov5', 's', 'n',
                                                 parts, 64, 1, 1, '/x/t.pth', **kw), parts)

    per_part = part_shares('parts')
    assert tool.share_words(per_part) == 'ld_cwd_att_parts head 0.3 + neck 0.1'
    assert _share_words(args, per_part) == ('distillation kept at a share of the total loss '
                                            '(`distill_share`): ld_cwd_att_parts head 0.3 + '
                                            'neck 0.1; ')
    assert part_shares('parts-given', distill_share=0.25) == {'ld_cwd_att_parts': 0.25}
    assert part_shares('parts-off', distill_share=0) == {'ld_cwd_att_parts': None}


def test_default_learning_rate_follows_the_batch_size(tmp_path):
    """MMYOLO's losses sum over a batch: YOLOv5's default lr keeps lr x batch at 0.64; YOLOv8
    keeps its family config's (None here)."""
    tool = _tool()
    data = str(tmp_path)
    assert tool.parse_args([data, '--family', 'yolov5']).lr == pytest.approx(0.08)
    assert tool.parse_args([data, '--family', 'yolov5', '--batch-size', '16']).lr == \
        pytest.approx(0.04)
    assert tool.parse_args([data]).lr is None  # yolov8, the default family
    # YOLOv8: CWD+attention and LD; plain CWD (below the student alone at every seed on the
    # demo) and the teacher attention opt-in by name
    assert tool.parse_args([data]).methods == ['cwd_att', 'ld']
    # YOLOv5: the two recipes above the student alone at every seed on real data, CWD+attention
    # first, then LD with the objectness KD as KL (Huang et al.'s form opt-in by name)
    assert tool.parse_args([data, '--family', 'yolov5']).methods == ['cwd_att', 'ld_obj_kl']
    assert tool.parse_args([data, '--family', 'yolov5', '--methods', 'ld']).methods == ['ld']
    assert tool.parse_args([data, '--methods', 'cwd_tatt']).methods == ['cwd_tatt']
    assert tool.parse_args([data, '--batch-size', '4', '--lr', '0.02']).lr == 0.02
    with pytest.raises(SystemExit):
        tool.parse_args([data, '--lr', '0'])


def test_distill_options_reach_the_report_command_and_are_checked(tmp_path, capsys):
    """--distill-options round-trips through the report's command line (so the report
    reproduces the run); an option without KEY=VALUE is refused at parse time."""
    from kd_plugins.report import _argv
    tool = _tool()
    data = str(tmp_path)
    opts = ['model.share_momentum=0.9', 'model.distiller.distill_losses.loss_ld.temperature=25']
    args = tool.parse_args([data, '--family', 'yolov5', '--distill-options', *opts])
    assert args.distill_options == opts
    argv = _argv(args)
    assert argv[argv.index('--distill-options') + 1:][:2] == opts
    again = tool.parse_args(argv)
    assert again.distill_options == opts and again.methods == args.methods
    assert '--distill-options' not in _argv(tool.parse_args([data]))
    for bad in ('model.share_momentum', '=0.9'):
        with pytest.raises(SystemExit):
            tool.parse_args([data, '--distill-options', bad])
        assert 'each is KEY=VALUE' in capsys.readouterr().err
