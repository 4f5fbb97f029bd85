//! The attributes add no lint and hide none: `lints/` (its own workspace) is linted once as
//! written and once with every function annotated, and the two sets of warnings are compared,
//! lint by lint and line by line, for `cargo check` (rustc's lints, which see the instrumented
//! functions) and for `cargo clippy` (which is given each function as written, see
//! `macros/src/expand.rs`).

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

fn by_line(set: &BTreeSet<(String, u64, u64)>) -> BTreeSet<(String, u64)> {
    set.iter()
        .map(|(code, line, _)| (code.clone(), *line))
        .collect()
}

/// `(lint, line, column)` of every warning `cargo TOOL` (`check` or `clippy`) gives on `lints/`.
fn warnings(tool: &str, annotated: bool) -> BTreeSet<(String, u64, u64)> {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("lints");
    let target_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/lints");
    let mut clippy = Command::new(env!("CARGO"));
    clippy
        .current_dir(&crate_dir)
        .args([tool, "--quiet", "--message-format", "json"])
        .env("CARGO_TARGET_DIR", &target_dir)
        .env_remove("RUSTFLAGS");
    if annotated {
        clippy.args(["--features", "annotated"]);
    }
    let output = clippy.output().expect("cargo clippy runs");
    assert!(
        output.status.success(),
        "cargo {tool} failed:\n{}",
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

/// The bait really triggers what it is meant to, so the comparisons mean something.
fn assert_baited(plain: &BTreeSet<(String, u64, u64)>, lints: &[&str]) {
    let found: BTreeSet<&str> = plain.iter().map(|(code, ..)| code.as_str()).collect();
    for expected in lints {
        assert!(
            found.contains(expected),
            "the plain crate lacks {expected}: {plain:#?}"
        );
    }
}

fn assert_same(
    tool: &str,
    plain: &BTreeSet<(String, u64, u64)>,
    annotated: &BTreeSet<(String, u64, u64)>,
) {
    let (plain, annotated) = (by_line(plain), by_line(annotated));
    let added: BTreeSet<_> = annotated.difference(&plain).collect();
    let hidden: BTreeSet<_> = plain.difference(&annotated).collect();
    assert!(
        added.is_empty() && hidden.is_empty(),
        "`cargo {tool}`: the attributes add {added:?} and hide {hidden:?}"
    );
}

/// rustc's lints run on the instrumented functions, the code every build compiles.
#[test]
fn rustc_lints_are_the_same_with_the_attributes() {
    let plain = warnings("check", false);
    assert_baited(&plain, &["unused_variables", "unused_mut", "dead_code"]);
    assert_same("check", &plain, &warnings("check", true));
}

#[test]
fn clippy_lints_are_the_same_with_the_attributes() {
    let plain = warnings("clippy", false);
    assert_baited(
        &plain,
        &[
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
            "clippy::useless_format",
            "clippy::redundant_locals",
            "unused_variables",
            "unused_mut",
            "dead_code",
        ],
    );
    assert_same("clippy", &plain, &warnings("clippy", true));
}
