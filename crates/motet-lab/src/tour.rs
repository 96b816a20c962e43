//! The tour: every model on every workload it runs, at the workload's tour
//! size (its default, or smaller where that takes long: http-hello loads for
//! 2 s instead of 5), a few repeats each, with a progress bar, then one comparison table per workload.
//! Also the runner of `bench`, which is the same loop over chosen models.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use crate::bench::{self, Summary};
use crate::models::{self, ModelInfo};
use crate::report;
use crate::served;
use crate::workloads::{self, WorkloadInfo};

/// One workload to run: which, at what size, on which models.
pub struct Plan {
    /// The workload.
    pub workload: &'static WorkloadInfo,
    /// Its size.
    pub n: u64,
    /// The models to run it on.
    pub models: Vec<&'static ModelInfo>,
    /// Lines printed under its report (models skipped, and why).
    pub notes: Vec<String>,
}

/// The tour's plan: every workload at its tour size, on every model that
/// runs it; a model missing from this machine (nginx) is skipped with a note.
pub fn everything() -> Vec<Plan> {
    workloads::WORKLOADS
        .iter()
        .map(|workload| {
            let mut notes = Vec::new();
            let models = models::MODELS
                .iter()
                .filter(|m| m.runs(workload))
                .filter(|m| match m.available() {
                    Ok(()) => true,
                    Err(why) => {
                        notes.push(format!("  {} skipped: {why}", m.id));
                        false
                    }
                })
                .collect();
            Plan {
                workload,
                n: workload.tour_n,
                models,
                notes,
            }
        })
        .collect()
}

/// Runs the plans under a progress bar (on stderr, hidden when it is not a
/// terminal), then prints one report per workload.
pub fn run(plans: &[Plan], repeat: usize, timeout: Duration, options: &served::Options) {
    let runs: usize = plans.iter().map(|p| p.models.len() * repeat).sum();
    let bar = ProgressBar::new(runs as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} runs  {elapsed}  {msg}")
            .expect("the template is valid"),
    );
    let mut reports: Vec<(&WorkloadInfo, Vec<Summary>, &[String])> = Vec::new();
    for plan in plans {
        let mut rows = Vec::new();
        for &model in &plan.models {
            bar.set_message(format!("{} on {}", plan.workload.id, model.id));
            let summary = bench::measure(
                model,
                plan.workload,
                plan.n,
                repeat,
                timeout,
                options,
                || bar.inc(1),
            );
            rows.push(summary);
        }
        reports.push((plan.workload, rows, &plan.notes));
    }
    bar.finish_and_clear();
    for (workload, rows, notes) in reports {
        report::print(workload, &rows);
        for note in notes {
            println!("{note}");
        }
    }
}
