"""Page-number pagination with a client-chosen page size (capped)."""

import re

from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination

from core.pagination import IdsFirstPaginator

WHOLE_NUMBER = re.compile(r"[0-9]+")


class StandardPagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500
    last_page_strings = ()  # the schema says page is a number; "last" is not one

    def get_page_number(self, request, paginator):
        """Absent: the first page. DRF also took an empty value for the first page; like any
        value that is not a page number it is now "Invalid page." (404)."""
        return request.query_params.get(self.page_query_param, 1)

    def get_page_size(self, request) -> int:
        """DRF takes a page_size it cannot read (null, 0, -3, 2.5) for the default one; a
        client that asked for something else should hear so. A larger one is capped."""
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        digits = raw.lstrip("0")
        if not WHOLE_NUMBER.fullmatch(raw) or not digits:
            raise ValidationError({self.page_size_query_param: [
                f"Enter a whole number from 1 (more than {self.max_page_size} is taken as "
                f"{self.max_page_size})."]})
        return self.max_page_size if len(digits) > 9 else min(int(digits), self.max_page_size)

    def get_schema_operation_parameters(self, view) -> list[dict]:
        return [
            {"name": self.page_query_param, "required": False, "in": "query",
             "description": "Page number; one past the last page is a 404.",
             "schema": {"type": "integer", "minimum": 1}},
            {"name": self.page_size_query_param, "required": False, "in": "query",
             "description": f"Results per page (default {self.page_size}, at most "
                            f"{self.max_page_size}: more is capped).",
             "schema": {"type": "integer", "minimum": 1}},
        ]


class LargeListPagination(StandardPagination):
    """For lists of 100,000s of rows (devices): each page reads its ids first."""

    django_paginator_class = IdsFirstPaginator
