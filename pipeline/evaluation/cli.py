"""``foundry evaluate``: fine-tune and score any model folder on a language's evaluation tasks, without the
rest of the pipeline."""
from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from pipeline.config import ConfigError, EvaluateSettings, LanguageConfig, load_language, project_root
from pipeline.errors import StageError
from pipeline.evaluation.harness import ModelUnderTest, evaluate_model
from pipeline.evaluation.report import pretrain_summary, write_reports
from pipeline.evaluation.scorecard import render_scorecard
from pipeline.layout import Layout

log = logging.getLogger("pipeline.evaluation")


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="foundry evaluate",
        description="Fine-tune and score a model folder on a language's evaluation tasks "
                    "(corpora/LANG.yaml: evaluate) without the rest of the pipeline; prints the scorecard and "
                    "writes eval.json, predictions.json, scorecard.md and scorecard.html.")
    ap.add_argument("lang", help="language code: its evaluate.tasks are used")
    ap.add_argument("--model", help="Hugging Face model folder with its tokenizer (default: models/LANG/electra)")
    ap.add_argument("--task", action="append", default=[], metavar="NAME",
                    help="only this task (repeatable; default: every task)")
    ap.add_argument("--seeds", type=int, help="fine-tuning seeds per task and model (default: evaluate.seeds)")
    ap.add_argument("--out", help="output folder (default: reports/LANG/evaluate/<model folder name>)")
    ap.add_argument("--no-baseline", action="store_true", help="skip the random-init baseline")
    ap.add_argument("--no-references", action="store_true", help="skip evaluate.references")
    ap.add_argument("--workers", type=int, help="parallel fine-tuning processes on CPU (default: evaluate.workers)")
    ap.add_argument("--device", choices=("auto", "cpu", "cuda"), help="default: pretrain.device")
    return ap


def _settings(args, ev: EvaluateSettings) -> EvaluateSettings:
    """The language's evaluate section with the command line's choices (tasks, seeds, baseline, ...)."""
    tasks = list(ev.tasks)
    if args.task:
        known = [t.name for t in tasks]
        unknown = [n for n in args.task if n not in known]
        if unknown:
            raise ConfigError(f"corpora/{args.lang}.yaml: no evaluation task(s) {', '.join(unknown)}; "
                              f"tasks: {', '.join(known) or 'none'}")
        tasks = [t for t in tasks if t.name in args.task]
    if args.seeds is not None and args.seeds < 1:
        raise ConfigError(f"--seeds must be at least 1 (got {args.seeds})")
    average = [n for n in ev.average if n in {t.name for t in tasks}] if ev.average is not None else None
    # model_copy, not a new validated section: the command line may ask for more seeds than a config may
    return ev.model_copy(update={
        "tasks": tasks, "seeds": args.seeds or ev.seeds,
        "random_init_baseline": ev.random_init_baseline and not args.no_baseline,
        "references": [] if args.no_references else ev.references, "average": average,
        "average_name": ev.average_name if average == ev.average else None,
        "workers": args.workers if args.workers is not None else ev.workers})


def _model(args, cfg: LanguageConfig, lay: Layout) -> tuple[ModelUnderTest, bool]:
    """The model folder (default: the pipeline's own model) and whether it is the pipeline's own."""
    model_dir = Path(args.model).expanduser() if args.model else lay.electra_dir
    if not model_dir.is_absolute():
        model_dir = (Path.cwd() / model_dir).resolve()
    own = model_dir.resolve() == lay.electra_dir.resolve()
    return ModelUnderTest(model_dir, size=cfg.model.size if own else None,
                          tokenizer_dir=lay.tokenizer_dir if own else None,
                          device=args.device or cfg.pretrain.device, language=args.lang,
                          title=f"{cfg.name or args.lang} ({args.lang}): {model_dir.name}"), own


def cli_evaluate(argv: list[str] | None = None) -> int:
    """``foundry evaluate LANG --model PATH [--task NAME ...] [--seeds N] [--out DIR]``; returns the exit
    status (2 for a bad config, model or data)."""
    args = _parser().parse_args(argv)
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    log.setLevel(logging.INFO)
    try:
        root = project_root()
        cfg = load_language(args.lang, root)
        settings = _settings(args, cfg.evaluate)
        lay = Layout(root, args.lang)
        model, own = _model(args, cfg, lay)
        out = Path(args.out) if args.out else root / "reports" / args.lang / "evaluate" / (model.path.name or "model")
        predictions: dict = {}
        result = evaluate_model(model, settings, root, predictions=predictions)
        if own:
            pre = pretrain_summary(lay.pretrain_metrics)
            if pre:
                result["model"]["pretrain"] = pre
        write_reports(result, out / "eval.json", out / "scorecard.md", predictions)
    except (StageError, ConfigError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(render_scorecard(result))
    shown = os.path.relpath(out) if not os.path.relpath(out).startswith("..") else str(out)
    print(f"Wrote {shown}/eval.json, {shown}/predictions.json, {shown}/scorecard.md and {shown}/scorecard.html")
    return 0
