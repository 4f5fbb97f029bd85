//! The attributes add no lint and hide none but the three marked in the bait: `lints/` (its own
//! workspace) is linted by `cargo clippy` once as written and once with every function
//! annotated, and the two sets of warnings are compared, lint by lint and line by line.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

/// The warnings the attributes hide (`marker` `hidden:`) or add (`added:`), `(lint, line)`:
/// the lines of `lints/src/lib.rs` whose comment names them. Why is said next to each there.
fn expected(marker: &str) -> BTreeSet<(String, u64)> {
    let source = include_str!("../lints/src/lib.rs");
    (1..)
        .zip(source.lines())
        .filter_map(|(line, text)| {
            let (_, comment) = text.split_once("// ")?;
            let (_, rest) = comment.split_once(marker)?;
            let lint = rest.split_whitespace().next()?;
            Some((lint.to_owned(), line))
        })
        .collect()
}

fn by_line(set: &BTreeSet<(String, u64, u64)>) -> BTreeSet<(String, u64)> {
    set.iter()
        .map(|(code, line, _)| (code.clone(), *line))
        .collect()
}

/// `(lint, line, column)` of every warning clippy gives on `lints/`.
fn warnings(annotated: bool) -> BTreeSet<(String, u64, u64)> {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("lints");
    let target_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/lints");
    let mut clippy = Command::new(env!("CARGO"));
    clippy
        .current_dir(&crate_dir)
        .args(["clippy", "--quiet", "--message-format", "json"])
        .env("CARGO_TARGET_DIR", &target_dir)
        .env_remove("RUSTFLAGS");
    if annotated {
        clippy.args(["--features", "annotated"]);
    }
    let output = clippy.output().expect("cargo clippy runs");
    assert!(
        output.status.success(),
        "cargo clippy failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mut found = BTreeSet::new();
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let Ok(message) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let message = &message["message"];
        let (Some(code), Some(span)) = (
            message["code"]["code"].as_str(),
            message["spans"].as_array().and_then(|spans| spans.first()),
        ) else {
            continue;
        };
        found.insert((
            code.to_owned(),
            span["line_start"].as_u64().unwrap_or(0),
            span["column_start"].as_u64().unwrap_or(0),
        ));
    }
    found
}

#[test]
fn attributes_add_no_lint_and_hide_only_the_named_ones() {
    let plain = warnings(false);
    let annotated = warnings(true);

    // the bait really triggers what it is meant to, so the comparison means something
    let plain_lints: BTreeSet<&str> = plain.iter().map(|(code, ..)| code.as_str()).collect();
    for expected in [
        "clippy::boxed_local",
        "clippy::needless_pass_by_value",
        "clippy::trivially_copy_pass_by_ref",
        "clippy::cast_possible_truncation",
        "clippy::cast_lossless",
        "clippy::async_yields_async",
        "clippy::needless_return",
        "clippy::needless_lifetimes",
        "clippy::manual_async_fn",
        "clippy::unnecessary_wraps",
        "clippy::unused_async",
        "unused_variables",
        "unused_mut",
        "dead_code",
    ] {
        assert!(
            plain_lints.contains(expected),
            "the plain crate lacks {expected}: {plain:#?}"
        );
    }

    let (plain, annotated) = (by_line(&plain), by_line(&annotated));
    let added: BTreeSet<_> = annotated.difference(&plain).cloned().collect();
    let hidden: BTreeSet<_> = plain.difference(&annotated).cloned().collect();
    let (expected_added, expected_hidden) = (expected("added:"), expected("hidden:"));
    assert_eq!(expected_hidden.len(), 7, "the bait marks its hidden lints");
    assert_eq!(
        added, expected_added,
        "the attributes add other warnings than the marked ones"
    );
    assert_eq!(
        hidden, expected_hidden,
        "the attributes hide other warnings than the marked ones"
    );
}
