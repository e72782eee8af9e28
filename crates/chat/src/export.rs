//! A conversation as Markdown: every turn, the reasoning folded in `<details>`, tool calls with
//! their arguments and results, and the figures under each reply.

use crate::conversation::{Conversation, Ending, Message, Part};

/// A fence longer than any run of backticks in `text`, so the text cannot close it.
fn fence(text: &str) -> String {
    let mut longest = 0;
    let mut run = 0;
    for c in text.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    "`".repeat((longest + 1).max(3))
}

fn block(out: &mut String, lang: &str, text: &str) {
    let f = fence(text);
    out.push_str(&format!(
        "{f}{lang}\n{}\n{f}\n\n",
        text.trim_end_matches('\n')
    ));
}

pub fn to_markdown(conversation: &Conversation) -> String {
    let mut out = format!("# {}\n\n", conversation.title.trim());
    let setup = &conversation.setup;
    let mut meta = vec![format!("Reasoning effort: {}", setup.effort.as_str())];
    if let Some(date) = &setup.date {
        meta.push(format!("started {date}"));
    }
    out.push_str(&format!("*{}*\n\n", meta.join(" · ")));
    if let Some(instructions) = setup
        .instructions
        .as_deref()
        .filter(|i| !i.trim().is_empty())
    {
        out.push_str("**Instructions**\n\n");
        for line in instructions.lines() {
            out.push_str(&format!("> {line}\n"));
        }
        out.push('\n');
    }
    for message in &conversation.messages {
        match message {
            Message::User { text } => {
                out.push_str("## You\n\n");
                out.push_str(text.trim_end());
                out.push_str("\n\n");
            }
            Message::Assistant {
                parts,
                ending,
                stats,
            } => {
                out.push_str("## Context-1\n\n");
                for part in parts {
                    match part {
                        Part::Reasoning { text } => {
                            out.push_str("<details>\n<summary>Thinking</summary>\n\n");
                            out.push_str(text.trim_end());
                            out.push_str("\n\n</details>\n\n");
                        }
                        Part::Commentary { text } => {
                            out.push_str(&format!("*{}*\n\n", text.trim()));
                        }
                        Part::ToolCall {
                            tool,
                            arguments,
                            output,
                        } => {
                            out.push_str(&format!("**Tool call:** `{tool}`\n\n"));
                            block(&mut out, "json", arguments);
                            if let Some(output) = output {
                                out.push_str("<details>\n<summary>Result</summary>\n\n");
                                block(&mut out, "", output);
                                out.push_str("</details>\n\n");
                            }
                        }
                        Part::Answer { text } => {
                            out.push_str(text.trim_end());
                            out.push_str("\n\n");
                        }
                    }
                }
                let note = match ending {
                    Ending::Done | Ending::ToolCall => None,
                    Ending::Stopped => Some("stopped"),
                    Ending::Length => Some("cut off at the token limit"),
                    Ending::Malformed => Some("the reply broke the format"),
                };
                let mut figures = Vec::new();
                if let Some(s) = stats {
                    figures.push(format!("{} tokens", s.generated_tokens));
                    figures.push(format!("{:.1} tok/s", s.tokens_per_second));
                    figures.push(format!(
                        "first token {:.2} s",
                        s.time_to_first_token_seconds
                    ));
                }
                figures.extend(note.map(str::to_string));
                if !figures.is_empty() {
                    out.push_str(&format!("<sub>{}</sub>\n\n", figures.join(" · ")));
                }
            }
        }
    }
    out.trim_end().to_string() + "\n"
}
