"""Command line: ``validate`` (default), ``samples`` and ``drift``.

Exit codes: 0 when the data holds its contract (or shows no drift), 1 when a rule is
broken (or a column drifted above the threshold), 2 when the command can't run: a bad
argument, an unknown dataset, or data that can't be read.
"""

from __future__ import annotations

import argparse
import sys
import traceback
from pathlib import Path

from mlops_validation import (
    contracts,
    drift,
    monitoring,
    readers,
    report,
    requests_log,
    rules,
)

COMMANDS = ("validate", "samples", "drift")
OK, BROKEN, CANNOT_RUN = 0, 1, 2
DATA_FILE = "data.parquet"
REPORT_FILE = "_validation.json"


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = argv.pop(0) if argv and argv[0] in COMMANDS else "validate"
    parser, run = COMMAND_TABLE[command]
    args = parser().parse_args(argv)
    try:
        return run(args)
    except (contracts.ContractError, readers.ReadError) as error:
        print(f"error: {error}", file=sys.stderr)
    except Exception as error:  # noqa: BLE001 - exit 2 ("can't run"), never 1 ("broken")
        traceback.print_exc()
        print(f"error: {type(error).__name__}: {error}", file=sys.stderr)
    return CANNOT_RUN


def validate_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m mlops_validation [validate]",
        description="Check a dataset against its contract. "
        "Other commands: `samples`, `drift` (add --help).",
    )
    _dataset_arguments(parser)
    parser.add_argument("--report", help="write the Markdown report here")
    parser.add_argument("--metrics", help="write KFP metrics JSON here")
    parser.add_argument("--json-report", help="write the JSON report here")
    parser.add_argument(
        "--dataset-out",
        help=f"folder for the valid rows ({DATA_FILE}) and the report ({REPORT_FILE})",
    )
    parser.add_argument(
        "--executor-input",
        help="KFP executor input ({{$}}); the metrics also become artifact metadata",
    )
    return parser


def samples_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m mlops_validation samples",
        description="Check the sample file of every dataset that declares one.",
    )
    parser.add_argument("--root", default=".", help="repository root (default: .)")
    parser.add_argument("--contracts", default=str(contracts.CONTRACTS_FILE))
    return parser


def drift_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m mlops_validation drift",
        description="Compare a training dataset with logged prediction requests.",
    )
    _dataset_arguments(parser)
    parser.add_argument(
        "--requests",
        required=True,
        help="bq://project.dataset.table (table may end in *)",
    )
    parser.add_argument(
        "--threshold", type=float, required=True, help="PSI above this drifts"
    )
    parser.add_argument(
        "--metric", help="Cloud Monitoring metric type to write the PSI to"
    )
    parser.add_argument(
        "--project", help="project of the metric (default: the requests')"
    )
    parser.add_argument("--days", type=int, default=7, help="look back this many days")
    parser.add_argument("--max-requests", type=int, default=100_000)
    parser.add_argument(
        "--max-rows", type=int, default=100_000, help="training rows read"
    )
    parser.add_argument("--report", help="write the JSON report here")
    return parser


def _dataset_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", help="the dataset's URI; selects its contract")
    parser.add_argument(
        "--name", help="the dataset's name in the spec; selects its contract"
    )
    parser.add_argument("--source", help="read the data from here instead of --dataset")
    parser.add_argument("--format", choices=("csv", "parquet"), help="file format")
    parser.add_argument("--contracts", default=str(contracts.CONTRACTS_FILE))


def _contract_and_source(args: argparse.Namespace) -> tuple[contracts.Contract, str]:
    if not args.dataset and not args.name:
        raise contracts.ContractError("give --dataset URI or --name NAME")
    contract = contracts.find(
        contracts.load(Path(args.contracts)), args.name, args.dataset
    )
    source = args.source or args.dataset
    if not source:
        raise contracts.ContractError("give --dataset URI or --source PATH to read")
    return contract, source


def run_validate(args: argparse.Namespace) -> int:
    contract, source = _contract_and_source(args)
    frame = readers.read(source, args.format, contract.format)
    result = rules.validate(frame, contract, source)
    print(report.summary(result))
    document = report.to_json(result)
    numbers = report.metrics(result)
    if args.report:
        report.write_text(args.report, report.to_markdown(result))
    if args.metrics:
        report.write_metrics(args.metrics, numbers)
    if args.executor_input:
        report.write_executor_output(args.executor_input, "metrics", numbers)
    if args.json_report:
        report.write_json(args.json_report, document)
    if args.dataset_out:
        out = Path(args.dataset_out)
        report.write_json(str(out / REPORT_FILE), document)
        if result.passed:
            rules.typed(frame, contract).to_parquet(out / DATA_FILE, index=False)
    return OK if result.passed else BROKEN


def run_samples(args: argparse.Namespace) -> int:
    with_samples = [
        c for c in contracts.load(Path(args.contracts)).values() if c.sample
    ]
    if not with_samples:
        print("no dataset declares a sample")
        return OK
    failed = 0
    for contract in with_samples:
        path = str(Path(args.root) / contract.sample)
        frame = readers.read(path, None, contract.format)
        result = rules.validate(frame, contract, contract.sample)
        print(report.summary(result))
        failed += not result.passed
    print(f"{len(with_samples)} samples checked, {failed} failed")
    return BROKEN if failed else OK


def run_drift(args: argparse.Namespace) -> int:
    contract, source = _contract_and_source(args)
    training = readers.read(source, args.format, contract.format, args.max_rows)
    logged = requests_log.read(args.requests, args.days, args.max_requests)
    print(
        f"{contract.name}: {len(training)} training rows; "
        f"{len(logged.frame)} instances in {logged.payloads} logged requests "
        f"of the last {args.days} days"
    )
    if logged.skipped:
        print(
            f"  {logged.skipped} payload items were not JSON objects and were skipped"
        )
    if logged.missing:
        print(
            f"{args.requests} does not exist yet (no request logged): nothing written"
        )
        return OK
    if logged.frame.empty:
        print("no logged instances to compare: nothing written")
        return OK
    results, skipped = drift.scores(contract, training, logged.frame, args.threshold)
    for reason in skipped:
        print(f"  skipped {reason}")
    if not results:
        print("error: no column of the contract can be compared", file=sys.stderr)
        return CANNOT_RUN
    print(drift.table(results, args.threshold))
    if args.metric:
        project = args.project or readers.parse_table(args.requests)[0]
        written = monitoring.publish(args.metric, project, contract.name, results)
        print(f"wrote {written} points of {args.metric} to project {project}")
    if args.report:
        document = {
            "dataset": contract.name,
            "threshold": args.threshold,
            "scores": [s.to_dict() for s in results],
            "skipped": skipped,
        }
        report.write_json(args.report, document)
    drifted = [s.column for s in results if s.drifted]
    if drifted:
        print(f"drift above {args.threshold:g} in: {', '.join(drifted)}")
        # Written to the metric, drift is the metric's alert to raise: failing too would fail the
        # scheduled run and page a second time for the same event (the DAG-failure alert).
        return OK if args.metric else BROKEN
    print(f"no column drifted above {args.threshold:g}")
    return OK


COMMAND_TABLE = {
    "validate": (validate_parser, run_validate),
    "samples": (samples_parser, run_samples),
    "drift": (drift_parser, run_drift),
}
