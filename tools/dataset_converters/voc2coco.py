"""Convert Pascal VOC xml annotations to a COCO json.

    python tools/dataset_converters/voc2coco.py XML_DIR IMAGE_DIR OUT_JSON \
        --classes helmet head [--image-root DIR] [--skip-difficult] [--strict]
"""
import argparse
import logging
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
from kd_plugins.datasets.converters import voc_to_coco  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description='Pascal VOC xml -> COCO json',
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('xml_dir', help='folder of the .xml files (Annotations/)')
    parser.add_argument('image_dir', help='folder of the images (JPEGImages/)')
    parser.add_argument('out_json', help='the COCO json to write')
    parser.add_argument('--classes', nargs='+', required=True, help='class names')
    parser.add_argument('--image-root', help='make file_name relative to this folder '
                        '(default: IMAGE_DIR)')
    parser.add_argument('--skip-difficult', action='store_true',
                        help='leave out objects marked <difficult>1')
    parser.add_argument('--strict', action='store_true', help='turn warnings into errors')
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format='%(levelname)s %(message)s')
    report = voc_to_coco(args.xml_dir, args.image_dir, args.classes, args.out_json,
                         image_root=args.image_root, skip_difficult=args.skip_difficult,
                         strict=args.strict)
    print(f'{args.out_json}: {report.summary()}')
    return report


if __name__ == '__main__':
    main()
