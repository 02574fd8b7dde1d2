"""The scorecard from an eval.json dict: Markdown (``scorecard.md``), the rows of a Prefect table
artifact, and the cells the HTML page (``scorecard_html.py``) shares with them. Scores x100."""
from __future__ import annotations

from pipeline.evaluation.representations import collapse_notes
from pipeline.evaluation.scoring import average_of, summary_of
from pipeline.evaluation.variants import PRETRAINED, RANDOM


def pct(x) -> str:
    return "–" if x is None else f"{100 * x:.1f}"


def signed(x) -> str:
    return "–" if x is None else f"{100 * x:+.1f}"


def span(iv: dict | None) -> str:
    """A delta's bootstrap interval (pipeline.evaluation.interval), x100: "[-4.0, +1.9]"."""
    return "–" if not iv else f"[{100 * iv['low']:+.1f}, {100 * iv['high']:+.1f}]"


def _seeds(s: dict | None) -> str:
    if not s:
        return "–"
    return f"{pct(s['median'])} ({', '.join(pct(v) for v in s['seeds'])})"


def heading(result: dict) -> str:
    return result.get("title") or result.get("language") or result["model"]["path"]


def columns(result: dict) -> list[tuple[str, str]]:
    """(key, heading) of every model compared, in order."""
    cols = [(PRETRAINED, "pretrained")]
    if result["settings"].get("random_init_baseline"):
        cols.append((RANDOM, "random init"))
    cols += [(name, name) for name in result.get("references") or {}]
    return cols


def task_cells(name: str, v: dict, cols: list[tuple[str, str]]) -> list[str]:
    """A task's row of the results table: task, metric, each model's median (seeds), delta, its interval, wins."""
    p = v.get("paired")
    return ([name, v["metric"]] + [_seeds(summary_of(v, k)) for k, _ in cols]
            + [signed(v["delta"]), span(v.get("delta_interval")), f"{p['wins']}/{p['seeds']}" if p else "–"])


def average_cells(avg: dict, cols: list[tuple[str, str]]) -> list[str]:
    """The average row of the results table after its first cell, up to the delta's interval."""
    return ([avg.get("name", "")] + [pct(average_of(avg, k)) for k, _ in cols]
            + [signed(avg.get("delta")), span(avg.get("delta_interval"))])


def all_metrics_rows(result: dict, cols: list[tuple[str, str]]) -> list[list[str]]:
    """(task, model, every metric's median) rows."""
    rows = []
    for name, v in result["tasks"].items():
        for key, head in cols:
            s = summary_of(v, key)
            if s:
                rows.append([name, head, ", ".join(f"{k} {pct(x)}" for k, x in s["all"].items())])
    return rows


def scorecard_rows(result: dict) -> list[dict]:
    """Rows for a Prefect table artifact (``create_table_artifact(table=rows)``): one per task and the
    average; scores x100 rounded to 0.1 (None where not run), plus the per-seed scores as text."""
    cols = columns(result)
    rows = []
    for name, v in result["tasks"].items():
        row = {"task": name, "metric": v["metric"]}
        for key, head in cols:
            s = summary_of(v, key)
            row[head] = None if not s else round(100 * s["median"], 1)
        row["delta"] = None if v.get("delta") is None else round(100 * v["delta"], 1)
        row["95% interval"] = span(v.get("delta_interval"))
        row["seeds (pretrained)"] = ", ".join(pct(x) for x in v["pretrained"]["seeds"])
        row["trained on"] = v.get("trained_on", "")
        row["scored on"] = v.get("scored_on", "")
        rows.append(row)
    avg = result.get("average") or {}
    if result["tasks"]:
        row = {"task": "average", "metric": avg.get("name", "")}
        for key, head in cols:
            x = average_of(avg, key)
            row[head] = None if x is None else round(100 * x, 1)
        row["delta"] = None if avg.get("delta") is None else round(100 * avg["delta"], 1)
        row["95% interval"] = span(avg.get("delta_interval"))
        row["seeds (pretrained)"] = ""
        row["trained on"] = ""
        row["scored on"] = ""
        rows.append(row)
    return rows


def intro(result: dict) -> list[str]:
    """The paragraphs above the tables (Markdown): the model and how it was compared."""
    m = result["model"]
    st = result["settings"]
    cfg = m.get("config", {})
    arch = ", ".join(f"{k}={cfg[k]}" for k in ("num_hidden_layers", "hidden_size", "vocab_size") if k in cfg)
    kind = "ELECTRA" if cfg.get("model_type", "electra") == "electra" else cfg.get("model_type")
    lines = [f"Model: `{m['path']}` ({kind}-{m['size']}{'; ' + arch if arch else ''})."]
    if m.get("pretrain"):
        lines.append("Pre-training: " + ", ".join(f"{k} {v}" for k, v in m["pretrain"].items()) + ".")
    if m.get("corpus_task_text"):
        lines.append("Pre-training corpus: also the unlabeled text of the training splits of the tasks "
                     + ", ".join(f"`{p}`" for p in m["corpus_task_text"]) + " (`format: tasks`; no label, no "
                     "scored text; task-adaptive pre-training): random initialisation sees none of it.")
    others = []
    if st["random_init_baseline"]:
        others.append("the same architecture from random initialisation")
    refs = result.get("references") or {}
    if refs:
        others.append("the reference model(s) " + ", ".join(f"{n} (`{r['path']}`)" for n, r in refs.items()))
    base = ("and, for comparison, " + " and ".join(others) + " ") if others else ""
    lines += [
        "",
        f"Each task fine-tunes the pre-trained model {base}with seeds 0..{st['seeds'] - 1} and identical data "
        f"and hyper-parameters. Scores are on each task's scored split (see below), x100; each cell is the "
        f"median over seeds (the ELECTRA paper's convention) with every seed in brackets. Delta = pretrained "
        f"median - random-init median; its 95% interval comes from a paired bootstrap over the scored examples "
        f"and the seeds (an interval that spans 0: no measurable difference at this size); 'wins' counts the "
        f"seeds where the pre-trained model beat the random init with the same seed.",
    ]
    return lines


def _md_row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def lr_cell(hp: dict) -> str:
    """The learning rate, and whether Adam was bias-corrected (the official fine-tuning is not)."""
    return f"{hp['learning_rate']:g}" + (" (bias-corrected Adam)" if hp.get("bias_correction") else "")


def _trained_and_scored(result: dict) -> list[str]:
    st = result["settings"]
    lines = ["## What was trained and scored", "",
             "| task | type | trained on | train examples | scored on | scored examples | lr | epochs | batch | max length |",
             "|---|---|---|---:|---|---:|---:|---:|---:|---:|"]
    for name, v in result["tasks"].items():
        hp = v["hparams"]
        root = " (project)" if v.get("data_root") == "project" else ""
        n_orig = v["train_examples"] - v.get("swapped", 0)
        tr = f"{n_orig}" + (f" of {v['train_available']}" if v["train_available"] > n_orig else "")
        if v.get("swapped"):
            tr += f" (x2 swapped = {v['train_examples']})"
        dv = f"{v['dev_examples']}" + (f" of {v['dev_available']}" if v["dev_available"] > v["dev_examples"] else "")
        lines.append(f"| {name} | {v['type']} | `{v['trained_on']}`{root} | {tr} | `{v['scored_on']}`{root} | {dv} | "
                     f"{lr_cell(hp)} | {hp['epochs']:g} | {hp['batch_size']} | {hp['max_length']} |")
    lines += ["", f"Layer-wise learning-rate decay {st['layerwise_lr_decay']:g} (official code's depths), warm-up "
                  f"{st['warmup_fraction']:g} of the steps, weight decay {st['weight_decay']:g}, device "
                  f"`{st['device']}`. Reference models use the learning rate and decay of their own size.", ""]
    return lines


def _notes(result: dict) -> list[tuple[str, str]]:
    """Collapse warnings, size guesses, then every task's notes."""
    notes = [(n, note) for n, v in result["tasks"].items() for note in v.get("notes", [])]
    m = result["model"]
    if m.get("size_note"):
        notes.insert(0, ("model", m["size_note"]))
    for rn, r in (result.get("references") or {}).items():
        if r.get("size_note"):
            notes.insert(0, (rn, r["size_note"]))
    return collapse_notes(result) + notes


def render_scorecard(result: dict) -> str:
    """Markdown scorecard from an eval.json dict."""
    lines = [f"# Scorecard: {heading(result)}", ""] + intro(result) + [""]
    tasks = result["tasks"]
    if not tasks:
        lines += ["No evaluation tasks are configured (`evaluate.tasks` in the language's YAML), so nothing "
                  "was fine-tuned or scored.", ""]
        return "\n".join(lines)
    cols = columns(result)
    lines += ["| task | metric | " + " | ".join(f"{h} median (seeds)" for _, h in cols)
              + " | delta | 95% interval | wins |",
              "|---|---|" + "---:|" * len(cols) + "---:|---:|---:|"]
    lines += [_md_row(task_cells(name, v, cols)) for name, v in tasks.items()]
    avg = result["average"]
    lines.append("| **average** | " + " | ".join(average_cells(avg, cols)) + " | |")
    lines += ["", f"Average: {avg.get('name', '')} (unweighted mean of the task medians over "
                  f"{', '.join(avg.get('tasks') or []) or 'no task'}).", ""]
    lines += _trained_and_scored(result)
    notes = _notes(result)
    if notes:
        lines += ["Notes:", ""] + [f"- {n}: {note}" for n, note in notes] + [""]
    lines += ["## All metrics (medians over seeds, x100)", "",
              "| task | model | metrics |", "|---|---|---|"]
    lines += [_md_row(r) for r in all_metrics_rows(result, cols)]
    lines.append("")
    return "\n".join(lines)
