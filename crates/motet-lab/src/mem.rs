//! Memory figures of the current process, read from Linux's `/proc/self`.
//!
//! The lab runs every measurement in a fresh child process, so these figures
//! belong to one (model, workload, repeat) alone.

use std::fs;
use std::io;

/// Reads one `kB` field (such as `VmRSS` or `VmHWM`) of `/proc/self/status`.
fn status_kb(field: &str) -> io::Result<u64> {
    let status = fs::read_to_string("/proc/self/status")?;
    status
        .lines()
        .find_map(|line| {
            let rest = line.strip_prefix(field)?.strip_prefix(':')?;
            rest.trim().trim_end_matches("kB").trim().parse().ok()
        })
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("no {field} line in /proc/self/status"),
            )
        })
}

/// The resident set size now, in KiB (`VmRSS`).
pub fn rss_kb() -> io::Result<u64> {
    status_kb("VmRSS")
}

/// The memory the kernel holds for this process's page tables now, in KiB
/// (`VmPTE`): not part of `VmRSS`, and a cost per unit for units that
/// touch memory in many places (a green thread's stack top, in its own
/// 2 MiB of address space or a few of them sharing one).
pub fn page_tables_kb() -> io::Result<u64> {
    status_kb("VmPTE")
}

/// The peak resident set size since start or since [`reset_peak`], in KiB (`VmHWM`).
pub fn peak_rss_kb() -> io::Result<u64> {
    status_kb("VmHWM")
}

/// Resets the peak (`VmHWM`) to the current RSS by writing `5` to `/proc/self/clear_refs`.
pub fn reset_peak() -> io::Result<()> {
    fs::write("/proc/self/clear_refs", "5")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_rss_and_peak() {
        let rss = rss_kb().unwrap();
        assert!(rss > 0);
        assert!(peak_rss_kb().unwrap() >= rss);
        // A running process has page tables (at least one page of them).
        assert!(page_tables_kb().unwrap() >= 4);
    }
}
