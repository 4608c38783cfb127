"""Feed each bad input of docs/troubleshooting.md to kd_plugins once and print the message it
gives, as a markdown table (first 300 characters of each message):

    python tests/helpers/bad_inputs.py > bad_inputs.md

The tests assert these messages; this prints them side by side for a review or a report.
Runs in about a minute on a CPU (no training).
"""
import contextlib
import io
import json
import os
import os.path as osp
import sys
import tempfile

HERE = osp.dirname(osp.abspath(__file__))
TESTS = osp.dirname(HERE)
# the test modules it borrows from (their folders first: tests/test_datasets/ holds
# test_datasets.py), tests/ (conftest) and the repository
sys.path[:0] = [osp.join(TESTS, 'test_datasets'), osp.join(TESTS, 'test_models', 'test_algorithms'),
                TESTS, osp.dirname(TESTS)]


def main():
    import torch
    from mmengine.config import Config
    from mmrazor.registry import MODELS
    from mmyolo.utils import register_all_modules
    from test_compat import _RunsCode

    import kd_plugins  # noqa: F401
    from conftest import ROOT, STUDENT, TEACHER, save_model
    from kd_plugins.models import (KDChannelWiseDivergence, KDLocalizationDistillLoss,
                                   KDYOLOv5ClsKDLoss)
    from test_datasets import _load, bad_set
    from test_distill import _algorithm, _Toy, _toy_distiller
    register_all_modules()
    tmp = tempfile.mkdtemp()
    teacher = osp.join(tmp, 'teacher.pth')
    save_model(TEACHER, teacher)

    def truncated():
        path = osp.join(tmp, 'truncated.pth')
        data = open(teacher, 'rb').read()
        open(path, 'wb').write(data[:len(data) // 3])
        _algorithm(path)

    def text_file():
        path = osp.join(tmp, 'notes.pth')
        open(path, 'w').write('teacher: see the shared drive\n')
        _algorithm(path)

    def crafted():
        path = osp.join(tmp, 'evil.pth')
        torch.save({'state_dict': {}, 'evil': _RunsCode(osp.join(tmp, 'pwned'))}, path)
        _algorithm(path)

    def other_architecture():
        path = osp.join(tmp, 'yolov8n.pth')
        save_model(STUDENT, path)
        _algorithm(path)

    def checkpoint_other_classes():
        cfg = Config.fromfile(f'{ROOT}/{TEACHER}')
        cfg.model.bbox_head.head_module.num_classes = 80
        dumped = osp.join(tmp, 'teacher80.py')
        cfg.dump(dumped)
        path = osp.join(tmp, 'teacher80.pth')
        save_model(dumped, path)
        _algorithm(path)

    def teacher_other_classes():
        cfg = Config.fromfile(f'{ROOT}/{TEACHER}').model
        cfg.bbox_head.head_module.num_classes = 80
        cfg._scope_ = 'mmyolo'
        _algorithm(teacher, **cfg)

    def recorder_no_module():
        _toy_distiller('neck.out_layer.1').prepare_from_student(_Toy())

    def recorder_never_runs():
        d = _toy_distiller('head')
        s, t = _Toy(), _Toy()
        d.prepare_from_student(s)
        d.prepare_from_teacher(t)
        with d.student_recorders, d.teacher_recorders:
            s(torch.randn(1, 3, 8, 8))
            t(torch.randn(1, 3, 8, 8))
        d.compute_distill_losses()

    def channels():
        KDChannelWiseDivergence()(torch.randn(1, 64, 8, 8), torch.randn(1, 128, 8, 8))

    def spatial():
        KDChannelWiseDivergence()(torch.randn(1, 64, 8, 8), torch.randn(1, 64, 4, 4))

    def data(case):
        def run():
            root = osp.join(tmp, case)
            os.makedirs(root, exist_ok=True)
            _load(root, **bad_set(root, case))
        return run

    cases = [
        ('teacher checkpoint missing', lambda: _algorithm(osp.join(tmp, 'missing.pth'))),
        ('teacher checkpoint truncated (a third of the file)', truncated),
        ('teacher checkpoint not a checkpoint (a text file)', text_file),
        ('teacher checkpoint whose pickle would run a command', crafted),
        ('teacher checkpoint of another architecture (YOLOv8-N for YOLOv8-S)',
         other_architecture),
        ('teacher checkpoint with 80 classes, teacher config 5', checkpoint_other_classes),
        ('teacher config 80 classes, student 5', teacher_other_classes),
        ('recorder source naming no module', recorder_no_module),
        ('recorder on a module that never runs in forward', recorder_never_runs),
        ('student 64 / teacher 128 channels, no projector', channels),
        ('student 8x8 / teacher 4x4 maps', spatial),
        ('LD temperature 0', lambda: KDLocalizationDistillLoss(temperature=0)),
        ('classification KD gamma 1.5', lambda: KDYOLOv5ClsKDLoss(gamma=1.5)),
        ('negative loss weight', lambda: KDChannelWiseDivergence(loss_weight=-1)),
        ('unknown attention type (typo)', lambda: MODELS.build(dict(
            type='KDConfigurableDistiller', _scope_='mmrazor',
            connectors=dict(s0=[dict(type='KDSpatialAtention')])))),
        ('unknown loss type', lambda: MODELS.build(dict(
            type='KDConfigurableDistiller', _scope_='mmrazor',
            distill_losses=dict(loss_cwd=dict(type='KDChannelWiseDivergense'))))),
    ] + [(f'data: {c.replace("_", " ")}', data(c)) for c in (
        'no_file', 'no_images', 'missing_image', 'unreadable_image', 'zero_area',
        'class_out_of_range', 'classes_not_in_file')]

    print('| bad input | error | message |\n|---|---|---|')
    for what, fn in cases:
        try:
            with contextlib.redirect_stdout(io.StringIO()):  # pycocotools' progress prints
                fn()
        except Exception as e:  # the point: print whatever it raised
            msg = str(e).replace(tmp, '<tmp>').replace('\n', ' ').replace('|', '\\|')
            print(f'| {what} | {type(e).__name__} | {msg[:300]}{"..." if len(msg) > 300 else ""} |')
        else:
            print(f'| {what} | none | NOT REFUSED |')
    print(json.dumps(dict(pwned=osp.exists(osp.join(tmp, 'pwned')))), file=sys.stderr)


if __name__ == '__main__':
    main()
