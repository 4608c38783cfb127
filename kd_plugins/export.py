"""Export the student of a distillation checkpoint as a plain MMYOLO checkpoint and config."""
import copy
import inspect
import os
import os.path as osp
from typing import Any, Dict, List, Optional, Set, Tuple

import torch

STUDENT_PREFIX = 'architecture.'


def package_types() -> Dict[str, type]:
    """Every name that ``kd_plugins`` registers, in any OpenMMLab registry (MMEngine's roots
    and their MMDet / MMYOLO / MMRazor children): ``{name: class}``."""
    import mmengine.registry as root
    from mmengine.registry import Registry

    import kd_plugins  # noqa: F401  (registers its modules)
    found: Dict[str, type] = {}
    todo = [r for r in vars(root).values() if isinstance(r, Registry)]
    seen: Set[int] = set()
    while todo:
        reg = todo.pop()
        if id(reg) in seen:
            continue
        seen.add(id(reg))
        todo.extend(reg.children.values())
        for name, cls in reg.module_dict.items():
            if getattr(cls, '__module__', '').startswith('kd_plugins.'):
                found[name] = cls
    return found


# what only training with this package uses: a dataset type that adds checks to an upstream one
# (its own arguments are dropped with it), hooks and metrics a deployed model does not need
_UPSTREAM_DATASET = {'CheckedYOLOv5CocoDataset': 'YOLOv5CocoDataset'}
_TRAINING_ONLY = ('EpochSeedHook', 'HostMemoryHook', 'KDLossScheduleHook',
                  'DetPrecisionRecallMetric')


def _own_arguments(cls: type) -> Set[str]:
    return {n for n, p in inspect.signature(cls.__init__).parameters.items()
            if n != 'self' and p.kind is p.KEYWORD_ONLY}


def _plain(node: Any, ours: Dict[str, type], needed: Set[str]) -> Any:
    """``node`` with this package's training-only types replaced or removed; the package
    types that remain are added to ``needed``. ``None`` means: drop this entry."""
    if isinstance(node, dict):
        kind = node.get('type')
        if kind in _TRAINING_ONLY:
            return None
        if kind in _UPSTREAM_DATASET:
            node = {k: v for k, v in node.items() if k not in _own_arguments(ours[kind])}
            node['type'] = _UPSTREAM_DATASET[kind]
        elif isinstance(kind, str) and kind in ours:
            needed.add(kind)
        out = {}
        for k, v in node.items():
            v = _plain(v, ours, needed)
            if v is not None:
                out[k] = v
        return out
    if isinstance(node, (list, tuple)):
        items = [v for v in (_plain(v, ours, needed) for v in node) if v is not None]
        return type(node)(items)
    return node


def _primitive(node: Any) -> Any:
    """``node`` reduced to what ``torch.load(weights_only=True)`` reads without an allow-list
    (numbers, strings, lists, tuples, dicts; numpy scalars become numbers); other objects are
    dropped, so that MMEngine loads the exported checkpoint on torch >= 2.6 without this
    package's checkpoint fix."""
    if isinstance(node, (bool, int, float, str)) or node is None:
        return node
    if hasattr(node, 'item') and getattr(node, 'ndim', 1) == 0:  # numpy / torch scalar
        return node.item()
    if isinstance(node, dict):
        out = {}
        for k, v in node.items():
            v = _primitive(v)
            if v is not None or node[k] is None:
                out[str(k)] = v
        return out
    if isinstance(node, (list, tuple)):
        return type(node)(_primitive(v) for v in node)
    return None


def plain_config(cfg: Any) -> Tuple[Any, List[str]]:
    """The student's config as a deployed model needs it: without this package's training
    helpers (the checked dataset becomes MMYOLO's ``YOLOv5CocoDataset``, whose own filter of
    invalid boxes then applies; the seed and memory hooks and the precision/recall metric are
    dropped) and, when no type of this package is left, without ``custom_imports`` of it.
    Returns ``(config, types)``: ``types`` are the package's types the model still needs (e.g.
    ``KDYOLOv5LDHead``); then the config imports ``kd_plugins`` in one ``custom_imports`` line
    and nothing else of it."""
    from mmengine.config import Config
    ours = package_types()
    needed: Set[str] = set()
    data = _plain(copy.deepcopy(cfg.to_dict()), ours, needed)
    imports = [i for i in data.get('custom_imports', {}).get('imports', [])
               if i != 'kd_plugins' and not i.startswith('kd_plugins.')]
    data.pop('custom_imports', None)
    if needed:
        imports = ['kd_plugins'] + imports
    if imports:
        data['custom_imports'] = dict(imports=imports, allow_failed_imports=False)
    for key in ('val_evaluator', 'test_evaluator'):  # a list left with one metric
        if isinstance(data.get(key), list) and len(data[key]) == 1:
            data[key] = data[key][0]
    return Config(data), sorted(needed)


def write_plain_config(cfg: Any, path: str) -> List[str]:
    """Dump :func:`plain_config` of ``cfg`` to ``path``, with a first comment line naming the
    package's types the model needs when it keeps the import of ``kd_plugins``; returns them."""
    deploy_cfg, needs = plain_config(cfg)
    deploy_cfg.dump(path)
    if needs:  # say why the one import line is there
        with open(path) as f:
            text = f.read()
        with open(path, 'w') as f:
            f.write(f"# the model needs the kd_plugins package for {', '.join(needs)}\n{text}")
    return needs


#: what :func:`save_student` writes into its folder (and removes from it first)
SAVED_STUDENT_FILES = ('student.py', 'student.pth', 'end2end.onnx', 'chosen.json')


def clear_saved_student(out_dir: str) -> None:
    """Remove what :func:`save_student` wrote into ``out_dir`` (nothing else in it)."""
    for name in SAVED_STUDENT_FILES:
        if osp.isfile(osp.join(out_dir, name)):
            os.remove(osp.join(out_dir, name))


def save_student(config: str, checkpoint: str, out_dir: str, info: Dict[str, Any],
                 img_size: int = 0) -> Dict[str, str]:
    """Copy a trained plain detector (a student trained alone, or one exported by
    :func:`export_student`) into ``out_dir`` as the files a deployment needs, replacing what an
    earlier call wrote there: ``student.py`` (:func:`plain_config` of ``config``),
    ``student.pth`` (the weights the model validates with, the EMA ones when the run used EMA,
    as MMEngine saves them; no optimizer or training state), ``chosen.json`` (``info``, and the
    source ``config`` and ``checkpoint`` as paths relative to ``out_dir``, so that they still
    resolve after the folder that holds both is moved) and,
    with ``img_size`` and onnx installed, ``end2end.onnx`` (:func:`kd_plugins.deploy.export_onnx`
    for input (1, 3, img_size, img_size); when it cannot be written, why not is returned and the
    rest stands).

    The copy is checked on the spot: built from the written files it must give the same
    outputs as the model of ``config`` + ``checkpoint`` (eval mode, ``mode='tensor'``, one
    random batch), else ``RuntimeError``. Returns the written paths by kind (``config``,
    ``checkpoint``, ``info`` and ``onnx``, or ``onnx_skipped``: why not).
    """
    import json

    from mmengine.config import Config
    from mmengine.runner import save_checkpoint

    from .compat.checkpoint import safe_torch_load
    from .demo import load_detector
    cfg = Config.fromfile(config)
    if 'distiller' in cfg.model:
        raise ValueError(f'{config} is a distillation config: export its student first '
                         '(tools/export_student.py)')
    os.makedirs(out_dir, exist_ok=True)
    clear_saved_student(out_dir)
    paths = dict(config=osp.join(out_dir, 'student.py'),
                 checkpoint=osp.join(out_dir, 'student.pth'),
                 info=osp.join(out_dir, 'chosen.json'))
    write_plain_config(cfg, paths['config'])
    ckpt = safe_torch_load(checkpoint, map_location='cpu')  # never runs pickled code
    meta = _primitive(dict(ckpt.get('meta', {})))
    meta.update(copied_from=osp.abspath(checkpoint))
    save_checkpoint(dict(state_dict=ckpt.get('state_dict', ckpt), meta=meta),
                    paths['checkpoint'])
    source = load_detector(cfg, checkpoint)  # the config parsed above
    copy_ = load_detector(paths['config'], paths['checkpoint'])
    torch.manual_seed(0)
    x = torch.rand(1, 3, img_size or 64, img_size or 64)
    with torch.no_grad():
        diff = _outputs_max_diff(source(x, mode='tensor'), copy_(x, mode='tensor'))
    if diff != 0:
        raise RuntimeError(f'the copy of {checkpoint} in {out_dir} gives other outputs '
                           f'(max abs difference {diff:g})')
    if img_size:
        try:
            from . import deploy
            deploy.check_opset(deploy.DEFAULT_OPSET)
        except ImportError as e:
            paths['onnx_skipped'] = str(e)
        else:
            try:
                paths['onnx'] = deploy.export_onnx(copy_, osp.join(out_dir, 'end2end.onnx'),
                                                   img_size, 'end2end')
            except ValueError as e:  # the exporter's refusal, in words; the copy stands
                paths['onnx_skipped'] = str(e)
    with open(paths['info'], 'w') as f:
        json.dump(dict(info, config=osp.relpath(config, out_dir),
                       checkpoint=osp.relpath(checkpoint, out_dir)), f, indent=1)
    return paths


def student_state_dict(state: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """The student's weights of a distillation ``state_dict`` (``architecture.*``), renamed as
    a plain detector's; teacher, connectors and distiller weights are left out."""
    if not any(k.startswith(STUDENT_PREFIX) for k in state):
        raise ValueError('no student weights (architecture.*) in this checkpoint: it is not a '
                         'distillation checkpoint (a plain detector checkpoint needs no export)')
    return {k[len(STUDENT_PREFIX):]: v for k, v in state.items() if k.startswith(STUDENT_PREFIX)}


def _outputs_max_diff(a, b) -> float:
    if isinstance(a, torch.Tensor):
        if not a.numel():
            return 0.
        d = (a.float() - b.float()).abs()
        d[torch.isnan(a) & torch.isnan(b)] = 0.  # NaN where both are NaN counts as equal
        return float(d.nan_to_num(nan=float('inf')).max())
    if isinstance(a, (list, tuple)):
        if len(a) != len(b):
            raise ValueError('the two models return different numbers of outputs')
        return max((_outputs_max_diff(x, y) for x, y in zip(a, b)), default=0.)
    raise TypeError(f'unexpected output type {type(a)}')


def export_student(config: str, checkpoint: str, out_dir: str, img_size: int = 256,
                   config_name: Optional[str] = None) -> Tuple[str, str, float]:
    """Write ``<out_dir>/<config_name>`` and ``<out_dir>/student.pth``.

    ``config_name`` defaults to the file name of the student's config (``model.architecture``'s
    ``cfg_path``); a name with a folder in it, or not ending in ``.py``, is refused.

    The exported student is checked on the spot: built from the written config and loaded from
    the written checkpoint, it must give the same outputs as the student inside the distiller
    loaded from ``checkpoint`` (eval mode, ``mode='tensor'``, one random batch of 2 images of
    ``img_size``); the maximum absolute difference is returned (0 when the export is exact).

    Returns:
        tuple: (config path, checkpoint path, maximum absolute difference).
    """
    from mmengine.config import Config
    from mmengine.registry import DefaultScope
    from mmengine.runner import load_state_dict, save_checkpoint
    from mmrazor.registry import MODELS as RAZOR

    from .compat.checkpoint import safe_torch_load
    from .demo import load_detector
    if config_name is not None and (osp.basename(config_name) != config_name
                                    or not config_name.endswith('.py') or config_name == '.py'):
        raise ValueError(f'the exported config\'s name must be a file name ending in .py, '
                         f'got {config_name!r}')
    cfg = Config.fromfile(config)
    if 'distiller' not in cfg.model:
        raise ValueError(f'{config} is not a distillation config (no model.distiller)')
    arch = cfg.model.architecture
    if 'cfg_path' not in arch:
        raise ValueError('the student (model.architecture) must be given as '
                         'dict(cfg_path=...) to export a config for it')
    student_cfg = Config.fromfile(arch.cfg_path)
    ckpt = safe_torch_load(checkpoint, map_location='cpu')  # never runs pickled code
    state = ckpt.get('state_dict', ckpt)
    student_state = student_state_dict(state)

    os.makedirs(out_dir, exist_ok=True)
    cfg_out = osp.join(out_dir, config_name or osp.basename(arch.cfg_path))
    write_plain_config(student_cfg, cfg_out)
    ckpt_out = osp.join(out_dir, 'student.pth')
    meta = _primitive(dict(ckpt.get('meta', {})))  # loadable with torch.load(weights_only=True)
    meta.update(exported_from=osp.abspath(checkpoint), distillation_config=osp.abspath(config))
    save_checkpoint(dict(state_dict=student_state, meta=meta), ckpt_out)

    with DefaultScope.overwrite_default_scope('mmyolo'):
        algorithm = RAZOR.build(dict(cfg.model, teacher_ckpt=None))
        load_state_dict(algorithm, state, strict=True)
    plain = load_detector(cfg_out, ckpt_out)  # as a user of the exported files would
    inner = algorithm.student.eval()
    torch.manual_seed(0)
    x = torch.rand(2, 3, img_size, img_size)  # a normalised batch, the same for both
    with torch.no_grad():
        diff = _outputs_max_diff(inner(x, mode='tensor'), plain(x, mode='tensor'))
    return cfg_out, ckpt_out, diff
