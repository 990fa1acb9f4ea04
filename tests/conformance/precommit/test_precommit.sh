#!/usr/bin/env bash
# Drives the real pre-commit tool (PyPI) against this repository's .pre-commit-hooks.yaml.
#
# usage: PRE_COMMIT=<path to pre-commit> bash tests/conformance/precommit/test_precommit.sh [REPO_ROOT]
#   PRE_COMMIT  default: venv-main's pre-commit from tests/conformance/setup.sh
#   REPO_ROOT   this repository (default: two levels above this script's folder). The hooks come from its
#               committed HEAD (pre-commit clones `repo:` at `rev:`), so commit before testing hook changes.
#   PRE_COMMIT_HOME  pre-commit's cache (default: a temp dir, so the hook environment is built fresh)
#
# A temporary git repository holds specs/minimal.yaml as mlops.yaml (output: generated) and a
# .pre-commit-config.yaml using the mlopsgen-build and mlopsgen-check hooks. Each step below is one check:
#   1. the build hook generates the files and fails, because it wrote files (`build --fail-on-change`: pre-commit
#      itself only notices changes to tracked files, not new ones)
#   2. once they are committed, the build hook and the check hook pass
#   3. after a spec edit, the check hook fails (the output is stale) and changes nothing
#   4. the build hook regenerates (failing, because it modified files); then both hooks pass
#   5. through `git commit` (pre-commit install): a commit with a stale output is refused, the retry
#      with the regenerated files staged succeeds
# `language: rust` makes pre-commit `cargo install` the repository; CARGO_TARGET_DIR=<repo>/target lets it
# reuse compiled dependencies. The install time is printed. Last line: `precommit: N passed, M failed`.
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "${1:-$HERE/../../..}" && pwd)"
if [[ -z "${PRE_COMMIT:-}" ]]; then
  # shellcheck source=tests/conformance/lib/env.sh
  source "$HERE/../lib/env.sh"
  PRE_COMMIT="$MAIN_BIN/pre-commit"
fi
if ! "$PRE_COMMIT" --version >/dev/null 2>&1; then
  echo "precommit: $PRE_COMMIT does not run (install pre-commit, or set PRE_COMMIT)"
  echo "precommit: 0 passed, 1 failed"
  exit 1
fi
REV="$(git -C "$REPO" rev-parse HEAD)" || exit 2
if [[ -n "$(git -C "$REPO" status --porcelain -- .pre-commit-hooks.yaml Cargo.toml Cargo.lock src templates)" ]]; then
  echo "precommit: note: $REPO has uncommitted changes; the hooks are built from HEAD ${REV:0:12}"
fi

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
export PRE_COMMIT_HOME="${PRE_COMMIT_HOME:-$WORK/cache}"
export CARGO_TARGET_DIR="$REPO/target"
export GIT_AUTHOR_NAME=precommit-test GIT_AUTHOR_EMAIL=precommit-test@example.com
export GIT_COMMITTER_NAME=precommit-test GIT_COMMITTER_EMAIL=precommit-test@example.com
export GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1
export NO_COLOR=1 PRE_COMMIT_COLOR=never

PROJECT="$WORK/project"
mkdir -p "$PROJECT"
cd "$PROJECT" || exit 2
sed 's#^output: .*#output: generated#' "$REPO/specs/minimal.yaml" >mlops.yaml
cat >.pre-commit-config.yaml <<EOF
repos:
  - repo: $REPO
    rev: $REV
    hooks:
      - id: mlopsgen-build
      - id: mlopsgen-check
EOF
git init -q -b main .
git add -A
git commit -q -m "spec and hooks"

passed=0
failed=0
LOG="$WORK/hook.log"
# check NAME WANT_EXIT CMD...: run CMD, compare its exit code; print the output on failure
check() {
  local name=$1 want=$2 rc=0
  shift 2
  "$@" >"$LOG" 2>&1 || rc=$?
  if [[ $rc -eq $want ]]; then
    passed=$((passed + 1))
    echo "PASS $name"
  else
    failed=$((failed + 1))
    echo "FAIL $name (exit $rc, want $want)"
    sed 's/^/    /' "$LOG"
  fi
}
# expect NAME CONDITION...: a plain assertion
expect() {
  local name=$1
  shift
  if "$@"; then
    passed=$((passed + 1))
    echo "PASS $name"
  else
    failed=$((failed + 1))
    echo "FAIL $name"
  fi
}
hook() { "$PRE_COMMIT" run "$@" --all-files; }
clean_tree() { [[ -z "$(git status --porcelain)" ]]; }
log_has() { grep -q -- "$1" "$LOG"; }

t0=$(date +%s)
check "1 build hook generates (and fails: it wrote files)" 1 hook mlopsgen-build
echo "precommit: hook environment (cargo install) and first run took $(($(date +%s) - t0))s"
expect "1 the hook said to stage the files" log_has "stage the regenerated files"
expect "1 generated/ holds the pipeline" test -f generated/pipelines/dev/hello.json
git add -A && git commit -q -m "generated"

check "2 build hook passes on an up-to-date tree" 0 hook mlopsgen-build
check "2 check hook passes on an up-to-date tree" 0 hook mlopsgen-check
expect "2 the hooks changed nothing" clean_tree

sed -i 's/default: hello/default: bonjour/' mlops.yaml
git add mlops.yaml
check "3 check hook fails on a stale output" 1 hook mlopsgen-check
expect "3 check hook says what is stale" log_has "pipelines/dev/hello.json"
expect "3 check hook wrote nothing" test -z "$(git status --porcelain -- generated)"

check "4 build hook regenerates (and fails: files were modified)" 1 hook mlopsgen-build
expect "4 pre-commit saw the modification" log_has "files were modified by this hook"
expect "4 the regenerated pipeline has the new default" grep -q '"bonjour"' generated/pipelines/dev/hello.json
git add -A
check "4 both hooks pass after staging the regenerated files" 0 "$PRE_COMMIT" run --all-files
git commit -q -m "bonjour"

check "5 pre-commit install" 0 "$PRE_COMMIT" install
sed -i 's/default: bonjour/default: hola/' mlops.yaml
check "5 git commit of a stale output is refused" 1 git commit -q -am "hola (stale)"
check "5 the retry with the regenerated files staged succeeds" 0 bash -c 'git add -A && git commit -q -m "hola"'
expect "5 the commit holds the regenerated pipeline" bash -c 'git show HEAD:generated/pipelines/dev/hello.json | grep -q "\"hola\""'

echo "precommit: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
