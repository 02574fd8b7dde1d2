"""The GPU check's report: each goal of issue 11 with its measured value, and the Markdown of a result
(``benchmarks.gpu_check`` writes it next to the JSON after every part)."""
from __future__ import annotations

TASKS = {"SST-2": "accuracy", "CoLA": "matthews"}  # GLUE task -> its dev metric
GOALS = {"speedup": 3.0, "mfu_base": 0.40, "auc": 0.90}


def goals(res: dict) -> list[dict]:
    """Each goal of issue 11 with the measured value and whether it is met (None: not measured)."""
    out = []
    bench = res.get("throughput") if isinstance(res.get("throughput"), list) else []
    for r in bench:
        v = r["variants"].get("ours+compile") or r["variants"].get("ours") or {}
        out.append({"goal": f"{r['config']}: ours >= {GOALS['speedup']:g}x the reference",
                    "value": v.get("speedup_vs_reference"), "target": GOALS["speedup"]})
        if r["size"] == "base":
            out.append({"goal": f"base: MFU >= {GOALS['mfu_base']:.0%}", "value": v.get("mfu"),
                        "target": GOALS["mfu_base"]})
    pre = res.get("pretraining") or {}
    m = pre.get("metrics") or {}
    seconds = pre.get("budget_seconds", res["settings"]["pretrain_seconds"])
    out.append({"goal": f"validation AUC >= {GOALS['auc']} after ~{seconds:.0f} s of pre-training",
                "value": m.get("val_disc_auc"), "target": GOALS["auc"]})
    for g in out:
        g["met"] = None if g["value"] is None else bool(g["value"] >= g["target"])
    return out


def _f(x, spec=".3f") -> str:
    return "n/a" if x is None else format(x, spec)


def to_markdown(res: dict) -> str:
    m = res["machine"]
    lines = [f"# GPU check, {res['date']}", "",
             f"Device: **{m.get('gpu') or 'CPU (' + m['cpu'] + ')'}**; {m['cpu_count']} CPUs; Python {m['python']}, "
             f"torch {m['torch']}, transformers {m['transformers']}." + (" **Smoke run** (CPU, tiny sizes): the numbers "
                                                                         "mean nothing." if res["smoke"] else ""),
             "", f"Command: `{res['command']}`; timings (s): {res.get('timings')}.", "", "## Goals", "",
             "| goal | measured | met |", "|---|---:|---|"]
    lines += [f"| {g['goal']} | {_f(g['value'])} | {g['met']} |" for g in res.get("goals", [])]
    lines += ["", "## 1. Throughput (ours vs HF-naive reference)", ""]
    bench = res.get("throughput")
    if isinstance(bench, list):
        lines += ["| config | variant | tokens/s | speed-up | MFU | peak memory |", "|---|---|---:|---:|---:|---:|"]
        for c in bench:
            for k, v in c["variants"].items():
                mem = v.get("peak_memory_bytes")
                lines.append(f"| {c['config']} (seq {c['seq_len']}, batch {c['batch']}) | {k} | {v['tokens_per_s']:.0f} | "
                             f"{v.get('speedup_vs_reference') or 1.0:.2f}x | {_f(v.get('mfu'), '.1%')} | "
                             f"{f'{mem / 2**30:.1f} GiB' if mem else 'n/a'} |")
        lines += [f"- {c['config']}: {c['left_out']}" for c in bench if c.get("left_out")]
    else:
        lines.append(f"Not measured: {bench}")
    prof = res.get("profile")
    if isinstance(prof, dict) and "top_self_cpu" in prof:
        lines += ["", f"### Where an eager step goes ({prof['size']}, batch {prof['batch']}, {prof['steps']} steps)", "",
                  f"Wall {prof['wall_ms_per_step_with_loader']} ms per step with the loader "
                  f"{'process' if prof.get('loader_process') else 'thread'}, "
                  + (f"{prof['wall_ms_per_step_with_loader_thread']} ms with a loader thread, "
                     if "wall_ms_per_step_with_loader_thread" in prof else "") +
                  f"{prof['wall_ms_per_step_batch_reused']} ms with one batch reused; device kernels "
                  f"{prof['device_kernel_ms_per_step']} ms per step, {prof['kernels_per_step']:.0f} kernel launches per step.",
                  "", "| operator (top self CPU) | calls/step | self CPU ms/step | self device ms/step |", "|---|---:|---:|---:|"]
        lines += [f"| `{r['op']}` | {r['calls_per_step']:.0f} | {r['self_cpu_ms_per_step']:.2f} | "
                  f"{r['self_device_ms_per_step']:.2f} |" for r in prof["top_self_cpu"]]
    lines += ["", "## 2. Pre-training", ""] + _pretraining_md(res.get("pretraining") or {}, res.get("data") or {})
    lines += ["", "## 3. Fine-tuning (dev set; pre-trained vs random init, paired seeds)", ""]
    ft = res.get("finetuning") or {}
    if "error" in ft:
        lines.append(f"Failed: {ft['error']}")
    else:
        lines += ["| task | metric | train / dev examples | pre-trained (median) | random init (median) | "
                  "paired differences | pre-trained wins |", "|---|---|---|---:|---:|---|---:|"]
        for t in TASKS:
            if t in ft:
                r = ft[t]
                lines.append(f"| {t} | {r['metric']} | {r['train_examples']} / {r['dev_examples']} | "
                             f"{_f(r['median_pretrained'])} | {_f(r['median_random'])} | {r['paired_differences']} | "
                             f"{r['pretrained_wins']}/{len(r['paired_differences'])} |")
        lines += [f"- skipped: {s}" for s in ft.get("skipped", [])]
    errors = [k for k in ("throughput", "profile", "pretraining", "finetuning") if isinstance(res.get(k), dict) and "error" in res[k]]
    if errors:
        lines += ["", "## Errors", ""] + [f"- {k}: `{res[k]['error']}`" for k in errors]
    return "\n".join(lines) + "\n"


def _pretraining_md(pre: dict, data: dict) -> list[str]:
    if "error" in pre or "metrics" not in pre:
        return [f"Failed: {pre.get('error')}"]
    m, p = pre["metrics"], pre["params"]
    mem = m.get("peak_memory_bytes")
    tr = (data.get("shards") or {}).get("train") or {}
    out = [f"ELECTRA-{p['size']} ({p['backbone']}), batch {p['batch_size']}, lr {p['learning_rate']}, "
           f"{pre['planned_steps']} steps planned (from {pre['steps_from']}), {m.get('steps')} run, compile "
           f"{p['compile']}; budget {pre['budget_seconds']} s, wall {pre['wall_seconds']} s (training "
           f"{m.get('seconds')} s){', stopped by the watchdog' if pre['watchdog_fired'] else ''}: "
           f"{pre['steps_per_s']} steps/s; the data loader alone makes {pre['loader_steps_per_s']} steps/s.",
           f"Corpus: {tr.get('tokens')} training tokens in {tr.get('examples')} examples (vocabulary "
           f"{data.get('vocab_size')}): {m.get('tokens_seen')} tokens seen = **{pre['epochs']:.1f} epochs**.", "",
           "| train FLOPs | FLOP/s | MFU | val AUC | val replaced recall | val disc acc | val gen loss | peak memory |",
           "|---:|---:|---:|---:|---:|---:|---:|---:|",
           f"| {_f(m.get('train_flops'), '.3g')} | {_f(m.get('flops_per_second'), '.3g')} | {_f(m.get('mfu'), '.1%')} | "
           f"{_f(m.get('val_disc_auc'))} | {_f(m.get('val_replaced_recall'))} | {_f(m.get('val_disc_acc'))} | "
           f"{_f(m.get('val_gen_loss'))} | {f'{mem / 2**30:.1f} GiB' if mem else 'n/a'} |", "",
           "Curve (every logged step: step, loss, disc AUC, replaced recall, tokens/s, MFU):", "", "```"]
    rows = [ln.split("\t") for ln in pre["curve"].splitlines()]
    head = rows[0]
    col = {k: head.index(k) for k in ("step", "loss", "disc_auc", "replaced_recall", "tokens_per_s", "mfu")}
    for r in rows[1:]:
        out.append("  ".join(f"{k} {float(r[i]):.4g}" for k, i in col.items()))
    return out + (["(no step was logged)"] if len(rows) < 2 else []) + ["```"]
