//! Reference figures of the peers (Go, Erlang, Node, tokio, may, nginx) on
//! the lab's workloads, copied from the project's WORKLOADS.md. They were
//! measured in separate runs, not by this binary: compare ratios, not digits.

/// Where and when the figures were measured.
pub const PROVENANCE: &str = "measured on 2026-11-29 on a 2-core VM, separate runs, not this run";

/// The peers, in column order, with their versions.
pub const PEERS: &[&str] = &[
    "Go 1.19",
    "Erlang/OTP 25",
    "Node 20",
    "tokio 1.54 mt (2 workers)",
    "tokio 1.54 ct",
    "may 0.3.51",
    "nginx 1.22",
];

/// One figure of one workload, for every peer ("" where none was measured).
pub struct PeerRow {
    /// The workload's id.
    pub workload: &'static str,
    /// The figure and its unit.
    pub metric: &'static str,
    /// One cell per entry of [`PEERS`].
    pub cells: [&'static str; 7],
}

/// Every reference figure.
pub const ROWS: &[PeerRow] = &[
    PeerRow {
        workload: "skynet",
        metric: "ms",
        cells: [
            "569",
            "1,927",
            "529",
            "702",
            "439",
            "crashes (map limit)",
            "",
        ],
    },
    PeerRow {
        workload: "pingpong",
        metric: "ns/round trip",
        cells: [
            "202 (GOMAXPROCS=1) / 209 (=2)",
            "510",
            "108 (promise channel)",
            "334",
            "250",
            "311",
            "",
        ],
    },
    PeerRow {
        workload: "ring",
        metric: "ns/hop",
        cells: ["115", "257", "", "180", "131", "169", ""],
    },
    PeerRow {
        workload: "spawn-idle",
        metric: "bytes/unit",
        cells: ["2,869", "3,003", "963", "403", "472", "crashes", ""],
    },
    PeerRow {
        workload: "spawn-idle",
        metric: "spawn ns/unit",
        cells: ["2,103", "2,334", "746", "464", "387", "", ""],
    },
    PeerRow {
        workload: "http-hello",
        metric: "req/s",
        cells: ["81,800", "", "76,700", "hyper 127,000", "", "", "148,000"],
    },
];

/// The reference rows of one workload.
pub fn rows(workload: &str) -> impl Iterator<Item = &'static PeerRow> + '_ {
    ROWS.iter().filter(move |r| r.workload == workload)
}
