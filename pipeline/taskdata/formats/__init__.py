"""Readers of evaluation task files, one module per family of formats; ``registry.py`` picks the reader
for a task's ``format`` (the formats themselves are described in ``pipeline/taskdata/tasks.py``)."""
