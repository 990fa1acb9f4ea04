#!/usr/bin/env bash
# Self-test of the conformance checks against their fixtures: every good fixture passes,
# every bad fixture fails with the message listed in fixtures/<check>/expected.tsv, and an
# output dir without the check's folder gives exit 3 ("nothing to check").
#
# Usage: bash selftest.sh [kfp] [cloudbuild] [airflow]        (default: all three)
# Pythons (a section whose python is not set is reported as SKIP):
#   PY_MAIN      venv from validators/constraints-main.txt (kfp 2.17.3, kfp-pipeline-spec, PyYAML)
#   PY_AIRFLOW2  venv with apache-airflow 2.10.5 + apache-airflow-providers-google 15.1.0
#   PY_AIRFLOW3  venv with apache-airflow 3.3.2 + apache-airflow-providers-google 22.8.0
# Ends with "N passed, N failed"; exits 0 only when nothing failed.
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
FIX="$HERE/fixtures"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
passed=0 failed=0

ok() { passed=$((passed + 1)); echo "PASS $*"; }
bad() { failed=$((failed + 1)); echo "FAIL $*"; }

# run NAME WANT_RC PYTHON SCRIPT ARGS... ; output in $TMP/out, duration in $secs
run() {
  local name="$1" want="$2"; shift 2
  local start=$EPOCHREALTIME
  "$@" >"$TMP/out" 2>&1 </dev/null
  local rc=$?
  secs=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
  if [[ $rc == "$want" ]]; then ok "$name: exit $rc (${secs}s)"; return 0; fi
  bad "$name: exit $rc, expected $want (${secs}s)"; sed 's/^/    /' "$TMP/out" | head -40
  return 1
}

contains() {  # contains NAME SUBSTRING: the last run printed SUBSTRING
  if grep -qF -- "$2" "$TMP/out"; then ok "$1: printed: $2"; else
    bad "$1: did not print: $2"; sed 's/^/    /' "$TMP/out" | head -40; fi
}

# one bad fixture per output dir: check_files PY SCRIPT FIXDIR SUBDIR
check_files() {
  local py="$1" script="$2" fix="$3" sub="$4" file msg
  run "$(basename "$script") good fixtures" 0 "$py" "$HERE/$script" "$fix/good"
  mkdir -p "$TMP/empty"
  run "$(basename "$script") empty dir" 3 "$py" "$HERE/$script" "$TMP/empty" && contains "empty dir" "nothing to check"
  while IFS=$'\t' read -r file msg; do
    rm -rf "$TMP/case" && mkdir -p "$TMP/case/$sub" && cp "$fix/bad/$file" "$TMP/case/$sub/"
    run "$(basename "$script") bad/$file" 1 "$py" "$HERE/$script" "$TMP/case" && contains "bad/$file" "$msg"
  done <"$fix/expected.tsv"
}

section_kfp() {
  [[ -n "${PY_MAIN:-}" ]] || { echo "SKIP kfp (PY_MAIN not set)"; return; }
  check_files "$PY_MAIN" kfp_check.py "$FIX/kfp" pipelines/dev
}

section_cloudbuild() {
  [[ -n "${PY_MAIN:-}" ]] || { echo "SKIP cloudbuild (PY_MAIN not set)"; return; }
  check_files "$PY_MAIN" cloudbuild_check.py "$FIX/cloudbuild" cloudbuild
}

airflow_version() {  # airflow_version MAJOR PYTHON
  local major="$1" py="$2" run_kind version msg
  local tag="airflow_dagbag.py [airflow $major]"
  if run "$tag good + --expect expect_good.json + --dump" 0 "$py" "$HERE/airflow_dagbag.py" \
      "$FIX/airflow/good" --expect "$FIX/airflow/expect_good.json" --dump "$TMP/dump.json"; then
    if diff -u "$FIX/airflow/expect_good.json" "$TMP/dump.json" >"$TMP/diff"; then
      ok "$tag --dump equals expect_good.json"
    else bad "$tag --dump differs from expect_good.json"; sed 's/^/    /' "$TMP/diff"; fi
  fi
  for run_kind in expect bad; do
    if [[ $run_kind == expect ]]; then
      run "$tag good + --expect expect_wrong.json" 1 "$py" "$HERE/airflow_dagbag.py" \
        "$FIX/airflow/good" --expect "$FIX/airflow/expect_wrong.json"
    else
      run "$tag bad fixtures --strict" 1 "$py" "$HERE/airflow_dagbag.py" "$FIX/airflow/bad" --strict
    fi
    while IFS=$'\t' read -r kind version msg; do
      [[ $kind == "$run_kind" && ($version == "*" || $version == "$major") ]] && contains "$tag $kind" "$msg"
    done <"$FIX/airflow/expected.tsv"
  done
  mkdir -p "$TMP/empty"
  run "$tag empty dir" 3 "$py" "$HERE/airflow_dagbag.py" "$TMP/empty" && contains "$tag empty dir" "nothing to check"
}

section_airflow() {
  if [[ -n "${PY_AIRFLOW2:-}" ]]; then airflow_version 2 "$PY_AIRFLOW2"; else echo "SKIP airflow 2 (PY_AIRFLOW2 not set)"; fi
  if [[ -n "${PY_AIRFLOW3:-}" ]]; then airflow_version 3 "$PY_AIRFLOW3"; else echo "SKIP airflow 3 (PY_AIRFLOW3 not set)"; fi
}

sections=("$@")
[[ ${#sections[@]} -gt 0 ]] || sections=(kfp cloudbuild airflow)
for s in "${sections[@]}"; do
  start=$EPOCHREALTIME
  "section_$s"
  echo "== $s took $(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')s"
done
echo "$passed passed, $failed failed"
[[ $failed == 0 ]]
