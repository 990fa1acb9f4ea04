#!/usr/bin/env bash
# Run every conformance check over mlopsgen output directories.
#
# usage: tests/conformance/run.sh [--no-setup] [OUT_DIR ...]
#   OUT_DIR    a directory written by `mlopsgen build` (terraform/, cloudbuild/, dags/, docker/, pipelines/,
#              .mlopsgen/manifest.json); default: every directory under <repo>/generated/ that has
#              .mlopsgen/manifest.json
#   --no-setup do not call setup.sh first (the tools must already be installed)
#
# Output, one line per check and output dir:
#   PASS <check> <outdir>
#   FAIL <check> <outdir>            followed by the failing tool's output, indented
#   SKIP <check> <outdir> (<why>)    nothing to check, or a checks/ script that does not exist yet
# and last the plain line `N passed, M failed` (`, K skipped` appended when K > 0). Exit 1 when M > 0, 2 on a
# usage error or a failed setup.
#
# Environment: MLOPSGEN_TOOLS (install root, default <repo>/target/conformance-tools). Exported to the checks:
# PY_MAIN, PY_AF2, PY_AF3, NODE_DIR, NODE_PATH, MLOPSGEN_TOOLS, PROVIDER_SCHEMA, PYHCL2_PATH, MAIN_BIN,
# CONFORMANCE_DIR, REPO_ROOT, PYTHONPYCACHEPREFIX (a temp dir, so no __pycache__ lands in an output dir) and
# AIRFLOW_HOME (a temp dir per Airflow major version, unless already set). A checks/ script is called as
# `$PY_x tests/conformance/checks/<script> <absolute outdir>` with the outdir as working directory; exit 0 = pass,
# 3 (or 77) = nothing to check (SKIP), anything else = fail.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=tests/conformance/lib/env.sh
source "$HERE/lib/env.sh"
# shellcheck source=tests/conformance/lib/checks.sh
source "$HERE/lib/checks.sh"

SETUP=1
outdirs=()
for arg in "$@"; do
  case "$arg" in
    --no-setup) SETUP=0 ;;
    -h | --help)
      sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
      exit 0
      ;;
    -*)
      echo "run.sh: unknown option $arg" >&2
      exit 2
      ;;
    *)
      if [[ ! -d "$arg" ]]; then
        echo "run.sh: $arg: not a directory" >&2
        exit 2
      fi
      outdirs+=("$(cd "$arg" && pwd)")
      ;;
  esac
done

if [[ $SETUP -eq 1 ]]; then
  bash "$CONFORMANCE_DIR/setup.sh" || {
    echo "run.sh: setup.sh failed" >&2
    exit 2
  }
fi

if [[ ${#outdirs[@]} -eq 0 ]]; then
  while IFS= read -r manifest; do
    outdirs+=("$(dirname "$(dirname "$manifest")")")
  done < <(find "$REPO_ROOT/generated" -path '*/.mlopsgen/manifest.json' -type f 2>/dev/null | LC_ALL=C sort)
  if [[ ${#outdirs[@]} -eq 0 ]]; then
    echo "run.sh: no output dir given and none under generated/ with .mlopsgen/manifest.json"
  fi
fi

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
export PYTHONPYCACHEPREFIX="$WORK/pycache"
export AIRFLOW_HOME_2="${AIRFLOW_HOME:-$WORK/airflow2-home}" AIRFLOW_HOME_3="${AIRFLOW_HOME:-$WORK/airflow3-home}"
export RUFF_NO_CACHE=true

passed=0
failed=0
skipped=0
t0=$(date +%s)
for outdir in "${outdirs[@]}"; do
  shown="${outdir#"$REPO_ROOT"/}"
  for entry in "${CHECKS[@]}"; do
    name="${entry%% *}"
    fn="${entry#* }"
    rc=0
    out="$(cd "$outdir" && "$fn" 2>&1)" || rc=$?
    case $rc in
      0)
        passed=$((passed + 1))
        echo "PASS $name $shown"
        ;;
      "$SKIP")
        skipped=$((skipped + 1))
        echo "SKIP $name $shown ($(printf '%s\n' "$out" | tail -1))"
        ;;
      *)
        failed=$((failed + 1))
        echo "FAIL $name $shown"
        printf '%s\n' "$out" | sed 's/^/    /'
        ;;
    esac
  done
done
echo "conformance: ${#outdirs[@]} output dir(s) in $(($(date +%s) - t0))s"
summary="$passed passed, $failed failed"
[[ $skipped -eq 0 ]] || summary+=", $skipped skipped"
echo "$summary"
[[ $failed -eq 0 ]]
