"""Draw the per-seed gains of docs/custom_dataset.md's "Every method at a glance" tables.

    python tools/analysis/plot_glance.py docs/custom_dataset.md --out docs/images/glance_gains.png

Reads each table of that section (one per family: the paragraph above it names the family),
whose cells hold one entry per run of three paired seeds, ``b: +7.0 [+4.1, +9.1] 60 %``: the
run's letter and an optional qualifier before the colon, then the mean gain in mAP50-95 points
over the student alone of the same seed, [the smallest, the largest per-seed gain] and the
share of the teacher's lead closed. Draws one panel per family, a block of rows per method,
one row per run: a bar from its smallest to its largest per-seed gain with a dot at its mean
and the run's letter beside it, coloured by the table's column (dataset and budget), and the
zero line: a bar that crosses it had a seed below the student alone. The figures come from
the doc, so the picture cannot drift from it.
"""
import argparse
import re
from typing import Dict, List

SECTION = '### Every method at a glance'
NUMBER = r'([+-]?\d+(?:\.\d+)?)'
# '<run>[, qualifier]: <mean> [<min>, <max>] <share> %'
ENTRY = re.compile(rf'(\w+)(?:, ([^:]+))?: {NUMBER} \[{NUMBER}, {NUMBER}\] {NUMBER} %')
FAMILY = re.compile(r'^(YOLOv\d+)-\w+ -> ')


def read_glance(text: str) -> Dict[str, List[dict]]:
    """``{family: [{method, column, run, qualifier, mean, low, high, share}, ...]}`` from the
    tables of the :data:`SECTION` of ``text`` (a markdown document). Raises ValueError where
    the section, a family name or an entry's order (low <= mean <= high) is wrong."""
    start = text.find(SECTION + '\n')
    if start < 0:
        raise ValueError(f'no "{SECTION}" section')
    body = text[start + len(SECTION):]
    end = body.find('\n#')
    lines = (body if end < 0 else body[:end]).splitlines()
    out, family, header = {}, None, None
    for line in lines:
        m = FAMILY.match(line)
        if m:
            family, header = m.group(1), None
            continue
        if not line.startswith('|') or line.startswith('|---'):
            continue
        cells = [c.strip() for c in line.strip().strip('|').split('|')]
        if header is None:
            if family is None:
                raise ValueError(f'a table before any family paragraph: {line}')
            header = cells
            continue
        method = cells[0].split('`')[1] if '`' in cells[0] else cells[0]
        for column, cell in zip(header[1:], cells[1:]):
            for m in ENTRY.finditer(cell.replace('*', '')):
                run, qualifier, mean, low, high, share = m.groups()
                mean, low, high = float(mean), float(low), float(high)
                if not low <= mean <= high:
                    raise ValueError(f'{family} {method} {column} {run}: the mean {mean} is '
                                     f'not within [{low}, {high}]')
                out.setdefault(family, []).append(dict(
                    method=method, column=column, run=run, qualifier=qualifier or '',
                    mean=mean, low=low, high=high, share=float(share)))
    if not out:
        raise ValueError(f'no entries in "{SECTION}"')
    return out


def layout(es: List[dict]):
    """Rows of one family's panel: ``(ys, ticks, methods)``, ``ys[i]`` the row of ``es[i]``,
    one row per run in the methods' order of first appearance, a blank row between methods (a
    method with many runs gets the room for them), ``ticks[k]`` the middle of method k's rows."""
    methods = list(dict.fromkeys(e['method'] for e in es))
    ys, ticks, y = [None] * len(es), [], 0
    for method in methods:
        mine = [i for i, e in enumerate(es) if e['method'] == method]
        ticks.append(y + (len(mine) - 1) / 2)
        for i in mine:
            ys[i], y = y, y + 1
        y += 1
    return ys, ticks, methods


def plot_glance(entries: Dict[str, List[dict]], path: str) -> None:
    """One panel per family (:func:`read_glance`), written to ``path``."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    columns = list(dict.fromkeys(e['column'] for es in entries.values() for e in es))
    colours = dict(zip(columns, plt.rcParams['axes.prop_cycle'].by_key()['color']))
    layouts = {family: layout(es) for family, es in entries.items()}
    heights = [max(ys) + 2 for ys, _, _ in layouts.values()]  # the rows and a margin
    fig, axes = plt.subplots(len(entries), 1, figsize=(9, 1.2 + 0.17 * sum(heights)),
                             gridspec_kw=dict(height_ratios=heights), squeeze=False,
                             sharex=True)
    for ax, (family, es) in zip(axes[:, 0], entries.items()):
        ys, ticks, methods = layouts[family]
        for e, y in zip(es, ys):
            ax.plot([e['low'], e['high']], [y, y], color=colours[e['column']], lw=2)
            ax.plot(e['mean'], y, 'o', color=colours[e['column']], ms=4)
            label = e['run'] + (f", {e['qualifier']}" if e['qualifier'] else '')
            ax.text(e['high'] + 0.1, y, label, fontsize=6, va='center')
        ax.axvline(0, color='k', lw=0.8)
        ax.set_yticks(ticks, methods)
        ax.set_ylim(max(ys) + 1, -1)
        ax.set_title(f'{family}-S -> {family}-N: per-seed gain over the student alone, '
                     'one bar per run of 3 seeds', fontsize=9)
        ax.grid(axis='x', alpha=0.3)
    axes[-1, 0].set_xlabel('mAP50-95 points (bar: smallest to largest seed; dot: mean)')
    handles = [plt.Line2D([], [], color=colours[c], lw=2, label=c) for c in columns]
    fig.legend(handles=handles, loc='lower center', ncol=len(columns), fontsize=8,
               frameon=False)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('doc', help='the markdown file with the section (docs/custom_dataset.md)')
    parser.add_argument('--out', default='docs/images/glance_gains.png', help='the PNG written')
    args = parser.parse_args(argv)
    with open(args.doc) as f:
        entries = read_glance(f.read())
    plot_glance(entries, args.out)
    print(f'{sum(map(len, entries.values()))} runs of {len(entries)} families -> {args.out}')


if __name__ == '__main__':
    main()
