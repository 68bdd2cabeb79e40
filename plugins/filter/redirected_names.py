# Copyright: pydeploy.wsgi contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""The redirected_names filter: which of a site's names redirect to its canonical name."""

from __future__ import annotations

import ipaddress

DOCUMENTATION = r"""
name: redirected_names
short_description: The names of a site that redirect to its canonical name
version_added: 1.2.0
author: pydeploy.wsgi contributors (@pydeploy)
description:
  - Takes the names a site answers to (its server names) and its canonical name; returns, in their order, the names
    whose HTTPS requests the front end answers with a permanent redirect to the canonical name, keeping the path and
    the query (C(www.example.com) to C(example.com)).
  - Every name but the canonical one, wildcards included, except IP addresses; a client that asks for the site by
    address (a monitoring probe, a balancer's check) gets the site itself.
  - An empty canonical name redirects nothing.
  - The nginx and apache roles read it for their HTTPS server blocks (nginx_canonical_name, apache_canonical_name).
options:
  _input:
    description: The names the site answers to.
    type: list
    elements: str
    required: true
  canonical:
    description: The site's canonical name, one of the names; empty for none.
    type: str
    required: true
"""

EXAMPLES = r"""
- name: The names Nginx redirects to the canonical one
  ansible.builtin.debug:
    msg: "{{ ['example.com', 'www.example.com', '192.0.2.7'] | pydeploy.wsgi.redirected_names('example.com') }}"
  # ['www.example.com']
"""

RETURN = r"""
_value:
  description: The names to redirect, in the order given.
  type: list
  elements: str
"""


def _is_address(name):
    try:
        ipaddress.ip_address(str(name))
    except ValueError:
        return False
    return True


def redirected_names(names, canonical):
    if not canonical:
        return []
    return [str(name) for name in names if str(name) != str(canonical) and not _is_address(name)]


class FilterModule:
    def filters(self):
        return {"redirected_names": redirected_names}
