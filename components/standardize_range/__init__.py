from components.standardize_range.component import standardize_range

__all__ = ["standardize_range"]
