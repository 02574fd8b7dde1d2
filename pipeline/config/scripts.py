"""The ``script:`` values a language config accepts: ISO 15924 codes."""
from __future__ import annotations

# The scripts with their own letter table (pipeline/cleaning/normalize.py) and tuned defaults; any other
# ISO 15924 code of a Unicode script (Telu, Knda, Mlym, Gujr, Guru, Orya, Sinh, Mymr, Khmr, Laoo, Tibt, Thaa,
# Tfng, Nkoo, ...) is accepted too and measured by its Unicode Script property.
SCRIPTS = ("Latn", "Cyrl", "Arab", "Deva", "Hani", "Jpan", "Hang", "Kore", "Grek", "Hebr", "Thai",
           "Geor", "Taml", "Ethi", "Beng", "Armn")


def is_script(code: str) -> bool:
    """A code of SCRIPTS, or the ISO 15924 code (Title case, 4 letters) of a Unicode script that the ``regex``
    module knows; not Zyyy/Zinh/Zzzz (common, inherited, unknown), which are no language's script."""
    if code in SCRIPTS:
        return True
    if not (len(code) == 4 and code.isascii() and code.isalpha() and code.istitle()) or code.startswith("Z"):
        return False
    import regex

    try:
        regex.compile(rf"\p{{Script={code}}}")
    except regex.error:
        return False
    return True
