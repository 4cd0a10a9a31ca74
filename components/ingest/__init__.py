from components.ingest.component import ingest

__all__ = ["ingest"]
