"""CalDAV and CardDAV: Radicale mounted at /dav, on our directory (auth.py), our one
permission check (rights.py) and our database (storage.py); app.py builds and mounts it."""
