"""`foundry`: the command-line front door.

  foundry run LANG [LANG...] | --all [--parallel N]   run the pipeline (DVC skips what is up to date)
  foundry status [LANG...]                           which stages are stale, and why (from DVC)
  foundry new-language CODE [--source PATH...]       scaffold corpora/CODE.yaml with script-aware defaults
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from pipeline.config import ConfigError, languages, load_language, project_root
from pipeline.layout import Layout


def _env(root: Path) -> None:
    os.environ.setdefault("PREFECT_HOME", str(root / ".prefect"))
    for k, v in {"DVC_NO_ANALYTICS": "1", "GX_ANALYTICS_ENABLED": "false",
                 "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "HF_HUB_OFFLINE": "1",
                 "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
                 "TOKENIZERS_PARALLELISM": "false"}.items():
        os.environ.setdefault(k, v)


def _check_languages(root: Path, langs: list[str]) -> None:
    registered = languages(root)
    for lang in langs:
        if lang not in registered:
            raise ConfigError(f"{root / 'params.yaml'}: language {lang!r} is not listed under `languages` "
                              f"(registered: {', '.join(registered)}); `foundry new-language {lang}` adds it")
        load_language(lang, root, strict=True)  # fail early, with the file and key, on a bad config


def artifacts_table(root: Path, lang: str) -> str:
    lay = Layout(root, lang)
    rows = [
        ("cleaned corpus", lay.clean_dir), ("cleaning stats", lay.clean_stats),
        ("validation", lay.validation), ("quality report (Data Docs)", lay.quality_dir / "index.html"),
        ("tokenizer", lay.tokenizer_dir), ("pre-training shards", lay.shards_dir),
        ("ELECTRA model (HF)", lay.electra_dir), ("pre-training metrics", lay.pretrain_metrics),
        ("loss curve", lay.pretrain_curve), ("evaluation metrics", lay.eval_metrics),
        ("scorecard", lay.scorecard),
    ]
    width = max(len(n) for n, _ in rows)
    lines = [f"Artifacts for {lang}:"]
    for name, path in rows:
        mark = "" if path.exists() else "   (missing)"
        lines.append(f"  {name:<{width}}  {os.path.relpath(path, Path.cwd())}{mark}")
    return "\n".join(lines)


def cmd_run(args) -> int:
    root = project_root()
    _env(root)
    langs = languages(root) if args.all else args.langs
    if not langs:
        print("error: name at least one language, or --all", file=sys.stderr)
        return 2
    _check_languages(root, langs)
    from flows.language import GateClosed, StageInputError, language_flow, languages_flow

    try:
        if len(langs) == 1:
            outcome = {langs[0]: language_flow(langs[0], str(root))}
        else:
            from prefect.task_runners import ThreadPoolTaskRunner
            outcome = languages_flow.with_options(
                task_runner=ThreadPoolTaskRunner(max_workers=args.parallel))(langs, str(root))
    except (GateClosed, StageInputError) as e:
        print(f"\nerror: {e}", file=sys.stderr)
        return 2
    failed = {k: v for k, v in outcome.items() if isinstance(v, Exception)}
    for lang in langs:
        if lang not in failed:
            print(f"\nStages for {lang}:")
            for r in outcome[lang]:
                print(f"  {r['stage']:<9} " + (f"ran ({r['seconds']} s)" if r["ran"] else "skipped (up to date)"))
            print("\n" + artifacts_table(root, lang))
    for lang, e in failed.items():
        print(f"\nerror: {lang}: {e}", file=sys.stderr)
    return 2 if failed else 0


def cmd_status(args) -> int:
    root = project_root()
    _env(root)
    from flows.dvcops import language_status

    langs = args.langs or languages(root)
    _check_languages(root, langs)
    for lang in langs:
        print(f"{lang}:")
        for stage, state in language_status(root, lang).items():
            print(f"  {stage:<9} {state}")
    return 0


def cmd_new_language(args) -> int:
    from pipeline.scaffold import new_language

    root = project_root()
    path = new_language(root, args.code, sources=args.source, script=args.script, name=args.name or "",
                        force=args.force)
    print(f"wrote {os.path.relpath(path)} and registered {args.code} in params.yaml.\n"
          f"Review the file (sources, thresholds, evaluation tasks), then: foundry run {args.code}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="foundry", description="ELECTRA Foundry: raw text in a language -> "
                                 "cleaned corpus, quality review, tokenizer, ELECTRA model, scorecard.")
    sub = ap.add_subparsers(dest="command", required=True)
    p = sub.add_parser("run", help="run the pipeline for languages (DVC skips what is up to date)")
    p.add_argument("langs", nargs="*", help="language codes (corpora/LANG.yaml)")
    p.add_argument("--all", action="store_true", help="every language in params.yaml")
    p.add_argument("--parallel", type=int, default=2, help="languages at once (pre-training stays one at a time)")
    p.set_defaults(func=cmd_run)
    p = sub.add_parser("status", help="which stages are stale, and why (from DVC)")
    p.add_argument("langs", nargs="*")
    p.set_defaults(func=cmd_status)
    p = sub.add_parser("new-language", help="scaffold corpora/CODE.yaml with script-aware defaults")
    p.add_argument("code", help="ISO 639 code, e.g. yo")
    p.add_argument("--source", action="append", help="raw text file or folder (repeatable); default text/CODE under the data root")
    p.add_argument("--script", help="ISO 15924 script when it cannot be inferred from the code")
    p.add_argument("--name", help="language name")
    p.add_argument("--force", action="store_true", help="overwrite an existing config")
    p.set_defaults(func=cmd_new_language)
    return ap


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except Exception as e:  # DVC's own errors (bad dvc.yaml, locked repo) without a traceback
        if type(e).__module__.startswith("dvc"):
            print(f"error: DVC: {e}", file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":
    sys.exit(main())
