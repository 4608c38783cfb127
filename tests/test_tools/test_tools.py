"""Every public tool answers --help; the data tools run from the command line."""
import glob
import json
import os.path as osp
import subprocess
import sys

import pytest

from conftest import ROOT

TOOLS = sorted(osp.relpath(p, ROOT) for p in glob.glob(osp.join(ROOT, 'tools', '**', '*.py'),
                                                       recursive=True))


@pytest.mark.parametrize('tool', TOOLS)
def test_help(tool):
    r = subprocess.run([sys.executable, tool, '--help'], cwd=ROOT, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert 'usage:' in r.stdout


@pytest.mark.parametrize('tool', TOOLS)
def test_every_option_says_what_it_takes(tool):
    """Each argument has a help text and each parser shows the defaults in --help."""
    import ast
    tree = ast.parse(open(osp.join(ROOT, tool)).read())
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call)]
    parsers = [c for c in calls if getattr(c.func, 'attr', '') == 'ArgumentParser']
    for c in parsers:
        assert 'formatter_class' in {k.arg for k in c.keywords}, f'{tool}: defaults not shown'
    for c in calls:
        if getattr(c.func, 'attr', '') == 'add_argument':
            name = c.args[0].value if c.args and isinstance(c.args[0], ast.Constant) else '?'
            assert 'help' in {k.arg for k in c.keywords}, f'{tool}: {name} has no help'


def test_make_demo_data_cli(tmp_path):
    r = subprocess.run([sys.executable, 'tools/misc/make_demo_data.py', str(tmp_path / 'd'),
                        '--num-train', '3', '--num-val', '2', '--img-size', '64'], cwd=ROOT,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert 'train:' in r.stdout and 'val:' in r.stdout
    val = json.loads((tmp_path / 'd' / 'annotations' / 'val.json').read_text())
    assert len(val['images']) == 2


def test_yolo2coco_and_split_cli(tmp_path):
    import cv2
    import numpy as np
    img, lab = tmp_path / 'images', tmp_path / 'labels'
    img.mkdir()
    lab.mkdir()
    for i in range(10):
        cv2.imwrite(str(img / f'img-{i}_jpg.rf.ab{i}.jpg'), np.zeros((32, 32, 3), np.uint8))
        (lab / f'img-{i}_jpg.rf.ab{i}.txt').write_text('0 0.5 0.5 0.5 0.5\n')
    (lab / 'orphan.txt').write_text('0 0.5 0.5 0.5 0.5\n')
    out = tmp_path / 'all.json'
    r = subprocess.run([sys.executable, 'tools/dataset_converters/yolo2coco.py', str(img),
                        str(lab), str(out), '--classes', 'pothole'], cwd=ROOT,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert '10 images, 10 boxes, 1 missing_image' in r.stdout
    assert 'orphan.txt' in r.stderr
    r = subprocess.run([sys.executable, 'tools/dataset_converters/split_coco.py', str(out),
                        str(tmp_path / 'split')], cwd=ROOT, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    sizes = [len(json.loads((tmp_path / 'split' / f'{s}.json').read_text())['images'])
             for s in ('train', 'val', 'test')]
    assert sizes == [8, 1, 1]


def _fake_run(work_dir, config, map50, map5095):
    from mmengine.config import Config
    (work_dir / '20260101_000000' / 'vis_data').mkdir(parents=True)
    lines = [dict(loss=1.0, time=0.1, step=1),
             {'coco/bbox_mAP_50': map50 / 2, 'coco/bbox_mAP': map5095 / 2, 'step': 1},
             {'coco/bbox_mAP_50': map50, 'coco/bbox_mAP': map5095, 'step': 2}]
    (work_dir / '20260101_000000' / 'vis_data' / 'scalars.json').write_text(
        '\n'.join(json.dumps(x) for x in lines) + '\n')
    # as the runner does: the resolved config, dumped into the work dir
    cfg = Config.fromfile(osp.join(ROOT, config))
    cfg.train_cfg.max_epochs = 3
    cfg.dump(str(work_dir / osp.basename(config)))


def test_kd_table_layout(tmp_path):
    runs = [('Teacher', 'demo', 'configs/yolov8/yolov8_s_fast_1xb8-30e_demo.py', 0.6, 0.4),
            ('Student', 'demo', 'configs/yolov8/yolov8_n_fast_1xb8-30e_demo.py', 0.4, 0.2),
            ('CWD', 'demo', 'configs/cwd/cwd_fpn_yolov8-s_yolov8-n_1xb8-30e_demo.py', 0.45,
             0.25),
            ('Student', 'pothole', 'configs/yolov8/yolov8_n_fast_1xb8-30e_demo.py', 0.3, 0.1)]
    argv = ['--img-size', '256', '--out', str(tmp_path / 'table')]
    for k, (method, dataset, config, m50, m) in enumerate(runs):
        _fake_run(tmp_path / f'run{k}', config, m50, m)
        argv += ['--run', method, dataset, str(tmp_path / f'run{k}')]
    r = subprocess.run([sys.executable, 'tools/analysis/kd_table.py', *argv], cwd=ROOT,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    md = (tmp_path / 'table.md').read_text().splitlines()
    assert md[0] == ('| method | demo mAP@0.5 | pothole mAP@0.5 | demo mAP@0.5:0.95 | '
                     'pothole mAP@0.5:0.95 | params (M) | FLOPs (G) @256 |')
    assert md[2].startswith('| Teacher | 0.600 | - | 0.400 | - |')
    assert md[3].startswith('| Student | 0.400 | 0.300 | 0.200 | 0.100 |')
    assert md[4].startswith('| CWD | 0.450 | - | 0.250 | - |')
    student, cwd = md[3].split('|')[-3:-1], md[4].split('|')[-3:-1]
    assert student == cwd  # a distillation run is sized by its student
    teacher_params = float(md[2].split('|')[-3])
    assert teacher_params > 3 * float(student[0])


def test_kd_table_averages_repeated_runs(tmp_path):
    config = 'configs/yolov8/yolov8_n_fast_1xb8-30e_demo.py'
    argv = ['--img-size', '128', '--out', str(tmp_path / 'table')]
    for k, (method, m50, m) in enumerate([('Student', 0.4, 0.2), ('Student', 0.5, 0.3),
                                          ('Other', 0.1, 0.05)]):
        _fake_run(tmp_path / f'run{k}', config, m50, m)
        argv += ['--run', method, 'demo', str(tmp_path / f'run{k}')]
    r = subprocess.run([sys.executable, 'tools/analysis/kd_table.py', *argv], cwd=ROOT,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    md = (tmp_path / 'table.md').read_text().splitlines()
    assert md[0].startswith('| method | runs | demo mAP@0.5 | demo mAP@0.5:0.95 | '
                            'demo mAP@0.5:0.95 range |')
    assert md[2].startswith('| Student | 2 | 0.450 | 0.250 | 0.200-0.300 |')
    assert md[3].startswith('| Other | 1 | 0.100 | 0.050 | 0.050-0.050 |')


def _fake_sweep_run(work_dir, config, final, with_pr=True, epochs=3):
    """A work dir of a 3-epoch run validated every epoch up to ``epochs`` (finished when 3),
    ending at ``final`` mAP50-95."""
    from mmengine.config import Config
    (work_dir / '20260101_000000' / 'vis_data').mkdir(parents=True)
    lines = []
    for epoch in range(1, epochs + 1):
        lines += [dict(loss=10. / epoch, epoch=epoch, iter=epoch, step=epoch),
                  dict(loss=8. / epoch, epoch=epoch, iter=epoch, step=epoch)]
        rec = {'coco/bbox_mAP': final * epoch / 3, 'coco/bbox_mAP_50': 0.1 + final * epoch / 3,
               'step': epoch}
        if with_pr:
            rec.update({'pr/precision': 0.5 + final, 'pr/recall': 0.4 + final})
        lines.append(rec)
    (work_dir / '20260101_000000' / 'vis_data' / 'scalars.json').write_text(
        '\n'.join(json.dumps(x) for x in lines) + '\n')
    cfg = Config.fromfile(osp.join(ROOT, config))
    cfg.train_cfg.max_epochs = 3
    cfg.dump(str(work_dir / osp.basename(config)))


def test_ld_sweep_prints_commands_then_collects_table_and_curves(tmp_path):
    ld = 'configs/ld/ld_yolov8-s_yolov8-n_1xb8-30e_demo.py'
    base = 'configs/yolov8/yolov8_n_fast_1xb8-30e_demo.py'
    root = tmp_path / 'sweep'
    common = [ld, '--baseline', base, '--temperatures', '10', '25', '--work-root', str(root),
              '--out', str(tmp_path / 'table')]
    r = subprocess.run([sys.executable, 'tools/analysis/ld_sweep.py', *common, '--mode',
                        'print', '--cfg-options', 'randomness.seed=0'], cwd=ROOT,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    cmds = r.stdout.strip().splitlines()
    # the baseline logs no precision / recall: it runs through a derived config that adds them
    assert cmds[0] == (f'python tools/train.py {root}/baseline_pr.py --work-dir {root}/baseline '
                       '--cfg-options randomness.seed=0')
    from mmengine.config import Config
    derived, plain = Config.fromfile(str(root / 'baseline_pr.py')), Config.fromfile(base)
    assert derived.model == plain.model
    assert [e['type'] for e in derived.val_evaluator] == ['mmdet.CocoMetric',
                                                          'DetPrecisionRecallMetric']
    assert derived.val_evaluator[1]['score_thr'] == 0.25
    assert cmds[2] == (f'python tools/train.py {ld} --work-dir {root}/T25 --cfg-options '
                       'randomness.seed=0 model.distiller.distill_losses.loss_ld.temperature=25.0')
    _fake_sweep_run(root / 'baseline', base, 0.30)
    _fake_sweep_run(root / 'T10', ld, 0.33)  # T25 has not run: skipped, not invented
    _fake_sweep_run(root / 'T25', ld, 0.90, epochs=2)  # stopped after epoch 2 of 3: left out
    r = subprocess.run([sys.executable, 'tools/analysis/ld_sweep.py', *common, '--mode',
                        'collect'], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert 'skipped T=25' in r.stdout
    md = (tmp_path / 'table.md').read_text().splitlines()
    assert md[0] == '| run | temperature | mAP50 | mAP50-95 | precision | recall |'
    assert md[2] == '| baseline | - | 0.400 | 0.300 | 0.800 | 0.700 |'
    assert md[3] == '| T=10 | 10.000 | 0.430 | 0.330 | 0.830 | 0.730 |'
    assert len(md) == 4
    png = tmp_path / 'table_curves.png'
    assert png.stat().st_size > 10000 and png.read_bytes()[:4] == b'\x89PNG'


def test_ld_sweep_refuses_a_config_without_temperature(tmp_path):
    r = subprocess.run([sys.executable, 'tools/analysis/ld_sweep.py',
                        'configs/cwd/cwd_fpn_yolov8-s_yolov8-n_1xb8-30e_demo.py', '--baseline',
                        'configs/yolov8/yolov8_n_fast_1xb8-30e_demo.py', '--temperatures', '2',
                        '--mode', 'print'], cwd=ROOT, capture_output=True, text=True,
                       timeout=300)
    assert r.returncode != 0
    assert 'no distillation loss takes a temperature (losses: loss_cwd0, loss_cwd1' in r.stderr


GLANCE = """# Doc

### Every method at a glance

Words.

YOLOv5-S -> YOLOv5-N, words:

| `--methods` | potholes, short | hard hats, short |
|---|---|---|
| `cwd_att` | b: +7.0 [+4.1, +9.1] 60 %; c: +8.8 [+8.2, +9.3] 68 % | g: +5.8 [+5.7, +6.0] 66 % |
| `ld` (a form) | **b: -1.9 [-2.6, -1.5] -16 %**; c, fp32 students: +2.2 [+1.4, +3.5] 17 % | |
| `ld_full_labels` | (one class: trains as `ld`) | |

Runs: b: words; c: words.

YOLOv8-S -> YOLOv8-N, words:

| `--methods` | potholes, short | hard hats, short |
|---|---|---|
| `cwd` | | m: +5.2 [+3.4, +6.4] 46 % |

### The next section

| `x` | a |
|---|---|
| `ld` | z: +9.0 [+1.0, +9.9] 99 % |
"""


def _plot_glance():
    """tools/analysis/plot_glance.py as a module."""
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        'plot_glance', osp.join(ROOT, 'tools', 'analysis', 'plot_glance.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_plot_glance_reads_each_run_of_the_tables(tmp_path):
    """Each entry of the glance tables is one run, with its column, letter, qualifier and the
    signs kept; text in a cell that is not an entry and the next section are not read; an
    entry whose mean lies outside its range is refused; the PNG is written."""
    read_glance = _plot_glance().read_glance
    entries = read_glance(GLANCE)
    assert list(entries) == ['YOLOv5', 'YOLOv8']
    v5 = [(e['method'], e['column'], e['run'], e['qualifier'], e['mean'], e['low'], e['high'],
           e['share']) for e in entries['YOLOv5']]
    assert v5 == [('cwd_att', 'potholes, short', 'b', '', 7.0, 4.1, 9.1, 60.0),
                  ('cwd_att', 'potholes, short', 'c', '', 8.8, 8.2, 9.3, 68.0),
                  ('cwd_att', 'hard hats, short', 'g', '', 5.8, 5.7, 6.0, 66.0),
                  ('ld', 'potholes, short', 'b', '', -1.9, -2.6, -1.5, -16.0),
                  ('ld', 'potholes, short', 'c', 'fp32 students', 2.2, 1.4, 3.5, 17.0)]
    assert [(e['method'], e['column'], e['mean']) for e in entries['YOLOv8']] == [
        ('cwd', 'hard hats, short', 5.2)]
    with pytest.raises(ValueError, match=r'YOLOv8 cwd hard hats, short m: the mean 7.2 is not'):
        read_glance(GLANCE.replace('+5.2 [+3.4', '+7.2 [+3.4'))
    with pytest.raises(ValueError, match='no "### Every method at a glance" section'):
        read_glance(GLANCE.replace('at a glance', 'elsewhere'))
    # one row per run, a blank row between methods, each method's tick in its block's middle
    ys, ticks, methods = _plot_glance().layout(entries['YOLOv5'])
    assert (ys, ticks, methods) == ([0, 1, 2, 4, 5], [1.0, 4.5], ['cwd_att', 'ld'])
    doc = tmp_path / 'doc.md'
    doc.write_text(GLANCE)
    png = tmp_path / 'g.png'
    r = subprocess.run([sys.executable, 'tools/analysis/plot_glance.py', str(doc), '--out',
                        str(png)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith('6 runs of 2 families')
    assert png.stat().st_size > 10000 and png.read_bytes()[:4] == b'\x89PNG'


def test_the_glance_figure_reads_the_docs_tables():
    """docs/custom_dataset.md's glance tables parse: every method of both families is there,
    each family's default methods were measured on both real datasets."""
    read_glance = _plot_glance().read_glance
    from kd_plugins.recipe import FAMILIES
    with open(osp.join(ROOT, 'docs', 'custom_dataset.md')) as f:
        entries = read_glance(f.read())
    for family, spec in FAMILIES.items():
        es = entries[family.replace('yolo', 'YOLO')]
        assert {e['method'] for e in es} == set(spec['methods']), family
        for method in spec['default_methods']:
            columns = {e['column'].split(',')[0] for e in es if e['method'] == method}
            assert {'potholes', 'hard hats'} <= columns, (family, method)
