"""The CSV user import lists every problem of every row (README: "if any row is wrong nothing
is added and every problem is listed"), in row order, and adds nothing."""

from __future__ import annotations

import html
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from users.csv_import import parse_users_csv
from users.models import User
from users.services.people import check_rows

pytestmark = pytest.mark.django_db

BAD = (
    "email,first_name,password,temporary_password,require_pin\n"
    "ann@acme.test,Ann,,no,no\n"                           # line 2: fine
    "not-an-email,X,short,maybe,no\n"                      # line 3: three problems
    "ANN@acme.test,Dup,,no,perhaps\n"                      # line 4: duplicate + flag
    "admin@acme.test,Admin,,no,no\n"                       # line 5: has an account
    "cy@acme.test,Cy,,yes,no\n"                            # line 6: temporary, no password
    "dan@acme.teſt,Dan,,no,no\n"                           # line 7: folds differently
    "eve@acme.test,Eve,Corr3ct-horse-battery,yes,yes\n"    # line 8: fine
)
EXPECTED = [
    "line 3: temporary_password must be yes or no, not 'maybe'",
    "line 3: 'not-an-email' is not a valid email address",
    "line 3: password rejected: This password is too short.",
    "line 4: require_pin must be yes or no, not 'perhaps'",
    "line 4: ann@acme.test is already on line 2",
    "line 5: admin@acme.test already has an account",
    "line 6: a temporary password needs a password",
    "line 7: write 'dan@acme.teſt' as 'dan@acme.test'",
]


def _listed(response) -> list[str]:
    block = re.search(r"Nothing was added.</strong><ul>(.*?)</ul>", response.content.decode(),
                      re.S).group(1)
    return [html.unescape(item) for item in re.findall(r"<li>(.*?)</li>", block)]


def _import(portal, tenant, data: str | bytes):
    raw = data.encode() if isinstance(data, str) else data
    return portal.post(f"/t/{tenant.slug}/admin/users/import/",
                       {"file": SimpleUploadedFile("users.csv", raw)})


def test_every_problem_of_every_row_is_listed_in_order(portal, tenant):
    response = _import(portal, tenant, BAD)
    assert response.status_code == 400
    listed = _listed(response)
    assert [item for item in listed if not item.startswith("line 3: password rejected")] == \
        [item for item in EXPECTED if not item.startswith("line 3: password rejected")]
    assert any(item.startswith("line 3: password rejected: This password is too short")
               for item in listed)
    assert not User.objects.filter(tenant=tenant, role="user").exists()


def test_file_problems_come_first_and_rows_are_still_checked(portal, tenant):
    data = "email,shoe_size\nnot-an-email,42\nok@acme.test,43\n"
    listed = _listed(_import(portal, tenant, data))
    assert listed == ["Unknown columns: shoe_size.",
                      "line 2: 'not-an-email' is not a valid email address"]
    assert not User.objects.filter(tenant=tenant, role="user").exists()


def test_a_file_that_cannot_be_read_says_so_alone(portal, tenant):
    assert _listed(_import(portal, tenant, b"\xff\xfe\x00")) == ["The file is not UTF-8 text."]
    assert _listed(_import(portal, tenant, "name\nann\n")) == [
        "The first line must name the columns, including 'email'."]


def test_the_fixed_file_imports(portal, tenant):
    fixed = ("email,first_name,password,temporary_password,require_pin\n"
             "ann@acme.test,Ann,,no,no\n"
             "eve@acme.test,Eve,Corr3ct-horse-battery,yes,yes\n")
    response = _import(portal, tenant, fixed)
    assert response.status_code == 302
    eve = User.objects.get(tenant=tenant, email="eve@acme.test")
    assert eve.must_change_password and eve.require_registration_pin


def test_parsing_keeps_row_problems_on_their_rows(tenant):
    parsed = parse_users_csv(BAD.encode())
    assert parsed.errors == []
    by_line = {row.line: row.problems for row in parsed.rows}
    assert by_line[3] == ["line 3: temporary_password must be yes or no, not 'maybe'"]
    assert by_line[4] == ["line 4: require_pin must be yes or no, not 'perhaps'"]
    assert by_line[2] == by_line[8] == []
    assert len(check_rows(tenant, parsed.rows, "line")) == len(EXPECTED)
