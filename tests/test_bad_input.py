"""Bad input fails at the input checks, naming the variable, before any task
touches a host.

The playbooks run with the demo inventory's group_vars, against a host that
cannot be reached (a container that does not exist), without gathering
facts: the input checks run on the controller, so a run passes only if the
play stops before its first contact with the host (and the checks read no
facts). A control run with good input shows that the same play does go on
to the host, so the cases prove something.

Most cases run in a batch: the playbook's own checks (its first play's
tasks/check-inputs.yml, without the play's any_errors_fatal) over one host a
case, each case's variables in the inventory; each host must fail naming its
variable and change nothing. For every check task that refused a case, the
case's real run of the playbook shows that the play stops there, before the
host. (A run's fixed cost is Ansible's start and the play's load; a batch
pays it once.)
"""

import concurrent.futures
import copy
import importlib.util
import json
import os
import pathlib
import re
import subprocess

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
# make_certificate() and changed_count() are the scenarios' helpers.
_spec = importlib.util.spec_from_file_location("scenario_helpers", ROOT / "molecule" / "default" / "tests" / "conftest.py")
helpers = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(helpers)

HOST = "pydeploy-unreachable"
REACH = {"ansible_connection": "community.docker.docker", "ansible_python_interpreter": "/usr/bin/python3"}
# The first task after the input checks: in site.yml the app's source,
# prepared on the controller (the host is first reached by the check of an
# unchanged host that follows); in deploy.yml the app's lock on the host
# (playbooks/tasks/lock.yml).
FIRST_ROLE_TASK = "TASK [pydeploy.wsgi.app : Prepare the source on the controller]"
FIRST_DEPLOY_TASK = "TASK [Take or release the lock of the app on the host]"
# (extra vars, what the failure names); in a batch, as inventory variables.
BAD_INPUT = [
    ("nginx_https_port=fourfourthree", "nginx_https_port"),
    ("gunicorn_worker_class=turbo", "value of gunicorn_worker_class must be one of: sync, gthread, gevent, eventlet, got: turbo"),
    ("gunicorn_workers=many", "gunicorn_workers"),
    ("pydeploy_wsgi_app=not-an-entry-point", "app_wsgi_app"),
    # Variables no longer read are refused, naming what replaced them.
    ("gunicorn_wsgi_app=wsgi:app", "gunicorn_wsgi_app is no longer read: set pydeploy_wsgi_app"),
    ("uwsgi_started_argv=[]", "uwsgi_started_argv is no longer read: set app_server_started_argv"),
    ("app_health_socket=/run/hello/gunicorn.sock", "app_health_socket is no longer read"),
    ('{"app_env": {"BAD NAME": "x"}}', "app_env"),
    ('{"nginx_static_locations": [{"location": "/static", "path": "x/"}]}', "nginx_static_locations"),
    ("tls_key_type=DSA", "tls_key_type"),
    # The host's CA: at most a year, and as long as what it signs.
    ("tls_ca_days=3650", "tls_ca_days must be from tls_selfsigned_days (90) to 365"),
    ('{"tls_ca_days": 60}', "tls_ca_days must be from tls_selfsigned_days (90) to 365"),
    ("pydeploy_app_name=Bad/Name", "pydeploy_app_name"),
    ("nginx_tls_profile=old", "nginx_tls_profile"),
    # A system the collection does not deploy to (the facts a play gathers, given here).
    ('{"ansible_facts": {"distribution": "Debian", "distribution_major_version": "11"}}',
     "runs Debian 11; this collection deploys to Debian 12 and Debian 13"),
    ("nginx_rate_limit_rate=fast", "nginx_rate_limit_rate"),
    ('{"gunicorn_sandbox_overrides": {"no such directive": true}}', "gunicorn_sandbox_overrides"),
    ("tls_mode=acme", "tls_acme_terms_agreed"),
    ("pydeploy_front_end=caddy", "pydeploy_front_end"),
    ("app_health_endpoint=ftp://localhost/health", "app_health_endpoint"),
    # Hostile values: a path out of the release, directives smuggled into
    # Nginx's, Apache's, systemd's or Python's files.
    ('{"app_shared_dirs": [{"path": "x/../../../../etc"}]}', "app_shared_dirs"),
    # A folder the front end serves: top-level, its group's bits the front end's, others' none.
    ('{"app_shared_dirs": [{"path": "media/uploads", "served": true}]}', "media/uploads: a folder the front end serves"),
    ('{"app_shared_dirs": [{"path": "uploads", "served": true, "mode": "0755"}]}', "others nothing, as 0750 or 0770 (got 0755)"),
    ('{"app_shared_dirs": [{"path": "uploads", "served": true, "mode": "0700"}]}', "others nothing, as 0750 or 0770 (got 0700)"),
    ('{"app_shared_dirs": [{"path": "uploads", "served": "sometimes"}]}', "app_shared_dirs"),
    ('{"app_shared_dirs": [{"path": "uploads", "served": true}], "app_served_group": "adm"}', "app_served_group: \"adm\" is not"),
    ('{"app_shared_dirs": [{"path": "uploads", "served": true}], "app_served_group": "www-data;\\nx"}', "app_served_group: "),
    ('{"app_shared_dirs": [{"path": "uploads", "served": true}], "app_served_group": "hello"}', "app_served_group: \"hello\" is not"),
    # The canonical name: one of the site's names, a DNS name, nothing smuggled into a redirect.
    ("pydeploy_canonical_name=www.example.com", "pydeploy_canonical_name must be one of pydeploy_server_names"),
    ("pydeploy_canonical_name=127.0.0.1", "pydeploy_canonical_name must be one of pydeploy_server_names, a name (no wildcard, no address"),
    ('{"pydeploy_server_names": ["localhost", "*.localhost"], "pydeploy_canonical_name": "*.localhost"}',
     "pydeploy_canonical_name must be one of pydeploy_server_names, a name (no wildcard"),
    ('{"pydeploy_canonical_name": "localhost;\\nreturn 302 https://evil.example"}', "pydeploy_canonical_name must be one of"),
    ('{"nginx_canonical_name": "evil.example"}', "nginx_canonical_name must be one of the names the site answers to, nginx_server_names"),
    ('{"nginx_canonical_name": "localhost\\u2028x"}', "nginx_canonical_name must be a DNS name, no wildcard and no address"),
    ('{"nginx_canonical_name": "localhost$request_uri"}', "nginx_canonical_name must be a DNS name"),
    ('{"pydeploy_front_end": "apache", "apache_canonical_name": "local{host}"}', "apache_canonical_name must be a DNS name"),
    ('{"pydeploy_front_end": "apache", "apache_canonical_name": "127.0.0.1"}', "apache_canonical_name must be a DNS name, no wildcard and no address"),
    # Trusted proxies: addresses or networks, never every address, nothing smuggled.
    ('{"pydeploy_trusted_proxies": ["0.0.0.0/0"]}',
     "nginx_trusted_proxies (pydeploy_trusted_proxies) must be IP addresses or networks such as 203.0.113.0/24, none of them every address"),
    ('{"pydeploy_trusted_proxies": ["10.0.0.0/8", "::/0"]}', "nginx_trusted_proxies (pydeploy_trusted_proxies) must be IP addresses"),
    ('{"pydeploy_trusted_proxies": ["203.0.113.0/24; real_ip_header X-Real-IP"]}', "nginx_trusted_proxies (pydeploy_trusted_proxies)"),
    ('{"pydeploy_trusted_proxies": ["cdn.example.com"]}', "nginx_trusted_proxies (pydeploy_trusted_proxies)"),
    ('{"pydeploy_front_end": "apache", "pydeploy_trusted_proxies": ["10.0.0.0/8\\nRemoteIPHeader X-Client"]}',
     "apache_trusted_proxies (pydeploy_trusted_proxies) must be IP addresses"),
    # Basic auth: where, who, a realm; nothing smuggled into the front end's
    # files, no password in a message.
    ('{"pydeploy_basic_auth": {"locations": ["/admin/"]}}', "nginx_basic_auth"),
    ('{"pydeploy_basic_auth": {"locations": ["admin"], "users": [{"name": "a", "password": "pw"}]}}',
     "nginx_basic_auth (pydeploy_basic_auth): each of its locations must be a URL path starting with '/'"),
    ('{"pydeploy_basic_auth": {"locations": ["/admin/;\\n}"], "users": [{"name": "a", "password": "pw"}]}}',
     "each of its locations must be a URL path"),
    ('{"pydeploy_basic_auth": {"locations": ["/static/../etc/"], "users": [{"name": "a", "password": "pw"}]}}',
     "each of its locations must be a URL path"),
    ('{"pydeploy_basic_auth": {"realm": "x\\"; auth_basic off; #", "users": [{"name": "a", "password": "pw"}]}}',
     "nginx_basic_auth (pydeploy_basic_auth): its realm must be up to 64 letters"),
    ('{"pydeploy_basic_auth": {"users": [{"name": "ad:min", "password": "pw"}, {"name": "b", "password": "pw"}]}}',
     'each user needs a name of its own, of letters, digits, \'.\', \'_\', \'@\' or \'-\' (got ["ad:min", "b"])'),
    ('{"pydeploy_basic_auth": {"users": [{"name": "a", "password": "pw"}, {"name": "a", "password": "pw2"}]}}',
     "each user needs a name of its own"),
    ('{"pydeploy_basic_auth": {"users": [{"name": "admin", "password": "s3cret\\nadmin2:$6$x$y"}]}}',
     "each user's password must be one line, not empty (users: admin)"),
    ('{"pydeploy_basic_auth": {"users": [{"name": "admin", "password": "s3cret\\u2028"}]}}',
     "each user's password must be one line, not empty (users: admin)"),
    ('{"pydeploy_front_end": "apache", "pydeploy_basic_auth": {"locations": ["/a b/"], "users": [{"name": "a", "password": "pw"}]}}',
     "apache_basic_auth (pydeploy_basic_auth): each of its locations must be a URL path"),
    # Snippets: the front end's own words, but nothing that breaks the
    # guarantees (ports, names, certificate, files root opens, the role's
    # own blocks), in one of the site's own locations only.
    ('{"nginx_snippets": {"server": "listen 8080;"}}', "nginx_snippets.server refused: a listen (the site's ports are the role's"),
    ('{"nginx_snippets": {"http": "} server { server_name evil.example; #"}}',
     "nginx_snippets.http refused: a '}' that closes a block the snippet did not open (the role's own)"),
    ('{"nginx_snippets": {"server": "ssl_certificate /srv/hello/shared/evil.crt;"}}',
     "nginx_snippets.server refused: an ssl_certificate (the certificate is the tls role's)"),
    ('{"nginx_snippets": {"server": "# a comment\\u2028listen 81;"}}',
     "nginx_snippets.server refused: a line break other than a newline or a control character ('\\u2028')"),
    ('{"nginx_snippets": {"locations": {"/static/": "include /srv/hello/current/nginx.conf;"}}}',
     'nginx_snippets.locations["/static/"] refused: include /srv/hello/current/nginx.conf: a path outside /etc/nginx/'),
    ('{"nginx_snippets": {"locations": {"/static/": "access_log /srv/hello/shared/uploads/x.log;"}}}',
     "access_log /srv/hello/shared/uploads/x.log: a path outside /var/log/nginx/"),
    ('{"nginx_snippets": {"locations": {"/nowhere/": "return 403;"}}}',
     "nginx_snippets.locations: each must be one of the site's own locations"),
    ('{"nginx_snippets": {"location": {"/static/": "return 403;"}}}', "nginx_snippets"),
    ('{"pydeploy_front_end": "apache", "apache_snippets": {"server": "</VirtualHost>\\n<VirtualHost *:8080>"}}',
     "apache_snippets.server refused: a </VirtualHost> that closes a section the snippet did not open"),
    ('{"pydeploy_front_end": "apache", "apache_snippets": {"server": "CustomLog \\"|/bin/sh -c id\\" combined"}}',
     "apache_snippets.server refused: CustomLog to a program (a command run as root)"),
    ('{"pydeploy_front_end": "apache", "apache_snippets": {"server": "WSGIDaemonProcess x user=root"}}',
     "apache_snippets.server refused: WSGIDaemonProcess"),
    ('{"pydeploy_front_end": "apache", "apache_snippets": {"locations": {"/uploads/": "AllowOverride All"}}}',
     'apache_snippets.locations["/uploads/"] refused: AllowOverride All'),
    ('{"pydeploy_front_end": "apache", "apache_snippets": {"locations": {"/a b/": "Require all denied"}}}',
     "apache_snippets.locations: each must be a URL path starting with '/'"),
    # Maintenance: who still gets the site, the page, its Retry-After, the error pages.
    ('{"pydeploy_maintenance_allow": ["0.0.0.0/0"]}',
     "nginx_maintenance_allow (pydeploy_maintenance_allow) must be IP addresses or networks such as 203.0.113.0/24"),
    ('{"pydeploy_maintenance_allow": ["203.0.113.0/24 1;\\n    default 1"]}', "nginx_maintenance_allow (pydeploy_maintenance_allow)"),
    ('{"pydeploy_front_end": "apache", "pydeploy_maintenance_allow": ["10.0.0.0/8\' || true || \'"]}',
     "apache_maintenance_allow (pydeploy_maintenance_allow) must be IP addresses or networks"),
    ('{"pydeploy_maintenance_page": "  "}', "nginx_maintenance_page (pydeploy_maintenance_page) must be the HTML of a page, not empty"),
    ("pydeploy_maintenance_retry_after=-5", "nginx_maintenance_retry_after must be 0 or more seconds (got -5)"),
    ('{"nginx_maintenance_flag": "/var/lib/pydeploy/../../etc/passwd"}', "nginx_maintenance_flag must be an absolute path"),
    ('{"nginx_maintenance_flag": "/var/lib/x; return 200"}', "nginx_maintenance_flag must be an absolute path"),
    ('{"pydeploy_error_pages": {"404": "<h1>nope</h1>"}}', "nginx_error_pages (pydeploy_error_pages): a page of HTML, not empty, for each of 413, 429"),
    ('{"pydeploy_error_pages": {"502": ""}}', "nginx_error_pages (pydeploy_error_pages): a page of HTML"),
    ('{"pydeploy_front_end": "apache", "pydeploy_error_pages": {"429": "<h1>slow down</h1>"}}',
     "apache_error_pages (pydeploy_error_pages): a page of HTML, not empty, for each of 413, 502, 503, 504"),
    # Deploy hooks: shell commands, so ';' and braces are theirs; nothing empty, no control characters.
    ('{"app_hooks": {"build": [""]}}', "app_hooks: each command must be a shell command, not empty"),
    ('{"app_hooks": {"before_switch": ["flask cache warm\\u2028rm -rf /"]}}', "app_hooks: each command must be a shell command"),
    ('{"app_hooks": {"after_switch": ["curl -X POST https://cdn.example/purge\\r"]}}', "app_hooks: each command must be a shell command"),
    ('{"app_hooks": {"after_deploy": ["true"]}}', "app_hooks"),
    ('{"app_hooks": {"build": "npm ci"}}', "app_hooks"),
    ("app_hooks_after_switch_failure=ignore", "app_hooks_after_switch_failure must be one of: report, rollback"),
    ('{"nginx_referrer_policy": "no-referrer always; return 302 https://evil.example$request_uri; #"}', "nginx_referrer_policy"),
    ('{"nginx_extra_headers": {"X-Test": "a\\"; return 302 /; #"}}', "nginx_extra_headers"),
    ("nginx_frame_options=ALLOWALL", "nginx_frame_options"),
    ('{"gunicorn_sandbox_overrides": {"User": "root"}}', "gunicorn_sandbox_overrides"),
    ('{"gunicorn_sandbox_overrides": {"ExecStartPre": "/bin/sh -c id"}}', "gunicorn_sandbox_overrides"),
    ('{"gunicorn_sandbox_overrides": {"PrivateDevices": "no\\nUser=root"}}', "gunicorn_sandbox_overrides"),
    ('{"gunicorn_extra_settings": {"workers\\nimport os": 1}}', "gunicorn_extra_settings"),
    ('{"pydeploy_front_end": "apache", "apache_frame_options": "DENY\\nHeader set X y"}', "apache_frame_options"),
    ('{"pydeploy_front_end": "apache", "apache_referrer_policy": "no-referrer\\" always"}', "apache_referrer_policy"),
    ('{"pydeploy_front_end": "apache", "apache_client_max_body_size": "lots"}', "apache_client_max_body_size"),
    ('{"pydeploy_front_end": "apache", "pydeploy_app_server": "mod_wsgi", "apache_wsgi_user": "root;id"}', "apache_wsgi_user"),
    ('{"pydeploy_front_end": "apache", "apache_tls_cert_path": "/etc/x.crt\\nSSLEngine off"}', "apache_tls_cert_path"),
    ('{"pydeploy_front_end": "apache", "apache_static_locations": [{"location": "/s/", "path": "../../etc/"}]}',
     "apache_static_locations"),
    # Values systemd's EnvironmentFile= would cut; named, never shown.
    ('{"app_env": {"GREETING": "line one\\nAPP_VERSION=forged"}}', "values must be one line each"),
    ('{"app_secret_key": "0123456789abcdef0123456789abcdef\\rX=1"}', "these are not: app_secret_key"),
    ("pydeploy_app_user=root", "app_user and app_group (pydeploy_app_user) must be a user and group name of the app's own"),
    ('{"pydeploy_health_path": "/health\\n"}', "app_health_path must start with /"),
    ("gunicorn_health_path=health", "gunicorn_health_path must be empty or a path"),
    ("nginx_health_timeout=0", "nginx_health_timeout must be at least 1 second"),
    # nginx + uwsgi: typed and checked values, nothing smuggled into the ini
    # file or the unit, no WebSocket over uWSGI's protocol.
    ('{"pydeploy_app_server": "uwsgi", "uwsgi_processes": "many"}', "uwsgi_processes"),
    ('{"pydeploy_app_server": "uwsgi", "uwsgi_buffer_size": 1024}', "uwsgi_buffer_size must be 4096 to 65535 bytes"),
    ('{"pydeploy_app_server": "uwsgi", "uwsgi_threads": 4, "uwsgi_enable_threads": false}', "uwsgi_threads > 1 needs uwsgi_enable_threads"),
    ('{"pydeploy_app_server": "uwsgi", "uwsgi_extra_options": {"plugins": "python2"}}',
     "uwsgi_extra_options may not set what the role sets itself (got plugins"),
    ('{"pydeploy_app_server": "uwsgi", "uwsgi_extra_options": {"route": "^/x$ log:x\\nsocket = 0.0.0.0:80"}}',
     "uwsgi_extra_options: values must not hold line breaks"),
    ('{"pydeploy_app_server": "uwsgi", "uwsgi_extra_options": {"env": "LEAK=@(/etc/shadow)"}}', "uwsgi_extra_options: values must not hold"),
    ('{"pydeploy_app_server": "uwsgi", "uwsgi_request_log_format": "%(addr) $(SECRET_KEY)"}',
     "uwsgi_request_log_format must be one line without $ or @"),
    # Logs: formats and destinations are choices; the journal is refused with
    # mod_wsgi; the role's logging settings are not for extra settings.
    ('{"pydeploy_app_server": "uwsgi", "uwsgi_log_format": "%(addr) %(uri)"}', "uwsgi_log_format"),
    ('{"pydeploy_app_server": "uwsgi", "uwsgi_log_destination": "syslog"}', "uwsgi_log_destination"),
    ("pydeploy_log_format=xml", "pydeploy_log_format must be plain or json"),
    ('{"pydeploy_log_destination": "journal; rm -rf /"}', "pydeploy_log_destination must be file or journal"),
    ('{"pydeploy_front_end": "apache", "pydeploy_app_server": "mod_wsgi", "pydeploy_log_destination": "journal"}',
     "pydeploy_log_destination journal: mod_wsgi runs the app inside Apache"),
    ('{"pydeploy_request_id_trust": "sometimes"}', "pydeploy_request_id_trust must be true or false"),
    # One switch for the app server: Apache's own, set in an inventory, must agree with it.
    ('{"pydeploy_front_end": "apache", "pydeploy_app_server": "gunicorn", "apache_backend": "mod_wsgi"}',
     'apache_backend "mod_wsgi" contradicts pydeploy_app_server "gunicorn" (which makes it proxy)'),
    ('{"nginx_log_format": "json\\nerror_log /tmp/x"}', "nginx_log_format"),
    ('{"pydeploy_front_end": "apache", "apache_log_format": "combined"}', "apache_log_format"),
    ('{"gunicorn_log_destination": "../../etc"}', "gunicorn_log_destination"),
    ('{"gunicorn_extra_settings": {"logger_class": "evil.Logger"}}', "gunicorn_extra_settings may not set logger_class"),
    ('{"logrotate_maxsize": "1G\\npostrotate"}', "logrotate_maxsize (and a config's maxsize) a size such as 100M"),
    ("logrotate_rotate=0", "logrotate_rotate a count of 1 or more"),
    ('{"pydeploy_app_server": "uwsgi", "uwsgi_sandbox_overrides": {"RuntimeDirectory": "etc"}}', "uwsgi_sandbox_overrides may change the sandbox only"),
    ('{"pydeploy_app_server": "uwsgi", "uwsgi_socket_path": "/run/hello/../../etc/x.sock"}', "uwsgi_socket_path"),
    ('{"pydeploy_app_server": "uwsgi", "nginx_websocket_locations": ["/ws"]}', "nginx_websocket_locations need an app server that speaks HTTP"),
    ("nginx_upstream_protocol=fastcgi", "nginx_upstream_protocol"),
    # How a deploy rolls; the TCP listeners.
    ("pydeploy_serial=0", "pydeploy_serial must be a number of hosts (1 or more) or a percentage"),
    ('{"pydeploy_drain_timeout": "60; reboot"}', "pydeploy_drain_timeout must be a number of seconds"),
    # Both named at once: the one task of the run's settings checks them all.
    ('{"pydeploy_skip_unchanged": "yes\\nplease", "pydeploy_skip_unchanged_max_age": "1d"}',
     'pydeploy_skip_unchanged must be true or false (got "yes\\nplease"); pydeploy_skip_unchanged_max_age must be a number of seconds'),
    ('{"gunicorn_tcp_address": "0.0.0.0\\nExecStartPre=/bin/sh"}', "gunicorn_tcp_address must be an IPv4 or IPv6 address"),
    ('{"pydeploy_app_server": "uwsgi", "uwsgi_tcp_address": "127.0.0.1;rm"}', "uwsgi_tcp_address must be an IPv4 or IPv6 address"),
    # The app port: one address of the host, the balancers alone, uWSGI's
    # own protocol only where the operator says so.
    ('{"gunicorn_tcp_address": "0.0.0.0", "gunicorn_tcp_port": 8000}', "gunicorn_tcp_address must be one address of the host, not 0.0.0.0 or ::"),
    ('{"pydeploy_app_server": "uwsgi", "uwsgi_tcp_address": "::", "uwsgi_tcp_port": 8000}', "uwsgi_tcp_address must be one address of the host, not 0.0.0.0 or ::"),
    ('{"gunicorn_tcp_allow": ["10.0.0.5 ::/0"]}', "gunicorn_tcp_allow must be addresses or networks"),
    ('{"gunicorn_tcp_allow": ["0.0.0.0/0"]}', "gunicorn_tcp_allow must be addresses or networks"),
    ('{"pydeploy_app_server": "uwsgi", "uwsgi_tcp_allow": ["10.0.0.5\\nIPAddressAllow=any"]}', "uwsgi_tcp_allow must be addresses or networks"),
    ('{"pydeploy_app_server": "uwsgi", "pydeploy_split_protocol": "uwsgi;"}', "pydeploy_split_protocol must be http or uwsgi"),
    # Untrusted code (issue 25): a rollback target that is a path, identities
    # and folders of the system or of another service, line breaks that
    # Python's splitlines() cuts where systemd does not.
    ("app_rollback_to=../../../run/lock/x", "app_rollback_to must be a release id"),
    ('{"pydeploy_app_user": "www-data", "app_group": "docker"}',
     "must not be the name of a system account, a privileged group or a service's folder (www-data, docker)"),
    ("pydeploy_app_name=nginx", "must not be the name of a system account, a privileged group or a service's folder (nginx)"),
    # Root makes the app server's log folder and gives it to the app's user.
    ("gunicorn_log_dir=/var/log", "gunicorn_log_dir must be a folder of the app's own"),
    ('{"pydeploy_app_server": "uwsgi", "uwsgi_log_dir": "/etc/ssl/private"}', "uwsgi_log_dir must be a folder of the app's own"),
    # One case per refused value: tests/test_unsafe_paths.py.
    ('{"app_root": "/srv/../etc", "app_log_dir": "/var/log/nginx", "app_config_dir": "/etc/ssl/private", "app_env_file": "/tmp/env"}',
     "app_config_dir, app_env_file, app_log_dir, app_root: must be an absolute, normalised path"),
    ('{"app_env": {"A": "x\\u2028SECRET_KEY=forged", "B": "x\\u2029", "C": "x\\u0085", "D": "x\\u000b", "E": "x\\u001e", "F": "x\\u000c"}}',
     "these are not: A, B, C, D, E, F"),
    # The host between runs (issue 30): alert channels, the monitor, renewal, updates; no message shows a
    # password or a webhook's URL.
    ('{"pydeploy_alert_email": {"to": ["ops@example.org\\nBcc: all@example.org"], "relay": "smtp.example.org"}}',
     "alerts_email (pydeploy_alert_email) needs `to`"),
    ('{"pydeploy_alert_email": {"to": "ops@example.org", "relay": "smtp.example.org;evil"}}', "alerts_email (pydeploy_alert_email) needs `to`"),
    ('{"pydeploy_alert_email": {"to": ["ops@example.org"], "relay": "smtp.example.org", "password": "s3cret\\u2028x", "user": "u"}}',
     "`user` and `password` one line each (the password is not shown)"),
    ('{"pydeploy_alert_email": {"to": ["ops@example.org"], "relay": "smtp.example.org", "tls": "sometimes"}}', "tls"),
    ('{"pydeploy_alert_webhooks": ["http://hooks.example.org/T0KEN-plain"]}',  # the token never shown: below
     "alerts_webhooks (pydeploy_alert_webhooks) item 1 must be one https:// URL"),
    ('{"pydeploy_alert_webhooks": ["https://hooks.example.org/T0KEN {x}"]}', "item 1 must be one https:// URL"),
    ("pydeploy_health_monitor_interval=5", "alerts_health_monitor_interval (pydeploy_health_monitor_interval) must be 0 (no monitor) or at least 10"),
    ('{"alerts_units": ["hello.service; rm -rf /"]}', "is not a systemd unit name"),
    ('{"alerts_disk_paths": ["/srv/../etc"]}', "alerts_disk_paths"),
    ("alerts_disk_min_free_percent=0", "alerts_disk_min_free_percent must be 1 to 90"),
    ('{"updates_reboot_time": "4am"}', "updates_reboot_time must be a time of day"),
    ('{"updates_origins": ["origin=Debian;Unattended-Upgrade::Mail root", "origin=Debian\\nx"]}', "updates_origins must be one or more apt origin patterns"),
    ("tls_acme_account_key_path=/etc/ssl/pydeploy/private/acme-account.key", "tls_acme_account_key_path is no longer read"),
    ("pydeploy_firewall=true", "pydeploy_firewall (firewall_enabled) needs pydeploy_firewall_ssh_from"),
    ("app_audit=sometimes", "value of app_audit must be one of"),
    ('{"app_audit_ignore": ["PYSEC-1; rm -rf /"]}', "app_audit_ignore must be vulnerability ids"),
    ('{"app_audit_osv_url": "https://osv.example/v1/query\\n--ignore-vuln=X"}', "app_audit_osv_url must be an http(s) URL"),
    ('{"app_audit_tool": "pip-audit==2.10.1 --index-url http://evil"}', "app_audit_tool must be a requirement such as pip-audit==2.10.1"),
    ('{"app_audit_tool_path": "/usr"}', "app_audit_tool_path must be a folder of its own"),
    ('{"pydeploy_firewall": true, "pydeploy_firewall_ssh_from": ["10.0.0.0/8 } accept; tcp dport 0-65535 accept #"]}',
     "pydeploy_firewall_ssh_from (firewall_ssh_from) must be IP addresses or networks"),
    ('{"pydeploy_firewall_allow": [{"port": "22; flush ruleset"}]}', "pydeploy_firewall_allow (firewall_allow): each opening is"),
    ('{"pydeploy_firewall_allow": [{"port": 70000, "from": ["10.0.0.1/8"]}]}', "pydeploy_firewall_allow (firewall_allow): each opening is"),
    ("firewall_check_timeout=90", "firewall_check_timeout (90) must be shorter than firewall_revert_after (60)"),
]
# Cases a batch cannot hold: facts are not inventory variables.
REAL_RUN_ONLY = ['{"ansible_facts": {"distribution": "Debian", "distribution_major_version": "11"}}']
# Bad values for three roles at once: an argument spec and two roles' checks.
THREE_ROLES = '{"gunicorn_workers": 0, "nginx_http_port": 8443, "nginx_https_port": 8443, "tls_key_type": "DSA"}'
THREE_ROLES_NAMED = [
    "pydeploy.wsgi.gunicorn: gunicorn_workers must be at least 1 (got 0)",
    "pydeploy.wsgi.nginx: nginx_http_port and nginx_https_port must differ (both 8443)",
    "pydeploy.wsgi.tls: value of tls_key_type must be one of",
]
# (extra vars, what the failure names) with an inventory of lb and app
# groups: the split stack's own checks.
BAD_SPLIT_INPUT = [
    ('{"pydeploy_private_address": "10.0.0.5; reboot"}', "pydeploy_private_address must be an IPv4 or IPv6 address"),
    ("pydeploy_app_port=0", "pydeploy_app_port must be a TCP port"),
    ('{"pydeploy_app_port": "8000 backup"}', "pydeploy_app_port must be a TCP port"),
    ('{"pydeploy_front_end": "apache", "pydeploy_app_server": "mod_wsgi"}', "With lb and app groups, the balancer is Nginx"),
    ('{"app_shared_dirs": [{"path": "uploads", "served": true}]}', "is marked served (by the front end), but"),
    # Every address, the public ones included: the app port open to the world.
    ("pydeploy_private_address=0.0.0.0", "pydeploy_private_address must be one address of the host on its private network, not 0.0.0.0"),
    ('{"pydeploy_private_address": "::"}', "pydeploy_private_address must be one address of the host on its private network"),
    # uWSGI's own protocol beyond the host only where the operator says so.
    ("pydeploy_app_server=uwsgi", "whoever speaks uWSGI's protocol sets the server's environment with its request variables (the port takes the balancers alone); say so with pydeploy_split_protocol: uwsgi (got pydeploy_split_protocol \"http\")"),
    ("pydeploy_split_protocol=uwsgi", "Gunicorn speaks http to the balancers on the app hosts' port (got pydeploy_split_protocol \"uwsgi\")"),
]
# The stacks this collection deploys, as the refusal of another lists them.
VALID_PAIRS = "Valid pairs: nginx + gunicorn, apache + gunicorn, apache + mod_wsgi, nginx + uwsgi."
APACHE_MOD_WSGI = '{"pydeploy_front_end": "apache", "pydeploy_app_server": "mod_wsgi"}'
NGINX_UWSGI = "pydeploy_app_server=uwsgi"
NAMES = ["localhost", "www.localhost", "127.0.0.1"]
# (case, what the failure says): tls_mode files with certificates that do not fit.
BAD_FILES = [
    ("key of another certificate", "is not the key of the certificate tls_cert_src"),
    ("expired", "expired on"),
    ("other names", "does not cover localhost, www.localhost, 127.0.0.1"),
]


# (name, extra vars) for deploy.yml: the app role's preflight checks.
PREFLIGHT = {
    "secret_key": '{"app_secret_key": "too-short"}',
    "debug_off": '{"app_env": {"DEBUG": "1"}}',
    "debug_off (FLASK_DEBUG)": '{"app_env": {"FLASK_DEBUG": "true"}}',
    "cookie_secure": '{"app_env": {"SESSION_COOKIE_SECURE": "0"}}',
    "cookie_httponly": '{"app_env": {"SESSION_COOKIE_HTTPONLY": "false"}}',
    "no_sqlite": '{"app_env": {"DATABASE_URL": "sqlite:////srv/hello/db.sqlite"}}',
}


def files_mode(cert, key):
    return {"tls_mode": "files", "tls_cert_src": str(cert), "tls_key_src": str(key)}


def run_playbook(inventory, playbook, *args, json_output=False):
    env = dict(
        os.environ,
        ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
        ANSIBLE_GATHERING="explicit",
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_VAULT_PASSWORD_FILE=str(ROOT / "inventories" / "demo" / "vault-password.txt"),
        PYDEPLOY_EXAMPLES_DIR=str(ROOT / "examples"),
    )
    if json_output:
        # Each host's results apart, as data.
        env.update(ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json")
    cmd = ["ansible-playbook", "-i", str(inventory), str(ROOT / "playbooks" / playbook), *args]
    result = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env, timeout=300, check=False)
    return result.returncode, result.stdout if json_output else result.stdout + result.stderr


def as_variables(extra):
    """What `-e extra` sets, as the inventory would: a case of a batch."""
    return json.loads(extra) if extra.startswith("{") else dict([extra.split("=", 1)])


def checks_play(playbook, path):
    """The input checks of one of the collection's playbooks as its first play
    runs them (its hosts, variables and tasks/check-inputs.yml), written to
    path without the play's any_errors_fatal: each host of a batch, one case,
    fails on its own."""
    play = yaml.safe_load((ROOT / "playbooks" / playbook).read_text())[0]
    include = [
        task for task in play.get("pre_tasks", []) + play.get("tasks", [])
        if task.get("ansible.builtin.import_tasks") == "tasks/check-inputs.yml"
    ]
    assert len(include) == 1, include
    include = copy.deepcopy(include[0])
    include["ansible.builtin.import_tasks"] = str(ROOT / "playbooks" / "tasks" / "check-inputs.yml")
    assert include.pop("any_errors_fatal") is True
    checks = {key: play[key] for key in ("name", "hosts", "become", "gather_facts", "vars") if key in play}
    checks["vars_files"] = [str(ROOT / "playbooks" / name) for name in play["vars_files"]]
    checks["tasks"] = [include]
    path.write_text(yaml.safe_dump([checks]))
    return path


def run_batch(base, name, playbook, cases):
    """One run of the playbook's checks over a host a case (the case's
    variables in the inventory, beside the demo group_vars). Returns each
    case's end: the task that failed, its message, and the host's counts."""
    folder = base / name
    folder.mkdir()
    (folder / "group_vars").symlink_to(ROOT / "inventories" / "demo" / "group_vars")
    hosts = {f"case-{index}": {**REACH, "ansible_host": HOST, **variables} for index, variables in enumerate(cases.values())}
    (folder / "hosts.yml").write_text(yaml.safe_dump({"all": {"children": {"web": {"hosts": hosts}}}}))
    rc, out = run_playbook(folder, checks_play(playbook, folder / "checks.yml"), json_output=True)
    data = json.loads(out[out.index("{"):])
    failed = {}
    for play in data["plays"]:
        for task in play["tasks"]:
            for host, result in task["hosts"].items():
                if result.get("failed") and host not in failed:
                    failed[host] = (task["task"]["name"], str(result.get("msg", "")))
    assert rc != 0, out[-2000:]
    return {
        case: {"task": failed.get(f"case-{index}", (None, ""))[0], "msg": failed.get(f"case-{index}", (None, ""))[1],
               "stats": data["stats"][f"case-{index}"]}
        for index, case in enumerate(cases)
    }


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The cases' ends: real runs of the playbooks (rc, output) by name, and
    (under "checked") the batches' cases by name."""
    base = tmp_path_factory.mktemp("bad-input")
    inventory = base / "inventory"
    inventory.mkdir()
    (inventory / "group_vars").symlink_to(ROOT / "inventories" / "demo" / "group_vars")
    hosts = {"all": {"children": {"web": {"hosts": {HOST: {**REACH, "ansible_host": HOST}}}}}}
    (inventory / "hosts.yml").write_text(yaml.safe_dump(hosts))
    certs = base / "certs"
    certs.mkdir()
    good_cert, _, _ = helpers.make_certificate(certs, NAMES)
    _, other_key, _ = helpers.make_certificate(certs, NAMES)
    expired_cert, expired_key, _ = helpers.make_certificate(certs, NAMES, days=-1, not_before_days=-30)
    other_cert, other_names_key, _ = helpers.make_certificate(certs, ["example.org", "www.example.org"])
    # The cases of a batch: their variables.
    site_cases = {extra: as_variables(extra) for extra, _ in BAD_INPUT if extra not in REAL_RUN_ONLY}
    site_cases["key of another certificate"] = files_mode(good_cert, other_key)
    site_cases["expired"] = files_mode(expired_cert, expired_key)
    site_cases["other names"] = files_mode(other_cert, other_names_key)
    site_cases["nginx + mod_wsgi"] = {"pydeploy_app_server": "mod_wsgi"}
    site_cases["apache + uwsgi"] = {"pydeploy_front_end": "apache", "pydeploy_app_server": "uwsgi"}
    site_cases["three roles"] = json.loads(THREE_ROLES)
    deploy_cases = {f"preflight {name}": as_variables(extra) for name, extra in PREFLIGHT.items()}
    # Real runs: the controls, and the cases a batch cannot hold.
    jobs = {"control": ("site.yml", [])}
    jobs.update({extra: ("site.yml", ["-e", extra]) for extra in REAL_RUN_ONLY})
    jobs["deploy control"] = ("deploy.yml", [])
    jobs["apache + mod_wsgi control"] = ("site.yml", ["-e", APACHE_MOD_WSGI])
    jobs["apache + gunicorn control"] = ("site.yml", ["-e", "pydeploy_front_end=apache"])
    jobs["deploy apache + mod_wsgi control"] = ("deploy.yml", ["-e", APACHE_MOD_WSGI])
    jobs["nginx + uwsgi control"] = ("site.yml", ["-e", NGINX_UWSGI])
    jobs["deploy nginx + uwsgi control"] = ("deploy.yml", ["-e", NGINX_UWSGI])
    # The checks run whatever --tags asks for.
    split = base / "split"
    split.mkdir()
    (split / "group_vars").mkdir()
    (split / "group_vars" / "all").symlink_to(ROOT / "inventories" / "demo" / "group_vars" / "web", target_is_directory=True)
    # The demo's uploads are served by the front end of its one host: an app
    # host of a split stack has none (a case below).
    (split / "group_vars" / "app").mkdir()
    (split / "group_vars" / "app" / "vars.yml").write_text("app_shared_dirs: [{path: uploads}]\n")
    (split / "hosts.yml").write_text(yaml.safe_dump({"all": {"children": {
        "lb": {"hosts": {f"{HOST}-lb": {**REACH, "ansible_host": f"{HOST}-lb", "pydeploy_private_address": "10.0.0.10"}}},
        "app": {"hosts": {HOST: {**REACH, "ansible_host": HOST, "pydeploy_private_address": "10.0.0.11"}}},
        "web": {"hosts": {f"{HOST}-web": {**REACH, "ansible_host": f"{HOST}-web"}}},
    }}}))
    jobs.update({f"split {extra}": ("site.yml", ["-e", extra, "--limit", "lb:app"], split) for extra, _ in BAD_SPLIT_INPUT})
    jobs["split control"] = ("site.yml", ["--limit", "lb:app"], split)
    jobs["split deploy control"] = ("deploy.yml", ["--limit", "lb:app"], split)
    jobs["split web host"] = ("site.yml", [], split)
    jobs["deploy --tags app control"] = ("deploy.yml", ["--tags", "app"])
    jobs["deploy --tags app"] = ("deploy.yml", ["--tags", "app", "-e", "gunicorn_worker_class=turbo"])
    jobs["site --tags nginx"] = ("site.yml", ["--tags", "nginx", "-e", "nginx_tls_profile=old"])
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        batches = [
            pool.submit(run_batch, base, "site-batch", "site.yml", site_cases),
            pool.submit(run_batch, base, "deploy-batch", "deploy.yml", deploy_cases),
        ]
        futures = {
            name: pool.submit(run_playbook, job[2] if len(job) > 2 else inventory, job[0], *job[1]) for name, job in jobs.items()
        }
        checked = {**batches[0].result(), **batches[1].result()}
        # For each check task that refused a case of a batch, its first case
        # in a real run: the playbook stops there, before the host.
        firsts = {}
        for case, end in checked.items():
            playbook = "deploy.yml" if case in deploy_cases else "site.yml"
            firsts.setdefault((playbook, end["task"]), case)
        for (playbook, _), case in firsts.items():
            variables = site_cases.get(case) or deploy_cases[case]
            futures[f"real {case}"] = pool.submit(run_playbook, inventory, playbook, "-e", json.dumps(variables))
        results = {name: future.result() for name, future in futures.items()}
    results["checked"] = checked
    results["firsts"] = {case: task for (_, task), case in firsts.items()}
    return results


def stopped_before_the_host(out, first_task=FIRST_ROLE_TASK):
    """The play ended in the input checks: no role task started, nothing
    changed, and the host was never contacted."""
    assert helpers.changed_count(out) == 0, out[-2000:]
    assert first_task not in out, out[-2000:]
    assert re.search(rf"^{HOST}\s+: .*unreachable=0 ", out, re.M), out[-2000:]


def failure_of(out):
    """A real run's failure, from its error on."""
    return out[out.find("[ERROR]") :] if "[ERROR]" in out else out[out.find("fatal:") :]


def refused(runs, case, named, first_task=FIRST_ROLE_TASK):
    """The case failed naming `named` (a text its failure holds, or a list of
    them), before any change: in a real run, the play stopped before the
    host; in a batch, its host failed in a check and changed nothing."""
    names = named if isinstance(named, list) else [named]
    if case in runs:
        rc, out = runs[case]
        assert rc != 0, out[-2000:]
        failure = re.sub(r"\s+", " ", failure_of(out))
        assert [name for name in names if name not in failure_of(out) and name not in failure] == [], out[-2000:]
        stopped_before_the_host(out, first_task)
        return out
    end = runs["checked"][case]
    assert end["task"] is not None, f"{case}: no check refused it"
    message = re.sub(r"\s+", " ", end["msg"])
    assert [name for name in names if name not in end["msg"] and name not in message] == [], end
    assert (end["stats"]["changed"], end["stats"]["unreachable"], end["stats"]["failures"]) == (0, 0, 1), end
    return end["msg"]


@pytest.mark.parametrize(
    ("control", "first_task"),
    [
        ("control", FIRST_ROLE_TASK),
        ("deploy control", FIRST_DEPLOY_TASK),
        ("deploy --tags app control", FIRST_DEPLOY_TASK),
        ("apache + mod_wsgi control", FIRST_ROLE_TASK),
        ("apache + gunicorn control", FIRST_ROLE_TASK),
        ("deploy apache + mod_wsgi control", FIRST_DEPLOY_TASK),
        ("nginx + uwsgi control", FIRST_ROLE_TASK),
        ("deploy nginx + uwsgi control", FIRST_DEPLOY_TASK),
        ("split control", FIRST_ROLE_TASK),
        ("split deploy control", FIRST_DEPLOY_TASK),
    ],
)
def test_good_input_goes_on_to_the_host(runs, control, first_task):
    # The control: past the checks, the play's first role task tries the host.
    rc, out = runs[control]
    assert rc != 0, out[-2000:]
    assert first_task in out, out[-3000:]
    # ... and fails there, for want of the host.
    assert re.search(rf"^fatal: \[{HOST}\]", out[out.index(first_task) :], re.M), out[-3000:]
    # A default pattern's group the inventory lacks (lb and app beside one
    # web host) is no warning.
    assert "Could not match supplied host pattern" not in out, out[:3000]


@pytest.mark.parametrize(("extra", "named"), BAD_INPUT, ids=[named for _, named in BAD_INPUT])
def test_bad_variable_fails_before_any_change(runs, extra, named):
    refused(runs, extra, named)


def test_each_check_that_refuses_stops_the_play_before_the_host(runs):
    # For every check task that refused a case of a batch: that case, given
    # to the real playbook, fails in the same task, and the play stops there.
    # One task checks the play's and the roles' input on every host and the
    # next stops each host whose input failed; the certificate files of
    # tls_mode files need a module; deploy.yml's preflight is its own play.
    tasks = set(runs["firsts"].values())
    assert len(runs["firsts"]) >= 3 and "Stop a host whose input failed its checks" in tasks, runs["firsts"]
    playbooks = {
        case: FIRST_DEPLOY_TASK if case.startswith("preflight ") else FIRST_ROLE_TASK for case in runs["firsts"]
    }
    for case, task in runs["firsts"].items():
        rc, out = runs[f"real {case}"]
        assert rc != 0, out[-2000:]
        assert f"TASK [{task}]" in out and re.search(rf"^(fatal|failed): \[{HOST}[] ]", out[out.rindex(f"TASK [{task}]") :], re.M), (case, out[-2000:])
        first_line = runs["checked"][case]["msg"].split("\n")[0][:60]
        assert first_line in failure_of(out), (case, first_line, out[-2000:])
        stopped_before_the_host(out, playbooks[case])


@pytest.mark.parametrize(("extra", "named"), BAD_SPLIT_INPUT, ids=[named for _, named in BAD_SPLIT_INPUT])
def test_bad_split_stack_variable_fails_before_any_change(runs, extra, named):
    rc, out = runs[f"split {extra}"]
    assert rc != 0, out[-2000:]
    assert named in re.sub(r"\s+", " ", out), out[-2000:]
    stopped_before_the_host(out)


def test_a_host_in_neither_lb_nor_app_is_refused_in_a_split_inventory(runs):
    rc, out = runs["split web host"]
    assert rc != 0, out[-2000:]
    assert f"{HOST}-web is in neither the lb nor the app group, but the inventory has both" in re.sub(r"\s+", " ", out), out[-2000:]
    stopped_before_the_host(out)


@pytest.mark.parametrize(("case", "message"), BAD_FILES, ids=[case for case, _ in BAD_FILES])
def test_files_mode_refuses_a_certificate_that_does_not_fit(runs, case, message):
    refused(runs, case, message)


@pytest.mark.parametrize("name", PREFLIGHT)
def test_preflight_check_fails_before_any_change(runs, name):
    check = name.split()[0]
    refused(runs, f"preflight {name}", [f"Preflight checks failed: {check}", "To waive a check knowingly"], FIRST_DEPLOY_TASK)


@pytest.mark.parametrize(
    ("case", "named", "first_task"),
    [
        ("deploy --tags app", "value of gunicorn_worker_class must be one of", FIRST_DEPLOY_TASK),
        ("site --tags nginx", "nginx_tls_profile", FIRST_ROLE_TASK),
    ],
)
def test_bad_variable_fails_whatever_the_tags(runs, case, named, first_task):
    refused(runs, case, named, first_task)


def test_every_role_with_bad_input_is_named_at_once(runs):
    # One task checks every role: the run names each failing role's variable, not the first only.
    refused(runs, "three roles", THREE_ROLES_NAMED)


def test_a_pair_that_is_not_a_stack_is_refused_naming_both_and_the_valid_ones(runs):
    refused(runs, "nginx + mod_wsgi", ['pydeploy_front_end "nginx" with pydeploy_app_server "mod_wsgi" is not a stack', VALID_PAIRS])
    refused(runs, "apache + uwsgi", ['pydeploy_front_end "apache" with pydeploy_app_server "uwsgi" is not a stack', VALID_PAIRS])
    refused(runs, "pydeploy_front_end=caddy", VALID_PAIRS)


@pytest.mark.parametrize(
    ("control", "unused"),
    [
        # The demo inventory's Nginx and Gunicorn settings do nothing under
        # apache + mod_wsgi: said, not ignored silently.
        ("apache + mod_wsgi control", "gunicorn_max_requests, gunicorn_max_requests_jitter, gunicorn_workers, nginx_client_max_body_size"),
        ("apache + gunicorn control", "nginx_client_max_body_size, nginx_public_https_port"),
        ("nginx + uwsgi control", "gunicorn_max_requests, gunicorn_max_requests_jitter, gunicorn_workers"),
    ],
)
def test_inventory_variables_of_roles_the_stack_leaves_out_are_named(runs, control, unused):
    _, out = runs[control]
    flat = re.sub(r"\s+", " ", out)
    warning = re.search(r"\[WARNING\]: (.*?) are set in the inventory, but the stack", flat)
    assert warning, out[-3000:]
    assert unused in warning.group(1)
    # The roles named are those of the variables, in order.
    roles = re.search(r"does not use (.*?): they have no effect", flat).group(1)
    assert roles == " or ".join(sorted({name.split("_")[0] for name in warning.group(1).split(", ")})), flat
    # Gunicorn's settings are used under apache + gunicorn; Nginx's under
    # nginx + uwsgi.
    assert ("gunicorn_workers" in warning.group(1)) == ("gunicorn" not in control)
    assert ("nginx_" in warning.group(1)) == ("apache" in control)


def test_a_refused_password_is_never_shown(runs):
    # Basic auth's users (two cases) and the alerts' relay login (one).
    cases = [(extra, named) for extra, named in BAD_INPUT if '"password": "s3cret' in extra]
    assert len(cases) == 3
    for extra, named in cases:
        assert "s3cret" not in refused(runs, extra, named)


def test_a_refused_webhook_url_is_never_shown(runs):
    cases = [(extra, named) for extra, named in BAD_INPUT if "T0KEN" in extra]
    assert len(cases) == 2
    for extra, named in cases:
        assert "T0KEN" not in refused(runs, extra, named)
