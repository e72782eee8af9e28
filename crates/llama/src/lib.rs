//! llama.cpp, shared by every part of Fathom that runs it (the generation engine's Linux backend
//! and the embedder's query path): its process-wide start, which may happen only once, the log
//! lines that explain its failures, the processor check that keeps it from dying on an illegal
//! instruction, and a GGUF writer built on ggml's own (so files are laid out as llama.cpp reads
//! them by construction).
//!
//! ```no_run
//! let backend = fathom_llama::backend()?;
//! # Ok::<(), fathom_llama::LlamaError>(())
//! ```

pub mod gguf;

use std::collections::VecDeque;
use std::ffi::CStr;
use std::os::raw::{c_char, c_void};
use std::sync::{Mutex, OnceLock};

pub use llama_cpp_2;
pub use llama_cpp_sys_2 as sys;

use llama_cpp_2::llama_backend::LlamaBackend;

#[derive(Debug, thiserror::Error)]
pub enum LlamaError {
    /// llama.cpp cannot run here (the processor, or its start failed).
    #[error("{0}")]
    Unavailable(String),
    #[error("{file}: {message}")]
    File { file: String, message: String },
    /// A tensor or value llama.cpp's formats cannot hold as given.
    #[error("{0}")]
    Invalid(String),
}

/// llama.cpp's process-wide start (it may happen once per process).
static LLAMA: OnceLock<Result<LlamaBackend, String>> = OnceLock::new();

/// The last lines llama.cpp logged at warning level or above, to explain a failure it reports
/// only as a null pointer or an error code.
static LOG: Mutex<VecDeque<String>> = Mutex::new(VecDeque::new());

unsafe extern "C" fn keep_log(level: sys::ggml_log_level, text: *const c_char, _: *mut c_void) {
    if text.is_null() {
        return;
    }
    // SAFETY: llama.cpp passes a NUL-terminated message.
    let text = unsafe { CStr::from_ptr(text) }.to_string_lossy();
    if std::env::var_os("FATHOM_LLAMA_LOG").is_some() {
        eprint!("{text}");
    }
    if level == sys::GGML_LOG_LEVEL_WARN || level == sys::GGML_LOG_LEVEL_ERROR {
        let mut log = LOG.lock().unwrap_or_else(|e| e.into_inner());
        if log.len() == 16 {
            log.pop_front();
        }
        log.push_back(text.trim().to_string());
    }
}

/// The x86 instruction sets ggml is built for (`.cargo/config.toml`) that this processor lacks;
/// llama.cpp would die on an illegal instruction there, so it is not started. Empty elsewhere.
pub fn missing_cpu_features() -> Vec<&'static str> {
    #[allow(unused_mut)]
    let mut missing = Vec::new();
    #[cfg(target_arch = "x86_64")]
    {
        macro_rules! check {
            ($($feature:tt),*) => {$(
                if !std::arch::is_x86_feature_detected!($feature) {
                    missing.push($feature);
                }
            )*};
        }
        check!("sse4.2", "avx", "avx2", "fma", "f16c", "bmi2");
    }
    missing
}

/// How long (in pause instructions) an idle OpenMP thread spins before it sleeps, where neither
/// this nor `OMP_WAIT_POLICY` is set already. libgomp's default, 300,000, keeps a worker spinning
/// on its core for a millisecond or more after every llama.cpp step: after a query's embedding,
/// the search that follows ran on one core of two (on 2 cores, a hybrid search with its query's
/// embedding took 2.8 ms longer at p50 than the two alone, 1.1 ms with 10,000: means of 10 and 5
/// runs of `fathom search-bench --generated-chunks 50000 --embedder DIR`). Within a step the
/// threads wait for each other for microseconds, well inside 10,000; a sleeping worker is woken
/// for the next step in tens of them.
pub const SPIN: &str = "10000";

/// libgomp reads its settings once, when it starts, before `main`; `SPIN` is set in the
/// environment by a constructor that runs before it: a prioritised `.init_array` entry, which
/// the linker places ahead of the unprioritised ones (libgomp's, linked in statically).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[used]
#[link_section = ".init_array.00090"]
static SET_SPIN: extern "C" fn() = {
    extern "C" fn set_spin() {
        if std::env::var_os("GOMP_SPINCOUNT").is_none()
            && std::env::var_os("OMP_WAIT_POLICY").is_none()
        {
            // Before `main`: no other thread exists to read the environment meanwhile.
            std::env::set_var("GOMP_SPINCOUNT", SPIN);
        }
    }
    set_spin
};

/// llama.cpp, started on first use (with its log captured), or why it cannot run here.
pub fn backend() -> Result<&'static LlamaBackend, LlamaError> {
    // Whatever links llama.cpp links the constructor with it (a linker keeps an object file only
    // when something in it is used).
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    std::hint::black_box(&SET_SPIN);
    let missing = missing_cpu_features();
    if !missing.is_empty() {
        return Err(LlamaError::Unavailable(format!(
            "llama.cpp cannot run on this processor: it lacks {} (x86-64-v3)",
            missing.join(", ")
        )));
    }
    LLAMA
        .get_or_init(|| {
            // SAFETY: a plain function pointer with no user data, set before anything logs.
            unsafe { sys::llama_log_set(Some(keep_log), std::ptr::null_mut()) };
            LlamaBackend::init().map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| LlamaError::Unavailable(format!("llama.cpp cannot start: {e}")))
}

/// Runs `work` with `state` (a llama.cpp context, or what holds one) on a new thread that ends
/// with it, and waits for it; `Err` says why it could not start or finish.
///
/// llama.cpp runs its steps with OpenMP, which keeps a team of worker threads for every thread
/// that ever started one, for that thread's whole life. libgomp counts those workers, and once
/// there are more than cores it stops spinning at its barriers and sleeps at each one: a
/// long-lived thread's team (a bulk encoder's, the engine's) slows every other context's steps
/// for as long as it lives (on 2 cores, with one other team alive, the two-thread query encoder
/// ran no faster than on one: p50 6.3 against 3.6 ms). Work started here takes its team with it
/// when it ends. A thread costs a tenth of a millisecond; a batch or a reply, hundreds.
pub fn on_passing_thread<T, R: Send>(
    state: &mut T,
    work: impl FnOnce(&mut T) -> R + Send,
) -> Result<R, String> {
    /// Lets the state cross to the passing thread.
    struct Lent<'a, T>(&'a mut T);
    // SAFETY: one thread uses the state at a time: the lending thread waits (the scope joins)
    // while the passing thread uses it, and a llama.cpp context keeps no per-thread state
    // (OpenMP's team, which does, is what is meant to end with the thread).
    unsafe impl<T> Send for Lent<'_, T> {}
    let lent = Lent(state);
    std::thread::scope(|s| {
        let worker = std::thread::Builder::new()
            .name("fathom-llama".into())
            .spawn_scoped(s, move || {
                // The whole wrapper moves, not its field (closures capture fields one by one).
                let lent = lent;
                work(lent.0)
            })
            .map_err(|e| format!("cannot start a thread for llama.cpp: {e}"))?;
        worker
            .join()
            .map_err(|_| "llama.cpp's work stopped with a panic".to_string())
    })
}

/// Forgets what llama.cpp complained about so far (before a call whose failure is to be explained).
pub fn clear_complaints() {
    LOG.lock().unwrap_or_else(|e| e.into_inner()).clear();
}

/// What llama.cpp last complained about, if anything, as a suffix for an error message.
pub fn last_complaint() -> String {
    let log = LOG.lock().unwrap_or_else(|e| e.into_inner());
    match log.back() {
        Some(line) => format!(" (llama.cpp: {line})"),
        None => String::new(),
    }
}
