"""What new-language knows of a language from its code, and of a script from text: the script, the English name,
and the ISO 639-1 code of an ISO 639-3 one (``kor`` is ``ko``, as FLORES-200 and the Masakhane datasets name
languages). A code in no table gets its script from the text of its sources (:func:`script_of_text`)."""
from __future__ import annotations

LANGUAGE_SCRIPTS = {
    **dict.fromkeys("en de fr es it pt nl sv da no nb nn fi et tr pl cs sk sl hr bs ro hu lt lv "
                    "sq ca eu gl ga cy is mt sw yo ig ha zu xh af so id ms tl vi uz az "
                    "lg rw sn ny wo ln om tw tn".split(), "Latn"),
    **dict.fromkeys("ru uk be bg mk sr kk ky tg mn".split(), "Cyrl"),
    **dict.fromkeys("ar fa ur ps ug ckb sd".split(), "Arab"),
    **dict.fromkeys("hi mr ne sa mai bho".split(), "Deva"),
    "bn": "Beng", "as": "Beng", "ta": "Taml", "zh": "Hani", "ja": "Jpan", "ko": "Hang",
    "el": "Grek", "he": "Hebr", "yi": "Hebr", "th": "Thai", "ka": "Geor", "hy": "Armn",
    "am": "Ethi", "ti": "Ethi",
    # scripts measured by their Unicode Script property (no row of their own in cleaning/normalize.py)
    "te": "Telu", "kn": "Knda", "ml": "Mlym", "gu": "Gujr", "pa": "Guru", "or": "Orya", "si": "Sinh",
    "my": "Mymr", "km": "Khmr", "lo": "Laoo", "bo": "Tibt", "dv": "Thaa",
    # ISO 639-3 codes without an ISO 639-1 one (the others are mapped by ISO_639_3 below)
    **dict.fromkeys("pcm luo".split(), "Latn"),
    # smaller languages lid.176, FLORES-200 or the Masakhane datasets name
    **dict.fromkeys("fo gd oc br fy co sc rm li wa lb an la eo ht bi sm to mi fj jv su qu gn ay tk st ts ss ve rn "
                    "kg ki ee ak ff bm mg ast pap tpi haw ceb ilo war min ban ace bug mad hsb nds vec scn nap lmo "
                    "pms kab kmr mos fon tum".split(), "Latn"),
    **dict.fromkeys("ba cv tt ce os kv sah".split(), "Cyrl"),
    **dict.fromkeys("yue wuu".split(), "Hani"),
    **dict.fromkeys("gom new".split(), "Deva"),
    "dz": "Tibt",
}

# English names, for the config's `name` (a code not listed here is named by its code).
LANGUAGE_NAMES = {
    "en": "English", "de": "German", "fr": "French", "es": "Spanish", "it": "Italian", "pt": "Portuguese",
    "nl": "Dutch", "sv": "Swedish", "da": "Danish", "no": "Norwegian", "nb": "Norwegian Bokmål",
    "nn": "Norwegian Nynorsk", "fi": "Finnish", "et": "Estonian", "tr": "Turkish", "pl": "Polish",
    "cs": "Czech", "sk": "Slovak", "sl": "Slovenian", "hr": "Croatian", "bs": "Bosnian", "ro": "Romanian",
    "hu": "Hungarian", "lt": "Lithuanian", "lv": "Latvian", "sq": "Albanian", "ca": "Catalan", "eu": "Basque",
    "gl": "Galician", "ga": "Irish", "cy": "Welsh", "is": "Icelandic", "mt": "Maltese", "sw": "Swahili",
    "yo": "Yoruba", "ig": "Igbo", "ha": "Hausa", "zu": "Zulu", "xh": "Xhosa", "af": "Afrikaans",
    "so": "Somali", "id": "Indonesian", "ms": "Malay", "tl": "Tagalog", "vi": "Vietnamese", "uz": "Uzbek",
    "az": "Azerbaijani", "lg": "Ganda", "rw": "Kinyarwanda", "sn": "Shona", "ny": "Chichewa", "wo": "Wolof",
    "ln": "Lingala", "om": "Oromo", "ru": "Russian", "uk": "Ukrainian", "be": "Belarusian", "bg": "Bulgarian",
    "mk": "Macedonian", "sr": "Serbian", "kk": "Kazakh", "ky": "Kyrgyz", "tg": "Tajik", "mn": "Mongolian",
    "ar": "Arabic", "fa": "Persian", "ur": "Urdu", "ps": "Pashto", "ug": "Uyghur", "ckb": "Central Kurdish",
    "sd": "Sindhi", "hi": "Hindi", "mr": "Marathi", "ne": "Nepali", "sa": "Sanskrit", "mai": "Maithili",
    "bho": "Bhojpuri", "bn": "Bengali", "as": "Assamese", "ta": "Tamil", "zh": "Chinese", "ja": "Japanese",
    "ko": "Korean", "el": "Greek", "he": "Hebrew", "yi": "Yiddish", "th": "Thai", "ka": "Georgian",
    "hy": "Armenian", "am": "Amharic", "ti": "Tigrinya", "te": "Telugu", "kn": "Kannada", "ml": "Malayalam",
    "gu": "Gujarati", "pa": "Punjabi", "or": "Odia", "si": "Sinhala", "my": "Burmese", "km": "Khmer", "lo": "Lao",
    "bo": "Tibetan", "dv": "Dhivehi", "tw": "Twi", "tn": "Tswana", "pcm": "Nigerian Pidgin", "luo": "Luo",
    "fo": "Faroese", "gd": "Scottish Gaelic", "oc": "Occitan", "br": "Breton", "fy": "Western Frisian",
    "co": "Corsican", "sc": "Sardinian", "rm": "Romansh", "li": "Limburgish", "wa": "Walloon", "lb": "Luxembourgish",
    "an": "Aragonese", "la": "Latin", "eo": "Esperanto", "ht": "Haitian Creole", "bi": "Bislama", "sm": "Samoan",
    "to": "Tongan", "mi": "Maori", "fj": "Fijian", "jv": "Javanese", "su": "Sundanese", "qu": "Quechua",
    "gn": "Guarani", "ay": "Aymara", "tk": "Turkmen", "st": "Southern Sotho", "ts": "Tsonga", "ss": "Swati",
    "ve": "Venda", "rn": "Kirundi", "kg": "Kongo", "ki": "Kikuyu", "ee": "Ewe", "ak": "Akan", "ff": "Fula",
    "bm": "Bambara", "mg": "Malagasy", "ast": "Asturian", "pap": "Papiamento", "tpi": "Tok Pisin",
    "haw": "Hawaiian", "ceb": "Cebuano", "ilo": "Ilocano", "war": "Waray", "min": "Minangkabau", "ban": "Balinese",
    "ace": "Acehnese", "bug": "Buginese", "mad": "Madurese", "hsb": "Upper Sorbian", "nds": "Low German",
    "vec": "Venetian", "scn": "Sicilian", "nap": "Neapolitan", "lmo": "Lombard", "pms": "Piedmontese",
    "kab": "Kabyle", "kmr": "Northern Kurdish", "ku": "Kurdish", "mos": "Mossi", "fon": "Fon", "tum": "Tumbuka",
    "ba": "Bashkir", "cv": "Chuvash", "tt": "Tatar", "ce": "Chechen", "os": "Ossetian", "kv": "Komi",
    "sah": "Yakut", "yue": "Cantonese", "wuu": "Wu Chinese", "gom": "Goan Konkani", "new": "Newar",
    "dz": "Dzongkha",
}

# ISO 639-3 -> ISO 639-1 for the languages above (and the individual-language codes FLORES-200 uses for
# macrolanguages: arb Arabic, cmn Chinese, swh Swahili, pes Persian, zsm Malay, npi Nepali, ...)
ISO_639_3 = {
    "eng": "en", "deu": "de", "fra": "fr", "spa": "es", "ita": "it", "por": "pt", "nld": "nl", "swe": "sv",
    "dan": "da", "nor": "no", "nob": "nb", "nno": "nn", "fin": "fi", "est": "et", "ekk": "et", "tur": "tr",
    "pol": "pl", "ces": "cs", "slk": "sk", "slv": "sl", "hrv": "hr", "bos": "bs", "ron": "ro", "hun": "hu",
    "lit": "lt", "lav": "lv", "lvs": "lv", "sqi": "sq", "als": "sq", "cat": "ca", "eus": "eu", "glg": "gl",
    "gle": "ga", "cym": "cy", "isl": "is", "mlt": "mt", "swa": "sw", "swh": "sw", "yor": "yo", "ibo": "ig",
    "hau": "ha", "zul": "zu", "xho": "xh", "afr": "af", "som": "so", "ind": "id", "msa": "ms", "zsm": "ms",
    "tgl": "tl", "vie": "vi", "uzb": "uz", "uzn": "uz", "aze": "az", "azj": "az", "lug": "lg", "kin": "rw",
    "sna": "sn", "nya": "ny", "wol": "wo", "lin": "ln", "orm": "om", "gaz": "om", "twi": "tw", "tsn": "tn",
    "rus": "ru", "ukr": "uk", "bel": "be", "bul": "bg", "mkd": "mk", "srp": "sr", "kaz": "kk", "kir": "ky",
    "tgk": "tg", "mon": "mn", "khk": "mn", "ara": "ar", "arb": "ar", "fas": "fa", "pes": "fa", "urd": "ur",
    "pus": "ps", "pbt": "ps", "uig": "ug", "snd": "sd", "hin": "hi", "mar": "mr", "nep": "ne", "npi": "ne",
    "san": "sa", "ben": "bn", "asm": "as", "tam": "ta", "zho": "zh", "cmn": "zh", "jpn": "ja", "kor": "ko",
    "ell": "el", "heb": "he", "yid": "yi", "tha": "th", "kat": "ka", "hye": "hy", "amh": "am", "tir": "ti",
    "tel": "te", "kan": "kn", "mal": "ml", "guj": "gu", "pan": "pa", "ori": "or", "ory": "or", "sin": "si",
    "mya": "my", "khm": "km", "lao": "lo", "bod": "bo", "div": "dv",
    "fao": "fo", "gla": "gd", "oci": "oc", "bre": "br", "fry": "fy", "cos": "co", "srd": "sc", "roh": "rm",
    "lim": "li", "wln": "wa", "ltz": "lb", "arg": "an", "lat": "la", "epo": "eo", "hat": "ht", "bis": "bi",
    "smo": "sm", "ton": "to", "mri": "mi", "fij": "fj", "jav": "jv", "sun": "su", "que": "qu", "quy": "qu",
    "grn": "gn", "gug": "gn", "aym": "ay", "ayr": "ay", "tuk": "tk", "sot": "st", "tso": "ts", "ssw": "ss",
    "ven": "ve", "run": "rn", "kon": "kg", "kik": "ki", "ewe": "ee", "aka": "ak", "ful": "ff", "fuv": "ff",
    "bam": "bm", "mlg": "mg", "plt": "mg", "kur": "ku", "bak": "ba", "chv": "cv", "tat": "tt", "che": "ce",
    "oss": "os", "kom": "kv", "dzo": "dz",
}

# scripts tried on a language's text, in order of preference when two measure (nearly) the same: Hani before
# Jpan (Chinese is all Han, which Jpan counts too), Hang before Kore (the same letters)
_TEXT_SCRIPTS = ("Latn", "Cyrl", "Arab", "Deva", "Hani", "Hang", "Jpan", "Kore", "Grek", "Hebr", "Thai", "Geor",
                 "Taml", "Ethi", "Beng", "Armn", "Telu", "Knda", "Mlym", "Gujr", "Guru", "Orya", "Sinh", "Mymr",
                 "Khmr", "Laoo", "Tibt", "Thaa", "Tfng", "Nkoo", "Syrc", "Mong", "Cher", "Cans", "Olck", "Adlm",
                 "Vaii", "Copt", "Glag", "Bali", "Java", "Sund", "Bugi", "Tale", "Lana", "Cham", "Yiii")
SCRIPT_SHARE = 0.5    # a script read from text covers at least this share of its letters


def _base(code: str) -> str:
    base = code.split("-")[0]
    return ISO_639_3.get(base, base)


def language_script(code: str) -> str | None:
    return LANGUAGE_SCRIPTS.get(code.split("-")[0]) or LANGUAGE_SCRIPTS.get(_base(code))


def language_name(code: str) -> str:
    return LANGUAGE_NAMES.get(code.split("-")[0]) or LANGUAGE_NAMES.get(_base(code)) or code


def script_of_text(samples: list[str]) -> tuple[str | None, float]:
    """(the script most of the samples' letters are in, its share); (None, best share) below SCRIPT_SHARE. Shares
    as the clean stage measures them (``normalize.script_share``); of two within 0.05, the earlier in
    ``_TEXT_SCRIPTS``."""
    from pipeline.cleaning.normalize import script_share

    text = "".join(samples)
    shares = [(s, script_share(text, s)) for s in _TEXT_SCRIPTS]
    best = max(sh for _, sh in shares)
    if best < SCRIPT_SHARE:
        return None, best
    return next((s, sh) for s, sh in shares if sh >= best - 0.05)
