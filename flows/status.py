"""`foundry status`: per language, each stage's state as DVC records it (up to date, stale and why, never run),
the run holding the language now (and its stage), and whether the review decision holds for the corpus."""
from __future__ import annotations

import os
from pathlib import Path

from pipeline.config import ConfigError, languages, load_language, project_root
from pipeline.config.joint import is_joint, joints
from pipeline.errors import StageError
from pipeline.layout import Layout


def cmd_status(args) -> int:
    from flows.cli import _check_languages, _env   # (cli imports this module)
    from flows.joint import joint_status_text

    root = project_root()
    _env(root)
    from flows.dvcops import language_status

    langs = args.langs or languages(root) + list(joints(root))
    joint = [n for n in langs if is_joint(n, root)]  # a joint model: its own stages (its members are languages)
    _check_languages(root, [n for n in langs if n not in joint])
    for lang in langs:
        if lang in joint:
            print(joint_status_text(root, lang))
            continue
        print(f"{lang}:")
        running, now = _running(root, lang)
        if running:
            print(running)
        for stage, state in language_status(root, lang).items():
            print(f"  {stage:<9} {f'running now (DVC last recorded: {state})' if stage == now else state}")
        print(f"  {'review':<9} {_review_state(root, lang)}")
    return 0


def _running(root: Path, lang: str) -> tuple[str, str | None]:
    """Lines for a run that holds the language now: who, and the last line of the stage log written last; and
    that stage's name (the running stage: its log is written while it runs; the other states are DVC's)."""
    from pipeline.locks import language_holder

    held, holder = language_holder(root, lang)
    if not held:
        return "", None
    who = holder.describe() if holder else "a run (no record)"
    out = f"  {'running':<9} {who}; the other stages as DVC last recorded them"
    logs = sorted((root / "logs" / lang).glob("*.log"), key=lambda p: p.stat().st_mtime)
    if holder:     # logs of earlier runs are not this run's
        from datetime import datetime

        since = datetime.fromisoformat(holder.started).timestamp()
        logs = [p for p in logs if p.stat().st_mtime >= since - 1]
    if not logs:
        return out + f"\n  {'':<9} no stage has written its log yet in this run", None
    with open(logs[-1], "rb") as f:
        f.seek(max(0, f.seek(0, 2) - 4096))
        tail = [ln for ln in f.read().decode("utf-8", "replace").splitlines() if ln.strip()]
    if tail:
        out += f"\n  {'':<9} {os.path.relpath(logs[-1], root)}: {tail[-1].strip()[:160]}"
    return out, logs[-1].stem


def _review_state(root: Path, lang: str) -> str:
    """The review decision and whether it holds for the current corpus (never 'up to date')."""
    from pipeline.review import gate as review

    lay = Layout(root, lang)
    try:
        d = review.read_decision(lay)
        if not lay.clean_files():
            return "no cleaned corpus yet"
        corpus = review.corpus_hash(lay)
        policy = load_language(lang, root).review.policy
    except (StageError, ConfigError) as e:
        return f"unreadable: {e}"
    state = review.assess(d, corpus, policy)
    if not d:
        return f"no decision (policy {policy})"
    if state == "void":
        return f"void: {d['decision']} by {review.who(d)} was for corpus {review.short(d.get('corpus'))}, " \
               f"now {review.short(corpus)} (policy {policy})"
    if state == "none":
        return f"waiting for a decision on corpus {review.short(corpus)} (policy {policy}): foundry approve {lang}"
    return f"{d['decision']} by {review.who(d)} (corpus {review.short(corpus)})"
