//! `fathom chat`: an interactive chat in the terminal, or one reply to a conversation read from
//! standard input. Conversations can be saved where the app keeps its own.

use std::io::{BufRead, IsTerminal, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use fathom_chat::conversation::{Ending, ReplyStats};
use fathom_chat::session::{Chat, DeltaKind, ReplyEvent, ReplyOptions};
use fathom_chat::{ChatStore, Effort, Message, Part, Setup};
use fathom_core::App;
use fathom_engine::SamplingParams;
use serde::Deserialize;

use crate::{fail, stop_on_ctrl_c};

#[derive(clap::Args)]
pub struct ChatArgs {
    /// A model directory; else the model chosen in the app, else the only one installed.
    #[arg(long)]
    model: Option<PathBuf>,
    /// Reasoning effort: low, medium or high.
    #[arg(long, default_value = "medium")]
    effort: Effort,
    /// Instructions for the model (harmony's developer message).
    #[arg(long)]
    instructions: Option<String>,
    #[arg(long, default_value_t = 8192)]
    max_tokens: usize,
    /// Sampling temperature; 0 is greedy.
    #[arg(long = "temp", default_value_t = 1.0)]
    temperature: f32,
    #[arg(long, default_value_t = 1.0)]
    top_p: f32,
    #[arg(long)]
    seed: Option<u64>,
    /// Load the model even if the memory check says it does not fit.
    #[arg(long)]
    ignore_fit: bool,
    /// Interactive even when standard input is not a terminal (one message per line).
    #[arg(long)]
    interactive: bool,
    /// Non-interactive: print the reply as JSON (its parts, how it ended, its figures).
    #[arg(long)]
    json: bool,
    /// Keep the conversation with the app's conversations.
    #[arg(long)]
    save: bool,
    /// Continue a saved conversation (its id, as `--save` prints it).
    #[arg(long = "continue", value_name = "ID")]
    continue_id: Option<String>,
}

/// A message on standard input: Fathom's own form, or the common `{role, content}`.
#[derive(Deserialize)]
#[serde(untagged)]
enum InputMessage {
    Fathom(Message),
    Simple { role: String, content: String },
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Input {
    Conversation {
        #[serde(default)]
        effort: Option<Effort>,
        #[serde(default)]
        instructions: Option<String>,
        messages: Vec<InputMessage>,
    },
    Messages(Vec<InputMessage>),
}

fn to_message(m: InputMessage) -> Result<Message, String> {
    match m {
        InputMessage::Fathom(m) => Ok(m),
        InputMessage::Simple { role, content } => match role.as_str() {
            "user" => Ok(Message::user(content)),
            "assistant" => Ok(Message::reply(vec![Part::Answer { text: content }])),
            other => Err(format!(
                "a message's role must be user or assistant, not {other:?}"
            )),
        },
    }
}

struct Session<'a> {
    chat: Arc<Chat>,
    setup: Setup,
    options: ReplyOptions,
    store: Option<(&'a ChatStore, String)>,
    messages: Vec<Message>,
}

impl Session<'_> {
    /// One reply to the conversation so far, streamed to the terminal when `stream`.
    async fn reply(&mut self, stream: bool) -> Result<Message, String> {
        let (stop, ctrl_c) = stop_on_ctrl_c();
        let mut out = std::io::stdout();
        let color = out.is_terminal();
        let paint = move |code: &'static str| if color { code } else { "" };
        let mut current: Option<(usize, DeltaKind)> = None;
        let mut streamed = false;
        let mut on_event = |event: ReplyEvent| {
            if !stream {
                return;
            }
            match event {
                ReplyEvent::Loading => eprintln!("(loading the model…)"),
                ReplyEvent::Converting {
                    done_bytes,
                    total_bytes,
                } => eprint!(
                    "\r(converting the model for llama.cpp, once: {:.0} %)",
                    100.0 * done_bytes as f64 / total_bytes.max(1) as f64
                ),
                ReplyEvent::Delta {
                    index,
                    part,
                    tool,
                    text,
                } => {
                    streamed = true;
                    if current != Some((index, part)) {
                        if current.is_some() {
                            let _ = writeln!(out, "{}", paint("\x1b[0m"));
                        }
                        let _ = match (part, &tool) {
                            (DeltaKind::Reasoning, _) => {
                                write!(out, "{}thinking: ", paint("\x1b[2m"))
                            }
                            (DeltaKind::ToolCall, Some(t)) => {
                                write!(out, "{}calls {t}: ", paint("\x1b[2m"))
                            }
                            (DeltaKind::Commentary, _) => write!(out, "{}", paint("\x1b[3m")),
                            _ => write!(out, "{}", paint("\x1b[0m")),
                        };
                        current = Some((index, part));
                    }
                    let _ = write!(out, "{text}");
                    let _ = out.flush();
                }
                ReplyEvent::Done { message } => {
                    // What never streamed as text (a reply that broke the format) is shown whole.
                    if let (false, Message::Assistant { parts, .. }) = (streamed, &message) {
                        for part in parts {
                            let _ = write!(out, "{}", part.text());
                        }
                    }
                    let _ = write!(out, "{}", paint("\x1b[0m"));
                }
                ReplyEvent::Failed { .. } => {
                    let _ = write!(out, "{}", paint("\x1b[0m"));
                }
            }
        };
        let outcome = self
            .chat
            .reply(
                &self.setup,
                &self.messages,
                &self.options,
                &stop,
                &mut on_event,
            )
            .await
            .map_err(|e| e.to_string());
        ctrl_c.abort();
        let message = outcome?;
        self.messages.push(message.clone());
        if let Some((store, id)) = &self.store {
            let n = self.messages.len();
            store
                .replace_from(id, n - 2, &self.messages[n - 2..])
                .map_err(|e| e.to_string())?;
        }
        Ok(message)
    }
}

fn figures(stats: &ReplyStats, ending: Ending) -> String {
    let mut s = format!(
        "{} tokens · {:.1} tok/s · first token {:.2} s · {} of {} prompt tokens cached",
        stats.generated_tokens,
        stats.tokens_per_second,
        stats.time_to_first_token_seconds,
        stats.cached_tokens,
        stats.prompt_tokens
    );
    match ending {
        Ending::Stopped => s.push_str(" · stopped"),
        Ending::Length => s.push_str(" · reached the token limit"),
        Ending::Malformed => s.push_str(" · the reply broke the harmony format"),
        Ending::ToolCall => s.push_str(" · asked for a tool (none in chat)"),
        Ending::Done => {}
    }
    s
}

pub async fn run(app: &App, args: ChatArgs) -> ExitCode {
    match chat(app, args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(e),
    }
}

async fn chat(app: &App, args: ChatArgs) -> Result<(), String> {
    let interactive = args.interactive || std::io::stdin().is_terminal();
    let mut setup = Setup::starting_today(args.effort, args.instructions.clone());
    let mut messages = Vec::new();
    let store = if args.save || args.continue_id.is_some() {
        Some(app.conversation_store().map_err(|e| e.to_string())?)
    } else {
        None
    };
    let mut conversation_id = None;
    if let (Some(store), Some(id)) = (store, &args.continue_id) {
        let c = store.get(id).map_err(|e| e.to_string())?;
        setup = c.setup;
        messages = c.messages;
        conversation_id = Some(c.id);
    }
    if !interactive {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| format!("cannot read standard input: {e}"))?;
        if text.trim().is_empty() {
            return Err("nothing on standard input: give a message or a JSON conversation".into());
        }
        match serde_json::from_str::<Input>(&text) {
            Ok(Input::Conversation {
                effort,
                instructions,
                messages: given,
            }) => {
                setup.effort = effort.unwrap_or(setup.effort);
                setup.instructions = instructions.or(setup.instructions);
                for m in given {
                    messages.push(to_message(m)?);
                }
            }
            Ok(Input::Messages(given)) => {
                for m in given {
                    messages.push(to_message(m)?);
                }
            }
            Err(_) if text.trim_start().starts_with(['{', '[']) => {
                return Err(
                    "standard input looks like JSON but is not a conversation: expected {\"messages\": [{\"role\": \"user\", \"content\": …}]}".into(),
                )
            }
            Err(_) => messages.push(Message::user(text.trim_end())),
        }
        if !matches!(messages.last(), Some(Message::User { .. })) {
            return Err("the conversation must end with a user message".into());
        }
    }
    if let (Some(store), None) = (store, &conversation_id) {
        let c = store.create(&setup, None).map_err(|e| e.to_string())?;
        store.append(&c.id, &messages).map_err(|e| e.to_string())?;
        conversation_id = Some(c.id);
    }

    let mut session = Session {
        chat: crate::chat_for(app, args.model.clone(), args.ignore_fit)?,
        setup,
        options: ReplyOptions {
            max_tokens: args.max_tokens,
            sampling: SamplingParams {
                temperature: args.temperature,
                top_p: args.top_p,
                seed: args.seed,
                ..SamplingParams::default()
            },
            allow_unfit: args.ignore_fit,
            ..ReplyOptions::default()
        },
        store: store.zip(conversation_id.clone()),
        messages,
    };
    if let Some(id) = &conversation_id {
        eprintln!("conversation {id}");
    }

    if !interactive {
        let message = session.reply(!args.json).await?;
        if args.json {
            println!(
                "{}",
                serde_json::to_string(&serde_json::json!({
                    "conversation": conversation_id,
                    "message": message,
                }))
                .expect("serializable")
            );
        } else if let Message::Assistant {
            ending,
            stats: Some(stats),
            ..
        } = &message
        {
            println!();
            eprintln!("{}", figures(stats, *ending));
        }
        return Ok(());
    }

    eprintln!("Type a message; Ctrl-C stops a reply; /new starts over; /quit or Ctrl-D ends.");
    let stdin = std::io::stdin();
    let mut lines = stdin.lock().lines();
    loop {
        eprint!("you> ");
        let Some(line) = lines.next() else { break };
        let line = line.map_err(|e| format!("cannot read standard input: {e}"))?;
        match line.trim() {
            "" => continue,
            "/quit" | "/exit" => break,
            "/new" => {
                session.messages.clear();
                if let Some((store, id)) = &mut session.store {
                    let c = store
                        .create(&session.setup, None)
                        .map_err(|e| e.to_string())?;
                    *id = c.id;
                    eprintln!("conversation {id}");
                }
                continue;
            }
            _ => {}
        }
        session.messages.push(Message::user(line.trim_end()));
        if let Some((store, id)) = &session.store {
            store
                .append(id, &session.messages[session.messages.len() - 1..])
                .map_err(|e| e.to_string())?;
        }
        match session.reply(true).await {
            Ok(Message::Assistant {
                ending,
                stats: Some(stats),
                ..
            }) => {
                println!();
                eprintln!("{}", figures(&stats, ending));
            }
            Ok(_) => println!(),
            Err(e) => {
                // The message goes, so the next line is a fresh try, not a second question.
                eprintln!("fathom: {e}");
                session.messages.pop();
                if let Some((store, id)) = &session.store {
                    store
                        .replace_from(id, session.messages.len(), &[])
                        .map_err(|e| e.to_string())?;
                }
            }
        }
    }
    Ok(())
}
