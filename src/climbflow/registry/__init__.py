"""MLflow adapter: tracking of pipeline and stage runs, model registration and aliases."""
