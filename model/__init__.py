"""ELECTRA pre-training and fine-tuning. Depends only on torch, transformers, numpy, pyarrow, safetensors."""
