"""The example app that pydeploy.wsgi deploys: a small Flask app shaped like a real one."""

import datetime
import json
import logging
import logging.handlers
import os
import platform

from flask import Flask, has_request_context, jsonify, render_template, request
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.utils import secure_filename

from hello.websocket import WebSocketEcho

__version__ = "1.0.0"


class RequestIdFilter(logging.Filter):
    """Gives each record the id of the request it was logged in: the
    X-Request-ID header the front end sets ("-" outside a request)."""

    def filter(self, record):
        record.request_id = request.headers.get("X-Request-ID", "-") if has_request_context() else "-"
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line (json.dumps escapes every value)."""

    def format(self, record):
        line = {
            "time": datetime.datetime.fromtimestamp(record.created).astimezone().isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", "-"),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line)


def app_logger():
    """The app's own log: APP_LOG_FILE (reopened when logrotate moves it
    away: WatchedFileHandler), or standard error, which the app server logs;
    APP_LOG_FORMAT plain or json. Every line has the request id."""
    logger = logging.getLogger("hello")
    if not logger.handlers:
        path = os.environ.get("APP_LOG_FILE")
        handler = logging.handlers.WatchedFileHandler(path) if path else logging.StreamHandler()
        handler.addFilter(RequestIdFilter())
        if os.environ.get("APP_LOG_FORMAT", "plain") == "json":
            handler.setFormatter(JsonFormatter())
        else:
            handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
    return logger


def create_app(config=None):
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=os.environ.get("SECRET_KEY"),
        APP_VERSION=os.environ.get("APP_VERSION", __version__),
        # Behind Nginx: the cookie only travels over HTTPS and is out of reach of scripts.
        SESSION_COOKIE_SECURE=os.environ.get("SESSION_COOKIE_SECURE", "1") == "1",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
    )
    if config:
        app.config.update(config)
    if not app.config["SECRET_KEY"]:
        raise RuntimeError("SECRET_KEY is not set: put it in the app's environment file")

    # One proxy (Nginx) stands in front: trust one hop of X-Forwarded-* so that
    # request.scheme, request.host and request.remote_addr are the client's.
    hops = int(os.environ.get("TRUSTED_PROXY_HOPS", "1"))
    if hops > 0:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops, x_prefix=hops)

    # /ws/echo: a WebSocket echo (hello/websocket.py).
    app.wsgi_app = WebSocketEcho(app.wsgi_app, app.config["APP_VERSION"])

    log = app_logger()

    @app.after_request
    def log_request(response):
        # A line a request, but for the health checks (the front end does
        # not log them either).
        if request.path != "/health":
            log.info("%s %s %s", request.method, request.full_path.rstrip("?"), response.status_code)
        return response

    @app.route("/")
    def index():
        return render_template("index.html", version=app.config["APP_VERSION"], host=platform.node())

    @app.route("/health")
    def health():
        # Liveness: the process answers.
        return jsonify(status="healthy")

    @app.route("/ready")
    def ready():
        # Readiness: the app has what it needs to serve requests.
        checks = {"secret_key": bool(app.config["SECRET_KEY"])}
        ok = all(checks.values())
        return jsonify(status="ready" if ok else "not ready", checks=checks), 200 if ok else 503

    @app.route("/login", methods=["GET", "POST"])
    def login():
        # Stands in for a login form: the kind of location Nginx rate-limits
        # per client address (nginx_rate_limit_locations).
        if request.method == "POST":
            return jsonify(error="invalid credentials"), 401
        return jsonify(form=["username", "password"])

    @app.route("/admin/")
    def admin():
        # A page for the site's operators: the kind of location the front end
        # puts behind basic auth (pydeploy_basic_auth). The app checks no
        # password; it names the user the front end let through.
        return jsonify(page="admin", user=request.authorization.username if request.authorization else None)

    @app.route("/upload", methods=["POST"])
    def upload():
        # Files users send, kept in UPLOAD_FOLDER (a shared folder of the
        # release the front end serves at /uploads/: the app writes, the front
        # end reads). Off when UPLOAD_FOLDER is unset.
        folder = os.environ.get("UPLOAD_FOLDER")
        sent = request.files.get("file")
        if not folder:
            return jsonify(error="uploads are off (no UPLOAD_FOLDER)"), 404
        name = secure_filename(sent.filename) if sent else ""
        if not name:
            return jsonify(error="send one file, as the form field file"), 400
        sent.save(os.path.join(folder, name))
        return jsonify(name=name, url=f"/uploads/{name}"), 201

    @app.route("/whoami")
    def whoami():
        # What the app sees of the request after the proxy: scheme and client
        # address; and which host answered (behind a balancer).
        return jsonify(
            server=platform.node(),
            scheme=request.scheme,
            host=request.host,
            remote_addr=request.remote_addr,
            url=request.url,
            version=app.config["APP_VERSION"],
        )

    return app
