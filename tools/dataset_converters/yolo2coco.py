"""Convert YOLO txt labels (Roboflow / Ultralytics exports) to a COCO json.

    python tools/dataset_converters/yolo2coco.py IMAGE_DIR LABEL_DIR OUT_JSON \
        --classes pothole [--image-root DIR] [--strict]

Example, Roboflow layout ``<root>/train/images`` + ``<root>/train/labels``:

    python tools/dataset_converters/yolo2coco.py ../shared/data/pothole/train/images \
        ../shared/data/pothole/train/labels data/pothole/annotations/train.json \
        --classes pothole --image-root ../shared/data/pothole
"""
import argparse
import logging
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
from kd_plugins.datasets.converters import yolo_to_coco  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description='YOLO txt labels -> COCO json',
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('image_dir', help='folder of the images')
    parser.add_argument('label_dir', help='folder of the <image stem>.txt label files')
    parser.add_argument('out_json', help='the COCO json to write')
    parser.add_argument('--classes', nargs='+', required=True,
                        help='class names in id order (or one .txt file with a name per line)')
    parser.add_argument('--image-root', help='make file_name relative to this folder '
                        '(default: IMAGE_DIR)')
    parser.add_argument('--strict', action='store_true', help='turn warnings into errors')
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format='%(levelname)s %(message)s')
    classes = args.classes
    if len(classes) == 1 and classes[0].endswith('.txt') and osp.isfile(classes[0]):
        with open(classes[0]) as f:
            classes = [ln.strip() for ln in f if ln.strip()]
    report = yolo_to_coco(args.image_dir, args.label_dir, classes, args.out_json,
                          image_root=args.image_root, strict=args.strict)
    print(f'{args.out_json}: {report.summary()}')
    return report


if __name__ == '__main__':
    main()
