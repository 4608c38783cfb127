"""The supported version matrix, checked at import with a message that says what to do."""
from importlib import metadata
from typing import Dict, Optional

from packaging.version import Version

# package: (minimum, maximum exclusive or None, why)
SUPPORTED = {
    'torch': ('2.6.0', None, 'safe checkpoint loading needs torch.serialization.safe_globals '
              'with named globals (tested: 2.13.0)'),
    'mmengine': ('0.10.7', '0.11.0', 'the compat fixes target MMEngine 0.10.7'),
    'mmcv': ('2.0.1', '2.0.2', 'mmyolo 0.6.0 needs mmcv < 2.1.0 and mmrazor 1.0.0 needs <= 2.1.0; '
             'build it with scripts/setup_env.sh'),
    'mmdet': ('3.3.0', '3.4.0', 'tested with 3.3.0'),
    'mmyolo': ('0.6.0', '0.7.0', 'tested with 0.6.0'),
    'mmrazor': ('1.0.0', '1.0.1', 'the quantization stand-in targets MMRazor 1.0.0'),
}


class UnsupportedVersionError(ImportError):
    """An installed package is outside the tested version matrix."""


def installed_versions() -> Dict[str, Optional[str]]:
    out = {}
    for name in SUPPORTED:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def check_versions(verbose: bool = False) -> Dict[str, Optional[str]]:
    """Raise :class:`UnsupportedVersionError` listing every package outside the matrix."""
    found = installed_versions()
    problems = []
    for name, (low, high, why) in SUPPORTED.items():
        ver = found[name]
        want = f'>={low}' + (f',<{high}' if high else '')
        if ver is None:
            problems.append(f'  {name}: not installed (need {want}; {why})')
            continue
        v = Version(Version(ver).base_version)
        if v < Version(low) or (high and v >= Version(high)):
            problems.append(f'  {name} {ver}: need {want} ({why})')
    if problems:
        raise UnsupportedVersionError(
            'kd_plugins needs a tested OpenMMLab stack:\n' + '\n'.join(problems) +
            '\nRun `bash scripts/setup_env.sh` (or `make setup`) to install it.')
    if verbose:
        print('kd_plugins stack: ' + ', '.join(f'{k} {v}' for k, v in found.items()))
    return found
