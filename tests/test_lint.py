"""setup.cfg's lint and import-order settings hold for the repository (the checks of
.pre-commit-config.yaml, run here so that CI checks them too)."""
import subprocess
import sys

import pytest

from conftest import ROOT

PATHS = ['kd_plugins', 'tools', 'tests', 'configs', 'setup.py']


@pytest.mark.parametrize('check', [['flake8'], ['isort', '--check-only', '--diff']])
def test_lint(check):
    r = subprocess.run([sys.executable, '-m', *check, *PATHS], cwd=ROOT, capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 0, f'{check[0]} found:\n{r.stdout}{r.stderr}'
