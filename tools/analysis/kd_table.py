"""Compare teacher / student / distilled runs in the CWD paper's Table 1 layout.

    python tools/analysis/kd_table.py --img-size 256 --out results/cwd_demo \
        --run Teacher demo work_dirs/yolov8_s_fast_1xb8-30e_demo \
        --run Student demo work_dirs/yolov8_n_fast_1xb8-30e_demo \
        --run CWD demo work_dirs/cwd_fpn_yolov8-s_yolov8-n_1xb8-30e_demo \
        --run CWD+attention demo work_dirs/cwd-att_fpn_yolov8-s_yolov8-n_1xb8-30e_demo

One row per method (in the order first given), per dataset the final validation mAP@0.5 and
mAP@0.5:0.95, and the parameters and FLOPs of the model each method trains (the student for
distillation runs) at --img-size. Writes <out>.md and <out>.csv.

A method given several work dirs for one dataset (e.g. one per seed) gets the mean of their
final metrics, a ``runs`` column and, per dataset, the range (min-max) of mAP@0.5:0.95.
"""
import argparse
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))


def main(argv=None):
    parser = argparse.ArgumentParser(description='Table 1 layout from work dirs',
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('--run', nargs=3, action='append', required=True,
                        metavar=('METHOD', 'DATASET', 'WORK_DIR'),
                        help='one row: its method name, dataset name and work dir (repeat)')
    parser.add_argument('--img-size', type=int, default=640,
                        help='input size for the parameter and FLOP count')
    parser.add_argument('--out', default='results/kd_table', help='output prefix')
    args = parser.parse_args(argv)
    from kd_plugins.analysis import last_metrics, model_complexity, work_dir_config, write_table
    methods, datasets, cells, size = [], [], {}, {}
    for method, dataset, work_dir in args.run:
        methods += [method] if method not in methods else []
        datasets += [dataset] if dataset not in datasets else []
        cells.setdefault((method, dataset), []).append(last_metrics(work_dir))
        if method not in size:
            size[method] = model_complexity(work_dir_config(work_dir), args.img_size)

    def mean(method, dataset, key):
        runs = cells.get((method, dataset))
        return sum(m[key] for m in runs) / len(runs) if runs else None

    repeated = any(len(runs) > 1 for runs in cells.values())
    rows = []
    for method in methods:
        row = dict(method=method)
        if repeated:
            row['runs'] = '/'.join(str(len(cells.get((method, d), []))) for d in datasets)
        for d in datasets:
            row[f'{d} mAP@0.5'] = mean(method, d, 'coco/bbox_mAP_50')
        for d in datasets:
            row[f'{d} mAP@0.5:0.95'] = mean(method, d, 'coco/bbox_mAP')
            if repeated:
                values = [m['coco/bbox_mAP'] for m in cells.get((method, d), [])]
                row[f'{d} mAP@0.5:0.95 range'] = (
                    f'{min(values):.3f}-{max(values):.3f}' if values else None)
        row['params (M)'] = round(size[method][0], 2)
        row[f'FLOPs (G) @{args.img_size}'] = round(size[method][1], 2)
        rows.append(row)
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    table = write_table(rows, args.out)
    print(table)
    print(f'written: {args.out}.md, {args.out}.csv')
    return rows


if __name__ == '__main__':
    main()
