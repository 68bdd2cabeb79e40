# Copyright: pydeploy.wsgi contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""The not_networks filter: the entries of a list that are no IP address or network a front end may name."""

from __future__ import annotations

import ipaddress

DOCUMENTATION = r"""
name: not_networks
short_description: The entries of a list that are no IP address or network a front end may name
version_added: 1.2.0
author: pydeploy.wsgi contributors (@pydeploy)
description:
  - Takes a list of addresses and networks (C(203.0.113.7), C(203.0.113.0/24), C(2001:db8::/32)); returns, in their
    order, the entries that are none, or that name every address (C(0.0.0.0/0), C(::/0)), or that have host bits set
    past their prefix (C(10.0.0.1/8)), as text.
  - The nginx and apache roles refuse those in their lists of proxies in front (nginx_trusted_proxies,
    apache_trusted_proxies) and of the addresses that get the site during maintenance (nginx_maintenance_allow,
    apache_maintenance_allow); anything else (a name, a directive smuggled in) is refused with them.
options:
  _input:
    description: The list.
    type: list
    elements: str
    required: true
"""

EXAMPLES = r"""
- name: Refuse what is no address or network
  ansible.builtin.assert:
    that: proxies | pydeploy.wsgi.not_networks | length == 0
  vars:
    proxies: [203.0.113.0/24, "10.0.0.0/8; real_ip_header X", 0.0.0.0/0]
  # fails: ["10.0.0.0/8; real_ip_header X", "0.0.0.0/0"]
"""

RETURN = r"""
_value:
  description: The entries refused, as text, in the order given.
  type: list
  elements: str
"""


def _network(entry):
    text = str(entry)
    if text != text.strip() or not text or "%" in text:
        return None
    try:
        return ipaddress.ip_network(text, strict=True)
    except ValueError:
        return None


def not_networks(entries):
    refused = []
    for entry in entries or []:
        network = _network(entry)
        if network is None or network.prefixlen == 0:
            refused.append(str(entry))
    return refused


class FilterModule:
    def filters(self):
        return {"not_networks": not_networks}
