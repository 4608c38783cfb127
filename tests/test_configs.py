"""Every config under configs/ loads, carries kd_plugins, and builds its model and datasets."""
import glob
import os.path as osp

import pytest
import torch

from conftest import ROOT

CONFIGS = sorted(osp.relpath(p, ROOT) for p in glob.glob(osp.join(ROOT, 'configs', '**', '*.py'),
                                                         recursive=True)
                 if '_base_' not in p)


def test_there_are_configs():
    # exact, per folder: adding or removing a config must be a deliberate change of this list
    per_folder = {}
    for path in CONFIGS:
        per_folder[path.split('/')[1]] = per_folder.get(path.split('/')[1], 0) + 1
    assert per_folder == {'cwd': 19, 'ld': 18, 'yolov5': 16, 'yolov8': 11}


@pytest.mark.parametrize('path', CONFIGS)
def test_config_loads_and_builds(path, tiny_data):
    from mmengine.config import Config
    from mmyolo.registry import MODELS
    from mmyolo.utils import register_all_modules
    register_all_modules()
    cfg = Config.fromfile(osp.join(ROOT, path))
    assert 'kd_plugins' in cfg.custom_imports['imports']
    # Every config checks its data while loading it, reseeds per epoch (an exact --resume)
    # and logs host memory.
    for split in ('train', 'val', 'test'):
        assert cfg[f'{split}_dataloader'].dataset.type == 'CheckedYOLOv5CocoDataset', split
    assert cfg.default_hooks.epoch_seed.type == 'EpochSeedHook'
    assert cfg.default_hooks.memory.type == 'HostMemoryHook'
    if 'distiller' in cfg.model:  # a distillation: check the student (the teacher is checked
        from mmrazor.registry import MODELS as RAZOR_MODELS  # when it is built)
        algorithm = RAZOR_MODELS.build(dict(cfg.model, teacher_ckpt=None))
        model = algorithm.student
        assert not any(p.requires_grad for p in algorithm.teacher.parameters())
        head = Config.fromfile(cfg.model.architecture.cfg_path).model.bbox_head.head_module
    else:
        model = MODELS.build(cfg.model)
        head = cfg.model.bbox_head.head_module
    n_cls = head.num_classes
    if 'coco' in path:
        assert n_cls == 80
    else:
        names = cfg.train_dataloader.dataset.metainfo['classes']
        assert n_cls == len(names)
        # The demo/new-dataset configs build their datasets (on the tiny generated data).
        from mmyolo.registry import DATASETS
        ds_cfg = cfg.val_dataloader.dataset
        ds_cfg.data_root = tiny_data + '/'
        ds_cfg.ann_file = 'annotations/val.json'
        ds_cfg.data_prefix = dict(img='')
        ds_cfg.metainfo = dict(classes=('circle', 'square', 'triangle', 'ring', 'cross'))
        assert len(DATASETS.build(ds_cfg)) == 4
    model.eval()
    with torch.no_grad():
        outs = model(torch.zeros(1, 3, 64, 64), mode='tensor')
    cls_scores = outs[0]
    assert len(cls_scores) == 3
    # YOLOv5 predicts per anchor (3 x classes), YOLOv8 per location.
    assert cls_scores[0].shape[1] in (n_cls, 3 * n_cls)


ALGORITHM_FOLDERS = ['cwd', 'ld']


@pytest.mark.parametrize('algo', ALGORITHM_FOLDERS)
def test_algorithm_readme_and_metafile_agree(algo):
    """Each algorithm folder has MMRazor's README sections and a metafile whose configs exist
    and whose figures are the README's (box AP = 100 x the README's mAP, same row)."""
    import yaml
    folder = osp.join(ROOT, 'configs', algo)
    readme = open(osp.join(folder, 'README.md')).read()
    for section in ('<!-- [ALGORITHM] -->', '## Summary', '## Results and models',
                    '## Citation', '```latex'):
        assert section in readme, f'{algo}/README.md lacks {section!r}'
    meta = yaml.safe_load(open(osp.join(folder, 'metafile.yml')))
    assert meta['Collections'][0]['README'] == f'configs/{algo}/README.md'
    rows = [line for line in readme.splitlines() if line.startswith('| ')]
    assert len(meta['Models']) >= 2
    for model in meta['Models']:
        cfg = model['Config']
        assert osp.basename(cfg)[:-3] == model['Name']
        for path in (cfg, model['Metadata']['Student']['Config'],
                     model['Metadata']['Teacher']['Config']):
            assert osp.isfile(osp.join(ROOT, path)), path
        # the README row that links this config carries the same three figures
        row = [r for r in rows if f'({osp.basename(cfg)})' in r and 'not measured' not in r]
        want = [model['Results'][0]['Metrics']['box AP'],
                model['Metadata']['Teacher']['Metrics']['box AP'],
                model['Metadata']['Student']['Metrics']['box AP']]
        cells = [f'{v / 100:.3f}' for v in want]
        assert any(' | '.join(cells) in r for r in row), (model['Name'], cells, row)


def test_modules_unrelated_to_distillation_carry_no_kd_prefix():
    """The ``KD`` prefix is kept for what is about distillation; the checked dataset, the
    hooks, the metric, the box coder and the objectness loss are named for what they are, and
    their old ``KD*`` names are gone from the registries."""
    import mmyolo.registry as yolo

    import kd_plugins  # noqa: F401
    renamed = {yolo.DATASETS: ('CheckedYOLOv5CocoDataset', 'KDYOLOv5CocoDataset'),
               yolo.HOOKS: ('EpochSeedHook', 'KDEpochSeedHook'),
               yolo.METRICS: ('DetPrecisionRecallMetric', 'KDPrecisionRecallMetric'),
               yolo.TASK_UTILS: ('AnchorPointDistanceCoder', 'KDAnchorPointDistanceCoder')}
    renamed_hooks = ('HostMemoryHook', 'KDMemoryHook')
    for registry, (new, old) in list(renamed.items()) + [(yolo.HOOKS, renamed_hooks)]:
        assert registry.get(new).__module__.startswith('kd_plugins.'), new
        assert old not in registry.module_dict, old
    assert yolo.MODELS.get('SigmoidMSELoss').__module__.startswith('kd_plugins.')
