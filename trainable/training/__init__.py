"""The training recipe's parts: one optimizer step, loss, NaN/spike guard, early stopping, checkpoints, reporting."""
