"""Source of component.yaml (the file specs/flagship.yaml and specs/forecast.yaml run): `python component.py` writes it with kfp 2.17."""
from kfp import compiler, dsl
from kfp.dsl import HTML, Dataset, Input, Output, OutputPath

# Counts the rows of every CSV and Parquet file of the dataset (a `data_validation` step writes
# `data.parquet`) and writes an HTML table of per-column missing ratios. Parquet is read in
# batches with pyarrow, installed when the container starts (the version the generated validator
# pins), as kfp's `packages_to_install` does: the job needs to reach the package index.
SCRIPT = """
import argparse, csv, html, pathlib
p = argparse.ArgumentParser()
p.add_argument('--data'); p.add_argument('--max-columns', type=int)
p.add_argument('--stats'); p.add_argument('--rows')
a = p.parse_args()
rows, missing = 0, {}
files = sorted(f for f in pathlib.Path(a.data).rglob('*') if f.suffix in ('.csv', '.parquet'))
for f in files:
    if f.suffix == '.csv':
        with f.open(newline='') as fh:
            for row in csv.DictReader(fh):
                rows += 1
                for k, v in row.items():
                    missing[k] = missing.get(k, 0) + (v in ('', None))
    else:
        import pyarrow.parquet as pq
        for batch in pq.ParquetFile(f).iter_batches():
            rows += batch.num_rows
            for k, column in zip(batch.schema.names, batch.columns):
                missing[k] = missing.get(k, 0) + column.null_count
cells = ''.join(f'<tr><td>{html.escape(k)}</td><td>{n / max(rows, 1):.4f}</td></tr>'
                for k, n in sorted(missing.items())[:a.max_columns])
pathlib.Path(a.stats).parent.mkdir(parents=True, exist_ok=True)
pathlib.Path(a.stats).write_text(f'<p>{rows} rows in {len(files)} files</p><table>{cells}</table>')
pathlib.Path(a.rows).parent.mkdir(parents=True, exist_ok=True)
pathlib.Path(a.rows).write_text(str(rows))
"""

INSTALL = 'pip install --quiet --no-cache-dir pyarrow==26.0.1 && exec python3 -c "$0" "$@"'


@dsl.container_component
def profile(data: Input[Dataset], stats: Output[HTML], rows: OutputPath(int), max_columns: int = 50):
    """Profiles a CSV or Parquet dataset: row count and per-column missing ratios."""
    return dsl.ContainerSpec(
        image="python:3.11-slim",
        command=["sh", "-c", INSTALL, SCRIPT],
        args=["--data", data.path, "--max-columns", max_columns, "--stats", stats.path, "--rows", rows],
    )


if __name__ == "__main__":
    compiler.Compiler().compile(profile, "component.yaml")
