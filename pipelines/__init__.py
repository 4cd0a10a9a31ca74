"""KFP pipelines composed from components/ (wiring only)."""
