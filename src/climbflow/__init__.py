"""climbflow: the CLIMB clinical benchmark as an MLOps system (stages, pipelines, registry, lineage)."""

__version__ = "0.1.0"
