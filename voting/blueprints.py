"""The web app's pages: every feature package's blueprints, registered here, and the health
checks. A view validates its form, calls its services and returns; the request's writes are
committed once, at its end (voting/core/db.py)."""
from flask import Flask


def init_app(app: Flask) -> None:
    from voting.commitments import views as commitment_views
    from voting.components import supervisor_views, views as component_views
    from voting.deadlines import views as deadline_views
    from voting.integrity import views as integrity_views
    from voting.jobs import views as job_views
    from voting.lists import views as list_views
    from voting.office import audit_views, export_views, template_views
    from voting.online import ballot_views, evaluator_views, monitor_views, round_views as online_round_views
    from voting.outbox import callback_views, views as outbox_views
    from voting.ratings import citizen_views as rating_citizen_views, views as rating_views
    from voting.ratings import figure_views as rating_figure_views
    from voting.ratings import case_views as rating_case_views, verdict_views as rating_verdict_views
    from voting.schemes import unit_views as scheme_unit_views, views as scheme_views
    from voting.scores import views as score_views
    from voting.staff import views as staff_views
    from voting.survey import citizen_views, phone_views, round_views as survey_round_views
    from voting.web import templating

    pages = (
        list_views, score_views, component_views, supervisor_views, survey_round_views, outbox_views, staff_views,
        phone_views, citizen_views, online_round_views, monitor_views, evaluator_views, ballot_views, audit_views,
        job_views, export_views, deadline_views, template_views, callback_views, scheme_views, scheme_unit_views,
        rating_views, rating_citizen_views, rating_case_views, rating_verdict_views,
        rating_figure_views,
    )
    from voting.ratings import complaint_views as rating_complaint_views, unit_views as rating_unit_views

    pages += (rating_complaint_views, rating_unit_views)
    from voting.scores import consequence_views as score_consequence_views

    pages += (score_consequence_views,)
    pages += (integrity_views,)
    pages += (commitment_views,)
    for module in pages:
        app.register_blueprint(module.bp)
    templating.init_app(app)

    @app.get("/healthz")
    def healthz():
        """Liveness: the process answers (no database: a load balancer must not kill
        every worker because the database is briefly away)."""
        return {"status": "ok"}

    @app.get("/readyz")
    def readyz():
        """Readiness: the database answers. 503 otherwise, without the error's text."""
        from voting.core.db import ping

        try:
            ping()
        except Exception:  # any failure means: do not send traffic here
            app.logger.warning("readiness check: the database did not answer", exc_info=True)
            return {"status": "unavailable", "database": "unreachable"}, 503
        return {"status": "ready", "database": "ok"}
