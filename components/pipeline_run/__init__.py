from components.pipeline_run.component import finish_pipeline_run, start_pipeline_run

__all__ = ["finish_pipeline_run", "start_pipeline_run"]
