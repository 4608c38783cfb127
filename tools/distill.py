"""Distil your own dataset with one command: data in, a teacher, a baseline student, distilled
students and the evidence out.

    python tools/distill.py DATA [--family yolov8] [--teacher s] [--student n]
        [--methods cwd_att ld (YOLOv5: cwd_att ld_obj_kl)] [--epochs 30] [--teacher-epochs 60]
        [--img-size 320] [--batch-size 8] [--seeds 0 1 2] [--teacher-ckpt CKPT]
        [--out results/distill/NAME]

DATA is a dataset folder: a YOLO export (Ultralytics / Roboflow: data.yaml with
<split>/images and <split>/labels), Pascal VOC (Annotations/ + JPEGImages/) or COCO json
(annotations/*.json + an image folder); see kd_plugins/datasets/layouts.py. Without a
validation split the data are split 8:1:1.

Stages (each skipped when its result exists, so a re-run continues where the last stopped; an
interrupted training resumes from its last checkpoint; a run is re-used or resumed only with
the settings it began with, recorded in its settings.json with the digests of its data and
teacher and the precision it trained in):
  1. data      convert to COCO json under OUT/data (every image decoded once), say what was
               found (polygon rows, empty label files, ...)
  2. configs   OUT/configs/teacher.py, baseline.py, <method>.py: ordinary configs that inherit
               this project's; each states the data and schedule once at its top
  3. check     build the datasets of the configs (every file and box checked) and, with
               --teacher-ckpt, the teacher from its checkpoint, before any training
  4. train     the teacher (with --teacher-ckpt: that one evaluated on the val split instead,
               tools/test.py --split val), then per seed the baseline and each method (the
               same seed for all: paired runs); full logs in each run's folder
  5. export    each distilled student as a plain MMYOLO model (tools/export_student.py)
  6. eval      mAP on the val split (the final validation of each run) and, when the data
               have a test split, on it (tools/test.py)
  7. speed     images/s at batch 1 on this machine (PyTorch, and onnxruntime on the model
               exported as end-to-end ONNX) and a picture of detections per model
  8. report    OUT/report.md, report.csv (per method), runs.csv (per run), curves.png,
               detections.png; report.md names the student to use, chosen on the val
               split: the method with the largest mean gain among those above the student
               alone at every seed, or the student alone when none is; that student is
               copied to OUT/student (student.py + student.pth, a plain MMYOLO model;
               end2end.onnx with onnx installed; chosen.json: which run)
"""
import argparse
import glob
import json
import os
import os.path as osp
import re
import shutil
import subprocess
import sys
import time
import warnings
from typing import Tuple

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)
# setuptools' notice about pkg_resources, imported by MMEngine, on every import: not ours to fix
warnings.filterwarnings('ignore', message='pkg_resources is deprecated', category=UserWarning)

from kd_plugins.recipe import FAMILIES, SIZES, default_lr, model_name  # noqa: E402

STAGES = 8
PICTURE_IMAGES = 4


def stage(k: int, msg: str) -> None:
    print(f'[{time.strftime("%H:%M:%S")}] {k}/{STAGES} {msg}', flush=True)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Distil a YOLO student on your dataset: convert, configure, train the '
        'teacher, the baseline and each method per seed, export, evaluate, report. Every '
        'stage is skipped when its result exists.',
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('data', help='dataset folder (YOLO export, Pascal VOC or COCO json)')
    parser.add_argument('--classes', nargs='+',
                        help='class names in id order: needed for a YOLO export without '
                        'data.yaml, else they override the data\'s own names')
    parser.add_argument('--family', choices=sorted(FAMILIES), default='yolov8',
                        help='model family')
    parser.add_argument('--teacher', choices=SIZES, default='s', help='teacher size')
    parser.add_argument('--student', choices=SIZES, default='n', help='student size')
    parser.add_argument('--methods', nargs='+',
                        help='distillation methods (default: '
                        + '; '.join(f'{f}: {" ".join(v["default_methods"])}'
                                    for f, v in FAMILIES.items()) + '; also: '
                        + '; '.join(f'{f}: {" ".join(v["methods"])}'
                                    for f, v in FAMILIES.items()) + '); the baseline is '
                        'always trained')
    parser.add_argument('--epochs', type=int, default=30, help='epochs of every student')
    parser.add_argument('--teacher-epochs', type=int, default=60, help='epochs of the teacher')
    parser.add_argument('--img-size', type=int, default=320,
                        help='square input size, a multiple of 32')
    parser.add_argument('--batch-size', type=int, default=8, help='training batch size')
    parser.add_argument('--lr', type=float,
                        help='SGD learning rate of every model (default: YOLOv5 0.64 / batch '
                        "size, 0.08 at batch 8, because MMYOLO's losses grow with the batch and "
                        "its 0.01 is meant for 128 images per step; YOLOv8 the family config's "
                        '0.01; measurements in kd_plugins/recipe.py)')
    parser.add_argument('--distill-share', type=float,
                        help='keep every distillation at this share of the total loss, in '
                        '(0, 1), by one automatic factor (KDYOLOTeacherDistill.distill_share; '
                        'docs/cwd.md); 0: every method\'s loss weights as configured; '
                        'default: each method\'s config (0.3 for LD in both families and for '
                        'YOLOv8\'s CWD methods, 0.5 for YOLOv5\'s CWD+attention and LD with '
                        'the objectness KD as KL (ld_obj_kl), measured in '
                        'docs/custom_dataset.md and docs/cwd.md; YOLOv5\'s plain and '
                        'teacher-attention CWD their loss weights)')
    parser.add_argument('--distill-options', nargs='+', default=[], metavar='KEY=VALUE',
                        help='config overrides for every distillation\'s training, as '
                        'tools/train.py --cfg-options takes them (model.share_momentum=0.9, '
                        'model.distiller.distill_losses.loss_ld.temperature=25); the teacher '
                        'and the students alone train without them, so the seeds stay paired')
    parser.add_argument('--warmup-epochs', type=int, default=1, help='learning-rate warm-up')
    parser.add_argument('--val-interval', type=int, default=5,
                        help='validate (and checkpoint) every N epochs and after the last')
    parser.add_argument('--seeds', nargs='+', type=int, default=[0],
                        help='one paired run of the baseline and of each method per seed; the '
                        'teacher is trained with the first')
    parser.add_argument('--teacher-ckpt', help='use this trained teacher instead of training one')
    parser.add_argument('--precision', choices=['auto', 'fastest', 'teacher', 'fp32', 'amp'],
                        default='auto',
                        help="'auto': fp32 training, each model in the layout (ordinary or "
                        'channels_last) one timed training step of it was faster in here; '
                        "'fastest': also bf16 --amp where it times fastest (the demo's; on "
                        "CUDA --amp); 'teacher': fp32 training, ordinary layout; 'amp': every "
                        "model trains with --amp; 'fp32': fp32 everywhere, teachers too. Except "
                        "with 'fp32', a distillation's teacher runs in teacher_precision='auto'")
    parser.add_argument('--speed-images', type=int, default=40,
                        help='val images timed per model for images/s (after 3 warm-up ones)')
    parser.add_argument('--out', help='output folder (default: results/distill/<data folder '
                        'name>)')
    parser.add_argument('--force', action='store_true',
                        help='delete --out first and redo every stage')
    parser.add_argument('--configs-only', action='store_true',
                        help='stop after the check stage: convert, write and check the '
                        'configs, print the training commands (with the flags --precision '
                        'gives here), train nothing')
    args = parser.parse_args(argv)
    methods = FAMILIES[args.family]['methods']
    args.methods = args.methods or list(FAMILIES[args.family]['default_methods'])
    unknown = [m for m in args.methods if m not in methods]
    if unknown:
        parser.error(f'--methods {unknown}: {args.family} has {list(methods)}')
    if args.img_size % 32:
        parser.error(f'--img-size {args.img_size} is not a multiple of 32 (the largest stride)')
    if args.teacher_ckpt and not osp.isfile(args.teacher_ckpt):
        parser.error(f'--teacher-ckpt {args.teacher_ckpt} does not exist')
    if min(args.epochs, args.teacher_epochs, args.batch_size) < 1:
        parser.error('--epochs, --teacher-epochs and --batch-size must be >= 1')
    if args.lr is None:
        args.lr = default_lr(args.family, args.batch_size)
    elif not args.lr > 0:
        parser.error(f'--lr must be > 0, got {args.lr}')
    if args.distill_share is not None and not 0 <= args.distill_share < 1:
        parser.error(f'--distill-share must be in (0, 1), or 0 for the configured loss '
                     f'weights, got {args.distill_share}')
    bad = [o for o in args.distill_options if '=' not in o or o.startswith('=')]
    if bad:
        parser.error(f'--distill-options {bad}: each is KEY=VALUE')
    if len(set(args.seeds)) != len(args.seeds):
        parser.error(f'--seeds {args.seeds} repeats a seed')
    if not osp.isdir(args.data):
        parser.error(f'dataset folder {args.data} does not exist')
    name = re.sub(r'[^\w.-]+', '_', osp.basename(osp.normpath(osp.abspath(args.data))))
    args.out = osp.abspath(args.out or osp.join('results', 'distill', name))
    return args


# ----------------------------------------------------------------------------- running


def _progress(line: str, state: dict, label: str, epochs: int) -> None:
    """Progress of an MMEngine training from its log lines: on a terminal one line per
    training, rewritten in place (epoch, loss, ETA, last validation); elsewhere (a log file,
    CI) one line when an epoch begins (at its first logged iteration) and one per validation."""
    m = re.search(r'Epoch\(train\)\s+\[(\d+)\]\[\s*(\d+)/(\d+)\].*?eta: (\S+).*?loss: ([\d.]+)',
                  line)
    if m:
        state.update(epoch=int(m.group(1)), eta=m.group(4), loss=float(m.group(5)))
        share = re.search(r'\skd_share: ([\d.]+)', line)  # a distillation's share of the loss
        if share:
            state['share'] = float(share.group(1))
    m_val = re.search(r'Epoch\(val\)\s+\[(\d+)\].*?coco/bbox_mAP: ([\d.]+)\s+'
                      r'coco/bbox_mAP_50: ([\d.]+)', line)
    if m_val:
        state['val'] = f'val mAP50-95 {m_val.group(2)}, mAP50 {m_val.group(3)}'
    if not (m or m_val) or 'epoch' not in state:
        return
    text = (f'    {label}: epoch {state["epoch"]}/{epochs}, loss {state["loss"]:.3f}, '
            + (f'kd_share {state["share"]:.2f}, ' if 'share' in state else '')
            + f'eta {state["eta"]}' + (f', {state["val"]}' if 'val' in state else ''))
    if sys.stdout.isatty():
        print('\r' + text.ljust(state.get('width', 0)), end='', flush=True)
        state['width'] = len(text)
        state['tty'] = True
    elif m_val or state['epoch'] != state.get('printed'):
        state['printed'] = state['epoch']
        print(text, flush=True)


def run_logged(cmd: list, log_file: str, label: str = '', epochs: int = 0,
               resume: bool = False, wall_file: str = '') -> None:
    """Run ``cmd`` with its output in ``log_file``; print progress lines of an MMEngine
    training; on failure print the log's tail and stop. ``resume``: a later launch of the
    same training, whose output follows the earlier launches' in ``log_file``. ``wall_file``:
    the seconds this training has run, written at each look at the log (every 2 s), so that
    a launch stopped by hand or killed still counts; a ``resume`` adds to what it holds."""
    os.makedirs(osp.dirname(log_file), exist_ok=True)
    env = dict(os.environ, PYTHONWARNINGS='ignore::UserWarning:pkg_resources,'
               'ignore:pkg_resources is deprecated:UserWarning')
    resume = resume and osp.isfile(log_file)
    wall_before = 0.
    if resume and wall_file and osp.isfile(wall_file):
        with open(wall_file) as f:
            wall_before = float(f.read())
    t0 = time.time()

    def write_wall():
        if wall_file:
            with open(wall_file + '.part', 'w') as f:
                f.write(f'{wall_before + time.time() - t0:.1f}\n')
            os.replace(wall_file + '.part', wall_file)

    start = osp.getsize(log_file) if resume else 0
    with open(log_file, 'a' if resume else 'w') as log:
        log.write(('\n$ (resumed) ' if resume else '$ ') + ' '.join(cmd) + '\n')
        log.flush()
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=env)
    state, pos = {}, start
    while True:
        done = proc.poll() is not None
        write_wall()
        with open(log_file, 'rb') as f:
            f.seek(pos)
            chunk = f.read()
        if not done:  # a line still being written waits for the next look
            chunk = chunk[:chunk.rfind(b'\n') + 1]
        pos += len(chunk)
        if label:
            for line in chunk.decode('utf-8', errors='replace').splitlines():
                _progress(line, state, label, epochs)
        if done:
            break
        time.sleep(2)
    if state.get('tty'):
        print(flush=True)
    if proc.returncode:
        with open(log_file, errors='replace') as f:
            tail = f.read().splitlines()[-30:]
        print('\n'.join('    | ' + ln for ln in tail))
        sys.exit(f'{" ".join(cmd[1:3])} failed (exit {proc.returncode}); full log: {log_file}')


def final_checkpoint(work_dir: str, epochs: int):
    """The checkpoint of the last epoch, or None while the run is not finished."""
    path = osp.join(work_dir, f'epoch_{epochs}.pth')
    return path if osp.isfile(path) else None


SETTINGS_FILE = 'settings.json'
# files whose content, not only their path, a run depends on: a re-converted dataset or a
# re-trained teacher at the same path is another run
DIGESTED = ('train_dataloader.dataset.ann_file', 'val_dataloader.dataset.ann_file',
            'test_dataloader.dataset.ann_file', 'model.teacher_ckpt')


# the record's entry of the tools/train.py flags that change the arithmetic of a training
# (``--amp``); a layout flag (``--channels-last``) is left out: 'auto' and 'fastest' pick it
# per machine by timing, and it changes no more than another CPU does
FLAGS_KEY = 'tools/train.py flags'
LAYOUT_FLAGS = ('--channels-last', )


def settings_of(config: str, flags=None, cfg_options=()) -> dict:
    """Every setting of ``config`` (its ``_base_`` chain merged), as ``{'dotted.key': value}``
    with JSON values: what a run's folder records of the config it was trained with. Paths
    inside the output folder (the folder above the config's) read ``{out}/...``, so that a
    moved or copied output folder keeps its runs, and each file of ``DIGESTED`` adds its
    content's SHA-1 (``'<key> sha1'``), so that changed data or another teacher at the same
    path do not. With ``flags`` (a list: those ``tools/train.py`` is given) the record also
    holds how the run trains: ``FLAGS_KEY`` (the flags but the layout ones) and each
    ``'key=value'`` of ``cfg_options`` (``model.teacher_precision=fp32``) over the config's
    value, so that a run in bf16 is not re-used by a command that asks for fp32."""
    from mmengine.config import Config

    def flat(d, prefix=''):
        out = {}
        for k, v in d.items():
            if isinstance(v, dict) and v:
                out.update(flat(v, f'{prefix}{k}.'))
            else:
                out[f'{prefix}{k}'] = v
        return out

    settings = flat(Config.fromfile(config).to_dict())
    if flags is not None:
        settings[FLAGS_KEY] = sorted(f for f in flags if f not in LAYOUT_FLAGS)
        settings.update(option.split('=', 1) for option in cfg_options)
    for key in DIGESTED:
        path = settings.get(key)
        if isinstance(path, str) and osp.isfile(path):
            settings[f'{key} sha1'] = sha1_of(path)
    return out_relative(settings, config)


def sha1_of(path: str) -> str:
    """The SHA-1 of a file's content."""
    import hashlib
    h = hashlib.sha1()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(1 << 20), b''):
            h.update(block)
    return h.hexdigest()


def out_relative(settings: dict, config: str) -> dict:
    """``settings`` as JSON values, with the output folder of ``config`` (the folder above
    the config's) written ``{out}``."""
    root = osp.dirname(osp.dirname(osp.abspath(config)))
    return json.loads(json.dumps(settings, default=repr).replace(
        json.dumps(root + os.sep)[1:-1], '{out}/'))


# the record's entry of the seed a run was trained with (``randomness.seed``, given on the command
# line, not in the config): recorded, not compared, so that the teacher (trained with the first
# of ``--seeds``) is re-used by a command whose seeds begin with another one, and says so
SEED_KEY = 'seed'


def settings_changes(before: dict, now: dict) -> list:
    """``'key: old -> new'`` for each setting that differs (absent: ``-``; a value longer than
    60 characters, such as a pipeline, is cut with ``...``)."""
    def short(v):
        text = str(v)
        return text if len(text) <= 60 else text[:57] + '...'

    return [f'{k}: {short(before.get(k, "-"))} -> {short(now.get(k, "-"))}'
            for k in sorted(set(before) | set(now)) if before.get(k, '-') != now.get(k, '-')]


# the top-level keys of a config that MMEngine's runner (and tools/train.py) read: a helper
# variable beside them (``max_epochs``, ``base_lr``, a share constant in a ``_base_`` file)
# acts only through them, so a new or renamed helper in an upgrade is not another run
RUN_KEYS = ('model', 'train_dataloader', 'val_dataloader', 'test_dataloader', 'train_cfg',
            'val_cfg', 'test_cfg', 'optim_wrapper', 'param_scheduler', 'val_evaluator',
            'test_evaluator', 'default_hooks', 'custom_hooks', 'data_preprocessor', 'load_from',
            'env_cfg', 'randomness', 'auto_scale_lr', 'model_wrapper_cfg',
            'find_unused_parameters', 'runner_type', 'default_scope')


def run_settings(settings: dict) -> dict:
    """The entries of ``settings`` (:func:`settings_of`) under :data:`RUN_KEYS`, and its
    ``FLAGS_KEY``."""
    return {k: v for k, v in settings.items()
            if k.split('.', 1)[0] in RUN_KEYS or k == FLAGS_KEY}


def check_settings(config: str, work_dir: str, label: str, flags=(), cfg_options=()):
    """A run begun with other settings than ``config``, ``flags`` and ``cfg_options`` now
    give (another ``--distill-share``, ``--lr``, input size, teacher, recipe, ``--precision``)
    is neither re-used nor resumed: a finished one stops the command (its figures would be
    reported under the new settings), an unfinished one is moved aside and trained again.
    Only what the runner reads counts (:data:`RUN_KEYS`, and the flags but the layout ones).
    Runs of kd_plugins before the record are re-used as they are, and those recorded before
    the flags whatever the flags are. Returns the record of a run kept (None: no record, or
    the run was moved aside)."""
    record = osp.join(work_dir, SETTINGS_FILE)
    if not osp.isfile(record):
        return None
    with open(record) as f:
        before = out_relative(json.load(f), config)  # records before {out} had full paths
    now = (settings_of(config, list(flags), cfg_options) if FLAGS_KEY in before
           else settings_of(config))
    if not any(k.endswith(' sha1') for k in before):  # a record written before the digests
        now = {k: v for k, v in now.items() if not k.endswith(' sha1')}
    changes = settings_changes(run_settings(before), run_settings(now))
    if not changes:
        return before
    shown = '; '.join(changes[:6]) + (f'; and {len(changes) - 6} more'
                                      if len(changes) > 6 else '')
    if final_checkpoint(work_dir, before.get('train_cfg.max_epochs', 0)):
        sys.exit(f'{label}: {work_dir} was trained with other settings than {config} gives '
                 f'now ({shown}). Use --out for a new set of runs beside it, or --force to '
                 'delete the old ones and train again.')
    aside = f'{work_dir}-{time.strftime("%Y%m%d-%H%M%S")}'
    os.rename(work_dir, aside)
    print(f'    {label}: begun with other settings ({shown}): that unfinished run is moved to '
          f'{aside} and trained again', flush=True)
    return None


def distill_shares(configs: dict, methods) -> dict:
    """``{method: its config's model.distill_share}`` (None: the loss weights as configured)."""
    from mmengine.config import Config
    return {m: Config.fromfile(configs[m]).model.get('distill_share') for m in methods}


def share_words(shares: dict) -> str:
    """``'ld 0.3, cwd_att as configured, ld_cwd_att_parts head 0.3 + neck 0.1'``."""
    from kd_plugins.report import share_text
    return ', '.join(f'{m} {"as configured" if v is None else share_text(v)}'
                     for m, v in shares.items())


def train(config: str, work_dir: str, label: str, epochs: int, seed: int, flags: list,
          extra=()) -> str:
    """Train ``config`` in ``work_dir`` (``tools/train.py`` with ``flags`` and ``--cfg-options``
    ``extra``), or re-use or resume the run there if it began with the same settings
    (:func:`check_settings`); the final checkpoint."""
    kept = check_settings(config, work_dir, label, flags, extra)
    ckpt = final_checkpoint(work_dir, epochs)
    if ckpt:
        before = (kept or {}).get(SEED_KEY)  # None: a record from before the seed was in it
        other = ('' if before in (None, seed) else
                 f' (with seed {before}, not {seed}: re-used as it is; --out for a new one)')
        print(f'    {label}: trained before, {ckpt}{other}', flush=True)
        return ckpt
    record = osp.join(work_dir, SETTINGS_FILE)
    if not osp.isfile(record):
        os.makedirs(work_dir, exist_ok=True)
        with open(record, 'w') as f:
            json.dump({**settings_of(config, list(flags), extra), SEED_KEY: seed}, f, indent=0,
                      sort_keys=True)
    resume = ['--resume'] if osp.isfile(osp.join(work_dir, 'last_checkpoint')) else []
    print(f'    {label}: training {"(resumed) " if resume else ""}{epochs} epochs; log '
          f'{osp.join(work_dir, "train.log")}', flush=True)
    # a resumed training's log and wall time follow its earlier launches'
    run_logged([sys.executable, 'tools/train.py', config, '--work-dir', work_dir, *flags,
                *resume, '--cfg-options', f'randomness.seed={seed}', *extra],
               osp.join(work_dir, 'train.log'), label, epochs, resume=bool(resume),
               wall_file=osp.join(work_dir, 'train_wall_s.txt'))
    ckpt = final_checkpoint(work_dir, epochs)
    if not ckpt:
        sys.exit(f'{label}: the training ended without {work_dir}/epoch_{epochs}.pth')
    return ckpt


def teacher_lead_words(teacher: dict, baseline_dir: str, seed: int) -> str:
    """The teacher's lead over the first baseline, said as soon as both are trained: a teacher
    not clearly stronger than its student has little to teach, and the distillations still to
    come can be stopped for a longer teacher (``--teacher-epochs``) before they cost hours.
    ``teacher``: its run (``val``: its metrics, for a given teacher; else the last validation
    in ``work_dir``). Empty where either run logged no validation (the report says what is
    missing)."""
    from kd_plugins.analysis import last_metrics
    from kd_plugins.report import teacher_verdict
    try:
        t = (teacher['val'] if 'val' in teacher else last_metrics(teacher['work_dir'])
             )['coco/bbox_mAP']
        b = last_metrics(baseline_dir)['coco/bbox_mAP']
    except (KeyError, FileNotFoundError):
        return ''
    return (f'    teacher {t:.3f} mAP50-95, baseline seed {seed} {b:.3f}: the teacher is '
            + teacher_verdict([(t - b) * 100]))


def training_plan(args, configs: dict) -> Tuple[str, dict]:
    """What ``--precision`` means on this machine: ``(words, {'teacher': flags, 'student':
    flags})``, the ``tools/train.py`` flags of the teacher's and of the students' trainings.
    ``'auto'`` and ``'fastest'`` on a CPU time one training step of each model to train
    (teacher, student) in fp32 in both layouts, ``'fastest'`` also in bf16 where the CPU has
    it (:func:`kd_plugins.benchmark.time_training_ways`, a few seconds), and take the fastest
    (:func:`kd_plugins.engine.precision.pick_fastest`). ``'auto'`` leaves bf16 training out
    because its accuracy was shown to match fp32's for one family and schedule only (the
    YOLOv5 LD demo distillation, docs/benchmark.md)."""
    import torch

    from kd_plugins.engine.precision import cpu_bf16_support
    teacher = "teachers in teacher_precision='auto'"
    if args.precision == 'fp32':
        return 'fp32: every model trains in fp32, teachers run in fp32', {}
    if torch.cuda.is_available():
        if args.precision in ('amp', 'fastest'):
            return f'CUDA: {teacher}, --amp (fp16, dynamic loss scale)', dict(
                teacher=['--amp'], student=['--amp'])
        return f'CUDA: {teacher}, students fp32', {}
    support = cpu_bf16_support()
    cpu = f'CPU ({support} bf16)' if support != 'none' else 'CPU (no bf16 instructions)'
    if args.precision == 'teacher':
        return f'{cpu}: {teacher}, every model trains in fp32', {}
    if args.precision == 'amp':
        if support == 'none':
            return 'fp32: this CPU has no bf16 instructions (neither avx512_bf16 nor AMX)', {}
        return (f'{cpu}: {teacher}, every model trains with --amp (bf16 autocast, '
                'fp32 weights and losses)', dict(teacher=['--amp'], student=['--amp']))
    from mmengine.config import Config

    from kd_plugins.benchmark import TRAINING_WAYS, time_training_ways
    from kd_plugins.engine.precision import pick_fastest, times_words
    from kd_plugins.utils import quiet
    flags, chosen = {}, []
    roles = ([] if args.teacher_ckpt else [('teacher', args.teacher)]) + [
        ('student', args.student)]
    for role, size in roles:
        model = Config.fromfile(configs['teacher' if role == 'teacher' else 'baseline']).model
        with quiet():
            times = time_training_ways(model, args.batch_size, args.img_size,
                                       bf16=args.precision == 'fastest')
        way = pick_fastest(times, list(times))
        flags[role] = TRAINING_WAYS[way]
        chosen.append(f'{role} {model_name(args.family, size)} {way} ({times_words(times)})')
    return (f"{cpu}: {teacher}; '{args.precision}' training, each model in the "
            f'way one timed training step of it was fastest here: {"; ".join(chosen)}', flags)


def planned(args, configs: dict, runs_dir: str) -> Tuple[str, dict]:
    """:func:`training_plan`, made once per output folder and machine and kept in
    ``runs/plan.json``: a resumed or added run trains the way the others did, and a re-run
    with nothing left to train times nothing."""
    import platform

    import torch
    machine = f'{platform.node()} cuda={torch.cuda.is_available()}'
    path = osp.join(runs_dir, 'plan.json')
    if osp.isfile(path):
        with open(path) as f:
            plan = json.load(f)
        if (plan['precision'], plan['machine']) == (args.precision, machine) and (
                args.teacher_ckpt or plan['teacher_planned']):
            return f'{plan["words"]} (planned at the first run here: {path})', plan['flags']
    words, flags = training_plan(args, configs)
    os.makedirs(runs_dir, exist_ok=True)
    with open(path, 'w') as f:
        json.dump(dict(precision=args.precision, machine=machine, words=words, flags=flags,
                       teacher_planned=not args.teacher_ckpt), f, indent=1)
    return words, flags


# ----------------------------------------------------------------------------- stages


def prepare(args):
    from kd_plugins.datasets.layouts import (CONVERSION_VERSION, PreparedData, fingerprint,
                                             prepare_dataset)
    data_dir = osp.join(args.out, 'data')
    done = osp.join(data_dir, 'dataset.json')
    if osp.isfile(done):
        data = PreparedData.load(done)
        why = [w for w, changed in (
            (f'it was converted from {data.source}', data.source != osp.abspath(args.data)),
            ('the converter changed', data.version != CONVERSION_VERSION),
            ("the data's file names, sizes or modification times changed",
             data.fingerprint != fingerprint(args.data)),
            (f'--classes differ from {data.classes}',
             bool(args.classes) and data.classes != args.classes)) if changed]
        same = not why
        # a moved or copied output folder: its record names the json files of the folder it
        # was written in, which the configs (and the runs' settings) must not point to
        here = osp.join(osp.abspath(data_dir), '')
        elsewhere = sorted(v for v in data.ann_files.values()
                           if not osp.abspath(v).startswith(here))
        if same and not elsewhere:
            stage(1, f'data: converted before, {done}')
            return data
        if same:
            print(f'    {done} names the annotation files of another folder ({elsewhere[0]}):'
                  ' the output folder was moved or copied; converting again')
        else:
            print(f'    {done} does not match {args.data} ({"; ".join(why)}): converting '
                  'again')
    stage(1, f'data: {args.data} -> {data_dir}')
    import logging
    os.makedirs(data_dir, exist_ok=True)
    # each problem file is named in conversion.log; the console gets the counts
    logger = logging.getLogger('kd_plugins.datasets')
    handler = logging.FileHandler(osp.join(data_dir, 'conversion.log'), mode='w')
    handler.setFormatter(logging.Formatter('%(levelname)s %(message)s'))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        data = prepare_dataset(args.data, data_dir, args.classes, seed=args.seeds[0],
                               log=lambda msg: logger.info(msg.strip()))
    finally:
        logger.removeHandler(handler)
        handler.close()
        logger.propagate = True
    print(f'    {data.layout} layout, {len(data.classes)} classes {data.classes}')
    for split, text in data.summary.items():
        print(f'    {split}: {text}')
    if data.split_made:
        print('    no validation split in the data: split 8:1:1 here (train/val/test)')
    if data.warnings:
        print(f'    warnings (each file named in {osp.join(data_dir, "conversion.log")}): '
              + ', '.join(f'{v} {k}' for k, v in sorted(data.warnings.items())))
    return data


def check(args, configs: dict) -> None:
    """Build every dataset of the student config and load the teacher checkpoint, so that bad
    data or a wrong checkpoint stops here with a message, before any training."""
    stage(3, 'check: datasets and teacher checkpoint')
    from mmengine.config import Config
    from mmengine.registry import DefaultScope
    from mmyolo.registry import DATASETS
    from mmyolo.utils import register_all_modules

    register_all_modules(init_default_scope=False)
    cfg = Config.fromfile(configs['baseline'])
    splits = [('train', cfg.train_dataloader), ('val', cfg.val_dataloader)]
    if cfg.test_dataloader.dataset.ann_file != cfg.val_dataloader.dataset.ann_file:
        splits.append(('test', cfg.test_dataloader))
    from kd_plugins.utils import quiet
    with DefaultScope.overwrite_default_scope('mmyolo'):
        for split, loader in splits:
            try:
                with quiet():
                    ds = DATASETS.build(loader.dataset)
            except ValueError as e:  # DatasetCheckError: names the file and what to do
                sys.exit(f'the {split} split of {configs["baseline"]} does not load: {e}')
            print(f'    {split}: {len(ds)} images load and check', flush=True)
    if args.teacher_ckpt:
        check_teacher(configs['teacher'], args.teacher_ckpt)
        print(f'    teacher checkpoint {args.teacher_ckpt} fits the teacher config')


def check_teacher(config: str, ckpt: str) -> None:
    """Stop with a message when ``ckpt`` is not a checkpoint of the model of ``config``."""
    from mmengine.config import Config
    from mmengine.registry import DefaultScope
    from mmyolo.registry import MODELS

    from kd_plugins.compat.checkpoint import safe_torch_load
    cfg = Config.fromfile(config)
    with DefaultScope.overwrite_default_scope('mmyolo'):
        model = MODELS.build(cfg.model)
    state = safe_torch_load(ckpt, map_location='cpu')
    state = state.get('state_dict', state)
    want = model.state_dict()
    if any(k.startswith('architecture.') for k in state):
        sys.exit(f'--teacher-ckpt {ckpt} is a distillation checkpoint; give a teacher trained '
                 'alone (or export its student with tools/export_student.py)')
    missing = sorted(set(want) - set(state))
    shapes = [(k, tuple(state[k].shape), tuple(v.shape)) for k, v in want.items()
              if k in state and state[k].shape != v.shape]
    if missing or shapes:
        ncls = cfg.model.bbox_head.head_module.num_classes
        detail = (f'{len(shapes)} weights of another shape, e.g. {shapes[0][0]}: '
                  f'{shapes[0][1]} in the checkpoint, {shapes[0][2]} here' if shapes else
                  f'{len(missing)} weights missing, e.g. {missing[:3]}')
        sys.exit(f'--teacher-ckpt {ckpt} does not fit the teacher config {config} ({ncls} '
                 f'classes): {detail}. Was it trained on another class count or model size? '
                 'Pass --teacher of its size, or leave --teacher-ckpt out to train one here.')


def export(config: str, ckpt: str, out_dir: str, label: str, img_size: int):
    """The exported student (config, checkpoint) of a distillation run."""
    done = osp.join(out_dir, 'student.pth')
    configs = sorted(glob.glob(osp.join(out_dir, '*.py')))
    if osp.isfile(done) and configs:
        return configs[0], done
    # named student.py: the student's architecture config here is OUT/configs/baseline.py, a
    # name that would read as the student alone's beside a distilled student's weights
    run_logged([sys.executable, 'tools/export_student.py', config, ckpt, '--out-dir', out_dir,
                '--img-size', str(img_size), '--config-name', 'student.py'],
               osp.join(out_dir, 'export.log'))
    print(f'    {label}: exported to {out_dir}', flush=True)
    # the name given, not a glob: a config left by an interrupted earlier export sorts first
    return osp.join(out_dir, 'student.py'), done


EVAL_KEYS = ('coco/bbox_mAP', 'coco/bbox_mAP_50')


def tested(config: str, ckpt: str, work_dir: str, split: str = 'test') -> dict:
    """:data:`EVAL_KEYS` of ``ckpt`` on ``split`` (tools/test.py), kept in
    ``work_dir/<split>_split.json`` with the checkpoint's SHA-1: a rerun reads them, another
    checkpoint at that path is evaluated again."""
    out = osp.join(work_dir, f'{split}_split.json')
    digest = sha1_of(ckpt)
    if osp.isfile(out):
        with open(out) as f:
            kept = json.load(f)
        if kept.pop('checkpoint sha1', digest) == digest:  # older files: no digest
            return kept
    test_dir = osp.join(work_dir, split)
    run_logged([sys.executable, 'tools/test.py', config, ckpt, '--work-dir', test_dir,
                '--split', split], osp.join(test_dir, 'test.log'))
    logs = sorted(glob.glob(osp.join(test_dir, '*', '*.json')))
    with open(logs[-1]) as f:
        metrics = json.loads(f.read().strip().splitlines()[-1])
    metrics = {k: metrics[k] for k in EVAL_KEYS}
    with open(out, 'w') as f:
        json.dump({**metrics, 'checkpoint sha1': digest}, f)
    return metrics


def evaluate(run: dict, has_test: bool) -> None:
    """``run['val']`` (the final validation of the training; a given teacher's is set
    before) and ``run['test']``."""
    from kd_plugins.analysis import last_metrics
    if 'val' not in run:
        run['val'] = last_metrics(run['work_dir'], EVAL_KEYS)
    if has_test:
        run['test'] = tested(run['eval_config'], run['eval_ckpt'], run['work_dir'])


def speed(run: dict, args, out: str):
    """images/s at batch 1 and the detection picture of one model."""
    import cv2

    from kd_plugins.demo import draw_detections, load_detector, predict, val_dataset
    speed_file = osp.join(run['work_dir'], 'inference.json')
    picture = osp.join(out, 'pictures', f'detections_{run["key"]}.png')
    if not (osp.isfile(speed_file) and osp.isfile(picture)):
        from kd_plugins.utils import quiet
        os.makedirs(osp.dirname(picture), exist_ok=True)
        with quiet():
            model = load_detector(run['eval_config'], run['eval_ckpt'])
            dataset = val_dataset(model.cfg)
            count = min(len(dataset), args.speed_images + 3)
            warmup = min(3, count - 1)  # a val split of a few images: fewer warm-up ones
            samples, ips = predict(model, dataset, list(range(count)), warmup=warmup)
        busiest = sorted(range(len(samples)), key=lambda i: -len(samples[i].gt_instances))
        shown = [samples[i] for i in sorted(busiest[:PICTURE_IMAGES])]
        m = run['val']
        title = (f'{run["label"]}: val mAP50-95 {m["coco/bbox_mAP"]:.3f}, mAP50 '
                 f'{m["coco/bbox_mAP_50"]:.3f} (white: ground truth)')
        meta = dataset.metainfo
        cv2.imwrite(picture, draw_detections(shown, meta['classes'], meta['palette'], title))
        result = dict(images_per_s=ips, images=count - warmup, batch_size=1)
        result.update(onnx_speed(model, run, args, count, warmup))
        check = result.get('onnx_check')
        print(f'    {run["label"]}: {ips:.1f} images/s' + (
            f"; end-to-end ONNX in onnxruntime {check['onnx_images_per_s']:.1f} images/s at "
            f"{args.img_size}x{args.img_size} (PyTorch {check['torch_images_per_s']:.1f} "
            f"there), detections as PyTorch's: {check['matched']} equal, {check['ties']} "
            f"near-equal-score ties, {check['unmatched']} other" if check else
            f"; no onnxruntime figure ({result['onnx_skipped']})"), flush=True)
        with open(speed_file, 'w') as f:
            json.dump(result, f)
    with open(speed_file) as f:
        result = json.load(f)
    run['images_per_s'] = result['images_per_s']
    run['onnx_images_per_s'] = result.get('onnx_images_per_s')
    run['picture'] = picture


def onnx_speed(model, run: dict, args, count: int, warmup: int) -> dict:
    """images/s of the model exported as end-to-end ONNX, in onnxruntime, on the same val
    images (and how many detections equal PyTorch's); without onnxruntime, why not."""
    try:
        from kd_plugins import deploy
        deploy.check_opset(deploy.DEFAULT_OPSET)
    except ImportError as e:
        return dict(onnx_skipped=str(e))
    from kd_plugins.utils import quiet
    path = osp.join(run['work_dir'], 'end2end.onnx')
    with quiet():
        deploy.export_onnx(model, path, args.img_size, 'end2end')
        check = deploy.compare_on_dataset(model, path, model.cfg.val_dataloader.dataset,
                                          model.cfg.val_evaluator, args.img_size, count, warmup)
    return dict(onnx_images_per_s=check['onnx_images_per_s'], onnx_check=check)


def main(argv=None):
    args = parse_args(argv)
    t_start = time.time()
    if args.force and osp.isdir(args.out):
        shutil.rmtree(args.out)
    os.makedirs(args.out, exist_ok=True)
    print(f'kd_plugins distill: {args.data} -> {args.out}', flush=True)
    timings = {}

    t0 = time.time()
    data = prepare(args)
    timings['data'] = time.time() - t0

    t0 = time.time()
    from kd_plugins.recipe import write_configs
    cfg_dir = osp.join(args.out, 'configs')
    runs_dir = osp.join(args.out, 'runs')
    teacher_dir = osp.join(runs_dir, 'teacher')
    teacher_ckpt = args.teacher_ckpt or osp.join(teacher_dir, f'epoch_{args.teacher_epochs}.pth')
    configs = write_configs(cfg_dir, data, args.family, args.teacher, args.student,
                            args.methods, args.img_size, args.epochs, args.teacher_epochs,
                            osp.abspath(teacher_ckpt), args.val_interval, args.lr,
                            args.warmup_epochs, args.batch_size, args.distill_share)
    shares = distill_shares(configs, args.methods)
    stage(2, f'configs: {cfg_dir}/ ' + ', '.join(osp.basename(p) for p in configs.values())
          + '; distillation share of the total loss: ' + share_words(shares))
    timings['configs'] = time.time() - t0

    t0 = time.time()
    check(args, configs)
    timings['check'] = time.time() - t0

    def cfg_options(method):  # a distillation's training is told its teacher's precision
        return [] if method == 'baseline' else [
            'model.teacher_precision=' + ('fp32' if args.precision == 'fp32' else 'auto'),
            *args.distill_options]

    if args.configs_only:  # the plan made here, not kept: the first training makes its own
        precision_words, flags = training_plan(args, configs)
        print(f'    precision: {precision_words}')
        print('--configs-only: the trainings this command would run next:')
        seed = f'randomness.seed={args.seeds[0]}'
        todo = [] if args.teacher_ckpt else [(configs['teacher'], teacher_dir, 'teacher', [])]
        todo += [(configs[m], osp.join(runs_dir, m, f'seed{args.seeds[0]}'), 'student',
                  cfg_options(m)) for m in ['baseline', *args.methods]]
        for config, work_dir, role, options in todo:
            print('  ' + ' '.join(['python', 'tools/train.py', config, '--work-dir', work_dir,
                                   *flags.get(role, []), '--cfg-options', *options, seed]))
        return []
    teacher_name = model_name(args.family, args.teacher)
    stage(4, f'train: teacher {teacher_name}, students {model_name(args.family, args.student)}'
          f': baseline + {" ".join(args.methods)} x seeds {args.seeds}')
    t0 = time.time()
    precision_words, flags = planned(args, configs, runs_dir)
    print(f'    precision: {precision_words}', flush=True)
    runs = []
    teacher_run = dict(key='teacher', method='teacher', seed=args.seeds[0],
                       label=f'teacher {teacher_name}', config=configs['teacher'])
    if args.teacher_ckpt:  # no training log: its val mAP from one evaluation, for its lead
        teacher_run.update(work_dir=osp.join(runs_dir, 'teacher_given'), given=True,
                           ckpt=args.teacher_ckpt, label=f'teacher {teacher_name} (given)')
        teacher_run['val'] = m = tested(configs['teacher'], args.teacher_ckpt,
                                        teacher_run['work_dir'], 'val')
        print(f'    teacher: given, {args.teacher_ckpt}: val mAP50-95 '
              f'{m["coco/bbox_mAP"]:.3f}, mAP50 {m["coco/bbox_mAP_50"]:.3f}', flush=True)
    else:
        teacher_run.update(work_dir=teacher_dir, ckpt=train(
            configs['teacher'], teacher_dir, 'teacher', args.teacher_epochs, args.seeds[0],
            flags.get('teacher', [])))
    runs.append(teacher_run)
    for seed in args.seeds:
        for method in ['baseline', *args.methods]:
            work_dir = osp.join(runs_dir, method, f'seed{seed}')
            label = f'{method} seed {seed}'
            ckpt = train(configs[method], work_dir, label, args.epochs, seed,
                         flags.get('student', []), cfg_options(method))
            runs.append(dict(key=f'{method}_seed{seed}', method=method, seed=seed, label=label,
                             config=configs[method], work_dir=work_dir, ckpt=ckpt))
            if method == 'baseline' and seed == args.seeds[0]:
                lead = teacher_lead_words(teacher_run, work_dir, seed)
                if lead:
                    print(lead, flush=True)
    timings['train'] = time.time() - t0

    t0 = time.time()
    stage(5, 'export: each distilled student as a plain MMYOLO model')
    for run in runs:
        run['eval_config'], run['eval_ckpt'] = run['config'], run['ckpt']
        if run['method'] not in ('teacher', 'baseline'):
            run['eval_config'], run['eval_ckpt'] = export(
                run['config'], run['ckpt'], osp.join(run['work_dir'], 'student'), run['label'],
                args.img_size)
    timings['export'] = time.time() - t0

    t0 = time.time()
    has_test = 'test' in data.ann_files
    stage(6, 'eval: val split (final validation of each run)' +
          (' and test split (tools/test.py)' if has_test else '; the data have no test split'))
    for run in runs:
        evaluate(run, has_test)
    timings['eval'] = time.time() - t0

    t0 = time.time()
    stage(7, f'speed: images/s at batch 1 over {args.speed_images} val images, detections')
    first = args.seeds[0]
    for run in runs:
        if run['seed'] == first:
            speed(run, args, args.out)
    timings['speed'] = time.time() - t0

    stage(8, 'report')
    from kd_plugins.report import write_report
    text = write_report(args, data, runs, precision_words, timings, time.time() - t_start,
                        shares)
    print(text)
    print(f'\nreport: {osp.join(args.out, "report.md")} (and report.csv, runs.csv, curves.png, '
          f'detections.png); configs: {cfg_dir}; runs: {runs_dir}')
    return runs


if __name__ == '__main__':
    main()
