#!/usr/bin/env bash
# Conformance of the generated data validator: ruff over the generated package, hadolint
# over its Dockerfile (when the build has one), then the pytest suite.
#
#   tests/conformance/validation/run.sh [OUTPUT_DIR]
#
# OUTPUT_DIR is a built output folder (holding validation/); without it, specs/flagship.yaml
# is built into a temporary folder. Tools: $PYTHON (with pandas, pyarrow, pytest; the
# google-cloud-* packages are optional), ruff and hadolint next to it or on PATH.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../../.." && pwd)"
python="${PYTHON:-}"
if [[ -z "$python" ]]; then
  for candidate in /work/tools/venv-main/bin/python "$(command -v python3 || true)"; do
    if [[ -x "$candidate" ]] && "$candidate" -c 'import pandas, pyarrow, pytest' 2>/dev/null; then
      python="$candidate"
      break
    fi
  done
fi
if [[ -z "$python" ]]; then
  echo "no Python with pandas, pyarrow and pytest: set PYTHON" >&2
  exit 2
fi
bin="$(dirname "$python")"
tool() { if [[ -x "$bin/$1" ]]; then echo "$bin/$1"; else command -v "$1" || true; fi; }

out="${1:-}"
if [[ -z "$out" ]]; then
  out="$(mktemp -d)/flagship"
  (cd "$repo" && cargo run -q -- build specs/flagship.yaml --out "$out" >/dev/null)
fi
package="$out/validation"
[[ -d "$package/mlops_validation" ]] || { echo "no validator package in $out" >&2; exit 2; }

# Each tool check counts as one test; pytest adds its own counts. The last line reads
# "validation: N passed, M failed".
passed=0
failed=0
check() {
  if "$@"; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
}

ruff="$(tool ruff)"
if [[ -n "$ruff" ]]; then
  echo "== ruff check + format --check ($package)"
  check "$ruff" check --no-cache --isolated "$package"
  # E501 aside: the generated-file banner is one long comment line.
  check "$ruff" check --no-cache --isolated --extend-select E,W,I,B,UP,SIM,RUF,N,C4,PIE,RET \
    --extend-ignore E501 "$package"
  check "$ruff" format --no-cache --isolated --check "$package"
else
  echo "skipped: ruff not found"
fi

hadolint="$(tool hadolint)"
dockerfile="$out/docker/validator/Dockerfile"
if [[ -f "$dockerfile" && -n "$hadolint" ]]; then
  echo "== hadolint $dockerfile"
  check "$hadolint" "$dockerfile"
else
  echo "skipped: hadolint (no $dockerfile or no hadolint)"
fi

echo "== pytest"
junit="$(mktemp)"
MLOPSGEN_OUTPUT="$out" "$python" -m pytest -q -p no:cacheprovider --junitxml="$junit" "$here" || true
read -r tests failures errors skipped < <("$python" - "$junit" <<'PY'
import sys
import xml.etree.ElementTree as ET

root = ET.parse(sys.argv[1]).getroot()
suite = root if root.tag == "testsuite" else root.find("testsuite")
print(*(suite.get(k, "0") for k in ("tests", "failures", "errors", "skipped")))
PY
)
rm -f "$junit"
passed=$((passed + tests - failures - errors - skipped))
failed=$((failed + failures + errors))
echo "validation: $passed passed, $failed failed"
[[ "$failed" -eq 0 ]]
