"""The main job's stages end to end on a tiny setting, and re-running skips finished stages."""
import csv
import subprocess
import sys

from conftest import ROOT


def test_run_demo_tiny(tmp_path):
    out, data = tmp_path / 'results', tmp_path / 'data'
    cmd = [sys.executable, 'tools/run_demo.py', '--out', str(out), '--data', str(data),
           '--num-train', '8', '--num-val', '4', '--epochs', '1', '--batch-size', '4',
           '--models', 'YOLOv5-N']
    r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    for stage in ('1/4 data', '2/4 train YOLOv5-N', '3/4 eval YOLOv5-N', '4/4 report'):
        assert stage in r.stdout
    with open(out / 'results.csv') as f:
        rows = list(csv.DictReader(f))
    assert [r_['model'] for r_ in rows] == ['YOLOv5-N']
    row = rows[0]
    assert 1.5 < float(row['params_M']) < 2.0  # YOLOv5-N with 5 classes: 1.77 M
    assert 0.0 <= float(row['mAP50_95']) <= float(row['mAP50']) <= 1.0
    assert float(row['train_s_per_iter']) > 0
    assert (out / 'results.md').read_text().count('| YOLOv5-N |') == 1
    again = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    assert 'train YOLOv5-N (1/1): done before' in again.stdout
    assert 'eval YOLOv5-N: done before' in again.stdout
    assert 'tools/train.py' not in again.stdout
