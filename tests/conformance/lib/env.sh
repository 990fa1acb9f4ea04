# shellcheck shell=bash
# Sourced by setup.sh, run.sh and terraform/selftest.sh: where the conformance tools live.
# The contract (exported to every check script):
#   MLOPSGEN_TOOLS   install root (default <repo>/target/conformance-tools)
#   PY_MAIN          python of venv-main (kfp, checkov, check-jsonschema, yamllint, hadolint, ruff, ...)
#   PY_AF2 / PY_AF3  python of venv-airflow2 (Airflow 2.10.5) / venv-airflow3 (Airflow 3.3.2)
#   NODE_DIR         parent of node_modules with @cdktf/hcl2json, @cdktf/hcl-tools, @cdktf/provider-google
#   NODE_PATH        $NODE_DIR/node_modules, so `require("@cdktf/hcl2json")` works from any script
#   PROVIDER_SCHEMA  compact google provider schema JSON (terraform/extract_schema.py)
#   PYHCL2_PATH      python-hcl2 8.x, to put first on PYTHONPATH (not inside venv-main: see requirements-hcl2.txt)
#   MAIN_BIN         venv-main's bin directory (checkov, hadolint, yamllint, ruff, check-jsonschema)
CONFORMANCE_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REPO_ROOT="$(cd "$CONFORMANCE_DIR/../.." && pwd)"
MLOPSGEN_TOOLS="${MLOPSGEN_TOOLS:-$REPO_ROOT/target/conformance-tools}"
mkdir -p "$MLOPSGEN_TOOLS"
MLOPSGEN_TOOLS="$(cd "$MLOPSGEN_TOOLS" && pwd)"
PY_MAIN="$MLOPSGEN_TOOLS/venv-main/bin/python"
PY_AF2="$MLOPSGEN_TOOLS/venv-airflow2/bin/python"
PY_AF3="$MLOPSGEN_TOOLS/venv-airflow3/bin/python"
MAIN_BIN="$MLOPSGEN_TOOLS/venv-main/bin"
NODE_DIR="$MLOPSGEN_TOOLS/node"
NODE_PATH="$NODE_DIR/node_modules"
PROVIDER_SCHEMA="$MLOPSGEN_TOOLS/google-provider-schema.json"
PYHCL2_PATH="$MLOPSGEN_TOOLS/python-hcl2"
export CONFORMANCE_DIR REPO_ROOT MLOPSGEN_TOOLS PY_MAIN PY_AF2 PY_AF3 MAIN_BIN NODE_DIR NODE_PATH PROVIDER_SCHEMA PYHCL2_PATH
# checkov: never look up a newer version on PyPI
export CKV_SKIP_PACKAGE_UPDATE_CHECK=true
