"""What climbflow asks of a Kubernetes cluster beyond Kubeflow Pipelines: multi-node training jobs."""
