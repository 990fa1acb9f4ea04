#!/usr/bin/env bash
# The Python programs mlopsgen puts into pipeline tasks, run with the real Google client libraries
# against local stand-ins of the services (gcs_emulator.py), as the pytest suite in this folder.
#
#   PYTHON=<venv>/bin/python tests/conformance/programs/run.sh
#
# $PYTHON needs pytest and google-cloud-aiplatform (which brings google-cloud-storage): the
# conformance tools' venv-main has both. Last line: "programs: N passed, M failed".
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
python="${PYTHON:?set PYTHON to a Python with pytest and google-cloud-aiplatform}"
junit="$(mktemp)"
trap 'rm -f "$junit"' EXIT
"$python" -m pytest -q -p no:cacheprovider --junitxml="$junit" "$here" || true
read -r tests failures errors skipped < <("$python" - "$junit" <<'PY'
import sys
import xml.etree.ElementTree as ET

root = ET.parse(sys.argv[1]).getroot()
suite = root if root.tag == "testsuite" else root.find("testsuite")
print(*(suite.get(k, "0") for k in ("tests", "failures", "errors", "skipped")))
PY
)
passed=$((tests - failures - errors - skipped))
failed=$((failures + errors))
echo "programs: $passed passed, $failed failed"
[[ "$tests" -gt 0 && "$failed" -eq 0 ]]
