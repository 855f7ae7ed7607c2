"""The rehearsal: the Docker stack on a real Docker engine (make rehearse)."""
