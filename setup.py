"""Install kd_plugins: ``pip install -e .`` (``scripts/setup_env.sh`` does the full set-up).

torch and mmcv are not listed: torch is the user's build (CPU or CUDA) and mmcv 2.0.1 must be
compiled against it, which ``scripts/setup_env.sh`` does (see README, "Supported versions").
"""
from setuptools import find_packages, setup

setup(
    name='kd_plugins',
    version='0.1.0',
    description='Knowledge distillation for MMYOLO YOLOv5/YOLOv8 as MMRazor plugins',
    long_description=open('README.md', encoding='utf-8').read(),
    long_description_content_type='text/markdown',
    license='Apache-2.0',
    python_requires='>=3.8',
    packages=find_packages(include=['kd_plugins', 'kd_plugins.*']),
    install_requires=[
        'mmengine==0.10.7',
        'mmdet==3.3.0',
        'mmyolo==0.6.0',
        'mmrazor==1.0.0',
        'pycocotools',
        # Undeclared by upstream: MMYOLO's YOLOv8 pipelines use mmdet.Albu -> albumentations,
        # MMRazor imports joblib.
        'albumentations==2.0.8',
        'joblib',
        'matplotlib',
        'numpy',
        'opencv-python',
    ],
    extras_require={
        'tests': ['pytest', 'flake8==7.1.1', 'isort==5.13.2'],
        # tools/export_student.py --onnx and its parity check (onnxruntime runs the model)
        'onnx': ['onnx==1.23.2', 'onnxruntime==1.32.0'],
    },
    zip_safe=False,
)
