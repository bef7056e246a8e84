"""The Devices list at scale: pages read their ids first (same rows and order as a plain
Paginator, whatever the sort), sorting ties break on the id in the sort's direction, and the
page and the API cost the same queries for 5 devices or 60."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.paginator import Paginator
from django.db import connection
from django.http import QueryDict
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core.pagination import IdsFirstPaginator
from devices.filtersets import DeviceFilterSet
from devices.models import Device
from users.models import User

pytestmark = pytest.mark.django_db


def make(tenant, count: int, start: int = 0) -> None:
    owner = User.objects.create_user(tenant, f"owner{start}@acme.test")
    now = timezone.now()
    Device.objects.bulk_create([
        Device(tenant=tenant, platform=("ios", "macos", "android")[n % 3], state="active",
               name=f"D{n % 4}", os_version=f"1{n % 3}.0", owner=owner if n % 2 else None,
               last_seen_at=now - dt.timedelta(hours=n % 5) if n % 7 else None)
        for n in range(start, start + count)])


@pytest.mark.parametrize("ordering", ["", "name", "-name", "last_seen", "-last_seen",
                                      "platform", "-os_version", "state,-name"])
def test_ids_first_pages_match_a_plain_paginator(tenant, other_tenant, ordering):
    make(tenant, 23)
    make(other_tenant, 5, start=100)
    queryset = DeviceFilterSet(QueryDict(f"ordering={ordering}"),
                               queryset=Device.objects.for_tenant(tenant)
                               .select_related("owner")).qs
    plain, ids_first = Paginator(queryset, 4), IdsFirstPaginator(queryset, 4)
    assert ids_first.count == plain.count == 23
    for number in plain.page_range:
        expected = [d.pk for d in plain.page(number)]
        page = ids_first.page(number)
        assert [d.pk for d in page] == expected, (ordering, number)
        assert page.has_next() == plain.page(number).has_next()
    seen = [d.pk for n in ids_first.page_range for d in ids_first.page(n)]
    assert sorted(seen) == sorted(queryset.values_list("pk", flat=True))  # none twice or lost


def test_ties_break_on_the_id_in_the_sorts_direction(tenant):
    make(tenant, 8)

    def ids(ordering):
        return list(DeviceFilterSet(QueryDict(f"ordering={ordering}"),
                                    queryset=Device.objects.for_tenant(tenant)).qs
                    .filter(name="D0").values_list("pk", flat=True))
    assert ids("name") == sorted(ids("name")) and ids("-name") == ids("name")[::-1]


def test_list_page_and_api_queries_do_not_grow(portal, api, tenant):
    make(tenant, 5)
    api.get("/api/v1/devices/")  # the token's first use of the minute is written down
    portal.get("/t/acme/admin/devices/")  # and the session's

    def queries(url, client) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        return len(captured)

    urls = [("/t/acme/admin/devices/?ordering=-last_seen", portal),
            ("/t/acme/admin/devices/?platform=ios&page=2", portal),
            ("/api/v1/devices/?ordering=name&page_size=3&page=2", api)]
    before = [queries(url, client) for url, client in urls]
    make(tenant, 120, start=5)
    assert [queries(url, client) for url, client in urls] == before
    assert before[0] <= 6
