//! A process's CPU time and memory from `/proc/<pid>/stat` and `/proc/<pid>/status` (Linux).

/// CPU and memory of a process at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ProcSample {
    /// User plus system CPU time, seconds.
    pub cpu_s: f64,
    /// Resident set size, KiB.
    pub rss_kib: u64,
    /// Peak resident set size, KiB.
    pub hwm_kib: u64,
}

/// Reads a sample of process `pid`; `None` when it is gone or `/proc` is unreadable.
pub fn sample(pid: u32) -> Option<ProcSample> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    let ticks = parse_stat_ticks(&stat)?;
    let (rss_kib, hwm_kib) = parse_status_mem(&status);
    Some(ProcSample {
        cpu_s: ticks as f64 / hz,
        rss_kib,
        hwm_kib,
    })
}

/// CPU seconds per thread name of process `pid` (`/proc/<pid>/task/*/stat`), summed over
/// threads that share a name (tokio's workers do), sorted by name. Empty when unreadable.
pub fn threads(pid: u32) -> Vec<(String, f64)> {
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    let mut by_name: std::collections::BTreeMap<String, f64> = std::collections::BTreeMap::new();
    for entry in dir.flatten() {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        let (Some(name), Some(ticks)) = (stat_name(&stat), parse_stat_ticks(&stat)) else {
            continue;
        };
        *by_name.entry(name.to_owned()).or_default() += ticks as f64 / hz;
    }
    by_name.into_iter().collect()
}

/// The command name of a stat line: between the first `(` and the last `)`.
pub fn stat_name(stat: &str) -> Option<&str> {
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    stat.get(open + 1..close)
}

/// Per-name CPU spent between two [`threads`] samples, largest first (threads that appeared
/// in between count from zero).
pub fn thread_delta(before: &[(String, f64)], after: &[(String, f64)]) -> Vec<(String, f64)> {
    let mut out: Vec<(String, f64)> = after
        .iter()
        .map(|(name, cpu)| {
            let was = before
                .iter()
                .find(|(n, _)| n == name)
                .map_or(0.0, |(_, c)| *c);
            (name.clone(), (cpu - was).max(0.0))
        })
        .collect();
    out.sort_by(|a, b| b.1.total_cmp(&a.1));
    out
}

/// utime + stime (fields 14 and 15) of a `/proc/<pid>/stat` line, in clock ticks. The command
/// name (field 2) may contain spaces and parentheses, so fields are counted after the last `)`.
pub fn parse_stat_ticks(stat: &str) -> Option<u64> {
    let after = stat.rsplit_once(')')?.1;
    let mut f = after.split_whitespace().skip(11);
    let utime: u64 = f.next()?.parse().ok()?;
    let stime: u64 = f.next()?.parse().ok()?;
    Some(utime.saturating_add(stime))
}

/// `VmRSS` and `VmHWM` in KiB (0 when absent).
pub fn parse_status_mem(status: &str) -> (u64, u64) {
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_counted_after_the_command_name() {
        let line = "4242 (dais d) (x) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 9 0 \
                    123 456 789";
        assert_eq!(parse_stat_ticks(line), Some(300));
        assert_eq!(parse_stat_ticks("garbage"), None);
        let status = "Name:\tdaisd\nVmHWM:\t  2048 kB\nVmRSS:\t  1024 kB\n";
        assert_eq!(parse_status_mem(status), (1024, 2048));
        let me = sample(std::process::id()).unwrap();
        assert!(me.rss_kib > 0);
        assert_eq!(stat_name(line), Some("dais d) (x"));
        let mine = threads(std::process::id());
        assert!(!mine.is_empty(), "this test's own threads are listed");
        let d = thread_delta(
            &[("a".into(), 1.0), ("b".into(), 2.0)],
            &[("a".into(), 1.5), ("b".into(), 5.0), ("c".into(), 0.25)],
        );
        assert_eq!(
            d,
            [("b".into(), 3.0), ("a".into(), 0.5), ("c".into(), 0.25)]
        );
    }
}
