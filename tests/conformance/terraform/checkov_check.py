#!/usr/bin/env python3
"""Run checkov over a terraform/ directory and fail on any failed check or any parsing error.

usage: checkov_check.py [--checkov PATH] TERRAFORM_DIR

Runs `checkov -d DIR --framework terraform --skip-download --compact -o json`:
- `--skip-download`: without it checkov tries the network for guidelines (and still exits 0 offline);
- no `--quiet`: in JSON output it drops `results.parsing_errors` (the list of files that did not parse), and
  checkov exits 0 when a file only fails to parse, so the list is needed to fail on it;
- CKV_SKIP_PACKAGE_UPDATE_CHECK=true: no PyPI version lookup.
Checks suppressed inline (`# checkov:skip=CKV_X:reason` inside the resource block) are listed, not failed: that is
how generated Terraform documents a deliberate exception.

exit: 0 no failed check and no parsing error, 1 otherwise, 2 checkov could not run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys


def find_checkov(explicit: str | None) -> str | None:
    if explicit:
        return explicit
    beside = os.path.join(os.path.dirname(sys.executable), "checkov")
    if os.path.isfile(beside):
        return beside
    return shutil.which("checkov")


def main() -> int:
    ap = argparse.ArgumentParser(description="checkov over a terraform dir: fail on failed checks and parse errors")
    ap.add_argument("terraform_dir")
    ap.add_argument("--checkov", default=os.environ.get("CHECKOV"))
    args = ap.parse_args()
    checkov = find_checkov(args.checkov)
    if not checkov:
        print("checkov_check: checkov not found (run setup.sh)", file=sys.stderr)
        return 2
    env = {k: v for k, v in os.environ.items() if k not in ("BC_API_KEY", "PRISMA_API_URL")}
    env["CKV_SKIP_PACKAGE_UPDATE_CHECK"] = "true"
    cmd = [checkov, "-d", args.terraform_dir, "--framework", "terraform", "--skip-download", "--compact", "-o", "json"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    try:
        data = json.loads(proc.stdout)
    except json.JSONDecodeError:
        print(f"checkov_check: checkov exited {proc.returncode} without JSON output")
        sys.stdout.write("".join(proc.stderr.splitlines(keepends=True)[-30:]))
        return 2
    reports = data if isinstance(data, list) else [data]
    failed, parse_errors, skipped = [], [], []
    resources = 0
    for rep in reports:
        summary = rep.get("summary", rep)  # an empty scan prints only the summary object
        resources += summary.get("resource_count", 0)
        results = rep.get("results", {})
        failed += results.get("failed_checks", [])
        skipped += results.get("skipped_checks", [])
        errs = results.get("parsing_errors", [])
        parse_errors += errs
        if summary.get("parsing_errors", 0) and not errs:
            parse_errors.append(f"{summary['parsing_errors']} file(s) (checkov gave no names)")
    root = os.path.abspath(args.terraform_dir)
    for p in parse_errors:
        rel = os.path.relpath(p, root) if os.path.isabs(p) else p
        print(f"parsing error: {os.path.join(args.terraform_dir, rel)}")
    for c in sorted(failed, key=lambda c: (c.get("file_path", ""), c.get("resource", ""), c["check_id"])):
        lines = c.get("file_line_range") or []
        where = c.get("file_path", "").lstrip("/") + (f":{lines[0]}-{lines[1]}" if len(lines) == 2 else "")
        print(f"{c['check_id']} {c.get('resource')} ({os.path.join(args.terraform_dir, where)}): {c.get('check_name')}")
    if skipped:
        ids = ", ".join(sorted({f"{c['check_id']} {c.get('resource')}" for c in skipped}))
        print(f"suppressed inline ({len(skipped)}): {ids}")
    print(
        f"checkov_check: {resources} resources, {len(failed)} failed check(s), {len(parse_errors)} parsing error(s), "
        f"{len(skipped)} suppressed"
    )
    if proc.returncode not in (0, 1):
        print(f"checkov_check: checkov exited {proc.returncode}")
        sys.stdout.write("".join(proc.stderr.splitlines(keepends=True)[-30:]))
        return 2
    return 1 if failed or parse_errors else 0


if __name__ == "__main__":
    sys.exit(main())
