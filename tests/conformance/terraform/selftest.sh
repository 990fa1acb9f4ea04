#!/usr/bin/env bash
# Self-test of the terraform checks: a checker that cannot fail is worthless.
#
# usage: tests/conformance/terraform/selftest.sh [--no-setup] [FIXTURE ...]
#
# Each directory in fixtures/ stands for one output dir of `mlopsgen build` (it has a terraform/ folder). `good`
# must pass every terraform check (parse, fmt, schema, checkov, shellcheck); `good-*` must pass parse, fmt and
# schema (valid constructs that checkov would object to, kept apart). Each `bad-*` has an `expect` file of
# `CHECK|TEXT` lines: CHECK must fail and print TEXT (schema: TEXT is a whole output line, and the number of problem
# lines must equal the number of schema lines expected, so a fixture also proves there are no false positives);
# `skip|CHECK` leaves a check out. parse, fmt and schema must pass on a bad fixture unless it names them; checkov
# and shellcheck run only where named (and on good).
# The checks are the very functions run.sh uses (lib/checks.sh).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=tests/conformance/lib/env.sh
source "$HERE/../lib/env.sh"
# shellcheck source=tests/conformance/lib/checks.sh
source "$HERE/../lib/checks.sh"

SETUP=1
only=()
for arg in "$@"; do
  case "$arg" in
    --no-setup) SETUP=0 ;;
    -*)
      echo "selftest.sh: unknown option $arg" >&2
      exit 2
      ;;
    *) only+=("$arg") ;;
  esac
done
if [[ $SETUP -eq 1 ]]; then
  bash "$CONFORMANCE_DIR/setup.sh" | sed -n '/ERROR\|installing\|done in/p'
fi
PYCACHE="$(mktemp -d)"
trap 'rm -rf "$PYCACHE"' EXIT
export PYTHONPYCACHEPREFIX="$PYCACHE"

passed=0
failed=0
t0=$(date +%s)
ok() {
  passed=$((passed + 1))
  printf 'ok   %-28s %s\n' "$1" "$2"
}
bad() {
  failed=$((failed + 1))
  printf 'FAIL %-28s %s\n' "$1" "$2"
  [[ -z "${3:-}" ]] || printf '%s\n' "$3" | sed 's/^/       | /'
}

for dir in "$HERE"/fixtures/*/; do
  fx="$(basename "$dir")"
  if [[ ${#only[@]} -gt 0 && ! " ${only[*]} " == *" $fx "* ]]; then continue; fi
  declare -A expected=() skipped=()
  if [[ -f "$dir/expect" ]]; then
    while IFS= read -r line; do
      [[ -z "$line" || "$line" == \#* ]] && continue
      check="${line%%|*}"
      text="${line#*|}"
      if [[ "$check" == skip ]]; then
        skipped[$text]=1
      else
        expected[$check]+="$text"$'\n'
      fi
    done <"$dir/expect"
  elif [[ "$fx" != good* ]]; then
    bad "$fx" "no expect file"
    continue
  fi
  for check in parse fmt schema checkov shellcheck; do
    [[ -n "${skipped[$check]:-}" ]] && continue
    if [[ "$check" == checkov || "$check" == shellcheck ]] && [[ "$fx" != good && -z "${expected[$check]:-}" ]]; then
      continue
    fi
    case "$check" in
      parse) fn=check_terraform_parse ;;
      fmt) fn=check_terraform_fmt ;;
      schema) fn=check_terraform_schema ;;
      checkov) fn=check_terraform_checkov ;;
      shellcheck) fn=check_shellcheck ;;
    esac
    rc=0
    out="$(cd "$dir" && "$fn" 2>&1)" || rc=$?
    if [[ -z "${expected[$check]:-}" ]]; then
      if [[ $rc -eq 0 ]]; then ok "$fx" "$check passes"; else bad "$fx" "$check should pass, exit $rc" "$out"; fi
      continue
    fi
    if [[ $rc -ne 1 ]]; then
      bad "$fx" "$check should fail with exit 1, got $rc" "$out"
      continue
    fi
    missing=""
    n_expected=0
    while IFS= read -r text; do
      [[ -z "$text" ]] && continue
      n_expected=$((n_expected + 1))
      if [[ "$check" == schema ]]; then
        grep -Fxq -- "$text" <<<"$out" || missing+="  missing line: $text"$'\n'
      else
        grep -Fq -- "$text" <<<"$out" || missing+="  missing text: $text"$'\n'
      fi
    done <<<"${expected[$check]}"
    if [[ "$check" == schema ]]; then
      n_problems="$(grep -cvE '^(warning: |check_schema: )' <<<"$out" || true)"
      if [[ "$n_problems" -ne "$n_expected" ]]; then
        missing+="  expected $n_expected problem line(s), got $n_problems"$'\n'
      fi
    fi
    if [[ -z "$missing" ]]; then
      ok "$fx" "$check fails as expected ($n_expected message(s))"
    else
      bad "$fx" "$check did not fail as expected" "${missing}--- output:
$out"
    fi
  done
  unset expected skipped
done

echo "terraform selftest: $(($(date +%s) - t0))s"
echo "selftest: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
