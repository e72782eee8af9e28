//! The harness driven by a scripted model: replies written as the harmony text gpt-oss emits,
//! tokenized and parsed exactly as the engine's output is. The library is a real index of real
//! files. Each test checks what the model is shown next: results with chunk ids and token
//! counts, exclusion of what it has seen, pruning, the usage line, the budget's cuts and
//! refusals, errors for bad calls, and the ranking it returns.

use fathom_agent::harness::Generate;
use fathom_agent::tools::{Action, Corpus};
use fathom_agent::{AgentEvent, Budget, Harness, Run, RunEnding};
use fathom_chat::conversation::Ending;
use fathom_chat::harmony::{CALL, RETURN};
use fathom_chat::session::ReplyEvent;
use fathom_chat::{ChatError, Harmony, Message, Setup};
use fathom_index::indexer::{index_folder, IndexOptions};
use fathom_index::{document_id, Chunker, SearchIndex};
use tokio_util::sync::CancellationToken;

type Step = Box<dyn FnMut(&str) -> String + Send>;

/// A model that follows a script: each turn gets the prompt as text and returns what the model
/// "says" after `<|start|>assistant`.
struct Scripted {
    harmony: Harmony,
    steps: Vec<Step>,
    prompts: Vec<String>,
}

impl Generate for Scripted {
    fn generate(
        &mut self,
        setup: &Setup,
        messages: &[Message],
        _stop: &CancellationToken,
        _on_event: &mut (dyn FnMut(ReplyEvent) + Send),
    ) -> impl std::future::Future<Output = Result<Message, ChatError>> + Send {
        let prompt = self
            .harmony
            .decode(&self.harmony.render(setup, messages).unwrap());
        self.prompts.push(prompt.clone());
        let turn = self.prompts.len() - 1;
        let text = match self.steps.get_mut(turn) {
            Some(step) => step(&prompt),
            None => panic!("the script has no turn {turn}"),
        };
        let tokens = self.harmony.encode_with_special_tokens(&text);
        let mut parser = self.harmony.parser();
        for &t in &tokens {
            parser.push(t);
        }
        let (parts, error) = parser.finish(false);
        let ending = match (error, tokens.last()) {
            (Some(_), _) => Ending::Malformed,
            (None, Some(&CALL)) => Ending::ToolCall,
            (None, Some(&RETURN)) => Ending::Done,
            // No stop token: the reply ran out of tokens.
            _ => Ending::Length,
        };
        std::future::ready(Ok(Message::Assistant {
            parts,
            ending,
            stats: None,
        }))
    }
}

fn call(tool: &str, args: &str) -> String {
    format!("<|channel|>analysis<|message|>Next: {tool}.<|end|><|start|>assistant<|channel|>commentary to=functions.{tool} <|constrain|>json<|message|>{args}<|call|>")
}

fn answer(text: &str) -> String {
    format!("<|channel|>analysis<|message|>Enough.<|end|><|start|>assistant<|channel|>final<|message|>{text}<|return|>")
}

struct Library {
    _dir: tempfile::TempDir,
    index: SearchIndex,
    root: std::path::PathBuf,
}

impl Library {
    fn doc(&self, name: &str) -> String {
        document_id(&self.root.join(name))
    }
}

/// A small library: a few notes about tides and budgets, one long document.
fn library() -> Library {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("notes");
    std::fs::create_dir_all(&root).unwrap();
    let write = |name: &str, text: &str| std::fs::write(root.join(name), text).unwrap();
    write("tides.md", "# Tides\n\nThe moon drives the ocean tides twice a day. Spring tides follow the full and new moon.");
    write(
        "budget.txt",
        "The 2025 budget memo from Alice puts travel at 5,000 euros and hardware at 12,000 euros.",
    );
    write("orbits.txt", "Tidal locking keeps the same face of the moon towards the earth. Orbital resonance is common.");
    write(
        "recipes.txt",
        "Pancakes: flour, milk, eggs. Mix and fry. Nothing about the moon here.",
    );
    let long: String = (0..40)
        .map(|i| format!("Section {i}. The lunar survey measured tide gauges at station {i} with care and wrote long notes about sea level, weather and instruments. "))
        .collect::<Vec<_>>()
        .join("\n\n");
    write("survey.md", &long);
    let index = SearchIndex::open(&dir.path().join("index")).unwrap();
    index_folder(
        &index,
        "notes",
        &root,
        &Chunker::default(),
        &IndexOptions::default(),
        &tokio_util::sync::CancellationToken::new(),
        &mut |_| {},
    )
    .unwrap();
    Library {
        _dir: dir,
        index,
        root,
    }
}

fn harmony() -> Harmony {
    Harmony::load(&tempfile::tempdir().unwrap().keep()).unwrap()
}

async fn drive(
    lib: &Library,
    budget: Budget,
    max_turns: u32,
    steps: Vec<Step>,
) -> (Run, Vec<String>, Vec<AgentEvent>) {
    let harmony = harmony();
    let corpus = Corpus {
        index: &lib.index,
        folder: None,
        embed: None,
    };
    let mut harness = Harness::new(
        corpus,
        harmony.clone(),
        "When are tides strongest?",
        budget,
        Some("2026-11-27".into()),
    );
    harness.max_turns = max_turns;
    let mut model = Scripted {
        harmony,
        steps,
        prompts: Vec::new(),
    };
    let mut events = Vec::new();
    let run = harness
        .run(
            "When are tides strongest?",
            &mut model,
            &CancellationToken::new(),
            &mut |e| events.push(e),
        )
        .await
        .unwrap();
    (run, model.prompts, events)
}

fn step(f: impl FnMut(&str) -> String + Send + 'static) -> Step {
    Box::new(f)
}

/// The text after the last tool result's start: what the latest observation said.
fn last_observation(prompt: &str) -> &str {
    let at = prompt
        .rfind("to=assistant<|channel|>commentary<|message|>")
        .expect("an observation");
    &prompt[at..]
}

#[tokio::test]
async fn parallel_searches_show_chunks_with_ids_and_tokens_and_never_repeat_them() {
    let lib = library();
    let tides = lib.doc("tides.md");
    let budget_doc = lib.doc("budget.txt");
    let (run, prompts, events) = drive(
        &lib,
        Budget::default(),
        10,
        vec![
            step(|p| {
                assert!(p.contains("<query>When are tides strongest?</query>"));
                assert!(p.contains("Reasoning: high") && p.contains("Current date: 2026-11-27"));
                assert!(p.contains("namespace functions") && p.contains("type search_corpus"));
                call("multi_tool_use", r#"{"tool_uses": [{"tool_name": "search_corpus", "parameters": {"query": "spring tides moon"}}, {"tool_name": "grep_corpus", "parameters": {"pattern": "budget memo"}}]}"#)
            }),
            step(move |p| {
                let obs = last_observation(p);
                assert!(obs.contains("## Call 1: search_corpus") && obs.contains("## Call 2: grep_corpus"), "{obs}");
                assert!(obs.contains(&format!("[{tides}:0 · ")), "{obs}");
                assert!(obs.contains(" tokens · tides.md]"), "{obs}");
                assert!(obs.contains(&format!("[{budget_doc}:0 · ")), "{obs}");
                assert!(obs.trim_end().ends_with("]<|end|><|start|>assistant") || obs.contains("[Token usage: "), "{obs}");
                call("search_corpus", r#"{"query": "spring tides moon"}"#)
            }),
            step(|p| {
                let obs = last_observation(p);
                assert!(!obs.contains("tides.md]"), "shown chunks are excluded: {obs}");
                answer("<Document id=TIDES><Justification>Spring tides.</Justification></Document>")
            }),
        ],
    )
    .await;
    let tides = lib.doc("tides.md");
    // The first observation's usage line is a number between the prompt and the budget.
    let usage: Vec<u32> = events
        .iter()
        .filter_map(|e| match e {
            AgentEvent::Usage { used, total } => {
                assert_eq!(*total, 32_768);
                Some(*used)
            }
            _ => None,
        })
        .collect();
    assert_eq!(usage.len(), 2);
    assert!(usage[0] > 400 && usage[1] > usage[0], "{usage:?}");
    assert!(prompts[1].contains(&Budget::default().usage_line(usage[0] as usize)));
    assert!(
        matches!(&run.actions[0], Action::Search { found, .. } if found.iter().any(|c| c.doc_id == tides && c.tokens > 16))
    );
    assert!(matches!(&run.actions[1], Action::Grep { found, .. } if found.len() == 1));
    // The model named a document id that does not exist: dropped, and the run falls back on
    // what is in view.
    assert_eq!(run.ending, RunEnding::Unranked);
    assert_eq!(run.documents[0].doc_id, tides);
    assert_eq!(run.turns, 3);
}

#[tokio::test]
async fn pruned_chunks_leave_the_view_but_stay_excluded_and_in_the_trace() {
    let lib = library();
    let tides = lib.doc("tides.md");
    let orbits = lib.doc("orbits.txt");
    let (t2, o2) = (tides.clone(), orbits.clone());
    let (t3, o3) = (tides.clone(), orbits.clone());
    let (run, prompts, _) = drive(
        &lib,
        Budget::default(),
        10,
        vec![
            step(|_| call("search_corpus", r#"{"query": "moon tides"}"#)),
            step(move |p| {
                assert!(p.contains("Spring tides follow") && p.contains("Tidal locking"));
                call("prune_chunks", &format!(r#"{{"chunk_ids": ["{o2}:0", "nope:9"]}}"#))
            }),
            step(move |p| {
                assert!(!p.contains("Tidal locking"), "the pruned text is gone");
                assert!(p.contains(&format!("[{o3}:0: pruned]")));
                assert!(p.contains("Pruned 1 chunk") && p.contains("Not in your context: nope:9"));
                assert!(p.contains("Spring tides follow"), "the rest stays");
                call("search_corpus", r#"{"query": "tidal locking moon face"}"#)
            }),
            step(move |p| {
                let obs = last_observation(p);
                assert!(!obs.contains("Tidal locking"), "pruned chunks are not shown again: {obs}");
                answer(&format!("<Document id={t3}><Justification>It explains spring tides.</Justification></Document>"))
            }),
        ],
    )
    .await;
    assert!(prompts.len() == 4);
    assert!(run.actions.iter().any(|a| matches!(a, Action::Prune { chunk_ids, unknown } if chunk_ids == &[format!("{orbits}:0")] && unknown == &["nope:9".to_string()])));
    assert_eq!(run.ending, RunEnding::Ranked);
    assert_eq!(run.documents.len(), 1);
    assert_eq!(run.documents[0].doc_id, t2);
    assert!(run.documents[0].path.ends_with("tides.md"));
    assert_eq!(run.documents[0].justification, "It explains spring tides.");
    // The transcript shows the pruned chunk as pruned, as the model last saw it.
    let shown: String = run
        .transcript
        .iter()
        .map(|p| p.text().to_string())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(!shown.is_empty());
}

#[tokio::test]
async fn past_half_results_are_cut_and_past_the_cutoff_only_pruning_works() {
    let lib = library();
    // A budget the prompt alone half fills: the first read is cut to what is left, and the next
    // search is refused outright.
    let budget = Budget {
        total: 2400,
        hard_cutoff: 1500,
        reply_reserve: 200,
        per_call: 1200,
    };
    let survey = lib.doc("survey.md");
    let (run, _, _) = drive(
        &lib,
        budget,
        10,
        vec![
            step(move |_| call("read_document", &format!(r#"{{"doc_id": "{survey}"}}"#))),
            step(|p| {
                let obs = last_observation(p);
                assert!(obs.contains("left out for the budget"), "{obs}");
                call("search_corpus", r#"{"query": "moon"}"#)
            }),
            step(|p| {
                let obs = last_observation(p);
                assert!(
                    obs.contains("Refused: the token budget is nearly spent")
                        && obs.contains("Only prune_chunks works"),
                    "{obs}"
                );
                call("grep_corpus", r#"{"pattern": "moon"}"#)
            }),
            step(|p| {
                assert!(last_observation(p).contains("Refused"));
                call("prune_chunks", r#"{"chunk_ids": []}"#)
            }),
            step(|p| {
                assert!(
                    last_observation(p).contains("Pruned 0 chunks"),
                    "pruning is never refused"
                );
                answer("none")
            }),
        ],
    )
    .await;
    let Action::Read { found, .. } = &run.actions[0] else {
        panic!("{:?}", run.actions[0])
    };
    let shown: u32 = found.iter().map(|c| c.tokens).sum();
    assert!(!found.is_empty() && shown as usize <= 2400 - 200, "{shown}");
    let refused: Vec<&str> = run
        .actions
        .iter()
        .filter_map(|a| match a {
            Action::Refused { tool, .. } => Some(tool.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(refused, ["search_corpus", "grep_corpus"]);
}

#[tokio::test]
async fn bad_calls_get_errors_the_model_can_act_on() {
    let lib = library();
    // Seven turns: the last reply breaks the format and, at the turn limit, ends the run.
    let (run, _, _) = drive(
        &lib,
        Budget::default(),
        7,
        vec![
            step(|_| call("search_corpus", "{query: moon")),
            step(|p| {
                assert!(last_observation(p).contains("not valid JSON"));
                call("fetch_web", r#"{"url": "https://example.com"}"#)
            }),
            step(|p| {
                assert!(last_observation(p).contains("no tool named \"fetch_web\""));
                call("search_corpus", r#"{"q": "moon"}"#)
            }),
            step(|p| {
                assert!(last_observation(p).contains(r#"search_corpus needs {"query": "…"}"#));
                call("grep_corpus", r#"{"pattern": "(unclosed"}"#)
            }),
            step(|p| {
                assert!(last_observation(p).contains("regex"));
                call("read_document", r#"{"doc_id": "0000000000000000"}"#)
            }),
            step(|p| {
                assert!(last_observation(p).contains("no document"));
                call("multi_tool_use", r#"{"tool_uses": []}"#)
            }),
            step(|p| {
                assert!(last_observation(p).contains("tool_uses is empty"));
                // A reply that breaks the format: no crash, no ranking.
                "<|channel|><|message|>garbage".to_string()
            }),
        ],
    )
    .await;
    assert_eq!(run.actions.len(), 6);
    assert!(run
        .actions
        .iter()
        .all(|a| matches!(a, Action::Refused { .. })));
    assert_eq!(run.ending, RunEnding::Unranked);
    assert!(run.documents.is_empty());
}

#[tokio::test]
async fn the_turn_limit_asks_for_a_ranking_and_then_ends_the_run() {
    let lib = library();
    let tides = lib.doc("tides.md");
    let searching = || step(|_| call("search_corpus", r#"{"query": "moon"}"#));
    let (run, prompts, _) = drive(
        &lib,
        Budget::default(),
        2,
        vec![searching(), searching(), searching()],
    )
    .await;
    assert!(
        last_observation(&prompts[2]).contains("Refused: the search is over")
            || prompts[2].contains("the turn limit is reached")
    );
    assert_eq!(run.turns, 3);
    assert_eq!(run.ending, RunEnding::Unranked);
    assert!(run.documents.iter().any(|d| d.doc_id == tides));

    // Told to conclude, the model ranks: the run ends at the turn limit with its ranking.
    let (run, _, _) = drive(
        &lib,
        Budget::default(),
        1,
        vec![
            searching(),
            step(move |p| {
                assert!(p.contains("the turn limit is reached"));
                answer(&format!(
                    "<Document id={tides}><Justification>Tides.</Justification></Document>"
                ))
            }),
        ],
    )
    .await;
    assert_eq!(run.ending, RunEnding::TurnLimit);
    assert_eq!(run.documents.len(), 1);
}

#[tokio::test]
async fn ask_answers_from_the_ranked_documents_and_checks_each_quote() {
    let lib = library();
    let tides = lib.doc("tides.md");
    let orbits = lib.doc("orbits.txt");
    let harmony = harmony();
    let corpus = Corpus {
        index: &lib.index,
        folder: None,
        embed: None,
    };
    let harness = Harness::new(
        corpus,
        harmony.clone(),
        "When are tides strongest?",
        Budget::default(),
        None,
    );
    let (t, o) = (tides.clone(), orbits.clone());
    let mut model = Scripted {
        harmony,
        steps: vec![
            step(|_| call("search_corpus", r#"{"query": "tides moon"}"#)),
            step(move |_| {
                answer(&format!("<Document id={t}><Justification>Spring tides.</Justification></Document>\n<Document id={o}><Justification>Tidal locking.</Justification></Document>"))
            }),
            step(|p| {
                // The answer turn: documents numbered in rank order, the question, no tools.
                let one = p.find("[1] tides.md").expect("document 1");
                let two = p.find("[2] orbits.txt").expect("document 2");
                assert!(one < two);
                assert!(p.contains("Question: When are tides strongest?"));
                assert!(p.contains("word for word"));
                assert!(!p.contains("namespace functions"));
                answer(
                    r#"At spring tides [1: "Spring tides follow the full and new moon"], which the moon causes [2: "the moon causes earthquakes"]."#,
                )
            }),
        ],
        prompts: Vec::new(),
    };
    let mut events = Vec::new();
    let asked = harness
        .ask(
            "When are tides strongest?",
            &mut model,
            &CancellationToken::new(),
            &mut |e| events.push(e),
        )
        .await
        .unwrap();
    assert_eq!(asked.run.ending, RunEnding::Ranked);
    assert_eq!(asked.run.documents.len(), 2);
    let answer = asked.answer.unwrap();
    assert!(answer.text.starts_with("At spring tides"));
    let checked: Vec<(u32, bool, &str)> = answer
        .citations
        .iter()
        .map(|c| (c.number, c.verified, c.doc_id.as_str()))
        .collect();
    assert_eq!(
        checked,
        vec![(1, true, tides.as_str()), (2, false, orbits.as_str())]
    );
    assert_eq!(answer.citations[0].line, 3, "the quote's line in tides.md");
    assert!(matches!(events.last(), Some(AgentEvent::Answered { .. })));
}

#[tokio::test]
async fn a_reply_cut_off_by_its_length_is_not_taken_for_a_ranking() {
    let lib = library();
    let tides = lib.doc("tides.md");
    let (run, prompts, _) = drive(
        &lib,
        Budget::default(),
        10,
        vec![
            step(|_| "<|channel|>analysis<|message|>I will search for the moon and".to_string()),
            step(|p| {
                assert!(
                    p.contains("I will search for the moon and"),
                    "the cut reasoning stays in view"
                );
                call("search_corpus", r#"{"query": "spring tides"}"#)
            }),
            step(move |_| {
                answer(&format!(
                    "<Document id={tides}><Justification>Spring tides.</Justification></Document>"
                ))
            }),
        ],
    )
    .await;
    assert_eq!(prompts.len(), 3);
    assert_eq!(run.turns, 3);
    assert_eq!(run.ending, RunEnding::Ranked);
    assert_eq!(run.documents.len(), 1);
}
