"""Each fix in kd_plugins.compat: the breakage it fixes is reproduced, then shown fixed."""
import os
import os.path as osp
import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from torch import nn

import kd_plugins
from kd_plugins.compat import checkpoint as ckpt_fix
from kd_plugins.compat import optim_constructor, scope_leak, versions

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def run_py(code, **kw):
    return subprocess.run([sys.executable, '-c', textwrap.dedent(code)], capture_output=True,
                          text=True, cwd=ROOT, timeout=300, **kw)


# ---------------------------------------------------------------- MMRazor on torch >= 2.0
def test_mmrazor_import_fails_without_fix():
    r = run_py('import mmrazor.models')
    assert r.returncode != 0
    assert '`torch>=1.13` is not installed properly' in r.stderr


def test_mmrazor_distillation_imports_with_fix_and_quantization_says_why():
    r = run_py('''
        import kd_plugins, mmrazor.engine
        from mmrazor.models import (ConfigurableDistiller, FpnTeacherDistill,
                                    SingleTeacherDistill, ChannelWiseDivergence)
        from mmrazor.registry import MODELS
        loss = MODELS.build(dict(type='ChannelWiseDivergence', tau=1, loss_weight=1))
        print('distill-ok')
        from mmrazor.structures.quantization import QConfigHandler
        try:
            QConfigHandler(dict())
        except kd_plugins.compat.QuantizationUnavailableError as e:
            print('quant-refused:', e)
    ''')
    assert r.returncode == 0, r.stderr
    assert 'distill-ok' in r.stdout
    assert 'quant-refused: mmrazor quantization (QConfigHandler) is unavailable' in r.stdout
    assert 'issues 615, 632' in r.stdout


# ---------------------------------------------------------------- checkpoints, torch >= 2.6
def _mmengine_like_checkpoint(path):
    from mmengine.logging import HistoryBuffer
    hist = HistoryBuffer()
    hist.update(np.float64(1.5))
    torch.save({
        'meta': {'epoch': 3, 'iter': 30, 'seed': np.int64(7)},
        'state_dict': {'w': torch.arange(4.)},
        'message_hub': {'log_scalars': {'train/loss': hist},
                        'runtime_info': {'arr': np.arange(3)}},
    }, path)


def test_mmengine_checkpoint_loads_safely(tmp_path):
    path = str(tmp_path / 'ckpt.pth')
    _mmengine_like_checkpoint(path)
    from mmengine.runner.checkpoint import _load_checkpoint, load_from_local

    # Without the fix: MMEngine's own loader hits torch's weights_only refusal.
    with pytest.raises(pickle.UnpicklingError, match='Weights only load failed'):
        load_from_local(path, map_location='cpu')
    ckpt = _load_checkpoint(path, map_location='cpu')
    assert ckpt['meta']['epoch'] == 3 and ckpt['meta']['seed'] == 7
    assert torch.equal(ckpt['state_dict']['w'], torch.arange(4.))
    hist = ckpt['message_hub']['log_scalars']['train/loss']
    assert hist.current() == 1.5 and hist.mean() == 1.5
    assert torch.load is ckpt_fix._torch_load  # the guard restores torch.load


class _RunsCode:

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f'touch {self.marker}', ))


class _Reducer:
    """Pickles as ``fn(*args)``; with getattr, the gadget an allow-list must not let through."""

    def __init__(self, fn, args):
        self.fn, self.args = fn, args

    def __reduce__(self):
        return (self.fn, self.args)


@pytest.mark.parametrize('kind', ['os.system', 'getattr', 'getattr-on-allowed-class'])
def test_crafted_checkpoint_is_refused(tmp_path, kind):
    marker = tmp_path / 'pwned'
    path = str(tmp_path / 'evil.pth')
    if kind == 'os.system':
        torch.save({'state_dict': {}, 'evil': _RunsCode(str(marker))}, path)
    elif kind == 'getattr':
        torch.save({'state_dict': {}, 'evil': _Reducer(getattr, (subprocess.Popen, '__init__'))},
                   path)
    else:  # the allow-listed class, but not one of the attributes HistoryBuffer pickles
        from mmengine.logging import HistoryBuffer
        torch.save({'evil': _Reducer(getattr, (HistoryBuffer, '__init__'))}, path)
    from mmengine.runner.checkpoint import _load_checkpoint
    with pytest.raises(kd_plugins.compat.UnsafeCheckpointError) as e:
        _load_checkpoint(path, map_location='cpu')
    assert 'refused to load checkpoint' in str(e.value) and 'evil.pth' in str(e.value)
    reason = {'os.system': 'posix.system', 'getattr': 'Popen',
              'getattr-on-allowed-class': "refused getattr(<class 'mmengine"}[kind]
    assert reason in str(e.value)
    assert not marker.exists()


def test_history_buffer_loads_in_a_fresh_process(tmp_path):
    # HistoryBuffer registers its statistics methods only when the first one is created, so a
    # process that loads before creating any must still accept them.
    path = str(tmp_path / 'ckpt.pth')
    _mmengine_like_checkpoint(path)
    r = run_py(f'''
        import kd_plugins
        from mmengine.runner.checkpoint import _load_checkpoint
        print(_load_checkpoint({path!r})['message_hub']['log_scalars']['train/loss'].mean())
    ''')
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().splitlines()[-1] == '1.5'


def test_restricted_getattr_only_serves_history_buffer():
    from mmengine.logging import HistoryBuffer
    assert ckpt_fix._history_buffer_getattr(HistoryBuffer, 'mean') is HistoryBuffer.mean
    with pytest.raises(kd_plugins.compat.UnsafeCheckpointError):
        ckpt_fix._history_buffer_getattr(os, 'system')
    with pytest.raises(kd_plugins.compat.UnsafeCheckpointError):
        ckpt_fix._history_buffer_getattr(HistoryBuffer, '__init__')


def test_schemes_registered_later_are_guarded(tmp_path):
    from mmengine.runner.checkpoint import CheckpointLoader, _load_checkpoint
    marker = tmp_path / 'pwned'
    path = str(tmp_path / 'evil.pth')
    torch.save({'evil': _RunsCode(str(marker))}, path)

    @CheckpointLoader.register_scheme(prefixes='kdtest://', force=True)
    def load_kdtest(filename, map_location):
        return torch.load(filename[len('kdtest://'):], map_location=map_location)

    with pytest.raises(kd_plugins.compat.UnsafeCheckpointError):
        _load_checkpoint('kdtest://' + path, map_location='cpu')
    assert not marker.exists()
    CheckpointLoader._schemes.pop('kdtest://')


# ---------------------------------------------------------------- collate_fn _scope_
def _scoped_loader_cfg(root):
    return dict(
        batch_size=2, num_workers=0,
        sampler=dict(type='DefaultSampler', shuffle=False),
        collate_fn=dict(type='yolov5_collate', _scope_='mmyolo'),  # as `mmyolo::` bases get it
        dataset=dict(
            type='YOLOv5CocoDataset', data_root=root, ann_file='annotations/train.json',
            data_prefix=dict(img=''),
            pipeline=[dict(type='LoadImageFromFile'),
                      dict(type='mmdet.LoadAnnotations', with_bbox=True),
                      dict(type='mmdet.PackDetInputs')]))


def test_scope_leak_breaks_mmengine_and_is_fixed(tiny_data):
    from mmengine.registry import DefaultScope
    from mmengine.runner import Runner
    original = getattr(Runner.build_dataloader, scope_leak._ATTR)
    with DefaultScope.overwrite_default_scope('mmyolo'):
        broken = original(_scoped_loader_cfg(tiny_data), seed=0)
        with pytest.raises(TypeError, match="unexpected keyword argument '_scope_'"):
            next(iter(broken))
        cfg = _scoped_loader_cfg(tiny_data)
        assert scope_leak.fix_collate_cfg(cfg)['collate_fn'] == dict(type='yolov5_collate')
        batch = next(iter(Runner.build_dataloader(cfg, seed=0)))
    assert cfg['collate_fn'] == dict(type='yolov5_collate', _scope_='mmyolo')  # not modified
    assert batch['inputs'].shape == (2, 3, 128, 128)
    labels = batch['data_samples']['bboxes_labels']
    assert labels.shape[1] == 6 and set(labels[:, 0].tolist()) <= {0., 1.}


def test_albu_scope_leak_is_fixed():
    from mmdet.datasets.transforms import Albu
    leaked = dict(transforms=[dict(type='MedianBlur', p=1.0, _scope_='mmyolo')],
                  bbox_params=dict(type='BboxParams', format='pascal_voc', _scope_='mmyolo',
                                   label_fields=['gt_bboxes_labels', 'gt_ignore_flags']),
                  keymap={'img': 'image', 'gt_bboxes': 'bboxes'})
    original = getattr(Albu.albu_builder, scope_leak._ATTR)
    with pytest.raises(TypeError, match="unexpected keyword argument '_scope_'"):
        original(Albu.__new__(Albu), dict(type='MedianBlur', p=1.0, _scope_='mmyolo'))
    t = Albu(**leaked)
    img = np.random.RandomState(0).randint(0, 255, (32, 32, 3)).astype(np.uint8)
    from mmdet.structures.bbox import HorizontalBoxes
    boxes = HorizontalBoxes(torch.tensor([[2., 2., 9., 9.]]))
    out = t.transform(dict(img=img.copy(), gt_bboxes=boxes,
                           gt_bboxes_labels=np.array([0]), gt_ignore_flags=np.array([False])))
    assert out['img'].shape == img.shape and not np.array_equal(out['img'], img)
    assert leaked['transforms'][0]['_scope_'] == 'mmyolo'  # the config is not modified


def _albu_draws(transform, seed, n=12):
    """Which of ``n`` calls of a p=0.5 ToGray Albu turned the image gray, after seeding
    NumPy (as MMEngine seeds a process or a data worker) with ``seed``."""
    img = np.random.RandomState(0).randint(0, 255, (16, 16, 3)).astype(np.uint8)
    np.random.seed(seed)
    outs = [transform(dict(img=img.copy()))['img'] for _ in range(n)]
    return [bool((o[..., 0] == o[..., 1]).all()) for o in outs]


def test_albu_follows_the_global_seed():
    from mmdet.datasets.transforms import Albu

    from kd_plugins.compat import albu_seed
    albu = Albu(transforms=[dict(type='ToGray', p=0.5)], keymap={'img': 'image'},
                bbox_params=None)
    upstream = getattr(Albu.transform, albu_seed._ORIGINAL)
    # Upstream with albumentations 2.x: each transform has its own OS-seeded generator, the
    # global seed is ignored (two transforms agree by chance with probability 2^-12).
    fresh = Albu(transforms=[dict(type='ToGray', p=0.5)], keymap={'img': 'image'},
                 bbox_params=None)
    assert _albu_draws(lambda r: upstream(albu, r), 0) != \
        _albu_draws(lambda r: upstream(fresh, r), 0)
    # Fixed: the same global seed gives the same draws, another seed others.
    first = _albu_draws(albu.transform, 0)
    assert first == _albu_draws(albu.transform, 0) != _albu_draws(albu.transform, 1)
    assert 0 < sum(first) < len(first)  # p=0.5: some gray, some not


# ---------------------------------------------------------------- optimizer constructor
class _WithAffineFreeNorm(nn.Module):

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.bn = nn.BatchNorm2d(4)
        self.norm_free = nn.BatchNorm2d(4, affine=False)
        self.fc = nn.Linear(4, 2)


def test_yolov5_optimizer_constructor_with_affine_free_norm():
    from mmyolo.engine.optimizers import YOLOv5OptimizerConstructor
    cfg = dict(type='OptimWrapper', optimizer=dict(type='SGD', lr=0.01, momentum=0.9,
                                                   weight_decay=5e-4, batch_size_per_gpu=16))
    model = _WithAffineFreeNorm()
    original = getattr(YOLOv5OptimizerConstructor.__call__, optim_constructor._ATTR)
    with pytest.raises(TypeError, match='optimizer can only optimize Tensors'):
        original(YOLOv5OptimizerConstructor(dict(cfg)), model)
    wrapper = YOLOv5OptimizerConstructor(dict(cfg))(model)
    groups = wrapper.optimizer.param_groups
    # MMYOLO's grouping: conv/linear weights (decayed), norm weights, biases.
    assert [len(g['params']) for g in groups] == [2, 1, 3]
    assert groups[0]['params'][0] is model.conv.weight
    assert groups[1]['params'][0] is model.bn.weight
    assert groups[0]['weight_decay'] == 5e-4
    n_params = sum(len(g['params']) for g in groups)
    assert n_params == len(list(model.parameters()))


# ---------------------------------------------------------------- multi-process on CPU
@pytest.mark.skipif(torch.cuda.is_available(), reason='the breakage is CPU-only')
def test_mmengine_init_dist_breaks_on_cpu_build():
    env = dict(os.environ, RANK='0', WORLD_SIZE='1', LOCAL_RANK='0', MASTER_ADDR='127.0.0.1',
               MASTER_PORT='29731')
    r = run_py('''
        from mmengine.dist import init_dist
        init_dist('pytorch', backend='gloo')
    ''', env=env)
    assert r.returncode != 0
    assert '_cuda_setDevice' in r.stderr


def test_prepare_cpu_distributed_adapts_config():
    from mmengine.config import Config

    from kd_plugins.compat.cpu_dist import prepare_cpu_distributed
    cfg = Config(dict(model=dict(type='YOLODetector', backbone=dict(type='X')),
                      env_cfg=dict(dist_cfg=dict(backend='nccl'))))
    assert prepare_cpu_distributed(cfg, 'none') is False
    assert 'model_wrapper_cfg' not in cfg
    # Without torchrun's environment nothing is initialised; the config part is testable alone.
    from unittest import mock

    import torch.distributed as dist
    with mock.patch('kd_plugins.compat.cpu_dist.init_cpu_dist') as init:
        assert prepare_cpu_distributed(cfg, 'pytorch') is True
        init.assert_called_once()
    assert cfg.env_cfg.dist_cfg.backend == 'gloo'
    assert cfg.model_wrapper_cfg['device_ids'] is None
    assert cfg.model.use_syncbn is False
    assert not dist.is_initialized()
    with pytest.raises(RuntimeError, match='torchrun'):
        prepare_cpu_distributed(cfg, 'slurm')
    # a distillation's student and teacher named by config path get it too
    student = osp.join(ROOT, 'configs/yolov8/yolov8_n_fast_1xb8-30e_demo.py')
    teacher = osp.join(ROOT, 'configs/yolov8/yolov8_s_fast_1xb8-30e_demo.py')
    cfg = Config(dict(model=dict(type='KDYOLOTeacherDistill', architecture=dict(cfg_path=student),
                                 teacher=dict(cfg_path=teacher))))
    with mock.patch('kd_plugins.compat.cpu_dist.init_cpu_dist'):
        prepare_cpu_distributed(cfg, 'pytorch')
    for key in ('architecture', 'teacher'):
        assert cfg.model[key].type == 'YOLODetector' and cfg.model[key].use_syncbn is False


# ---------------------------------------------------------------- versions and dependencies
def test_versions_in_matrix():
    found = versions.check_versions()
    assert found['mmcv'] == '2.0.1' and found['mmyolo'] == '0.6.0'


def test_versions_out_of_matrix_say_what_to_do(monkeypatch):
    real = versions.metadata.version
    monkeypatch.setattr(versions.metadata, 'version',
                        lambda n: '2.1.0' if n == 'mmcv' else real(n))
    with pytest.raises(versions.UnsupportedVersionError) as e:
        versions.check_versions()
    assert 'mmcv 2.1.0: need >=2.0.1,<2.0.2' in str(e.value)
    assert 'scripts/setup_env.sh' in str(e.value)


def test_undeclared_dependencies_are_declared_and_work():
    with open(osp.join(ROOT, 'setup.py')) as f:
        setup_py = f.read()
    assert "'albumentations" in setup_py and "'joblib'" in setup_py
    from mmdet.datasets.transforms import Albu
    t = Albu(transforms=[dict(type='Blur', p=1.0)],
             bbox_params=dict(type='BboxParams', format='pascal_voc',
                              label_fields=['gt_bboxes_labels', 'gt_ignore_flags']),
             keymap={'img': 'image', 'gt_bboxes': 'bboxes'})
    import joblib  # noqa: F401
    assert t is not None


def _mmcv_check_script():
    from conftest import load_script
    return load_script('scripts/check_mmcv_ops.py', 'check_mmcv_ops')


def test_mmcv_check_asks_cuda_only_where_torch_sees_a_gpu(monkeypatch):
    check = _mmcv_check_script()
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    assert check.devices() == ['cpu']
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    assert check.devices() == ['cpu', 'cuda']


@pytest.mark.skipif(torch.cuda.is_available(),
                    reason='checks the refusal on a machine without CUDA')
def test_mmcv_check_refuses_ops_that_do_not_run_on_a_device():
    """The installed mmcv passes on the CPU; asked for CUDA where there is none (as with a wheel
    built without CUDA kernels on a GPU machine), it names the device in its problem, which
    scripts/setup_env.sh prints when it skips a wheel. The script itself checks only the
    devices torch sees, so here it exits 0."""
    check = _mmcv_check_script()
    assert check.problems(['cpu']) == []
    found = check.problems(['cpu', 'cuda'])
    assert len(found) == 1 and found[0].startswith('nms on cuda: ')
    r = subprocess.run([sys.executable, osp.join(ROOT, 'scripts', 'check_mmcv_ops.py')],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    with open(osp.join(ROOT, 'scripts', 'setup_env.sh')) as f:
        setup = f.read()
    assert 'scripts/check_mmcv_ops.py' in setup and '$MMCV_WHY' in setup
