from components.standardize_merge.component import standardize_merge

__all__ = ["standardize_merge"]
