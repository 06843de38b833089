"""Build hook; every other setting is in pyproject.toml.

``site_template/`` (the demo site's docs_dir, and the starter that ``mkdocs-onnx new``
copies) lives at the top of the repository, outside the package, so that there is one
copy of it. This hook ships that copy inside wheels as ``mkdocs_onnx/_starter/``; an
editable install (``pip install -e .``) reads ``site_template/`` from the checkout.
"""

import os
import shutil

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))
STARTER_SOURCE = os.path.join(HERE, "site_template")
STARTER_TARGET = os.path.join("mkdocs_onnx", "_starter")
IGNORED = shutil.ignore_patterns("site", ".cache", "__pycache__", "*.pyc")


class BuildPyWithStarter(build_py):
    def run(self):
        super().run()
        if getattr(self, "editable_mode", False) or not os.path.isdir(STARTER_SOURCE):
            return
        target = os.path.join(self.build_lib, STARTER_TARGET)
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(STARTER_SOURCE, target, ignore=IGNORED)


setup(cmdclass={"build_py": BuildPyWithStarter})
