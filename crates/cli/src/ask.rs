//! `fathom ask`: Context-1 searches the library with its own tools and ranks what it found. The
//! trace goes to standard error as it happens; the ranking to standard output.

use std::path::PathBuf;
use std::process::ExitCode;

use fathom_agent::tools::Action;
use fathom_agent::AgentEvent;
use fathom_core::{App, Question};

use crate::{fail, stop_on_ctrl_c};

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

pub async fn run(app: &App, args: AskArgs) -> ExitCode {
    match ask(app, args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(e),
    }
}

async fn ask(app: &App, args: AskArgs) -> Result<(), String> {
    if args.question.trim().is_empty() {
        return Err("the question is empty".into());
    }
    let folder = crate::library::folder_id(app, args.folder.as_deref())?;
    let model = crate::model_dir(app, args.model.clone())?;
    let question = Question {
        text: args.question.clone(),
        folder,
        budget: Some(args.budget),
        allow_unfit: args.ignore_fit,
        model,
        max_turns: Some(args.max_turns),
        max_tokens: Some(args.max_tokens),
        seed: args.seed,
    };
    let (stop, ctrl_c) = stop_on_ctrl_c();
    let saved = app
        .ask(question, &stop, &mut |event| match event {
            AgentEvent::Turn { turn } => eprintln!("turn {turn}"),
            AgentEvent::Action { action } => eprintln!("  {}", describe(&action)),
            AgentEvent::Usage { used, total } => eprintln!("  [{used}/{total} tokens]"),
            AgentEvent::Ranked { documents } => {
                eprintln!("ranked {} documents", documents.len())
            }
            AgentEvent::Reply { .. }
            | AgentEvent::Answering { .. }
            | AgentEvent::Answered { .. } => {}
        })
        .await
        .map_err(|e| e.to_string())?;
    let asked = saved.asked;
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
