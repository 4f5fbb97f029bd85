//! The instrumented body, in the shape the function's signature calls for.
//!
//! Whatever the shape, three things hold, so that an annotated function compiles exactly when
//! the plain one does and behaves the same:
//!
//! - The user's block is spliced in whole, as a nested block: a `use` or an item declared in it
//!   cannot shadow the names the generated code restates (tracing #3306), and its inner
//!   attributes stay on the function.
//! - The new body keeps the user's braces, so the function's span is still the user's: rustc's
//!   `dead_code` and clippy's function lints (`unused_self`, `needless_pass_by_value`, …) see the
//!   function as written, not as macro output.
//! - Where the body moves into a closure or an `async` block, a fake `return` of the declared
//!   type comes first (tracing's "fake return edge"): the closure's or block's return type is
//!   known before the body is checked, so `return n` with `n: &String` still coerces to `&str`,
//!   `Box::new(1)` to `Box<dyn Display>`, and a type error is reported on the user's expression.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned, ToTokens};
use syn::spanned::Spanned as _;
use syn::visit_mut::{self, VisitMut};
use syn::{
    parse_quote, Block, Expr, FnArg, Ident, ItemFn, Lifetime, Pat, ReturnType, Signature, Stmt,
    Type,
};

use crate::shape::{self, Tail};

/// What every shape starts with: the site's constructor and the expression that starts a call.
pub(crate) struct Guard {
    pub(crate) site: TokenStream,
    pub(crate) start: TokenStream,
    /// `#[track_api_request]` stacked right below, taken into this expansion (`async fn`s only):
    /// its site's constructor and the expression that starts its call (from
    /// `__KANSOKU_STACKED_SITE`).
    pub(crate) stacked: Option<(TokenStream, TokenStream)>,
}

/// Replaces the body of `function` with its instrumented form.
pub(crate) fn instrument(guard: &Guard, function: &mut ItemFn) {
    let statements = if returns_never(&function.sig.output) {
        diverging(guard, &function.block)
    } else if function.sig.asyncness.is_some() {
        name_ignored_arguments(&mut function.sig);
        async_body(guard, &function.sig, &function.block)
    } else if let Some(statements) = returned_future(guard, function) {
        statements
    } else if function.attrs.iter().any(is_track_caller) {
        inline_body(guard, &function.sig, &function.block)
    } else {
        closure_body(guard, &function.sig, &function.block)
    };
    let mut block: Block = parse_quote!({ #statements });
    block.brace_token = function.block.brace_token;
    *function.block = block;
}

/// A generated local variable. `mixed_site` hygiene keeps it out of reach of the user's body
/// (which is spliced in after the guard is declared) and of other expansions stacked on it.
pub(crate) fn local(name: &str) -> Ident {
    Ident::new(name, Span::mixed_site())
}

// Input:
//     pub async fn checkout(cart: Cart, user: User) -> Result<Receipt, CheckoutError> { BODY }
//
// Output:
//     pub async fn checkout(cart: Cart, user: User) -> Result<Receipt, CheckoutError> {
//         static __KANSOKU_SITE: ::kansoku::__private::Site = ::kansoku::__private::Site::track_api_request(…);
//         let __kansoku_call = __KANSOKU_SITE.start();
//         let __kansoku_out = __kansoku_call
//             .bind(async move {
//                 FAKE_RETURN_EDGE
//                 let _ = &user;
//                 let _ = &cart;
//                 let __kansoku_value: Result<Receipt, CheckoutError> = '__kansoku_block: { BODY };
//                 return __kansoku_value;
//             })
//             .await;
//         __kansoku_call.finish(::kansoku::__private::classify!(&__kansoku_out));
//         __kansoku_out
//     }
//
// The `let _ = &…` move every argument into the block in reverse order, so they
// are dropped when the body ends and in the order a plain `async fn` drops them (the last one
// first), not after the call is recorded, whether the body uses them or not.
fn async_body(guard: &Guard, signature: &Signature, block: &Block) -> TokenStream {
    let arguments = arguments_in_drop_order(signature);
    let (fake_return, body) = spliced(signature, block);
    let ret = declared_return_type(signature);
    let value = local("__kansoku_value");
    // `return`, not a tail: the block's own type is then `!`, which is not a future, so
    // clippy's `async_yields_async` (deny by default) does not take an `async fn` that returns
    // a future for an `async` block that forgot to await one. The `allow` is for that `return`
    // alone, unreachable when the body never ends (`loop {}`).
    let future = quote_spanned!(Span::mixed_site()=> async move {
        #fake_return
        #arguments
        let #value: #ret = #body;
        #[allow(unreachable_code)]
        return #value;
    });
    let call = local("__kansoku_call");
    match &guard.stacked {
        None => guarded(guard, None, &quote!(#call.bind(#future).await)),
        Some(stacked) => guarded_twice(guard, stacked, &future),
    }
}

// Input:
//     #[monitor_api_endpoint]
//     #[track_api_request(method = "GET", endpoint = "/shops")]
//     async fn list(db: Db) -> Result<Vec<Shop>, ApiError> { BODY }
//
// Output: one `async fn`, as `async_body` makes it, with both guards:
//     async fn list(db: Db) -> Result<Vec<Shop>, ApiError> {
//         static __KANSOKU_SITE: ::kansoku::__private::Site = …::monitor_api_endpoint(…);
//         static __KANSOKU_STACKED_SITE: ::kansoku::__private::Site = …::track_api_request(…);
//         let __kansoku_call = __KANSOKU_SITE.start();
//         let __kansoku_stacked = __KANSOKU_STACKED_SITE.start();
//         let __kansoku_out = __kansoku_call.bind(async move { … }).await;
//         __kansoku_stacked.finish(::kansoku::__private::classify!(&__kansoku_out));
//         __kansoku_call.finish(::kansoku::__private::classify!(&__kansoku_out));
//         __kansoku_out
//     }
//
// The same calls, started and finished in the same order, as two nested expansions make; but
// one `async fn` instead of two, so the arguments are held once, not twice, and the future is
// smaller by a copy of them and one state machine (the README's pair is on every handler, and
// an axum handler's future is boxed for each request). Nested, the request call would also bind
// the body (`Bound`, which enters a call's Sentry scope at each poll) and start and finish inside
// the endpoint call's scope; here it needs neither: a `track_api_request` call never has a Sentry
// scope, and its metrics read the request being served and the recorder, not that scope.
fn guarded_twice(
    guard: &Guard,
    (stacked_site, stacked_start): &(TokenStream, TokenStream),
    future: &TokenStream,
) -> TokenStream {
    let Guard { site, start, .. } = guard;
    let (call, stacked, out) = (
        local("__kansoku_call"),
        local("__kansoku_stacked"),
        local("__kansoku_out"),
    );
    quote! {
        static __KANSOKU_SITE: ::kansoku::__private::Site = #site;
        static __KANSOKU_STACKED_SITE: ::kansoku::__private::Site = #stacked_site;
        let #call = #start;
        let #stacked = #stacked_start;
        let #out = #call.bind(#future).await;
        #stacked.finish(::kansoku::__private::classify!(&#out));
        #call.finish(::kansoku::__private::classify!(&#out));
        #out
    }
}

// Input:
//     fn list(&self, limit: u32) -> Result<Vec<Shop>, DbError> { BODY }
//
// Output:
//     fn list(&self, limit: u32) -> Result<Vec<Shop>, DbError> {
//         static __KANSOKU_SITE: ::kansoku::__private::Site = …;
//         let __kansoku_call = __KANSOKU_SITE.start_method(::core::any::type_name::<Self>);
//         let __kansoku_out = __kansoku_call.in_scope(|| { FAKE_RETURN_EDGE '__kansoku_block: { BODY } });
//         __kansoku_call.finish(::kansoku::__private::classify!(&__kansoku_out));
//         __kansoku_out
//     }
//
// The closure runs the body so that `return` and `?` keep their meaning and the result can be
// classified. It is not `move`: an argument the body only borrows stays borrowed (clippy's
// `needless_pass_by_value` still sees that) and is dropped where a plain `fn` drops it. Its
// tokens are spanned on the user's braces, so clippy's closure lints (`needless_return`) treat
// the body as the user's code rather than macro output.
fn closure_body(guard: &Guard, signature: &Signature, block: &Block) -> TokenStream {
    let (fake_return, body) = spliced(signature, block);
    let call = local("__kansoku_call");
    let closure = quote_spanned!(block.brace_token.span.join()=> || { #fake_return #body });
    guarded(guard, None, &quote!(#call.in_scope(#closure)))
}

// Input:
//     #[track_caller]
//     fn checked(v: u8) -> Result<u8, Error> { if v == 0 { return Err(..); } Ok(parse(v)?) }
//
// Output:
//     #[track_caller]
//     fn checked(v: u8) -> Result<u8, Error> {
//         static __KANSOKU_SITE: ::kansoku::__private::Site = …;
//         let __kansoku_call = __KANSOKU_SITE
//             .start()
//             .inline(::kansoku::__private::classify_type!(Result<u8, Error>));
//         let __kansoku_out: Result<u8, Error> = {
//             let __kansoku_entered = __kansoku_call.enter();
//             '__kansoku_body: { if v == 0 { break '__kansoku_body Err(..); } Ok(parse(v)?) }
//         };
//         __kansoku_call.finish(::kansoku::__private::classify!(&__kansoku_out));
//         __kansoku_out
//     }
//
// A closure is not `#[track_caller]` (that is unstable), so `Location::caller()` and the
// panics in a body moved into one would name the closure's line, not the caller's. Here the
// body runs inline: its `return`s become `break`s out of a labelled block, and a `?` that
// leaves the function is recorded when the guard is dropped, with the outcome the declared
// return type implies (`error` and the error type's name for a `Result`).
fn inline_body(guard: &Guard, signature: &Signature, block: &Block) -> TokenStream {
    let label = generated_label("__kansoku_body");
    let mut block = block.clone();
    ReturnsToBreaks { label: &label }.visit_block_mut(&mut block);
    let ret = declared_return_type(signature);
    let early_exit = if contains_infer(&ret) {
        quote!(::kansoku::__private::Outcome::Ok)
    } else {
        quote!(::kansoku::__private::classify_type!(#ret))
    };
    let Guard { site, start, .. } = guard;
    let (call, out, entered) = (
        local("__kansoku_call"),
        local("__kansoku_out"),
        local("__kansoku_entered"),
    );
    quote! {
        static __KANSOKU_SITE: ::kansoku::__private::Site = #site;
        let #call = (#start).inline(#early_exit);
        let #out: #ret = {
            let #entered = #call.enter();
            #label: #block
        };
        #call.finish(::kansoku::__private::classify!(&#out));
        #out
    }
}

// Input:
//     fn serve_forever() -> ! { BODY }
//
// Output:
//     fn serve_forever() -> ! {
//         static __KANSOKU_SITE: ::kansoku::__private::Site = …;
//         let __kansoku_call = __KANSOKU_SITE.start();
//         { BODY }
//     }
//
// The body never returns (so it has no `return` or `?` to preserve) and `!` cannot be written
// as the type of a `let`: the guard only records a panic, when it is dropped by the unwinding.
fn diverging(guard: &Guard, block: &Block) -> TokenStream {
    let Guard { site, start, .. } = guard;
    let call = local("__kansoku_call");
    quote! {
        static __KANSOKU_SITE: ::kansoku::__private::Site = #site;
        let #call = #start;
        #block
    }
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
// The same for `fn f() -> impl Future<Output = T> { …; async { BODY } }`, `move` or not: the
// future is the call, not its construction. When the block declares an item (a `use` that
// could shadow a name in `T`), the block is evaluated first as a whole,
// `let __kansoku_future = '__kansoku_block: { …; async move { BODY } };`, and `T` is restated
// after it, outside its scope. Returns `None`, changing nothing, if the function does not have
// that shape.
fn returned_future(guard: &Guard, function: &mut ItemFn) -> Option<TokenStream> {
    let output = shape::future_output(&function.sig.output).map(|ty| restated(ty, &function.sig));
    let tail = shape::returned_future(function)?;
    let (call, future) = (local("__kansoku_call"), local("__kansoku_future"));
    let wrap = |future: &dyn ToTokens| {
        let statements = guarded(guard, output.as_ref(), &quote!(#call.bind(#future).await));
        let wrapped = quote!(async move { #statements });
        match &tail {
            Tail::BoxPin(box_pin) => quote!(#box_pin(#wrapped)),
            Tail::Async => wrapped,
        }
    };
    let block = &mut function.block;
    if block.stmts.iter().any(|stmt| matches!(stmt, Stmt::Item(_))) {
        // an item of the block (a `use`) could shadow a name of `T`: restate it outside
        let label = generated_label("__kansoku_block");
        let wrapped = wrap(&future);
        return Some(quote! {
            let #future = #label: #block;
            #wrapped
        });
    }
    // Otherwise the statements stay where they are, so that an attribute expanded after this
    // one (`#[tracing::instrument]` below it, recording an argument before the tail) still
    // finds them, and only the tail future is wrapped.
    // `shape::returned_future` found this tail expression
    let Some(Stmt::Expr(tail_future, None)) = block.stmts.pop() else {
        return None;
    };
    let wrapped = wrap(&tail_future);
    let statements = &block.stmts;
    Some(quote!(#(#statements)* #wrapped))
}

/// The statements of an instrumented body: `run` runs the original body and yields its result.
fn guarded(guard: &Guard, annotation: Option<&Type>, run: &TokenStream) -> TokenStream {
    let Guard { site, start, .. } = guard;
    let (call, out) = (local("__kansoku_call"), local("__kansoku_out"));
    let annotation = annotation.map(|ty| quote!(: #ty));
    quote! {
        static __KANSOKU_SITE: ::kansoku::__private::Site = #site;
        let #call = #start;
        let #out #annotation = #run;
        #call.finish(::kansoku::__private::classify!(&#out));
        #out
    }
}

/// A `return` of the declared type that never runs, as the first statement of the closure or
/// `async` block the body moves into. Spanned on the return type, so that a mismatch is
/// reported there. The lints it allows are about this statement alone.
fn fake_return(signature: &Signature) -> TokenStream {
    let (ty, span) = match &signature.output {
        ReturnType::Type(_, ty) => (restated(ty, signature), ty.span()),
        ReturnType::Default => (parse_quote!(()), signature.ident.span()),
    };
    // hygienic like `local`, but located at the return type: rustc's "return type inferred to
    // be `T` here" then points at the signature
    let fake = Ident::new("__kansoku_fake_return", Span::mixed_site().located_at(span));
    quote_spanned! {span=>
        #[allow(
            unreachable_code,
            clippy::diverging_sub_expression,
            clippy::let_unit_value,
            clippy::unreachable
        )]
        if false {
            let #fake: #ty = ::core::unreachable!();
            return #fake;
        }
    }
}

/// The user's block inside the closure or `async` block it moves into: the fake return edge,
/// and the block itself, labelled: rustc's `unused_braces` would otherwise call the user's own
/// braces unnecessary around a one-line body (the label is the expansion's own, so it is never
/// reported as unused).
fn spliced(signature: &Signature, block: &Block) -> (TokenStream, TokenStream) {
    let label = generated_label("__kansoku_block");
    (fake_return(signature), quote!(#label: #block))
}

/// `let _ = &argument;` for every name the arguments bind, `self` included, last first: a
/// closure or `async move` block captures in the order of first use and drops its captures in
/// that order, so this is the order a plain function drops its arguments in. Each statement
/// carries its argument's `#[cfg]`s (the attribute sees arguments before they are configured
/// out); the names are spanned at the call site, so clippy does not take these mentions for
/// uses of `_name` bindings.
fn arguments_in_drop_order(signature: &Signature) -> TokenStream {
    let mut mentions = Vec::new();
    for input in signature.inputs.iter().rev() {
        let (attrs, mut names) = match input {
            FnArg::Receiver(receiver) => {
                let mut this = receiver.self_token;
                this.span = Span::call_site();
                (&receiver.attrs, vec![this.to_token_stream()])
            }
            FnArg::Typed(typed) => {
                let mut names = Vec::new();
                bound_names(&typed.pat, &mut names);
                (&typed.attrs, names)
            }
        };
        let cfgs: Vec<_> = attrs
            .iter()
            .filter(|attr| attr.path().is_ident("cfg"))
            .collect();
        names.reverse();
        for name in names {
            mentions.push(quote!(#(#cfgs)* let _ = &#name;));
        }
    }
    quote!(#(#mentions)*)
}

/// Names each `_` argument `__kansoku_argN`: a plain `async fn` keeps such an argument alive to
/// the end of its body and drops it with the others, so the block the body runs in must be able
/// to move it in (as `#[async_trait]` does). The name is spanned at the call site, like the
/// mentions of [`arguments_in_drop_order`], and starts with `_`, so it is never "unused".
fn name_ignored_arguments(signature: &mut Signature) {
    for (index, input) in signature.inputs.iter_mut().enumerate() {
        if let FnArg::Typed(typed) = input {
            if let Pat::Wild(_) = &*typed.pat {
                let name = Ident::new(&format!("__kansoku_arg{index}"), Span::call_site());
                *typed.pat = parse_quote!(#name);
            }
        }
    }
}

fn bound_names(pat: &Pat, names: &mut Vec<TokenStream>) {
    match pat {
        Pat::Ident(ident) => {
            let mut name = ident.ident.clone();
            name.set_span(Span::call_site());
            names.push(name.to_token_stream());
            if let Some((_, subpattern)) = &ident.subpat {
                bound_names(subpattern, names);
            }
        }
        Pat::Tuple(tuple) => tuple.elems.iter().for_each(|pat| bound_names(pat, names)),
        Pat::TupleStruct(tuple) => tuple.elems.iter().for_each(|pat| bound_names(pat, names)),
        Pat::Struct(fields) => fields
            .fields
            .iter()
            .for_each(|field| bound_names(&field.pat, names)),
        Pat::Slice(slice) => slice.elems.iter().for_each(|pat| bound_names(pat, names)),
        Pat::Reference(reference) => bound_names(&reference.pat, names),
        Pat::Paren(paren) => bound_names(&paren.pat, names),
        Pat::Type(typed) => bound_names(&typed.pat, names),
        Pat::Or(or) => {
            if let Some(first) = or.cases.first() {
                bound_names(first, names);
            }
        }
        // `_`, literals, ranges, `..`, paths: nothing bound
        _ => {}
    }
}

/// A generated label, as hygienic as [`local`].
fn generated_label(name: &str) -> Lifetime {
    Lifetime {
        apostrophe: Span::mixed_site(),
        ident: local(name),
    }
}

/// Turns the body's own `return`s into `break`s out of the labelled block it runs in; those of
/// closures, `async` blocks and nested items belong to them and stay.
struct ReturnsToBreaks<'a> {
    label: &'a Lifetime,
}

impl VisitMut for ReturnsToBreaks<'_> {
    fn visit_expr_mut(&mut self, expr: &mut Expr) {
        match expr {
            Expr::Closure(_) | Expr::Async(_) => {}
            Expr::Return(ret) => {
                if let Some(value) = &mut ret.expr {
                    self.visit_expr_mut(value);
                }
                *expr = Expr::Break(syn::ExprBreak {
                    attrs: std::mem::take(&mut ret.attrs),
                    break_token: syn::Token![break](ret.return_token.span),
                    label: Some(self.label.clone()),
                    expr: ret.expr.take(),
                });
            }
            _ => visit_mut::visit_expr_mut(self, expr),
        }
    }

    fn visit_item_mut(&mut self, _: &mut syn::Item) {}
}

fn is_track_caller(attr: &syn::Attribute) -> bool {
    attr.path().is_ident("track_caller")
}

pub(crate) fn returns_never(output: &ReturnType) -> bool {
    matches!(output, ReturnType::Type(_, ty) if matches!(**ty, Type::Never(_)))
}

/// The type to annotate the result with: the declared return type as [`restated`], `()` if
/// none is declared.
fn declared_return_type(signature: &Signature) -> Type {
    match &signature.output {
        ReturnType::Default => parse_quote!(()),
        ReturnType::Type(_, ty) => restated(ty, signature),
    }
}

/// `ty`, from `signature`, as the body can restate it: `impl Trait` erased to `_` (a `let`
/// cannot name an opaque type) and the function's own lifetimes to `'_` (inferred). Naming
/// them in the body would tell clippy's `needless_lifetimes` that the body needs them.
fn restated(ty: &Type, signature: &Signature) -> Type {
    struct Restate<'a> {
        lifetimes: Vec<&'a Ident>,
    }

    impl VisitMut for Restate<'_> {
        fn visit_type_mut(&mut self, ty: &mut Type) {
            if let Type::ImplTrait(impl_trait) = ty {
                *ty = Type::Infer(syn::TypeInfer {
                    underscore_token: syn::Token![_](impl_trait.impl_token.span),
                });
            } else {
                visit_mut::visit_type_mut(self, ty);
            }
        }

        fn visit_lifetime_mut(&mut self, lifetime: &mut Lifetime) {
            if self.lifetimes.contains(&&lifetime.ident) {
                lifetime.ident = Ident::new("_", lifetime.ident.span());
            }
        }
    }

    let mut ty = ty.clone();
    Restate {
        lifetimes: signature
            .generics
            .lifetimes()
            .map(|param| &param.lifetime.ident)
            .collect(),
    }
    .visit_type_mut(&mut ty);
    ty
}

fn contains_infer(ty: &Type) -> bool {
    struct FindInfer(bool);

    impl VisitMut for FindInfer {
        fn visit_type_mut(&mut self, ty: &mut Type) {
            if matches!(ty, Type::Infer(_)) {
                self.0 = true;
            } else {
                visit_mut::visit_type_mut(self, ty);
            }
        }
    }

    let mut find = FindInfer(false);
    find.visit_type_mut(&mut ty.clone());
    find.0
}
