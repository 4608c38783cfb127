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


def unannotated(path: str) -> list:
    """Module- and class-level public functions of ``path`` with an argument (other than
    self / cls / *args / **kwargs) or a return value that has no type hint."""
    import ast
    with open(path) as f:
        tree = ast.parse(f.read())
    found = []
    scopes = [tree] + [n for n in tree.body if isinstance(n, ast.ClassDef)]
    for scope in scopes:
        for node in scope.body:
            if not isinstance(node, ast.FunctionDef) or (node.name.startswith('_')
                                                         and node.name != '__init__'):
                continue
            args = [a for a in node.args.args + node.args.kwonlyargs
                    if a.arg not in ('self', 'cls') and a.annotation is None]
            if args or (node.returns is None and node.name != '__init__'):
                found.append(f'{path}:{node.lineno} {node.name}')
    return found


def test_unannotated_finds_what_it_should(tmp_path):
    src = tmp_path / 'm.py'
    src.write_text('def a(x: int) -> int:\n    return x\n\n\ndef b(x):\n    return x\n\n\n'
                   'class C:\n    def __init__(self, y: int):\n        pass\n\n'
                   '    def f(self) -> None:\n        pass\n\n    def g(self, z) -> None:\n'
                   '        pass\n\n    def _h(self, w):\n        pass\n')
    assert [s.split(' ')[1] for s in unannotated(str(src))] == ['b', 'g']


def test_public_functions_of_the_upstream_bound_modules_have_type_hints():
    """What is meant to go to MMRazor / MMYOLO (models: losses, connectors, distillers, heads,
    task modules, algorithms; engine: hooks, wrappers; evaluation) carries type hints, as
    their codebases do."""
    import glob
    import os.path as osp
    files = [p for d in ('models', 'engine', 'evaluation')
             for p in glob.glob(osp.join(ROOT, 'kd_plugins', d, '**', '*.py'), recursive=True)]
    assert len(files) > 15
    missing = [m for p in sorted(files) for m in unannotated(p)]
    assert not missing, 'no type hints: ' + '; '.join(missing)
