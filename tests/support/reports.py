"""The Excel report as the office gets it: made by a background job (voting/tasks.py,
report; at once under the tests' JOBS_URL=immediate), downloaded from the job's page."""
from __future__ import annotations


def excel_report(client):  # a test client's response
    """POST the report's button, follow to its job, download the file it made."""
    made = client.post("/office/scores/report")
    assert made.status_code == 303, made.status_code
    return client.get(made.headers["Location"].rstrip("/") + "/file")
