"""The snippet_problems filter on the controller: what the nginx and apache
roles refuse in an operator's snippet (nginx_snippets, apache_snippets)
before anything is written, as the front end itself would read the text.
Whether the front end accepts the rest is nginx -t's and apachectl
configtest's to say, on the hosts (molecule/_shared/tests/test_stack.py and
the put-back tests of the default and apache scenarios)."""

import importlib.util
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("snippet_problems", ROOT / "plugins" / "filter" / "snippet_problems.py")
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
problems = module.FilterModule().filters()["snippet_problems"]

NGINX_FINE = [
    "",
    'add_header X-Robots-Tag "noindex" always;',
    "proxy_buffer_size 16k;\nproxy_buffers 8 16k;",
    # Hotlink protection, as the Flask deployment guides show it.
    "valid_referers none blocked server_names;\nif ($invalid_referer) { return 403; }",
    # A location of its own, with braces and semicolons inside quotes.
    'location = /robots.txt {\n    default_type text/plain;\n    return 200 "User-agent: *\\nDisallow: /{admin};\\n";\n}',
    "map $http_user_agent $robots {\n    default noindex;\n    ~*^goodbot all;\n}",
    # A comment may say anything, braces and forbidden words included.
    "# listen 8080; } server {\nadd_header X-A b;",
    'add_header X-Var "${host}-x" always;\nset $a ${host}b;',
    "include snippets/headers.conf;\ninclude /etc/nginx/snippets/*.conf;",
    "access_log /var/log/nginx/hello.static.log;\nerror_log syslog:server=unix:/dev/log;\naccess_log off;",
    "proxy_cache_path /var/cache/nginx/hello levels=1:2 keys_zone=hello:10m;",
    # server inside an upstream is a directive, not a server block.
    "upstream other { server 10.0.0.2:8000; }",
    "\tgzip_types text/css;\t",
]

NGINX_REFUSED = [
    ("listen 8080;", "a listen"),
    ("location /x { listen 8443 ssl; }", "a listen"),
    ("server_name evil.example;", "a server_name"),
    ("server { return 200; }", "a server block"),
    ("ssl_certificate /etc/ssl/other.crt;", "an ssl_certificate"),
    ("ssl_certificate_key /srv/hello/shared/key.pem;", "an ssl_certificate_key"),
    ("ssl_protocols TLSv1 TLSv1.1;", "ssl_protocols"),
    ("ssl_ciphers ALL;", "ssl_ciphers"),
    ("include /srv/hello/current/nginx.conf;", "include /srv/hello/current/nginx.conf: a path outside /etc/nginx/"),
    ("include ../../srv/hello/current/x.conf;", "a path with a variable or '..'"),
    ("include /etc/nginx/../../srv/hello/x.conf;", "a path with a variable or '..'"),
    ("access_log /srv/hello/shared/access.log;", "a path outside /var/log/nginx/"),
    ("error_log /tmp/e.log;", "a path outside /var/log/nginx/"),
    ("access_log /var/log/nginx/$host.log;", "a path with a variable"),
    ("access_log logs/a.log;", "a relative path"),
    ("client_body_temp_path /srv/hello/shared/tmp;", "a path outside /var/cache/nginx/, /var/lib/nginx/"),
    ("ssl_trusted_certificate /srv/hello/ca.pem;", "a path outside /etc/nginx/"),
    # Braces: the snippet may not end the role's block, nor leave one open.
    ("} server { listen 81; ", "a '}' that closes a block the snippet did not open"),
    ("}", "a '}' that closes a block the snippet did not open"),
    ("location /x {", "a '{' that is not closed"),
    ("location /x { return 403 }", "a directive not ended by ';' before a '}'"),
    ("add_header X-A b", "a directive not ended by ';'"),
    ('add_header X-A "b;', "a quote (\") that is not closed"),
    ("{ return 403; }", "a '{' with no directive before it"),
    # Line breaks a front end or an editor reads otherwise than a newline.
    ("add_header X-A b;\r\nlisten 81;", "a line break other than a newline"),
    ("# a comment\u2028listen 81;", "a line break other than a newline"),
    ("add_header X-A b;\u2029", "a line break other than a newline"),
    ("add_header X-A b;\x85", "a line break other than a newline"),
    ("add_header X-A \x00b;", "a line break other than a newline or a control character"),
]

APACHE_FINE = [
    "",
    'Header always set X-Robots-Tag "noindex"',
    # Hotlink protection: the site's own pages and none.
    'SetEnvIf Referer "^https://localhost/" own_page\nSetEnvIf Referer "^$" own_page\nRequire env own_page',
    '<Directory /srv/hello/shared/media>\n    Options -Indexes -FollowSymLinks\n    AllowOverride None\n</Directory>',
    '<Location "/old">\n    Redirect permanent https://localhost/new\n</Location>',
    "# Listen 8080\n# </VirtualHost>\nHeader set X-A b",
    'RequestHeader set X-Long "a \\\n    b"',
    "Include /etc/apache2/pydeploy-extra/headers.conf\nIncludeOptional conf-extra/*.conf",
    'CustomLog ${APACHE_LOG_DIR}/hello.extra.log combined\nErrorLog syslog:local1',
    "<IfModule mod_headers.c>\n  Header set X-B c\n</IfModule>",
    "RewriteMap lower int:tolower",
    "Options +SymLinksIfOwnerMatch -ExecCGI -Includes",
]

APACHE_REFUSED = [
    ("Listen 8080", "a Listen"),
    ("listen 8080", "a Listen"),
    ("ServerName evil.example", "a ServerName"),
    ("ServerAlias evil.example", "a ServerAlias"),
    ("<VirtualHost *:8080>\nServerName x\n</VirtualHost>", "a VirtualHost section"),
    ("</VirtualHost>\n<VirtualHost *:81>", "a </VirtualHost> that closes a section the snippet did not open"),
    ("</Location>", "a </Location> that closes a section"),
    ("<Location /x>\nRequire all denied", "a <location> section that is not closed"),
    ("<Location /x\nRequire all denied\n</Location>", "a section line not ended by '>'"),
    ("SSLCertificateFile /etc/ssl/other.crt", "SSLCertificateFile (the certificate and the TLS profile are the role's)"),
    ("SSLProtocol all", "SSLProtocol"),
    ("SSLEngine off", "SSLEngine"),
    ("LoadModule cgi_module /usr/lib/apache2/modules/mod_cgi.so", "a LoadModule"),
    ("WSGIDaemonProcess root user=root", "WSGIDaemonProcess (mod_wsgi's daemons are the role's"),
    ("WSGIScriptAlias /x /srv/hello/current/app.wsgi", "WSGIScriptAlias"),
    ("ScriptAlias /cgi/ /srv/hello/shared/uploads/", "a ScriptAlias"),
    ("User root", "a User"),
    ("<Directory /srv/hello/shared/uploads>\nAllowOverride All\n</Directory>", "AllowOverride All"),
    ("AllowOverrideList Redirect", "an AllowOverrideList"),
    ("Options +ExecCGI", "Options +ExecCGI"),
    ("Options FollowSymLinks", "Options FollowSymLinks"),
    ("Options All", "Options All"),
    ("Options Indexes Includes", "Options Indexes Includes"),
    ("RewriteMap m prg:/srv/hello/current/map.py", "a RewriteMap of a program"),
    ("Include /srv/hello/current/apache.conf", "a path outside /etc/apache2/"),
    ("IncludeOptional /etc/apache2/../../srv/x.conf", "a path with a variable or '..'"),
    ('CustomLog "|/bin/sh -c id" combined', "CustomLog to a program (a command run as root)"),
    ("ErrorLog |/usr/bin/logger", "ErrorLog to a program"),
    ("CustomLog /srv/hello/shared/a.log combined", "a path outside /var/log/apache2/"),
    ("TransferLog ${APACHE_LOG_DIR}/../../../srv/x.log", "a path with a variable or '..'"),
    ("CustomLog logs/a.log combined", "a relative path"),
    ("Header set X-A b\r\nListen 81", "a line break other than a newline"),
    ("# c\u2028Listen 81", "a line break other than a newline"),
    ("Header set X-A \x1bb", "a control character"),
]


@pytest.mark.parametrize("text", NGINX_FINE)
def test_an_nginx_snippet_that_keeps_the_guarantees_passes(text):
    assert problems(text, "nginx") == []


@pytest.mark.parametrize(("text", "said"), NGINX_REFUSED)
def test_an_nginx_snippet_that_would_break_them_is_refused_saying_why(text, said):
    found = problems(text, "nginx")
    assert found and any(said in problem for problem in found), found


@pytest.mark.parametrize("text", APACHE_FINE)
def test_an_apache_snippet_that_keeps_the_guarantees_passes(text):
    assert problems(text, "apache") == []


@pytest.mark.parametrize(("text", "said"), APACHE_REFUSED)
def test_an_apache_snippet_that_would_break_them_is_refused_saying_why(text, said):
    found = problems(text, "apache")
    assert found and any(said in problem for problem in found), found


def test_every_problem_is_named_in_order():
    found = problems("listen 81;\nserver_name x;\nssl_certificate /a;", "nginx")
    assert [problem.split(" (")[0] for problem in found] == ["a listen", "a server_name", "an ssl_certificate"]


def test_a_front_end_it_does_not_know_is_an_error():
    with pytest.raises(ValueError, match="nginx or apache"):
        problems("x;", "caddy")
