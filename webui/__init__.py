"""Flask application factory: web UI blueprints and the JSON API over the engine services."""

from __future__ import annotations

from typing import Any

from flask import Flask, g, render_template, request
from flask.sessions import SecureCookieSessionInterface
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

from engine import democlock
from engine.audit import origin
from engine.db import MAX_ROW_ID
from engine.errors import BianminError
from engine.services import Services, open_services

from . import i18n


class _SessionInterface(SecureCookieSessionInterface):
    """The session cookie is marked `Secure` whenever the request came over HTTPS."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return super().get_cookie_secure(app) or request.is_secure


class _RowId(IntegerConverter):
    """`<int:…>` stops at the largest id a table holds: a bigger number is not found, not a database error."""

    def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", MAX_ROW_ID)
        super().__init__(map, *args, **kwargs)


def create_app(services: Services | None = None, config: dict[str, Any] | None = None) -> Flask:
    """The web UI and API; raises `NotConfigured` (and serves nothing) without a session key."""
    app = Flask(__name__)
    svc = services or open_services()
    app.config.update(SECRET_KEY=svc.settings.session_key(), MAX_CONTENT_LENGTH=svc.settings.max_upload_bytes,
                      JSON_AS_ASCII=False, SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax")
    app.config.update(config or {})
    app.session_interface = _SessionInterface()
    if svc.settings.proxy_fix:
        # Only behind a proxy that sets these headers itself: otherwise a client could claim any address.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)  # type: ignore[method-assign]
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.extensions["bianmin"] = svc
    # A demo clock moved by `bianmin clock advance` reaches each worker within democlock.REFRESH_SECONDS.
    app.before_request(democlock.Refresher(svc.db))
    app.url_map.converters["int"] = _RowId

    @app.before_request
    def _record_address() -> None:
        # Kept with each case event this request causes (behind a proxy, the address ProxyFix read).
        g.origin_token = origin.enter(request.remote_addr)

    @app.teardown_request
    def _forget_address(_exc: BaseException | None) -> None:
        token = g.pop("origin_token", None)
        if token is not None:
            origin.leave(token)

    from . import (
        anchors,
        api,
        appointments,
        audit,
        auth,
        calendar,
        cases,
        documents,
        export,
        formeditor,
        inbox,
        incidents,
        intake,
        ledger,
        modeler,
        notifications,
        operations,
        people,
        personal,
        procedures,
        public,
        ratings,
        replay,
        reveals,
        secrets,
        supervision,
        window,
    )

    app.register_blueprint(auth.bp)
    app.register_blueprint(inbox.bp)
    app.register_blueprint(cases.bp)
    app.register_blueprint(ledger.bp)
    app.register_blueprint(intake.bp)
    app.register_blueprint(replay.bp)
    app.register_blueprint(export.bp)
    app.register_blueprint(documents.bp)
    app.register_blueprint(personal.bp)
    app.register_blueprint(reveals.bp)
    app.register_blueprint(audit.bp)
    app.register_blueprint(incidents.bp)
    app.register_blueprint(modeler.bp)
    app.register_blueprint(supervision.bp)
    app.register_blueprint(window.bp)
    app.register_blueprint(calendar.bp)
    app.register_blueprint(procedures.bp)
    app.register_blueprint(people.bp)
    app.register_blueprint(secrets.bp)
    app.register_blueprint(anchors.bp)
    app.register_blueprint(notifications.bp)
    app.register_blueprint(formeditor.bp)
    app.register_blueprint(ratings.bp)
    app.register_blueprint(public.bp)
    app.register_blueprint(appointments.bp)
    app.register_blueprint(operations.bp)
    app.register_blueprint(api.bp)
    i18n.install(app)

    @app.errorhandler(BianminError)
    def _engine_error(exc: BianminError):  # type: ignore[no-untyped-def]
        if request.path.startswith("/api/"):
            return api.error_body(exc), exc.status, exc.headers
        return render_template("error.html", message=exc.message, details=exc.details), exc.status, exc.headers

    @app.errorhandler(413)
    def _too_large(_exc: Exception):  # type: ignore[no-untyped-def]
        message = "上传内容过大"
        if request.path.startswith("/api/"):
            return {"error": message}, 413
        return render_template("error.html", message=message, details=[]), 413

    @app.teardown_appcontext
    def _drop_user(_exc: BaseException | None) -> None:
        g.pop("user", None)

    return app

