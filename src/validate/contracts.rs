//! Dataset contracts the generated validator can enforce: rules that only make sense for
//! some column types, rules that contradict each other, and samples whose format the
//! validator can't tell. (Ranges on non-numeric columns and ratio bounds are checked in
//! [`super::semantic`].)

use super::semantic::Checker;
use crate::diagnostic::Code;
use crate::spec::yaml::pointer_push;
use crate::spec::ColumnType;

/// File name endings the validator reads without a declared `format`.
const SAMPLE_EXTENSIONS: [&str; 3] = [".csv", ".parquet", ".pq"];

/// Checks every dataset's contract.
pub fn check(c: &mut Checker<'_>) {
    for (name, d) in &c.spec.datasets {
        let p = pointer_push("/datasets", name);
        if let Some(sample) = &d.sample {
            let lower = sample.to_ascii_lowercase();
            if d.format.is_none() && !SAMPLE_EXTENSIONS.iter().any(|e| lower.ends_with(e)) {
                let pos = c.at(&format!("{p}/sample"));
                c.report(
                    Code::InvalidValue,
                    pos,
                    format!("the validator can't tell the format of sample `{sample}`"),
                    Some("name it `.csv` or `.parquet`".into()),
                );
            }
        }
        for (col, rule) in &d.columns {
            let cp = pointer_push(&format!("{p}/columns"), col);
            if !rule.allowed.is_empty() && rule.ty != ColumnType::String {
                let pos = c.at(&format!("{cp}/allowed"));
                c.report(
                    Code::InvalidValue,
                    pos,
                    format!("column `{col}` lists allowed values, but only string columns can have them"),
                    Some("bound numbers with `min` and `max`, or declare the column `type: string`".into()),
                );
            }
            if !rule.nullable && rule.max_missing_ratio.is_some_and(|r| r > 0.0) {
                let pos = c.at(&format!("{cp}/max_missing_ratio"));
                c.report(
                    Code::InvalidValue,
                    pos,
                    format!("column `{col}` is not nullable, so no share of missing values is allowed"),
                    Some("drop `max_missing_ratio`, or drop `nullable: false`".into()),
                );
            }
        }
    }
}
