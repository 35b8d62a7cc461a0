"""mtsweep's wiring layer: CLI, sweep config, Tuner, scheduler, recording. Imports stay light."""
