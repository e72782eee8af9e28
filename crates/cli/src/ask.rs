//! `fathom ask`: Context-1 searches the library with its own tools and ranks what it found. The
//! trace goes to standard error as it happens; the ranking to standard output.

use std::path::PathBuf;
use std::process::ExitCode;

use fathom_agent::harness::ChatModel;
use fathom_agent::tools::{Action, Corpus};
use fathom_agent::{AgentEvent, Budget, Harness};
use fathom_chat::session::ReplyOptions;
use fathom_chat::Harmony;
use fathom_store::AppDirs;

use crate::fail;

#[derive(clap::Args)]
pub struct AskArgs {
    question: String,
    /// Only this library folder (its path).
    #[arg(long)]
    folder: Option<String>,
    /// Tokens the search may use in all.
    #[arg(long, default_value_t = 32_768)]
    budget: usize,
    /// Most model turns before it must rank what it has.
    #[arg(long, default_value_t = fathom_agent::harness::DEFAULT_TURNS)]
    max_turns: u32,
    /// Longest single reply of the model, in tokens.
    #[arg(long, default_value_t = 4096)]
    max_tokens: usize,
    /// A model directory; else the model chosen in the app, else the only one installed.
    #[arg(long)]
    model: Option<PathBuf>,
    #[arg(long)]
    seed: Option<u64>,
    /// Load the model even if the memory check says it does not fit.
    #[arg(long)]
    ignore_fit: bool,
    /// Print the whole run (ranking, trace, transcript) as JSON.
    #[arg(long)]
    json: bool,
}

fn describe(action: &Action) -> String {
    let docs = |found: &[fathom_agent::tools::ChunkRef]| {
        let tokens: u32 = found.iter().map(|c| c.tokens).sum();
        format!(
            "{} chunk{}, {tokens} tokens",
            found.len(),
            if found.len() == 1 { "" } else { "s" }
        )
    };
    match action {
        Action::Search { query, found } => format!("search {query:?} → {}", docs(found)),
        Action::Grep { pattern, found } => format!("grep /{pattern}/ → {}", docs(found)),
        Action::Read { doc_id, found } => format!("read {doc_id} → {}", docs(found)),
        Action::Prune { chunk_ids, .. } => format!("pruned {} chunks", chunk_ids.len()),
        Action::Refused { tool, reason } => format!("{tool}: {reason}"),
    }
}

pub async fn run(args: AskArgs) -> ExitCode {
    match ask(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(e),
    }
}

async fn ask(args: AskArgs) -> Result<(), String> {
    let dirs = AppDirs::resolve().map_err(|e| e.to_string())?;
    // First, before any other thread exists: the encoding is found through the environment.
    let harmony = Harmony::load(&dirs.harmony_dir()).map_err(|e| e.to_string())?;
    if args.question.trim().is_empty() {
        return Err("the question is empty".into());
    }
    let (library, index) = crate::library::open()?;
    let folder = crate::library::folder_id(&library, args.folder.as_deref())?;
    let embedder = crate::library::embedder().map(crate::library::embed_fn);
    let chat = crate::chat::open_chat(harmony.clone(), args.model.clone())?;
    let mut model = ChatModel {
        chat: &chat,
        options: ReplyOptions {
            max_tokens: args.max_tokens,
            allow_unfit: args.ignore_fit,
            // The memory check is asked about the whole budget, and the answer's turn after it.
            context: (args.budget + fathom_agent::answer::ANSWER_CONTEXT) as u64,
            sampling: fathom_engine::SamplingParams {
                seed: args.seed,
                ..ReplyOptions::default().sampling
            },
        },
    };
    let mut harness = Harness::new(
        Corpus {
            index: &index,
            folder,
            embed: embedder.as_deref(),
        },
        harmony,
        &args.question,
        Budget::new(args.budget),
        Some(fathom_chat::conversation::today()),
    );
    harness.max_turns = args.max_turns;
    let (stop, ctrl_c) = crate::chat::stop_on_ctrl_c();
    let asked = harness
        .ask(
            &args.question,
            &mut model,
            &stop,
            &mut |event| match event {
                AgentEvent::Turn { turn } => eprintln!("turn {turn}"),
                AgentEvent::Action { action } => eprintln!("  {}", describe(&action)),
                AgentEvent::Usage { used, total } => eprintln!("  [{used}/{total} tokens]"),
                AgentEvent::Ranked { documents } => {
                    eprintln!("ranked {} documents", documents.len())
                }
                AgentEvent::Reply { .. }
                | AgentEvent::Answering { .. }
                | AgentEvent::Answered { .. } => {}
            },
        )
        .await
        .map_err(|e| e.to_string())?;
    ctrl_c.abort();
    if args.json {
        println!("{}", serde_json::to_string(&asked).expect("serializable"));
        return Ok(());
    }
    let run = &asked.run;
    eprintln!(
        "{} turns, {} of {} tokens, {:?}",
        run.turns, run.used, run.budget.total, run.ending
    );
    if run.documents.is_empty() {
        eprintln!("no documents found");
    }
    for (i, d) in run.documents.iter().enumerate() {
        println!("{}. {}", i + 1, d.path);
        if !d.justification.is_empty() {
            println!("   {}", d.justification);
        }
    }
    if let Some(answer) = &asked.answer {
        println!("\n{}\n", answer.text.trim());
        for c in &answer.citations {
            let place = match (c.page, c.line) {
                (0, 0) => String::new(),
                (0, line) => format!(":{line}"),
                (page, _) => format!(" (page {page})"),
            };
            let mark = if c.verified {
                "✓"
            } else {
                "✗ not in the source"
            };
            println!("[{}] {}{place} {mark}: \"{}\"", c.number, c.path, c.quote);
        }
    }
    Ok(())
}
