"""Source of component.yaml (the file specs/flagship.yaml runs): `python component.py` writes it with kfp 2.17."""
from kfp import compiler, dsl
from kfp.dsl import HTML, Dataset, Input, Output, OutputPath

# Counts the rows of every CSV file of the dataset and writes an HTML table of per-column
# missing ratios; standard library only, so a stock Python image runs it.
SCRIPT = """
import argparse, csv, html, pathlib
p = argparse.ArgumentParser()
p.add_argument('--data'); p.add_argument('--max-columns', type=int)
p.add_argument('--stats'); p.add_argument('--rows')
a = p.parse_args()
rows, missing = 0, {}
for f in sorted(pathlib.Path(a.data).rglob('*.csv')):
    with f.open(newline='') as fh:
        for row in csv.DictReader(fh):
            rows += 1
            for k, v in row.items():
                missing[k] = missing.get(k, 0) + (v in ('', None))
cells = ''.join(f'<tr><td>{html.escape(k)}</td><td>{n / max(rows, 1):.4f}</td></tr>'
                for k, n in sorted(missing.items())[:a.max_columns])
pathlib.Path(a.stats).parent.mkdir(parents=True, exist_ok=True)
pathlib.Path(a.stats).write_text(f'<p>{rows} rows</p><table>{cells}</table>')
pathlib.Path(a.rows).parent.mkdir(parents=True, exist_ok=True)
pathlib.Path(a.rows).write_text(str(rows))
"""


@dsl.container_component
def profile(data: Input[Dataset], stats: Output[HTML], rows: OutputPath(int), max_columns: int = 50):
    """Profiles a CSV dataset: row count and per-column missing ratios."""
    return dsl.ContainerSpec(
        image="python:3.11-slim",
        command=["python3", "-c", SCRIPT],
        args=["--data", data.path, "--max-columns", max_columns, "--stats", stats.path, "--rows", rows],
    )


if __name__ == "__main__":
    compiler.Compiler().compile(profile, "component.yaml")
