"""Writes for matching. Import from here: `from matching.services import match_search, ...`."""

from matching.services.matches import (
    learning_record,
    lock_customer_match,
    lock_preference,
    match_accept,
    match_feedback,
    match_reject,
    match_transition,
    matches_expire_stale,
)
from matching.services.preferences import (
    customer_block_create,
    customer_block_delete,
    favourite_add,
    favourite_remove,
    matching_preferences_update,
)
from matching.services.response_time import technician_response_times_refresh
from matching.services.search import match_search

__all__ = [
    "customer_block_create",
    "customer_block_delete",
    "favourite_add",
    "favourite_remove",
    "learning_record",
    "lock_customer_match",
    "lock_preference",
    "match_accept",
    "match_feedback",
    "match_reject",
    "match_search",
    "match_transition",
    "matches_expire_stale",
    "matching_preferences_update",
    "technician_response_times_refresh",
]
