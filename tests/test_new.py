"""`mkdocs-onnx new DIR`: a model zoo that builds at once, from a checkout and from a wheel."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile

import pytest
import yaml

from conftest import ROOT
from mkdocs_onnx.cli import main, starter_dir

STARTER_FILES = {"mkdocs.yml", "models.yml", os.path.join("docs", "index.md")}


def mkdocs_build(folder, env=None):
    """``mkdocs build --strict`` in ``folder``, as a user runs it; returns the process."""
    env = dict(os.environ if env is None else env, NO_MKDOCS_2_WARNING="1")
    env.pop("OPENAI_API_KEY", None)
    return subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict"], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=300)


def files_under(folder) -> set[str]:
    return {os.path.relpath(os.path.join(d, f), folder) for d, _, fs in os.walk(folder) for f in fs}


def test_new_creates_a_zoo_that_builds_strictly(tmp_path, capsys):
    target = tmp_path / "zoo"
    assert main(["new", str(target)]) == 0
    out = capsys.readouterr().out
    assert "Created a model zoo" in out and "mkdocs serve" in out
    assert STARTER_FILES <= files_under(target)

    run = mkdocs_build(target)
    assert run.returncode == 0, run.stderr
    site = target / "site"
    assert (site / "models" / "index.html").is_file()
    assert (site / "models" / "models.json").is_file()
    landing = (site / "index.html").read_text(encoding="utf-8")
    assert 'href="models/"' in landing  # the landing page links the index
    cards = [p for p in (site / "models").iterdir() if (p / "report.json").is_file()]
    assert cards, "the starter lists at least one model that exists on every machine"
    assert "analysed" in run.stderr and "WARNING" not in run.stderr


def test_new_accepts_an_empty_folder(tmp_path):
    assert main(["new", str(tmp_path)]) == 0
    assert STARTER_FILES <= files_under(tmp_path)


def test_new_refuses_a_folder_that_is_not_empty(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("mine")
    assert main(["new", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "not empty" in err and "refusing to overwrite" in err
    assert files_under(tmp_path) == {"notes.txt"}


def test_new_refuses_a_file(tmp_path, capsys):
    (tmp_path / "zoo").write_text("a file")
    assert main(["new", str(tmp_path / "zoo")]) == 2
    assert "not a folder" in capsys.readouterr().err


def test_new_from_the_command_line(tmp_path):
    run = subprocess.run([sys.executable, "-m", "mkdocs_onnx.cli", "new", str(tmp_path / "z")],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    again = subprocess.run([sys.executable, "-m", "mkdocs_onnx.cli", "new", str(tmp_path / "z")],
                           capture_output=True, text=True)
    assert again.returncode == 2 and "not empty" in again.stderr


def test_the_starter_is_site_template_and_matches_the_demo():
    """One source: the checkout's site_template/ is what `new` copies (a wheel carries a
    copy made at build time), and the demo site uses the same landing page."""
    assert starter_dir() == __import__("pathlib").Path(ROOT, "site_template").resolve()
    with open(os.path.join(ROOT, "mkdocs.yml"), encoding="utf-8") as fh:
        demo = yaml.safe_load(fh)
    with open(os.path.join(ROOT, "site_template", "mkdocs.yml"), encoding="utf-8") as fh:
        starter = yaml.safe_load(fh)
    assert demo["docs_dir"] == "site_template/docs"
    assert starter["markdown_extensions"] == demo["markdown_extensions"]
    assert starter["theme"] == demo["theme"]
    assert [p if isinstance(p, str) else next(iter(p)) for p in starter["plugins"]] == ["search", "onnx"]
    with open(os.path.join(ROOT, "site_template", "models.yml"), encoding="utf-8") as fh:
        models = yaml.safe_load(fh)["models"]
    assert models and all("package" in m for m in models)  # nothing to download, nothing to copy


def test_a_wheel_carries_the_starter_and_new_works_from_it(tmp_path):
    """Build a wheel from a copy of the sources, then run `new` and `mkdocs build` with
    the wheel's package first on the path: no checkout involved."""
    source = tmp_path / "src"
    source.mkdir()
    for name in ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md"):
        shutil.copy(os.path.join(ROOT, name), source / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "_starter", "site", ".cache")
    for name in ("mkdocs_onnx", "site_template"):
        shutil.copytree(os.path.join(ROOT, name), source / name, ignore=ignore)
    dist = tmp_path / "dist"
    run = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(source)],
                         capture_output=True, text=True, timeout=300)
    if run.returncode != 0:
        pytest.skip(f"cannot build a wheel here (pip wheel needs setuptools from an index): {run.stderr[-300:]}")
    (wheel,) = list(dist.glob("*.whl"))
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        lib = tmp_path / "lib"
        zf.extractall(lib)
    for name in STARTER_FILES:
        assert "mkdocs_onnx/_starter/" + name.replace(os.sep, "/") in names
    assert {"mkdocs_onnx/render/assets/zoo.js", "mkdocs_onnx/render/assets/zoo.css"} <= names

    env = dict(os.environ, PYTHONPATH=str(lib))
    where = subprocess.run([sys.executable, "-c", "from mkdocs_onnx.cli import starter_dir; print(starter_dir())"],
                           env=env, capture_output=True, text=True, cwd=tmp_path)
    assert where.returncode == 0, where.stderr
    assert where.stdout.strip() == str((lib / "mkdocs_onnx" / "_starter").resolve())
    target = tmp_path / "zoo"
    new = subprocess.run([sys.executable, "-m", "mkdocs_onnx.cli", "new", str(target)], env=env,
                         capture_output=True, text=True, cwd=tmp_path)
    assert new.returncode == 0, new.stderr
    assert STARTER_FILES <= files_under(target)
    run = mkdocs_build(target, env)
    assert run.returncode == 0, run.stderr
    assert (target / "site" / "models" / "index.html").is_file()
    assert (target / "site" / "assets" / "mkdocs-onnx" / "zoo.js").is_file()
