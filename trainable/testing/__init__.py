"""Test and demo assets: tiny offline model/tokenizer/COMET and the SYNTHETIC trainables (no model)."""
