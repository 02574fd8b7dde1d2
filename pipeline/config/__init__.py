"""Configuration: the typed schema of ``corpora/<lang>.yaml`` (``sections``; ``sources`` its source entries,
``base`` what they share) and the project around it
(``project``: params.yaml, loading a language with errors that name file and key, resolving paths).

A language's YAML is the only place a user edits. Each top-level section is read by exactly the
stages that need it, and ``dvc.yaml`` lists those sections as the stage's ``params``, so changing a
knob re-runs only what depends on it:

    language, script, sources, clean -> clean        vocab    -> vocab
    validate, review                 -> validate      shard    -> shard
    model, pretrain                  -> pretrain      evaluate -> evaluate

Defaults the YAMLs leave out live here and in ``model/sizes.py``: every stage lists this folder as a DVC dep.
"""
from pipeline.config.project import (DOTTED_PARAMS, data_root, languages, load_language, load_params,
                                     parse_language, project_root, resolve_path, resolve_sources, tasks_matching)
from pipeline.config.scripts import SCRIPTS, is_script
from pipeline.config.sections import (DEFAULT_DATA_ROOT, SECTIONS, CleanSettings, ConfigError,
                                      EvaluateSettings, LanguageConfig, LidSettings, ModelSettings,
                                      PretrainSettings, ReferenceModel, ReviewSettings, ShardSettings, Source,
                                      TaskFormat, TaskSettings, TaskType, ValidateSettings, VocabSettings)

__all__ = ["DOTTED_PARAMS", "data_root", "languages", "load_language", "load_params", "parse_language", "project_root",
           "resolve_path", "resolve_sources", "tasks_matching", "DEFAULT_DATA_ROOT", "SCRIPTS", "SECTIONS",
           "CleanSettings", "ConfigError", "EvaluateSettings", "LanguageConfig", "LidSettings", "ModelSettings",
           "PretrainSettings", "ReferenceModel", "ReviewSettings", "ShardSettings", "Source", "TaskFormat",
           "TaskSettings", "TaskType", "ValidateSettings", "VocabSettings", "is_script"]
