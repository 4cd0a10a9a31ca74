from components.pretrain_job.component import pretrain_job

__all__ = ["pretrain_job"]
