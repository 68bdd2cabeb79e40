# Copyright: pydeploy.wsgi contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""The snippet_problems filter: what in an operator's Nginx or Apache snippet would break the site's guarantees."""

from __future__ import annotations

import re

DOCUMENTATION = r"""
name: snippet_problems
short_description: What in a configuration snippet would break the site's guarantees
version_added: 1.2.0
author: pydeploy.wsgi contributors (@pydeploy)
description:
  - Reads a snippet of Nginx or Apache configuration the operator adds to a site (nginx_snippets, apache_snippets)
    the way the front end reads it (quotes, comments, blocks or sections, line continuations) and returns what in it
    the roles refuse, one sentence each; an empty list when there is nothing.
  - Refused everywhere, as they would break what the roles guarantee, whatever Nginx or Apache would accept -
    a line break other than a newline (a carriage return, U+2028, U+2029, U+0085) or another control character;
    a block or section the snippet does not close, or closes without opening (it would end the role's own block, and
    what follows would land outside it); a directive not ended (Nginx's C(;)).
  - Nginx - a C(listen) or C(server_name), a C(server) block (the site's names and ports are the roles'); the
    certificate, its key, the TLS protocols and ciphers (the tls role's and the TLS profile's); an C(include), log,
    temporary or cache path outside the trees root keeps for Nginx (C(/etc/nginx), C(/var/log/nginx),
    C(/var/cache/nginx), C(/var/lib/nginx)) or holding C(..) or a variable (the Nginx master opens those as root, and
    a file the app can write would let it change the configuration or have root write where it links).
  - Apache - C(Listen), C(ServerName), C(ServerAlias), a C(VirtualHost) section, any C(SSL*) directive (the
    certificate and the TLS profile are the roles'), C(LoadModule), C(LoadFile), C(User), C(Group), any C(WSGI*)
    directive (mod_wsgi's daemons are the role's, as the app user), C(ScriptAlias), C(AllowOverride) other than
    C(None) and C(AllowOverrideList) (a C(.htaccess) the app writes would configure Apache), C(Options) that turn on
    C(ExecCGI), C(Includes), C(FollowSymLinks) or C(All), a C(RewriteMap) of a program, a piped log (a command run as
    root) and an C(Include) or log path outside C(/etc/apache2) and C(/var/log/apache2) or holding C(..).
  - Whether Nginx or Apache accepts the rest is their test's to say (nginx -t, apachectl configtest), in the guarded
    apply that puts the previous files back when it fails.
options:
  _input:
    description: The snippet's text.
    type: str
    required: true
  front_end:
    description: Whose configuration it is.
    type: str
    choices: [nginx, apache]
    required: true
"""

EXAMPLES = r"""
- name: Refuse a snippet that would break the site
  ansible.builtin.assert:
    that: snippet | pydeploy.wsgi.snippet_problems('nginx') | length == 0
    fail_msg: "nginx_snippets.server: {{ snippet | pydeploy.wsgi.snippet_problems('nginx') | join('; ') }}"
  vars:
    snippet: "listen 8080;"
  # fails: "a listen (the site's ports are the role's)"
"""

RETURN = r"""
_value:
  description: What the snippet holds that the roles refuse, one sentence each, in the order found; empty when none.
  type: list
  elements: str
"""

# Line breaks a front end or an editor may read otherwise than a newline, and
# control characters (a tab is fine).
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f\x85\u2028\u2029]")

_NGINX_REFUSED = {
    "listen": "a listen (the site's ports are the role's: nginx_http_port, nginx_https_port)",
    "server_name": "a server_name (the site's names are pydeploy_server_names)",
    "ssl_certificate": "an ssl_certificate (the certificate is the tls role's)",
    "ssl_certificate_key": "an ssl_certificate_key (the key is the tls role's)",
    "ssl_password_file": "an ssl_password_file (the key is the tls role's)",
    "ssl_protocols": "ssl_protocols (the TLS profile is nginx_tls_profile's)",
    "ssl_ciphers": "ssl_ciphers (the TLS profile is nginx_tls_profile's)",
    "ssl_conf_command": "ssl_conf_command (the TLS profile is nginx_tls_profile's)",
}
# Directives whose first argument is a file the Nginx master opens as root,
# and the trees root keeps for Nginx that it may be in.
_NGINX_ETC = ("/etc/nginx/",)
_NGINX_FILES = {
    "include": _NGINX_ETC,
    "ssl_trusted_certificate": _NGINX_ETC,
    "ssl_client_certificate": _NGINX_ETC,
    "ssl_dhparam": _NGINX_ETC,
    "ssl_crl": _NGINX_ETC,
    "ssl_stapling_file": _NGINX_ETC,
    "ssl_session_ticket_key": _NGINX_ETC,
    "access_log": ("/var/log/nginx/",),
    "error_log": ("/var/log/nginx/",),
}
_NGINX_STATE = ("/var/cache/nginx/", "/var/lib/nginx/")

_APACHE_REFUSED = {
    "listen": "a Listen (the site's ports are the role's: apache_http_port, apache_https_port)",
    "servername": "a ServerName (the site's names are pydeploy_server_names)",
    "serveralias": "a ServerAlias (the site's names are pydeploy_server_names)",
    "loadmodule": "a LoadModule (the role enables the modules the site needs)",
    "loadfile": "a LoadFile (the role enables the modules the site needs)",
    "user": "a User (Apache's workers are www-data)",
    "group": "a Group (Apache's workers are www-data)",
    "suexecusergroup": "a SuexecUserGroup (the app runs as its user in its own processes)",
    "scriptalias": "a ScriptAlias (programs Apache runs itself: the app runs in its own processes)",
    "scriptaliasmatch": "a ScriptAliasMatch (programs Apache runs itself: the app runs in its own processes)",
    "allowoverridelist": "an AllowOverrideList (a .htaccess file the app writes would configure Apache)",
}
_APACHE_LOGS = {"customlog", "errorlog", "transferlog", "globallog", "forensiclog", "scriptlog"}
_APACHE_OPTIONS = {"execcgi", "includes", "followsymlinks", "all"}


def _nginx_words(text, problems):
    """Nginx's reading of a configuration: (words, opens a block) per
    directive, as its own tokenizer splits them."""
    statements, words, depth, i = [], [], 0, 0
    while i < len(text):
        char = text[i]
        if char.isspace():
            i += 1
        elif char == "#":
            end = text.find("\n", i)
            i = len(text) if end < 0 else end
        elif char in "\"'":
            end, word = i + 1, []
            while end < len(text) and text[end] != char:
                word.append(text[end + 1] if text[end] == "\\" and end + 1 < len(text) else text[end])
                end += 2 if text[end] == "\\" else 1
            if end >= len(text):
                problems.append("a quote (%s) that is not closed" % char)
                return statements
            words.append("".join(word))
            i = end + 1
        elif char == ";":
            if words:
                statements.append((words, False))
            words = []
            i += 1
        elif char == "{":
            if not words:
                problems.append("a '{' with no directive before it")
                return statements
            statements.append((words, True))
            words, depth, i = [], depth + 1, i + 1
        elif char == "}":
            if words:
                problems.append("a directive not ended by ';' before a '}' (%s)" % words[0])
                return statements
            depth -= 1
            if depth < 0:
                problems.append("a '}' that closes a block the snippet did not open (the role's own)")
                return statements
            i += 1
        else:
            end = i
            while end < len(text) and not text[end].isspace() and text[end] not in ";{}\"'":
                # ${name}: a variable, not a block.
                if text[end] == "$" and text[end + 1:end + 2] == "{":
                    close = text.find("}", end)
                    end = len(text) if close < 0 else close
                end += 1
            words.append(text[i:end])
            i = end
    if words:
        problems.append("a directive not ended by ';' (%s)" % words[0])
    elif depth > 0:
        problems.append("a '{' that is not closed")
    return statements


def _path_problem(name, path, trees):
    """Why a file the front end opens as root may not be at path: trees are
    where it may be, the first also the folder a relative path starts from
    (Nginx's and Apache's configuration folders) or none."""
    if "$" in path or re.search(r"(^|/)\.\.(/|$)", path):
        return "%s %s: a path with a variable or '..'" % (name, path)
    if not path.startswith("/") and trees[0] not in ("/etc/nginx/", "/etc/apache2/"):
        return "%s %s: a relative path; give it in full under %s" % (name, path, ", ".join(trees))
    if path.startswith("/") and not path.startswith(trees):
        return "%s %s: a path outside %s (files the front end opens as root)" % (name, path, ", ".join(trees))
    return None


def _nginx_problems(text):
    problems = []
    for words, opens in _nginx_words(text, problems):
        name, args = words[0].lower(), words[1:]
        if name == "server" and opens:
            problems.append("a server block (the site's server blocks are the role's)")
        elif name in _NGINX_REFUSED:
            problems.append(_NGINX_REFUSED[name])
        elif name in _NGINX_FILES and args:
            if not (name in ("access_log", "error_log") and (args[0] in ("off", "stderr") or args[0].startswith("syslog:"))):
                problem = _path_problem(name, args[0], _NGINX_FILES[name])
                if problem:
                    problems.append(problem)
        elif re.fullmatch(r"[a-z_]+_(temp|cache)_path", name) and args:
            problem = _path_problem(name, args[0], _NGINX_STATE)
            if problem:
                problems.append(problem)
    return problems


def _apache_words(line):
    """A directive's words: quotes group, backslash escapes the next character."""
    return [word[1:-1] if len(word) > 1 and word[0] == word[-1] and word[0] in "\"'" else word
            for word in re.findall(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'|\S+', line)]


def _apache_problems(text):
    problems, sections = [], []
    for line in re.sub(r"\\\n", " ", text).split("\n"):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("</"):
            name = line[2:].rstrip(">").strip().lower()
            if not sections or sections[-1] != name:
                problems.append("a </%s> that closes a section the snippet did not open (the role's own)" % line[2:].rstrip(">").strip())
                return problems
            sections.pop()
            continue
        if line.startswith("<"):
            if not line.endswith(">"):
                problems.append("a section line not ended by '>' (%s)" % line.split()[0])
                return problems
            name = line[1:-1].split()[0].lower() if line[1:-1].split() else ""
            if name == "virtualhost":
                problems.append("a VirtualHost section (the site's virtual hosts are the role's)")
            sections.append(name)
            continue
        words = _apache_words(line)
        name, args = words[0].lower(), words[1:]
        if name in _APACHE_REFUSED:
            problems.append(_APACHE_REFUSED[name])
        elif name.startswith("ssl"):
            problems.append("%s (the certificate and the TLS profile are the role's)" % words[0])
        elif name.startswith("wsgi"):
            problems.append("%s (mod_wsgi's daemons are the role's, as the app user)" % words[0])
        elif name == "allowoverride" and [arg.lower() for arg in args] != ["none"]:
            problems.append("AllowOverride %s (a .htaccess file the app writes would configure Apache)" % " ".join(args))
        elif name == "options" and {arg.lower().lstrip("+") for arg in args if not arg.startswith("-")} & _APACHE_OPTIONS:
            problems.append("Options %s (ExecCGI, Includes, FollowSymLinks and All stay off)" % " ".join(args))
        elif name == "rewritemap" and len(args) > 1 and args[1].lower().startswith(("prg:", "dbd:", "fastdbd:")):
            problems.append("a RewriteMap of a program or a database (%s)" % args[1])
        elif name in ("include", "includeoptional") and args:
            problem = _path_problem(words[0], args[0], ("/etc/apache2/",))
            if problem:
                problems.append(problem)
        elif name in _APACHE_LOGS and args:
            path = args[0]
            if path.startswith("|"):
                problems.append("%s to a program (a command run as root)" % words[0])
            elif path != "syslog" and not path.startswith("syslog:"):
                problem = _path_problem(words[0], path.replace("${APACHE_LOG_DIR}/", "/var/log/apache2/"), ("/var/log/apache2/",))
                if problem:
                    problems.append(problem)
    if sections:
        problems.append("a <%s> section that is not closed" % sections[-1])
    return problems


def snippet_problems(text, front_end):
    if text is None:
        return []
    if isinstance(text, (list, dict)):
        return ["not a text (write it as a block of lines, after '|')"]
    text = str(text)
    if front_end not in ("nginx", "apache"):
        raise ValueError("snippet_problems: front_end must be nginx or apache, not %r" % (front_end,))
    found = ["a line break other than a newline or a control character (%r)" % char for char in sorted(set(_CONTROL.findall(text)))]
    if found:
        return found
    return _nginx_problems(text) if front_end == "nginx" else _apache_problems(text)


class FilterModule:
    def filters(self):
        return {"snippet_problems": snippet_problems}
