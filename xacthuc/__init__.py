"""xacthuc: the composition root (settings, database, HTTP app, worker, CLI)."""
