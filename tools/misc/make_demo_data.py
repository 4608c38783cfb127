"""Write the built-in demo detection dataset (COCO json, synthetic scenes, no download).

    python tools/misc/make_demo_data.py data/demo [--num-train 400] [--num-val 100]
        [--img-size 256] [--seed 0] [--force]
"""
import argparse
import os.path as osp
import sys
import time

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
from kd_plugins.datasets.demo_data import count_boxes, generate_demo_dataset  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('out_dir', nargs='?', default='data/demo', help='output folder')
    parser.add_argument('--num-train', type=int, default=400, help='train images')
    parser.add_argument('--num-val', type=int, default=100, help='val images')
    parser.add_argument('--img-size', type=int, default=256, help='square image size')
    parser.add_argument('--seed', type=int, default=0, help='random seed of the scenes')
    parser.add_argument('--force', action='store_true', help='re-generate even if present')
    args = parser.parse_args(argv)
    t0 = time.time()
    anns = generate_demo_dataset(args.out_dir, args.num_train, args.num_val, args.img_size,
                                 args.seed, force=args.force)
    for split, ann in anns.items():
        sizes = ', '.join(f'{k}px: {v}' for k, v in count_boxes(ann).items())
        print(f'{split}: {ann} (objects by sqrt(area) {sizes})')
    print(f'done in {time.time() - t0:.1f}s')
    return anns


if __name__ == '__main__':
    main()
