"""The evaluation library behind the evaluate stage (``pipeline/stages/evaluate.py``) and ``foundry evaluate``.

By concern:

- ``pipeline/taskdata/`` (its own package: the clean stage reads tasks' text too, and should not depend on the
  rest of this one) reads a task's files and splits, caps, augments and checks them into a
  :class:`~pipeline.taskdata.tasks.TaskData`; ``encode.py`` turns that into the features ``model.finetune``
  takes.
- ``variants.py``: the models compared (the pre-trained one, random init, references) and their tokenizers.
- ``jobs.py``: the fine-tuning runs (task x model x seed), in a process pool on CPU.
- ``metrics.py`` and ``scoring.py``: per-run metrics, medians over seeds, paired comparisons, the suite average.
- ``harness.py``: :func:`~pipeline.evaluation.harness.evaluate_model`, all of the above for one model folder.
- ``scorecard.py`` / ``scorecard_html.py`` / ``report.py``: eval.json, scorecard.md and scorecard.html.
- ``warnings.py``: the model's warnings (summary and the Hub card, ``pipeline/hubcard.py``);
  ``datadeps.py``: the stage's DVC data dependencies.
- ``cli.py``: ``foundry evaluate``.
"""
