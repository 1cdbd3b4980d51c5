//! What the benches read from /proc: CPU time of processes and the load average.

use std::path::Path;

/// CPU time (ms) of a process from /proc/PID/stat: utime + stime, all its threads, and with
/// `children` also cutime + cstime, what its exited children it waited for took.
pub fn cpu_ms(stat: &Path, children: bool) -> Option<f64> {
    let text = std::fs::read_to_string(stat).ok()?;
    // The command name is in parentheses and may hold spaces: count fields after the last ')'.
    let rest = text.get(text.rfind(')')? + 2..)?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok());
    let mut ticks = field(11)? + field(12)?;
    if children {
        ticks += field(13)? + field(14)?;
    }
    // USER_HZ is 100 on Linux.
    Some(ticks * 10.0)
}

/// This process's CPU time (ms), its own threads only.
pub fn own_cpu_ms() -> f64 {
    cpu_ms(Path::new("/proc/self/stat"), false).unwrap_or(0.0)
}

/// Summed CPU time (ms) of every process whose name is `name`, with what their exited children
/// took: a PostgreSQL backend that ends (a closed connection) leaves its CPU time with the
/// postmaster's cutime/cstime instead of taking it out of the sum.
pub fn cpu_of(name: &str) -> Option<f64> {
    let mut total = None;
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let path = entry.path();
        let comm = std::fs::read_to_string(path.join("comm")).unwrap_or_default();
        if comm.trim_end() == name {
            if let Some(ms) = cpu_ms(&path.join("stat"), true) {
                *total.get_or_insert(0.0) += ms;
            }
        }
    }
    total
}

pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}
