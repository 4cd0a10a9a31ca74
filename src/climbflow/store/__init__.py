"""Standardized-dataset store: format (manifest + shards), splits, URIs (local or s3://), versions."""
