"""Web flows. Each view validates its form, calls one service and redirects; the request
commits once, as it ends (voting/db.py, the request's unit of work)."""
from flask import Flask


def init_app(app: Flask) -> None:
    from voting.views import (
        audit,
        ballot,
        citizen,
        components,
        deadlines,
        evaluator,
        exports,
        import_templates,
        jobs,
        office,
        online,
        online_monitor,
        phone,
        rounds,
        scores,
        sms,
        staff,
        supervisor,
        templating,
    )

    for blueprint in (office.bp, scores.bp, components.bp, supervisor.bp, rounds.bp, sms.bp, staff.bp, phone.bp, citizen.bp,
                      online.bp, online_monitor.bp, evaluator.bp, ballot.bp, audit.bp, jobs.bp, exports.bp, deadlines.bp):
        app.register_blueprint(blueprint)
    app.register_blueprint(import_templates.bp)
    templating.init_app(app)

    @app.get("/healthz")
    def healthz():
        """Liveness: the process answers (no database: a load balancer must not kill
        every worker because the database is briefly away)."""
        return {"status": "ok"}

    @app.get("/readyz")
    def readyz():
        """Readiness: the database answers. 503 otherwise, without the error's text."""
        from voting.db import ping

        try:
            ping()
        except Exception:  # any failure means: do not send traffic here
            app.logger.warning("readiness check: the database did not answer", exc_info=True)
            return {"status": "unavailable", "database": "unreachable"}, 503
        return {"status": "ready", "database": "ok"}
