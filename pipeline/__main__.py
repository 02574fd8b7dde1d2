"""`python -m pipeline STAGE LANG`: run one stage for one language (this is what dvc.yaml calls).

Errors a user can fix (bad config, bad input) print one clear message and exit with status 2.
"""
from __future__ import annotations

import argparse
import importlib
import json
import sys
import time

from pipeline.config import ConfigError, load_language, project_root
from pipeline.errors import StageError
from pipeline.stages import STAGES


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m pipeline", description=__doc__.splitlines()[0])
    ap.add_argument("stage", choices=STAGES, help="stage to run")
    ap.add_argument("lang", help="language code: corpora/LANG.yaml")
    args = ap.parse_args(argv)
    root = project_root()
    t0 = time.time()
    try:
        load_language(args.lang, root, strict=True)  # fail before work DVC could not record
        module = importlib.import_module(f"pipeline.stages.{args.stage}")
        summary = module.run(args.lang, root)
    except (StageError, ConfigError) as e:
        print(f"error: {args.stage} {args.lang}: {e}", file=sys.stderr)
        return 2
    print(json.dumps({"stage": args.stage, "lang": args.lang, "seconds": round(time.time() - t0, 2),
                      **(summary or {})}, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
