"""tools/benchmark_kd.py: phases on the same batches, the overhead ratio, peak memory."""
import json

import pytest
import torch
from mmengine.config import Config

from conftest import ROOT, options_argv, run_tool, tiny_options

CWD_ATT = 'configs/cwd/cwd-att_fpn_yolov8-s_yolov8-n_1xb8-30e_demo.py'
STUDENT = 'configs/yolov8/yolov8_n_fast_1xb8-30e_demo.py'


def test_overhead_is_distill_over_student_plus_teacher():
    from kd_plugins.benchmark import overhead
    result = dict(student_step=dict(median_s=0.2), teacher_forward=dict(median_s=0.05),
                  distill_step=dict(median_s=0.3))
    assert overhead(result) == pytest.approx(1.2)
    assert overhead(dict(student_step=dict(median_s=0.2))) is None


def _benchmark(tiny_data, config=CWD_ATT):
    from mmengine.registry import DefaultScope
    from mmengine.runner import Runner
    from mmrazor.registry import MODELS

    from kd_plugins.benchmark import Benchmark
    cfg = Config.fromfile(f'{ROOT}/{config}')
    cfg.merge_from_dict(dict(tiny_options(tiny_data, batch_size=2), **{'model.teacher_ckpt': None}))
    with DefaultScope.overwrite_default_scope('mmyolo'):
        model = MODELS.build(cfg.model)
        loader = Runner.build_dataloader(cfg.train_dataloader, seed=0)
        return Benchmark(model, cfg.optim_wrapper, [next(iter(loader))])


def test_each_phase_updates_only_what_it_trains(tiny_data):
    torch.manual_seed(0)
    bench = _benchmark(tiny_data)
    model = bench.model

    def snapshot():
        return {n: p.detach().clone() for n, p in model.named_parameters()}

    def changed(before):
        return {n.split('.')[0] for n, p in model.named_parameters()
                if not torch.equal(p, before[n])}

    before = snapshot()
    bench.run_phase('teacher_forward', bench.batches[0])
    assert changed(before) == set()
    bench.run_phase('student_step', bench.batches[0])
    assert changed(before) == {'architecture'}  # the student; connectors untouched
    before = snapshot()
    bench.run_phase('distill_step', bench.batches[0])
    assert changed(before) == {'architecture', 'distiller'}  # student + connectors, no teacher


def test_steps_leave_the_stored_ground_truth_as_it_was(tiny_data):
    """MMYOLO's YOLOv5 head turns the fast-path ``bboxes_labels`` into normalised xywh in place;
    the benchmark re-uses its pre-processed batches, so each step must get its own copy, or
    every step after the first trains on boxes normalised again and again."""
    torch.manual_seed(0)
    bench = _benchmark(tiny_data, 'configs/cwd/cwd-att_fpn_yolov5-s_yolov5-n_1xb8-30e_demo.py')
    data = bench.batches[0]
    before = data['data_samples']['bboxes_labels'].clone()
    assert before[:, 2:].max() > 1.5  # pixel xyxy
    bench.run_phase('student_step', data)
    bench.run_phase('distill_step', data)
    assert torch.equal(data['data_samples']['bboxes_labels'], before)
    # what the copy guards against: the upstream head on the stored batch itself
    with torch.no_grad():
        bench.student(**data, mode='loss')
    assert data['data_samples']['bboxes_labels'][:, 2:].max() <= 1.0


@pytest.mark.slow
def test_benchmark_tool_reports_every_phase(tiny_data, tmp_path):
    out_json = tmp_path / 'bench.json'
    out = run_tool(['tools/benchmark_kd.py', CWD_ATT, '--iters', '3', '--warmup', '1',
                    '--batch-size', '2', '--random-teacher', '--out', str(out_json),
                    '--profile', '1', '--cfg-options', *options_argv(tiny_options(tiny_data))])
    assert '| (c) distillation step |' in out and 'overhead c / (a + b) = ' in out
    # --profile: the operator table of each step, and the distillation's own ranges
    assert 'student_step: 1 steps profiled' in out and 'distill_step: 1 steps profiled' in out
    assert 'kd ranges (CPU ms per step' in out and 'kd:loss_cwd0' in out
    res = json.loads(out_json.read_text())
    assert res['batch_size'] == 2 and res['device'] == 'cpu'
    phases = res['phases']
    assert set(phases) == {'student_step', 'teacher_forward', 'distill_step'}
    for r in phases.values():
        assert 0 < r['min_s'] <= r['median_s'] <= r['max_s'] and r['iters'] == 3
        assert r['peak_mem_bytes'] > 0
    # Timings depend on what else runs on the machine; memory does not: the distillation step
    # holds the student's activations for backward, the teacher's forward holds none.
    assert phases['distill_step']['peak_mem_bytes'] > phases['teacher_forward']['peak_mem_bytes']
    assert res['overhead'] == pytest.approx(phases['distill_step']['median_s'] / (
        phases['student_step']['median_s'] + phases['teacher_forward']['median_s']))
    # the docs' table from that file
    table = run_tool(['tools/analysis/bench_table.py', str(out_json)])
    row = [line for line in table.splitlines() if CWD_ATT.split('/')[-1][:-3] in line]
    assert len(row) == 1
    cells = [c.strip() for c in row[0].strip('|').split('|')]
    assert cells[1:5] == ['cpu', '2', 'fp32', res['precision']['teacher_forward']]
    assert float(cells[8]) == pytest.approx(res['overhead'], abs=0.006)
    assert float(cells[7]) == pytest.approx(phases['distill_step']['median_s'], abs=6e-4)
    assert float(cells[9]) == pytest.approx(res['distill_over_student'], abs=0.006)


def test_benchmark_tool_precisions(tiny_data, tmp_path, monkeypatch):
    """--teacher-precision and --amp on CPU: what ran in which precision, in the output and
    the JSON."""
    from kd_plugins.engine.precision import EMULATED_BF16_ENV, cpu_bf16_support
    monkeypatch.setenv(EMULATED_BF16_ENV, '1')  # also where the CPU has no bf16 instructions
    out_json = tmp_path / 'bench.json'
    out = run_tool(['tools/benchmark_kd.py', CWD_ATT, '--iters', '1', '--warmup', '0',
                    '--batch-size', '2', '--random-teacher', '--no-memory', '--amp',
                    '--teacher-precision', 'bf16', '--out', str(out_json), '--cfg-options',
                    *options_argv(tiny_options(tiny_data))])
    res = json.loads(out_json.read_text())
    teacher = 'bf16 autocast + channels_last'  # an explicit bf16 teacher: in channels_last
    assert res['precision'] == {'student_step': 'bf16 autocast', 'teacher_forward': teacher,
                                'distill_step': f'student bf16 autocast, teacher {teacher}'}
    assert res['cpu_bf16'] == cpu_bf16_support() and res['amp'] is True
    assert f'CPU bf16 support: {cpu_bf16_support()}' in out
    assert f'| (b) teacher forward | {teacher} |' in out and 'c / a = ' in out
    assert res['distill_over_student'] == pytest.approx(
        res['phases']['distill_step']['median_s'] / res['phases']['student_step']['median_s'])


def test_benchmark_tool_times_a_plain_detector(tiny_data):
    out = run_tool(['tools/benchmark_kd.py', STUDENT, '--iters', '1', '--warmup', '0',
                    '--batch-size', '2', '--no-memory', '--cfg-options',
                    *options_argv(tiny_options(tiny_data))])
    assert '| (a) student step |' in out and 'not measured' in out
    assert 'teacher forward' not in out and 'overhead' not in out
