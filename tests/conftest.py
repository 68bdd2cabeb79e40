"""The controller tests' one setup: the checkout is the collection
pydeploy.wsgi (collections/ansible_collections/pydeploy/wsgi links to it),
so that the tests import its plugins by their collection names, as Ansible
loads them (the actions import plugin_utils so)."""

import pathlib

from ansible.utils.collection_loader._collection_finder import _AnsibleCollectionFinder

_AnsibleCollectionFinder(paths=[str(pathlib.Path(__file__).resolve().parent.parent / "collections")])._install()
