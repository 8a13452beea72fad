"""Writes of the notifications app, by sub-domain: `chat` (conversations, messages, read state),
`notifications` (notify, read state, preferences, devices) and `delivery` (one external delivery attempt)."""
