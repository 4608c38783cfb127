"""Config files for a user's dataset: a teacher, a student trained alone (the baseline) and one
distilled student per method, written as ordinary MMEngine configs that inherit this project's
configs, so that each can be read, edited and re-run with ``tools/train.py``.

Each written config states the dataset and the schedule once, at its top (``img_scale``,
``max_epochs``, ``val_interval``, ``base_lr``, ...), and derives from them everything that
depends on them: the pipelines (mosaic, affine border, resizes), the evaluation's batch shapes,
the scheduler, the no-mosaic switch of YOLOv8, the validation and checkpoint intervals, and the
loss weights that MMYOLO scales by class count and input size. MMEngine resolves a base file's
variables when it parses it, so a child that only changed ``max_epochs`` would leave those
derived values at the base's; restating them here is what makes the one place work.

Used by ``tools/distill.py``; :data:`FAMILIES` lists the models and methods of each family.
"""
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))

# Every family's models: the demo config per size (the project's CPU recipe: 256 px, batch 8),
# or (base size, deepen factor, widen factor) for a size derived from another one.
# Methods: the project's distillation config whose distiller the written config takes; its
# student and teacher are replaced by the written ones.
FAMILIES = {
    'yolov5': dict(
        # the LD head (box edges as distributions) on every model, as in the main job: LD needs
        # it, and the same architecture for every student keeps the comparison fair
        models={
            'n': 'configs/yolov5/yolov5_n-ld-v61_fast_1xb8-30e_demo.py',
            's': 'configs/yolov5/yolov5_s-ld-v61_fast_1xb8-30e_demo.py',
            'm': ('s', 0.67, 0.75),
            'l': ('s', 1.0, 1.0),
        },
        methods={
            'cwd': 'configs/cwd/cwd_fpn_yolov5-s_yolov5-n_1xb8-30e_demo.py',
            'cwd_att': 'configs/cwd/cwd-att_fpn_yolov5-s_yolov5-n_1xb8-30e_demo.py',
            'cwd_tatt': 'configs/cwd/cwd-teacher-att_fpn_yolov5-s_yolov5-n_1xb8-30e_demo.py',
            'ld': 'configs/ld/ld_yolov5-s_yolov5-n_1xb8-30e_demo.py',
            'ld_cwd_att': 'configs/ld/ld-cwd-att_yolov5-s_yolov5-n_1xb8-30e_demo.py',
            'ld_cwd_att_parts':
                'configs/ld/ld-cwd-att-parts_yolov5-s_yolov5-n_1xb8-30e_demo.py',
            'ld_full_labels': 'configs/ld/ld-full-labels_yolov5-s_yolov5-n_1xb8-30e_demo.py',
            'ld_obj_kl': 'configs/ld/ld-obj-kl_yolov5-s_yolov5-n_1xb8-30e_demo.py',
        },
        # what tools/distill.py runs without --methods: the two YOLOv5 recipes above the student
        # alone at every paired seed wherever they ran on real data, CWD+attention first; LD with
        # the objectness KD as KL in place of Huang et al.'s form (docs/custom_dataset.md, "What
        # became the default"); the others, ld included, opt-in by name
        default_methods=('cwd_att', 'ld_obj_kl'),
        lr_times_batch=0.64),  # tools/distill.py's default lr x batch size (see default_lr)
    'yolov8': dict(
        models={
            'n': 'configs/yolov8/yolov8_n_fast_1xb8-30e_demo.py',
            's': 'configs/yolov8/yolov8_s_fast_1xb8-30e_demo.py',
            'm': 'configs/yolov8/yolov8_m_fast_1xb8-30e_demo.py',
            'l': 'configs/yolov8/yolov8_l_fast_1xb8-30e_demo.py',
        },
        methods={
            'cwd': 'configs/cwd/cwd_fpn_yolov8-s_yolov8-n_1xb8-30e_demo.py',
            'cwd_att': 'configs/cwd/cwd-att_fpn_yolov8-s_yolov8-n_1xb8-30e_demo.py',
            'cwd_tatt': 'configs/cwd/cwd-teacher-att_fpn_yolov8-s_yolov8-n_1xb8-30e_demo.py',
            'ld': 'configs/ld/ld_yolov8-s_yolov8-n_1xb8-30e_demo.py',
            'ld_cwd_att': 'configs/ld/ld-cwd-att_yolov8-s_yolov8-n_1xb8-30e_demo.py',
            'ld_clskd': 'configs/ld/ld-clskd_yolov8-s_yolov8-n_1xb8-30e_demo.py',
        },
        # CWD+attention and LD: each above the student alone at every paired seed in every
        # real-data run; plain CWD opt-in by name since the demo, where it fell below the
        # student alone at every seed and it was never ahead of CWD+attention on average
        # anywhere (docs/custom_dataset.md, "What became the default")
        default_methods=('cwd_att', 'ld'),
        lr_times_batch=None),  # None: the family config's lr (see default_lr)
}
METHOD_NAMES = {'baseline': 'baseline (no KD)', 'cwd': 'CWD', 'cwd_att': 'CWD+attention',
                'cwd_tatt': 'CWD+teacher attention', 'ld': 'LD', 'ld_cwd_att': 'LD+CWD+attention',
                'ld_clskd': 'LD+classification KD',
                'ld_cwd_att_parts': 'LD+CWD+attention, a share per part',
                'ld_full_labels': 'LD, full label loss',
                'ld_obj_kl': 'LD, objectness KD as KL'}
SIZES = ('n', 's', 'm', 'l')

# Project's choice: the default learning rate of tools/distill.py is a family's ``lr_times_batch``
# / batch size (YOLOv5: 0.64). MMYOLO's YOLOv5 and YOLOv8 heads multiply their losses by the number
# of images in the batch, so an SGD step grows with the batch: MMYOLO's recipe (lr 0.01 for 8 GPUs
# x 16 images) steps by lr x images = 1.28, and the same lr 0.01 at batch 8 takes steps 16 times
# smaller. For YOLOv5 that leaves a short schedule barely started: on the demo 0.08 at batch 8 gave
# 0.118 mAP50-95 where 0.01 gave 0.017 (docs/getting_started.md), so 0.64 (half the recipe's step).
# For YOLOv8 the family's 0.01 stays: 0.08 did not train the YOLOv8-S teacher faster on the
# hard-hat data (mAP50-95 0.003 at epoch 5 against 0.007 with 0.01; docs/custom_dataset.md), and
# 0.01 trained it on potholes (docs/cwd.md).


def default_lr(family: str, batch_size: int) -> Optional[float]:
    """tools/distill.py's learning rate when ``--lr`` is not given; None keeps the family
    config's (see the comment above)."""
    per_image = FAMILIES[family]['lr_times_batch']
    return None if per_image is None else per_image / batch_size


# Project's choice: YOLOv8 turns mosaic off for the last sixth of a short schedule (MMYOLO: the
# last 10 of 500 epochs; the demo configs: 5 of 30).
CLOSE_MOSAIC = 'max(1, max_epochs // 6)'

_HELPERS = '''

def _at_size(pipeline):
    """The pipeline at img_scale: mosaic canvas, affine border and resizes follow it."""
    out = []
    for t in pipeline:
        t = dict(t)
        if t['type'] == 'Mosaic':
            t['img_scale'] = img_scale
        elif t['type'] in ('YOLOv5KeepRatioResize', 'LetterResize', 'mmdet.Resize'):
            t['scale'] = img_scale
        elif t['type'] == 'YOLOv5RandomAffine' and 'border' in t:
            t['border'] = (-img_scale[0] // 2, -img_scale[1] // 2)
        out.append(t)
    return out


def _dataset(dataset, ann_file, pipeline):
    """A dataloader's dataset on this data; the data were decoded once when converted, so
    loading only checks that each file is there."""
    dataset = dict(dataset, data_root=data_root, metainfo=metainfo, ann_file=ann_file,
                   data_prefix=dict(img=image_root), pipeline=pipeline, check_images='exists')
    if dataset.get('batch_shapes_cfg'):
        dataset['batch_shapes_cfg'] = dict(dataset['batch_shapes_cfg'], img_size=img_scale[0])
    return dataset


def _evaluator(evaluator, ann_file):
    """The COCO metric (first of a list) reads ann_file; other metrics are kept."""
    if isinstance(evaluator, (list, tuple)):
        return [_evaluator(evaluator[0], ann_file), *evaluator[1:]]
    return dict(evaluator, ann_file=ann_file)


def _hooks(hooks):
    """YOLOv8's no-mosaic switch follows max_epochs and the pipeline above."""
    out = []
    for h in hooks:
        h = dict(h)
        if h['type'] == 'mmdet.PipelineSwitchHook':
            h.update(switch_epoch=max_epochs - close_mosaic_epochs,
                     switch_pipeline=train_pipeline_stage2)
        out.append(h)
    return out
'''


def model_name(family: str, size: str) -> str:
    """'YOLOv8-S' for ('yolov8', 's')."""
    return f'YOLOv{family[-1]}-{size.upper()}'


def _palette(n: int) -> List[tuple]:
    """``n`` distinct colours (evenly spaced hues)."""
    import colorsys
    return [tuple(int(255 * c) for c in colorsys.hsv_to_rgb(i / max(n, 1), 0.8, 0.95))
            for i in range(n)]


def model_config(family: str, size: str) -> str:
    """The project config of a model (absolute path) and, for a derived size, its factors."""
    spec = FAMILIES[family]['models'][size]
    return osp.join(ROOT, spec if isinstance(spec, str) else FAMILIES[family]['models'][spec[0]])


def neck_channels(family: str, size: str) -> List[int]:
    """Output channels of the model's three neck levels (what CWD compares)."""
    import math

    from mmengine.config import Config
    spec = FAMILIES[family]['models'][size]
    cfg = Config.fromfile(model_config(family, size))
    widen = cfg.model.neck.widen_factor if isinstance(spec, str) else spec[2]
    return [math.ceil(c * widen / 8) * 8 for c in cfg.model.neck.out_channels]


def settings_block(data, family: str, img_size: int, epochs: int, val_interval: int,
                   lr: Optional[float], warmup_epochs: int, batch_size: int) -> str:
    """The dataset and schedule part of every written config (see the module docstring)."""
    ann = data.ann_files
    test = ann.get('test', ann['val'])
    lines = [
        '# ======================== the dataset ========================',
        f'# {data.layout} data from {data.source}, converted by tools/distill.py',
        "data_root = ''  # ann files are absolute; file names in them are relative to image_root",
        f'image_root = {osp.join(data.image_root, "")!r}',
        f'train_ann_file = {ann["train"]!r}',
        f'val_ann_file = {ann["val"]!r}',
        f'test_ann_file = {test!r}' + ('' if 'test' in ann else '  # no test split: val'),
        f'class_name = {tuple(data.classes)!r}',
        'num_classes = len(class_name)',
        f'metainfo = dict(classes=class_name, palette={_palette(len(data.classes))!r})',
        '# ================ the schedule: change these, the rest follows ================',
        f'img_scale = ({img_size}, {img_size})  # width, height; a multiple of 32',
        f'max_epochs = {epochs}',
        f'val_interval = {min(val_interval, epochs)}  # validation and checkpoint every N '
        'epochs, and after the last',
        f'warmup_epochs = {warmup_epochs}',
        f'train_batch_size_per_gpu = {batch_size}',
    ]
    if lr is not None:
        lines.append(f'base_lr = {lr!r}')
    else:
        lines.append('base_lr = _base_.base_lr  # the family recipe')
    if family == 'yolov8':
        lines.append(f'close_mosaic_epochs = {CLOSE_MOSAIC}  # the last epochs train without '
                     'mosaic')
    lines.append('# ==============================================================')
    text = '\n'.join(lines) + '\n' + _HELPERS + '\n'
    text += 'train_pipeline = _at_size(_base_.train_pipeline)\n'
    if family == 'yolov8':
        text += 'train_pipeline_stage2 = _at_size(_base_.train_pipeline_stage2)\n'
    text += '''test_pipeline = _at_size(_base_.test_pipeline)

train_dataloader = dict(
    batch_size=train_batch_size_per_gpu,
    dataset=_dataset(_base_.train_dataloader.dataset, train_ann_file, train_pipeline))
val_dataloader = dict(
    dataset=_dataset(_base_.val_dataloader.dataset, val_ann_file, test_pipeline))
test_dataloader = dict(
    dataset=_dataset(_base_.val_dataloader.dataset, test_ann_file, test_pipeline))
val_evaluator = _evaluator(_base_.val_evaluator, val_ann_file)
test_evaluator = _evaluator(_base_.val_evaluator, test_ann_file)

optim_wrapper = dict(optimizer=dict(lr=base_lr, batch_size_per_gpu=train_batch_size_per_gpu))
default_hooks = dict(
    param_scheduler=dict(max_epochs=max_epochs, warmup_epochs=warmup_epochs),
    checkpoint=dict(interval=val_interval))
custom_hooks = _hooks(_base_.custom_hooks)
train_cfg = dict(max_epochs=max_epochs, val_interval=val_interval, dynamic_intervals=None)
'''
    return text


def _model_block(family: str, size: str) -> str:
    """What the model takes from the data (class count; YOLOv5's loss weights) and its size."""
    spec = FAMILIES[family]['models'][size]
    if family == 'yolov8':
        return '''
model = dict(
    bbox_head=dict(head_module=dict(num_classes=num_classes)),
    train_cfg=dict(assigner=dict(num_classes=num_classes)))
'''
    size_lines = ''
    if not isinstance(spec, str):
        _, deepen, widen = spec
        size_lines = (f'    backbone=dict(deepen_factor={deepen}, widen_factor={widen}),\n'
                      f'    neck=dict(deepen_factor={deepen}, widen_factor={widen}),\n')
    head_widen = '' if isinstance(spec, str) else f', widen_factor={spec[2]}'
    return f'''
# MMYOLO scales YOLOv5's class and objectness loss weights by class count and input size.
model = dict(
{size_lines}    bbox_head=dict(
        head_module=dict(num_classes=num_classes{head_widen}),
        loss_cls=dict(loss_weight=0.5 * (num_classes / 80)),
        loss_obj=dict(loss_weight=1.0 * ((img_scale[0] / 640)**2))))
'''


_CONNECTORS = '''
student_channels = {student}  # neck outputs of the student
teacher_channels = {teacher}  # and of the teacher


def _connector(c, s, t):
    """A connector of the method at these widths (projector: s -> t; attention: t); a list
    (MMRazor's chain of connectors, applied in order) replaces the method's list."""
    if isinstance(c, (list, tuple)):
        return [_width(x, s, t) for x in c]
    return dict(_width(c, s, t), _delete_=True)


def _width(c, s, t):
    c = dict(c)
    if c['type'] == 'KDChannelProjector':
        c.update(student_channels=s, teacher_channels=t)
    elif c['type'] == 'KDChannelAttention':
        c['channels'] = t
    return c


'''


def write_configs(out_dir: str, data, family: str, teacher: str, student: str,
                  methods: Sequence[str], img_size: int, epochs: int, teacher_epochs: int,
                  teacher_ckpt: str, val_interval: int = 5, lr: Optional[float] = None,
                  warmup_epochs: int = 1, batch_size: int = 8,
                  distill_share: Optional[float] = None) -> Dict[str, str]:
    """Write ``teacher.py``, ``baseline.py`` and ``<method>.py`` into ``out_dir``.

    Args:
        data (PreparedData): The converted dataset (:func:`prepare_dataset`).
        family (str): 'yolov5' or 'yolov8'.
        teacher, student (str): Sizes, one of :data:`SIZES`.
        methods (Sequence[str]): Keys of ``FAMILIES[family]['methods']``.
        teacher_ckpt (str): The teacher checkpoint the distillation configs load.
        distill_share (float, optional): Written into every distillation config as the
            algorithm's ``distill_share`` (``KDYOLOTeacherDistill``: the distillation kept at
            that share of the total loss); 0 writes ``distill_share=None`` (the loss weights as
            configured); None keeps what each method's config sets (LD: 0.3).
        Others: the schedule (see :func:`settings_block`); ``lr=None`` keeps the family's.

    Returns:
        dict: 'teacher' / 'baseline' / method -> written config path.
    """
    if family not in FAMILIES:
        raise ValueError(f'unknown family {family!r}; one of {sorted(FAMILIES)}')
    for size in (teacher, student):
        if size not in FAMILIES[family]['models']:
            raise ValueError(f'unknown size {size!r}; one of {SIZES}')
    unknown = sorted(set(methods) - set(FAMILIES[family]['methods']))
    if unknown:
        raise ValueError(f'unknown methods {unknown} for {family}; one of '
                         f'{sorted(FAMILIES[family]["methods"])}')
    if img_size % 32:
        raise ValueError(f'input size {img_size} is not a multiple of 32 (the largest stride)')
    os.makedirs(out_dir, exist_ok=True)
    written = {}

    def write(name: str, text: str) -> None:
        path = osp.join(out_dir, f'{name}.py')
        with open(path, 'w') as f:
            f.write(text)
        written[name] = path

    header = ('# Written by tools/distill.py; an ordinary config: edit it and train with\n'
              '#   python tools/train.py {path}\n')
    for name, size, n_epochs in (('teacher', teacher, teacher_epochs),
                                 ('baseline', student, epochs)):
        role = 'teacher' if name == 'teacher' else 'student trained alone (the baseline)'
        text = (f'# {model_name(family, size)}, the {role}.\n' +
                header.format(path=osp.join(out_dir, f'{name}.py')) +
                f'_base_ = {model_config(family, size)!r}\n\n' +
                settings_block(data, family, img_size, n_epochs, val_interval, lr,
                               warmup_epochs, batch_size) + _model_block(family, size))
        write(name, text)
    for method in methods:
        base = osp.join(ROOT, FAMILIES[family]['methods'][method])
        text = (f'# {METHOD_NAMES[method]}: {model_name(family, teacher)} teacher -> '
                f'{model_name(family, student)} student, the distiller of\n# {base}.\n' +
                header.format(path=osp.join(out_dir, f'{method}.py')) +
                f'_base_ = {base!r}\n\n' +
                settings_block(data, family, img_size, epochs, val_interval, lr, warmup_epochs,
                               batch_size))
        model = (f'\nmodel = dict(\n'
                 f'    architecture=dict(cfg_path={written["baseline"]!r}),\n'
                 f'    teacher=dict(cfg_path={written["teacher"]!r}),\n'
                 f'    teacher_ckpt={teacher_ckpt!r}')
        if distill_share is not None:
            model += f',\n    distill_share={float(distill_share) if distill_share else None!r}'
        if 'cwd' in method:  # CWD's projectors at this pair's neck widths
            text += _CONNECTORS.format(student=neck_channels(family, student),
                                       teacher=neck_channels(family, teacher))
            model += (',\n    distiller=dict(connectors={\n'
                      '        k: _connector(c, student_channels[int(k[1:])], '
                      'teacher_channels[int(k[1:])])\n'
                      '        for k, c in _base_.model.distiller.connectors.items()}))\n')
        else:
            model += ')\n'
        write(method, text + model)
    return written
