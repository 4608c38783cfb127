"""Low precision: the teacher's forward in bf16, and mixed-precision (--amp) training on CPU."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmrazor.registry import MODELS

from conftest import (CWD, CWD_ATT, ROOT, distillation_and_batch, load_script, logged,
                      options_argv, run_tool, save_model, tiny_config, tiny_options)
from kd_plugins.engine.precision import EMULATED_BF16_ENV

LD_V5 = 'configs/ld/ld_yolov5-s_yolov5-n_1xb8-30e_demo.py'
LD_V8 = 'configs/ld/ld_yolov8-s_yolov8-n_1xb8-30e_demo.py'
V5_LD_N = 'configs/yolov5/yolov5_n-ld-v61_fast_1xb8-30e_demo.py'
# one config per shipped loss family
FAMILIES = {'cwd': CWD, 'cwd_att': CWD_ATT, 'ld_yolov5': LD_V5, 'ld_yolov8': LD_V8}
# |bf16 teacher - fp32 teacher| / fp32 teacher, per distillation loss, on one batch. bf16 keeps
# 8 bits of mantissa (relative rounding 2^-9 = 0.2 % per value); the teacher's recorded outputs
# differ from fp32 by up to a few % of their largest value, but the losses, sums over thousands
# of terms whose rounding errors cancel, differed by at most 3e-5 (relative) on these batches.
# The stated tolerance is 1e-3: a teacher computed wrongly (a stale record, a wrong layout, a
# record left in bf16 where fp32 is expected) is off by far more.
RTOL = 1e-3


def _distill_losses(model, data, precision):
    """The losses of one step with the teacher in ``precision``, and what the teacher's
    recorders handed to the losses."""
    model.teacher_precision = precision
    model._teacher_precision_on = None  # resolve again
    model.zero_grad(set_to_none=True)
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope('mmyolo'):
        losses = model.loss(data['inputs'], data['data_samples'])
    records = [t.detach().clone() for rec in model.distiller.teacher_recorders.recorders.values()
               for t in torch.utils._pytree.tree_leaves(rec.data_buffer)
               if isinstance(t, torch.Tensor) and t.is_floating_point()]
    return losses, records


@pytest.mark.parametrize('family', list(FAMILIES))
def test_bf16_teacher_gives_the_fp32_teacher_losses(family, tiny_data, tmp_path):
    model, data = distillation_and_batch(FAMILIES[family], tiny_data, tmp_path)
    ref, ref_records = _distill_losses(model, data, 'fp32')
    ref = {k: v.detach().clone() for k, v in ref.items()}
    losses, records = _distill_losses(model, data, 'bf16')
    assert model.resolved_teacher_precision('cpu') == 'bf16'
    # the teacher ran in bf16 (channels_last weights): what it recorded is rounded, by bf16's
    # rounding only, and reached the losses as ordinary fp32 tensors
    assert model.teacher.backbone.stem.conv.weight.is_contiguous(
        memory_format=torch.channels_last)
    assert len(records) == len(ref_records) > 0
    for low, exact in zip(records, ref_records):
        assert low.dtype == torch.float32 and low.is_contiguous()
        err = float((low - exact).abs().max() / exact.abs().max())
        assert 1e-5 < err < 0.05, err
    distill = [k for k in ref if k.startswith('distill.')]
    assert distill
    for k in distill:
        assert losses[k].dtype == torch.float32
        assert ref[k] > 0
        rel = float((losses[k].detach() - ref[k]).abs() / ref[k])
        assert rel < RTOL, (k, float(ref[k]), float(losses[k]), rel)
    # the student's own losses do not depend on the teacher at all
    for k in ref:
        if k.startswith('student.'):
            assert torch.allclose(losses[k], ref[k], rtol=1e-5), k
    # gradients reach the student and the connectors, in fp32, and never the teacher
    total = sum(v for k, v in losses.items() if 'loss' in k)
    total.backward()
    assert all(p.grad is None for p in model.teacher.parameters())
    grads = [p.grad for p in model.student.parameters() if p.grad is not None]
    grads += [p.grad for p in model.distiller.parameters() if p.grad is not None]
    assert grads and all(g.dtype == torch.float32 for g in grads)
    assert any(g.abs().sum() > 0 for g in grads)
    if family.startswith('cwd'):  # the projectors (and attentions) learn
        assert all(p.grad is not None for p in model.distiller.parameters() if p.requires_grad)


def test_bf16_teacher_is_what_the_fp32_teacher_computes():
    """A bf16 teacher forward hands back fp32 tensors within bf16's rounding of fp32's."""
    from kd_plugins.engine.precision import autocast, to_fp32
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 16, 3, padding=1), torch.nn.BatchNorm2d(16),
                              torch.nn.SiLU(), torch.nn.Conv2d(16, 8, 3, padding=1)).eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        ref = net(x)
        with autocast('cpu', 'bf16'):
            low = net.to(memory_format=torch.channels_last)(
                x.contiguous(memory_format=torch.channels_last))
    assert low.dtype == torch.bfloat16
    out = to_fp32((low, [low]), contiguous=True)
    assert out[0].dtype == torch.float32 and out[0].is_contiguous()
    assert out[1][0].dtype == torch.float32
    err = (out[0] - ref).abs().max() / ref.abs().max()
    assert 1e-5 < err < 2e-2  # rounded (so it did run in bf16), but only by bf16's rounding
    # 'fp32' switches an enclosing autocast off
    with torch.no_grad(), torch.autocast('cpu', dtype=torch.bfloat16), autocast('cpu', 'fp32'):
        assert net(x).dtype == torch.float32


def test_precision_choice(monkeypatch):
    from kd_plugins.engine import precision
    cpu = torch.device('cpu')
    assert precision.resolve_precision('fp32', cpu) == 'fp32'
    assert precision.resolve_precision('bf16', cpu) == 'bf16'
    monkeypatch.setattr(precision, 'cpu_bf16_support', lambda: 'avx512_bf16')
    assert precision.resolve_precision('auto', cpu) == 'bf16'  # a candidate: see the next test
    monkeypatch.setattr(precision, 'cpu_bf16_support', lambda: 'none')
    assert precision.resolve_precision('auto', cpu) == 'fp32'
    with pytest.raises(ValueError, match="'fp16' is for CUDA devices; on a CPU use 'bf16'"):
        precision.resolve_precision('fp16', cpu)
    with pytest.raises(ValueError, match='precision must be one of'):
        precision.resolve_precision('int8', cpu)
    with pytest.raises(ValueError, match='teacher_precision must be one of'):
        MODELS.build(dict(Config.fromfile(osp.join(ROOT, CWD)).model, teacher_ckpt=None,
                          teacher_precision='half'))


def test_median_times_interleaves_and_takes_the_medians():
    import time

    from kd_plugins.engine.precision import median_times
    calls = []

    def sleeper(name, seconds):
        def run():
            calls.append(name)
            time.sleep(seconds)
        return run

    times = median_times({'slow': sleeper('slow', 0.02), 'fast': sleeper('fast', 0.01)},
                         rounds=3)
    assert calls == ['slow', 'fast'] * 4  # one untimed round, then three, interleaved
    assert 0.019 < times['slow'] < 0.04 and 0.009 < times['fast'] < 0.02
    assert 1.4 < times['slow'] / times['fast'] < 2.2


@pytest.mark.parametrize('times,expected', [
    ((1.0, 1.0, 1.0), 'fp32'),
    ((1.0, 0.96, 0.88), 'fp32'),  # layout 1.04x < 1.05, bf16 1.14x < 1.15
    ((1.0, 0.96, 0.86), 'bf16'),  # the layout not taken, bf16 1.16x over fp32 is
    ((1.0, 0.9, 0.8), 'cl'),  # layout 1.11x; bf16 only 1.125x over the layout
    ((1.0, 0.9, 0.78), 'bf16'),  # bf16 1.154x over the layout
    ((1.0, 1.1, 0.86), 'bf16'),  # a slower layout is skipped; bf16 1.16x over fp32
    ((1.0, 0.5, 0.1), 'bf16')])
def test_pick_fastest_needs_a_margin_over_what_it_replaces(times, expected):
    from kd_plugins.engine.precision import MIN_LAYOUT_SPEEDUP, pick_fastest
    names = ('fp32', 'cl', 'bf16')
    assert pick_fastest(dict(zip(names, times)), names, {'cl': MIN_LAYOUT_SPEEDUP}) == expected
    # one margin for all (the default): the layout needs 1.15x too
    assert pick_fastest(dict(zip(names, (1.0, 0.9, 0.95))), names) == 'fp32'


TEACHER_WAYS = ('fp32', 'fp32 + channels_last', 'bf16 + channels_last')


@pytest.mark.parametrize('times,expected', [
    ((1.0, 1.0, 1.0), ('fp32', False)),
    ((1.0, 0.98, 0.9), ('fp32', False)),
    ((1.0, 0.7, 0.65), ('fp32', True)),
    ((1.0, 0.9, 0.5), ('bf16', True))])
def test_auto_teacher_precision_takes_the_way_that_timed_fastest(
        times, expected, tiny_data, tmp_path, monkeypatch):
    """'auto' on a CPU with bf16 instructions times the teacher's forward on the first batch
    in fp32, fp32 + channels_last and bf16 + channels_last (here the timing is replaced by
    ``times``) and takes the fastest with a margin; the timed forwards are not recorded, the
    teacher ends in the chosen layout, and fp32 in either layout hands the losses fp32's
    records."""
    from kd_plugins.engine import precision
    from kd_plugins.models.algorithms import yolo_teacher_distill as algo
    model, data = distillation_and_batch(CWD, tiny_data, tmp_path)
    monkeypatch.setattr(precision, 'cpu_bf16_support', lambda: 'avx512_bf16')
    ran = []

    def fake_median_times(fns):
        assert tuple(fns) == TEACHER_WAYS
        for fn in fns.values():
            fn()
        ran.append(1)
        return dict(zip(TEACHER_WAYS, times))

    monkeypatch.setattr(algo, 'median_times', fake_median_times)
    rng = torch.get_rng_state()
    fp32_losses, fp32_records = _distill_losses(model, data, 'fp32')
    assert not ran  # an explicit precision is never timed
    torch.set_rng_state(rng)
    losses, records = _distill_losses(model, data, 'auto')
    assert ran == [1]
    assert model._teacher_precision_on == ('cpu', *expected)
    assert model.teacher_channels_last is expected[1]
    assert model.teacher.backbone.stem.conv.weight.is_contiguous(
        memory_format=torch.channels_last) is expected[1]
    # one record per recorder, as in the fp32 step: the timed forwards left nothing behind
    assert len(records) == len(fp32_records)
    for rec in model.distiller.teacher_recorders.recorders.values():
        assert len(rec.data_buffer) == 1
    assert all(r.is_contiguous() and r.dtype == torch.float32 for r in records)
    if expected == ('fp32', False):  # identical to the explicit fp32 step, bit for bit
        assert all(torch.equal(a, b) for a, b in zip(records, fp32_records))
    elif expected == ('fp32', True):  # the same arithmetic in another order
        assert all(torch.allclose(a, b, rtol=1e-4, atol=1e-5)
                   for a, b in zip(records, fp32_records))
        for k, v in fp32_losses.items():
            if k.startswith('distill'):
                assert torch.allclose(losses[k], v, rtol=1e-4), k
    _distill_losses(model, data, 'auto')
    assert ran == [1, 1]  # _distill_losses resets the choice; a second step of one run is
    model.loss(data['inputs'], data['data_samples'])  # not timed again:
    assert ran == [1, 1]


def test_auto_teacher_precision_without_bf16_times_the_layouts_only(
        tiny_data, tmp_path, monkeypatch):
    from kd_plugins.engine import precision
    from kd_plugins.models.algorithms import yolo_teacher_distill as algo
    model, data = distillation_and_batch(CWD, tiny_data, tmp_path)
    monkeypatch.setattr(precision, 'cpu_bf16_support', lambda: 'none')
    monkeypatch.setattr(algo, 'cpu_bf16_support', lambda: 'none')
    timed = []
    monkeypatch.setattr(algo, 'median_times', lambda fns: timed.append(tuple(fns)) or {
        'fp32': 1.0, 'fp32 + channels_last': 0.5})
    _distill_losses(model, data, 'auto')
    assert timed == [('fp32', 'fp32 + channels_last')]
    assert model._teacher_precision_on == ('cpu', 'fp32', True)


def test_auto_teacher_precision_in_deterministic_mode_is_plain_fp32_untimed(
        tiny_data, tmp_path, monkeypatch):
    """A timed choice could differ between a run and its resumption, so deterministic mode
    (MMEngine's randomness.deterministic=True) gets fp32 in the ordinary layout, untimed."""
    from kd_plugins.models.algorithms import yolo_teacher_distill as algo
    model, data = distillation_and_batch(CWD, tiny_data, tmp_path)
    timed = []
    monkeypatch.setattr(algo, 'median_times', lambda fns: timed.append(1) or {
        name: 1.0 / (i + 1) for i, name in enumerate(fns)})  # every other way "faster"
    before = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True)
    try:
        _distill_losses(model, data, 'auto')
    finally:
        torch.use_deterministic_algorithms(before)
    assert not timed and model._teacher_precision_on == ('cpu', 'fp32', False)
    _distill_losses(model, data, 'auto')  # not deterministic: timed, the fastest taken
    assert timed == [1] and model._teacher_precision_on[2] is True


def test_teacher_is_timed_on_a_copy(tiny_data, tmp_path):
    model, data = distillation_and_batch(CWD, tiny_data, tmp_path)
    before = {k: v.clone() for k, v in model.teacher.state_dict().items()}
    ways = {'fp32': ('fp32', False), 'fp32 + channels_last': ('fp32', True),
            'bf16 + channels_last': ('bf16', True)}
    times = model._time_teacher(data['inputs'], ways)
    assert set(times) == set(ways) and all(0 < t < 30 for t in times.values())
    weight = model.teacher.backbone.stem.conv.weight
    assert weight.is_contiguous() and weight.grad is None
    assert all(torch.equal(v, before[k]) for k, v in model.teacher.state_dict().items())
    assert all(not rec.data_buffer
               for rec in model.distiller.teacher_recorders.recorders.values())


def test_teacher_precision_is_logged_once(tiny_data, tmp_path):
    cfg = Config.fromfile(osp.join(ROOT, CWD))
    teacher = str(tmp_path / 'teacher.pth')
    save_model(cfg.model.teacher.cfg_path, teacher)
    work = tmp_path / 'work'
    out = run_tool(['tools/train.py', tiny_config(CWD, tiny_data, teacher, tmp_path),
                    '--work-dir', str(work), '--cfg-options', 'model.teacher_precision=bf16'])
    assert out.count('teacher forward on cpu: bf16 autocast + channels_last') == 1
    assert all(v > 0 for v in logged(work, 'distill.loss_cwd0'))


# --- mixed-precision training on CPU (--amp) -------------------------------------------------

def test_amp_wrapper_runs_the_forward_in_bf16_and_keeps_fp32_where_it_matters(monkeypatch):
    from mmengine.optim import build_optim_wrapper
    from mmyolo.registry import MODELS as YOLO
    from mmyolo.utils import register_all_modules
    register_all_modules()
    cfg = Config.fromfile(osp.join(ROOT, V5_LD_N))
    torch.manual_seed(0)
    model = YOLO.build(cfg.model).train()
    monkeypatch.setenv(EMULATED_BF16_ENV, '1')  # the same computation on a CPU without bf16
    wrapper = build_optim_wrapper(model, dict(cfg.optim_wrapper, type='CPUAmpOptimWrapper'))
    # the runner builds the wrapper first, then EMAHook creates the EMA (before_run); MMYOLO's
    # EMA keeps references to the model's tensors from then on, so they must stay the trained
    # ones (a layout change after this point left the EMA averaging the initial weights)
    from mmyolo.models.layers import ExpMomentumEMA
    ema = ExpMomentumEMA(model, update_buffers=True)  # as the configs set it
    initial = {k: v.clone() for k, v in model.state_dict().items()}
    seen = {}
    head = type(model.bbox_head)
    real = head.loss_by_feat

    def spy(self, *args, **kwargs):  # sees what the head's loss computation is given
        seen['inputs'] = [t.dtype for t in torch.utils._pytree.tree_leaves(args)
                          if isinstance(t, torch.Tensor)]
        seen['autocast'] = torch.is_autocast_cpu_enabled() if hasattr(
            torch, 'is_autocast_cpu_enabled') else torch.is_autocast_enabled('cpu')
        return real(self, *args, **kwargs)

    conv_out = {}

    def dtype_of_output(module, inputs, output):
        conv_out['dtype'] = output.dtype  # (a hook that returns nothing keeps the output)

    hook = model.backbone.stem.register_forward_hook(dtype_of_output)
    x = torch.rand(2, 3, 64, 64)
    gt = torch.tensor([[0, 0, 10., 10., 40., 40.], [1, 1, 5., 5., 30., 50.]])
    samples = dict(bboxes_labels=gt, img_metas=[dict(batch_input_shape=(64, 64))] * 2)
    head.loss_by_feat = spy
    try:
        with wrapper.optim_context(model):
            losses = model(x, samples, mode='loss')
    finally:
        head.loss_by_feat = real
        hook.remove()
    loss, _ = model.parse_losses(losses)
    wrapper.update_params(loss)
    ema.update_parameters(model)  # its first update copies the model
    trained = model.state_dict()
    assert not torch.equal(trained['backbone.stem.conv.weight'],
                           initial['backbone.stem.conv.weight'])
    for k, v in ema.module.state_dict().items():
        assert torch.equal(v, trained[k]), k
    assert conv_out['dtype'] == torch.bfloat16  # the network ran in bf16
    assert seen['inputs'] and set(seen['inputs']) == {torch.float32}  # the loss in fp32
    assert seen['autocast'] is False
    assert loss.dtype == torch.float32 and torch.isfinite(loss)
    assert all(p.dtype == torch.float32 for p in model.parameters())
    assert model.backbone.stem.conv.weight.is_contiguous(memory_format=torch.channels_last)
    state = wrapper.state_dict()['state']
    assert state and all(v['momentum_buffer'].dtype == torch.float32 for v in state.values())
    # the deep copy an EMA makes binds the fp32 loss to the copy, not to the original
    import copy
    twin = copy.deepcopy(model)
    assert twin.bbox_head.loss_by_feat.__self__ is twin.bbox_head


def test_amp_on_a_cpu_without_bf16_says_so(monkeypatch, tmp_path):
    from mmengine.optim import build_optim_wrapper

    from kd_plugins.engine import NoNativeBF16Error, optim_wrapper, precision
    from kd_plugins.utils import enable_amp
    monkeypatch.delenv(EMULATED_BF16_ENV, raising=False)
    monkeypatch.setattr(precision, 'cpu_bf16_support', lambda: 'none')
    monkeypatch.setattr(optim_wrapper, 'cpu_bf16_support', lambda: 'none')
    net = torch.nn.Linear(2, 2)
    wrapper_cfg = dict(type='CPUAmpOptimWrapper', optimizer=dict(type='SGD', lr=0.1))
    with pytest.raises(NoNativeBF16Error, match='no bf16 instructions .* Train without --amp'), \
            DefaultScope.overwrite_default_scope('mmyolo'):  # registered in MMYOLO's registry
        build_optim_wrapper(net, wrapper_cfg)
    cfg = Config(dict(optim_wrapper=dict(type='OptimWrapper', optimizer=dict(type='SGD'))))
    with pytest.raises(SystemExit, match='--amp on this CPU: it has no bf16 instructions'):
        enable_amp(cfg, 'cpu')
    # asked for by name, emulated bf16 runs (for checking the code path); only '1' asks
    monkeypatch.setenv(EMULATED_BF16_ENV, 'yes')
    with pytest.raises(SystemExit, match=f'{EMULATED_BF16_ENV}=1 runs it anyway'):
        enable_amp(cfg, 'cpu')
    monkeypatch.setenv(EMULATED_BF16_ENV, '1')
    assert enable_amp(cfg, 'cpu') == 'CPUAmpOptimWrapper'
    with DefaultScope.overwrite_default_scope('mmyolo'):
        assert type(build_optim_wrapper(net, wrapper_cfg)).__name__ == 'CPUAmpOptimWrapper'
    assert not precision.cpu_has_native_bf16()  # what 'auto' and --precision fastest go by
    cfg = Config(dict(optim_wrapper=dict(type='OptimWrapper', optimizer=dict(type='SGD'))))
    assert enable_amp(cfg, 'cuda') == 'AmpOptimWrapper'
    assert cfg.optim_wrapper.loss_scale == 'dynamic'
    # a lower starting scale from the command line (docs/troubleshooting.md) is kept
    cfg = Config(dict(optim_wrapper=dict(type='OptimWrapper', optimizer=dict(type='SGD'))))
    cfg.merge_from_dict({'optim_wrapper.loss_scale.init_scale': 256.})
    assert enable_amp(cfg, 'cuda') == 'AmpOptimWrapper'
    assert cfg.optim_wrapper.loss_scale == dict(init_scale=256.)  # AmpOptimWrapper: GradScaler(**)


# --- channels_last training and the timed choice of how each model trains --------------------
def _step(wrapper_type, seed=0):
    """One SGD step of YOLOv5-N (LD head) on a fixed batch with ``wrapper_type``, an EMA made
    after the wrapper as the runner makes it; returns (model, ema, initial weights)."""
    from mmengine.optim import build_optim_wrapper
    from mmyolo.models.layers import ExpMomentumEMA
    from mmyolo.registry import MODELS as YOLO
    from mmyolo.utils import register_all_modules
    register_all_modules()
    cfg = Config.fromfile(osp.join(ROOT, V5_LD_N))
    torch.manual_seed(seed)
    model = YOLO.build(cfg.model).train()
    wrapper = build_optim_wrapper(model, dict(cfg.optim_wrapper, type=wrapper_type))
    ema = ExpMomentumEMA(model, update_buffers=True)
    initial = {k: v.clone() for k, v in model.state_dict().items()}
    x = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    gt = torch.tensor([[0, 0, 10., 10., 40., 40.], [1, 1, 5., 5., 30., 50.]])
    samples = dict(bboxes_labels=gt, img_metas=[dict(batch_input_shape=(64, 64))] * 2)
    with wrapper.optim_context(model):
        loss, _ = model.parse_losses(model(x, samples, mode='loss'))
    wrapper.update_params(loss)
    ema.update_parameters(model)
    return model, ema, initial, wrapper


def test_channels_last_wrapper_trains_what_the_ordinary_one_trains():
    """ChannelsLastOptimWrapper: the same step as OptimWrapper's up to the order of fp32 sums,
    the trained convolution weights (and their optimiser state) in channels_last, an EMA made
    after the wrapper averaging the trained tensors."""
    plain, _, initial, _ = _step('OptimWrapper')
    last, ema, _, wrapper = _step('ChannelsLastOptimWrapper')
    assert wrapper.layout == 'channels_last'
    weight = last.backbone.stem.conv.weight
    assert weight.is_contiguous(memory_format=torch.channels_last) and not weight.is_contiguous()
    # the gradient took the weight's layout, and so did the momentum built from it
    assert wrapper.optimizer.state[weight]['momentum_buffer'].is_contiguous(
        memory_format=torch.channels_last)
    assert plain.backbone.stem.conv.weight.is_contiguous()
    # each tensor's update within 2 % of its largest value (fp32 sums in another order: 0.7 %
    # at most here); a weight read in the wrong layout would be off by 100 % or more
    ours, theirs = last.state_dict(), plain.state_dict()
    moved = 0
    for k, v in theirs.items():
        step = v.double() - initial[k].double()
        if v.is_floating_point() and step.abs().max() > 0:
            moved += 1
            ours_step = ours[k].double() - initial[k].double()
            assert (ours_step - step).abs().max() <= 0.02 * step.abs().max(), k
        else:
            assert torch.equal(ours[k], v), k
    assert moved > 300  # the step changed the weights, so the comparison compares something
    for k, v in ema.module.state_dict().items():
        assert torch.equal(v, ours[k]), k


def test_channels_last_wrapper_leaves_the_frozen_teacher_to_its_precision(tiny_data, tmp_path):
    """On a distillation the wrapper moves the student's (and connectors') weights only: the
    teacher's layout is teacher_precision's choice, and 'auto' times it unmoved."""
    from mmengine.optim import build_optim_wrapper
    model, _ = distillation_and_batch(CWD, tiny_data, tmp_path)
    cfg = Config.fromfile(osp.join(ROOT, CWD))
    build_optim_wrapper(model, dict(cfg.optim_wrapper, type='ChannelsLastOptimWrapper'))
    assert model.student.backbone.stem.conv.weight.is_contiguous(
        memory_format=torch.channels_last)
    assert all(p.is_contiguous() for p in model.teacher.parameters())
    assert model.distiller.connectors['s0'].proj.conv.weight.is_contiguous(
        memory_format=torch.channels_last)


def test_enable_channels_last_switches_only_what_it_can():
    from kd_plugins.utils import enable_channels_last

    def cfg(t):
        return Config(dict(optim_wrapper=dict(type=t, optimizer=dict(type='SGD'))))

    plain = cfg('OptimWrapper')
    assert enable_channels_last(plain) == 'ChannelsLastOptimWrapper'
    assert plain.optim_wrapper.type == 'ChannelsLastOptimWrapper'
    amp = cfg('CPUAmpOptimWrapper')  # --amp on a CPU trains in channels_last already
    assert enable_channels_last(amp) == 'CPUAmpOptimWrapper'
    with pytest.raises(SystemExit, match='--channels-last works with optim_wrapper.type=Opt'):
        enable_channels_last(cfg('AmpOptimWrapper'))


def test_time_training_ways_times_each_way_this_cpu_offers(monkeypatch):
    from kd_plugins import benchmark
    from kd_plugins.engine import precision
    model = Config.fromfile(osp.join(ROOT, V5_LD_N)).model
    monkeypatch.setattr(precision, 'cpu_bf16_support', lambda: 'avx512_bf16')
    times = benchmark.time_training_ways(model, 2, 64, rounds=1)
    assert list(times) == list(benchmark.TRAINING_WAYS)
    assert all(0 < t < 30 for t in times.values())
    assert list(benchmark.time_training_ways(model, 2, 64, bf16=False, rounds=1)) == [
        'fp32', 'fp32 + channels_last']
    monkeypatch.setattr(precision, 'cpu_bf16_support', lambda: 'none')
    assert len(benchmark.time_training_ways(model, 2, 64, rounds=1)) == 2


def _distill_tool():
    return load_script('tools/distill.py', 'distill_tool')


@pytest.mark.parametrize('precision,times,teacher_ckpt,expected', [
    # 'auto' times fp32 in both layouts, 'fastest' bf16 too; per model, with a margin
    ('auto', {'s': (1.0, 0.8), 'n': (1.0, 0.97)}, None,
     {'teacher': ['--channels-last'], 'student': []}),
    ('fastest', {'s': (1.0, 0.8, 0.5), 'n': (1.0, 0.8, 0.75)}, None,
     {'teacher': ['--amp'], 'student': ['--channels-last']}),
    ('fastest', {'n': (1.0, 0.99, 0.8)}, 'given.pth', {'student': ['--amp']}),  # no teacher
    ('teacher', {}, None, {}), ('fp32', {}, None, {}),
    ('amp', {}, None, {'teacher': ['--amp'], 'student': ['--amp']})])
def test_distill_tool_trains_each_model_in_the_way_that_timed_fastest(
        precision, times, teacher_ckpt, expected, monkeypatch, tmp_path):
    from kd_plugins import benchmark
    from kd_plugins.engine import precision as prec
    tool = _distill_tool()
    if teacher_ckpt:
        (tmp_path / teacher_ckpt).write_bytes(b'')
    monkeypatch.setattr(prec, 'cpu_bf16_support', lambda: 'avx512_bf16')
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    timed = []

    def fake(model, batch_size, img_size, bf16=True):
        size = 's' if model.backbone.widen_factor == 0.5 else 'n'
        assert (batch_size, img_size) == (8, 256)
        timed.append((size, bf16))
        return dict(zip(benchmark.TRAINING_WAYS, times[size]))

    monkeypatch.setattr(benchmark, 'time_training_ways', fake)
    args = tool.parse_args([str(tmp_path), '--family', 'yolov5', '--teacher', 's', '--student', 'n',
                            '--img-size', '256', '--precision', precision] +
                           (['--teacher-ckpt', str(tmp_path / teacher_ckpt)] if teacher_ckpt
                            else []))
    configs = {'teacher': osp.join(ROOT, 'configs/yolov5/yolov5_s-ld-v61_fast_1xb8-30e_demo.py'),
               'baseline': osp.join(ROOT, V5_LD_N)}
    words, flags = tool.training_plan(args, configs)
    assert flags == expected
    assert [size for size, _ in timed] == list(times)
    assert all(bf16 is (precision == 'fastest') for _, bf16 in timed)
    if timed:  # the timings and the choice in the words of the console and the report
        assert f"'{precision}' training" in words
        assert words.count(' ms, fp32 + channels_last ') == len(timed)
        if 'teacher' in expected:
            way = {'--amp': 'bf16 autocast', '--channels-last': 'fp32 + channels_last'}
            assert f"teacher YOLOv5-S {way[expected['teacher'][0]]}" in words


@pytest.mark.slow
def test_amp_training_of_a_detector_then_resume(tiny_data, tmp_path, monkeypatch):
    """tools/train.py --amp on CPU trains and validates; the checkpoint is all fp32; --resume
    of that run continues it."""
    monkeypatch.setenv(EMULATED_BF16_ENV, '1')  # also where the CPU has no bf16 instructions
    opts = tiny_options(tiny_data, epochs=2)
    work = tmp_path / 'work'
    first = dict(opts, **{'train_cfg.max_epochs': 1})
    out = run_tool(['tools/train.py', V5_LD_N, '--work-dir', str(work), '--amp',
                    '--cfg-options', *options_argv(first)])
    assert '--amp on cpu: CPUAmpOptimWrapper (bf16' in out
    assert 'mixed precision on CPU' in out and 'Epoch(train) [1][2/2]' in out
    assert len(logged(work, 'coco/bbox_mAP')) == 1
    from kd_plugins.compat import safe_torch_load
    ckpt = safe_torch_load(str(work / 'epoch_1.pth'))
    for key in ('state_dict', 'ema_state_dict'):
        tensors = [v for v in ckpt[key].values() if v.is_floating_point()]
        assert tensors and all(v.dtype == torch.float32 for v in tensors), key
    assert 'loss_scaler' not in ckpt['optimizer']
    out = run_tool(['tools/train.py', V5_LD_N, '--work-dir', str(work), '--amp', '--resume',
                    '--cfg-options', *options_argv(opts)])
    assert 'resumed epoch: 1, iter: 2' in out and 'Epoch(train) [2][2/2]' in out
    losses = logged(work, 'loss')  # both launches: 2 iterations each
    assert len(losses) == 4 and all(torch.isfinite(torch.tensor(losses)))


@pytest.mark.slow
def test_channels_last_training_then_resume_without_it(tiny_data, tmp_path):
    """tools/train.py --channels-last trains and validates; its checkpoint resumes in the
    ordinary layout."""
    opts = tiny_options(tiny_data, epochs=2)
    work = tmp_path / 'work'
    out = run_tool(['tools/train.py', V5_LD_N, '--work-dir', str(work), '--channels-last',
                    '--cfg-options', *options_argv(dict(opts, **{'train_cfg.max_epochs': 1}))])
    assert 'trained convolution weights in channels_last, fp32' in out
    assert len(logged(work, 'coco/bbox_mAP')) == 1
    out = run_tool(['tools/train.py', V5_LD_N, '--work-dir', str(work), '--resume',
                    '--cfg-options', *options_argv(opts)])
    assert 'resumed epoch: 1, iter: 2' in out and 'Epoch(train) [2][2/2]' in out
    assert 'trained convolution weights in' not in out
    losses = logged(work, 'loss')  # both launches: 2 iterations each
    assert len(losses) == 4 and all(torch.isfinite(torch.tensor(losses)))


@pytest.mark.slow
def test_precision_parity_tool(tiny_data, tmp_path, monkeypatch):
    """tools/analysis/precision_parity.py: the same seed and schedule per precision, a table
    with the difference to the fp32 run."""
    import csv
    monkeypatch.setenv(EMULATED_BF16_ENV, '1')  # also where the CPU has no bf16 instructions
    teacher = str(tmp_path / 'teacher.pth')
    save_model('configs/yolov5/yolov5_s-ld-v61_fast_1xb8-30e_demo.py', teacher)
    out = tmp_path / 'parity'
    text = run_tool(['tools/analysis/precision_parity.py', LD_V5, '--teacher-ckpt', teacher,
                     '--data', tiny_data, '--epochs', '1', '--batch-size', '4',
                     '--out', str(out), '--modes', 'fp32', 'amp'])
    assert text.count('model.teacher_precision=fp32') == 1
    assert text.count('model.teacher_precision=bf16') == 1
    assert text.count(' --amp --cfg-options') == 1  # the command line of the amp run
    with open(out / 'parity.csv') as f:
        rows = list(csv.DictReader(f))
    assert [r['run'] for r in rows] == ['fp32', 'amp']
    assert rows[0]['d_mAP50-95_points'] == '0.0'
    d = 100 * (float(rows[1]['mAP50-95']) - float(rows[0]['mAP50-95']))
    assert float(rows[1]['d_mAP50-95_points']) == pytest.approx(d, abs=0.11)
    # the training logs (the tool's children write to its output): one run in bf16 autocast
    assert text.count('mixed precision on CPU') == 1
    assert text.count('teacher forward on cpu: fp32') == 1
    assert text.count('teacher forward on cpu: bf16') == 1
