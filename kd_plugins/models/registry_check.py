"""A config ``type`` that names nothing registered fails with the closest registered names."""
import difflib
from typing import Any

from mmrazor.registry import MODELS


class UnknownTypeError(KeyError):
    """A config ``type`` that is not registered (a ``KeyError``, as MMEngine raises)."""

    def __str__(self):
        return str(self.args[0])


def check_type(cfg: Any, what: str) -> None:
    """Raise :class:`UnknownTypeError` naming ``what`` (e.g. "connector 's0'") and the closest
    registered names when ``cfg['type']`` is a string MMRazor's ``MODELS`` (and its parents)
    cannot find; MMEngine's own message names neither the config entry nor an alternative."""
    kind = cfg.get('type') if isinstance(cfg, dict) else None
    if not isinstance(kind, str) or MODELS.get(kind) is not None:
        return
    names = sorted(set(MODELS.module_dict) | set(MODELS.parent.module_dict))
    close = difflib.get_close_matches(kind.split('.')[-1], names, n=3, cutoff=0.6)
    if close:
        hint = f"closest: {', '.join(close)}"
    else:
        hint = (f"kd_plugins registers {', '.join(n for n in names if n.startswith('KD'))} "
                "(imported through the config's custom_imports=dict(imports=['kd_plugins']))")
    raise UnknownTypeError(f"{what}: type '{kind}' is not registered; {hint}")
