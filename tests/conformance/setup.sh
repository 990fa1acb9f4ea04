#!/usr/bin/env bash
# Install the pinned conformance validators into $MLOPSGEN_TOOLS (default <repo>/target/conformance-tools).
#
# usage: tests/conformance/setup.sh [--force] [--serial]
#   --force   reinstall everything (ignore the stamps)
#   --serial  install the Python venvs and node packages one after the other (default: in parallel)
#
# What it installs (each piece is skipped while its stamp, a hash of the files that define it, is unchanged):
#   apt            shellcheck (and node/npm, python3-venv on a bare Debian), only when missing
#   venv-main      requirements-main.txt     -c constraints-main.txt
#   python-hcl2    requirements-hcl2.txt     --target python-hcl2/ (see that file for why it is apart)
#   venv-airflow2  requirements-airflow2.txt -c constraints-airflow2.txt
#   venv-airflow3  requirements-airflow3.txt -c constraints-airflow3.txt
#   node           package.json + package-lock.json via `npm ci` in $MLOPSGEN_TOOLS/node
#   schema         google-provider-schema.json from @cdktf/provider-google's .jsii (terraform/extract_schema.py)
# pip must not backtrack (every package is pinned): a log that shows backtracking fails the setup.
# Works as root on a fresh Debian machine and in CI (no prompts, no stdin). Logs: $MLOPSGEN_TOOLS/logs/.
set -euo pipefail

# shellcheck source=tests/conformance/lib/env.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/env.sh"

SETUP_VERSION=1 # bump to make every machine reinstall
FORCE=0
PARALLEL=1
for arg in "$@"; do
  case "$arg" in
    --force) FORCE=1 ;;
    --serial) PARALLEL=0 ;;
    -h | --help)
      sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
      exit 0
      ;;
    *)
      echo "setup.sh: unknown argument: $arg" >&2
      exit 2
      ;;
  esac
done

LOGS="$MLOPSGEN_TOOLS/logs"
mkdir -p "$LOGS"
TIMINGS="$LOGS/timings.txt"
: >"$TIMINGS"
T_START=$(date +%s)

log() { printf '[setup] %s\n' "$*"; }
die() {
  printf '[setup] ERROR: %s\n' "$*" >&2
  exit 1
}
timing() { printf '%s %s\n' "$1" "$2" >>"$TIMINGS"; }
key_of() { # key_of WORD... FILE...: a short hash of words and file contents
  {
    echo "setup-version=$SETUP_VERSION"
    for x in "$@"; do
      if [[ -f "$x" ]]; then
        echo "file=$(basename "$x")"
        cat "$x"
      else echo "word=$x"; fi
    done
  } | sha256sum | cut -c1-16
}
stamp_ok() { [[ $FORCE -eq 0 && -f "$1" && "$(cat "$1")" == "$2" ]]; }

# One setup at a time per tools dir (run.sh and selftest.sh both call this).
exec 9>"$MLOPSGEN_TOOLS/.setup.lock"
if command -v flock >/dev/null 2>&1; then
  flock 9
fi

log "tools dir: $MLOPSGEN_TOOLS"

# --- apt ------------------------------------------------------------------------------------------------------
t=$(date +%s)
APT_UPDATED=0
apt_install() {
  if [[ $(id -u) -ne 0 ]]; then
    die "missing $*: install them (apt-get install $*) or run setup.sh as root"
  fi
  command -v apt-get >/dev/null 2>&1 || die "missing $* and no apt-get to install them"
  if [[ $APT_UPDATED -eq 0 ]]; then
    log "apt: apt-get update"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq </dev/null >"$LOGS/apt.log" 2>&1 ||
      {
        tail -20 "$LOGS/apt.log"
        die "apt-get update failed"
      }
    APT_UPDATED=1
  fi
  log "apt: installing $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" </dev/null >>"$LOGS/apt.log" 2>&1 ||
    {
      tail -20 "$LOGS/apt.log"
      die "apt-get install $* failed"
    }
}

PYTHON=""
pick_python() {
  PYTHON=""
  local c
  for c in ${MLOPSGEN_PYTHON:-} python3.11 python3; do
    if command -v "$c" >/dev/null 2>&1; then
      # the interpreter itself, not a wrapper such as a pyenv shim
      PYTHON="$("$c" -c 'import sys; print(sys.executable)' 2>/dev/null)" || PYTHON="$(command -v "$c")"
      return 0
    fi
  done
  return 1
}
need=()
command -v shellcheck >/dev/null 2>&1 || need+=(shellcheck)
{ command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; } || need+=(nodejs npm)
if ! pick_python; then
  need+=(python3 python3-venv)
elif ! "$PYTHON" -c 'import ensurepip, venv' >/dev/null 2>&1; then
  need+=(python3-venv) # Debian splits venv/ensurepip out of python3
fi
if [[ ${#need[@]} -gt 0 ]]; then
  apt_install "${need[@]}"
  for c in shellcheck node npm; do command -v "$c" >/dev/null 2>&1 || die "$c still missing after apt-get install"; done
  pick_python || die "no python3 after installing it"
else
  log "apt: nothing to install (shellcheck, node, npm, python venv present)"
fi
timing apt $(($(date +%s) - t))

PYVER="$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
case "$PYVER" in
  3.11) ;;
  3.1[2-9]) log "warning: $PYTHON is Python $PYVER; the constraint files were resolved on 3.11 (set MLOPSGEN_PYTHON)" ;;
  *) die "$PYTHON is Python $PYVER; need 3.11 (set MLOPSGEN_PYTHON to a python3.11)" ;;
esac
NODEVER="$(node --version)"
log "using $PYTHON (Python $PYVER), node $NODEVER, npm $(npm --version)"

# --- installers (each runs in its own process; prints one line when done) ---------------------------------------
pip_install() { # pip_install NAME PYTHON LOG ARGS...: pip with no prompts, failing on backtracking
  local name=$1 py=$2 logf=$3
  shift 3
  if ! "$py" -m pip install --no-input --disable-pip-version-check --progress-bar off "$@" >>"$logf" 2>&1; then
    tail -30 "$logf" | sed "s/^/[setup] $name | /"
    die "$name: pip install failed (full log: $logf)"
  fi
  if grep -q 'looking at multiple versions' "$logf"; then
    grep 'looking at multiple versions' "$logf" | sort -u | sed "s/^/[setup] $name | /"
    die "$name: pip backtracked: pin the package(s) above in the requirement file"
  fi
}

install_venv() { # install_venv NAME REQUIREMENTS CONSTRAINTS
  local name=$1 req=$2 con=$3
  local dir="$MLOPSGEN_TOOLS/$name" logf="$LOGS/$name.log" t0 key
  key="$(key_of "python=$PYVER" "$req" "$con")"
  if stamp_ok "$dir/.mlopsgen-stamp" "$key" && [[ -x "$dir/bin/python" ]]; then
    log "$name: up to date"
    timing "$name" 0
    return 0
  fi
  t0=$(date +%s)
  log "$name: installing $(grep -cvE '^\s*(#|$)' "$req") pinned requirement(s) from $(basename "$req") -c $(basename "$con")"
  rm -rf "$dir"
  "$PYTHON" -m venv "$dir" >"$logf" 2>&1 || {
    cat "$logf"
    die "$name: python -m venv failed"
  }
  pip_install "$name" "$dir/bin/python" "$logf" -r "$req" -c "$con"
  "$dir/bin/python" -m pip check >>"$logf" 2>&1 || {
    tail -20 "$logf"
    die "$name: pip check found broken requirements"
  }
  echo "$key" >"$dir/.mlopsgen-stamp"
  log "$name: installed $("$dir/bin/python" -m pip list --format=freeze 2>/dev/null | wc -l) packages in $(($(date +%s) - t0))s"
  timing "$name" $(($(date +%s) - t0))
}

install_main() {
  install_venv venv-main "$CONFORMANCE_DIR/requirements-main.txt" "$CONFORMANCE_DIR/constraints-main.txt"
  local key t0 logf="$LOGS/python-hcl2.log"
  key="$(key_of "python=$PYVER" "$CONFORMANCE_DIR/requirements-hcl2.txt" "$CONFORMANCE_DIR/constraints-main.txt")"
  if stamp_ok "$PYHCL2_PATH/.mlopsgen-stamp" "$key"; then
    log "python-hcl2: up to date"
    timing python-hcl2 0
    return 0
  fi
  t0=$(date +%s)
  rm -rf "$PYHCL2_PATH"
  : >"$logf"
  pip_install python-hcl2 "$PY_MAIN" "$logf" --no-deps --target "$PYHCL2_PATH" \
    -r "$CONFORMANCE_DIR/requirements-hcl2.txt" -c "$CONFORMANCE_DIR/constraints-main.txt"
  echo "$key" >"$PYHCL2_PATH/.mlopsgen-stamp"
  log "python-hcl2: installed into $(basename "$PYHCL2_PATH")/ in $(($(date +%s) - t0))s"
  timing python-hcl2 $(($(date +%s) - t0))
}

install_node() {
  local key t0 logf="$LOGS/node.log" f
  key="$(key_of "node=${NODEVER%%.*}" "$CONFORMANCE_DIR/package.json" "$CONFORMANCE_DIR/package-lock.json" "$CONFORMANCE_DIR/.npmrc")"
  if stamp_ok "$NODE_DIR/.mlopsgen-stamp" "$key" && [[ -d "$NODE_DIR/node_modules/@cdktf/provider-google" ]]; then
    log "node: up to date"
    timing node 0
    return 0
  fi
  t0=$(date +%s)
  log "node: npm ci (@cdktf/hcl2json, @cdktf/hcl-tools, @cdktf/provider-google)"
  rm -rf "$NODE_DIR"
  mkdir -p "$NODE_DIR"
  for f in package.json package-lock.json .npmrc; do cp "$CONFORMANCE_DIR/$f" "$NODE_DIR/$f"; done
  if ! (cd "$NODE_DIR" && npm ci --no-audit --no-fund --loglevel=warn </dev/null >"$logf" 2>&1); then
    tail -30 "$logf" | sed 's/^/[setup] node | /'
    die "node: npm ci failed (full log: $logf)"
  fi
  echo "$key" >"$NODE_DIR/.mlopsgen-stamp"
  log "node: installed in $(($(date +%s) - t0))s ($(du -sm "$NODE_DIR/node_modules" | cut -f1) MB)"
  timing node $(($(date +%s) - t0))
}

# --- run the installers -----------------------------------------------------------------------------------------
t=$(date +%s)
jobs_failed=0
if [[ $PARALLEL -eq 1 ]]; then
  pids=()
  names=()
  for job in install_main install_node "install_venv venv-airflow2 $CONFORMANCE_DIR/requirements-airflow2.txt $CONFORMANCE_DIR/constraints-airflow2.txt" "install_venv venv-airflow3 $CONFORMANCE_DIR/requirements-airflow3.txt $CONFORMANCE_DIR/constraints-airflow3.txt"; do
    # shellcheck disable=SC2086 # the job string is a function name and its (space-free) arguments
    (set -euo pipefail && $job) &
    pids+=($!)
    names+=("${job%% /*}")
  done
  for i in "${!pids[@]}"; do
    if ! wait "${pids[$i]}"; then
      jobs_failed=1
      log "FAILED: ${names[$i]}"
    fi
  done
else
  install_main || jobs_failed=1
  install_node || jobs_failed=1
  install_venv venv-airflow2 "$CONFORMANCE_DIR/requirements-airflow2.txt" "$CONFORMANCE_DIR/constraints-airflow2.txt" || jobs_failed=1
  install_venv venv-airflow3 "$CONFORMANCE_DIR/requirements-airflow3.txt" "$CONFORMANCE_DIR/constraints-airflow3.txt" || jobs_failed=1
fi
[[ $jobs_failed -eq 0 ]] || die "some installs failed (logs in $LOGS)"
timing installs-wall $(($(date +%s) - t))

# --- provider schema ----------------------------------------------------------------------------------------------
t=$(date +%s)
key="$(key_of "$CONFORMANCE_DIR/package-lock.json" "$CONFORMANCE_DIR/terraform/extract_schema.py")"
if stamp_ok "$PROVIDER_SCHEMA.stamp" "$key" && [[ -s "$PROVIDER_SCHEMA" ]]; then
  log "schema: up to date"
else
  log "schema: extracting the google provider schema from @cdktf/provider-google's .jsii"
  "$PY_MAIN" "$CONFORMANCE_DIR/terraform/extract_schema.py" --node-dir "$NODE_DIR" --out "$PROVIDER_SCHEMA" |
    sed 's/^/[setup] /' || die "schema extraction failed"
  echo "$key" >"$PROVIDER_SCHEMA.stamp"
fi
timing schema $(($(date +%s) - t))

# --- verify: after an install, prove every tool runs; otherwise only check that the entry points exist -----------
t=$(date +%s)
for f in "$PY_MAIN" "$PY_AF2" "$PY_AF3" "$MAIN_BIN/checkov" "$MAIN_BIN/hadolint" "$MAIN_BIN/check-jsonschema" \
  "$MAIN_BIN/yamllint" "$MAIN_BIN/ruff" "$NODE_PATH/@cdktf/hcl2json/package.json" "$PYHCL2_PATH/hcl2/__init__.py" \
  "$PROVIDER_SCHEMA"; do
  [[ -e "$f" ]] || die "missing $f (rerun with --force)"
done
verify_key="$(key_of "$MLOPSGEN_TOOLS/venv-main/.mlopsgen-stamp" "$MLOPSGEN_TOOLS/venv-airflow2/.mlopsgen-stamp" \
  "$MLOPSGEN_TOOLS/venv-airflow3/.mlopsgen-stamp" "$NODE_DIR/.mlopsgen-stamp" "$PYHCL2_PATH/.mlopsgen-stamp" \
  "$PROVIDER_SCHEMA.stamp" "$(command -v shellcheck)")"
if stamp_ok "$LOGS/verified.stamp" "$verify_key"; then
  log "verify: tools unchanged since last verification"
else
  log "verify: running every tool once"
  v() { # v LABEL CMD...: print the first output line of a version command
    local out
    out="$("${@:2}" 2>&1)" || {
      printf '%s\n' "$out" | tail -5
      die "verify: $1 does not run"
    }
    log "  $(printf '%-18s' "$1") $(printf '%s\n' "$out" | head -1)"
  }
  v checkov "$MAIN_BIN/checkov" --version
  v hadolint "$MAIN_BIN/hadolint" --version
  v check-jsonschema "$MAIN_BIN/check-jsonschema" --version
  v yamllint "$MAIN_BIN/yamllint" --version
  v ruff "$MAIN_BIN/ruff" --version
  v pre-commit "$MAIN_BIN/pre-commit" --version
  v shellcheck bash -o pipefail -c 'shellcheck --version | sed -n 2p'
  v kfp "$PY_MAIN" -c 'import kfp, google_cloud_pipeline_components as g, pandas, pyarrow
from kfp.pipeline_spec import pipeline_spec_pb2
from google.protobuf import json_format
json_format.Parse("{\"schemaVersion\": \"2.1.0\"}", pipeline_spec_pb2.PipelineSpec())
print("kfp", kfp.__version__, "gcpc", g.__version__, "pandas", pandas.__version__, "pyarrow", pyarrow.__version__)'
  v bc-python-hcl2 "$PY_MAIN" -c 'import hcl2, importlib.metadata as m; assert not hasattr(hcl2, "parses_to_tree"), hcl2.__file__
print("checkov sees bc-python-hcl2", m.version("bc-python-hcl2"))'
  v python-hcl2 env PYTHONPATH="$PYHCL2_PATH" "$PY_MAIN" -c 'import hcl2
assert "__is_block__" in str(hcl2.loads("a {\n}\n")), "not python-hcl2 8"
print("python-hcl2", hcl2.version.__version__ if hasattr(hcl2, "version") else "?")'
  v airflow2 "$PY_AF2" -c 'import importlib.metadata as m; print("apache-airflow", m.version("apache-airflow"), "providers-google", m.version("apache-airflow-providers-google"))'
  v airflow3 "$PY_AF3" -c 'import importlib.metadata as m; print("apache-airflow", m.version("apache-airflow"), "providers-google", m.version("apache-airflow-providers-google"))'
  v hcl2json node -e 'const h = require("@cdktf/hcl2json"); h.parse("a.tf", "a = 1\n").then(() => console.log("@cdktf/hcl2json", require("@cdktf/hcl2json/package.json").version))'
  v hcl-tools node -e 'require("@cdktf/hcl-tools").format("a=1\n").then((s) => { if (s !== "a = 1\n") throw new Error(s); console.log("@cdktf/hcl-tools", require("@cdktf/hcl-tools/package.json").version) })'
  v schema "$PY_MAIN" -c 'import json, sys; s = json.load(open(sys.argv[1])); print(len(s["resources"]), "resources,", len(s["data_sources"]), "data sources, google", s["source"]["provider_version"])' "$PROVIDER_SCHEMA"
  echo "$verify_key" >"$LOGS/verified.stamp"
fi
timing verify $(($(date +%s) - t))
timing total $(($(date +%s) - T_START))

summary=""
while read -r phase secs; do
  [[ $phase == total ]] || summary+="${summary:+, }$phase ${secs}s"
done <"$TIMINGS"
log "done in $(($(date +%s) - T_START))s ($summary)"
