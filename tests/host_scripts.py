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
