# shellcheck shell=bash
# The checks, one function each, shared by run.sh and terraform/selftest.sh so that the self-test exercises exactly
# what run.sh runs. Contract: the current directory is one output dir (the one `mlopsgen build` wrote); a check
# prints its tool's output and returns 0 (pass), 1 (fail) or 3 (skip: it prints one line saying why).
# Needs lib/env.sh sourced first.

SKIP=3
# Scripts in checks/ say "nothing to check" by exiting with 3 (77, the automake convention, is accepted too).

# files FIND-ARGS...: NUL-free newline list of matching files under the current dir, sorted
files() { find "$@" -type f 2>/dev/null | LC_ALL=C sort; }
have() { [[ -n "$(files "$@" | head -1)" ]]; }

run_script() { # run_script PYTHON SCRIPT: a check owned by checks/, skipped when the script does not exist
  local py=$1 script="$CONFORMANCE_DIR/checks/$2" rc=0
  if [[ ! -f "$script" ]]; then
    echo "tests/conformance/checks/$2 not present"
    return $SKIP
  fi
  "$py" "$script" "$PWD" || rc=$?
  if [[ $rc -eq 3 || $rc -eq 77 ]]; then return $SKIP; fi
  return $rc
}

nothing() {
  echo "nothing to check"
  return $SKIP
}

# --- terraform ------------------------------------------------------------------------------------------------
has_tf() { have terraform -name '*.tf' -o -name '*.tfvars'; }
check_terraform_parse() { has_tf || nothing || return; node "$CONFORMANCE_DIR/terraform/hcl_parse.js" terraform; }
check_terraform_fmt() { has_tf || nothing || return; node "$CONFORMANCE_DIR/terraform/hcl_fmt.js" terraform; }
check_terraform_schema() { has_tf || nothing || return; "$PY_MAIN" "$CONFORMANCE_DIR/terraform/check_schema.py" terraform; }
check_terraform_checkov() {
  have terraform -name '*.tf' || nothing || return
  "$PY_MAIN" "$CONFORMANCE_DIR/terraform/checkov_check.py" terraform
}
check_shellcheck() { # bootstrap.sh and any other shell script mlopsgen wrote
  local f=()
  mapfile -t f < <(files . -name '*.sh' -not -path './.mlopsgen/*')
  [[ ${#f[@]} -gt 0 ]] || nothing || return
  shellcheck --version | sed -n 2p
  shellcheck --external-sources "${f[@]}" && echo "shellcheck: ${#f[@]} file(s) clean"
}

# --- cloud build ----------------------------------------------------------------------------------------------
cloudbuild_files() { files cloudbuild -maxdepth 1 \( -name '*.yaml' -o -name '*.yml' \); }
check_cloudbuild_schema() {
  local f=()
  mapfile -t f < <(cloudbuild_files)
  [[ ${#f[@]} -gt 0 ]] || nothing || return
  "$MAIN_BIN/check-jsonschema" --builtin-schema vendor.cloudbuild "${f[@]}"
}
check_cloudbuild_yamllint() {
  local f=()
  mapfile -t f < <(cloudbuild_files)
  [[ ${#f[@]} -gt 0 ]] || nothing || return
  "$MAIN_BIN/yamllint" -s -f parsable -c "$CONFORMANCE_DIR/yamllint.yaml" "${f[@]}" && echo "yamllint: ${#f[@]} file(s) clean"
}
check_cloudbuild_script() {
  [[ -n "$(cloudbuild_files | head -1)" ]] || nothing || return
  run_script "$PY_MAIN" cloudbuild_check.py
}

# --- docker ---------------------------------------------------------------------------------------------------
check_docker_hadolint() {
  local f=()
  mapfile -t f < <(files docker -name Dockerfile)
  [[ ${#f[@]} -gt 0 ]] || nothing || return
  "$MAIN_BIN/hadolint" --no-color --failure-threshold warning "${f[@]}" && echo "hadolint: ${#f[@]} Dockerfile(s) clean"
}

# --- airflow --------------------------------------------------------------------------------------------------
dag_files() { files dags -name '*.py'; }
check_airflow_ruff() {
  [[ -n "$(dag_files | head -1)" ]] || nothing || return
  "$MAIN_BIN/ruff" check --no-cache --config "$CONFORMANCE_DIR/ruff.toml" dags
}
check_airflow_py_compile() {
  local f=()
  mapfile -t f < <(dag_files)
  [[ ${#f[@]} -gt 0 ]] || nothing || return
  # PYTHONPYCACHEPREFIX (set by run.sh) keeps __pycache__ out of the output dir
  "$PY_MAIN" -m py_compile "${f[@]}" && echo "py_compile: ${#f[@]} file(s) compile"
}
check_airflow_dagbag2() {
  [[ -n "$(dag_files | head -1)" ]] || nothing || return
  AIRFLOW_HOME="${AIRFLOW_HOME_2:-$AIRFLOW_HOME}" run_script "$PY_AF2" airflow_dagbag.py
}
check_airflow_dagbag3() {
  [[ -n "$(dag_files | head -1)" ]] || nothing || return
  AIRFLOW_HOME="${AIRFLOW_HOME_3:-$AIRFLOW_HOME}" run_script "$PY_AF3" airflow_dagbag.py
}

# --- kfp ------------------------------------------------------------------------------------------------------
check_kfp() {
  have pipelines -name '*.json' || nothing || return
  run_script "$PY_MAIN" kfp_check.py
}

# name -> function, in the order run.sh runs them
# shellcheck disable=SC2034 # used by the scripts that source this file
CHECKS=(
  "terraform/parse check_terraform_parse"
  "terraform/fmt check_terraform_fmt"
  "terraform/schema check_terraform_schema"
  "terraform/checkov check_terraform_checkov"
  "shellcheck check_shellcheck"
  "cloudbuild/schema check_cloudbuild_schema"
  "cloudbuild/yamllint check_cloudbuild_yamllint"
  "cloudbuild/check check_cloudbuild_script"
  "docker/hadolint check_docker_hadolint"
  "airflow/ruff check_airflow_ruff"
  "airflow/py_compile check_airflow_py_compile"
  "airflow/dagbag-airflow2 check_airflow_dagbag2"
  "airflow/dagbag-airflow3 check_airflow_dagbag3"
  "kfp/check check_kfp"
)
