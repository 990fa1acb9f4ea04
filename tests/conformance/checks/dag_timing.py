"""When the scheduler starts runs of the generated DAGs, asked of Airflow's own timetable.

Usage: python dag_timing.py <outdir> --expect FILE
(run with the python of an Airflow venv, 2.10 or 3; the same script works on both).

FILE: {"<env>": {"<dag_id>": {"cron": "0 3 * * 1", "time_zone": "Europe/Amsterdam"}}}, built
from the model. Each ``<outdir>/dags/<env>/`` DAG is loaded, serialised and deserialised the
way the scheduler sees it (on Airflow 3 that turns the Task SDK's timetable definition into the
scheduler's ``airflow.timetables.trigger.CronTriggerTimetable``), and its ``next_dagrun_info``
is asked, with the clock set to a fixed instant, for the first run after the DAG appears and
the runs after it. The expected times come from the cron and time zone alone, by walking
wall-clock minutes in the zone (``zoneinfo``), not from Airflow. Checked:

- the DAG is created unpaused (``is_paused_upon_creation=False``): Airflow's default
  (``[core] dags_are_paused_at_creation = True``) would otherwise leave it paused forever;
- with ``catchup=False`` the first run is the most recent cron time before the DAG appeared,
  started at once (both versions add ``_align_to_prev(utcnow())`` to the candidates in
  ``CronTriggerTimetable.next_dagrun_info``; Airflow 3's ``run_immediately`` only applies
  without a ``start_date``);
- each following run is at the next cron time in the zone, across a daylight-saving change;
- a run that lasts until the next is due fails: ``dagrun_timeout`` is the shortest time between
  two cron times (an hour more or less across a daylight-saving change). With
  ``max_active_runs=1`` a run that never ends would otherwise hold back every later run without
  failing (the scheduler fails a run older than ``dagrun_timeout`` and skips its unfinished
  tasks: ``SchedulerJobRunner._schedule_dag_run`` in 2.10 and 3).

Exit codes: 0 all good, 1 problems, 2 usage.
"""
import argparse
import atexit
import datetime
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path
from zoneinfo import ZoneInfo

UTC = datetime.UTC
# A Thursday noon three days before Europe's spring daylight-saving change (2026-03-29) and ten
# before America's is behind it (2026-03-08): five daily runs cross the European change.
NOW = datetime.datetime(2026, 3, 26, 12, 7, tzinfo=UTC)
RUNS = 5

NAMES = {
    3: {m: i for i, m in enumerate("JAN FEB MAR APR MAY JUN JUL AUG SEP OCT NOV DEC".split(), 1)},
    4: {d: i for i, d in enumerate("SUN MON TUE WED THU FRI SAT".split())},
}
RANGES = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 7)]


def field_values(text, index):
    """The set of values one cron field allows (`*`, numbers, names, `a-b`, `/step`, lists)."""
    lo, hi = RANGES[index]
    names = NAMES.get(index, {})

    def value(s):
        return names[s.upper()] if s.upper() in names else int(s)

    out = set()
    for part in text.split(","):
        spec, _, step = part.partition("/")
        if spec == "*":
            start, end = lo, hi
        elif "-" in spec:
            a, b = spec.split("-")
            start, end = value(a), value(b)
        else:
            start = value(spec)
            end = hi if step else start
        out.update(range(start, end + 1, int(step) if step else 1))
    if index == 4 and 7 in out:
        out.add(0)  # 7 is Sunday too
    return out


def matcher(cron):
    fields = cron.split()
    minute, hour, dom, month, dow = (field_values(f, i) for i, f in enumerate(fields))
    dom_any, dow_any = fields[2] == "*", fields[4] == "*"

    def matches(t):
        day_ok = t.day in dom
        week_ok = (t.isoweekday() % 7) in dow
        # Vixie cron: with both day fields restricted, either may match.
        days = day_ok and week_ok if dom_any or dow_any else day_ok or week_ok
        return t.minute in minute and t.hour in hour and t.month in month and days

    return matches


def last_cron_time(cron, zone, at):
    """The last cron time in `zone` at or before `at` (a UTC instant)."""
    matches, tz = matcher(cron), ZoneInfo(zone)
    t = at.replace(second=0, microsecond=0)
    while not matches(t.astimezone(tz)):
        t -= datetime.timedelta(minutes=1)
    return t


def next_cron_times(cron, zone, after, count):
    """The first `count` cron times in `zone` strictly after `after` (UTC instants)."""
    matches, tz = matcher(cron), ZoneInfo(zone)
    found, t = [], after + datetime.timedelta(minutes=1)
    while len(found) < count:
        if matches(t.astimezone(tz)):
            found.append(t)
        t += datetime.timedelta(minutes=1)
    return found


def isolate_airflow():
    for key in [k for k in os.environ if k.startswith("AIRFLOW__") or k == "AIRFLOW_CONFIG"]:
        del os.environ[key]
    home = tempfile.mkdtemp(prefix="airflow-timing-")
    atexit.register(shutil.rmtree, home, ignore_errors=True)
    os.environ.update({
        "AIRFLOW_HOME": home,
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "CRITICAL",
    })


def load_dags(folder):
    import importlib.util

    dags = {}
    for path in sorted(Path(folder).glob("*.py")):
        spec = importlib.util.spec_from_file_location(f"dag_{path.stem}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        for value in vars(module).values():
            if type(value).__name__ == "DAG":
                dags[value.dag_id] = value
    return dags


def as_scheduled(dag):
    """The DAG as the scheduler deserialises it (Airflow 2.10: SerializedDAG; 3: DagSerialization)."""
    from airflow.serialization import serialized_objects as so

    serializer = getattr(so, "DagSerialization", so.SerializedDAG)
    return serializer.from_dict(serializer.to_dict(dag))


def runs(dag, count):
    """The scheduler's first `count` runs (run_after instants, UTC) with the clock at NOW."""
    import airflow.timetables.trigger as trigger
    from airflow.timetables.base import TimeRestriction

    module = sys.modules[type(dag.timetable).__module__]
    clock = {"now": NOW}
    # Both versions read the clock through a module-level name in the timetable's module.
    if hasattr(module, "utcnow"):
        module.utcnow = lambda: clock["now"]
    else:
        trigger.timezone.utcnow = lambda: clock["now"]
    restriction = TimeRestriction(earliest=dag.start_date, latest=None, catchup=dag.catchup)
    out, last = [], None
    for _ in range(count):
        info = dag.timetable.next_dagrun_info(last_automated_data_interval=last, restriction=restriction)
        out.append(info.run_after.astimezone(UTC))
        last = info.data_interval
        clock["now"] = max(clock["now"], info.run_after)  # the run starts when it is due
    return out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("outdir")
    parser.add_argument("--expect", required=True)
    args = parser.parse_args()
    isolate_airflow()
    expect = json.loads(Path(args.expect).read_text())
    problems, checked = [], 0
    for env, want_dags in sorted(expect.items()):
        dags = load_dags(Path(args.outdir) / "dags" / env)
        for dag_id, want in sorted(want_dags.items()):
            where = f"{env}/{dag_id}"
            if dag_id not in dags:
                problems.append(f"{where}: no such DAG")
                continue
            if dags[dag_id].is_paused_upon_creation is not False:
                problems.append(f"{where}: is_paused_upon_creation = {dags[dag_id].is_paused_upon_creation!r}")
            dag = as_scheduled(dags[dag_id])
            got = runs(dag, RUNS)
            first = last_cron_time(want["cron"], want["time_zone"], NOW)
            expected = [first] + next_cron_times(want["cron"], want["time_zone"], first, RUNS - 1)
            if got != expected:
                got_text = ", ".join(t.isoformat() for t in got)
                expected_text = ", ".join(t.isoformat() for t in expected)
                problems.append(f"{where}: runs at {got_text}; expected {expected_text}")
            gap = min(b - a for a, b in zip(expected, expected[1:], strict=False))
            if dag.dagrun_timeout is None:
                problems.append(f"{where}: no dagrun_timeout: a run that never ends holds back every later one")
            elif abs(dag.dagrun_timeout - gap) > datetime.timedelta(hours=1):
                timeout = dag.dagrun_timeout
                problems.append(f"{where}: dagrun_timeout {timeout} is not the time until the next run ({gap})")
            checked += 1
            print(f"{where}: first run {got[0].isoformat()}, then {got[1].isoformat()} ...")
    for p in problems:
        print(f"PROBLEM {p}")
    print("OK" if not problems else "FAIL", f"({checked} DAGs)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
