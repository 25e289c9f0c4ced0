"""`flask approvals remind`, and links built where there is no request to take a host from."""

from __future__ import annotations

from agency.approvals.reminders import process_request

from .conftest import at


def test_the_remind_command_runs_the_scan_and_says_what_it_did(app, db, world, sent, mail):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["approvals", "remind", "--now", at(48).isoformat()])
    assert result.exit_code == 0, result.output
    assert f"agency {sent.agency_id} request {sent.request_id}: reminded 1 contact(s)" \
        in result.output
    assert "1 due request(s), 0 failed" in result.output
    assert [m.to for m in mail] == ["sophie@agence-alpha.test"]

    again = runner.invoke(args=["approvals", "remind", "--now", at(49).isoformat()])
    assert again.exit_code == 0 and "0 due request(s)" in again.output
    assert len(mail) == 1


def test_the_remind_command_refuses_a_bad_moment(app, db):
    result = app.test_cli_runner().invoke(args=["approvals", "remind", "--now", "tomorrow"])
    assert result.exit_code == 2 and "ISO-8601" in result.output


def test_the_scheduler_command_is_registered(app):
    result = app.test_cli_runner().invoke(args=["scheduler", "--help"])
    assert result.exit_code == 0 and "periodic jobs" in result.output


def test_links_use_public_url_when_there_is_no_request(app, db, world, sent, mail):
    saved = app.config["SERVER_NAME"], app.config.get("PUBLIC_URL")
    app.config["SERVER_NAME"], app.config["PUBLIC_URL"] = None, "https://relais.example"
    try:
        process_request(sent.agency_id, sent.request_id, at(48))
    finally:
        app.config["SERVER_NAME"], app.config["PUBLIC_URL"] = saved
    assert "https://relais.example/a/" in mail[0].text
