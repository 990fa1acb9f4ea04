"""Hostile strings in generated Python arrive as string literals, and add no code.

usage: hostile_python.py DIR

DIR (written by `cargo test --test hostile`) holds baseline/<path>.py (the unmodified flagship's
Python files), cases/<id>/<path>.py (the files a hostile string changed) and cases.json:
[{id, field, value, files, require_literal, same_shape}]. For every case and file:
- the file parses with `ast`;
- when require_literal: the exact value is a substring of some str constant (docstrings and the
  literal parts of f-strings included) in one of the case's files;
- when same_shape (the edit only replaced values): the syntax tree with every str constant blanked
  equals the baseline's, so no statement, call, name or f-string field was added.
Prints `hostile-python: N passed, M failed` and exits 1 on any failure.
"""

import ast
import json
import sys
from pathlib import Path


def str_constants(tree):
    return [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)]


class Blank(ast.NodeTransformer):
    def visit_Constant(self, node):
        if isinstance(node.value, str):
            return ast.copy_location(ast.Constant(value=""), node)
        return node


def shape(tree):
    return ast.dump(Blank().visit(tree), include_attributes=False)


def main(root):
    root = Path(root)
    cases = json.loads((root / "cases.json").read_text(encoding="utf-8"))
    baselines = {}
    passed = failed = 0
    for case in cases:
        problems = []
        constants = []
        for rel in case["files"]:
            text = (root / "cases" / str(case["id"]) / rel).read_text(encoding="utf-8")
            try:
                tree = ast.parse(text, filename=rel)
            except (SyntaxError, ValueError) as e:
                problems.append(f"{rel}: does not parse: {e}")
                continue
            constants.extend(str_constants(tree))
            if case["same_shape"]:
                if rel not in baselines:
                    base_file = root / "baseline" / rel
                    baselines[rel] = shape(ast.parse(base_file.read_text(encoding="utf-8"))) if base_file.exists() else None
                if baselines[rel] is not None and shape(tree) != baselines[rel]:
                    problems.append(f"{rel}: the syntax tree changed beyond string values")
        if case["require_literal"] and not any(case["value"] in c for c in constants):
            problems.append("the value is not inside any string literal")
        if problems:
            failed += 1
            value = case["value"] if len(case["value"]) < 60 else case["value"][:40] + "…"
            for p in problems:
                print(f"FAIL {case['field']} {value!r}: {p}")
        else:
            passed += 1
    print(f"hostile-python: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1]))
