"""`python -m pipeline STAGE LANG`: run one stage for one language (this is what dvc.yaml calls).

Errors a user can fix (bad config, bad input, a full disk, the language busy with another run) print one clear
message and exit with status 2.
"""
from __future__ import annotations

import argparse
import importlib
import json
import sys
import time

from model.diskspace import as_disk_full
from pipeline.config import ConfigError, load_language, project_root
from pipeline.config.joint import load_joint
from pipeline.errors import StageError
from pipeline.joint import JOINT_STAGES
from pipeline.locks import language_lock
from pipeline.stages import STAGES


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m pipeline", description=__doc__.splitlines()[0])
    ap.add_argument("stage", choices=STAGES + JOINT_STAGES, help="stage to run (joint_*: of a joint model)")
    ap.add_argument("lang", help="language code: corpora/LANG.yaml (a joint model's name for the joint_* stages)")
    ap.add_argument("--wait", action="store_true",
                    help="when another run holds LANG, wait for it (default: exit with status 2, naming it)")
    args = ap.parse_args(argv)
    root = project_root()
    t0 = time.time()
    try:
        if args.stage in JOINT_STAGES:
            load_joint(args.lang, root)
        else:
            load_language(args.lang, root, strict=True)  # fail before work DVC could not record
        module = importlib.import_module(f"pipeline.stages.{args.stage}")
        # one run per language (a `foundry run` of it holds it for the stages it starts)
        with language_lock(root, args.lang, f"python -m pipeline {args.stage} {args.lang}", wait=args.wait):
            summary = module.run(args.lang, root)
    except (StageError, ConfigError) as e:
        print(f"error: {args.stage} {args.lang}: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # a full disk: one line naming the output and the space; the atomic writers left nothing
        if (full := as_disk_full(e)) is None:
            raise
        print(f"error: {args.stage} {args.lang}: {full}", file=sys.stderr)
        return 2
    print(json.dumps({"stage": args.stage, "lang": args.lang, "seconds": round(time.time() - t0, 2),
                      **(summary or {})}, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
