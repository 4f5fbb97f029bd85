//! Support crate of the trybuild cases in `tests/ui`. Its own code is a lint check of the
//! expansion: every attribute on several function shapes, with rustc's `unused_qualifications`,
//! `unused_results` and `missing_docs` as errors, so every build of this crate fails if the
//! generated code trips them. (Clippy is given the functions as written, so its
//! `clippy::pedantic` here checks the shapes, not the expansion; see `macros/src/expand.rs`.)

#![deny(clippy::pedantic, unused_qualifications, unused_results, missing_docs)]
// the shapes are async fns with trivial bodies; clippy sees them as written and says so
#![allow(clippy::unused_async)]

/// Every attribute on every shape; only compiled, never called.
pub mod lint_hygiene {
    use std::fmt::Display;
    use std::future::Future;
    use std::sync::Arc;

    use async_trait::async_trait;

    /// An error type, so that the `Err` classification is exercised.
    #[derive(Debug)]
    pub struct ShopError;

    impl Display for ShopError {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("shop error")
        }
    }

    impl std::error::Error for ShopError {}

    /// Async free function returning a `Result`.
    ///
    /// # Errors
    /// `ShopError` when `limit` is 0.
    #[kansoku::monitor_api_endpoint(name = "GET /shops", op = "http.server")]
    #[kansoku::track_api_request(method = "GET", endpoint = "/shops")]
    pub async fn get_shops(limit: usize) -> Result<Vec<u32>, ShopError> {
        if limit == 0 {
            return Err(ShopError);
        }
        Ok(vec![1; limit])
    }

    /// Async free function without a return type.
    #[kansoku::track_api_request("POST", "/ping")]
    pub async fn ping() {}

    /// Sync free function without a return type.
    #[kansoku::track_database_query("delete", "sessions")]
    pub fn purge() {}

    /// Sync free function with `?`.
    ///
    /// # Errors
    /// When `input` is not a number.
    #[kansoku::track_database_query(operation = "select", table = "shops")]
    pub fn parse(input: &str) -> Result<u32, std::num::ParseIntError> {
        let value = input.trim().parse::<u32>()?;
        Ok(value + 1)
    }

    /// Generic function with `impl Trait` argument and return.
    #[kansoku::track_api_request]
    pub fn show<T: Display>(value: T, suffix: impl Display) -> impl Display {
        format!("{value}{suffix}")
    }

    /// Returns a future built in its tail. (The allow is for the function as written: clippy
    /// would suggest `async fn` without the attribute too.)
    #[allow(clippy::manual_async_fn)]
    #[kansoku::track_api_request]
    pub fn later(x: u32) -> impl Future<Output = u32> + Send {
        async move { x + 1 }
    }

    /// A repository with every receiver.
    #[derive(Debug, Default)]
    pub struct Repo {
        names: Vec<String>,
    }

    impl Repo {
        /// `&self`, sync.
        #[kansoku::track_database_query("select", "shops")]
        #[must_use]
        pub fn count(&self) -> usize {
            self.names.len()
        }

        /// `&self`, sync, returning a borrow.
        #[kansoku::track_database_query("select", "shops")]
        pub fn first(&self) -> Option<&str> {
            self.names.first().map(String::as_str)
        }

        /// `&mut self`, async.
        #[kansoku::track_database_query("insert", "shops")]
        pub async fn push(&mut self, name: String) {
            self.names.push(name);
        }

        /// `self`, async.
        #[kansoku::monitor_api_endpoint]
        pub async fn into_names(self) -> Vec<String> {
            self.names
        }

        /// `self: Arc<Self>`, async.
        #[kansoku::track_api_request(endpoint = "/shared")]
        pub async fn shared(self: Arc<Self>) -> usize {
            self.names.len()
        }
    }

    /// A trait implemented through `#[async_trait]`.
    #[async_trait]
    pub trait Store {
        /// Loads one name.
        async fn load(&self, id: usize) -> Result<String, ShopError>;
    }

    #[async_trait]
    impl Store for Repo {
        #[kansoku::track_database_query("select", "shops")]
        #[kansoku::monitor_api_endpoint]
        async fn load(&self, id: usize) -> Result<String, ShopError> {
            self.names.get(id).cloned().ok_or(ShopError)
        }
    }

    /// Stacked with `#[tracing::instrument]`, both orders.
    #[kansoku::track_api_request]
    #[tracing::instrument]
    pub async fn traced_inside(id: u32) -> u32 {
        id
    }

    /// Stacked with `#[tracing::instrument]`, both orders.
    #[tracing::instrument]
    #[kansoku::track_api_request]
    pub async fn traced_outside(id: u32) -> u32 {
        id
    }
}
