"""Write operations of the social app, by sub-domain: media.py, posts.py, reviews.py."""
