"""``yolov5_collate() got an unexpected keyword argument '_scope_'`` in configs inheriting ``mmyolo::``.

Upstream: MMEngine 0.10.7 ``Config`` adds ``_scope_='mmyolo'`` to every dict that has a ``type`` in
a base config loaded through the ``mmyolo::`` prefix, ``train_dataloader.collate_fn`` included;
``Runner.build_dataloader`` then pops only ``type`` and binds the rest as keyword arguments,
``_scope_`` too (open-mmlab/mmyolo issue 886).

Fix: ``Runner.build_dataloader`` is wrapped so that ``_scope_`` is removed from a ``collate_fn``
dict before MMEngine sees it. The type is then looked up exactly as for MMYOLO's own configs, which
carry no ``_scope_`` (MMYOLO registers ``yolov5_collate`` in MMEngine's root ``FUNCTIONS``
registry, so a ``mmyolo.`` prefix would not resolve). The user's config object is not modified.
"""
import copy

_ATTR = '__kd_plugins_original__'


def fix_collate_cfg(dataloader_cfg):
    """Return a copy of ``dataloader_cfg`` without ``collate_fn._scope_`` (or the same object
    when there is nothing to remove)."""
    if not isinstance(dataloader_cfg, dict):
        return dataloader_cfg
    collate = dataloader_cfg.get('collate_fn')
    if not isinstance(collate, dict) or '_scope_' not in collate:
        return dataloader_cfg
    dataloader_cfg = copy.copy(dataloader_cfg)
    dataloader_cfg['collate_fn'] = {k: v for k, v in collate.items() if k != '_scope_'}
    return dataloader_cfg


def apply() -> bool:
    """Wrap ``Runner.build_dataloader`` (idempotent). Returns True if it was wrapped now."""
    from mmengine.runner import Runner
    current = Runner.__dict__['build_dataloader']
    if hasattr(current.__func__, _ATTR):
        return False
    original = current.__func__

    def build_dataloader(dataloader, *args, **kwargs):
        return original(fix_collate_cfg(dataloader), *args, **kwargs)

    build_dataloader.__doc__ = original.__doc__
    setattr(build_dataloader, _ATTR, original)
    Runner.build_dataloader = staticmethod(build_dataloader)
    return True
