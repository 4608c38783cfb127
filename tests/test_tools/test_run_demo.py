"""The main job (tools/distill.py on the generated demo data) end to end on a tiny setting, and
re-running skips finished stages."""
import csv
import subprocess
import sys

import cv2
import pytest
import torch

from conftest import ROOT


@pytest.mark.slow
def test_run_demo_tiny(tmp_path):
    out, data = tmp_path / 'results', tmp_path / 'data'
    cmd = [sys.executable, 'tools/run_demo.py', '--out', str(out), '--data', str(data),
           '--num-train', '8', '--num-val', '6', '--epochs', '1', '--teacher-epochs', '2',
           '--batch-size', '4', '--speed-images', '2']
    r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    # every stage, in this order
    stages = [f' {k}/8 ' for k in range(1, 9)]
    positions = [r.stdout.find(s) for s in stages]
    assert -1 not in positions and positions == sorted(positions), r.stdout
    assert 'coco layout, 5 classes' in r.stdout
    # the demo's settings, with the command line's overrides (epochs, batch size)
    assert ('--family yolov5 --teacher s --student n --methods cwd_att ld_obj_kl --epochs 1 '
            '--img-size 256 --batch-size 4 --seeds 0 --teacher-epochs 2 --lr 0.08') in r.stdout
    assert 'teacher: epoch 2/2' in r.stdout and 'baseline seed 0: epoch 1/1' in r.stdout
    # onnxruntime beside PyTorch, in the one speed line of each of the 4 models
    assert r.stdout.count('; end-to-end ONNX in onnxruntime ') == 4
    # the distilled students were trained from the teacher's checkpoint
    for key in ('cwd_att', 'ld_obj_kl'):
        cfg = (out / 'configs' / f'{key}.py').read_text()
        assert f"teacher_ckpt={str(out / 'runs' / 'teacher' / 'epoch_2.pth')!r}" in cfg

    with open(out / 'report.csv') as f:
        rows = list(csv.DictReader(f))
    assert [x['method'] for x in rows] == [
        'teacher', 'baseline (no KD)', 'CWD+attention', 'LD, objectness KD as KL']
    # 5 classes: S with the LD head 8.82 M; every student is N with the LD head, 2.24 M
    assert [float(x['params_M']) for x in rows] == pytest.approx([8.82, 2.24, 2.24, 2.24],
                                                                 abs=0.01)
    for x in rows:
        assert 0.0 <= float(x['mAP50-95']) <= float(x['mAP50']) <= 1.0
        assert float(x['img_per_s']) > 0 and float(x['train_s_per_iter']) > 0
        assert float(x['onnx_img_per_s']) > 0  # onnxruntime on the end-to-end export
        assert float(x['FLOPs_G']) > 0
    # the share of the loss each distillation's log records (none for the models alone)
    assert [x['kd_share'] for x in rows[:2]] == ['', '']
    assert all(0 < float(x['kd_share']) < 1 for x in rows[2:])

    # the exported students are plain MMYOLO checkpoints (no teacher / distiller keys)
    for key in ('cwd_att', 'ld_obj_kl'):
        state = torch.load(out / 'runs' / key / 'seed0' / 'student' / 'student.pth',
                           map_location='cpu', weights_only=False)['state_dict']
        assert state and not [k for k in state if k.startswith(('teacher', 'distiller'))]
        log = (out / 'runs' / key / 'seed0' / 'student' / 'export.log').read_text()
        assert 'exported student vs student in the distiller: max abs difference 0' in log
    # one picture per model on the same 4 val images (4 tiles of 256 + a 24-pixel title), the
    # stacked picture, and the curves
    for key in ('teacher', 'baseline_seed0', 'cwd_att_seed0', 'ld_obj_kl_seed0'):
        img = cv2.imread(str(out / 'pictures' / f'detections_{key}.png'))
        assert img.shape == (24 + 256, 4 * 256, 3)
    assert cv2.imread(str(out / 'detections.png')).shape == (4 * (24 + 256 + 4), 1024, 3)
    assert cv2.imread(str(out / 'curves.png')) is not None

    again = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    assert again.stdout.count('trained before') == 4 and ': training ' not in again.stdout
    assert 'exported to' not in again.stdout and 'converted before' in again.stdout


def test_run_demo_help_names_the_demo_settings():
    r = subprocess.run([sys.executable, 'tools/run_demo.py', '--help'], cwd=ROOT,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0
    text = ' '.join(r.stdout.split())
    assert '--methods cwd_att ld_obj_kl --epochs 10 --teacher-epochs 14' in text
    assert '--precision fastest' in text
