"""Onboarding a folder of data for ``foundry new-language``: ``detect.py`` classifies every file by extension and
content into ``sources`` entries (one per format and settings), ``fields.py`` chooses the text field(s) of a
record format, ``layout.py`` how lines of a text file become documents, ``sample.py`` what each source holds."""
