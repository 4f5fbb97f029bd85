//! Code generation: an annotated function keeps its signature and attributes; its body becomes
//! a static call-site description, a guard started before the original body runs, and a
//! `finish` with the classified result. Everything else happens in `::kansoku::__private`.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::ext::IdentExt as _;
use syn::parse::Parse;
use syn::{Ident, ItemFn, LitStr, Signature};

use crate::args::{EndpointArgs, QueryArgs, RequestArgs};
use crate::body::{self, Guard};
use crate::target;

/// The arguments of one attribute, and the `Site` constructor they turn into.
pub(crate) trait SiteArgs: Parse {
    /// The attribute's name, for error messages.
    const ATTRIBUTE: &'static str;

    /// `::kansoku::__private::Site::…(info, …)`.
    fn site(&self, info: TokenStream) -> TokenStream;

    /// Takes defaults from the attributes still on the function (those below this one).
    fn adopt(&mut self, _function: &ItemFn) {}

    /// Checks the arguments against the function they are applied to.
    fn check(&self, _function: &ItemFn) -> syn::Result<()> {
        Ok(())
    }

    /// An attribute stacked right below that this expansion takes in (see `body::guarded_twice`):
    /// removed from `function`, and its site's constructor returned.
    fn absorb(&self, _function: &mut ItemFn) -> Option<TokenStream> {
        None
    }

    /// Statements run right after the guard `call` starts.
    fn after_start(&self, _call: &Ident) -> TokenStream {
        TokenStream::new()
    }
}

impl SiteArgs for EndpointArgs {
    const ATTRIBUTE: &'static str = "monitor_api_endpoint";

    fn site(&self, info: TokenStream) -> TokenStream {
        let name = optional(self.name.as_ref());
        let op = optional(self.op.as_ref());
        quote!(::kansoku::__private::Site::monitor_api_endpoint(#info, #name, #op))
    }

    /// Stacked above `#[track_api_request(endpoint = "/shops")]`, the endpoint is named
    /// `/shops` too, so `ns_errors_total{endpoint}` joins `ns_api_requests_total{endpoint}`.
    fn adopt(&mut self, function: &ItemFn) {
        if self.name.is_none() {
            self.name = stacked_request(function).and_then(|(_, args)| args.endpoint);
        }
    }

    /// `#[track_api_request]` right below (only inert attributes between, and kansoku's by its
    /// path) on an `async fn`: one expansion with both guards, instead of two nested `async fn`s.
    /// Arguments that do not parse are left to that attribute's own expansion, which reports
    /// them.
    fn absorb(&self, function: &mut ItemFn) -> Option<TokenStream> {
        if function.sig.asyncness.is_none() || body::returns_never(&function.sig.output) {
            return None;
        }
        let (position, args) = stacked_request(function)?;
        let path = function.attrs[position].path();
        let ours = path.segments.len() == 1
            || (path.segments.len() == 2 && path.segments[0].ident == "kansoku");
        if !ours || !function.attrs[..position].iter().all(is_inert) {
            return None;
        }
        function.attrs.remove(position);
        Some(args.site(fn_info(&function.sig)))
    }

    fn check(&self, function: &ItemFn) -> syn::Result<()> {
        let arguments: Vec<&Ident> = function
            .sig
            .inputs
            .iter()
            .filter_map(|input| match input {
                syn::FnArg::Typed(typed) => match &*typed.pat {
                    syn::Pat::Ident(pat) => Some(&pat.ident),
                    _ => None,
                },
                syn::FnArg::Receiver(_) => None,
            })
            .collect();
        let mut errors: Option<syn::Error> = None;
        for field in &self.fields {
            if !arguments.contains(&field) {
                let error = syn::Error::new_spanned(
                    field,
                    format!(
                        "`{field}` is not an argument of `{}`; `fields` names arguments bound to a \
                         plain name",
                        function.sig.ident
                    ),
                );
                match &mut errors {
                    Some(all) => all.combine(error),
                    None => errors = Some(error),
                }
            }
        }
        errors.map_or(Ok(()), Err)
    }

    fn after_start(&self, call: &Ident) -> TokenStream {
        let fields = self.fields.iter().map(|field| {
            let name = field.unraw().to_string();
            // spanned on the argument, so a missing `Debug` is reported there
            quote_spanned!(field.span()=> #call.field(#name, &#field);)
        });
        quote!(#(#fields)*)
    }
}

impl SiteArgs for RequestArgs {
    const ATTRIBUTE: &'static str = "track_api_request";

    fn site(&self, info: TokenStream) -> TokenStream {
        let endpoint = optional(self.endpoint.as_ref());
        let method = match &self.method {
            Some(method) => method.clone(),
            None => LitStr::new("ANY", Span::call_site()),
        };
        quote!(::kansoku::__private::Site::track_api_request(#info, #endpoint, #method))
    }
}

impl SiteArgs for QueryArgs {
    const ATTRIBUTE: &'static str = "track_database_query";

    fn site(&self, info: TokenStream) -> TokenStream {
        let QueryArgs { operation, table } = self;
        quote!(::kansoku::__private::Site::track_database_query(#info, #operation, #table))
    }
}

/// The first `#[track_api_request]` still on `function` (any path ending so), with its position
/// and arguments, when they parse.
fn stacked_request(function: &ItemFn) -> Option<(usize, RequestArgs)> {
    let position = function.attrs.iter().position(|attr| {
        attr.path()
            .segments
            .last()
            .is_some_and(|last| last.ident == "track_api_request")
    })?;
    let args = match &function.attrs[position].meta {
        syn::Meta::Path(_) => syn::parse2::<RequestArgs>(TokenStream::new()),
        syn::Meta::List(list) => syn::parse2::<RequestArgs>(list.tokens.clone()),
        syn::Meta::NameValue(_) => return None,
    };
    Some((position, args.ok()?))
}

/// An attribute that is not a macro: expanding another one before or after it changes nothing.
fn is_inert(attr: &syn::Attribute) -> bool {
    const INERT: [&str; 8] = [
        "doc",
        "allow",
        "warn",
        "deny",
        "expect",
        "inline",
        "must_use",
        "track_caller",
    ];
    INERT.iter().any(|name| attr.path().is_ident(name))
}

fn optional(value: Option<&LitStr>) -> TokenStream {
    if let Some(value) = value {
        quote!(::core::option::Option::Some(#value))
    } else {
        quote!(::core::option::Option::None)
    }
}

/// Expands one attribute. On any error, the errors are emitted next to the unchanged `item`,
/// so the user sees them and nothing that follows from a missing or mangled function.
pub(crate) fn instrument<A: SiteArgs>(args: TokenStream, item: TokenStream) -> TokenStream {
    let tokens = args.clone();
    let args = syn::parse2::<A>(args);
    let function = target::function(A::ATTRIBUTE, item.clone());
    let error = match (args, function) {
        (Ok(mut args), Ok(function)) => match args.check(&function) {
            Ok(()) => {
                if let Some(reordered) = tracing_below::<A>(&tokens, &function) {
                    return reordered;
                }
                args.adopt(&function);
                return instrument_fn(&args, function, &item);
            }
            Err(error) => error,
        },
        (Err(error), Ok(_)) | (Ok(_), Err(error)) => error,
        (Err(mut error), Err(more)) => {
            error.combine(more);
            error
        }
    };
    let mut tokens = error.to_compile_error();
    tokens.extend(target::fallback(item));
    tokens
}

/// `#[tracing::instrument]` right below this attribute (only inert attributes between) expands
/// first: this attribute is emitted again below it, so that the `tracing` span is inside the
/// call (a child of the endpoint's span, its events in the call) instead of around it.
///
/// ```text
/// #[kansoku::monitor_api_endpoint(ARGS)] #[tracing::instrument(T)] async fn f() {}
/// // becomes
/// #[tracing::instrument(T)] #[::kansoku::monitor_api_endpoint(ARGS)] async fn f() {}
/// ```
fn tracing_below<A: SiteArgs>(args: &TokenStream, function: &ItemFn) -> Option<TokenStream> {
    let position = function.attrs.iter().position(|attr| !is_inert(attr))?;
    let path = function.attrs[position].path();
    let tracing = match path.segments.len() {
        1 => path.segments[0].ident == "instrument",
        2 => path.segments[0].ident == "tracing" && path.segments[1].ident == "instrument",
        _ => false,
    };
    if !tracing {
        return None;
    }
    let mut function = function.clone();
    let instrument = function.attrs.remove(position);
    let name = Ident::new(A::ATTRIBUTE, Span::call_site());
    Some(quote! {
        #instrument
        #[::kansoku::#name(#args)]
        #function
    })
}

// Input:
//     #[doc = "…"] pub fn list(limit: u32) -> Vec<Shop> { BODY }
//
// Output:
//     #[cfg(not(any(clippy, doc)))]
//     #[doc = "…"] pub fn list(limit: u32) -> Vec<Shop> { INSTRUMENTED BODY }
//     #[cfg(any(clippy, doc))]
//     #[doc = "…"] pub fn list(limit: u32) -> Vec<Shop> { BODY }
//
// Rustdoc (`cfg(doc)`) documents the signature exactly as written (an ignored `_` argument of an
// `async fn` is named in the instrumented one). Clippy (which always sets `cfg(clippy)`) lints
// the function exactly as written: its lints
// read a function's own returns, awaits and statements (`unnecessary_wraps`, `unused_async`,
// `needless_return`…), which any expansion that observes the returned value changes. Every other
// build compiles the instrumented function, and rustc's own lints (`dead_code`, `unused_*`) see
// it the way they see the plain one (pinned by `ui-tests/tests/lints.rs`). A `#[cfg]` ahead of
// the other attributes drops the unused copy before anything else expands it.
/// Expands the function: a static call-site description and a guard around its body, in the
/// shape its signature calls for (see `body`); clippy gets the function unchanged.
fn instrument_fn(args: &impl SiteArgs, mut function: ItemFn, item: &TokenStream) -> TokenStream {
    let site = args.site(fn_info(&function.sig));
    let start = start(&function.sig, args);
    let stacked = args.absorb(&mut function).map(|stacked_site| {
        let stacked_start = site_start(&function.sig, &quote!(__KANSOKU_STACKED_SITE));
        (stacked_site, stacked_start)
    });
    body::instrument(
        &Guard {
            site,
            start,
            stacked,
        },
        &mut function,
    );
    quote! {
        #[cfg(not(any(clippy, doc)))]
        #function
        #[cfg(any(clippy, doc))]
        #item
    }
}

fn fn_info(signature: &Signature) -> TokenStream {
    let function = signature.ident.unraw().to_string();
    let is_method = signature.receiver().is_some();
    // the line of the function's name, not of the attribute
    let line = quote_spanned!(signature.ident.span()=> ::core::line!());
    quote! {
        ::kansoku::__private::FnInfo {
            function: #function,
            module_path: ::core::module_path!(),
            file: ::core::file!(),
            line: #line,
            is_method: #is_method,
        }
    }
}

/// Starts the guard; a method names its type at run time, which the macro cannot see.
fn start(signature: &Signature, args: &impl SiteArgs) -> TokenStream {
    let start = site_start(signature, &quote!(__KANSOKU_SITE));
    let call = body::local("__kansoku_started");
    let after = args.after_start(&call);
    if after.is_empty() {
        start
    } else {
        quote!({
            let #call = #start;
            #after
            #call
        })
    }
}

/// `site.start()`, or for a method `site.start_method(type_name::<Self>)`.
fn site_start(signature: &Signature, site: &TokenStream) -> TokenStream {
    if signature.receiver().is_some() {
        quote!(#site.start_method(::core::any::type_name::<Self>))
    } else {
        quote!(#site.start())
    }
}
