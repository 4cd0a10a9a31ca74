from components.standardize.component import standardize

__all__ = ["standardize"]
