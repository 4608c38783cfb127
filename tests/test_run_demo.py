"""The main job's stages end to end on a tiny setting, and re-running skips finished stages."""
import csv
import subprocess
import sys

import cv2
import pytest
import torch

from conftest import ROOT

STAGES = ['1/6 data', '2/6 train teacher (1/4)', '4/6 eval teacher',
          '2/6 train baseline (2/4)', '4/6 eval baseline',
          '2/6 train cwd_att (3/4)', '3/6 export cwd_att', '4/6 eval cwd_att',
          '2/6 train ld (4/4)', '3/6 export ld', '4/6 eval ld',
          '5/6 inference teacher', '5/6 inference baseline', '5/6 inference cwd_att',
          '5/6 inference ld', '6/6 report']


def test_run_demo_tiny(tmp_path):
    out, data = tmp_path / 'results', tmp_path / 'data'
    cmd = [sys.executable, 'tools/run_demo.py', '--out', str(out), '--data', str(data),
           '--num-train', '8', '--num-val', '6', '--epochs', '1', '--teacher-epochs', '2',
           '--batch-size', '4', '--speed-images', '2']
    r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    # every stage, in this order
    positions = [r.stdout.find(s) for s in STAGES]
    assert -1 not in positions, [s for s, p in zip(STAGES, positions) if p == -1]
    assert positions == sorted(positions)
    # the distilled students were trained from the teacher's checkpoint
    assert r.stdout.count(f'model.teacher_ckpt={out}/teacher/epoch_2.pth') == 2
    assert r.stdout.count('train_cfg.max_epochs=2') == 1  # the teacher's schedule
    assert r.stdout.count('train_cfg.max_epochs=1') == 3  # the students'

    with open(out / 'results.csv') as f:
        rows = list(csv.DictReader(f))
    assert [(x['model'], x['method']) for x in rows] == [
        ('YOLOv5-S, LD head', 'teacher'), ('YOLOv5-N, LD head', 'baseline (no KD)'),
        ('YOLOv5-N, LD head', 'CWD+attention'), ('YOLOv5-N, LD head', 'LD')]
    params = [float(x['params_M']) for x in rows]
    # 5 classes: S with the LD head 8.82 M; every student is N with the LD head, 2.24 M
    assert params == pytest.approx([8.82, 2.24, 2.24, 2.24], abs=0.01)
    for x in rows:
        assert 0.0 <= float(x['mAP50-95']) <= float(x['mAP50']) <= 1.0
        assert float(x['infer_img_per_s']) > 0 and float(x['train_s_per_iter']) > 0
        assert float(x['FLOPs_G']) > 0
    assert (out / 'results.md').read_text().count('| YOLOv5-N, LD head |') == 3

    # the exported students are plain MMYOLO checkpoints (no teacher / distiller keys)
    for key in ('cwd_att', 'ld'):
        state = torch.load(out / key / 'student' / 'student.pth', map_location='cpu',
                           weights_only=False)['state_dict']
        assert state and not [k for k in state if k.startswith(('teacher', 'distiller'))]
        assert 'exported student vs student in the distiller: max abs difference 0' in r.stdout
    # one picture per model on the same 4 val images (4 tiles of 256 + a 24-pixel title), the
    # stacked picture, and the curves
    for key in ('teacher', 'baseline', 'cwd_att', 'ld'):
        img = cv2.imread(str(out / f'detections_{key}.png'))
        assert img.shape == (24 + 256, 4 * 256, 3)
    assert cv2.imread(str(out / 'detections.png')).shape == (4 * (24 + 256 + 4), 1024, 3)
    assert cv2.imread(str(out / 'curves.png')) is not None

    again = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    for key in ('teacher', 'baseline', 'cwd_att', 'ld'):
        assert f'train {key} (' in again.stdout and f'eval {key}: done before' in again.stdout
        assert f'inference {key}: done before' in again.stdout
    assert again.stdout.count('done before') == 4 * 3 + 2  # train, eval, inference; 2 exports
    assert 'tools/train.py' not in again.stdout and 'tools/test.py' not in again.stdout


def test_run_demo_needs_the_teacher_of_a_distilled_student(tmp_path):
    r = subprocess.run([sys.executable, 'tools/run_demo.py', '--out', str(tmp_path),
                        '--models', 'baseline', 'ld'], cwd=ROOT, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 2
    assert 'ld is distilled from teacher: add teacher to --models' in r.stderr
