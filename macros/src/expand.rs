//! Code generation: an annotated function keeps its signature and attributes; its body becomes
//! a static call-site description, a guard started before the original body runs, and a
//! `finish` with the classified result. Everything else happens in `::kansoku::__private`.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned, ToTokens};
use syn::ext::IdentExt as _;
use syn::parse::Parse;
use syn::visit_mut::{self, VisitMut};
use syn::{parse_quote, Ident, ItemFn, LitStr, ReturnType, Signature, Type};

use crate::args::{EndpointArgs, QueryArgs, RequestArgs};
use crate::{shape, target};

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
        quote!(::kansoku::__private::Site::endpoint(#info, #name, #op))
    }

    /// Stacked above `#[track_api_request(endpoint = "/shops")]`, the endpoint is named
    /// `/shops` too, so `ns_errors_total{endpoint}` joins `ns_api_requests_total{endpoint}`.
    fn adopt(&mut self, function: &ItemFn) {
        if self.name.is_some() {
            return;
        }
        let stacked = function.attrs.iter().find(|attr| {
            attr.path()
                .segments
                .last()
                .is_some_and(|last| last.ident == "track_api_request")
        });
        let endpoint = stacked
            .and_then(|attr| attr.meta.require_list().ok())
            .and_then(|list| syn::parse2::<RequestArgs>(list.tokens.clone()).ok())
            .and_then(|args| args.endpoint);
        if endpoint.is_some() {
            self.name = endpoint;
        }
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
        quote!(::kansoku::__private::Site::api_request(#info, #endpoint, #method))
    }
}

impl SiteArgs for QueryArgs {
    const ATTRIBUTE: &'static str = "track_database_query";

    fn site(&self, info: TokenStream) -> TokenStream {
        let QueryArgs { operation, table } = self;
        quote!(::kansoku::__private::Site::db_query(#info, #operation, #table))
    }
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
    let args = syn::parse2::<A>(args);
    let function = target::function(A::ATTRIBUTE, item.clone());
    let error = match (args, function) {
        (Ok(mut args), Ok(function)) => match args.check(&function) {
            Ok(()) => {
                args.adopt(&function);
                return instrument_fn(&args, function);
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

// Input:
//     #[track_api_request(method = "POST", endpoint = "/checkout")]
//     pub async fn checkout(cart: Cart) -> Result<Receipt, CheckoutError> {
//         BODY
//     }
//
// Output:
//     pub async fn checkout(cart: Cart) -> Result<Receipt, CheckoutError> {
//         static __KANSOKU_SITE: ::kansoku::__private::Site = ::kansoku::__private::Site::api_request(
//             ::kansoku::__private::FnInfo { function: "checkout", …, is_method: false },
//             ::core::option::Option::Some("/checkout"),
//             "POST",
//         );
//         let __kansoku_call = __KANSOKU_SITE.start();
//         let __kansoku_out: Result<Receipt, CheckoutError> =
//             __kansoku_call.bind(async move { BODY }).await;
//         __kansoku_call.finish(::kansoku::__private::classify!(&__kansoku_out));
//         __kansoku_out
//     }
//
// A plain `fn` runs its body as `__kansoku_call.in_scope(move || { BODY })` instead, so that
// `return` and `?` keep their meaning. A non-`async` fn returning a future it builds in its
// tail (`#[async_trait]` methods) gets the same statements inside that future, see
// `instrument_returned_future`.
fn instrument_fn(args: &impl SiteArgs, mut function: ItemFn) -> TokenStream {
    let site = args.site(fn_info(&function.sig));
    let start = start(&function.sig, args);
    if returns_never(&function.sig.output) {
        instrument_diverging(&site, &start, &mut function);
    } else if function.sig.asyncness.is_some() {
        instrument_async(&site, &start, &mut function);
    } else if !instrument_returned_future(&site, &start, &mut function) {
        instrument_sync(&site, &start, &mut function);
    }
    function.into_token_stream()
}

fn instrument_async(site: &TokenStream, start: &TokenStream, function: &mut ItemFn) {
    let body = &function.block;
    let ret = declared_return_type(&function.sig.output);
    let statements = guarded(site, start, &ret, &Run::Future(quote!(async move #body)));
    *function.block = parse_quote!({ #statements });
}

// Input:
//     fn list(&self) -> Result<Vec<Shop>, DbError> { BODY }
//
// Output:
//     fn list(&self) -> Result<Vec<Shop>, DbError> {
//         static __KANSOKU_SITE: ::kansoku::__private::Site = …;
//         let __kansoku_call = __KANSOKU_SITE.start_method(::core::any::type_name::<Self>);
//         let __kansoku_out: Result<Vec<Shop>, DbError> = __kansoku_call.in_scope(move || { BODY });
//         __kansoku_call.finish(::kansoku::__private::classify!(&__kansoku_out));
//         __kansoku_out
//     }
fn instrument_sync(site: &TokenStream, start: &TokenStream, function: &mut ItemFn) {
    let body = &function.block;
    let ret = declared_return_type(&function.sig.output);
    let statements = guarded(site, start, &ret, &Run::Closure(quote!(move || #body)));
    *function.block = parse_quote!({ #statements });
}

// Input:
//     fn serve_forever() -> ! { BODY }
//
// Output:
//     fn serve_forever() -> ! {
//         static __KANSOKU_SITE: ::kansoku::__private::Site = …;
//         let __kansoku_call = __KANSOKU_SITE.start();
//         BODY
//     }
//
// The body never returns (so it has no `return` or `?` to preserve) and `!` cannot be written
// as the type of a `let`: the guard only records a panic, when it is dropped by the unwinding.
fn instrument_diverging(site: &TokenStream, start: &TokenStream, function: &mut ItemFn) {
    let body = &function.block;
    let call = local("__kansoku_call");
    *function.block = parse_quote!({
        static __KANSOKU_SITE: ::kansoku::__private::Site = #site;
        let #call = #start;
        #body
    });
}

fn returns_never(output: &ReturnType) -> bool {
    matches!(output, ReturnType::Type(_, ty) if matches!(**ty, Type::Never(_)))
}

// Input (what `#[async_trait]` makes of `async fn get(&self) -> T { BODY }`):
//     fn get<'life0, 'async_trait>(&'life0 self)
//         -> Pin<Box<dyn Future<Output = T> + Send + 'async_trait>>
//     { Box::pin(async move { BODY }) }
//
// Output:
//     fn get<'life0, 'async_trait>(&'life0 self)
//         -> Pin<Box<dyn Future<Output = T> + Send + 'async_trait>>
//     {
//         Box::pin(async move {
//             static __KANSOKU_SITE: ::kansoku::__private::Site = …;
//             let __kansoku_call = __KANSOKU_SITE.start_method(::core::any::type_name::<Self>);
//             let __kansoku_out: T = __kansoku_call.bind(async move { BODY }).await;
//             __kansoku_call.finish(::kansoku::__private::classify!(&__kansoku_out));
//             __kansoku_out
//         })
//     }
//
// Returns `false`, changing nothing, if the function does not have that shape.
fn instrument_returned_future(
    site: &TokenStream,
    start: &TokenStream,
    function: &mut ItemFn,
) -> bool {
    let output = match shape::future_output(&function.sig.output) {
        Some(output) => erase_impl_trait(output.clone()),
        None => parse_quote!(_),
    };
    let Some(future) = shape::returned_future(function) else {
        return false;
    };
    let statements = guarded(site, start, &output, &Run::Future(future.to_token_stream()));
    *future = parse_quote!(async move { #statements });
    true
}

/// How the original body runs inside the guard.
enum Run {
    /// A future (`async move { BODY }`, or the one an `#[async_trait]` fn returns), awaited
    /// through `Call::bind` so the runtime can make the call's context current at every poll.
    Future(TokenStream),
    /// `move || { BODY }`, run by `Call::in_scope`, so `return` and `?` keep their meaning.
    Closure(TokenStream),
}

/// The statements of an instrumented body: `run` runs the original body and yields its result,
/// of type `ret`.
fn guarded(site: &TokenStream, start: &TokenStream, ret: &Type, run: &Run) -> TokenStream {
    let call = local("__kansoku_call");
    let out = local("__kansoku_out");
    let run = match run {
        Run::Future(future) => quote!(#call.bind(#future).await),
        Run::Closure(closure) => quote!(#call.in_scope(#closure)),
    };
    quote! {
        static __KANSOKU_SITE: ::kansoku::__private::Site = #site;
        let #call = #start;
        let #out: #ret = #run;
        #call.finish(::kansoku::__private::classify!(&#out));
        #out
    }
}

/// A generated local variable. `mixed_site` hygiene keeps it out of reach of the user's body
/// (which is spliced in after the guard is declared) and of other expansions stacked on it.
fn local(name: &str) -> Ident {
    Ident::new(name, Span::mixed_site())
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
    let start = if signature.receiver().is_some() {
        quote!(__KANSOKU_SITE.start_method(::core::any::type_name::<Self>))
    } else {
        quote!(__KANSOKU_SITE.start())
    };
    let call = local("__kansoku_started");
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

/// The type to annotate the result with: the declared return type with `impl Trait` erased
/// (a `let` cannot name an opaque type), `()` if none is declared.
fn declared_return_type(output: &ReturnType) -> Type {
    match output {
        ReturnType::Default => parse_quote!(()),
        ReturnType::Type(_, ty) => erase_impl_trait((**ty).clone()),
    }
}

fn erase_impl_trait(mut ty: Type) -> Type {
    struct EraseImplTrait;

    impl VisitMut for EraseImplTrait {
        fn visit_type_mut(&mut self, ty: &mut Type) {
            if let Type::ImplTrait(impl_trait) = ty {
                *ty = Type::Infer(syn::TypeInfer {
                    underscore_token: syn::Token![_](impl_trait.impl_token.span),
                });
            } else {
                visit_mut::visit_type_mut(self, ty);
            }
        }
    }

    EraseImplTrait.visit_type_mut(&mut ty);
    ty
}
