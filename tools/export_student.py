"""Turn a distillation checkpoint into a plain MMYOLO checkpoint and config for the student, and
optionally into ONNX models.

    python tools/export_student.py CONFIG CHECKPOINT [--out-dir DIR] [--img-size 256]
        [--config-name NAME.py]
        [--onnx [--onnx-forms raw end2end] [--opset 17] [--score-thr S] [--iou-thr I]
         [--max-det N] [--check-images 20]]

Writes <out-dir>/<student config name>.py, or the name --config-name gives (the student's config as
a deployed model needs it: no training-only hooks or dataset checks of this package, and no import
of it unless the architecture needs it, e.g. the YOLOv5 LD head) and <out-dir>/student.pth (the
student's weights only: no teacher, connectors or distiller keys; the EMA weights when the run used
EMA, as MMEngine saves them). Then checks on the spot that the exported model, built from those two
files, gives outputs identical to the student inside the distiller (maximum absolute difference 0)
and fails otherwise. Use the result like any MMYOLO model:
python tools/test.py <out-dir>/<student config>.py <out-dir>/student.pth

--onnx also writes <out-dir>/student_raw.onnx (the head's outputs per level) and
<out-dir>/student_end2end.onnx (decoded boxes after NMS: num_dets, boxes, scores, labels) for
input (1, 3, img_size, img_size), see kd_plugins/deploy.py, and checks them with onnxruntime:
the raw outputs against PyTorch's on a random input, and, when the config's validation data is
there, the end-to-end detections, the COCO mAP and images/s of both on the first
--check-images validation images (written to <out-dir>/onnx_check.json). The input size (a
multiple of the model's largest stride) and the opset are checked before any file is written.
"""
import argparse
import json
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
import kd_plugins  # noqa: E402,F401

#: largest relative |onnxruntime - PyTorch| accepted for the raw outputs (float32 kernels of two
#: runtimes: measured 1.6e-7 to 2.5e-7 on the demo students)
RAW_RTOL = 1e-4


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Export the student of a distillation',
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('config', help='the distillation config the checkpoint was trained with')
    parser.add_argument('checkpoint', help='the distillation checkpoint')
    parser.add_argument('--out-dir', help='default: <checkpoint dir>/student')
    parser.add_argument('--config-name',
                        help='file name of the exported config (default: that of the student\'s '
                        'config, model.architecture.cfg_path)')
    parser.add_argument('--img-size', type=int, default=256,
                        help='input size of the equality check and of the ONNX models')
    parser.add_argument('--onnx', action='store_true', help='also write ONNX models')
    parser.add_argument('--onnx-forms', nargs='+', default=['raw', 'end2end'],
                        choices=['raw', 'end2end'], help='which ONNX models')
    parser.add_argument('--opset', type=int, default=None,
                        help='ONNX opset (default: kd_plugins.deploy.DEFAULT_OPSET)')
    parser.add_argument('--score-thr', type=float, default=None,
                        help="end2end: score threshold (default: the config's test_cfg)")
    parser.add_argument('--iou-thr', type=float, default=None,
                        help="end2end: NMS IoU threshold (default: the config's test_cfg)")
    parser.add_argument('--max-det', type=int, default=None,
                        help="end2end: detections per image (default: the config's test_cfg)")
    parser.add_argument('--check-images', type=int, default=20,
                        help='validation images of the ONNX check (0: skip that part)')
    return parser.parse_args(argv)


def _student(config: str):
    """The student's model (random weights) of a distillation config: for the input-size check
    before anything is written."""
    import torch
    from mmengine.config import Config
    from mmengine.registry import DefaultScope
    from mmyolo.registry import MODELS
    cfg = Config.fromfile(config)
    arch = cfg.model.get('architecture', {})
    if 'cfg_path' not in arch:
        raise ValueError(f'{config} is not a distillation config whose student is given as '
                         'dict(cfg_path=...)')
    with DefaultScope.overwrite_default_scope('mmyolo'), torch.random.fork_rng():
        return MODELS.build(Config.fromfile(arch.cfg_path).model)


def export_onnx_models(args, cfg_out: str, ckpt_out: str) -> dict:
    import torch

    from kd_plugins import deploy
    from kd_plugins.demo import load_detector
    from kd_plugins.utils import quiet
    model = load_detector(cfg_out, ckpt_out)
    opset = args.opset or deploy.DEFAULT_OPSET
    report = dict(img_size=args.img_size, opset=opset)
    for form in args.onnx_forms:
        path = osp.join(args.out_dir, f'student_{form}.onnx')
        with quiet():
            deploy.export_onnx(model, path, args.img_size, form, opset, args.score_thr,
                               args.iou_thr, args.max_det)
        report[form] = path
        print(f'written: {path}')
    if 'raw' in args.onnx_forms:
        torch.manual_seed(0)
        x = torch.rand(1, 3, args.img_size, args.img_size)
        diff = deploy.raw_max_difference(model, report['raw'], x)
        report['raw_max_rel_difference'] = diff
        print(f'raw ONNX vs PyTorch: max relative difference {diff:.2g} (accepted: '
              f'{RAW_RTOL:g})')
        if diff > RAW_RTOL:
            raise SystemExit('the raw ONNX model does not reproduce PyTorch\'s outputs')
    ann = model.cfg.val_evaluator.get('ann_file', '') if isinstance(
        model.cfg.val_evaluator, dict) else ''
    if 'end2end' in args.onnx_forms and args.check_images > 0:
        if not osp.isfile(ann):
            print(f'end2end check skipped: the validation annotations {ann or "(none)"} are '
                  'not here')
        else:
            with quiet():
                check = deploy.compare_on_dataset(
                    model, report['end2end'], model.cfg.val_dataloader.dataset,
                    model.cfg.val_evaluator, args.img_size, args.check_images)
            report['end2end_check'] = check
            print(f"end2end ONNX vs PyTorch on {check['images']} validation images: "
                  f"{check['matched']} detections matched, {check['ties']} equal-score ties, "
                  f"{check['unmatched']} not; mAP50-95 "
                  f"{check['onnx_mAP']:.3f} vs {check['torch_mAP']:.3f}; images/s "
                  f"{check['onnx_images_per_s']:.1f} (onnxruntime) vs "
                  f"{check['torch_images_per_s']:.1f} (PyTorch)")
    with open(osp.join(args.out_dir, 'onnx_check.json'), 'w') as f:
        json.dump(report, f, indent=1)
    return report


def main(argv=None):
    args = parse_args(argv)
    from kd_plugins.export import export_student
    args.out_dir = args.out_dir or osp.join(osp.dirname(osp.abspath(args.checkpoint)), 'student')
    try:
        if args.onnx:  # bad options fail here, before any file is written
            from kd_plugins import deploy
            deploy.check_opset(args.opset or deploy.DEFAULT_OPSET)
            deploy.check_img_size(_student(args.config), args.img_size)
        cfg_out, ckpt_out, diff = export_student(args.config, args.checkpoint, args.out_dir,
                                                 args.img_size, args.config_name)
    except (ValueError, FileNotFoundError, ImportError) as e:
        raise SystemExit(f'export_student: {e}')
    print(f'written: {cfg_out}\nwritten: {ckpt_out}\n'
          f'exported student vs student in the distiller: max abs difference {diff:g}')
    if diff != 0:
        raise SystemExit('the exported student does not reproduce the distiller\'s student')
    if args.onnx:
        export_onnx_models(args, cfg_out, ckpt_out)
    return cfg_out, ckpt_out, diff


if __name__ == '__main__':
    main()
