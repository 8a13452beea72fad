"""Media uploads: content sniffing (validation.py), storing through Django's storage API (files.py) and the
Cloudinary storage (cloudinary.py)."""
