"""The composer: create and edit posts, times in the client's timezone, per-network checks
(live and on save), and refusals that leave nothing behind."""

from __future__ import annotations

from datetime import UTC, datetime

from agency.content.models import PostStatus
from tests.content.helpers import NEXT_YEAR, make_post, page, shows
from tests.factories import login, make_world


def _form(world, **overrides) -> dict:
    data = {"text": "Nouveau pain au levain ce week-end !",
            "targets": [str(world.sandbox_id), str(world.x_id)],
            "variant_x": "Levain ce week-end 🥖", "first_comment": "",
            "labels": "promo, été, Promo", "scheduled_date": f"{NEXT_YEAR}-07-14",
            "scheduled_time": "10:00"}
    data.update(overrides)
    return data


def test_create_a_post_scheduled_in_the_clients_timezone(client, world, read):
    login(client, world.member)
    url = f"/clients/{world.client_id}/posts/new"
    form = client.get(url)
    assert form.status_code == 200
    assert "Europe/Paris" in page(form)  # the timezone is shown next to the time
    response = client.post(url, data=_form(world))
    assert response.status_code == 303
    [post] = read.posts(world.client_id)
    assert response.headers["Location"].endswith(f"/posts/{post.id}")
    # 10:00 in Paris in July (UTC+2) is 08:00 UTC.
    stored = post.scheduled_at.replace(tzinfo=post.scheduled_at.tzinfo or UTC)
    assert stored == datetime(NEXT_YEAR, 7, 14, 8, 0, tzinfo=UTC)
    assert post.status == PostStatus.DRAFT
    assert post.variants == {"x": "Levain ce week-end 🥖"}
    assert post.labels == ["promo", "été"]
    assert read.targets(post.id) == {world.sandbox_id, world.x_id}
    [revision] = read.revisions(post.id)
    assert (revision.number, revision.content["scheduled_at"]) == (
        1, f"{NEXT_YEAR}-07-14T08:00:00+00:00")
    shown = client.get(f"/posts/{post.id}")
    assert shown.status_code == 200
    assert "10:00" in page(shown) and shows(shown, "Levain ce week-end 🥖")


def test_a_variant_too_long_for_x_is_refused_and_nothing_is_written(client, world, read):
    login(client, world.member)
    before = read.state()
    response = client.post(f"/clients/{world.client_id}/posts/new",
                           data=_form(world, variant_x="a" * 300))
    assert response.status_code == 422
    html = page(response)
    assert "Too long for X: 300 characters out of 280." in html
    assert 'id="variant_x-error"' in html  # the message sits under X's own textarea
    assert "a" * 300 in html  # what was typed is kept
    assert read.state() == before


def test_the_base_text_too_long_for_x_is_refused_on_the_text(client, world, read):
    login(client, world.member)
    response = client.post(f"/clients/{world.client_id}/posts/new",
                           data=_form(world, text="b" * 281, variant_x=""))
    assert response.status_code == 422
    assert 'id="text-error"' in page(response)
    assert read.posts(world.client_id) == []


def test_a_schedule_in_the_past_is_refused(client, world, read):
    login(client, world.member)
    before = read.state()
    response = client.post(f"/clients/{world.client_id}/posts/new",
                           data=_form(world, scheduled_date="2020-03-01"))
    assert response.status_code == 422
    assert "Choose a time in the future." in page(response)
    assert read.state() == before


def test_a_date_without_a_time_is_refused(client, world, read):
    login(client, world.member)
    response = client.post(f"/clients/{world.client_id}/posts/new",
                           data=_form(world, scheduled_time=""))
    assert response.status_code == 422
    assert "Give both a date and a time, or neither." in page(response)
    assert read.posts(world.client_id) == []


def test_a_time_skipped_by_the_clocks_is_refused(client, world, read):
    login(client, world.member)
    # In Paris the clocks go from 02:00 to 03:00 on the last Sunday of March.
    last_sunday = max(d for d in range(25, 32)
                      if datetime(NEXT_YEAR, 3, d).weekday() == 6)
    response = client.post(f"/clients/{world.client_id}/posts/new", data=_form(
        world, scheduled_date=f"{NEXT_YEAR}-03-{last_sunday}", scheduled_time="02:30"))
    assert response.status_code == 422
    assert "does not exist on that day" in page(response)
    assert read.posts(world.client_id) == []


def test_an_account_of_another_client_is_refused(client, world, read):
    login(client, world.manager)
    before = read.state()
    response = client.post(f"/clients/{world.client_id}/posts/new", data=_form(
        world, targets=[str(world.sandbox_id), str(world.other_sandbox_id)], variant_x=""))
    assert response.status_code == 422
    assert "This account does not belong to this client." in page(response)
    assert read.state() == before


def test_an_account_of_another_agency_is_refused(client, world, read, db):
    from tests.content.helpers import build_world

    foreign = build_world(make_world("Beta"))
    login(client, world.manager)
    response = client.post(f"/clients/{world.client_id}/posts/new", data=_form(
        world, targets=[str(foreign.sandbox_id)], variant_x=""))
    assert response.status_code == 422
    assert read.posts(world.client_id) == []


def test_editing_makes_a_new_revision_and_sends_an_approved_post_back_to_draft(
        client, world, read):
    post_id = make_post(world, policy="none", submit=True, text="Version une")
    assert read.post(post_id).status == PostStatus.APPROVED
    login(client, world.member)
    url = f"/posts/{post_id}/edit"
    form = client.get(url)
    assert form.status_code == 200
    html = page(form)
    assert 'value="10:00"' in html and f'value="{NEXT_YEAR}-07-14"' in html
    assert "sends this post back to draft" in html
    response = client.post(url, data={
        "text": "Version deux", "targets": [str(world.sandbox_id)], "labels": "",
        "scheduled_date": f"{NEXT_YEAR}-07-14", "scheduled_time": "10:00"})
    assert response.status_code == 303
    post = read.post(post_id)
    assert (post.text, post.status, post.revision_number) == (
        "Version deux", PostStatus.DRAFT, 2)
    assert [r.number for r in read.revisions(post_id)] == [1, 2]
    assert len(read.audit("post.edited")) == 1


def test_saving_without_a_change_keeps_the_revision_and_status(client, world, read):
    post_id = make_post(world, policy="client", submit=True, text="Pareil")
    login(client, world.member)
    response = client.post(f"/posts/{post_id}/edit", data={
        "text": "Pareil", "targets": [str(world.sandbox_id)],
        "scheduled_date": f"{NEXT_YEAR}-07-14", "scheduled_time": "10:00"})
    assert response.status_code == 303
    post = read.post(post_id)
    assert (post.status, post.revision_number) == (PostStatus.AWAITING_CLIENT, 1)


def test_a_refused_edit_changes_nothing(client, world, read):
    post_id = make_post(world, text="Avant")
    login(client, world.member)
    before = read.state()
    response = client.post(f"/posts/{post_id}/edit", data={
        "text": "Après", "targets": [str(world.x_id)], "variant_x": "x" * 400,
        "scheduled_date": f"{NEXT_YEAR}-07-14", "scheduled_time": "10:00"})
    assert response.status_code == 422
    assert read.state() == before
    post = read.post(post_id)
    assert (post.text, post.revision_number) == ("Avant", 1)
    assert read.targets(post_id) == {world.sandbox_id}


def test_a_post_of_an_unassigned_client_is_404_for_a_member(client, world):
    post_id = make_post(world, client_id=world.other_client_id,
                        targets=[world.other_sandbox_id])
    login(client, world.member)
    for url in (f"/posts/{post_id}", f"/posts/{post_id}/edit"):
        assert client.get(url).status_code == 404
    for url in (f"/posts/{post_id}/edit", f"/posts/{post_id}/submit",
                f"/posts/{post_id}/delete", f"/posts/{post_id}/comments",
                f"/posts/{post_id}/review"):
        assert client.post(url, data={"text": "x"}).status_code == 404
    assert client.get(f"/clients/{world.other_client_id}/posts/new").status_code == 404


def test_the_live_check_measures_each_targeted_network(client, world):
    login(client, world.member)
    url = f"/clients/{world.client_id}/posts/check"
    response = client.post(url, data={"text": "Bonjour", "targets": [str(world.x_id),
                                                                     str(world.sandbox_id)]},
                           headers={"HX-Request": "true"})
    assert response.status_code == 200
    html = page(response)
    assert "7 / 280 characters" in html and "7 / 5000 characters" in html
    assert "<html" not in html  # a fragment for htmx, not a page
    too_long = client.post(url, data={"text": "Bonjour", "targets": [str(world.x_id)],
                                      "variant_x": "é" * 281})
    assert "281 / 280 characters" in page(too_long)
    assert "Too long for X" in page(too_long)
    nothing = client.post(url, data={"text": "Bonjour"})
    assert "Choose an account" in page(nothing)


def test_the_live_check_ignores_accounts_of_other_clients(client, world):
    login(client, world.member)
    response = client.post(f"/clients/{world.client_id}/posts/check",
                           data={"text": "Bonjour", "targets": [str(world.other_sandbox_id)]})
    assert "Choose an account" in page(response)
    assert client.post(f"/clients/{world.other_client_id}/posts/check",
                       data={"text": "x"}).status_code == 404


def test_the_composer_asks_htmx_to_check_as_the_user_types(client, world):
    login(client, world.member)
    html = page(client.get(f"/clients/{world.client_id}/posts/new"))
    assert f'hx-post="/clients/{world.client_id}/posts/check"' in html
    assert 'hx-trigger="input changed delay:400ms' in html
    assert "<script>" not in html and "style=" not in html


def test_the_live_check_needs_the_pages_csrf_token(app, client, world):
    import re

    login(client, world.member)
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        html = page(client.get(f"/clients/{world.client_id}/posts/new"))
        token = re.search(r'<meta name="csrf-token" content="([^"]+)"', html).group(1)
        url = f"/clients/{world.client_id}/posts/check"
        data = {"text": "Bonjour", "targets": [str(world.x_id)]}
        assert client.post(url, data=data).status_code == 400
        # relais.js sends the page's token as X-CSRFToken on every htmx request.
        response = client.post(url, data=data, headers={"X-CSRFToken": token,
                                                        "HX-Request": "true"})
        assert response.status_code == 200
        assert "7 / 280 characters" in page(response)
    finally:
        app.config["WTF_CSRF_ENABLED"] = False


def test_a_post_of_another_agency_is_404(client, world):
    from tests.content.helpers import build_world

    foreign = build_world(make_world("Beta"))
    post_id = make_post(foreign, text="Chez Beta")
    login(client, world.owner)
    assert client.get(f"/posts/{post_id}").status_code == 404
    assert client.get(f"/posts/{post_id}/edit").status_code == 404
    assert client.post(f"/posts/{post_id}/delete").status_code == 404
