"""Training, evaluation, checkpoints, resume and multi-process training on tiny generated data."""
import glob
import os
import os.path as osp
import pickle
import subprocess
import sys

import pytest
import torch

from conftest import ROOT, load_script, logged, options_argv, run_tool, tiny_options

V5 = 'configs/yolov5/yolov5_n-v61_fast_1xb8-30e_demo.py'
V8 = 'configs/yolov8/yolov8_n_fast_1xb8-30e_demo.py'


def train(config, work_dir, opts, extra=()):
    return run_tool(['tools/train.py', config, '--work-dir', str(work_dir), *extra,
                     '--cfg-options', *options_argv(opts)])


@pytest.mark.parametrize('config', [V5, V8], ids=['yolov5', 'yolov8'])
def test_train_two_iterations_then_evaluate(config, tiny_data, tmp_path):
    work = tmp_path / 'work'
    out = train(config, work, tiny_options(tiny_data))
    assert 'Epoch(train) [1][2/2]' in out
    losses = logged(work, 'loss')
    assert len(losses) == 2 and all(torch.isfinite(torch.tensor(losses)))
    val_map = logged(work, 'coco/bbox_mAP')
    # (two iterations learn nothing; what matters is that the metric is the checkpoint's:
    # tools/test.py below recomputes it) mAP50-95 averages IoU thresholds from 0.5 up, so it
    # cannot exceed mAP50
    assert len(val_map) == 1 and val_map[0] <= logged(work, 'coco/bbox_mAP_50')[0]
    ckpt = work / 'epoch_1.pth'
    assert ckpt.is_file()
    # tools/test.py on the checkpoint gives the same COCO numbers, dumps predictions and
    # draws them.
    pkl, show = tmp_path / 'preds.pkl', 'shown'
    opts = {k: v for k, v in tiny_options(tiny_data).items() if 'test' in k}
    out = run_tool(['tools/test.py', config, str(ckpt), '--work-dir', str(tmp_path / 'test'),
                    '--out', str(pkl), '--show-dir', show, '--cfg-options',
                    *options_argv(opts)])
    assert 'coco/bbox_mAP:' in out
    test_map = float(out.split('coco/bbox_mAP:')[1].split()[0])
    assert test_map == pytest.approx(val_map[0], abs=1e-3)
    with open(pkl, 'rb') as f:
        preds = pickle.load(f)
    assert len(preds) == 4 and 'pred_instances' in preds[0]
    drawn = glob.glob(str(tmp_path / 'test' / '*' / show / '*.jpg'))
    assert len(drawn) == 4


def test_checkpoint_roundtrip_gives_identical_outputs(tmp_path):
    from mmengine.config import Config
    from mmengine.runner import load_checkpoint, save_checkpoint
    from mmyolo.registry import MODELS
    from mmyolo.utils import register_all_modules
    register_all_modules()
    cfg = Config.fromfile(osp.join(ROOT, V5))
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    for m in model.modules():  # non-trivial BN statistics, so that buffers matter too
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    model.eval()
    x = torch.rand(2, 3, 128, 128)
    with torch.no_grad():
        before = model(x, mode='tensor')
    path = str(tmp_path / 'model.pth')
    save_checkpoint(dict(state_dict=model.state_dict(), meta=dict(epoch=1)), path)
    torch.manual_seed(1)
    fresh = MODELS.build(cfg.model).eval()
    with torch.no_grad():
        assert not torch.equal(fresh(x, mode='tensor')[0][0], before[0][0])
        load_checkpoint(fresh, path, map_location='cpu', strict=True)
        after = fresh(x, mode='tensor')
    for a, b in zip(torch.utils._pytree.tree_leaves(before),
                    torch.utils._pytree.tree_leaves(after)):
        assert torch.equal(a, b)


@pytest.mark.slow
def test_resume_continues_from_saved_iteration(tiny_data, tmp_path):
    opts = tiny_options(tiny_data, epochs=2)
    first = tmp_path / 'first'
    train(V5, first, dict(opts, **{'train_cfg.max_epochs': 1,
                                   'default_hooks.param_scheduler.max_epochs': 2}))
    assert (first / 'epoch_1.pth').is_file()
    out = train(V5, first, opts, extra=['--resume', str(first / 'epoch_1.pth')])
    assert 'resumed epoch: 1, iter: 2' in out
    assert 'Epoch(train) [2][2/2]' in out and 'Epoch(train) [1]' not in out
    from kd_plugins.compat import safe_torch_load
    meta = safe_torch_load(str(first / 'epoch_2.pth'))['meta']
    assert (meta['epoch'], meta['iter']) == (2, 4)
    # --resume without a path picks the latest checkpoint of the work dir.
    out = train(V5, first, dict(opts, **{'train_cfg.max_epochs': 3,
                                         'default_hooks.param_scheduler.max_epochs': 3}),
                extra=['--resume'])
    assert 'resumed epoch: 2, iter: 4' in out and 'Epoch(train) [3][2/2]' in out


@pytest.mark.skipif(torch.cuda.is_available(), reason='exercises the CPU (gloo) path')
@pytest.mark.slow
def test_two_process_training_on_cpu(tiny_data, tmp_path):
    work = tmp_path / 'dist'
    opts = tiny_options(tiny_data, batch_size=2)
    env = dict(os.environ, PYTHON=sys.executable, PORT='29613', OMP_NUM_THREADS='1')
    r = subprocess.run(['bash', 'tools/dist_train.sh', V5, '2', '--work-dir', str(work),
                        '--cfg-options', *options_argv(opts)], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=600)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out[-6000:]
    # 8 images, 2 processes x 2 images: 2 iterations per epoch, then a distributed COCO eval.
    assert 'Epoch(train) [1][2/2]' in out
    # MMEngine reports the world size as "GPU number", also for CPU processes.
    assert 'Distributed training: True' in out and 'GPU number: 2' in out
    val_map = logged(work, 'coco/bbox_mAP')
    assert len(val_map) == 1
    assert (work / 'epoch_1.pth').is_file()
    # Distributed evaluation of that checkpoint gives the numbers of the distributed validation.
    test_opts = {k: v for k, v in opts.items() if 'test' in k}
    r = subprocess.run(['bash', 'tools/dist_test.sh', V5, str(work / 'epoch_1.pth'), '2',
                        '--work-dir', str(tmp_path / 'dist_test'), '--cfg-options',
                        *options_argv(test_opts)], cwd=ROOT, env=env, capture_output=True,
                       text=True, timeout=600)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out[-6000:]
    assert 'Distributed training: True' in out
    assert float(out.split('coco/bbox_mAP:')[1].split()[0]) == pytest.approx(val_map[0],
                                                                             abs=1e-3)


@pytest.mark.parametrize('path', ['load_from', 'resume', 'test'])
def test_crafted_checkpoint_is_refused_by_every_tool_path(path, tiny_data, tmp_path):
    """load_from, --resume and tools/test.py never run code embedded in a checkpoint."""
    from test_compat import _RunsCode
    marker = tmp_path / 'pwned'
    evil = tmp_path / 'evil.pth'
    torch.save({'state_dict': {}, 'meta': {}, 'evil': _RunsCode(str(marker))}, str(evil))
    opts = tiny_options(tiny_data)
    work = ['--work-dir', str(tmp_path / 'work')]
    if path == 'test':
        args = ['tools/test.py', V5, str(evil), *work]
    elif path == 'resume':
        args = ['tools/train.py', V5, *work, '--resume', str(evil)]
    else:
        args = ['tools/train.py', V5, *work]
        opts = dict(opts, load_from=str(evil))
    r = subprocess.run([sys.executable, *args, '--cfg-options', *options_argv(opts)], cwd=ROOT,
                       capture_output=True, text=True, timeout=600)
    assert r.returncode != 0
    assert 'refused to load checkpoint' in r.stderr and 'evil.pth' in r.stderr
    assert not marker.exists()


def test_missing_image_stops_training_before_the_first_iteration(tiny_data, tmp_path):
    import shutil
    data = tmp_path / 'data'
    shutil.copytree(tiny_data, data)
    gone = sorted(os.listdir(data / 'train'))[3]
    os.remove(data / 'train' / gone)
    r = subprocess.run([sys.executable, 'tools/train.py', V5, '--work-dir', str(tmp_path / 'w'),
                        '--cfg-options', *options_argv(tiny_options(data))], cwd=ROOT,
                       capture_output=True, text=True, timeout=600)
    out = r.stdout + r.stderr
    assert r.returncode != 0
    assert f'1 image(s) missing or unreadable: {data}/train/{gone} (missing)' in out
    assert 'annotations/train.json' in out and 'Epoch(train)' not in out


def test_test_split_val_evaluates_the_val_loader_with_the_val_evaluator(tmp_path):
    tool = load_script('tools/test.py', 'test_tool')
    ckpt = tmp_path / 'any.pth'
    ckpt.write_bytes(b'')
    argv = [osp.join(ROOT, V5), str(ckpt), '--work-dir', str(tmp_path), '--cfg-options',
            'test_dataloader.dataset.ann_file=test.json', 'test_evaluator.ann_file=t.json']
    test = tool.build_cfg(tool.parse_args(argv))
    assert test.test_dataloader.dataset.ann_file == 'test.json'
    assert test.test_evaluator.ann_file == 't.json'
    val = tool.build_cfg(tool.parse_args(argv + ['--split', 'val']))
    assert val.test_dataloader.dataset.ann_file == val.val_dataloader.dataset.ann_file
    assert val.val_dataloader.dataset.ann_file != 'test.json'
    assert val.test_evaluator == val.val_evaluator and val.test_evaluator.ann_file != 't.json'
    assert val.load_from == str(ckpt)
