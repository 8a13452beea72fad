from rest_framework.pagination import CursorPagination, PageNumberPagination


class StandardPagination(PageNumberPagination):
    """`{count, next, previous, results}` with `page` and `pageSize` (capped at 100)."""

    page_size = 20
    page_size_query_param = "pageSize"
    max_page_size = 100


class CreatedCursorPagination(CursorPagination):
    """Stable paging for append-heavy streams (chat messages): newest first, `cursor` + `pageSize`."""

    page_size = 30
    page_size_query_param = "pageSize"
    max_page_size = 100
    ordering = ("-created_at", "-id")
