//! motet-lab: runs the lab's workloads on each concurrency model, one fresh
//! child process per run, and sets the figures beside the peers'.
//!
//! `motet-lab models` lists the models and their axes; `motet-lab bench`
//! measures one workload on chosen models (`--json` for scripts);
//! `motet-lab tour` (or no arguments) runs everything at default sizes.

mod bench;
mod child;
mod mem;
mod models;
mod peers;
mod report;
mod tour;
mod workloads;

use std::process::ExitCode;
use std::time::Duration;

use clap::builder::{PossibleValuesParser, RangedU64ValueParser};
use clap::{Args, Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "motet-lab",
    version,
    about = "The motet lab: workloads x concurrency models"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Cmd>,
}

#[derive(Subcommand)]
enum Cmd {
    /// List the models: id, memory (shared|separate), parallel (no|yes), switching (explicit|implicit)
    Models,
    /// Measure one workload on the chosen models
    Bench(BenchArgs),
    /// Every model on every workload at default sizes, then comparison tables (the default)
    Tour(TourArgs),
    /// Run one workload once in this process and print one JSON line (used by the lab itself)
    #[command(name = child::SUBCOMMAND, hide = true)]
    Child {
        #[arg(value_parser = PossibleValuesParser::new(workloads::ids()))]
        workload: String,
        #[arg(value_parser = PossibleValuesParser::new(models::ids()))]
        model: String,
        #[arg(value_parser = clap::value_parser!(u64).range(1..))]
        n: u64,
    },
}

#[derive(Args)]
struct BenchArgs {
    /// The workload
    #[arg(value_parser = PossibleValuesParser::new(workloads::ids()))]
    workload: String,
    /// A model to run it on (repeat the flag for several)
    #[arg(long = "model", value_name = "ID", required = true,
          value_parser = PossibleValuesParser::new(models::ids()))]
    models: Vec<String>,
    /// The workload's size (default: the workload's own)
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    n: Option<u64>,
    #[command(flatten)]
    runs: RunArgs,
    /// One JSON object per line per model instead of a table
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct TourArgs {
    #[command(flatten)]
    runs: RunArgs,
}

#[derive(Args)]
struct RunArgs {
    /// Runs per model, each in a fresh process; figures are their medians
    #[arg(long, default_value_t = DEFAULT_REPEAT,
          value_parser = RangedU64ValueParser::<usize>::new().range(1..=100))]
    repeat: usize,
    /// Seconds after which a run is killed and reported as failed
    #[arg(long, value_name = "SECONDS", default_value_t = DEFAULT_TIMEOUT_S)]
    timeout: u64,
}

/// Runs per model when `--repeat` is not given.
const DEFAULT_REPEAT: usize = 3;
/// Seconds a run may take when `--timeout` is not given.
const DEFAULT_TIMEOUT_S: u64 = 120;

impl RunArgs {
    fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout)
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let tour_by_default = Cmd::Tour(TourArgs {
        runs: RunArgs {
            repeat: DEFAULT_REPEAT,
            timeout: DEFAULT_TIMEOUT_S,
        },
    });
    match cli.command.unwrap_or(tour_by_default) {
        Cmd::Models => {
            for model in models::MODELS {
                println!("{}  {}", model.id, model.axes);
            }
            ExitCode::SUCCESS
        }
        Cmd::Bench(args) => bench(args),
        Cmd::Tour(args) => {
            tour::run(&tour::everything(), args.runs.repeat, args.runs.timeout());
            ExitCode::SUCCESS
        }
        Cmd::Child { workload, model, n } => {
            let (workload, model) = (known_workload(&workload), known_model(&model));
            match child::serve(model, workload, n) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: {} on {} failed: {e}", workload.id, model.id);
                    ExitCode::FAILURE
                }
            }
        }
    }
}

/// `bench`: exit 2 on a size the workload refuses, else runs and reports.
fn bench(args: BenchArgs) -> ExitCode {
    let workload = known_workload(&args.workload);
    let n = args.n.unwrap_or(workload.default_n);
    if let Err(why) = (workload.check_n)(n) {
        eprintln!("error: {why}");
        return ExitCode::from(2);
    }
    let models = args.models.iter().map(|id| known_model(id)).collect();
    let plan = tour::Plan {
        workload,
        n,
        models,
    };
    if args.json {
        for &model in &plan.models {
            let summary = bench::measure(
                model,
                workload,
                n,
                args.runs.repeat,
                args.runs.timeout(),
                || {},
            );
            println!(
                "{}",
                serde_json::to_string(&summary).expect("a summary serializes")
            );
        }
    } else {
        tour::run(&[plan], args.runs.repeat, args.runs.timeout());
    }
    ExitCode::SUCCESS
}

/// A workload id that clap has already checked.
fn known_workload(id: &str) -> &'static workloads::WorkloadInfo {
    workloads::find(id).expect("clap checks workload ids")
}

/// A model id that clap has already checked.
fn known_model(id: &str) -> &'static models::ModelInfo {
    models::find(id).expect("clap checks model ids")
}
