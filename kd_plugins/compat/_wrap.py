"""The one way the compat fixes replace an upstream function: wrapped once, original kept."""
from typing import Callable

ORIGINAL = '__kd_plugins_original__'  # attribute of a wrapper that holds the upstream function


def wrap_once(owner: type, name: str, make_wrapper: Callable[[Callable], Callable],
              static: bool = False) -> bool:
    """Replace ``owner.name`` by ``make_wrapper(original)`` unless already wrapped.

    Args:
        owner (type): The class holding the function.
        name (str): The attribute name.
        make_wrapper (callable): Takes the upstream function, returns its replacement.
        static (bool): The attribute is a ``staticmethod``.

    Returns:
        bool: True if it was wrapped now, False if it already was.
    """
    current = owner.__dict__[name]
    original = current.__func__ if static else current
    if hasattr(original, ORIGINAL):
        return False
    wrapper = make_wrapper(original)
    wrapper.__doc__ = original.__doc__
    setattr(wrapper, ORIGINAL, original)
    setattr(owner, name, staticmethod(wrapper) if static else wrapper)
    return True
