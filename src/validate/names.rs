//! Naming rules per resource kind (GCP, Airflow, KFP), each returning why a name is invalid.

/// A naming rule: a description and a predicate.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    /// What the rule requires, for messages.
    pub describe: &'static str,
    check: fn(&str) -> bool,
}

impl Rule {
    /// `Ok` if the name follows the rule, else the requirement.
    pub fn check(&self, name: &str) -> Result<(), &'static str> {
        if (self.check)(name) { Ok(()) } else { Err(self.describe) }
    }
}

fn lower_alnum_hyphen(s: &str) -> bool {
    s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

fn starts_lower(s: &str) -> bool {
    s.chars().next().is_some_and(|c| c.is_ascii_lowercase())
}

fn ends_alnum(s: &str) -> bool {
    s.chars().last().is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
}

/// Project name: the prefix of service accounts (`<name>-pipelines` ≤ 30), so 2–20 characters.
pub const PROJECT_NAME: Rule = Rule {
    describe: "2–20 characters: lowercase letters, digits and hyphens, starting with a letter and not ending with a hyphen",
    check: |s| (2..=20).contains(&s.len()) && starts_lower(s) && ends_alnum(s) && lower_alnum_hyphen(s),
};

/// GCP project id: 6–30 characters.
pub const GCP_PROJECT: Rule = Rule {
    describe: "a GCP project id: 6–30 lowercase letters, digits and hyphens, starting with a letter and not ending with a hyphen",
    check: |s| (6..=30).contains(&s.len()) && starts_lower(s) && ends_alnum(s) && lower_alnum_hyphen(s),
};

/// Cloud Storage bucket name (without dots).
pub const BUCKET: Rule = Rule {
    describe: "a bucket name: 3–63 lowercase letters, digits, hyphens and underscores, starting and ending with a letter or digit, not starting with `goog`",
    check: |s| {
        (3..=63).contains(&s.len())
            && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
            && s.starts_with(|c: char| c.is_ascii_alphanumeric())
            && ends_alnum(s)
            && !s.starts_with("goog")
            && !s.contains("google")
    },
};

/// A short key used inside generated names (buckets, images, services, environments).
pub const KEY: Rule = Rule {
    describe: "1–30 lowercase letters, digits and hyphens, starting with a letter and not ending with a hyphen",
    check: |s| (1..=30).contains(&s.len()) && starts_lower(s) && ends_alnum(s) && lower_alnum_hyphen(s),
};

/// Pipeline and step names: valid KFP task names, Airflow task ids and file names.
pub const STEP: Rule = Rule {
    describe: "1–63 lowercase letters, digits, hyphens and underscores, starting with a letter",
    check: |s| {
        (1..=63).contains(&s.len())
            && starts_lower(s)
            && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
    },
};

/// Parameters, inputs, outputs, columns: Python identifiers.
pub const IDENT: Rule = Rule {
    describe: "a lowercase identifier: letters, digits and underscores, starting with a letter or underscore",
    check: |s| {
        (1..=63).contains(&s.len())
            && s.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
            && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            && !PYTHON_KEYWORDS.contains(&s)
    },
};

/// Column names (BigQuery column rules, any case).
pub const COLUMN: Rule = Rule {
    describe: "a column name: letters, digits and underscores, starting with a letter or underscore (≤ 300 characters)",
    check: |s| {
        (1..=300).contains(&s.len())
            && s.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    },
};

/// Model version aliases (REST `Model.versionAliases`: `[a-z][a-zA-Z0-9-]{0,126}[a-z0-9]`).
pub const MODEL_ALIAS: Rule = Rule {
    describe: "a version alias: 2–128 letters, digits and hyphens, starting with a lowercase letter and ending with a lowercase letter or digit",
    check: |s| (2..=128).contains(&s.len()) && starts_lower(s) && ends_alnum(s) && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'),
};

/// BigQuery dataset and table ids.
pub const BQ_ID: Rule = Rule {
    describe: "a BigQuery id: 1–1024 letters, digits and underscores",
    check: |s| (1..=1024).contains(&s.len()) && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
};

/// Secret Manager secret ids (https://cloud.google.com/secret-manager/docs/reference/rest/v1/projects.secrets/create).
pub const SECRET_ID: Rule = Rule {
    describe: "a Secret Manager secret id: 1-255 letters, digits, `-` and `_`",
    check: |s| (1..=255).contains(&s.len()) && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_')),
};

/// Environment variable names.
pub const ENV_VAR: Rule = Rule {
    describe: "an environment variable name: letters, digits and underscores, not starting with a digit",
    check: |s| {
        !s.is_empty()
            && s.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    },
};

/// GCP label keys.
pub const LABEL_KEY: Rule = Rule {
    describe: "a label key: 1–63 lowercase letters, digits, hyphens and underscores, starting with a letter",
    check: |s| {
        (1..=63).contains(&s.len())
            && starts_lower(s)
            && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
    },
};

/// GCP label values.
pub const LABEL_VALUE: Rule = Rule {
    describe: "a label value: at most 63 lowercase letters, digits, hyphens and underscores",
    check: |s| s.len() <= 63 && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_'),
};

/// Cloud Run service names (≤ 49 characters).
pub const CLOUD_RUN: Rule = Rule {
    describe: "a Cloud Run service name: ≤ 49 lowercase letters, digits and hyphens, starting with a letter and not ending with a hyphen",
    check: |s| (1..=49).contains(&s.len()) && starts_lower(s) && ends_alnum(s) && lower_alnum_hyphen(s),
};

/// Cloud Functions names (≤ 63 characters).
pub const FUNCTION: Rule = Rule {
    describe: "a Cloud Functions name: ≤ 63 lowercase letters, digits and hyphens, starting with a letter and not ending with a hyphen",
    check: |s| (1..=63).contains(&s.len()) && starts_lower(s) && ends_alnum(s) && lower_alnum_hyphen(s),
};

/// Airflow DAG ids.
pub const DAG_ID: Rule = Rule {
    describe: "an Airflow dag_id: ≤ 250 letters, digits, dots, dashes and underscores",
    check: |s| {
        (1..=250).contains(&s.len()) && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
    },
};

/// KFP pipeline names: lowercase letters, digits and hyphens, ≤ 128.
pub const KFP_PIPELINE: Rule = Rule {
    describe: "a KFP pipeline name: ≤ 128 lowercase letters, digits and hyphens, starting with a letter",
    check: |s| (1..=128).contains(&s.len()) && starts_lower(s) && lower_alnum_hyphen(s),
};

/// Python keywords, which can't be identifiers in generated DAGs and components.
const PYTHON_KEYWORDS: [&str; 35] = [
    "false", "none", "true", "and", "as", "assert", "async", "await", "break", "class", "continue", "def", "del",
    "elif", "else", "except", "finally", "for", "from", "global", "if", "import", "in", "is", "lambda", "nonlocal",
    "not", "or", "pass", "raise", "return", "try", "while", "with", "yield",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_accept_and_reject() {
        assert!(GCP_PROJECT.check("acme-churn-dev").is_ok());
        assert!(GCP_PROJECT.check("short").is_err());
        assert!(GCP_PROJECT.check("Acme-churn").is_err());
        assert!(GCP_PROJECT.check("acme-churn-").is_err());
        assert!(BUCKET.check("acme-churn-dev-data").is_ok());
        assert!(BUCKET.check("goog-data").is_err());
        assert!(STEP.check("train_model").is_ok());
        assert!(STEP.check("Train").is_err());
        assert!(IDENT.check("learning_rate").is_ok());
        assert!(IDENT.check("class").is_err());
        assert!(LABEL_VALUE.check("").is_ok());
        assert!(CLOUD_RUN.check(&"a".repeat(50)).is_err());
    }
}
