//! The attributes add no lint and hide none but the three named below: `lints/` (its own
//! workspace) is linted by `cargo clippy` once as written and once with every function
//! annotated, and the two sets of warnings are compared, lint by lint and line by line.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

/// Lints the attributes hide, and why they cannot keep them:
/// - `clippy::unused_async`: the expansion awaits the body, so every annotated `async fn` has
///   an `.await`;
/// - `clippy::unnecessary_wraps` and `clippy::needless_return`: the function's own return
///   values are the generated ones; the user's move into the closure or `async` block that
///   runs the body.
const HIDDEN: [&str; 3] = [
    "clippy::needless_return",
    "clippy::unnecessary_wraps",
    "clippy::unused_async",
];

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

    let lints = |set: &BTreeSet<(String, u64, u64)>| -> BTreeSet<String> {
        set.iter().map(|(code, ..)| code.clone()).collect()
    };
    // the bait really triggers what it is meant to, so the comparison means something
    for expected in [
        "clippy::boxed_local",
        "clippy::needless_pass_by_value",
        "clippy::trivially_copy_pass_by_ref",
        "clippy::cast_possible_truncation",
        "clippy::cast_lossless",
        "clippy::async_yields_async",
        "unused_variables",
        "unused_mut",
        "dead_code",
    ]
    .into_iter()
    .chain(HIDDEN)
    {
        assert!(
            lints(&plain).contains(expected),
            "the plain crate lacks {expected}: {plain:#?}"
        );
    }

    let added: Vec<_> = annotated.difference(&plain).collect();
    assert!(added.is_empty(), "the attributes add warnings: {added:#?}");
    let hidden: BTreeSet<String> = plain
        .difference(&annotated)
        .map(|(code, ..)| code.clone())
        .collect();
    assert_eq!(
        hidden,
        HIDDEN
            .iter()
            .map(|code| (*code).to_owned())
            .collect::<BTreeSet<_>>(),
        "the attributes hide other warnings than the known ones"
    );
}
