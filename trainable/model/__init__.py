"""The base model (NF4 or bf16) + LoRA: loading, offline availability checks, merged copies, export."""
