"""joint_vocab: an alpha-smoothed sample of the members' corpora -> models/<name>/tokenizer (one SentencePiece).

Reads  data/<name>/members.json (every member approved; corpora unchanged since) and data/<m>/clean
Writes models/<name>/tokenizer/ as the language vocab stage does (``write_tokenizer``), with vocab_stats.json
       holding, besides the totals, ``languages``: per member the share of the sample, the documents drawn,
       and fertility (pieces per word, per character) and unknown rate on the member's held-out documents
       (``pipeline.joint.vocab_sample``).
"""
from __future__ import annotations

from pathlib import Path

from pipeline.atomic import atomic_dir
from pipeline.joint import members as joint_members
from pipeline.joint import open_joint, vocab_sample
from pipeline.stages.vocab import write_tokenizer
from pipeline.tokenizer.corpus import held_out_lines
from pipeline.tokenizer.hf import dump_json
from pipeline.tokenizer.stats import STATS_MAX_LINES, training_record, vocab_stats
from pipeline.tokenizer.training import SPECIAL_IDS


def run(name: str, root: Path) -> dict:
    root, cfg, lay = open_joint(name, root)
    record = joint_members.verified(root, lay)
    samples = vocab_sample.plan(root, cfg, record)
    with atomic_dir(lay.tokenizer_dir) as tmp:
        sp, n_sent = write_tokenizer(tmp, vocab_sample.sentences(samples), cfg.vocab, name)
        per_lang, all_lines = {}, []
        for m, s in samples.items():
            lines = held_out_lines(s.files, s.held_out, STATS_MAX_LINES // len(samples))
            all_lines.extend(lines)
            per_lang[m] = {"share_smoothed": record["members"][m]["share_smoothed"],
                           "share_natural": record["members"][m]["share_natural"],
                           "documents_drawn": len(s.rows), "distinct_documents": len(set(s.rows)),
                           "characters_drawn": s.chars, "held_out": vocab_stats(sp, lines)["held_out"]}
        stats = vocab_stats(sp, all_lines)
        stats["training"] = training_record(cfg.vocab, documents_total=sum(r["documents"] for r in
                                                                           record["members"].values()),
                                            documents_sampled=sum(len(s.rows) for s in samples.values()),
                                            documents_held_out=sum(len(s.held_out) for s in samples.values()),
                                            sentences=n_sent)
        stats["training"]["alpha"] = cfg.sampling.alpha
        stats["languages"] = per_lang
        stats["special_ids"] = dict(SPECIAL_IDS)
        dump_json(tmp / "vocab_stats.json", stats)
    return {"vocab_size": stats["vocab_size"], "sentences": n_sent,
            "tokens_per_word": {m: v["held_out"]["tokens_per_word"] for m, v in per_lang.items()},
            "unk_rate": {m: v["held_out"]["unk_rate"] for m, v in per_lang.items()},
            "tokenizer_dir": lay.rel(lay.tokenizer_dir)}
