"""The joint model's scorecard (Markdown, a plot) from ``pipeline.joint.compare``'s comparison."""
from __future__ import annotations

from pathlib import Path

from model.atomic import atomic_file
from pipeline.evaluation.scorecard import pct, signed, span
from pipeline.report_html import pyplot, reproducible_png


def _num(x, digits: int = 3) -> str:
    if x is None:
        return "–"
    if isinstance(x, float) and abs(x) >= 1e5:
        return f"{x:.3g}"
    return f"{x:.{digits}f}" if isinstance(x, float) else str(x)


def compute_cell(r: dict) -> str:
    """'1.02x, equal' or '0.82x, NOT equal compute (joint 1.21x)' for a row with ``flops_ratio``."""
    ratio = r.get("flops_ratio")
    if ratio is None:
        return "– (no FLOPs)"
    if r.get("equal_compute"):
        return f"{ratio:.2f}x, equal"
    return f"{ratio:.2f}x, **not equal compute** (joint {1 / ratio:.2f}x)"


def render(c: dict) -> str:
    name, members = c["joint"], c["members"]
    lines = [f"# Scorecard: joint model {name} ({', '.join(members)})", "",
             f"One ELECTRA pre-trained on the members' approved corpora mixed with alpha = {c['alpha']} "
             f"(p_i ∝ n_i^alpha), fine-tuned on each member's suite with that member's settings, next to the "
             f"member's monolingual model and random init (from `metrics/<lang>/eval.json`). Medians over seeds, "
             f"in points; each difference with its 95% interval (a paired bootstrap over the scored examples and "
             f"seeds of the two runs, as in a language's scorecard; – where the member's evaluation kept no "
             f"predictions). 'mono/joint FLOPs': the monolingual model's pre-training FLOPs over the joint "
             f"model's; a comparison counts as at equal compute within "
             f"±{100 * c.get('equal_flops_tolerance', 0.05):.0f}%.",
             "", "## Per language and task", "",
             "| language | task | metric | joint | monolingual | random init | joint − mono | 95% interval "
             "| joint − random | 95% interval | mono/joint FLOPs |",
             "|---|---|---|---:|---:|---:|---:|---|---:|---|---|"]
    for r in c["tasks"]:
        lines.append(f"| {r['language']} | {r['task']} | {r['metric']} | {pct(r['joint'])} | {pct(r['monolingual'])}"
                     f" | {pct(r['random_init'])} | {signed(r['joint_minus_monolingual'])} "
                     f"| {span(r.get('joint_minus_monolingual_interval'))} | {signed(r.get('joint_minus_random_init'))} "
                     f"| {span(r.get('joint_minus_random_init_interval'))} | {compute_cell(r)} |")
    if not c["tasks"]:
        lines.append("| – | no member has an evaluation task | | | | | | | | | |")
    lines += ["", "## Vocabulary: joint vs monolingual, on each member's held-out documents", "",
              "| language | share natural | share sampled | pieces/word joint | mono | pieces/char joint | mono "
              "| unk rate joint | mono |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in c["vocab"]:
        lines.append(f"| {r['language']} | {_num(r['share_natural'])} | {_num(r['share_smoothed'])} "
                     f"| {_num(r['joint_tokens_per_word'])} | {_num(r['monolingual_tokens_per_word'])} "
                     f"| {_num(r['joint_tokens_per_char'])} | {_num(r['monolingual_tokens_per_char'])} "
                     f"| {_num(r['joint_unk_rate'], 4)} | {_num(r['monolingual_unk_rate'], 4)} |")
    lines += ["", "## Pre-training compute and the discriminator per language", "",
              "| model | FLOPs | vs joint | steps | tokens seen | val AUC | val replaced recall | joint's AUC on it "
              "| joint's recall on it |", "|---|---:|---|---:|---:|---:|---:|---:|---:|"]
    for r in c["pretrain"]:
        vs = "" if r["model"].startswith("joint") else compute_cell(r)
        lines.append(f"| {r['model']} | {_num(r.get('train_flops'))} | {vs} | {_num(r.get('steps'))} "
                     f"| {_num(r.get('tokens_seen'))} | {_num(r.get('val_disc_auc'))} "
                     f"| {_num(r.get('val_replaced_recall'))} | {_num(r.get('joint_val_disc_auc_on_this_language'))}"
                     f" | {_num(r.get('joint_val_replaced_recall_on_this_language'))} |")
    lines += ["", "Equal compute holds where the joint model's FLOPs equal a monolingual model's: the joint model then "
              "saw each language for a fraction of the tokens its monolingual model did. Equal steps are not equal "
              "compute when the vocabularies differ (the generator's and the corrective head's output layers grow "
              "with the vocabulary): give each member the steps that match the joint model's FLOPs "
              "(docs/multilingual.md, 'Equal compute').", "",
              f"Plot: `reports/{name}/scorecard.png`.", ""]
    return "\n".join(lines)


def plot(c: dict, path: Path) -> None:
    """Grouped bars per (language, task): random init, monolingual, joint."""
    plt = pyplot()
    rows = c["tasks"]
    fig, ax = plt.subplots(figsize=(max(4.0, 1.2 * len(rows) + 1), 3.2))
    xs = range(len(rows))
    for k, (key, label) in enumerate((("random_init", "random init"), ("monolingual", "monolingual"),
                                      ("joint", f"joint ({c['joint']})"))):
        ax.bar([x + (k - 1) * 0.27 for x in xs], [100 * (r[key] or 0.0) for r in rows], width=0.27, label=label)
    ax.set_xticks(list(xs))
    ax.set_xticklabels([f"{r['language']}\n{r['task']}" for r in rows], fontsize=8)
    ax.set_ylabel("score (median over seeds)")
    ax.legend(fontsize=7)
    data = reproducible_png(fig)
    with atomic_file(path, "wb") as f:
        f.write(data)
