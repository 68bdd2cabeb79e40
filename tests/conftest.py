"""The controller tests' one setup: the checkout is the collection
pydeploy.wsgi (collections/ansible_collections/pydeploy/wsgi links to it),
so that the tests import its plugins by their collection names, as Ansible
loads them (the actions import plugin_utils so). And COUNTING_PROCESS, the
start of a process two tests of the kept templates run."""

import pathlib

from ansible.utils.collection_loader._collection_finder import _AnsibleCollectionFinder

_AnsibleCollectionFinder(paths=[str(pathlib.Path(__file__).resolve().parent.parent / "collections")])._install()


# The start of a Python process (python -c, the collections folder its first
# argument) that templates as a run does, the collection importable, and
# counts in `made` every template Jinja compiles: the tests of the templates
# kept between runs (test_template_cache.py, test_mitogen_cache.py) append
# what the process does.
COUNTING_PROCESS = r"""
import importlib.util, json, os, sys
from ansible.utils.collection_loader._collection_finder import _AnsibleCollectionFinder
_AnsibleCollectionFinder(paths=[sys.argv[1]])._install()
from ansible._internal._templating._jinja_bits import AnsibleEnvironment
from ansible.errors import AnsibleError
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template

made = []
original = AnsibleEnvironment.compile
def counted(self, source, *args, **kwargs):
    made.append(1)
    return original(self, source, *args, **kwargs)
AnsibleEnvironment.compile = counted
"""
