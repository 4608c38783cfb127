"""A COCO-format YOLO dataset that checks its annotation file and images while loading them."""
import os.path as osp
from typing import List

from mmengine.logging import print_log
from mmyolo.datasets import YOLOv5CocoDataset
from mmyolo.registry import DATASETS

CHECK_IMAGES = ('none', 'exists', 'header', 'decode')
BAD_BOXES = ('error', 'warn')


class DatasetCheckError(ValueError):
    """A dataset whose annotation file or images cannot be trained on as they are."""


def _listed(items: List[str], limit: int = 5) -> str:
    shown = '; '.join(items[:limit])
    return shown + (f'; ... (+{len(items) - limit} more)' if len(items) > limit else '')


def image_problem(path: str, how: str) -> str:
    """Why the image at ``path`` cannot be used ('' if it can): ``how`` is one of
    ``CHECK_IMAGES`` ('exists': the file is there; 'header': it opens as an image; 'decode':
    its pixels decode)."""
    if how == 'none' or '://' in path:  # remote storage: left to the loader
        return ''
    if not osp.isfile(path):
        return 'missing'
    if how == 'exists':
        return ''
    from PIL import Image
    try:
        with Image.open(path) as img:
            if how == 'decode':
                img.load()
    except Exception as e:  # PIL raises several types for broken or foreign files
        return f'unreadable ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ""})'
    return ''


@DATASETS.register_module()
class CheckedYOLOv5CocoDataset(YOLOv5CocoDataset):
    """MMYOLO's ``YOLOv5CocoDataset`` that stops at load time, naming the file, on data that
    would otherwise train silently wrong or fail deep in a data worker.

    MMDetection's ``CocoDataset`` silently drops boxes of zero area, under 1 px or outside
    their image, and annotations whose ``category_id`` is not among the classes; when the
    config's ``metainfo.classes`` names none of the file's categories it trains on images
    without any box. A missing or broken image surfaces only when a worker first reads it,
    possibly hours in. This class checks, while the annotation file is parsed:

    * the annotation file exists and lists at least one image;
    * every class of ``metainfo.classes`` is a category of the file (else: the file's names);
    * every annotation's ``category_id`` is a category of the file (an id out of range);
    * no box has zero or negative width, height or area, is under 1 px, or lies outside its
      image (``bad_boxes='error'``, the default; ``'warn'`` logs them and lets MMDetection drop
      them as before - for large sets such as COCO, where a few bad boxes should not stop a run);
    * every image file exists and, with ``check_images='header'`` (the default), opens as an
      image (``'decode'`` also decodes the pixels: slow on large sets; ``'exists'`` only
      looks for the file; ``'none'`` skips the check).

    Annotations of categories the config leaves out on purpose (training on a subset of the
    file's classes) are dropped as by MMDetection, with one log line saying how many.

    Args:
        check_images (str): How far to check the image files. Defaults to 'header'.
        bad_boxes (str): 'error' or 'warn' for degenerate boxes. Defaults to 'error'.
        *args, **kwargs: ``YOLOv5CocoDataset``'s arguments.
    """

    def __init__(self, *args, check_images: str = 'header', bad_boxes: str = 'error',
                 **kwargs):
        if check_images not in CHECK_IMAGES:
            raise ValueError(f'check_images must be one of {CHECK_IMAGES}, got {check_images!r}')
        if bad_boxes not in BAD_BOXES:
            raise ValueError(f'bad_boxes must be one of {BAD_BOXES}, got {bad_boxes!r}')
        self.check_images = check_images
        self.bad_boxes = bad_boxes
        super().__init__(*args, **kwargs)

    def load_data_list(self) -> List[dict]:
        ann = self.ann_file
        if '://' not in ann and not osp.isfile(ann):
            raise DatasetCheckError(
                f'annotation file {ann} does not exist: check data_root and ann_file of the '
                'dataset config (ann_file is relative to data_root)')
        self._found = dict(images=[], boxes=[], ids=[], left_out=0, category_ids=None)
        data_list = super().load_data_list()
        if not data_list:
            raise DatasetCheckError(
                f'{ann} lists no images: the "images" list of the file is empty. Point '
                'ann_file at the annotations of this split')
        found, self._found = self._found, None
        problems = []
        if found['ids']:
            problems.append(
                f'{len(found["ids"])} annotation(s) with a category_id that is not a category '
                f'of the file (class id out of range; the file\'s category ids are '
                f'{sorted(found["category_ids"])}): {_listed(found["ids"])}. Fix the '
                'category_id, or add the category to the file\'s "categories"')
        if found['boxes']:
            message = (
                f'{len(found["boxes"])} box(es) of zero area, under 1 px or outside their '
                f'image: {_listed(found["boxes"])}')
            if self.bad_boxes == 'error':
                problems.append(
                    message + '. Fix or remove them (tools/dataset_converters/ skip such boxes '
                    'with a warning), or set bad_boxes=\'warn\' in the dataset config to drop '
                    'them as MMDetection does')
            else:
                print_log(f'{ann}: {message}; dropped (bad_boxes=\'warn\')', logger='current',
                          level=30)
        if found['images']:
            problems.append(
                f'{len(found["images"])} image(s) missing or unreadable: '
                f'{_listed(found["images"])}. Check data_root and data_prefix.img (image paths '
                'are data_root + data_prefix.img + file_name), or replace the broken files')
        if problems:
            raise DatasetCheckError(f'{ann}: ' + '\n'.join(problems))
        if found['left_out']:
            print_log(f'{ann}: {found["left_out"]} annotation(s) of categories not in '
                      f'metainfo.classes {tuple(self.metainfo["classes"])} are left out',
                      logger='current')
        if not self.test_mode and not any(d['instances'] for d in data_list):
            raise DatasetCheckError(
                f'{ann}: no image has a box of the classes {tuple(self.metainfo["classes"])}: '
                'nothing to learn from. Check metainfo.classes and the file\'s annotations')
        return data_list

    def _check_categories(self):
        """metainfo.classes against the file's categories (once, while ``self.coco`` lives)."""
        names = [c['name'] for c in self.coco.dataset.get('categories', [])]
        self._found['category_ids'] = list(self.coco.cats)
        absent = [c for c in self.metainfo['classes'] if c not in names]
        if absent:
            raise DatasetCheckError(
                f'{self.ann_file}: metainfo.classes {tuple(absent)} are not categories of the '
                f'file, whose categories are {tuple(names)}. Set the dataset\'s metainfo='
                'dict(classes=(...)) to names of the file, in the order of the model\'s '
                'class ids (and num_classes to their number)')

    def parse_data_info(self, raw_data_info: dict):
        if getattr(self, '_found', None) is None:  # outside load_data_list: nothing to check
            return super().parse_data_info(raw_data_info)
        if self._found['category_ids'] is None:
            self._check_categories()
        img = raw_data_info['raw_img_info']
        data_info = super().parse_data_info(raw_data_info)
        name = img['file_name']
        problem = image_problem(data_info['img_path'], self.check_images)
        if problem:
            self._found['images'].append(f'{data_info["img_path"]} ({problem})')
        categories = self.coco.cats
        for ann in raw_data_info['raw_ann_info']:
            if ann.get('ignore', False):  # not trained on (MMDetection skips it too)
                continue
            where = f'annotation id {ann.get("id")} of {name}'
            if ann['category_id'] not in categories:
                self._found['ids'].append(f'{where}: category_id {ann["category_id"]}')
                continue
            if ann['category_id'] not in self.cat_ids:
                self._found['left_out'] += 1
                continue
            x, y, w, h = ann['bbox']
            if w <= 0 or h <= 0 or ann.get('area', w * h) <= 0 or w < 1 or h < 1:
                self._found['boxes'].append(f'{where}: bbox {ann["bbox"]} '
                                            f'area {ann.get("area")}')
            elif x >= img['width'] or y >= img['height'] or x + w <= 0 or y + h <= 0:
                self._found['boxes'].append(
                    f'{where}: bbox {ann["bbox"]} outside the {img["width"]}x{img["height"]} '
                    'image')
        return data_info
