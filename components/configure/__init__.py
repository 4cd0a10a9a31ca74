from components.configure.component import configure

__all__ = ["configure"]
