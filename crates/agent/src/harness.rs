//! The loop: the model generates; a tool call is run and its result, ending with the usage line,
//! goes back; until the model gives its ranking, the user stops it, or the turn limit ends it
//! (then the model is told to conclude, with tools refused, once).

use std::future::Future;

use fathom_chat::conversation::Ending;
use fathom_chat::session::{Chat, ReplyEvent, ReplyOptions};
use fathom_chat::{ChatError, Harmony, Message, Part, Setup};
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::answer::Source;
use crate::budget::Budget;
use crate::output::{parse_ranking, RankedDocument};
use crate::prompt;
use crate::tools::{Action, Block, Corpus, Observation, Tools};

/// What produces the model's next reply: the engine ([`ChatModel`]) or, in tests, a script.
pub trait Generate {
    fn generate(
        &mut self,
        setup: &Setup,
        messages: &[Message],
        stop: &CancellationToken,
        on_event: &mut (dyn FnMut(ReplyEvent) + Send),
    ) -> impl Future<Output = Result<Message, ChatError>> + Send;
}

/// The engine, through a chat session.
pub struct ChatModel<'a> {
    pub chat: &'a Chat,
    pub options: ReplyOptions,
}

impl Generate for ChatModel<'_> {
    fn generate(
        &mut self,
        setup: &Setup,
        messages: &[Message],
        stop: &CancellationToken,
        on_event: &mut (dyn FnMut(ReplyEvent) + Send),
    ) -> impl Future<Output = Result<Message, ChatError>> + Send {
        self.chat
            .reply(setup, messages, &self.options, stop, on_event)
    }
}

/// What a run reports as it goes.
#[derive(Debug, Clone, PartialEq, Serialize, specta::Type)]
#[serde(
    tag = "event",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum AgentEvent {
    /// A new turn of the model begins.
    Turn {
        turn: u32,
    },
    /// The model's reply as it streams (its reasoning, its calls).
    Reply {
        reply: ReplyEvent,
    },
    /// What a tool call did.
    Action {
        action: Action,
    },
    /// Tokens the conversation holds now.
    Usage {
        used: u32,
        total: u32,
    },
    Ranked {
        documents: Vec<RankedDocument>,
    },
    /// The answer's reply as it streams.
    Answering {
        reply: ReplyEvent,
    },
    /// The answer, its citations checked.
    Answered {
        answer: crate::answer::Answer,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub enum RunEnding {
    /// The model gave its ranking.
    Ranked,
    /// The turn limit ended the search; the model ranked what it had.
    TurnLimit,
    /// The user stopped it.
    Stopped,
    /// The model's last reply held no ranking: the documents still in view, in the order found.
    Unranked,
    /// The model could not go on (its context is full): the documents still in view.
    OutOfContext,
}

#[derive(Debug, Clone, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct Run {
    pub question: String,
    pub documents: Vec<RankedDocument>,
    /// Every tool call's effect, in order.
    pub actions: Vec<Action>,
    pub turns: u32,
    /// Tokens the conversation held at the end.
    pub used: u32,
    pub budget: Budget,
    pub ending: RunEnding,
    /// The model's side of the run: reasoning, calls with their results (as last shown), ranking.
    pub transcript: Vec<Part>,
}

pub struct Harness<'a> {
    pub tools: Tools<'a>,
    pub budget: Budget,
    pub max_turns: u32,
    harmony: Harmony,
    setup: Setup,
}

/// A search and the answer from what it found.
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct Asked {
    pub run: Run,
    /// None when the search was stopped or found nothing.
    pub answer: Option<crate::answer::Answer>,
}

/// Documents the answer reads, best first.
pub const ANSWERED_DOCUMENTS: usize = 5;

/// Turns a run may take unless told otherwise.
pub const DEFAULT_TURNS: u32 = 24;

impl<'a> Harness<'a> {
    pub fn new(
        corpus: Corpus<'a>,
        harmony: Harmony,
        question: &str,
        budget: Budget,
        date: Option<String>,
    ) -> Self {
        Harness {
            tools: Tools::new(corpus, harmony.clone(), question),
            budget,
            max_turns: DEFAULT_TURNS,
            harmony,
            setup: prompt::setup(date),
        }
    }

    /// Searches, then answers from the documents found (the best [`ANSWERED_DOCUMENTS`]).
    pub async fn ask<G: Generate>(
        self,
        question: &str,
        model: &mut G,
        stop: &CancellationToken,
        on_event: &mut (dyn FnMut(AgentEvent) + Send),
    ) -> Result<Asked, ChatError> {
        let index = self.tools.corpus.index;
        let harmony = self.harmony.clone();
        let date = self.setup.date.clone();
        let run = self.run(question, model, stop, on_event).await?;
        if run.ending == RunEnding::Stopped || run.documents.is_empty() || stop.is_cancelled() {
            return Ok(Asked { run, answer: None });
        }
        // Each document gets an equal share of what the answer may read, the chunks the search
        // showed first.
        let shown: Vec<String> = run
            .actions
            .iter()
            .flat_map(|a| match a {
                Action::Search { found, .. }
                | Action::Grep { found, .. }
                | Action::Read { found, .. } => found.iter().map(|c| c.chunk_id.clone()).collect(),
                _ => Vec::new(),
            })
            .collect();
        let picked = run.documents.len().clamp(1, ANSWERED_DOCUMENTS);
        let share = crate::answer::ANSWER_CONTEXT / picked;
        let sources: Vec<Source> = run
            .documents
            .iter()
            .take(ANSWERED_DOCUMENTS)
            .filter_map(|d| Source::load(index, &harmony, d.clone(), &shown, share))
            .collect();
        let answer = crate::answer::answer(model, question, &sources, date, stop, &mut |e| {
            on_event(AgentEvent::Answering { reply: e })
        })
        .await?;
        on_event(AgentEvent::Answered {
            answer: answer.clone(),
        });
        Ok(Asked {
            run,
            answer: Some(answer),
        })
    }

    /// The conversation as the model sees it now.
    fn messages(
        &self,
        user: &Message,
        parts: &[Part],
        observations: &[Option<Observation>],
    ) -> Vec<Message> {
        let mut messages = vec![user.clone()];
        if !parts.is_empty() {
            let parts = parts
                .iter()
                .zip(observations)
                .map(|(part, obs)| match (part, obs) {
                    (
                        Part::ToolCall {
                            tool, arguments, ..
                        },
                        Some(obs),
                    ) => Part::ToolCall {
                        tool: tool.clone(),
                        arguments: arguments.clone(),
                        output: Some(self.tools.view.render(obs)),
                    },
                    (other, _) => other.clone(),
                })
                .collect();
            messages.push(Message::Assistant {
                parts,
                ending: Ending::ToolCall,
                stats: None,
            });
        }
        messages
    }

    fn used(&self, messages: &[Message]) -> usize {
        self.harmony
            .render(&self.setup, messages)
            .map_or(0, |t| t.len())
    }

    /// Searches for `question` until the model ranks its documents (or the run ends otherwise).
    pub async fn run<G: Generate>(
        mut self,
        question: &str,
        model: &mut G,
        stop: &CancellationToken,
        on_event: &mut (dyn FnMut(AgentEvent) + Send),
    ) -> Result<Run, ChatError> {
        let user = Message::user(prompt::retrieval_prompt(question, self.budget.total));
        let mut parts: Vec<Part> = Vec::new();
        let mut observations: Vec<Option<Observation>> = Vec::new();
        let mut actions = Vec::new();
        let mut turns = 0;
        let mut concluding = false;
        let ending = loop {
            turns += 1;
            on_event(AgentEvent::Turn { turn: turns });
            let messages = self.messages(&user, &parts, &observations);
            let reply = match model
                .generate(&self.setup, &messages, stop, &mut |e| {
                    on_event(AgentEvent::Reply { reply: e })
                })
                .await
            {
                Ok(reply) => reply,
                // A run that has found things is not thrown away because the context filled up.
                Err(ChatError::Input(_)) if !parts.is_empty() => break RunEnding::OutOfContext,
                Err(e) => return Err(e),
            };
            let Message::Assistant {
                parts: new_parts,
                ending,
                ..
            } = reply
            else {
                return Err(ChatError::Model("the model replied as the user".into()));
            };
            let call = match (ending, new_parts.last()) {
                (
                    Ending::ToolCall,
                    Some(Part::ToolCall {
                        tool, arguments, ..
                    }),
                ) => Some((tool.clone(), arguments.clone())),
                _ => None,
            };
            observations.extend(new_parts.iter().map(|_| None));
            parts.extend(new_parts);
            if ending == Ending::Stopped || stop.is_cancelled() {
                break RunEnding::Stopped;
            }
            let Some((tool, arguments)) = call else {
                // Cut off (out of tokens) or garbled: not a ranking; the model goes on.
                if matches!(ending, Ending::Length | Ending::Malformed)
                    && !concluding
                    && turns < self.max_turns
                {
                    continue;
                }
                break if concluding {
                    RunEnding::TurnLimit
                } else {
                    RunEnding::Ranked
                };
            };
            let used = self.used(&self.messages(&user, &parts, &observations));
            let (mut observation, done) = if concluding {
                let reason = "Refused: the search is over. Give your final ranking now, with no more tool calls.".to_string();
                (
                    Observation {
                        blocks: vec![Block::Note(reason.clone())],
                    },
                    vec![Action::Refused {
                        tool: tool.clone(),
                        reason,
                    }],
                )
            } else {
                self.tools.call(&tool, &arguments, used, &self.budget)
            };
            for action in &done {
                on_event(AgentEvent::Action {
                    action: action.clone(),
                });
            }
            actions.extend(done);
            if turns >= self.max_turns && !concluding {
                concluding = true;
                observation.blocks.push(Block::Note(
                    "That was the last search: the turn limit is reached. Give your final ranking now.".into(),
                ));
            }
            // The usage line counts the conversation with this result in it.
            *observations.last_mut().expect("a call was just added") = Some(observation.clone());
            let after = self.used(&self.messages(&user, &parts, &observations));
            observation
                .blocks
                .push(Block::Note(self.budget.usage_line(after)));
            *observations.last_mut().expect("a call was just added") = Some(observation);
            on_event(AgentEvent::Usage {
                used: after as u32,
                total: self.budget.total as u32,
            });
            if turns > self.max_turns {
                // Concluding was asked for and the model called a tool again.
                break RunEnding::TurnLimit;
            }
        };

        let final_text: String = parts
            .iter()
            .rev()
            .take_while(|p| !matches!(p, Part::ToolCall { .. }))
            .filter_map(|p| match p {
                Part::Answer { text } | Part::Commentary { text } => Some(text.as_str()),
                _ => None,
            })
            .collect::<Vec<_>>()
            .join("\n");
        let mut documents: Vec<RankedDocument> = parse_ranking(&final_text)
            .into_iter()
            .filter_map(|(doc_id, justification)| {
                let path = self.path_of(&doc_id)?;
                Some(RankedDocument {
                    doc_id,
                    path,
                    justification,
                })
            })
            .collect();
        let ending = if documents.is_empty()
            && !matches!(ending, RunEnding::Stopped | RunEnding::OutOfContext)
        {
            documents = self.in_view();
            RunEnding::Unranked
        } else {
            if ending == RunEnding::OutOfContext && documents.is_empty() {
                documents = self.in_view();
            }
            ending
        };
        on_event(AgentEvent::Ranked {
            documents: documents.clone(),
        });
        let messages = self.messages(&user, &parts, &observations);
        let used = self.used(&messages) as u32;
        let transcript = match messages.into_iter().nth(1) {
            Some(Message::Assistant { parts, .. }) => parts,
            _ => Vec::new(),
        };
        Ok(Run {
            question: question.to_string(),
            documents,
            actions,
            turns,
            used,
            budget: self.budget,
            ending,
            transcript,
        })
    }

    /// The documents still in view, in the order found, for a run without a ranking.
    fn in_view(&self) -> Vec<RankedDocument> {
        self.tools
            .view
            .documents_in_view()
            .into_iter()
            .filter_map(|doc_id| {
                Some(RankedDocument {
                    path: self.path_of(&doc_id)?,
                    doc_id,
                    justification: String::new(),
                })
            })
            .collect()
    }

    /// The file of a document the model named: one it was shown, else one in the index.
    fn path_of(&self, doc_id: &str) -> Option<String> {
        if let Some(hit) = self
            .tools
            .view
            .shown()
            .iter()
            .filter_map(|id| self.tools.view.hit(id))
            .find(|h| h.doc_id == doc_id)
        {
            return Some(hit.path.clone());
        }
        self.tools
            .corpus
            .index
            .read_document(doc_id)
            .ok()?
            .first()
            .map(|h| h.path.clone())
    }
}
