//! Facts about Google Cloud the checks rely on: regions, machine/accelerator pairs, runtimes,
//! Composer versions, and small format predicates (cron, image refs, emails, paths).

use crate::spec::Accelerator;

/// Google Cloud regions.
pub const REGIONS: [&str; 42] = [
    "africa-south1", "asia-east1", "asia-east2", "asia-northeast1", "asia-northeast2", "asia-northeast3",
    "asia-south1", "asia-south2", "asia-southeast1", "asia-southeast2", "australia-southeast1",
    "australia-southeast2", "europe-central2", "europe-north1", "europe-north2", "europe-southwest1",
    "europe-west1", "europe-west10", "europe-west12", "europe-west2", "europe-west3", "europe-west4",
    "europe-west6", "europe-west8", "europe-west9", "me-central1", "me-central2", "me-west1",
    "northamerica-northeast1", "northamerica-northeast2", "northamerica-south1", "southamerica-east1",
    "southamerica-west1", "us-central1", "us-east1", "us-east4", "us-east5", "us-south1", "us-west1",
    "us-west2", "us-west3", "us-west4",
];

/// Machine types Vertex AI training, prediction and batch prediction accept: `(family-class, sizes)`,
/// the sizes being the predefined vCPU counts (`8` in `n1-standard-8`), or `<n>g` GPUs / `<n>t` TPU
/// chips for accelerator-optimised types. From Compute Engine's machine families
/// (https://cloud.google.com/compute/docs/machine-resource) and Vertex AI's lists
/// (https://cloud.google.com/vertex-ai/docs/training/configure-compute#machine-types); a size the
/// family doesn't have (`n1-standard-7`) fails at job creation with INVALID_ARGUMENT, so it fails here.
const MACHINE_TYPES: &[(&str, &[&str])] = &[
    ("e2-standard", &["2", "4", "8", "16", "32"]),
    ("e2-highmem", &["2", "4", "8", "16"]),
    ("e2-highcpu", &["2", "4", "8", "16", "32"]),
    ("n1-standard", &["1", "2", "4", "8", "16", "32", "64", "96"]),
    ("n1-highmem", &["2", "4", "8", "16", "32", "64", "96"]),
    ("n1-highcpu", &["2", "4", "8", "16", "32", "64", "96"]),
    ("n2-standard", &["2", "4", "8", "16", "32", "48", "64", "80", "96", "128"]),
    ("n2-highmem", &["2", "4", "8", "16", "32", "48", "64", "80", "96", "128"]),
    ("n2-highcpu", &["2", "4", "8", "16", "32", "48", "64", "80", "96"]),
    ("n2d-standard", &["2", "4", "8", "16", "32", "48", "64", "80", "96", "128", "224"]),
    ("n2d-highmem", &["2", "4", "8", "16", "32", "48", "64", "80", "96"]),
    ("n2d-highcpu", &["2", "4", "8", "16", "32", "48", "64", "80", "96", "128", "224"]),
    ("c2-standard", &["4", "8", "16", "30", "60"]),
    ("c2d-standard", &["2", "4", "8", "16", "32", "56", "112"]),
    ("c2d-highmem", &["2", "4", "8", "16", "32", "56", "112"]),
    ("c2d-highcpu", &["2", "4", "8", "16", "32", "56", "112"]),
    ("c3-standard", &["4", "8", "22", "44", "88", "176"]),
    ("c3-highmem", &["4", "8", "22", "44", "88", "176"]),
    ("c3-highcpu", &["4", "8", "22", "44", "88", "176"]),
    ("m1-ultramem", &["40", "80", "160"]),
    ("m1-megamem", &["96"]),
    ("a2-highgpu", &["1g", "2g", "4g", "8g"]),
    ("a2-megagpu", &["16g"]),
    ("a2-ultragpu", &["1g", "2g", "4g", "8g"]),
    ("a3-highgpu", &["1g", "2g", "4g", "8g"]),
    ("a3-megagpu", &["8g"]),
    ("g2-standard", &["4", "8", "12", "16", "24", "32", "48", "96"]),
    ("ct5lp-hightpu", &["1t", "4t", "8t"]),
];

/// How many L4 GPUs each G2 size comes with (https://cloud.google.com/compute/docs/gpus#l4-gpus).
const G2_GPUS: [(&str, u32); 8] = [("4", 1), ("8", 1), ("12", 1), ("16", 1), ("24", 2), ("32", 1), ("48", 4), ("96", 8)];

/// Accelerators and the machine-type prefixes they attach to.
const ACCELERATORS: [(&str, &[&str]); 9] = [
    ("NVIDIA_TESLA_T4", &["n1-"]),
    ("NVIDIA_TESLA_V100", &["n1-"]),
    ("NVIDIA_TESLA_P100", &["n1-"]),
    ("NVIDIA_TESLA_P4", &["n1-"]),
    ("NVIDIA_TESLA_A100", &["a2-highgpu-", "a2-megagpu-"]),
    ("NVIDIA_A100_80GB", &["a2-ultragpu-"]),
    ("NVIDIA_L4", &["g2-"]),
    ("NVIDIA_H100_80GB", &["a3-highgpu-"]),
    ("NVIDIA_H100_MEGA_80GB", &["a3-megagpu-"]),
];

/// Machine families that only exist with their GPUs attached.
const GPU_FAMILIES: [&str; 3] = ["a2-", "a3-", "g2-"];

type Problem = (String, Option<String>);

/// Checks a machine type and its accelerator; `Err((message, hint))`.
pub fn check_machine(machine: &str, accelerator: Option<&Accelerator>) -> Result<(), Problem> {
    let Some((kind, size)) = machine.rsplit_once('-') else {
        return Err(unknown_machine(machine));
    };
    let Some((_, sizes)) = MACHINE_TYPES.iter().find(|(k, _)| *k == kind) else {
        return Err(unknown_machine(machine));
    };
    if !sizes.contains(&size) {
        return Err((format!("`{kind}` has no size `{size}`"), Some(format!("{kind} comes in sizes {}", sizes.join(", ")))));
    }
    match accelerator {
        None if GPU_FAMILIES.iter().any(|p| machine.starts_with(p)) => Err((
            format!("`{machine}` is a GPU machine type and needs its `accelerator`"),
            Some("add accelerator: {type: …, count: …}".into()),
        )),
        None => Ok(()),
        Some(acc) => {
            let prefixes = accelerator_machines(&acc.ty)?;
            if !prefixes.iter().any(|p| machine.starts_with(p)) {
                return Err((
                    format!("accelerator `{}` can't be attached to `{machine}`", acc.ty),
                    Some(format!("{} runs on {} machines", acc.ty, prefixes.join(" or ").replace('-', ""))),
                ));
            }
            // GPU-attached types come with a fixed number of GPUs: the `<n>g` in the name, or G2's table.
            let fixed = match size.strip_suffix('g') {
                Some(n) => n.parse::<u32>().ok(),
                None if kind == "g2-standard" => G2_GPUS.iter().find(|(s, _)| *s == size).map(|(_, n)| *n),
                None => None,
            };
            if let Some(n) = fixed.filter(|n| *n != acc.count) {
                return Err((
                    format!("`{machine}` comes with {n} × {}, not {}", acc.ty, acc.count),
                    Some(format!("set count: {n}, or pick the size with {} GPUs", acc.count)),
                ));
            }
            if ![1, 2, 4, 8, 16].contains(&acc.count) {
                return Err((format!("accelerator count {} is not allowed", acc.count), Some("use 1, 2, 4, 8 or 16".into())));
            }
            Ok(())
        }
    }
}

/// The machine-type prefixes an accelerator type attaches to, or why the type is unknown.
pub fn accelerator_machines(accelerator: &str) -> Result<&'static [&'static str], Problem> {
    match ACCELERATORS.iter().find(|(a, _)| *a == accelerator) {
        Some((_, prefixes)) => Ok(prefixes),
        None => {
            let names: Vec<&str> = ACCELERATORS.iter().map(|(a, _)| *a).collect();
            Err((format!("unknown accelerator `{accelerator}`"), Some(format!("use one of {}", names.join(", ")))))
        }
    }
}

/// The error for a machine type of no known family and class, listing the families.
fn unknown_machine(machine: &str) -> Problem {
    let mut families: Vec<&str> = MACHINE_TYPES.iter().filter_map(|(kind, _)| kind.split('-').next()).collect();
    families.dedup();
    (
        format!("unknown machine type `{machine}`"),
        Some(format!("use <family>-<class>-<size>, e.g. n1-standard-8; families: {}", families.join(", "))),
    )
}

/// IANA time zone names (the Zone and Link names of the tz database), which both schedulers take:
/// Vertex AI reads a `TZ=<name>` cron prefix "from IANA time zone database"
/// (https://cloud.google.com/vertex-ai/docs/reference/rest/v1/projects.locations.schedules, `cron`)
/// and Airflow's timetables take the same names (pendulum).
const TIME_ZONES: &str = include_str!("../../data/tz/zones.txt");

/// Every known IANA time zone name.
pub fn time_zones() -> impl Iterator<Item = &'static str> + Clone {
    TIME_ZONES.lines().filter(|l| !l.is_empty() && !l.starts_with('#'))
}

/// Whether `name` is an IANA time zone name (case-sensitive, as the tz database is).
pub fn is_time_zone(name: &str) -> bool {
    time_zones().any(|z| z == name)
}

/// Checks a five-field cron expression.
pub fn check_cron(cron: &str) -> Result<(), String> {
    let fields = cron.split_whitespace().count();
    if fields != 5 {
        return Err(format!("expected 5 fields, found {fields}"));
    }
    if is_plain_cron(cron) {
        return Ok(());
    }
    let parses = |expr: &str| croner::parser::CronParser::new().parse(expr).is_ok();
    if parses(cron) {
        return Ok(());
    }
    // Name the field at fault: the first one that fails on its own, the others left at `*`.
    const FIELDS: [(&str, &str); 5] = [
        ("minute", "0-59"),
        ("hour", "0-23"),
        ("day-of-month", "1-31"),
        ("month", "1-12 or JAN-DEC"),
        ("day-of-week", "0-6 or SUN-SAT"),
    ];
    let fields: Vec<&str> = cron.split_whitespace().collect();
    let alone = |i: usize| (0..5).map(|j| if j == i { fields[j] } else { "*" }).collect::<Vec<_>>().join(" ");
    match (0..5).find(|&i| !parses(&alone(i))) {
        Some(i) => {
            let (name, range) = FIELDS[i];
            Err(format!("the {name} field `{}` is not valid (values {range}, with `*`, `,`, `-` and `/`)", fields[i]))
        }
        None => Err("the day-of-month and month fields never meet (no such date)".to_owned()),
    }
}

/// Whether every field is `*` or one in-range number (`30 2 * * 1`), so that the cron parser
/// (which builds bit sets for every field, slow for a thousand schedules) has nothing to add.
/// Day-of-month and month are never both numbers here, so no impossible date slips through.
fn is_plain_cron(cron: &str) -> bool {
    const RANGES: [(u32, u32); 5] = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 6)];
    let fields: Vec<&str> = cron.split_whitespace().collect();
    let number = |f: &str| (f == "0" || !f.starts_with('0')) && f.len() <= 2 && f.bytes().all(|b| b.is_ascii_digit());
    fields.len() == 5
        && (fields[2] == "*" || fields[3] == "*")
        && fields.iter().zip(RANGES).all(|(f, (lo, hi))| {
            *f == "*" || number(f) && f.parse::<u32>().is_ok_and(|n| (lo..=hi).contains(&n))
        })
}

/// A Cloud Run memory limit in MiB, if valid: a whole number of `Mi` or `Gi`, from 128 MiB (first
/// generation's minimum) to 32 GiB (https://cloud.google.com/run/docs/configuring/memory-limits).
pub fn cloud_run_memory_mib(memory: &str) -> Option<u64> {
    let (number, unit) = memory.split_at(memory.find(|c: char| !c.is_ascii_digit())?);
    let n: u64 = number.parse().ok().filter(|_| !number.starts_with('0'))?;
    let mib = match unit {
        "Mi" => n,
        "Gi" => n.checked_mul(1024)?,
        _ => return None,
    };
    (128..=32 * 1024).contains(&mib).then_some(mib)
}

/// Whether a repository-relative path leaves the repository (absolute, `..`, backslashes, `~`).
pub fn escapes(path: &str) -> bool {
    path.is_empty()
        || path.starts_with('/')
        || path.starts_with('~')
        || path.contains('\\')
        || path.split('/').any(|s| s == "..")
}

/// Whether an image is known to have no `apt-get`: Alpine (apk) and distroless images.
pub fn lacks_apt(image: &str) -> bool {
    let name = image.rsplit('/').next().unwrap_or(image);
    name.contains("alpine") || image.contains("distroless")
}

/// `name:tag` or `registry/path/name:tag`, without whitespace or quotes.
pub fn is_image_ref(s: &str) -> bool {
    let Some((name, tag)) = s.rsplit_once(':') else { return false };
    !name.is_empty()
        && !tag.is_empty()
        && !tag.contains('/')
        && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '/' | ':'))
}

/// `sha256:` and 64 hex digits.
pub fn is_digest(s: &str) -> bool {
    s.strip_prefix("sha256:").is_some_and(|h| h.len() == 64 && h.chars().all(|c| c.is_ascii_hexdigit()))
}

/// A Debian package name (optionally `=version`).
pub fn is_package_name(s: &str) -> bool {
    let name = s.split_once('=').map_or(s, |(n, _)| n);
    name.len() >= 2
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '+' | '-' | '.' | '=' | ':' | '~'))
}

/// An IAM principal a binding can name: `user:`, `group:` or `serviceAccount:` and an email, or
/// `domain:` and a domain (<https://cloud.google.com/iam/docs/principal-identifiers>).
pub fn is_iam_principal(s: &str) -> bool {
    match s.split_once(':') {
        Some(("user" | "group" | "serviceAccount", email)) => is_email(email),
        Some(("domain", domain)) => is_email(&format!("x@{domain}")),
        _ => false,
    }
}

/// A plausible email address.
pub fn is_email(s: &str) -> bool {
    let Some((user, domain)) = s.split_once('@') else { return false };
    !user.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '+' | '@'))
}

/// The column a feature group's BigQuery source must have. The google provider (6.x) cannot set
/// a feature group's `big_query.time_series.timestamp_column`, and the API then treats the source
/// as a time series keyed by a `feature_timestamp` TIMESTAMP column
/// (FeatureGroup.BigQuery.time_series, https://cloud.google.com/vertex-ai/docs/reference/rest/v1/projects.locations.featureGroups;
/// https://cloud.google.com/vertex-ai/docs/featurestore/latest/create-featuregroup), so a feature
/// view over a table without it cannot sync.
pub const FEATURE_TIMESTAMP: &str = "feature_timestamp";

/// A Secret Manager secret id: letters, digits, `_` and `-`, at most 255
/// (https://cloud.google.com/secret-manager/docs/reference/rest/v1/projects.secrets/create).
pub fn is_secret_id(s: &str) -> bool {
    (1..=255).contains(&s.len()) && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'))
}

/// A Slack channel name as Cloud Monitoring's `slack` channel takes it: `#` and at most 80
/// lowercase letters, digits, `-` and `_` (Slack's channel-name rules).
pub fn is_slack_channel(s: &str) -> bool {
    s.strip_prefix('#').is_some_and(|n| {
        (1..=80).contains(&n.len()) && n.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_'))
    })
}

/// An `https://` URL without whitespace, quotes, backslashes, template markers or control
/// characters (a webhook target lands in HCL and in the alert's delivery as is).
pub fn is_https_url(s: &str) -> bool {
    s.strip_prefix("https://").is_some_and(|rest| {
        let host = rest.split(['/', '?', '#']).next().unwrap_or("");
        !host.is_empty()
            && host.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':'))
            && rest.chars().all(|c| c.is_ascii_graphic() && !matches!(c, '"' | '\\' | '\'' | '<' | '>' | '`' | '{' | '}'))
    })
}

/// A Pub/Sub topic id: starts with a letter, 3–255 of letters, digits and `-_.~+%`, not `goog…`
/// (https://cloud.google.com/pubsub/docs/pubsub-basics#resource_names).
pub fn is_topic_id(s: &str) -> bool {
    (3..=255).contains(&s.len())
        && s.starts_with(|c: char| c.is_ascii_alphabetic())
        && !s.to_ascii_lowercase().starts_with("goog")
        && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '~' | '+' | '%'))
}

/// Cloud Functions runtimes: python3X, nodejsX, goX, javaX, rubyX, phpX, dotnetX.
pub fn is_runtime(s: &str) -> bool {
    ["python3", "nodejs", "go1", "java", "ruby", "php", "dotnet"].iter().any(|p| {
        s.strip_prefix(p).is_some_and(|v| !v.is_empty() && v.chars().all(|c| c.is_ascii_digit()))
    })
}

/// `composer-3-airflow-X.Y.Z` with an optional `-build.N`.
pub fn is_composer_version(s: &str) -> bool {
    let Some(rest) = s.strip_prefix("composer-3-airflow-") else { return false };
    let (version, build) = match rest.split_once("-build.") {
        Some((v, b)) => (v, Some(b)),
        None => (rest, None),
    };
    let parts: Vec<&str> = version.split('.').collect();
    parts.len() == 3
        && parts.iter().all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
        && build.is_none_or(|b| !b.is_empty() && b.chars().all(|c| c.is_ascii_digit()))
}

/// The Airflow major version of a Composer image version.
pub fn airflow_major(image_version: &str) -> Option<u32> {
    image_version.strip_prefix("composer-3-airflow-")?.split('.').next()?.parse().ok()
}

/// `projects/P/locations/L/keyRings/R/cryptoKeys/K`.
pub fn is_kms_key(s: &str) -> bool {
    let parts: Vec<&str> = s.split('/').collect();
    parts.len() == 8
        && parts[0] == "projects"
        && parts[2] == "locations"
        && parts[4] == "keyRings"
        && parts[6] == "cryptoKeys"
        && parts.iter().all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_')))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cloud_run_memory_takes_mi_and_gi_within_limits() {
        assert_eq!(cloud_run_memory_mib("512Mi"), Some(512));
        assert_eq!(cloud_run_memory_mib("2Gi"), Some(2048));
        assert_eq!(cloud_run_memory_mib("32Gi"), Some(32 * 1024));
        for bad in ["512MB", "512M", "1G", "33Gi", "64Mi", "0512Mi", "Mi", "1.5Gi", ""] {
            assert_eq!(cloud_run_memory_mib(bad), None, "{bad}");
        }
    }

    fn acc(ty: &str, count: u32) -> Accelerator {
        Accelerator { ty: ty.into(), count }
    }

    #[test]
    fn machine_accelerator_pairs() {
        assert!(check_machine("n1-standard-8", Some(&acc("NVIDIA_TESLA_T4", 1))).is_ok());
        assert!(check_machine("n2-standard-8", Some(&acc("NVIDIA_TESLA_T4", 1))).is_err());
        assert!(check_machine("g2-standard-8", Some(&acc("NVIDIA_L4", 1))).is_ok());
        assert!(check_machine("g2-standard-8", None).is_err());
        assert!(check_machine("n1-standard-8", Some(&acc("NVIDIA_TESLA_T4", 3))).is_err());
        assert!(check_machine("x9-standard-8", None).is_err());
        assert!(check_machine("n1-standard", None).is_err());
        assert!(check_machine("n1-standard-7", None).is_err_and(|(m, _)| m.contains("no size `7`")));
        assert!(check_machine("c3-standard-22", None).is_ok());
        assert!(check_machine("ct5lp-hightpu-4t", None).is_ok());
        assert!(check_machine("a2-highgpu-2g", Some(&acc("NVIDIA_TESLA_A100", 2))).is_ok());
        assert!(check_machine("a2-highgpu-2g", Some(&acc("NVIDIA_TESLA_A100", 1))).is_err());
        assert!(check_machine("g2-standard-48", Some(&acc("NVIDIA_L4", 4))).is_ok());
        assert!(check_machine("g2-standard-48", Some(&acc("NVIDIA_L4", 1))).is_err());
    }

    #[test]
    fn accelerators_are_checked_by_type_alone() {
        // A container step names an accelerator without a machine type (Vertex picks it).
        for (ty, machines) in ACCELERATORS {
            assert_eq!(accelerator_machines(ty), Ok(machines), "{ty}");
        }
        let unknown = accelerator_machines("NVIDIA_TESLA_Z1");
        assert!(unknown.as_ref().is_err_and(|(m, h)| m.contains("NVIDIA_TESLA_Z1") && h.is_some()), "{unknown:?}");
    }

    #[test]
    fn plain_crons_agree_with_the_parser() {
        for cron in ["0 0 * * *", "59 23 31 * 6", "5 4 * 12 0", "60 0 * * *", "0 24 * * *", "0 0 0 * *", "0 0 * 13 *", "00 1 * * *", "0 0 31 2 *", "1 2 3 4 5"] {
            let parsed = croner::parser::CronParser::new().parse(cron).is_ok();
            assert!(!is_plain_cron(cron) || parsed, "{cron} passes the fast path but not the parser");
            assert_eq!(check_cron(cron).is_ok(), parsed, "{cron}");
        }
    }

    #[test]
    fn cron_needs_five_valid_fields() {
        assert!(check_cron("0 3 * * 1").is_ok());
        assert!(check_cron("0 3 * * 9").is_err_and(|e| e.contains("day-of-week field `9`")));
        assert!(check_cron("*/15 * * * *").is_ok());
        assert!(check_cron("0 3 * *").is_err());
        assert!(check_cron("61 3 * * *").is_err());
        assert!(check_cron("0 0 3 * * 1").is_err());
    }

    #[test]
    fn formats() {
        assert!(is_image_ref("python:3.11-slim"));
        assert!(lacks_apt("python:3.12-alpine") && lacks_apt("gcr.io/distroless/python3-debian12:nonroot"));
        assert!(!lacks_apt("python:3.12-slim") && !lacks_apt("europe-docker.pkg.dev/alpine-team/ci/python:3.12"));
        assert!(!is_image_ref("python"));
        assert!(!is_image_ref("python:3.11 slim"));
        assert!(is_composer_version("composer-3-airflow-2.10.5"));
        assert!(is_composer_version("composer-3-airflow-2.10.5-build.3"));
        assert!(!is_composer_version("composer-2-airflow-2.10.5"));
        assert_eq!(airflow_major("composer-3-airflow-3.1.0"), Some(3));
        assert!(escapes("../x") && escapes("/abs") && !escapes("trainer/src"));
        assert!(is_runtime("python312") && !is_runtime("python"));
        assert!(is_time_zone("UTC") && is_time_zone("Europe/Berlin") && is_time_zone("America/New_York"));
        assert!(!is_time_zone("europe/berlin") && !is_time_zone("CET+1") && !is_time_zone(""));
    }
}
