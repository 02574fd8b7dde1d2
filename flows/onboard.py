"""`foundry new-language`: scaffold a language's config from its raw data (and labelled tasks)."""
from __future__ import annotations

import os

from pipeline.config import load_language, project_root

NEW_LANGUAGE_HELP = (
    "Scaffold corpora/CODE.yaml and register CODE in params.yaml. Every file under --source is classified by "
    "extension and content: text (.txt; blank-line documents, one document per line, or sentence-per-line "
    "grouped: decided from the data; WikiExtractor's <doc> articles, also in files without a suffix; Leipzig "
    "corpora's ID<TAB>sentence lines), JSON Lines, "
    "a JSON array of records or a JSON object holding one (.jsonl/.json; the text field chosen from the first "
    "records), Parquet, Arrow, CSV/TSV, CoNLL-U (line formats also .gz/.xz/.zst/.bz2) and `datasets` "
    "save_to_disk folders; one source entry per format and settings, each with a comment of what was "
    "found (pipeline/onboard/); --encoding reads text and CSV files in a single-byte legacy encoding. A file "
    "that fits none is an error naming it. --task adds a labelled task for the "
    "scorecard, its format and type read from its files.")


def cmd_new_language(args) -> int:
    from pipeline.scaffold import new_language

    root = project_root()
    path = new_language(root, args.code, sources=args.source, script=args.script, name=args.name or "",
                        force=args.force, dry_run=args.dry_run, task_specs=args.task, encoding=args.encoding)
    if args.dry_run:
        print(path, end="")      # the YAML; nothing written
        return 0
    policy = load_language(args.code, root).review.policy
    gate = (f"it stops after validate for you to review reports/{args.code}/quality/review.html; "
            f"`foundry approve {args.code}` then lets the next `foundry run {args.code}` train"
            if policy == "required" else "review.policy auto: it goes on to training when every expectation passes")
    print(f"wrote {os.path.relpath(path)} and registered {args.code} in params.yaml.\n"
          f"Review the file (sources, thresholds, evaluation tasks), then: foundry run {args.code} ({gate})")
    return 0


def add_new_language(sub) -> None:
    """The `new-language` subcommand of the `foundry` parser."""
    p = sub.add_parser("new-language", help="scaffold corpora/CODE.yaml with script-aware defaults",
                       description=NEW_LANGUAGE_HELP)
    p.add_argument("code", help="ISO 639-1 or 639-3 code, e.g. yo or kor")
    p.add_argument("--source", action="append", help="file, folder, archive (.zip, .tar.gz, ...) or glob of raw data "
                   "(repeatable); default text/CODE under the data root")
    p.add_argument("--task", action="append", metavar="NAME=TRAIN[,DEV]",
                   help="a labelled task to score the model on (repeatable): its format and type are read from "
                        "the files (CoNLL/CoNLL-U tags, TSV/CSV/JSONL/Parquet rows, a datasets folder); without "
                        "DEV a seeded 20%% of TRAIN is scored")
    p.add_argument("--encoding", help="the single-byte encoding of the --source text and CSV files and the --task "
                                      "files that are not UTF-8, e.g. cp1252 or cp1251 (written to their entries' "
                                      "`encoding`)")
    p.add_argument("--dry-run", action="store_true", help="print the YAML; write nothing")
    p.add_argument("--script", help="ISO 15924 script (e.g. Tfng); default: from the code, else the script "
                                     "most of the sources' letters are in (with a comment to check it)")
    p.add_argument("--name", help="language name")
    p.add_argument("--force", action="store_true", help="overwrite an existing config")
    p.set_defaults(func=cmd_new_language)
