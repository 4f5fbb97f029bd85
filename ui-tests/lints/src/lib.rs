//! Functions that rustc and clippy warn about, each once with and once without an attribute
//! (`cfg_attr(feature = "annotated", …)`). `tests/lints.rs` compares the two lint runs of
//! `cargo check` (rustc's lints, on the instrumented functions) and of `cargo clippy`: the
//! attributes must add no warning and hide none.
#![warn(clippy::pedantic, clippy::async_yields_async, unused)]
#![allow(clippy::missing_errors_doc, clippy::must_use_candidate, missing_docs)]

use std::future::{ready, Ready};

pub struct Shop {
    pub id: u8,
}

#[derive(Clone, Copy)]
pub struct Small(pub u8);

// An `async fn` returning a future is not an `async` block that forgot an `.await`.
#[cfg_attr(feature = "annotated", kansoku::track_api_request)]
pub async fn later() -> Ready<u8> {
    ready(1).await;
    ready(1)
}

// clippy::boxed_local, clippy::needless_pass_by_value
#[cfg_attr(feature = "annotated", kansoku::track_api_request)]
pub fn boxed(b: Box<u8>) -> u8 {
    *b
}

// clippy::needless_pass_by_value
#[cfg_attr(feature = "annotated", kansoku::track_database_query("select", "shops"))]
pub fn by_value(v: Vec<u8>) -> usize {
    v.len()
}

impl Shop {
    // clippy::unused_self
    #[cfg_attr(feature = "annotated", kansoku::track_api_request)]
    fn unused(&self) -> u8 {
        1
    }

    // clippy::trivially_copy_pass_by_ref
    #[cfg_attr(feature = "annotated", kansoku::monitor_api_endpoint)]
    fn small(&self, s: &Small) -> u8 {
        s.0 + self.id
    }
}

// clippy::cast_possible_truncation, clippy::cast_lossless in the body
#[cfg_attr(feature = "annotated", kansoku::track_api_request)]
pub fn casts(x: u64, y: u8) -> u16 {
    (x as u8) as u16 + y as u16
}

// unused_variables, unused_mut
#[cfg_attr(feature = "annotated", kansoku::track_api_request)]
pub fn unused_things(input: u8) -> u8 {
    let mut copy = 2;
    let ignored = input;
    copy
}

// the same in an `async fn`
#[cfg_attr(feature = "annotated", kansoku::track_api_request)]
pub async fn unused_things_later(input: u8) -> u8 {
    let mut copy = 2;
    let ignored = input;
    ready(copy).await
}

// dead_code
#[cfg_attr(feature = "annotated", kansoku::track_api_request)]
fn never_called() -> u8 {
    1
}

// clippy::async_yields_async in the user's own `async` block is still reported
#[cfg_attr(feature = "annotated", kansoku::track_api_request)]
pub async fn nested() -> u8 {
    let inner = async { ready(1) };
    inner.await.await
}

// An `async fn` that never ends (no `-> !`) gets no "unreachable" warning.
#[cfg_attr(feature = "annotated", kansoku::track_api_request)]
pub async fn forever(rx: std::sync::mpsc::Receiver<u8>) {
    loop {
        let _ = rx.recv();
        ready(()).await;
    }
}

// clippy::needless_return in a plain `fn`
#[cfg_attr(feature = "annotated", kansoku::track_api_request)]
pub fn needless_return(x: u8) -> u8 {
    return x + wraps(x).unwrap_or(0);
}

// clippy::needless_lifetimes: the body's restated types must not name `'a`
#[cfg_attr(feature = "annotated", kansoku::track_api_request)]
pub fn first_word<'a>(text: &'a str) -> &'a str {
    text.split(' ').next().unwrap_or_default()
}

#[cfg_attr(feature = "annotated", kansoku::track_database_query("select", "words"))]
pub async fn first_word_later<'a>(text: &'a str) -> Result<&'a str, String> {
    ready(()).await;
    text.split(' ').next().ok_or_else(String::new)
}

// `_`-prefixed arguments are not "used" by the expansion (clippy::used_underscore_binding);
// an argument configured out is not mentioned
#[cfg_attr(feature = "annotated", kansoku::track_api_request)]
pub async fn underscored(_unused: String, #[cfg(any())] gone: String, kept: u8) -> u8 {
    ready(()).await;
    kept
}

// clippy::manual_async_fn
#[cfg_attr(feature = "annotated", kansoku::track_api_request)]
pub fn manual(x: u8) -> impl std::future::Future<Output = u8> {
    async move { x }
}

// Lints that read the function's own returns, awaits and statements: any expansion that
// observes the returned value would change them, so clippy is given the function as written.
//
// clippy::unnecessary_wraps
#[cfg_attr(feature = "annotated", kansoku::track_api_request)]
fn wraps(x: u8) -> Option<u8> {
    Some(x)
}

// clippy::unused_async
#[cfg_attr(feature = "annotated", kansoku::track_api_request)]
pub async fn no_await() -> u8 {
    1
}

// clippy::needless_return in an `async fn`
#[cfg_attr(feature = "annotated", kansoku::track_api_request)]
pub async fn needless_return_later(x: u8) -> u8 {
    ready(()).await;
    return x;
}

// clippy::unused_async, clippy::needless_return, and no clippy::diverging_sub_expression
#[cfg_attr(feature = "annotated", kansoku::track_api_request)]
pub async fn only_return() -> u8 {
    return 1;
}

// no clippy::ptr_arg (plain, the deref coercion at the return hides the `&Vec` from clippy)
#[cfg_attr(feature = "annotated", kansoku::track_api_request)]
pub fn as_slice(v: &Vec<u8>) -> &[u8] {
    v
}

// clippy::useless_format
#[cfg_attr(feature = "annotated", kansoku::track_api_request)]
pub fn formatted(c: bool) -> String {
    format!("{}", if c { "a" } else { "b" })
}

// clippy::redundant_locals in an `async fn`
#[cfg_attr(feature = "annotated", kansoku::track_api_request)]
pub async fn relocal(n: u8) -> u8 {
    let n = n;
    ready(n).await
}
