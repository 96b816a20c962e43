//! One bench: a workload on one model, repeated, each repeat in its own child
//! process, folded into one [`Summary`] (the JSON line of `bench --json`).

use std::time::Duration;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::child;
use crate::models::ModelInfo;
use crate::served;
use crate::workloads::{Sample, WorkloadInfo};

/// What a model did on a workload over its repeats.
///
/// `ms` is the median wall time; the workload's own numeric figures are
/// medians too, each taken on its own. `ok` is true only when every repeat
/// ran and gave the known answer.
#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    /// The workload's id.
    pub workload: &'static str,
    /// The model's id.
    pub model: &'static str,
    /// The workload's size.
    pub n: u64,
    /// OS threads the model ran units on (from the first repeat that ran).
    pub threads: Option<usize>,
    /// The answer (from the first repeat that ran).
    pub result: Option<u64>,
    /// The known answer.
    pub expected: u64,
    /// Every repeat ran and gave the known answer.
    pub ok: bool,
    /// Median wall time of the timed part, in milliseconds.
    pub ms: Option<f64>,
    /// `ms` per op, in nanoseconds.
    pub ns_per_op: Option<f64>,
    /// What one op is.
    pub op: &'static str,
    /// How many repeats were asked for.
    pub repeat: usize,
    /// Wall time of each repeat that ran, in milliseconds.
    pub runs_ms: Vec<f64>,
    /// Why it is not ok: failed repeats, wrong answers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The workload's own figures.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Summary {
    /// A numeric field, common or the workload's own.
    pub fn number(&self, field: &str) -> Option<f64> {
        match field {
            "ms" => self.ms,
            "ns_per_op" => self.ns_per_op,
            _ => self.extra.get(field)?.as_f64(),
        }
    }
}

/// Runs `workload` at size `n` on `model`, `repeat` times, each in a fresh
/// child bounded by `timeout`; `after_each` is called after every repeat.
pub fn measure(
    model: &'static ModelInfo,
    workload: &'static WorkloadInfo,
    n: u64,
    repeat: usize,
    timeout: Duration,
    options: &served::Options,
    mut after_each: impl FnMut(),
) -> Summary {
    let expected = (workload.expected)(n);
    let mut samples = Vec::new();
    let mut errors = Vec::new();
    for r in 1..=repeat {
        match child::run(model, workload, n, timeout, options) {
            Ok(sample) => {
                if sample.result != expected {
                    let why = format!("wrong answer {} (expected {expected})", sample.result);
                    errors.push((r, why));
                }
                samples.push(sample);
            }
            Err(why) => errors.push((r, why)),
        }
        after_each();
    }
    fold(model, workload, n, repeat, expected, &samples, errors)
}

/// The repeats' errors in one line, each message once with the repeats
/// that gave it: a model that fails the same way every time (may at its
/// mapping limit) is told in one sentence, not three.
fn describe_errors(errors: &[(usize, String)]) -> String {
    let mut grouped: Vec<(Vec<usize>, &str)> = Vec::new();
    for (repeat, why) in errors {
        match grouped.iter_mut().find(|(_, w)| w == why) {
            Some((repeats, _)) => repeats.push(*repeat),
            None => grouped.push((vec![*repeat], why)),
        }
    }
    grouped
        .iter()
        .map(|(repeats, why)| {
            let numbers: Vec<String> = repeats.iter().map(|r| r.to_string()).collect();
            match numbers.as_slice() {
                [one] => format!("repeat {one}: {why}"),
                [init @ .., last] => format!("repeats {} and {last}: {why}", init.join(", ")),
                [] => unreachable!("a group has a repeat"),
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Folds the samples of the repeats into one summary.
fn fold(
    model: &'static ModelInfo,
    workload: &'static WorkloadInfo,
    n: u64,
    repeat: usize,
    expected: u64,
    samples: &[Sample],
    errors: Vec<(usize, String)>,
) -> Summary {
    let runs_ms: Vec<f64> = samples.iter().map(|s| s.elapsed_ns as f64 / 1e6).collect();
    let ms = median(runs_ms.clone());
    let first = samples.first();
    // Each repeat's own ns/op, then their median: a served workload's op
    // count differs from repeat to repeat.
    let ns_per_op = median(
        samples
            .iter()
            .filter(|s| s.ops > 0)
            .map(|s| s.elapsed_ns as f64 / s.ops as f64)
            .collect(),
    );
    Summary {
        workload: workload.id,
        model: model.id,
        n,
        threads: first.map(|s| s.threads),
        result: first.map(|s| s.result),
        expected,
        ok: errors.is_empty() && samples.len() == repeat,
        ms,
        ns_per_op,
        op: workload.op,
        repeat,
        runs_ms,
        error: (!errors.is_empty()).then(|| describe_errors(&errors)),
        extra: fold_extra(samples),
    }
}

/// The workload's own figures over the repeats: numbers by their median,
/// booleans by "all true", anything else as the first repeat had it.
fn fold_extra(samples: &[Sample]) -> Map<String, Value> {
    let Some(first) = samples.first() else {
        return Map::new();
    };
    let mut folded = Map::new();
    for (key, value) in &first.extra {
        let mut all = samples.iter().filter_map(|s| s.extra.get(key));
        let value = match value {
            Value::Number(_) => {
                let numbers: Vec<f64> = all.filter_map(Value::as_f64).collect();
                let median = median(numbers).unwrap_or(f64::NAN);
                if value.is_f64() {
                    Value::from(median)
                } else {
                    Value::from(median.round() as i64)
                }
            }
            Value::Bool(_) => Value::Bool(all.all(|v| v.as_bool() == Some(true))),
            other => other.clone(),
        };
        folded.insert(key.clone(), value);
    }
    folded
}

/// The median, the mean of the middle two for an even count.
fn median(mut values: Vec<f64>) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    Some(if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians() {
        assert_eq!(median(vec![]), None);
        assert_eq!(median(vec![3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), Some(2.5));
    }

    #[test]
    fn errors_told_once_per_message() {
        let errors = [
            (1, "killed by signal 6".to_string()),
            (2, "wrong answer 3 (expected 4)".to_string()),
            (3, "killed by signal 6".to_string()),
            (4, "killed by signal 6".to_string()),
        ];
        assert_eq!(
            describe_errors(&errors),
            "repeats 1, 3 and 4: killed by signal 6; repeat 2: wrong answer 3 (expected 4)"
        );
        assert_eq!(
            describe_errors(&errors[1..2]),
            "repeat 2: wrong answer 3 (expected 4)"
        );
    }

    #[test]
    fn extras_fold_by_kind() {
        let sample = |kb: u64, reset: bool| Sample {
            extra: serde_json::json!({ "peak_rss_kb": kb, "hwm_reset": reset, "note": "x" })
                .as_object()
                .unwrap()
                .clone(),
            ..Sample::default()
        };
        let folded = fold_extra(&[sample(10, true), sample(30, false), sample(20, true)]);
        assert_eq!(folded["peak_rss_kb"], 20);
        assert_eq!(folded["hwm_reset"], false);
        assert_eq!(folded["note"], "x");
    }
}
