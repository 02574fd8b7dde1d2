"""Pipeline stages: plain functions, one module per stage, runnable as `python -m pipeline STAGE LANG`."""
