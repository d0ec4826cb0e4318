"""Web flows. Each view validates its form, calls one service, commits once, redirects."""
from flask import Flask, redirect, url_for


def init_app(app: Flask) -> None:
    from voting.views import office, staff

    app.register_blueprint(office.bp)
    app.register_blueprint(staff.bp)

    @app.get("/")
    def index():
        return redirect(url_for("office.dashboard"))

    @app.get("/healthz")
    def healthz():
        return {"status": "ok"}
