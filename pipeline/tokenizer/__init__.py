"""The tokenizer library: a SentencePiece vocabulary trained on the cleaned corpus, exported as a Hugging Face
fast tokenizer whose ids equal SentencePiece's (the vocab stage, ``pipeline/stages/vocab.py``, calls it).

    corpus.py    the documents: a seeded training sample and held-out documents, streamed in corpus order
    training.py  SentencePiece training from memory; the special ids [PAD]=0 [UNK]=1 [CLS]=2 [SEP]=3 [MASK]=4
    proto.py     reading and patching the ModelProto (normalizer spec, model type, score quantization)
    hf.py        the `tokenizers` model, normalizer and post-processor, and the transformers config files
    stats.py     vocab_stats.json

Determinism: the same input gives a byte-identical ``spm.model`` on the same machine (training.py says
why and where not). Exact id equality with the fast tokenizer: the Unigram scores are rounded to
multiples of 2**-8 (``proto.quantize_scores``) so that SentencePiece's float32 and `tokenizers`' float64
Viterbi sums agree exactly and ties break identically.
"""
