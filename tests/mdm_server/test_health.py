"""/healthz: the database and the broker, each reported, 503 when one is down."""


def test_healthz_reports_database_and_broker(client, db):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "broker": "ok"}


def test_healthz_reports_broker_down(client, db, monkeypatch):
    from mdm_server import health

    unreachable = health.celery_app.connection_for_write("redis://127.0.0.1:1/0")
    monkeypatch.setattr(health.celery_app, "connection_for_write", lambda: unreachable)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["broker"].startswith("error")
