//! How much memory a model may use on this machine, and where that figure comes from.

use serde::Serialize;

pub const MEMORY_LIMIT_ENV: &str = "FATHOM_MEMORY_LIMIT";

/// Where the budget comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub enum MemorySource {
    /// Linux: `MemAvailable` from /proc/meminfo, what can be allocated without swapping
    /// (free memory plus reclaimable caches).
    Available,
    /// macOS: Metal's `recommendedMaxWorkingSetSize` for the GPU, as MLX reports it (past it
    /// the GPU pages and generation slows to a crawl), or the memory available now if that is
    /// less: wired model memory cannot be swapped out to make room.
    GpuWorkingSet,
    /// macOS when Metal does not say: two thirds of RAM, Apple's default working-set limit on
    /// machines with little memory.
    TotalFraction,
    /// Set by the caller (tests, or a user override).
    Given,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct Memory {
    pub total_bytes: u64,
    pub available_bytes: u64,
    pub gpu_working_set_bytes: Option<u64>,
    pub source: MemorySource,
}

impl Memory {
    /// Reads this machine. `gpu_working_set` comes from the engine (MLX's device info), which
    /// this crate does not link. `FATHOM_MEMORY_LIMIT` (bytes) replaces the reading, for a user
    /// who wants to hold models to less, and for tests.
    pub fn read(gpu_working_set: Option<u64>) -> Self {
        if let Some(limit) = std::env::var(MEMORY_LIMIT_ENV)
            .ok()
            .and_then(|v| v.trim().parse().ok())
        {
            return Memory::given(limit);
        }
        // An unreadable system reports zero memory, which the verdict treats as "does not fit"
        // rather than guessing.
        let (total, available) = match sysinfo::System::new() {
            Ok(mut sys) => {
                sys.refresh_memory();
                (sys.total_memory(), sys.available_memory())
            }
            Err(_) => (0, 0),
        };
        let source = if cfg!(target_os = "macos") {
            if gpu_working_set.is_some() {
                MemorySource::GpuWorkingSet
            } else {
                MemorySource::TotalFraction
            }
        } else {
            MemorySource::Available
        };
        Memory {
            total_bytes: total,
            available_bytes: available,
            gpu_working_set_bytes: gpu_working_set,
            source,
        }
    }

    /// A fixed budget, for tests and for a user who knows better.
    pub fn given(bytes: u64) -> Self {
        Memory {
            total_bytes: bytes,
            available_bytes: bytes,
            gpu_working_set_bytes: None,
            source: MemorySource::Given,
        }
    }

    /// The bytes a model may take, per `source`.
    pub fn budget_bytes(&self) -> u64 {
        match self.source {
            MemorySource::Available | MemorySource::Given => self.available_bytes,
            MemorySource::GpuWorkingSet => self
                .gpu_working_set_bytes
                .unwrap_or(self.total_bytes / 3 * 2)
                .min(self.available_bytes),
            MemorySource::TotalFraction => (self.total_bytes / 3 * 2).min(self.available_bytes),
        }
    }
}

/// This machine's memory as a face shows it: the reading, and the budget the memory check holds
/// models to (computed here, so that no face computes it again).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct MemoryInfo {
    #[serde(flatten)]
    pub memory: Memory,
    pub budget_bytes: u64,
}

impl From<Memory> for MemoryInfo {
    fn from(memory: Memory) -> Self {
        MemoryInfo {
            budget_bytes: memory.budget_bytes(),
            memory,
        }
    }
}

/// The OS by name and version, its kernel and the processor count, for diagnostics.
pub fn system_description() -> String {
    let os = sysinfo::System::long_os_version().unwrap_or_else(|_| std::env::consts::OS.into());
    let kernel = sysinfo::System::kernel_version().unwrap_or_else(|_| "unknown".into());
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    format!("{os}, kernel {kernel}, {cpus} cores")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faces_get_the_budget_from_here_for_every_source() {
        // What the Models page shows: `budgetBytes` beside the reading, as the checks compute it.
        let gib = 1u64 << 30;
        let cases = [
            (
                16 * gib,
                8 * gib,
                Some(11 * gib),
                MemorySource::GpuWorkingSet,
                8 * gib,
            ),
            (
                64 * gib,
                60 * gib,
                Some(48 * gib),
                MemorySource::GpuWorkingSet,
                48 * gib,
            ),
            (24 * gib, 20 * gib, None, MemorySource::Available, 20 * gib),
            (30, 100, None, MemorySource::TotalFraction, 20),
        ];
        for (total, available, gpu, source, budget) in cases {
            let memory = Memory {
                total_bytes: total,
                available_bytes: available,
                gpu_working_set_bytes: gpu,
                source,
            };
            let wire = serde_json::to_value(MemoryInfo::from(memory)).unwrap();
            assert_eq!(wire["budgetBytes"], budget, "{source:?}");
            assert_eq!(wire["totalBytes"], total);
            assert_eq!(wire["source"], serde_json::to_value(source).unwrap());
        }
    }
}
