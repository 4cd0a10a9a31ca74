"""KFP v2 components: one folder per stage, each a thin wrapper over ``climbflow.stages`` (no logic here)."""

import os

# The image every component runs in (docker/Dockerfile); `climb compile` bakes this into the pipeline spec.
IMAGE = os.environ.get("CLIMB_IMAGE", "ghcr.io/climbflow/climbflow:0.1.0")
