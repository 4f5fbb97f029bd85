//! The item an attribute is applied to: it must be a function with a body that runs at run time.

use proc_macro2::TokenStream;
use quote::{quote, ToTokens};
use syn::{ForeignItemFn, Item, ItemFn};

/// Parses `item` as the function to instrument, or says why it cannot be one.
pub(crate) fn function(attribute: &str, item: TokenStream) -> syn::Result<ItemFn> {
    match syn::parse2::<Item>(item)? {
        Item::Fn(function) => check_function(attribute, function),
        // A signature followed by `;` (a trait method without a default body, or a function
        // in an `extern` block) is not in syn's `Item`, which keeps it verbatim.
        Item::Verbatim(tokens) => Err(match syn::parse2::<ForeignItemFn>(tokens.clone()) {
            Ok(declaration) => {
                let signature = &declaration.sig;
                let semi = &declaration.semi_token;
                syn::Error::new_spanned(
                    quote!(#signature #semi),
                    format!(
                        "`#[{attribute}]` needs a function with a body; a trait method \
                         declaration or a function in an `extern` block has nothing to \
                         instrument: put the attribute on the implementation instead"
                    ),
                )
            }
            Err(_) => not_a_function(attribute, "this item", tokens, ""),
        }),
        other => Err(other_item(attribute, other)),
    }
}

fn check_function(attribute: &str, function: ItemFn) -> syn::Result<ItemFn> {
    let signature = &function.sig;
    match (&signature.constness, &signature.asyncness) {
        (Some(constness), Some(asyncness)) => Err(syn::Error::new_spanned(
            quote!(#constness #asyncness),
            format!(
                "a function cannot be both `const` and `async`, and `#[{attribute}]` cannot \
                 be applied to a `const fn`; remove `const`"
            ),
        )),
        (Some(constness), None) => Err(syn::Error::new_spanned(
            constness,
            format!(
                "`#[{attribute}]` cannot be applied to a `const fn`: the instrumentation runs \
                 at run time; remove `const`"
            ),
        )),
        (None, _) => Ok(function),
    }
}

/// The item to emit next to the errors: the item as written, so that nothing else breaks,
/// except that a `const async fn` loses its `const`, which the error above already reports
/// (the compiler would report it a second time).
pub(crate) fn fallback(item: TokenStream) -> TokenStream {
    match syn::parse2::<ItemFn>(item.clone()) {
        Ok(mut function)
            if function.sig.constness.is_some() && function.sig.asyncness.is_some() =>
        {
            function.sig.constness = None;
            function.into_token_stream()
        }
        _ => item,
    }
}

fn other_item(attribute: &str, item: Item) -> syn::Error {
    let (what, tokens, hint) = match item {
        Item::Struct(i) => ("a struct", pair(i.struct_token, i.ident), ""),
        Item::Enum(i) => ("an enum", pair(i.enum_token, i.ident), ""),
        Item::Union(i) => ("a union", pair(i.union_token, i.ident), ""),
        Item::Trait(i) => (
            "a trait",
            pair(i.trait_token, i.ident),
            "; put it on a method with a default body or on the methods of an impl",
        ),
        Item::TraitAlias(i) => ("a trait alias", pair(i.trait_token, i.ident), ""),
        Item::Impl(i) => (
            "an impl block",
            pair(i.impl_token, i.self_ty),
            "; put it on the methods inside the impl block instead",
        ),
        Item::Mod(i) => ("a module", pair(i.mod_token, i.ident), ""),
        Item::Const(i) => ("a constant", pair(i.const_token, i.ident), ""),
        Item::Static(i) => ("a static", pair(i.static_token, i.ident), ""),
        Item::Type(i) => ("a type alias", pair(i.type_token, i.ident), ""),
        Item::Use(i) => ("a `use` declaration", i.into_token_stream(), ""),
        Item::ExternCrate(i) => ("an `extern crate` declaration", i.into_token_stream(), ""),
        Item::ForeignMod(i) => (
            "an `extern` block",
            pair(i.abi, quote!()),
            "; foreign functions have no body to instrument",
        ),
        Item::Macro(i) => ("a macro invocation", i.mac.path.into_token_stream(), ""),
        other => ("this item", other.into_token_stream(), ""),
    };
    not_a_function(attribute, what, tokens, hint)
}

fn not_a_function(attribute: &str, what: &str, tokens: TokenStream, hint: &str) -> syn::Error {
    syn::Error::new_spanned(
        tokens,
        format!("`#[{attribute}]` can only be applied to a function, not to {what}{hint}"),
    )
}

/// The tokens from `first` to `last`, so that an error underlines e.g. `struct Shop`.
fn pair(first: impl ToTokens, last: impl ToTokens) -> TokenStream {
    quote!(#first #last)
}
