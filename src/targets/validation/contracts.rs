//! The dataset contracts as the validator reads them (`mlops_validation/contracts.json`):
//! a serde view of [`Model::datasets`] with each dataset's source URI per environment.

use crate::model::{Column, ColumnType, Dataset, FileFormat, Model};
use serde::Serialize;
use std::collections::BTreeMap;

/// The whole file.
#[derive(Debug, Serialize)]
pub struct Contracts {
    /// Project name.
    pub project: String,
    /// Datasets by name.
    pub datasets: BTreeMap<String, DatasetContract>,
}

/// One dataset.
#[derive(Debug, Serialize)]
pub struct DatasetContract {
    /// `csv` or `parquet` for Cloud Storage sources; `null` for BigQuery.
    pub format: Option<&'static str>,
    /// Sample file relative to the repository root.
    pub sample: Option<String>,
    /// Source URI (`bq://…` or `gs://…`) by environment name.
    pub sources: BTreeMap<String, String>,
    /// Column rules by column name.
    pub columns: BTreeMap<String, ColumnContract>,
}

/// One column's rules; every key is always present (`null`, `[]` or `false` when unset).
#[derive(Debug, Serialize)]
pub struct ColumnContract {
    /// `string`, `int`, `float`, `bool` or `timestamp`.
    #[serde(rename = "type")]
    pub ty: &'static str,
    /// Missing values allowed.
    pub nullable: bool,
    /// Smallest allowed value.
    pub min: Option<f64>,
    /// Largest allowed value.
    pub max: Option<f64>,
    /// The only allowed values (empty = any).
    pub allowed: Vec<String>,
    /// Values must be unique.
    pub unique: bool,
    /// Largest allowed share of missing values.
    pub max_missing_ratio: Option<f64>,
}

/// Builds the contracts of every dataset in the model.
pub fn build(model: &Model) -> Contracts {
    Contracts {
        project: model.project.name.clone(),
        datasets: model.datasets.iter().map(|d| (d.key.clone(), dataset(model, d))).collect(),
    }
}

fn dataset(model: &Model, d: &Dataset) -> DatasetContract {
    DatasetContract {
        format: d.format.map(format_name),
        sample: d.sample.clone(),
        sources: model.environments.iter().map(|e| (e.name.clone(), e.dataset_uri(d))).collect(),
        columns: d.columns.iter().map(|c| (c.name.clone(), column(c))).collect(),
    }
}

fn column(c: &Column) -> ColumnContract {
    ColumnContract {
        ty: type_name(c.ty),
        nullable: c.nullable,
        min: c.min,
        max: c.max,
        allowed: c.allowed.clone(),
        unique: c.unique,
        max_missing_ratio: c.max_missing_ratio,
    }
}

/// The spec's name of a column type.
pub fn type_name(ty: ColumnType) -> &'static str {
    match ty {
        ColumnType::String => "string",
        ColumnType::Int => "int",
        ColumnType::Float => "float",
        ColumnType::Bool => "bool",
        ColumnType::Timestamp => "timestamp",
    }
}

fn format_name(f: FileFormat) -> &'static str {
    match f {
        FileFormat::Csv => "csv",
        FileFormat::Parquet => "parquet",
    }
}
