from tests.factories import make_world


def test_world_builds(db):
    world = make_world()
    assert world.client.agency_id == world.agency.id


def test_healthz(client):
    assert client.get("/healthz").json == {"status": "ok"}
