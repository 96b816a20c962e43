//! The tour: every model on every workload at its default size, a few
//! repeats each, with a progress bar, then one comparison table per workload.
//! Also the runner of `bench`, which is the same loop over chosen models.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use crate::bench::{self, Summary};
use crate::models::{self, ModelInfo};
use crate::report;
use crate::workloads::{self, WorkloadInfo};

/// One workload to run: which, at what size, on which models.
pub struct Plan {
    /// The workload.
    pub workload: &'static WorkloadInfo,
    /// Its size.
    pub n: u64,
    /// The models to run it on.
    pub models: Vec<&'static ModelInfo>,
}

/// The tour's plan: every workload at its default size, on every model.
pub fn everything() -> Vec<Plan> {
    workloads::WORKLOADS
        .iter()
        .map(|workload| Plan {
            workload,
            n: workload.default_n,
            models: models::MODELS.iter().collect(),
        })
        .collect()
}

/// Runs the plans under a progress bar (on stderr, hidden when it is not a
/// terminal), then prints one report per workload.
pub fn run(plans: &[Plan], repeat: usize, timeout: Duration) {
    let runs: usize = plans.iter().map(|p| p.models.len() * repeat).sum();
    let bar = ProgressBar::new(runs as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} runs  {elapsed}  {msg}")
            .expect("the template is valid"),
    );
    let mut reports: Vec<(&WorkloadInfo, Vec<Summary>)> = Vec::new();
    for plan in plans {
        let mut rows = Vec::new();
        for &model in &plan.models {
            bar.set_message(format!("{} on {}", plan.workload.id, model.id));
            let summary =
                bench::measure(model, plan.workload, plan.n, repeat, timeout, || bar.inc(1));
            rows.push(summary);
        }
        reports.push((plan.workload, rows));
    }
    bar.finish_and_clear();
    for (workload, rows) in reports {
        report::print(workload, &rows);
    }
}
