"""Conformance check for generated Cloud Build configs: what the JSON schema misses.

Usage: python cloudbuild_check.py <outdir>   (needs PyYAML)

Checks every ``<outdir>/cloudbuild/*.yaml`` (also ``*.yml``, ``*.json``) for what
``check-jsonschema --builtin-schema vendor.cloudbuild`` does not check:

- duplicate mapping keys; unknown top-level keys; ``steps`` present and non-empty;
  every step a mapping with ``name``; unknown step keys; ``script`` not mixed with
  ``args``/``entrypoint``; ``env`` entries are ``KEY=VALUE``;
- step ``id``s unique; every ``waitFor`` entry is ``-`` or the id of an *earlier* step;
- substitutions: keys match ``_[A-Z0-9_]+`` with string values; every ``$NAME`` /
  ``${NAME}`` is a declared ``_NAME`` or a built-in; ``$$`` is a literal ``$``; any
  other ``$`` is an error (it must be written ``$$``); bash expansions such as
  ``${_X:0:7}`` only with ``options.dynamicSubstitutions: true``; a declared
  substitution that nothing uses is an error. ``script`` fields are not
  templated by Cloud Build (they see substitutions only as environment variables
  with ``automapSubstitutions``), so they are only scanned for uses.
- ``secretEnv`` names are declared in ``availableSecrets`` (or legacy ``secrets``);
  ``availableSecrets.secretManager[].versionName`` is a secret-version resource name;
- ``serviceAccount`` is ``projects/<p>/serviceAccounts/<email>`` and then the build
  also has ``options.logging`` ``CLOUD_LOGGING_ONLY``/``NONE``, a ``logsBucket``
  (``gs://...``) or ``options.defaultLogsBucketBehavior: REGIONAL_USER_OWNED_BUCKET``;
- ``timeout``/``queueTtl`` and step ``timeout`` are duration strings like ``600s``.

Prints ``OK <file>`` or ``FAIL <file>`` plus one indented line per problem.
Exit codes: 0 all files good, 1 problems found, 2 usage, 3 nothing to check.
"""
import re
import sys
from pathlib import Path

import yaml

TOP_KEYS = {"steps", "timeout", "queueTtl", "logsBucket", "options", "substitutions", "tags",
            "serviceAccount", "secrets", "availableSecrets", "images", "artifacts"}
STEP_KEYS = {"name", "args", "env", "dir", "id", "waitFor", "entrypoint", "secretEnv", "volumes",
             "timeout", "script", "automapSubstitutions", "allowFailure", "allowExitCodes"}
BUILTINS = {"PROJECT_ID", "PROJECT_NUMBER", "LOCATION", "BUILD_ID", "COMMIT_SHA", "SHORT_SHA",
            "BRANCH_NAME", "TAG_NAME", "REF_NAME", "REPO_NAME", "REPO_FULL_NAME", "REVISION_ID",
            "TRIGGER_NAME", "TRIGGER_BUILD_CONFIG_PATH", "SERVICE_ACCOUNT_EMAIL", "SERVICE_ACCOUNT",
            # GitHub pull-request triggers provide these without a declaration
            "_HEAD_BRANCH", "_BASE_BRANCH", "_HEAD_REPO_URL", "_PR_NUMBER"}
SUBST_KEY_RE = re.compile(r"^_[A-Z0-9_]+$")
# $$ | ${...} | $NAME | a lone $ followed by anything else (or nothing)
DOLLAR_RE = re.compile(r"\$(?:(\$)|\{([^}]*)\}|([A-Za-z_][A-Za-z0-9_]*)|)")
BRACED_RE = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)(.*)$", re.DOTALL)
DURATION_RE = re.compile(r"^\d+(\.\d{1,9})?s$")
SA_RE = re.compile(r"^projects/[^/]+/serviceAccounts/[^/@\s]+@[^/@\s]+\.[^/@\s]+$")
SECRET_VERSION_RE = re.compile(r"^projects/[^/]+/secrets/[^/]+/versions/[^/]+$")


class UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that rejects duplicate mapping keys (PyYAML keeps the last one)."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep)


def strings(node, path):
    """Yield (path, string) for every string in a YAML value."""
    if isinstance(node, str):
        yield path, node
    elif isinstance(node, dict):
        for k, v in node.items():
            yield from strings(v, f"{path}.{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from strings(v, f"{path}[{i}]")


def check_doc(doc):
    if not isinstance(doc, dict):
        return ["top level is not a mapping"]
    problems = []
    err = problems.append
    options = doc.get("options") or {}
    dynamic = options.get("dynamicSubstitutions") is True
    automap_all = options.get("automapSubstitutions") is True

    for key in doc:
        if key not in TOP_KEYS:
            err(f"unknown top-level key {key!r} (allowed: {', '.join(sorted(TOP_KEYS))})")

    steps = doc.get("steps")
    if not isinstance(steps, list) or not steps:
        err("steps: missing or empty")
        steps = []
    ids, scripts = set(), []
    for i, step in enumerate(steps):
        where = f"steps[{i}]"
        if not isinstance(step, dict):
            err(f"{where}: is not a mapping")
            continue
        if step.get("id") is not None:
            where = f"steps[{i}] (id {step['id']!r})"
        if not step.get("name"):
            err(f"{where}: has no name")
        for key in step:
            if key not in STEP_KEYS:
                err(f"{where}: unknown key {key!r}")
        if "script" in step and ("args" in step or "entrypoint" in step):
            err(f"{where}: script cannot be combined with args or entrypoint")
        for e in step.get("env") or []:
            if not isinstance(e, str) or "=" not in e:
                err(f"{where}.env: entry {e!r} is not KEY=VALUE")
        for w in step.get("waitFor") or []:
            if w != "-" and w not in ids:
                declared_later = any(isinstance(s, dict) and s.get("id") == w for s in steps[i + 1:])
                err(f"{where}.waitFor: {w!r} is not the id of an earlier step"
                    + (" (it is declared later)" if declared_later else ""))
        sid = step.get("id")
        if sid is not None:
            if sid in ids:
                err(f"{where}: duplicate step id {sid!r}")
            ids.add(sid)
        if "timeout" in step:
            check_duration(err, f"{where}.timeout", step["timeout"])
        if "script" in step:
            scripts.append((f"steps[{i}].script", step["script"],
                            automap_all or step.get("automapSubstitutions") is True))

    for key in ("timeout", "queueTtl"):
        if key in doc:
            check_duration(err, key, doc[key])

    # --- substitutions -------------------------------------------------------------------
    declared = doc.get("substitutions") or {}
    if not isinstance(declared, dict):
        err("substitutions: is not a mapping")
        declared = {}
    for k, v in declared.items():
        if not SUBST_KEY_RE.match(str(k)):
            err(f"substitutions: key {k!r} does not match _[A-Z0-9_]+")
        if not isinstance(v, str):
            err(f"substitutions.{k}: value {v!r} is not a string (quote it)")
    used = set()
    templated = {k: v for k, v in doc.items() if k != "substitutions"}
    templated["steps"] = [{k: v for k, v in s.items() if k != "script"} if isinstance(s, dict) else s
                          for s in steps]
    if dynamic:  # substitution values may then refer to other substitutions
        templated["substitutions"] = {k: v for k, v in declared.items() if isinstance(v, str)}
    for path, text in strings(templated, "$"):
        for m in DOLLAR_RE.finditer(text):
            literal, braced, bare = m.groups()
            if literal:
                continue
            if braced is None and bare is None:
                err(f"{path[2:]}: lone '$' in {text!r} at offset {m.start()}: write '$$' for a literal $")
                continue
            name, rest = (bare, "") if bare is not None else split_braced(braced)
            if name is None:
                err(f"{path[2:]}: malformed substitution '${{{braced}}}' in {text!r}")
                continue
            if rest and not dynamic:
                err(f"{path[2:]}: '${{{braced}}}' is a bash expansion: needs options.dynamicSubstitutions: true")
            used.add(name)
            if name not in declared and name not in BUILTINS:
                hint = "declare it in substitutions" if name.startswith("_") else \
                    "not a built-in substitution; write '$$' for a literal $"
                err(f"{path[2:]}: '{m.group(0)}' is undeclared ({hint})")
    for path, text, automap in scripts:
        if automap and isinstance(text, str):  # substitutions arrive as env vars
            for m in DOLLAR_RE.finditer(text):
                name = m.group(3) or split_braced(m.group(2) or "")[0]
                if name:
                    used.add(name)
    for k in sorted(set(declared) - used):
        err(f"substitutions: {k!r} is declared but never used")

    # --- secrets ---------------------------------------------------------------------------
    available = doc.get("availableSecrets") or {}
    secret_names = set()
    for i, sm in enumerate(available.get("secretManager") or []):
        if not SECRET_VERSION_RE.match(str(sm.get("versionName", ""))):
            err(f"availableSecrets.secretManager[{i}].versionName: {sm.get('versionName')!r} is not "
                "projects/<p>/secrets/<s>/versions/<v>")
        if not sm.get("env"):
            err(f"availableSecrets.secretManager[{i}]: has no env")
        secret_names.add(sm.get("env"))
    for inline in available.get("inline") or []:
        secret_names |= set((inline.get("envMap") or {}).keys())
    for legacy in doc.get("secrets") or []:
        secret_names |= set((legacy.get("secretEnv") or {}).keys())
    for i, step in enumerate(steps):
        if isinstance(step, dict):
            for name in step.get("secretEnv") or []:
                if name not in secret_names:
                    err(f"steps[{i}].secretEnv: {name!r} is not declared in availableSecrets")
    for name in options.get("secretEnv") or []:
        if name not in secret_names:
            err(f"options.secretEnv: {name!r} is not declared in availableSecrets")

    # --- service account and logging ----------------------------------------------------------
    if "logsBucket" in doc and not str(doc["logsBucket"]).startswith("gs://"):
        err(f"logsBucket: {doc['logsBucket']!r} does not start with gs://")
    if "serviceAccount" in doc:
        sa = doc["serviceAccount"]
        if not SA_RE.match(str(sa)):
            err(f"serviceAccount: {sa!r} is not projects/<project>/serviceAccounts/<email>")
        if not (options.get("logging") in ("CLOUD_LOGGING_ONLY", "NONE") or doc.get("logsBucket")
                or options.get("defaultLogsBucketBehavior") == "REGIONAL_USER_OWNED_BUCKET"):
            err("serviceAccount is set, so options.logging must be CLOUD_LOGGING_ONLY or NONE, or a "
                "logsBucket (or options.defaultLogsBucketBehavior: REGIONAL_USER_OWNED_BUCKET) must be set")
    return problems


def split_braced(inner):
    """'_X:0:7' -> ('_X', ':0:7'); something that does not start with a name -> (None, None)."""
    m = BRACED_RE.match(inner)
    return (m[1], m[2]) if m else (None, None)


def check_duration(err, where, value):
    if not isinstance(value, str) or not DURATION_RE.match(value):
        err(f"{where}: {value!r} is not a duration string like '600s'")


def check_file(path):
    try:
        doc = yaml.load(path.read_text(encoding="utf-8"), Loader=UniqueKeyLoader)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark
        return [f"invalid YAML at line {mark.line + 1}, column {mark.column + 1}: {e.context or ''} {e.problem}".replace("  ", " ")]
    except yaml.YAMLError as e:
        return [f"invalid YAML: {e}"]
    try:
        return check_doc(doc)
    except (AttributeError, TypeError) as e:  # a wrongly shaped section (e.g. a list where a map belongs)
        return [f"check aborted on malformed config: {type(e).__name__}: {e}"]


def main(argv):
    if len(argv) != 2:
        print("usage: python cloudbuild_check.py <outdir>", file=sys.stderr)
        return 2
    root = Path(argv[1])
    folder = root / "cloudbuild"
    files = sorted(p for ext in ("*.yaml", "*.yml", "*.json") for p in folder.glob(ext)) if folder.is_dir() else []
    if not files:
        print("nothing to check")
        return 3
    failed = 0
    for f in files:
        problems = check_file(f)
        rel = f.relative_to(root)
        print(f"{'FAIL' if problems else 'OK'} {rel}")
        for p in problems:
            print(f"  {rel}: {p}")
        failed += bool(problems)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
