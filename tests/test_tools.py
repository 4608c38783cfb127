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
