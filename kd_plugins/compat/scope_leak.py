"""``_scope_`` leaking into dicts that are not registry configs, in configs inheriting ``mmyolo::``.

Upstream: MMEngine 0.10.7 ``Config`` adds ``_scope_='mmyolo'`` to dicts of a base config loaded
through the ``mmyolo::`` prefix: to the outermost dicts with a ``type`` (so
``train_dataloader.collate_fn``, whose parent has no ``type``), and to every dict of a base
variable the child config reads (``albu_train_transforms = _base_.albu_train_transforms``).
Two consumers pass such a dict's keys straight to a function:

* ``Runner.build_dataloader`` pops only ``type`` from ``collate_fn`` and binds the rest:
  ``TypeError: yolov5_collate() got an unexpected keyword argument '_scope_'``
  (open-mmlab/mmyolo issue 886);
* MMDetection's ``Albu.albu_builder`` pops only ``type`` from each albumentations transform:
  ``TypeError: MedianBlur.__init__() got an unexpected keyword argument '_scope_'``.

Fix: both are wrapped to drop ``_scope_`` first. Names are then looked up exactly as for MMYOLO's
own configs, which carry no ``_scope_`` (MMYOLO registers ``yolov5_collate`` in MMEngine's root
``FUNCTIONS`` registry; albumentations names are attributes of the albumentations module). The
user's config object is not modified.
"""
from ._wrap import ORIGINAL as _ATTR  # noqa: F401  (tests reach the upstream function)
from ._wrap import wrap_once


def _without_scope(cfg):
    return {k: v for k, v in cfg.items() if k != '_scope_'}


def fix_collate_cfg(dataloader_cfg):
    """Return a copy of ``dataloader_cfg`` without ``collate_fn._scope_`` (or the same object
    when there is nothing to remove)."""
    if not isinstance(dataloader_cfg, dict):
        return dataloader_cfg
    collate = dataloader_cfg.get('collate_fn')
    if not isinstance(collate, dict) or '_scope_' not in collate:
        return dataloader_cfg
    dataloader_cfg = dict(dataloader_cfg)
    dataloader_cfg['collate_fn'] = _without_scope(collate)
    return dataloader_cfg


def _apply_collate() -> bool:
    from mmengine.runner import Runner

    def make(original):

        def build_dataloader(dataloader, *args, **kwargs):
            return original(fix_collate_cfg(dataloader), *args, **kwargs)

        return build_dataloader

    return wrap_once(Runner, 'build_dataloader', make, static=True)


def _apply_albu() -> bool:
    from mmdet.datasets.transforms import Albu

    def make(original):

        def albu_builder(self, cfg):
            return original(self, _without_scope(cfg) if isinstance(cfg, dict) else cfg)

        return albu_builder

    return wrap_once(Albu, 'albu_builder', make)


def apply() -> bool:
    """Wrap ``Runner.build_dataloader`` and ``Albu.albu_builder`` (idempotent)."""
    return _apply_collate() | _apply_albu()
