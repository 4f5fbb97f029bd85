//! The attribute macros of [kansoku](https://docs.rs/kansoku). Depend on `kansoku` and use them
//! from there (`#[kansoku::track_api_request]`); their documentation lives on those re-exports.
//!
//! Each attribute parses its arguments and the function it is applied to, then expands into
//! calls of `::kansoku::__private`, the same way whatever features `kansoku` is built with.

mod args;
mod body;
mod expand;
mod shape;
mod target;
#[cfg(test)]
mod tests;

use proc_macro::TokenStream;

use crate::args::{EndpointArgs, QueryArgs, RequestArgs};

/// Reports the calls of a function as a Sentry transaction, capturing its errors and panics.
#[proc_macro_attribute]
pub fn monitor_api_endpoint(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::instrument::<EndpointArgs>(args.into(), item.into()).into()
}

/// Counts and times the calls of a request handler, by endpoint, method and outcome.
#[proc_macro_attribute]
pub fn track_api_request(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::instrument::<RequestArgs>(args.into(), item.into()).into()
}

/// Counts and times the calls of a database query, by operation, table and outcome.
#[proc_macro_attribute]
pub fn track_database_query(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::instrument::<QueryArgs>(args.into(), item.into()).into()
}
