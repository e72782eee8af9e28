//! `fathom pull`, `models`, `rm` and `fit` as a user runs them, against a real HTTP server on
//! loopback in the Hub's shape: a download killed mid-way and restarted, a disk that fills up.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use fathom_fakehub::FakeHub;
use sha2::Digest;

const REPO: &str = "test/tiny-gpt-oss";
const FILES: [&str; 6] = [
    "config.json",
    "model-00001-of-00003.safetensors",
    "model-00002-of-00003.safetensors",
    "model-00003-of-00003.safetensors",
    "model.safetensors.index.json",
    "tokenizer.json",
];

fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.tools/fixtures/gpt-oss/f32")
}

struct Env {
    hub: FakeHub,
    served: tempfile::TempDir,
    home: tempfile::TempDir,
}

impl Env {
    async fn new() -> Env {
        let served = tempfile::tempdir().unwrap();
        let repo = served.path().join(REPO);
        std::fs::create_dir_all(&repo).unwrap();
        for f in FILES {
            std::fs::copy(fixture().join(f), repo.join(f)).expect("run scripts/fixtures.sh");
        }
        Env {
            hub: FakeHub::start(served.path(), 0).await.unwrap(),
            served,
            home: tempfile::tempdir().unwrap(),
        }
    }

    fn cache(&self) -> PathBuf {
        self.home.path().join("hub")
    }

    fn command(&self, cache: &Path, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_fathom"));
        c.args(args)
            .env("HF_ENDPOINT", self.hub.url())
            .env("HF_HUB_CACHE", cache)
            .env("HF_HOME", self.home.path().join("hf-home"))
            .env("FATHOM_DATA_DIR", self.home.path().join("fathom"))
            .env_remove("HF_TOKEN");
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(&self.cache(), args).output().unwrap()
    }

    fn served(&self, f: &str) -> Vec<u8> {
        std::fs::read(self.served.path().join(REPO).join(f)).unwrap()
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn partial_bytes(blobs: &Path) -> u64 {
    std::fs::read_dir(blobs)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".incomplete"))
        .filter_map(|e| e.metadata().ok().map(|m| m.len()))
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_killed_pull_resumes_when_run_again() {
    let env = Env::new().await;
    env.hub.throttle(100_000);
    let mut child = env
        .command(&env.cache(), &["pull", REPO])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let blobs = env.cache().join("models--test--tiny-gpt-oss/blobs");
    let deadline = Instant::now() + Duration::from_secs(60);
    while partial_bytes(&blobs) < 200_000 {
        assert!(Instant::now() < deadline, "the download never started");
        assert!(
            child.try_wait().unwrap().is_none(),
            "pull ended before it was killed"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL: no chance to clean up
    child.wait().unwrap();
    let kept = partial_bytes(&blobs);
    assert!(kept >= 200_000);
    let before = env.hub.log().len();
    env.hub.throttle(0);

    let out = env.run(&["pull", REPO]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let snapshot = PathBuf::from(text(&out.stdout).trim());
    for f in FILES {
        assert!(
            std::fs::read(snapshot.join(f)).unwrap() == env.served(f),
            "{f}"
        );
    }
    let resumed: Vec<_> = env.hub.log()[before..]
        .iter()
        .filter(|r| {
            r.path.contains("/resolve/")
                && r.range
                    .as_deref()
                    .is_some_and(|r| !r.starts_with("bytes=0-"))
        })
        .cloned()
        .collect();
    assert!(!resumed.is_empty(), "nothing resumed with a Range request");
    // What the restart fetched is the rest, not everything again.
    let total: u64 = FILES.iter().map(|f| env.served(f).len() as u64).sum();
    assert!(partial_bytes(&blobs) == 0);
    assert!(kept < total);
}

// A tmpfs in a private mount namespace is Linux only; macOS runs the other download tests.
#[cfg(target_os = "linux")]
/// Runs `script` as root of a private mount namespace (no privileges needed), where `$SMALL` is a
/// tmpfs of `size`: a real filesystem that really fills up.
fn in_small_fs(env: &Env, size: &str, script: &str) -> Output {
    let small = env.home.path().join("small");
    std::fs::create_dir_all(&small).unwrap();
    let fathom = env!("CARGO_BIN_EXE_fathom");
    let full =
        format!("set -u; mount -t tmpfs -o size={size} tmpfs \"$SMALL\" || exit 99; {script}");
    let out = env
        .command(&small.join("hub"), &[])
        .env("SMALL", &small)
        .env("FATHOM", fathom)
        .env("HF_HUB_CACHE", small.join("hub"))
        .env("OUT", env.home.path())
        .arg0_replace("unshare")
        .args(["--user", "--map-root-user", "--mount", "sh", "-c", &full])
        .output()
        .unwrap();
    assert_ne!(
        out.status.code(),
        Some(99),
        "cannot mount a tmpfs in a user namespace: {}",
        text(&out.stderr)
    );
    out
}

#[cfg(target_os = "linux")]
trait Arg0 {
    fn arg0_replace(&mut self, program: &str) -> Command;
}

#[cfg(target_os = "linux")]
impl Arg0 for Command {
    /// The same environment, another program.
    fn arg0_replace(&mut self, program: &str) -> Command {
        let mut c = Command::new(program);
        for (k, v) in self.get_envs() {
            match v {
                Some(v) => c.env(k, v),
                None => c.env_remove(k),
            };
        }
        c
    }
}

#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_disk_too_small_is_refused_before_starting() {
    let env = Env::new().await;
    let out = in_small_fs(&env, "600k", "\"$FATHOM\" pull test/tiny-gpt-oss");
    let err = text(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("not enough disk space in"), "{err}");
    assert!(err.contains("the download needs 1"), "{err}");
    assert!(
        env.hub
            .log()
            .iter()
            .all(|r| !r.path.ends_with(".safetensors")
                || r.range
                    .as_deref()
                    .is_some_and(|r| r.starts_with("bytes=0-7") || r.starts_with("bytes=8-"))),
        "weights were fetched"
    );
}

#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_disk_that_fills_up_mid_way_stops_cleanly_and_the_pull_finishes_once_there_is_room() {
    let env = Env::new().await;
    env.hub.throttle(200_000);
    // Start the pull, fill the disk once it is under way, then free the space and pull again.
    let script = r#"
        "$FATHOM" pull test/tiny-gpt-oss > /dev/null 2> "$OUT/first.err" & pid=$!
        # Waits on the download itself (a wide deadline, not a count of sleeps: a loaded machine
        # can take long to start the pull).
        deadline=$(( $(date +%s) + 300 ))
        until [ "$(cat "$SMALL"/hub/models--test--tiny-gpt-oss/blobs/*.incomplete 2>/dev/null | wc -c)" -gt 100000 ]; do
            kill -0 $pid 2>/dev/null || { echo "the pull ended before the disk was filled" >&2; exit 97; }
            [ "$(date +%s)" -gt $deadline ] && { echo "the pull wrote nothing in 300 s" >&2; exit 98; }
            sleep 0.05
        done
        dd if=/dev/zero of="$SMALL/filler" bs=4k 2>/dev/null
        wait $pid; echo "first=$?" > "$OUT/first.rc"
        ls -la "$SMALL"/hub/models--test--tiny-gpt-oss/blobs/ > "$OUT/kept.txt"
        rm "$SMALL/filler"
        "$FATHOM" pull test/tiny-gpt-oss > "$OUT/second.out" 2> "$OUT/second.err"; echo "second=$?" > "$OUT/second.rc"
        snap=$(cat "$OUT/second.out")
        mkdir -p "$OUT/got" && cp -L "$snap"/* "$OUT/got/" || { echo "no snapshot from the second pull" >&2; exit 96; }
    "#;
    let out = in_small_fs(&env, "2200k", script);
    let read = |f: &str| std::fs::read_to_string(env.home.path().join(f)).unwrap_or_default();
    assert!(
        out.status.success(),
        "{} {}",
        text(&out.stderr),
        read("first.err")
    );
    assert_eq!(read("first.rc").trim(), "first=1");
    let first = read("first.err");
    assert!(first.contains("not enough disk space in"), "{first}");
    assert!(first.contains("more bytes"), "{first}");
    // What was written before the disk filled was kept for the next run.
    assert!(
        read("kept.txt").contains(".incomplete"),
        "{}",
        read("kept.txt")
    );
    assert_eq!(
        read("second.rc").trim(),
        "second=0",
        "{}",
        read("second.err")
    );
    for f in FILES {
        let got = std::fs::read(env.home.path().join("got").join(f)).unwrap();
        assert_eq!(
            hex::encode(sha2::Sha256::digest(&got)),
            hex::encode(sha2::Sha256::digest(env.served(f))),
            "{f}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn models_lists_what_pull_installed_and_rm_deletes_it() {
    let env = Env::new().await;
    let out = env.run(&["models", "--json"]);
    let before: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(before["installed"], serde_json::json!([]));
    assert_eq!(before["catalogue"][0]["repo"], "foadmk/context-1-MLX-MXFP4");
    let out = env.run(&["pull", REPO]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).starts_with("Fits: needs"),
        "{}",
        text(&out.stderr)
    );
    let after: serde_json::Value =
        serde_json::from_slice(&env.run(&["models", "--json"]).stdout).unwrap();
    assert_eq!(after["installed"][0]["repo"], REPO);
    let out = env.run(&["rm", REPO]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(!env.cache().join("models--test--tiny-gpt-oss").exists());
    let out = env.run(&["rm", REPO]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("model test/tiny-gpt-oss was not found on this machine"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fit_reads_the_same_shape_remotely_and_locally() {
    let env = Env::new().await;
    let remote = env.run(&["fit", REPO, "--json", "--context", "4096"]);
    assert!(remote.status.success(), "{}", text(&remote.stderr));
    let remote: serde_json::Value = serde_json::from_slice(&remote.stdout).unwrap();
    let dir = env.served.path().join(REPO);
    let local = env.run(&["fit", dir.to_str().unwrap(), "--json", "--context", "4096"]);
    let local: serde_json::Value = serde_json::from_slice(&local.stdout).unwrap();
    assert_eq!(remote["requested"], local["requested"]);
    assert_eq!(remote["verdict"], "fits");
    assert_eq!(remote["requested"]["context"], 4096);
    // Weights: the tensors' bytes (f32 here) — the sum of the shards' data, without headers.
    let shards: u64 = FILES[1..4].iter().map(|f| env.served(f).len() as u64).sum();
    let weights = remote["requested"]["weightsBytes"].as_u64().unwrap();
    assert!(
        weights < shards && weights > shards * 9 / 10,
        "{weights} vs {shards}"
    );
    let human = env.run(&["fit", REPO]);
    assert!(
        text(&human.stdout).contains("longest context that fits: 131072"),
        "{}",
        text(&human.stdout)
    );
    let missing = env.run(&["fit", "test/missing"]);
    assert!(
        text(&missing.stderr).contains("was not found on"),
        "{}",
        text(&missing.stderr)
    );
}

/// Serves the tiny dense Context-1 fixture as `chromadb/context-1`.
fn serve_dense(env: &Env) {
    let src = fixture().join("../context1-dense");
    let dir = env.served.path().join("chromadb/context-1");
    std::fs::create_dir_all(&dir).unwrap();
    for f in ["config.json", "model.safetensors", "tokenizer.json"] {
        std::fs::copy(src.join(f), dir.join(f)).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_dense_checkpoint_is_converted_after_download_and_listed_as_its_mxfp4_copy() {
    let env = Env::new().await;
    serve_dense(&env);
    let out = env.run(&["pull", "chromadb/context-1"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("converting the dense checkpoint to MXFP4"),
        "{}",
        text(&out.stderr)
    );
    let path = PathBuf::from(text(&out.stdout).trim());
    assert!(
        path.starts_with(env.home.path().join("fathom")),
        "{}",
        path.display()
    );
    let config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(path.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["quantization"]["mode"], "mxfp4");
    let models: serde_json::Value =
        serde_json::from_slice(&env.run(&["models", "--json"]).stdout).unwrap();
    let listed: Vec<_> = models["installed"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["repo"] == "chromadb/context-1")
        .collect();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["path"], path.display().to_string());
    // It generates.
    let out = env.run(&[
        "generate",
        "--model",
        path.to_str().unwrap(),
        "--tokens",
        "1,2,3",
        "--max-tokens",
        "3",
        "--json",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
}

#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_dense_checkpoint_without_room_for_its_conversion_is_refused_before_download() {
    let env = Env::new().await;
    serve_dense(&env);
    // Room for the download (about 830 kB) but not for the download and the converted copy.
    let out = in_small_fs(
        &env,
        "950k",
        "FATHOM_DATA_DIR=\"$SMALL/fathom\" \"$FATHOM\" pull chromadb/context-1",
    );
    let err = text(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("not enough disk space in"), "{err}");
    assert!(
        err.contains("/fathom/"),
        "the converted copy's place: {err}"
    );
    assert!(
        env.hub
            .log()
            .iter()
            .all(|r| !r.path.ends_with("model.safetensors") || r.range.is_some()),
        "weights were fetched"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_embedder_is_pulled_through_the_same_download_code_and_used_for_search() {
    let env = Env::new().await;
    let src = fixture().join("../../minilm");
    let dir = env
        .served
        .path()
        .join("sentence-transformers/all-MiniLM-L6-v2");
    std::fs::create_dir_all(&dir).unwrap();
    for f in [
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "sentence_bert_config.json",
        "tokenizer_config.json",
    ] {
        std::fs::copy(src.join(f), dir.join(f)).unwrap();
    }
    let out = env.run(&["pull", "--embedder"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let path = PathBuf::from(text(&out.stdout).trim());
    assert!(path.join("model.safetensors").exists());
    // Indexing and search now use it: a paraphrase with no shared word is found.
    let docs = env.home.path().join("docs");
    std::fs::create_dir_all(&docs).unwrap();
    std::fs::write(
        docs.join("sea.txt"),
        "The ocean rises and falls twice a day because of lunar gravity.",
    )
    .unwrap();
    std::fs::write(
        docs.join("bread.txt"),
        "Knead the dough and let it rest for an hour before baking.",
    )
    .unwrap();
    let out = env.run(&["index", "add", docs.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = env.run(&["search", "tides moon", "--json"]);
    let hits: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        hits[0]["path"].as_str().unwrap().ends_with("sea.txt"),
        "{hits}"
    );
}
