from rest_framework.pagination import CursorPagination, PageNumberPagination


class StandardPagination(PageNumberPagination):
    """`{count, next, previous, results}` with `page` and `pageSize` (capped at 100)."""

    page_size = 20
    page_size_query_param = "pageSize"
    max_page_size = 100

    def expected_window(self, request) -> tuple[int, int]:
        """(offset, limit) of the page the request asks for, guessing page 1 for what the paginator will
        refuse or resolve later ("last", garbage, a page past any end)."""
        size = self.get_page_size(request)
        try:
            number = max(int(request.query_params.get(self.page_query_param) or 1), 1)
        except ValueError:
            number = 1
        offset = (number - 1) * size
        return (offset if offset < 2**63 else 0), size


class PageWithTotal:
    """An object list for Django's Paginator over rows that carry the total (a `total` window annotation,
    `COUNT(*) OVER ()`), so a page costs one query instead of a COUNT and the page.

    `rows` reads a window (`rows.window(offset, limit)`) and counts the whole list (`rows.count()`), e.g.
    `bookings.selectors.BookingListVersions`. `count()` reads the expected page; the paginator then slices
    that same page from it. A page past the end returns no rows and so no total: only then does a COUNT run.
    """

    def __init__(self, rows, *, window: tuple[int, int]):
        self._rows_source = rows
        self._offset, self._limit = window
        self._rows: list | None = None

    def _expected_page(self) -> list:
        if self._rows is None:
            self._rows = self._rows_source.window(self._offset, self._limit)
        return self._rows

    def count(self) -> int:
        rows = self._expected_page()
        return rows[0].total if rows else self._rows_source.count()

    def __getitem__(self, window: slice) -> list:
        start, stop = window.start or 0, window.stop
        if start == self._offset and stop <= self._offset + self._limit:
            return self._expected_page()[: stop - start]
        return self._rows_source.window(start, stop - start)


class CreatedCursorPagination(CursorPagination):
    """Stable paging for append-heavy streams (chat messages): newest first, `cursor` + `pageSize`."""

    page_size = 30
    page_size_query_param = "pageSize"
    max_page_size = 100
    ordering = ("-created_at", "-id")
