//! A build's `timeout`, derived from its steps rather than fixed per workflow.
//!
//! Cloud Build starts a step once every step its `waitFor` names has finished (`-`: with the
//! build; no `waitFor`, or an empty one: after every step listed before it), and the build's `timeout` counts from
//! the build's `startTime` across all of them: when it elapses, work stops and the build is
//! `TIMEOUT` (REST `projects.builds`, `Build.timeout`; `BuildStep.waitFor`). So a build can time
//! out although every step kept within its own timeout, if the longest chain of step timeouts
//! through `waitFor` is longer than the build's. A fixed three hours did that to a release: its
//! chain (the turn or the deployment wait, then the reviewed plan's fetch, the apply, the
//! promotions and deploys) runs to over five.
//!
//! The budget is that chain plus [`MARGIN`], in whole minutes, at most [`MOST`]. It is derived
//! again after `overrides.cloudbuild` apply, so an override of a step's timeout or `waitFor`
//! moves it, and an override of `/timeout` itself wins. A step an override leaves without a
//! timeout runs until the build's, so nothing bounds the chain: the budget then stays as the
//! generated steps had it.

use super::build::Step;
use serde_json::Value;

/// What a build spends outside its steps' timeouts: fetching the source, pulling builder images,
/// pushing `images` after the last step.
pub const MARGIN: u32 = 600;

/// The longest build timeout Cloud Build accepts: 24 hours.
pub const MOST: u32 = 24 * 3600;

/// One step as the budget sees it: its id, its `waitFor` (`None` when the step has none) and
/// its timeout in seconds.
pub struct Span<'a> {
    pub id: &'a str,
    pub wait_for: Option<Vec<&'a str>>,
    pub seconds: u32,
}

impl<'a> Span<'a> {
    /// A step the target built (its timeout is always whole seconds).
    pub fn of(step: &'a Step) -> Self {
        let wait_for = step.wait_for.iter().map(String::as_str).collect();
        Span { id: &step.id, wait_for: Some(wait_for), seconds: seconds(&step.timeout).unwrap_or(u32::MAX) }
    }
}

/// The build timeout for steps in file order, in seconds.
pub fn timeout<'a>(steps: impl IntoIterator<Item = Span<'a>>) -> Result<u32, String> {
    let chain = longest_chain(steps)?;
    let seconds = (chain + MARGIN).div_ceil(60) * 60;
    if seconds > MOST {
        return Err(format!(
            "its steps' timeouts chain to {chain} s, more than the {MOST} s a Cloud Build build may run; \
             shorten a step's timeout or override `/timeout`"
        ));
    }
    Ok(seconds)
}

/// The latest a step can finish, over all steps, if each runs to its timeout.
fn longest_chain<'a>(steps: impl IntoIterator<Item = Span<'a>>) -> Result<u32, String> {
    let mut finish: Vec<(&str, u32)> = Vec::new();
    for step in steps {
        let start = match step.wait_for.as_deref() {
            // No `waitFor`, or an empty one: after every step before it.
            None | Some([]) => finish.iter().map(|&(_, end)| end).max().unwrap_or(0),
            Some(["-"]) => 0,
            Some(ids) => {
                let mut start = 0;
                for id in ids {
                    let Some(&(_, end)) = finish.iter().find(|(earlier, _)| earlier == id) else {
                        return Err(format!("step `{}` waits for `{id}`, which is not a step before it", step.id));
                    };
                    start = start.max(end);
                }
                start
            }
        };
        finish.push((step.id, start.saturating_add(step.seconds)));
    }
    Ok(finish.iter().map(|&(_, end)| end).max().unwrap_or(0))
}

/// Seconds of a Cloud Build duration (`600s`, `3.5s`), rounded up.
pub fn seconds(duration: &str) -> Option<u32> {
    let number: f64 = duration.strip_suffix('s')?.parse().ok()?;
    (number.is_finite() && number >= 0.0 && number <= f64::from(u32::MAX)).then(|| number.ceil() as u32)
}

/// The spans of a config document's steps (after overrides); `None` if a step has no timeout.
pub fn spans(steps: &Value) -> Option<Result<Vec<Span<'_>>, String>> {
    let steps = steps.as_array()?;
    if steps.iter().any(|step| step.get("timeout").is_none()) {
        return None;
    }
    let spans = steps
        .iter()
        .enumerate()
        .map(|(i, step)| {
            let id = step.get("id").and_then(Value::as_str).unwrap_or("");
            let name = if id.is_empty() { format!("#{i}") } else { format!("`{id}`") };
            let wait_for = match step.get("waitFor") {
                None => None,
                Some(Value::Array(ids)) => Some(
                    ids.iter()
                        .map(|w| w.as_str().ok_or_else(|| format!("step {name}: `waitFor` holds a non-string")))
                        .collect::<Result<_, _>>()?,
                ),
                Some(_) => return Err(format!("step {name}: `waitFor` is not a list")),
            };
            let seconds = step
                .get("timeout")
                .and_then(Value::as_str)
                .and_then(seconds)
                .ok_or_else(|| format!("step {name}: `timeout` is not in seconds (`600s`)"))?;
            Ok(Span { id, wait_for, seconds })
        })
        .collect();
    Some(spans)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span<'a>(id: &'a str, wait_for: Option<&[&'a str]>, seconds: u32) -> Span<'a> {
        Span { id, wait_for: wait_for.map(<[_]>::to_vec), seconds }
    }

    #[test]
    fn the_longest_chain_through_wait_for_sets_the_budget() {
        // a ── b ── d      a 100, b 200, d 50: 350
        // c                1000 from the start
        // e                no `waitFor`: after every earlier step, 1000 + 10
        let steps = [
            span("a", Some(&["-"]), 100),
            span("b", Some(&["a"]), 200),
            span("c", Some(&["-"]), 1000),
            span("d", Some(&["b"]), 50),
            span("e", None, 10),
        ];
        assert_eq!(longest_chain(steps), Ok(1010));
        let steps = [span("a", Some(&["-"]), 100), span("b", Some(&["a"]), 200), span("c", Some(&["-"]), 250)];
        assert_eq!(longest_chain(steps), Ok(300));
        let steps = [span("a", Some(&["-"]), 3000), span("b", Some(&[]), 3000)];
        assert_eq!(longest_chain(steps), Ok(6000), "an empty waitFor waits for every earlier step");
        assert_eq!(timeout([span("a", Some(&["-"]), 3001)]), Ok(3660), "margin, then whole minutes");
    }

    #[test]
    fn bad_chains_are_named() {
        let err = longest_chain([span("a", Some(&["b"]), 1), span("b", Some(&["-"]), 1)]);
        assert_eq!(err, Err("step `a` waits for `b`, which is not a step before it".to_owned()));
        let err = timeout([span("a", Some(&["-"]), MOST)]);
        assert!(err.as_ref().is_err_and(|e| e.contains("more than the 86400 s")), "{err:?}");
    }

    #[test]
    fn durations_read_as_cloud_build_writes_them() {
        assert_eq!(seconds("600s"), Some(600));
        assert_eq!(seconds("3.5s"), Some(4));
        assert_eq!(seconds("600"), None);
        assert_eq!(seconds("-1s"), None);
        assert_eq!(seconds("1e99s"), None);
    }
}
