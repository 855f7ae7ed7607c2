"""`learnbot backup`: pg_dump backups with checksums, retention, restore drills and metrics."""
