"""Training: multi-task pretraining of modality encoders over standardized stores, then finetuning.

``data`` reads stores into a shared label vocabulary, ``module`` holds the Lightning module and the
masked multi-task loss, ``fit`` runs pretrain / finetune and loads / applies finetuned models.
"""
