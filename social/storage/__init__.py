"""File handling for media uploads: content sniffing (validation.py) and storage backends (backends.py)."""
