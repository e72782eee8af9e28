//! The conversation store: SQLite on disk, reopened as a restart would, and the Markdown export.

use fathom_chat::conversation::{Ending, ReplyStats};
use fathom_chat::export::to_markdown;
use fathom_chat::{ChatError, ChatStore, Effort, Message, Part, Setup};

fn reply(answer: &str) -> Message {
    Message::Assistant {
        parts: vec![
            Part::Reasoning {
                text: "Let me think.".into(),
            },
            Part::ToolCall {
                tool: "search_corpus".into(),
                arguments: r#"{"query":"```budget```"}"#.into(),
                output: Some("doc 7: Budget memo".into()),
            },
            Part::Answer {
                text: answer.into(),
            },
        ],
        ending: Ending::Done,
        stats: Some(ReplyStats {
            prompt_tokens: 120,
            cached_tokens: 100,
            generated_tokens: 42,
            tokens_per_second: 31.5,
            time_to_first_token_seconds: 0.25,
            seconds: 1.6,
        }),
    }
}

#[test]
fn conversations_persist_list_rename_search_edit_and_delete() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("data/chats.sqlite");
    let setup = Setup {
        effort: Effort::High,
        date: Some("2026-11-27".into()),
        instructions: None,
        tools: vec![],
    };
    let (a, b) = {
        let store = ChatStore::open(&db).unwrap();
        let a = store.create(&setup, None).unwrap();
        store
            .append(
                &a.id,
                &[
                    Message::user(
                        "Where is the quarterly budget memo that Alice sent in March? I cannot find it anywhere",
                    ),
                    reply("It is **doc 7**."),
                ],
            )
            .unwrap();
        let b = store.create(&Setup::default(), Some("Recipes")).unwrap();
        store
            .append(&b.id, &[Message::user("pancakes 100% flour_mix")])
            .unwrap();
        (a.id, b.id)
    };

    // Reopened: everything is there, newest first, titled from the first message.
    let store = ChatStore::open(&db).unwrap();
    let list = store.list().unwrap();
    assert_eq!(
        list.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(),
        [b.as_str(), a.as_str()]
    );
    assert_eq!(list[0].title, "Recipes");
    assert_eq!(list[1].messages, 2);
    assert_eq!(
        list[1].title,
        "Where is the quarterly budget memo that Alice sent in…"
    );
    let conversation = store.get(&a).unwrap();
    assert_eq!(conversation.setup, setup);
    assert_eq!(conversation.messages[1], reply("It is **doc 7**."));

    // Search looks at titles and every part of every message, case-insensitively; LIKE's
    // wildcards in the query are plain characters.
    let ids =
        |q: &str| -> Vec<String> { store.search(q).unwrap().into_iter().map(|s| s.id).collect() };
    assert_eq!(ids("recipes"), [b.as_str()]);
    assert_eq!(ids("DOC 7"), [a.as_str()]);
    assert_eq!(ids("budget memo"), [a.as_str()]);
    assert_eq!(ids("100%"), [b.as_str()]);
    assert_eq!(ids("flour_"), [b.as_str()]);
    assert_eq!(ids("%"), [b.as_str()], "% is a character, not a wildcard");
    assert!(ids("nowhere to be found").is_empty());
    let hit = &store.search("alice").unwrap()[0];
    assert!(hit.snippet.as_deref().unwrap().contains("Alice"), "{hit:?}");

    // Edit the first message: what followed goes, the new text takes its place.
    store
        .replace_from(&a, 0, &[Message::user("Where is the memo?")])
        .unwrap();
    let edited = store.get(&a).unwrap();
    assert_eq!(edited.messages, [Message::user("Where is the memo?")]);
    // Regenerate = replace from the reply's position.
    store.append(&a, &[reply("first try")]).unwrap();
    store.replace_from(&a, 1, &[reply("second try")]).unwrap();
    assert_eq!(store.get(&a).unwrap().messages[1], reply("second try"));
    assert_eq!(store.list().unwrap()[0].id, a, "changed last, listed first");

    store.rename(&a, "  Memo hunt ").unwrap();
    assert_eq!(store.get(&a).unwrap().title, "Memo hunt");
    assert!(matches!(store.rename(&a, " "), Err(ChatError::Input(_))));
    let high = Setup {
        effort: Effort::Low,
        ..setup.clone()
    };
    store.set_setup(&a, &high).unwrap();
    assert_eq!(store.get(&a).unwrap().setup.effort, Effort::Low);

    store.delete(&a).unwrap();
    assert!(matches!(store.get(&a), Err(ChatError::NoConversation(_))));
    assert!(matches!(
        store.delete(&a),
        Err(ChatError::NoConversation(_))
    ));
    assert!(matches!(
        store.append(&a, &[Message::user("x")]),
        Err(ChatError::NoConversation(_))
    ));
    assert_eq!(store.list().unwrap().len(), 1);
}

#[test]
fn a_corrupt_store_is_an_error_naming_the_file_and_is_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("chats.sqlite");
    std::fs::write(&db, b"this is not a database, but somebody's file").unwrap();
    let err = ChatStore::open(&db).err().unwrap().to_string();
    assert!(err.contains("chats.sqlite"), "{err}");
    assert_eq!(
        std::fs::read(&db).unwrap(),
        b"this is not a database, but somebody's file"
    );
}

#[test]
fn markdown_export_has_every_turn_reasoning_tool_calls_and_figures() {
    let dir = tempfile::tempdir().unwrap();
    let store = ChatStore::open(dir.path().join("c.sqlite")).unwrap();
    let c = store
        .create(
            &Setup {
                effort: Effort::Medium,
                date: Some("2026-11-27".into()),
                instructions: Some("Cite.\nBe brief.".into()),
                tools: vec![],
            },
            Some("Budget"),
        )
        .unwrap();
    store
        .append(
            &c.id,
            &[
                Message::user("Where is the memo?"),
                reply("It is **doc 7**."),
            ],
        )
        .unwrap();
    let md = to_markdown(&store.get(&c.id).unwrap());
    let expected_in_order = [
        "# Budget",
        "*Reasoning effort: medium · started 2026-11-27*",
        "> Cite.\n> Be brief.",
        "## You\n\nWhere is the memo?",
        "## Context-1",
        "<details>\n<summary>Thinking</summary>\n\nLet me think.",
        "**Tool call:** `search_corpus`",
        // The arguments hold a ``` run: the fence around them is longer.
        "````json\n{\"query\":\"```budget```\"}\n````",
        "<summary>Result</summary>",
        "doc 7: Budget memo",
        "It is **doc 7**.",
        "<sub>42 tokens · 31.5 tok/s · first token 0.25 s</sub>",
    ];
    let mut at = 0;
    for piece in expected_in_order {
        let found = md[at..]
            .find(piece)
            .unwrap_or_else(|| panic!("{piece:?} missing after byte {at} in:\n{md}"));
        at += found + piece.len();
    }
}

#[test]
fn ask_runs_are_kept_listed_newest_first_and_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("chats.sqlite");
    let (a, b) = {
        let store = ChatStore::open(&db).unwrap();
        let a = store
            .save_run(
                "Where is the memo?",
                &serde_json::json!({"run": {"turns": 3}}),
            )
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(5));
        let b = store
            .save_run(
                "When are tides strongest?",
                &serde_json::json!({"run": {"turns": 1}}),
            )
            .unwrap();
        (a, b)
    };
    let store = ChatStore::open(&db).unwrap();
    let runs = store.list_runs().unwrap();
    assert_eq!(
        runs.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        [b.as_str(), a.as_str()]
    );
    assert_eq!(runs[1].question, "Where is the memo?");
    assert_eq!(
        store.get_run::<serde_json::Value>(&a).unwrap()["run"]["turns"],
        3
    );
    // Typed: a run read as the shape it was saved in, and a clear error for a shape it lacks.
    #[derive(serde::Deserialize, Debug, PartialEq)]
    struct Turns {
        turns: u32,
    }
    #[derive(serde::Deserialize, Debug)]
    struct Saved {
        run: Turns,
    }
    assert_eq!(store.get_run::<Saved>(&a).unwrap().run, Turns { turns: 3 });
    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct Newer {
        answer: String,
    }
    match store.get_run::<Newer>(&a) {
        Err(ChatError::Store { message, .. }) => {
            assert!(
                message.contains("cannot be read by this version"),
                "{message}"
            )
        }
        other => panic!("expected a store error, got {other:?}"),
    }
    store.delete_run(&a).unwrap();
    assert!(matches!(
        store.get_run::<serde_json::Value>(&a),
        Err(ChatError::NoConversation(_))
    ));
    assert!(store.delete_run(&a).is_err());
    assert_eq!(store.list_runs().unwrap().len(), 1);
}
