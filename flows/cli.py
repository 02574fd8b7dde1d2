"""`foundry`: the command-line front door.

  foundry run LANG [LANG...] | --all [--parallel N] [--dask [ADDRESS]] [--wait] [--from STAGE] [--until STAGE]
                                                     run the pipeline (DVC skips what is up to date); languages
                                                     in parallel on threads or on a Dask cluster
  foundry serve [LANG...] [--cron EXPR] [--name N]   serve the flow for scheduled runs (Prefect flow.serve)
  foundry push [LANG...]                             push the DVC-tracked artifacts to the default DVC remote
  foundry pull [LANG...]                             pull them (a fresh clone then has everything, up to date)
  foundry status [LANG...]                           which stages are stale or never run, and why (from DVC)
  foundry metrics [LANG...]                          the numbers that matter per language (clean, validate,
                                                     pre-training, evaluation vs random init)
  foundry approve LANG [--comment C] [--reviewer R]  approve the reviewed corpus (and resume a paused run)
  foundry reject LANG --reason R [--reviewer R]      reject it (and resume a paused run, which then stops)
  foundry new-language CODE [--source PATH...] [--task NAME=TRAIN[,DEV]...]   scaffold corpora/CODE.yaml
  foundry new-joint NAME LANG LANG... [--alpha A]    scaffold a joint (multilingual) model; `foundry run NAME`
  foundry evaluate LANG [--model PATH] [--task NAME...] [--seeds N] [--out DIR]   score any model folder
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from flows.joint import cmd_new_joint, cmd_run_joint, joint_metrics_text
from flows.onboard import add_new_language
from flows.status import cmd_status
from pipeline.config import ConfigError, languages, load_language, project_root
from pipeline.config.joint import is_joint, joints
from pipeline.errors import StageError
from pipeline.joint import JOINT_STAGES
from pipeline.layout import Layout
from pipeline.stages import STAGES


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
        ("review page", lay.quality_dir / "review.html"), ("review decision", lay.root / "data" / lang / "review.json"),
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
    if args.dask and ":" not in args.dask:  # `foundry run --dask en de`: en is a language, not an address
        args.langs = [args.dask, *args.langs]
        args.dask = ""
    langs = list(dict.fromkeys(languages(root) if args.all else args.langs))  # each once: one run per language
    if any(is_joint(n, root) for n in langs):  # a joint (multilingual) model: its members, then its own stages
        return cmd_run_joint(args, root, next(n for n in langs if is_joint(n, root)))
    if not langs:
        print("error: name at least one language, or --all", file=sys.stderr)
        return 2
    _check_languages(root, langs)
    if not args.wait:  # before Prefect starts: a busy language fails in a second, not after the server is up
        from pipeline.locks import language_busy
        busy = [m for lang in langs if (m := language_busy(root, lang))]
        if busy:
            print("error: " + "\nerror: ".join(busy), file=sys.stderr)
            return 2
    if args.parallel < 1:
        print("error: --parallel must be at least 1", file=sys.stderr)
        return 2
    if args.dask_workers is not None and args.dask is None:
        print("error: --dask-workers needs --dask", file=sys.stderr)
        return 2
    from flows import plan
    try:
        chosen = plan.select_stages(args.start, args.until)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    _warn_eval_deps(root, langs)
    quick = args.dask is None and not args.wait and not plan.may_have_server()  # no Prefect needed to say ...
    if quick and not plan.stale_stages(root, langs, chosen):                   # ... that nothing is to do
        print(f"Nothing to do: DVC says every requested stage of {', '.join(langs)} is up to date "
              f"(no Prefect run started; with a Prefect server, PREFECT_API_URL, the run is recorded there).")
        stale = plan.stale_stages(root, langs, STAGES[:STAGES.index(chosen[0])])
        for lang in langs:
            _print_run(root, lang, [{"stage": s, "ran": False, "seconds": 0.0, "excluded": s not in chosen,
                                     "stale": f"{s}@{lang}" in stale} for s in STAGES], args)
        return 0
    from flows.language import (GateClosed, StageInputError, language_flow, languages_flow, quiet_user_errors,
                                task_runner)

    quiet_user_errors()

    try:
        if len(langs) == 1 and args.dask is None:
            outcome = {langs[0]: language_flow(langs[0], str(root), wait=args.wait, start=args.start,
                                               until=args.until)}
        else:
            dask = None if args.dask is None else (args.dask or True)
            runner = task_runner(args.parallel, dask=dask, dask_workers=args.dask_workers)
            # languages sharing this machine's cores: the thread/local-cluster bound (a remote Dask
            # cluster's workers are other machines: they do not share ours)
            concurrent = 1 if isinstance(dask, str) else (args.dask_workers or args.parallel)
            outcome = languages_flow.with_options(task_runner=runner)(langs, str(root), concurrent, args.wait,
                                                                      args.start, args.until)
    except (GateClosed, StageInputError) as e:
        if isinstance(e, GateClosed):
            print("\n" + _review_headline(root, langs[0]))
        print("\n" + _stop_line(e), file=sys.stderr)
        return 2
    failed = {k: v for k, v in outcome.items() if isinstance(v, Exception)}
    for lang in langs:
        if lang not in failed:
            _print_run(root, lang, outcome[lang], args)
        elif isinstance(failed[lang], GateClosed):
            print("\n" + _review_headline(root, lang))
    for lang, e in failed.items():
        print("\n" + _stop_line(e, lang), file=sys.stderr)
    return 2 if failed else 0


def _stop_line(e: Exception, lang: str | None = None) -> str:
    """The last line of a run that stopped: a gate waiting for a review is no error (the headline above says what
    to do); anything else is ``error: ...``."""
    from flows.language import EPHEMERAL_NOTE, ReviewPending

    if isinstance(e, ReviewPending):
        return (f"{lang + ': ' if lang else ''}stopped before vocab until the corpus is reviewed (exit status 2). "
                + EPHEMERAL_NOTE.strip("()"))
    return f"error: {lang + ': ' if lang else ''}{e}"


def _print_run(root: Path, lang: str, results: list[dict], args) -> None:
    """What a finished run of a language prints: the stages, the review (its headline while a decision is
    due), the artifacts and, when the run reached pre-training, the scores and warnings."""
    from flows.summary import summary_text
    from pipeline.review.headline import gate_state

    left_out = " ".join(f"--{k} {v}" for k, v in (("from", args.start), ("until", args.until)) if v)
    print(f"\nStages for {lang}:")
    for r in results:
        if r.get("excluded"):
            state = f"not run ({left_out})" + ("; STALE, it has changed since it last ran" if r.get("stale") else "")
        else:
            state = f"ran ({r['seconds']} s)" if r["ran"] else "skipped (up to date)"
        print(f"  {r['stage']:<9} {state}")
    st = gate_state(Layout(root, lang), load_language(lang, root))
    print(_review_line(root, lang) if st.open or st.state == "unvalidated" else "\n" + _review_headline(root, lang))
    print("\n" + artifacts_table(root, lang))
    if args.until in (None, "pretrain", "evaluate"):
        print("\n" + summary_text(root, lang))


def _review_headline(root: Path, lang: str) -> str:
    from pipeline.review.headline import review_headline

    return review_headline(Layout(root, lang), load_language(lang, root))


def _warn_eval_deps(root: Path, langs: list[str]) -> None:
    """Check params.yaml `eval` (what DVC watches for evaluate@LANG: a list of EVAL_SLOTS paths; a
    ConfigError otherwise) and warn when an evaluation task reads a file outside it."""
    from pipeline.evaluation.datadeps import declared, uncovered

    for lang in langs:
        declared(root, lang)
        try:
            missing = uncovered(root, lang)
        except (ConfigError, StageError) as e:
            print(f"warning: {e}", file=sys.stderr)
            continue
        for where, path in missing:
            print(f"warning: corpora/{lang}.yaml {where} reads {path}, which is under none of the `eval` "
                  f"folders params.yaml declares for {lang}: DVC will not re-run evaluate@{lang} when it "
                  f"changes", file=sys.stderr)


def cmd_push_pull(args) -> int:
    """`foundry push` / `foundry pull`: DVC push/pull of every stage's outputs (or LANG's) to/from the
    default DVC remote (a local folder unless the project configures one; see flows/remote.py)."""
    from flows import remote

    root = project_root()
    _env(root)
    if args.langs:
        _check_languages(root, args.langs)
    if args.command == "push":
        r = remote.push(root, args.langs or None)
        print(f"pushed {r['pushed']} file(s) to DVC remote {r['remote']!r} ({_remote_url(root, r['remote'])})")
    else:
        r = remote.pull(root, args.langs or None)
        print(f"pulled from DVC remote {r['remote']!r} ({_remote_url(root, r['remote'])}): "
              f"{len(r.get('added') or [])} added, {len(r.get('modified') or [])} modified, "
              f"{len(r.get('deleted') or [])} deleted, {r.get('fetched', 0)} fetched")
        for lang in args.langs or languages(root):
            print("\n" + artifacts_table(root, lang))
    return 0


def _remote_url(root: Path, name: str) -> str:
    from flows.dvcops import _LOCK, _repo

    with _LOCK, _repo(root) as repo:
        return str((repo.config.get("remote", {}).get(name) or {}).get("url", "?"))


def cmd_serve(args) -> int:
    """`foundry serve`: a long-running process that runs the flow on a schedule (Prefect flow.serve)."""
    root = project_root()
    _env(root)
    langs = args.langs or languages(root)
    _check_languages(root, langs)
    from flows.language import languages_flow

    params = {"langs": langs, "root": str(root)}
    print(f"serving deployment {args.name!r} of flow foundry-languages for {', '.join(langs)}"
          + (f" on schedule {args.cron!r}" if args.cron else " (no schedule: trigger runs from the UI/API)"))
    languages_flow.serve(name=args.name, cron=args.cron or None, parameters=params,
                         description=f"ELECTRA Foundry: {', '.join(langs)} in {root}",
                         tags=["electra-foundry"])
    return 0


def _review_line(root: Path, lang: str) -> str:
    from pipeline.review import gate as review

    try:
        d = review.read_decision(Layout(root, lang))
    except StageError as e:
        return f"Review: {e}"
    if not d:
        return "Review: no decision recorded"
    return (f"Review: {d['decision']} by {review.who(d)} (corpus {review.short(d.get('corpus'))})"
            + (f": {d['comment']}" if d.get("comment") else ""))


def cmd_metrics(args) -> int:
    """`foundry metrics`: per language the clean/validate numbers, pre-training's final validation and the
    evaluation medians vs random init (flows/metrics.py), from the metrics files that exist."""
    root = project_root()
    _env(root)
    from flows.metrics import metrics_text

    joint = [n for n in args.langs or list(joints(root)) if is_joint(n, root)]  # its own view (flows/joint.py)
    langs = [n for n in args.langs or languages(root) if n not in joint]
    _check_languages(root, langs)
    print("\n\n".join(([metrics_text(root, langs)] if langs else []) + [joint_metrics_text(root, n) for n in joint]))
    return 0


def cmd_decide(args) -> int:
    """`foundry approve` / `foundry reject`: record the decision, then resume a paused run if any."""
    from pipeline.review import gate as review

    root = project_root()
    _env(root)
    lang = args.lang
    _check_languages(root, [lang])
    cfg = load_language(lang, root, strict=True)
    lay = Layout(root, lang)
    approve = args.command == "approve"
    if not lay.validation.is_file():
        how = (f"`foundry run {lang}` (review.policy required: it stops after validate with the review page)"
               if cfg.review.policy == "required" else
               f"`foundry run {lang} --until validate` (review.policy auto: a plain run goes on to training "
               f"when every expectation passes)")
        raise StageError(f"{os.path.relpath(lay.validation)}: not found — nothing has been validated for {lang} yet; "
                         f"run {how} first")
    try:
        validation = json.loads(lay.validation.read_text(encoding="utf-8"))
    except ValueError as e:
        raise StageError(f"{os.path.relpath(lay.validation)}: not valid JSON ({e}); run `foundry run {lang}`") from None
    corpus = review.corpus_hash(lay)
    if validation.get("corpus") != corpus:
        raise StageError(f"{os.path.relpath(lay.validation)} and the review page are not for the current corpus "
                         f"(validated {review.short(validation.get('corpus'))}, data/{lang}/clean is now "
                         f"{review.short(corpus)}); run `foundry run {lang}` to validate it and rebuild "
                         f"reports/{lang}/quality/review.html, review that, then decide")
    passed = bool(validation.get("passed"))
    if approve and not passed:
        raise StageError(f"{lang}: the corpus failed validation ({', '.join(validation.get('failed') or [])}), "
                         f"which an approval cannot overrule; fix the data or corpora/{lang}.yaml (validate.*) "
                         f"and run again (see reports/{lang}/quality/review.html)")
    comment = (args.comment if approve else args.reason) or ""
    reviewer = args.reviewer or review.default_reviewer()
    decision = review.make_decision(lay, cfg, review.APPROVED if approve else review.REJECTED, corpus, passed,
                                    comment=comment, reviewer=reviewer)
    path = review.write_decision(lay, decision)
    print(f"{lang}: corpus {review.short(corpus)} {decision['decision']} by {reviewer}"
          + (f" ({comment})" if comment else "") + f"; recorded in {os.path.relpath(path)}")

    from flows.language import api_url, resume_review

    if not api_url():
        print(f"No Prefect server is configured (PREFECT_API_URL), so there is no paused run to resume: "
              f"`foundry run {lang}` " + ("continues from here." if approve else "will stop at the review gate."))
        return 0
    try:
        resumed = resume_review(root, lang, "approve" if approve else "reject", comment, reviewer)
    except Exception as e:  # the decision is recorded; the next run uses it
        print(f"warning: could not reach the Prefect server at {api_url()} to resume a paused run ({e}); "
              f"the decision is recorded, `foundry run {lang}` uses it", file=sys.stderr)
        return 0
    if resumed:
        print("resumed " + ", ".join(resumed))
    else:
        print(f"No paused run of {lang} in this project; `foundry run {lang}` "
              + ("continues from here." if approve else "will stop at the review gate."))
    return 0


def cmd_evaluate(args) -> int:
    """`foundry evaluate LANG [--model PATH] [--task NAME ...] [--seeds N] [--out DIR]`: all of it lives in
    pipeline.evaluation.cli.cli_evaluate (its own argparse; `foundry evaluate --help`)."""
    from pipeline.evaluation import cli as evaluate

    _env(project_root())
    return evaluate.cli_evaluate(list(args.evaluate_argv))


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="foundry", description="ELECTRA Foundry: raw text in a language -> "
                                 "cleaned corpus, quality review, tokenizer, ELECTRA model, scorecard.")
    sub = ap.add_subparsers(dest="command", required=True)
    p = sub.add_parser("run", help="run the pipeline for languages (DVC skips what is up to date)")
    p.add_argument("langs", nargs="*", help="language codes (corpora/LANG.yaml)")
    p.add_argument("--all", action="store_true", help="every language in params.yaml")
    p.add_argument("--parallel", type=int, default=2, help="languages at once (pre-training stays one at a time); "
                   "their stage processes share the CPU cores")
    p.add_argument("--dask", nargs="?", const="", default=None, metavar="ADDRESS",
                   help="run the languages on Dask (prefect-dask DaskTaskRunner): a local cluster, or the "
                        "scheduler at ADDRESS (host:port or tcp://host:8786; its workers must see the project at the same path)")
    p.add_argument("--dask-workers", type=int, default=None, metavar="N",
                   help="worker processes of the local Dask cluster (default: --parallel)")
    p.add_argument("--wait", action="store_true", help="when another run holds a language, wait for it (default: "
                   "exit with status 2, naming it: PID, host, since when)")
    p.add_argument("--from", dest="start", choices=STAGES + JOINT_STAGES, default=None, metavar="STAGE",
                   help=f"start at STAGE, leaving the earlier ones out (said when one is stale); {', '.join(STAGES)} "
                   f"(a joint model: also {', '.join(JOINT_STAGES)}, after its members' stages)")
    p.add_argument("--until", choices=STAGES + JOINT_STAGES, default=None, metavar="STAGE",
                   help="stop after STAGE (e.g. --until validate: the corpus and its review page, no training)")
    p.set_defaults(func=cmd_run)
    p = sub.add_parser("serve", help="serve the flow for scheduled runs (Prefect flow.serve; needs a Prefect "
                       "server, PREFECT_API_URL, to be reachable from the UI)")
    p.add_argument("langs", nargs="*", help="language codes (default: every language in params.yaml)")
    p.add_argument("--cron", default=None, help="cron schedule, e.g. '0 2 * * *' (every night at 02:00)")
    p.add_argument("--name", default="foundry-scheduled", help="deployment name (default foundry-scheduled)")
    p.set_defaults(func=cmd_serve)
    for name, what in (("push", "push the DVC-tracked artifacts (corpus, tokenizer, shards, model, reports) to "
                                "the default DVC remote (local folder $FOUNDRY_REMOTE or "
                                "~/.cache/electra-foundry/dvc-remote unless one is configured)"),
                       ("pull", "pull the artifacts from the default DVC remote (after `git clone`: everything "
                                "present and up to date, nothing recomputes)")):
        p = sub.add_parser(name, help=what)
        p.add_argument("langs", nargs="*", help="language codes (default: every stage of every language)")
        p.set_defaults(func=cmd_push_pull)
    p = sub.add_parser("status", help="which stages are stale or never run, and why (from DVC)")
    p.add_argument("langs", nargs="*")
    p.set_defaults(func=cmd_status)
    p = sub.add_parser("metrics", help="the numbers that matter per language, in a terminal-sized table: clean "
                       "and validate, pre-training's final validation AUC/recall/loss, evaluation vs random init "
                       "(a readable `dvc metrics show`)")
    p.add_argument("langs", nargs="*", help="language codes (default: every language in params.yaml)")
    p.set_defaults(func=cmd_metrics)
    p = sub.add_parser("approve", help="approve the reviewed corpus (reports/LANG/quality/review.html); "
                       "resumes a run paused for review")
    p.add_argument("lang")
    p.add_argument("--comment", default="", help="recorded with the decision")
    p.add_argument("--reviewer", help="who decides (default: $FOUNDRY_REVIEWER or the login name)")
    p.set_defaults(func=cmd_decide)
    p = sub.add_parser("reject", help="reject the reviewed corpus; a run paused for review stops before vocab")
    p.add_argument("lang")
    p.add_argument("--reason", required=True, help="why (recorded, and shown when runs stop)")
    p.add_argument("--reviewer", help="who decides (default: $FOUNDRY_REVIEWER or the login name)")
    p.set_defaults(func=cmd_decide)
    add_new_language(sub)
    p = sub.add_parser("new-joint", help="scaffold corpora/NAME.yaml: one multilingual model from configured "
                       "languages' approved corpora (docs/multilingual.md)")
    p.add_argument("name", help="the joint model's name, e.g. afro")
    p.add_argument("members", nargs="+", help="member languages (configured ones), e.g. sw yo ha")
    p.add_argument("--alpha", type=float, default=0.3, help="sampling exponent: p_i ∝ n_i^alpha (default 0.3)")
    p.add_argument("--force", action="store_true", help="overwrite an existing config")
    p.set_defaults(func=cmd_new_joint)
    # evaluate: every argument goes to pipeline.evaluation.cli.cli_evaluate (no option parsing here)
    p = sub.add_parser("evaluate", add_help=False, prefix_chars="\x00",
                       help="fine-tune and score any model folder on a language's tasks: "
                            "foundry evaluate LANG --model PATH [--task NAME ...] [--seeds N] [--out DIR]")
    p.add_argument("evaluate_argv", nargs="*")
    p.set_defaults(func=cmd_evaluate)
    return ap


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ConfigError, StageError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except Exception as e:  # DVC's own errors (bad dvc.yaml, locked repo) without a traceback
        if type(e).__module__.startswith("dvc"):
            print(f"error: DVC: {e}", file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":
    sys.exit(main())
