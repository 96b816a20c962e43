//! The lab's command-line contract, as outside scripts rely on it.

use std::process::{Command, Output};

use serde_json::Value;

const LAB: &str = env!("CARGO_BIN_EXE_motet-lab");

fn lab(args: &[&str]) -> Output {
    Command::new(LAB).args(args).output().expect("the lab runs")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Runs `bench --json` and parses its lines.
fn bench_json(args: &[&str], env: Option<(&str, &str)>) -> Vec<Value> {
    let mut cmd = Command::new(LAB);
    cmd.arg("bench").args(args).arg("--json");
    if let Some((key, value)) = env {
        cmd.env(key, value);
    }
    let out = cmd.output().expect("the lab runs");
    assert!(out.status.success(), "bench failed: {}", stderr(&out));
    stdout(&out)
        .lines()
        .map(|line| serde_json::from_str(line).expect("each line is one JSON object"))
        .collect()
}

const CONTRACT_FIELDS: [&str; 8] = [
    "workload",
    "model",
    "n",
    "threads",
    "result",
    "ok",
    "ms",
    "ns_per_op",
];

fn assert_ok(line: &Value, workload: &str, model: &str, result: u64) {
    for field in CONTRACT_FIELDS {
        assert!(line.get(field).is_some(), "no {field} in {line}");
    }
    assert_eq!(line["workload"], workload, "{line}");
    assert_eq!(line["model"], model, "{line}");
    assert_eq!(line["ok"], true, "{line}");
    assert_eq!(line["result"], result, "{line}");
    assert!(line["threads"].as_u64().is_some_and(|t| t >= 1), "{line}");
    assert!(line["ms"].as_f64().is_some_and(|ms| ms > 0.0), "{line}");
    assert!(line["ns_per_op"].as_f64().is_some(), "{line}");
}

#[test]
fn models_lists_ids_with_their_axes() {
    let out = lab(&["models"]);
    assert!(out.status.success());
    let text = stdout(&out);
    let rows: Vec<Vec<&str>> = text
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    for model in ["async-loop", "tokio-local"] {
        assert!(
            rows.contains(&vec![model, "shared", "no", "explicit"]),
            "{model} missing from:\n{text}"
        );
    }
    for model in ["async-steal", "async-core", "tokio"] {
        assert!(
            rows.contains(&vec![model, "shared", "yes", "explicit"]),
            "{model} missing from:\n{text}"
        );
    }
}

#[test]
fn parallel_models_run_both_workloads() {
    let models = ["async-steal", "async-core", "tokio"];
    for workload in ["skynet", "spawn-idle"] {
        let mut args = vec![workload, "--n", "1000", "--repeat", "1"];
        for m in models {
            args.extend(["--model", m]);
        }
        let lines = bench_json(&args, None);
        assert_eq!(lines.len(), models.len());
        for (line, model) in lines.iter().zip(models) {
            assert_ok(line, workload, model, 499_500);
        }
    }
}

#[test]
fn bench_skynet_json() {
    let lines = bench_json(
        &[
            "skynet",
            "--model",
            "tokio-local",
            "--model",
            "async-loop",
            "--n",
            "1000",
            "--repeat",
            "1",
        ],
        None,
    );
    assert_eq!(lines.len(), 2);
    assert_ok(&lines[0], "skynet", "tokio-local", 499_500);
    assert_ok(&lines[1], "skynet", "async-loop", 499_500);
    for line in &lines {
        assert_eq!(line["threads"], 1, "single-threaded models: {line}");
        assert!(
            line["peak_rss_kb"].as_u64().is_some_and(|kb| kb > 0),
            "{line}"
        );
        assert!(line["hwm_reset"].is_boolean(), "{line}");
    }
}

#[test]
fn bench_spawn_idle_json() {
    let lines = bench_json(
        &[
            "spawn-idle",
            "--model",
            "tokio-local",
            "--model",
            "async-loop",
            "--n",
            "1000",
            "--repeat",
            "1",
        ],
        None,
    );
    assert_eq!(lines.len(), 2);
    assert_ok(&lines[0], "spawn-idle", "tokio-local", 499_500);
    assert_ok(&lines[1], "spawn-idle", "async-loop", 499_500);
    for line in &lines {
        assert!(line["bytes_per_unit"].is_number(), "{line}");
        assert!(line["page_table_bytes_per_unit"].is_number(), "{line}");
        assert!(line["fresh_page_ns"].as_u64() > Some(0), "{line}");
        assert!(line["fresh_page_all_cores_ns"].as_u64() > Some(0), "{line}");
        assert!(line["spawn_ns_per_unit"].is_number(), "{line}");
    }
}

#[test]
fn bench_without_json_prints_a_table() {
    let out = lab(&[
        "bench",
        "skynet",
        "--model",
        "tokio-local",
        "--n",
        "100",
        "--repeat",
        "1",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("tokio-local") && text.contains("peak RSS"),
        "{text}"
    );
}

#[test]
fn unknown_model_exits_2_naming_it_and_the_valid_ones() {
    let out = lab(&["bench", "skynet", "--model", "no-such-model", "--n", "10"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    for word in ["no-such-model", "async-loop", "tokio-local"] {
        assert!(err.contains(word), "{word} not in: {err}");
    }
}

#[test]
fn unknown_workload_exits_2() {
    let out = lab(&["bench", "no-such-workload", "--model", "tokio-local"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("no-such-workload") && err.contains("skynet"),
        "{err}"
    );
}

#[test]
fn skynet_size_must_be_a_power_of_ten() {
    let out = lab(&["bench", "skynet", "--model", "tokio-local", "--n", "1234"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("power of 10"), "{}", stderr(&out));
}

#[test]
fn a_crashing_run_is_a_failed_result() {
    let args = [
        "skynet",
        "--model",
        "tokio-local",
        "--n",
        "10",
        "--repeat",
        "1",
    ];
    let lines = bench_json(&args, Some(("MOTET_LAB_FAULT", "abort")));
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["ok"], false);
    let error = lines[0]["error"].as_str().unwrap_or_default();
    assert!(error.contains("SIGABRT"), "{error}");

    let lines = bench_json(&args, Some(("MOTET_LAB_FAULT", "panic")));
    let error = lines[0]["error"].as_str().unwrap_or_default();
    assert!(error.contains("MOTET_LAB_FAULT=panic"), "{error}");
}

#[test]
fn a_hanging_run_is_killed() {
    let args = [
        "skynet",
        "--model",
        "tokio-local",
        "--n",
        "10",
        "--repeat",
        "1",
        "--timeout",
        "1",
    ];
    let lines = bench_json(&args, Some(("MOTET_LAB_FAULT", "hang")));
    assert_eq!(lines[0]["ok"], false);
    let error = lines[0]["error"].as_str().unwrap_or_default();
    assert!(error.contains("timed out"), "{error}");
}

/// `bench --json` of one workload on several models, at size n, once each.
fn bench_models(workload: &str, models: &[&str], n: &str) -> Vec<Value> {
    let mut args = vec![workload, "--n", n, "--repeat", "1"];
    for m in models {
        args.extend(["--model", m]);
    }
    let lines = bench_json(&args, None);
    assert_eq!(lines.len(), models.len());
    lines
}

#[test]
fn blocking_unit_models_list_implicit_switching() {
    let out = lab(&["models"]);
    let text = stdout(&out);
    let rows: Vec<Vec<&str>> = text
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert!(
        rows.contains(&vec!["green-loop", "shared", "no", "implicit"]),
        "{text}"
    );
    for model in [
        "green",
        "may",
        "thread-crossbeam",
        "thread-flume",
        "thread-std",
        "thread-motet",
    ] {
        assert!(
            rows.contains(&vec![model, "shared", "yes", "implicit"]),
            "{model} missing from:\n{text}"
        );
    }
}

#[test]
fn green_and_may_run_skynet_and_spawn_idle() {
    let models = ["green-loop", "green", "may"];
    for workload in ["skynet", "spawn-idle"] {
        let lines = bench_models(workload, &models, "1000");
        for (line, model) in lines.iter().zip(models) {
            assert_ok(line, workload, model, 499_500);
        }
    }
}

#[test]
fn pingpong_on_every_kind_of_model() {
    let models = ["async-loop", "tokio-local", "green-loop", "green", "may"];
    let lines = bench_models("pingpong", &models, "1000");
    for (line, model) in lines.iter().zip(models) {
        assert_ok(line, "pingpong", model, 499_500);
        assert!(line["channel"].is_string(), "{line}");
    }
    assert_eq!(lines[1]["channel"], "tokio::sync::mpsc::channel(1)");
}

#[test]
fn switch_on_green_threads_and_coroutines() {
    let models = ["green-loop", "green", "may"];
    let lines = bench_models("switch", &models, "1000");
    for (line, model) in lines.iter().zip(models) {
        assert_ok(line, "switch", model, 2_000);
        assert!(
            line["raw_switch_ns"].as_f64().is_some_and(|ns| ns > 0.0),
            "{line}"
        );
        assert!(line["vs_raw"].as_f64().is_some(), "{line}");
        assert!(
            line["framed_switch_ns"].as_f64().is_some_and(|ns| ns > 0.0),
            "{line}"
        );
    }
}

#[test]
fn a_model_that_does_not_run_a_workload_exits_2() {
    for (workload, model) in [
        ("switch", "async-loop"),
        ("fanout", "may"),
        ("skynet", "thread-std"),
        ("http-hello", "green"),
    ] {
        let out = lab(&["bench", workload, "--model", model, "--n", "10"]);
        assert_eq!(out.status.code(), Some(2), "{workload} on {model}");
        let err = stderr(&out);
        assert!(
            err.contains(&format!("{model} does not run {workload}")),
            "{err}"
        );
    }
}

#[test]
fn ring_reports_the_index_and_its_build_time() {
    let models = ["async-loop", "tokio", "green", "may"];
    let lines = bench_models("ring", &models, "2500");
    for (line, model) in lines.iter().zip(models) {
        assert_ok(line, "ring", model, 500);
        assert!(line["build_ms"].as_f64().is_some(), "{line}");
    }
}

#[test]
fn fanout_on_async_green_and_os_thread_models() {
    let models = [
        "async-loop",
        "tokio-local",
        "green",
        "thread-crossbeam",
        "thread-flume",
        "thread-std",
        "thread-motet",
    ];
    let lines = bench_models("fanout", &models, "1000");
    for (line, model) in lines.iter().zip(models) {
        assert_ok(line, "fanout", model, 499_500);
        assert!(line["channel"].is_string(), "{line}");
    }
    assert_eq!(lines[3]["threads"], 5, "{}", lines[3]);
}
