"""A task's labelled data, read and split: ``formats/`` reads a task's files (one module per family of formats,
``formats/registry.py`` picks one) and ``tasks.py`` splits, caps, augments and checks them into a
:class:`~pipeline.taskdata.tasks.TaskData`.

Used by the evaluation (``pipeline/evaluation/``) and by the clean stage's ``format: tasks`` source
(``pipeline/readers/tasks.py``, a task's training text as pre-training text). A package of its own so that the
clean stage's code deps (dvc.yaml) hold these files and not the whole evaluation library: editing the
scorecard does not re-clean every corpus.
"""
