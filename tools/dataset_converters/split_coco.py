"""Split a COCO json at random by ratio (default 8:1:1), keeping augmented copies together.

    python tools/dataset_converters/split_coco.py ANN_JSON OUT_DIR [--ratios 8 1 1]
        [--names train val test] [--subset 6000] [--seed 0] [--no-group | --group REGEX]

``--subset 6000`` first draws 6000 images at random (the LD paper's COCO subset). By default,
Roboflow's augmented copies ``<source>_jpg.rf.<hash>.jpg`` of one source image stay in one split.
"""
import argparse
import logging
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
from kd_plugins.datasets.converters import ROBOFLOW_GROUP, split_coco  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description='Split a COCO json by ratio',
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('ann_file', help='the COCO json to split (images are not moved)')
    parser.add_argument('out_dir', help='where <name>.json files go')
    parser.add_argument('--ratios', nargs='+', type=float, default=[8, 1, 1],
                        help='share of each split (normalised to sum to 1)')
    parser.add_argument('--names', nargs='+', default=['train', 'val', 'test'],
                        help='one split name per ratio')
    parser.add_argument('--subset', type=int, help='draw this many images first')
    parser.add_argument('--seed', type=int, default=0, help='random seed of the split')
    group = parser.add_mutually_exclusive_group()
    group.add_argument('--group', default=ROBOFLOW_GROUP,
                       help='regex whose first group names the source image')
    group.add_argument('--no-group', action='store_true', help='every image on its own')
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format='%(levelname)s %(message)s')
    out = split_coco(args.ann_file, args.out_dir, args.ratios, args.names, args.seed,
                     args.subset, None if args.no_group else args.group)
    for name, path in out.items():
        print(f'{name}: {path}')
    return out


if __name__ == '__main__':
    main()
