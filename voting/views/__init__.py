"""Web flows. Each view validates its form, calls one service, commits once, redirects."""
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from flask import Flask, redirect, url_for


def init_app(app: Flask) -> None:
    from voting.views import (
        audit,
        ballot,
        citizen,
        components,
        evaluator,
        office,
        online,
        online_monitor,
        phone,
        rounds,
        scores,
        sms,
        staff,
        supervisor,
    )

    for blueprint in (office.bp, scores.bp, components.bp, supervisor.bp, rounds.bp, sms.bp, staff.bp, phone.bp, citizen.bp,
                      online.bp, online_monitor.bp, evaluator.bp, ballot.bp, audit.bp):
        app.register_blueprint(blueprint)

    @app.get("/")
    def index():
        return redirect(url_for("office.dashboard"))

    @app.template_filter("local_time")
    def local_time(value: datetime | None) -> str:
        """A stored UTC time in the office's zone (SQLite hands it back without a zone)."""
        if value is None:
            return ""
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value.astimezone(ZoneInfo(app.config["TIMEZONE"])).strftime("%Y-%m-%d %H:%M")

    @app.get("/healthz")
    def healthz():
        return {"status": "ok"}
