"""Every relative link of the project's markdown leads somewhere: the file exists and, when the
link names a section (``file.md#section``), that file has a heading with that anchor."""
import os.path as osp
import re
from functools import lru_cache
from glob import glob

import pytest

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
LINK = re.compile(r'\[[^\]]*\]\(([^)\s]+)\)')


def github_anchor(heading):
    """The anchor GitHub gives a markdown heading: lower case, punctuation dropped (hyphens
    and underscores kept), spaces to hyphens."""
    text = heading.strip().lower().replace('`', '')
    text = re.sub(r'[^\w\- ]', '', text)
    return text.replace(' ', '-')


@lru_cache(maxsize=None)
def anchors(path):
    seen, out = {}, set()
    in_code = False
    for line in open(path, encoding='utf-8'):
        if line.startswith('```'):
            in_code = not in_code
        if in_code or not line.startswith('#'):
            continue
        slug = github_anchor(line.lstrip('#'))
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        out.add(slug if n == 0 else f'{slug}-{n}')
    return out


def markdown_files():
    files = [osp.join(ROOT, 'README.md')]
    files += sorted(glob(osp.join(ROOT, 'docs', '*.md')))
    files += sorted(glob(osp.join(ROOT, 'configs', '**', 'README.md'), recursive=True))
    return files


def test_github_anchor_of_headings():
    assert github_anchor(' Measured on real data\n') == 'measured-on-real-data'
    assert github_anchor('Another processor: an Intel Xeon where bf16 gains nothing') == \
        'another-processor-an-intel-xeon-where-bf16-gains-nothing'
    assert github_anchor('The same LD with `--distill-share 0.3`') == \
        'the-same-ld-with---distill-share-03'


def test_anchors_number_repeated_headings(tmp_path):
    page = tmp_path / 'page.md'
    page.write_text('# Notes\n```\n# not a heading\n```\n## Notes\n### Other one\n')
    assert anchors(str(page)) == {'notes', 'notes-1', 'other-one'}


@pytest.mark.parametrize('path', markdown_files(), ids=lambda p: osp.relpath(p, ROOT))
def test_relative_links_resolve(path):
    broken = []
    text = open(path, encoding='utf-8').read()
    text = re.sub(r'```.*?```', '', text, flags=re.S)
    for target in LINK.findall(text):
        if re.match(r'[a-z]+:', target):      # http:, https:, mailto:
            continue
        file, _, anchor = target.partition('#')
        dest = osp.normpath(osp.join(osp.dirname(path), file)) if file else path
        if not osp.exists(dest):
            broken.append(f'{target}: no such file')
        elif anchor and dest.endswith('.md') and anchor not in anchors(dest):
            broken.append(f'{target}: no heading with that anchor')
    assert not broken, f'{osp.relpath(path, ROOT)}: ' + '; '.join(broken)
