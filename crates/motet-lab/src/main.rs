//! motet-lab: runs the lab's workloads on each concurrency model, one fresh
//! child process per run, and sets the figures beside the peers'.
//!
//! `motet-lab models` lists the models and their axes; `motet-lab bench`
//! measures one workload on chosen models (`--json` for scripts);
//! `motet-lab tour` (or no arguments) runs everything at default sizes.

mod bench;
mod child;
mod load;
mod mem;
mod models;
mod peers;
mod report;
mod served;
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
        /// Served workloads: the port to listen on (default: a free one)
        #[arg(long)]
        port: Option<u16>,
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
    /// Served workloads (http-hello): the load generator
    #[arg(long, value_enum, default_value_t = load::LoaderChoice::Auto)]
    loader: load::LoaderChoice,
    /// Served workloads (http-hello): serve on this port of 127.0.0.1 (default: a free one)
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
    port: Option<u16>,
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
            let options = served::Options::default();
            tour::run(
                &tour::everything(),
                args.runs.repeat,
                args.runs.timeout(),
                &options,
            );
            ExitCode::SUCCESS
        }
        Cmd::Child {
            workload,
            model,
            n,
            port,
        } => {
            let (workload, model) = (known_workload(&workload), known_model(&model));
            match child::serve(model, workload, n, port) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
                    eprintln!("error: {e}");
                    ExitCode::from(2)
                }
                Err(e) => {
                    eprintln!("error: {} on {} failed: {e}", workload.id, model.id);
                    ExitCode::FAILURE
                }
            }
        }
    }
}

/// `bench`: exit 2 on a size the workload refuses, a model that does not
/// run it, or a `--port` that cannot be used; else runs and reports.
fn bench(args: BenchArgs) -> ExitCode {
    let workload = known_workload(&args.workload);
    let n = args.n.unwrap_or(workload.default_n);
    if let Err(why) = (workload.check_n)(n) {
        eprintln!("error: {why}");
        return ExitCode::from(2);
    }
    let models: Vec<_> = args.models.iter().map(|id| known_model(id)).collect();
    if let Some(model) = models.iter().find(|m| !m.runs(workload)) {
        eprintln!(
            "error: {} does not run {}; it runs: {}",
            model.id,
            workload.id,
            model.workload_ids().join(", ")
        );
        return ExitCode::from(2);
    }
    if let Some(port) = args.port {
        if !workload.served {
            eprintln!(
                "error: --port is for served workloads (http-hello), not {}",
                workload.id
            );
            return ExitCode::from(2);
        }
        // Fail early and clearly; the server reports it too, should the
        // port be taken between this probe and its bind.
        if let Err(e) = std::net::TcpListener::bind(("127.0.0.1", port)) {
            if e.kind() == std::io::ErrorKind::AddrInUse {
                eprintln!("error: port {port} on 127.0.0.1 is already in use");
            } else {
                eprintln!("error: cannot listen on 127.0.0.1:{port}: {e}");
            }
            return ExitCode::from(2);
        }
    }
    let options = served::Options {
        loader: args.loader,
        port: args.port,
    };
    let plan = tour::Plan {
        workload,
        n,
        models,
        notes: Vec::new(),
    };
    if args.json {
        for &model in &plan.models {
            let summary = bench::measure(
                model,
                workload,
                n,
                args.runs.repeat,
                args.runs.timeout(),
                &options,
                || {},
            );
            println!(
                "{}",
                serde_json::to_string(&summary).expect("a summary serializes")
            );
        }
    } else {
        tour::run(&[plan], args.runs.repeat, args.runs.timeout(), &options);
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
