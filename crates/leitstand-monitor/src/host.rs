//! Host metrics of the machine Leitstand runs on, read from Linux's
//! `/proc` and `statvfs`, under node_exporter's metric names so the default
//! rule pack works the same whether a team scrapes node_exporter or relies
//! on Leitstand alone: CPU seconds per mode, memory, filesystem sizes, disk
//! I/O counters (for I/O latency) and network error counters.
//!
//! The parsers take the files' text, so they are tested with fixtures; a
//! file that cannot be read or parsed yields an error naming it and does
//! not stop the other collectors.

use std::path::Path;

use crate::series::{Labels, NAME};

/// One collected sample.
#[derive(Debug, Clone, PartialEq)]
pub struct HostSample {
    /// Labels, the metric name as `__name__`.
    pub labels: Labels,
    /// Value.
    pub value: f64,
}

/// Why a source could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{source_name}: {message}")]
pub struct HostError {
    /// The file (or call).
    pub source_name: String,
    /// What is wrong.
    pub message: String,
}

fn sample(name: &str, labels: &[(&str, &str)], value: f64) -> HostSample {
    let mut l: Labels = vec![(NAME.to_string(), name.to_string())];
    l.extend(labels.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    HostSample { labels: crate::series::normalise(l), value }
}

fn bad(source: &str, message: impl Into<String>) -> HostError {
    HostError { source_name: source.into(), message: message.into() }
}

/// `/proc/stat` → `node_cpu_seconds_total{cpu, mode}` (USER_HZ = 100).
pub fn parse_stat(text: &str) -> Result<Vec<HostSample>, HostError> {
    const MODES: [&str; 8] = ["user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal"];
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let mut fields = line.split_whitespace();
        let Some(cpu) = fields.next().and_then(|f| f.strip_prefix("cpu")).filter(|c| !c.is_empty()) else {
            continue;
        };
        for (mode, field) in MODES.iter().zip(fields) {
            let ticks: f64 =
                field.parse().map_err(|_| bad("/proc/stat", format!("line {}: {field:?} is not a number", n + 1)))?;
            out.push(sample("node_cpu_seconds_total", &[("cpu", cpu), ("mode", mode)], ticks / 100.0));
        }
    }
    if out.is_empty() {
        return Err(bad("/proc/stat", "no cpuN lines"));
    }
    Ok(out)
}

/// `/proc/meminfo` → `node_memory_<Field>_bytes` for the fields the rules
/// and the UI use.
pub fn parse_meminfo(text: &str) -> Result<Vec<HostSample>, HostError> {
    let mut out = Vec::new();
    for line in text.lines() {
        let Some((key, rest)) = line.split_once(':') else { continue };
        if !matches!(key, "MemTotal" | "MemAvailable" | "MemFree" | "Buffers" | "Cached" | "SwapTotal" | "SwapFree") {
            continue;
        }
        let mut parts = rest.split_whitespace();
        let value: f64 = parts
            .next()
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| bad("/proc/meminfo", format!("{key}: no number")))?;
        let factor = if parts.next() == Some("kB") { 1024.0 } else { 1.0 };
        out.push(sample(&format!("node_memory_{key}_bytes"), &[], value * factor));
    }
    if !out.iter().any(|s| s.labels.iter().any(|(_, v)| v == "node_memory_MemTotal_bytes")) {
        return Err(bad("/proc/meminfo", "no MemTotal"));
    }
    Ok(out)
}

/// `/proc/diskstats` → `node_disk_{reads,writes}_completed_total` and
/// `node_disk_{read,write}_time_seconds_total` per whole device (not
/// partitions' duplicates of loop and ram devices).
pub fn parse_diskstats(text: &str) -> Result<Vec<HostSample>, HostError> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 11 {
            continue;
        }
        let device = f[2];
        if device.starts_with("loop") || device.starts_with("ram") {
            continue;
        }
        let num = |i: usize| -> Result<f64, HostError> {
            f[i].parse().map_err(|_| bad("/proc/diskstats", format!("line {}: field {} is not a number", n + 1, i + 1)))
        };
        let d = [("device", device)];
        out.push(sample("node_disk_reads_completed_total", &d, num(3)?));
        out.push(sample("node_disk_read_time_seconds_total", &d, num(6)? / 1000.0));
        out.push(sample("node_disk_writes_completed_total", &d, num(7)?));
        out.push(sample("node_disk_write_time_seconds_total", &d, num(10)? / 1000.0));
    }
    Ok(out)
}

/// `/proc/net/dev` → receive/transmit error and drop counters per
/// interface (`node_network_{receive,transmit}_{errs,drop}_total`).
pub fn parse_netdev(text: &str) -> Result<Vec<HostSample>, HostError> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate().skip(2) {
        let Some((device, rest)) = line.split_once(':') else { continue };
        let device = device.trim();
        let f: Vec<&str> = rest.split_whitespace().collect();
        if f.len() < 16 {
            return Err(bad("/proc/net/dev", format!("line {}: {} fields, expected 16", n + 1, f.len())));
        }
        let num = |i: usize| -> Result<f64, HostError> {
            f[i].parse().map_err(|_| bad("/proc/net/dev", format!("line {}: {:?} is not a number", n + 1, f[i])))
        };
        let d = [("device", device)];
        out.push(sample("node_network_receive_errs_total", &d, num(2)?));
        out.push(sample("node_network_receive_drop_total", &d, num(3)?));
        out.push(sample("node_network_transmit_errs_total", &d, num(10)?));
        out.push(sample("node_network_transmit_drop_total", &d, num(11)?));
    }
    Ok(out)
}

/// Filesystem size and free space of `mountpoint`
/// (`node_filesystem_{size,avail}_bytes{mountpoint, fstype}`).
pub fn filesystem(mountpoint: &Path, fstype: &str) -> Result<Vec<HostSample>, HostError> {
    let stat = rustix::fs::statvfs(mountpoint)
        .map_err(|e| bad(&format!("statvfs {}", mountpoint.display()), e.to_string()))?;
    let block = stat.f_frsize as f64;
    let m = mountpoint.display().to_string();
    let l = [("mountpoint", m.as_str()), ("fstype", fstype)];
    Ok(vec![
        sample("node_filesystem_size_bytes", &l, stat.f_blocks as f64 * block),
        sample("node_filesystem_avail_bytes", &l, stat.f_bavail as f64 * block),
    ])
}

/// A `/proc` file's parser.
type Parser = fn(&str) -> Result<Vec<HostSample>, HostError>;

/// Reads every source once. Sources that fail are reported beside the
/// samples of those that worked.
pub fn collect(data_dir: &Path) -> (Vec<HostSample>, Vec<HostError>) {
    let mut samples = Vec::new();
    let mut errors = Vec::new();
    let sources: [(&str, Parser); 4] = [
        ("/proc/stat", parse_stat),
        ("/proc/meminfo", parse_meminfo),
        ("/proc/diskstats", parse_diskstats),
        ("/proc/net/dev", parse_netdev),
    ];
    for (path, parse) in sources {
        match std::fs::read_to_string(path).map_err(|e| bad(path, e.to_string())).and_then(|t| parse(&t)) {
            Ok(s) => samples.extend(s),
            Err(e) => errors.push(e),
        }
    }
    for (mountpoint, fstype) in [(Path::new("/"), "rootfs"), (data_dir, "data")] {
        match filesystem(mountpoint, fstype) {
            Ok(s) => samples.extend(s),
            Err(e) => errors.push(e),
        }
    }
    (samples, errors)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn value(samples: &[HostSample], name: &str, label: Option<(&str, &str)>) -> f64 {
        samples
            .iter()
            .find(|s| {
                s.labels.iter().any(|(k, v)| k == NAME && v == name)
                    && label.is_none_or(|(k, v)| s.labels.iter().any(|(a, b)| a == k && b == v))
            })
            .unwrap_or_else(|| panic!("{name} {label:?}"))
            .value
    }

    #[test]
    fn proc_files_become_node_exporter_metrics() {
        let stat = "cpu  10 0 5 100 1 0 0 0 0 0\ncpu0 500 20 300 10000 50 0 7 0 0 0\ncpu1 400 10 200 11000 40 0 3 0 0 0\nintr 1\n";
        let s = parse_stat(stat).unwrap();
        assert_eq!(s.len(), 16, "two CPUs × eight modes; the total line is skipped");
        assert_eq!(value(&s, "node_cpu_seconds_total", Some(("mode", "idle"))), 100.0);
        let mem = "MemTotal:       16000000 kB\nMemFree:         1000000 kB\nMemAvailable:    8000000 kB\nHugePages_Total: 0\n";
        let m = parse_meminfo(mem).unwrap();
        assert_eq!(value(&m, "node_memory_MemAvailable_bytes", None), 8_192_000_000.0);
        let disk = "   8       0 sda 1000 0 8000 500 2000 0 16000 1500 0 1200 2000\n   7       0 loop0 5 0 10 0 0 0 0 0 0 0 0\n";
        let d = parse_diskstats(disk).unwrap();
        assert_eq!(d.len(), 4);
        assert_eq!(value(&d, "node_disk_write_time_seconds_total", Some(("device", "sda"))), 1.5);
        let net = "Inter-|   Receive                                                |  Transmit\n face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n  eth0: 1000 10 2 3 0 0 0 0 2000 20 4 5 0 0 0 0\n";
        let n = parse_netdev(net).unwrap();
        assert_eq!(value(&n, "node_network_transmit_drop_total", Some(("device", "eth0"))), 5.0);
    }

    #[test]
    fn broken_files_are_named_and_do_not_stop_the_rest() {
        assert_eq!(parse_stat("cpu0 1 x 3\n").unwrap_err().to_string(), "/proc/stat: line 1: \"x\" is not a number");
        assert_eq!(parse_meminfo("MemFree: 1 kB\n").unwrap_err().to_string(), "/proc/meminfo: no MemTotal");
        let dir = tempfile::tempdir().unwrap();
        let (samples, errors) = collect(dir.path());
        assert!(errors.is_empty(), "{errors:?}");
        let avail = value(&samples, "node_filesystem_avail_bytes", Some(("fstype", "data")));
        let size = value(&samples, "node_filesystem_size_bytes", Some(("fstype", "data")));
        assert!(avail > 0.0 && avail <= size, "{avail} of {size}");
        assert!(value(&samples, "node_memory_MemTotal_bytes", None) > 0.0);
        let err = filesystem(Path::new("/does/not/exist"), "x").unwrap_err();
        assert!(err.to_string().starts_with("statvfs /does/not/exist: "), "{err}");
    }
}
