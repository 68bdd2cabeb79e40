# Copyright: pydeploy.wsgi contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""The redact_url filter: credentials in URLs replaced, for messages and labels."""

from __future__ import annotations

import re

DOCUMENTATION = r"""
name: redact_url
short_description: Replace the credentials in the URLs of a text with ***
version_added: 0.1.0
author: pydeploy.wsgi contributors (@pydeploy)
description:
  - Every C(scheme://user:password@host) in the text becomes C(scheme://***@host), so that a URL
    with a token or a password can be named in a message, a loop label or a recorded description.
options:
  _input:
    description: A text holding URLs, or a URL.
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Name the repository without its token
  ansible.builtin.debug:
    msg: "Fetching {{ app_git_repo | pydeploy.wsgi.redact_url }}"
"""

RETURN = r"""
_value:
  description: The text with the credentials of its URLs replaced by ***.
  type: str
"""

_CREDENTIALS = re.compile(r"(?<=://)[^/@\s]+@")


def redact_url(text):
    return _CREDENTIALS.sub("***@", str(text))


class FilterModule:
    def filters(self):
        return {"redact_url": redact_url}
