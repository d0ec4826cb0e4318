"""`pingyi demo-year`: a whole simulated year through the platform's own services
(voting.demo.simulate), and the same year scored offline from its exported files."""
from __future__ import annotations

import json

from click.testing import CliRunner
from sqlalchemy import func, select

from scoring import columns as C
from voting.components.commands import bundle as bundle_group
from voting.jobs.jobs import Progress
from voting.online.models import Ballot, BallotCast, BallotMark, Evaluator, EvaluatorKind
from voting.survey.models import Channel, Invitation, RoundStatus, Vote
from voting.scores import scorecards
from voting.online.ballots import online_round
from voting.demo.simulate import simulate_year
from voting.demo.synthetic import write_bundle

SMALL = {"list_size": 12, "per_section": 6, "representatives": 70, "turnout": 0.9}


def count(db, model) -> int:
    return db.scalar(select(func.count()).select_from(model))


def test_a_simulated_year_runs_every_step_and_scores_like_the_offline_bundle(app, db, tmp_path):
    stages: dict[str, tuple[int, int]] = {}  # each stage's last (done, total)
    progress = Progress(on_change=lambda p: stages.__setitem__(p.stage, (p.done, p.total)))
    run = simulate_year(db, app, seed=7, echo=lambda _: None, progress=progress, **SMALL)
    db.commit()
    # The command's progress bar: every stage said, the long ones counted.
    assert list(stages)[0] == "导入参评科室和服务对象名单" and list(stages)[-1] == "评分"
    assert stages["H1 轮调查：模拟市民评价"][1] > 1000 and stages["网络评价：模拟评价人投票"][1] == run.evaluators

    # The daily stage went through the rounds: every vote belongs to an invitation, by
    # every channel, and the rounds are closed.
    assert run.invitations == count(db, Invitation) and run.votes == count(db, Vote) > run.invitations // 2
    assert {c for (c,) in db.execute(select(Vote.channel).distinct())} == {Channel.link, Channel.sms, Channel.phone}
    # The online round: the 65/35 mix, one 'has voted' row per ballot, 110 marks a ballot.
    kinds = dict(db.execute(select(Evaluator.kind, func.count()).group_by(Evaluator.kind)).all())
    service = kinds.pop(EvaluatorKind.service_object)
    assert sum(kinds.values()) == SMALL["representatives"] and service == round(SMALL["representatives"] * 0.65 / 0.35)
    assert run.evaluators == service + SMALL["representatives"]
    assert run.ballots == count(db, Ballot) == count(db, BallotCast) and count(db, BallotMark) == 110 * run.ballots
    consumed = db.scalar(select(func.count()).select_from(Evaluator).where(Evaluator.password_hash.is_(None)))
    assert consumed == run.ballots and online_round(db, run.campaign).status is RoundStatus.closed

    # The proposed lists: 10 满意, 10 不满意 of which 3 最不满意.
    assert [len(run.lists[k]) for k in ("satisfied", "unsatisfied", "most_unsatisfied")] == [10, 10, 3]
    assert {tuple(x) for x in run.lists["most_unsatisfied"]} <= {tuple(x) for x in run.lists["unsatisfied"]}
    assert not run.card.warnings

    # The same data as exchange files (docs/rules.md §6), scored by the offline command: the same results.
    folder = tmp_path / "bundle"
    folder.mkdir()
    write_bundle(scorecards.year_inputs(db, run.campaign), folder)
    result = CliRunner().invoke(bundle_group, ["score", str(folder), "--json"])
    assert result.exit_code == 0, result.output
    offline = {(s["unit"], s["section"]): s["result"] for s in json.loads(result.output)["sections"] if s["result"]}
    sections = run.card.sections
    online = {(u, s): r for u, s, r in zip(sections[C.UNIT], sections[C.SECTION], sections[C.RESULT]) if r}
    assert offline == online and len(offline) == 20



def test_the_command_prints_the_lists_from_a_fresh_database_of_its_own(app, tmp_path, monkeypatch):
    """Without --database it writes a new SQLite file, so a newcomer's demo campaign
    (or real data) is never touched; the lists are printed."""
    import voting.demo.simulate

    monkeypatch.setattr(voting.demo.simulate, "simulate_year", _small(voting.demo.simulate.simulate_year))
    url = f"sqlite:///{tmp_path / 'year.sqlite'}"
    result = app.test_cli_runner().invoke(args=["demo-year", "--database", url, "--seed", "3"])
    assert result.exit_code == 0, result.output
    assert "满意单位（10 个）" in result.output and "不满意单位（10 个）" in result.output
    assert "最不满意单位（3 个）" in result.output and f"DATABASE_URL={url} pingyi demo" in result.output
    # The same year again into the same database: refused with a message, no trace.
    again = app.test_cli_runner().invoke(args=["demo-year", "--database", url])
    assert again.exit_code != 0 and "2021" in again.output and "Traceback" not in again.output


def _small(real):
    def run(*args, **kwargs):
        return real(*args, **{**kwargs, **SMALL})
    return run
