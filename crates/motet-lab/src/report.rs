//! The readable report: one comparison table per workload, its failures
//! below it, then the peers' reference figures for the same workload.

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{CellAlignment, ContentArrangement, Table};

use crate::bench::Summary;
use crate::models;
use crate::peers;
use crate::workloads::WorkloadInfo;

/// Prints the report of one workload to stdout.
pub fn print(workload: &WorkloadInfo, rows: &[Summary]) {
    let n = rows.first().map_or(workload.default_n, |r| r.n);
    println!(
        "\n{} (n = {}): {}; ns/op = per {}",
        workload.id,
        thousands(n as f64, 0),
        workload.about,
        workload.op
    );
    println!("{}", comparison(workload, rows));
    for row in rows.iter().filter(|r| !r.ok) {
        let why = row.error.as_deref().unwrap_or("unknown");
        println!("  {} failed: {why}", row.model);
    }
    for row in rows {
        if let Some(config) = row.extra.get("config").and_then(|c| c.as_str()) {
            println!("  {} ran with this configuration:", row.model);
            for line in config.lines() {
                println!("    {line}");
            }
        }
    }
    if let Some(peers) = reference(workload.id) {
        println!("Reference figures ({}):", peers::PROVENANCE);
        println!("{peers}");
    }
}

/// The comparison table: one row per model.
pub fn comparison(workload: &WorkloadInfo, rows: &[Summary]) -> Table {
    // Compared per op: the same as by ms where every model does the same ops,
    // and the right thing where the op count is the figure (req/s).
    let baseline = rows
        .iter()
        .find(|r| r.model == models::BASELINE && r.ok)
        .and_then(|r| r.ns_per_op);
    let mut header = vec![
        "model",
        "memory",
        "parallel",
        "switching",
        "threads",
        "ms",
        "ns/op",
    ];
    header.extend(workload.columns.iter().map(|c| c.header));
    let vs = format!("vs {}", models::BASELINE);
    header.extend(["ok", vs.as_str()]);

    let mut table = new_table();
    table.set_header(header);
    for row in rows {
        let axes = models::find(row.model).map(|m| m.axes.words());
        let [memory, parallel, switching] = axes.unwrap_or(["?"; 3]);
        let mut cells = vec![
            row.model.to_string(),
            memory.to_string(),
            parallel.to_string(),
            switching.to_string(),
            row.threads.map_or("-".into(), |t| t.to_string()),
            figure(row.ms, 1),
            figure(row.ns_per_op, 1),
        ];
        cells.extend(workload.columns.iter().map(|c| {
            match row.extra.get(c.field).and_then(|v| v.as_str()) {
                Some(text) => text.to_string(),
                None => figure(row.number(c.field).map(|v| v / c.divisor), c.decimals),
            }
        }));
        cells.push(if row.ok { "yes" } else { "NO" }.into());
        cells.push(match (row.ns_per_op, baseline) {
            (Some(ns), Some(base)) if base > 0.0 => format!("{:.2}x", ns / base),
            _ => "-".into(),
        });
        table.add_row(cells);
    }
    for index in 4..table.column_count() {
        if let Some(column) = table.column_mut(index) {
            column.set_cell_alignment(CellAlignment::Right);
        }
    }
    table
}

/// The peers' figures for one workload, or `None` where there are none.
fn reference(workload: &str) -> Option<Table> {
    let rows: Vec<_> = peers::rows(workload).collect();
    if rows.is_empty() {
        return None;
    }
    // Only the peers measured on this workload get a column.
    let shown: Vec<usize> = (0..peers::PEERS.len())
        .filter(|&i| rows.iter().any(|r| !r.cells[i].is_empty()))
        .collect();
    let mut table = new_table();
    let mut header = vec![""];
    header.extend(shown.iter().map(|&i| peers::PEERS[i]));
    table.set_header(header);
    for row in rows {
        let mut cells = vec![row.metric];
        cells.extend(shown.iter().map(|&i| row.cells[i]));
        table.add_row(cells);
    }
    Some(table)
}

fn new_table() -> Table {
    let mut table = Table::new();
    table
        .load_style(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic);
    table
}

/// A figure with thousands separators, or "-" when missing.
fn figure(value: Option<f64>, decimals: usize) -> String {
    value.map_or("-".into(), |v| thousands(v, decimals))
}

/// `1234567.891` with 1 decimal -> `1,234,567.9`.
fn thousands(value: f64, decimals: usize) -> String {
    if !value.is_finite() {
        return value.to_string();
    }
    let text = format!("{:.*}", decimals, value.abs());
    let (whole, fraction) = text.split_once('.').unwrap_or((&text, ""));
    let mut grouped = String::new();
    for (i, digit) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    let sign = if value < 0.0 && text.chars().any(|c| c != '0' && c != '.') {
        "-"
    } else {
        ""
    };
    if fraction.is_empty() {
        format!("{sign}{grouped}")
    } else {
        format!("{sign}{grouped}.{fraction}")
    }
}

#[cfg(test)]
mod tests {
    use super::{reference, thousands};

    #[test]
    fn http_hello_shows_its_peer_figures() {
        let table = reference("http-hello")
            .expect("http-hello has peer figures")
            .to_string();
        for cell in ["81,800", "76,700", "hyper 127,000", "148,000", "nginx 1.22"] {
            assert!(table.contains(cell), "{cell} not in:\n{table}");
        }
    }

    #[test]
    fn channel_workloads_show_their_peer_figures() {
        let table = reference("pingpong")
            .expect("pingpong has peer figures")
            .to_string();
        for cell in ["202 (GOMAXPROCS=1) / 209 (=2)", "510", "334", "250", "311"] {
            assert!(table.contains(cell), "{cell} not in:\n{table}");
        }
        let table = reference("ring")
            .expect("ring has peer figures")
            .to_string();
        for cell in ["115", "257", "180", "131", "169"] {
            assert!(table.contains(cell), "{cell} not in:\n{table}");
        }
    }

    #[test]
    fn groups_thousands() {
        assert_eq!(thousands(0.0, 0), "0");
        assert_eq!(thousands(999.0, 0), "999");
        assert_eq!(thousands(1234567.891, 1), "1,234,567.9");
        assert_eq!(thousands(-1500.0, 0), "-1,500");
        assert_eq!(thousands(438.96, 2), "438.96");
    }
}
