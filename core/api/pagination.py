"""Page-number pagination with a client-chosen page size (capped)."""

from rest_framework.pagination import PageNumberPagination

from core.pagination import IdsFirstPaginator


class StandardPagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500


class LargeListPagination(StandardPagination):
    """For lists of 100,000s of rows (devices): each page reads its ids first."""

    django_paginator_class = IdsFirstPaginator
