from components.standardize_plan.component import standardize_plan

__all__ = ["standardize_plan"]
