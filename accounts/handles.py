"""Handles: the unique, human name a user is mentioned by in posts (`@wanjiku.kamau`).

The rule (README, "Mentions and handles"):
- 1-30 characters: lower-case ASCII letters, digits, dots and underscores, starting and ending with a letter
  or digit (`HANDLE_PATTERN`, a database check). Unique; as typed in a post, any case matches.
- Every user gets one when first saved, derived from the name they have then: first and last name folded
  to ASCII letters and digits, joined by a dot (`Wanjiku Kamau` -> `wanjiku.kamau`, `Ng'ang'a Mũthoni` ->
  `nganga.muthoni`), `user` when the name gives nothing; if taken, the first free of `wanjiku.kamau2`,
  `wanjiku.kamau3`, ... A later name change keeps the handle. Staff can change it in the admin.
- Deleting an account sets it to `deleted_<id>`, a form no name derives to.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection

HANDLE_MAX_LENGTH = 30
HANDLE_PATTERN = r"^[a-z0-9]([a-z0-9._]{0,28}[a-z0-9])?$"
# Room for a numeric suffix (up to 6 digits) after a base cut to this length.
_BASE_MAX_LENGTH = HANDLE_MAX_LENGTH - 6
_NOT_ALNUM = re.compile(r"[^a-z0-9]+")


def _folded(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name or "").encode("ascii", "ignore").decode()
    return _NOT_ALNUM.sub("", ascii_name.lower())


def handle_base(*, first_name: str, last_name: str) -> str:
    """The handle a name derives to before any collision suffix: `wanjiku.kamau`."""
    parts = [part for part in (_folded(first_name), _folded(last_name)) if part]
    base = ".".join(parts)[:_BASE_MAX_LENGTH].strip("._")
    return base or "user"


def handle_first_free(base: str, *, taken: Collection[str]) -> str:
    """`base` if not in `taken`, else `base` + the smallest number from 2 that is not."""
    if base not in taken:
        return base
    number = 2
    while f"{base}{number}" in taken:
        number += 1
    return f"{base}{number}"


def deleted_handle(user_id: int) -> str:
    return f"deleted_{user_id}"
