"""`IdsFirstPaginator`: page a large, joined list in two short queries.

A page of a sorted list at OFFSET n makes PostgreSQL build (and join) n + 50 wide rows only to
throw n away; with select_related it also joins before it sorts. Reading the page's primary
keys first touches only the sort index (an index-only walk, no join), then the 50 rows are
read by primary key with their joins. Same rows, same order, same count as `Paginator`.
"""

from __future__ import annotations

from django.core.paginator import Paginator


class IdsFirstPaginator(Paginator):
    def page(self, number):
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        top = bottom + self.per_page
        if top + self.orphans >= self.count:
            top = self.count
        ids = list(self.object_list.values_list("pk", flat=True)[bottom:top])
        position = {pk: index for index, pk in enumerate(ids)}
        rows = sorted(self.object_list.order_by().filter(pk__in=ids),
                      key=lambda row: position[row.pk])
        return self._get_page(rows, number, self)
