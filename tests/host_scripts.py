"""The scripts the roles install on the hosts (Python's standard library
only, no .py suffix), loaded as modules for the controller's tests."""

import importlib.machinery
import importlib.util
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[1]


def load(relative, name):
    """The script at ROOT/relative, as a fresh module called name."""
    loader = importlib.machinery.SourceFileLoader(name, str(ROOT / relative))
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader(name, loader))
    loader.exec_module(module)
    return module


def load_with_folders(relative, name, monkeypatch, **folders):
    """The script as load() gives it, each of its folder constants (NAME:
    path) pointed at a folder of the test's, made here."""
    module = load(relative, name)
    for constant, path in folders.items():
        pathlib.Path(path).mkdir(parents=True, exist_ok=True)
        monkeypatch.setattr(module, constant, str(path))
    return module
