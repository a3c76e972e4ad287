"""identity/: citizen registry, SD-JWT VC digital IDs, presentations and the status list."""
